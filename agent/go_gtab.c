/* Usage and clean-up of a Go target's goroutine tables, through their mmapped arrays. */
#include "go_gtab.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ms_go.h"

static int proc_alive(uint32_t tgid)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%u", tgid);
	return access(path, F_OK) == 0;
}

/* A few processes at most hold entries: the last answers are kept for the pass. */
struct alive_cache {
	go_gtab_alive_fn fn;
	uint32_t tgid[8];
	bool alive[8];
	unsigned n, next;
};

static bool is_alive(struct alive_cache *c, uint32_t tgid)
{
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (c->tgid[i] == tgid)
			return c->alive[i];
	i = c->n < 8 ? c->n++ : c->next++ % 8;
	c->tgid[i] = tgid;
	c->alive[i] = c->fn(tgid) != 0;
	return c->alive[i];
}

static void *map_array(int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The spill map's entries of exited processes go, each off the counter: their keys first
 * (a walk that deletes as it goes starts over at each delete), at most `max` of them. */
static int reap_spill(int spill_fd, uint32_t max, uint64_t *spilled, struct alive_cache *ac,
		      uint64_t *reaped)
{
	struct ms_go_gkey key, *dead = calloc(max, sizeof(*dead));
	uint32_t n = 0, steps = 0;
	int err = 0;

	if (!dead)
		return -ENOMEM;
	/* entries come and go meanwhile: a key gone restarts the walk, so it is bounded */
	while (n < max && steps++ < 2 * max &&
	       bpf_map_get_next_key(spill_fd, steps == 1 ? NULL : &key, &key) == 0) {
		if (!is_alive(ac, key.tgid))
			dead[n++] = key;
	}
	if (n < max && steps <= 2 * max && errno != ENOENT)
		err = -errno;
	for (uint32_t i = 0; i < n; i++) {
		/* freed by its owner, evicted, or listed twice: not ours to count */
		if (bpf_map_delete_elem(spill_fd, &dead[i]) == 0) {
			__atomic_fetch_sub(spilled, 1, __ATOMIC_SEQ_CST);
			(*reaped)++;
		}
	}
	free(dead);
	return err;
}

int go_gtab_reap(int sets_fd, uint32_t nr_sets, int spill_fd, uint32_t spill_max, int spilled_fd,
		 go_gtab_alive_fn alive, struct go_gtab_usage *out)
{
	struct alive_cache ac = { .fn = alive ? alive : proc_alive };
	size_t sets_len = (size_t)nr_sets * sizeof(struct ms_go_gset);
	long page = sysconf(_SC_PAGESIZE);
	struct ms_go_gset *sets = NULL;
	uint64_t *spilled = NULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	sets = map_array(sets_fd, sets_len, PROT_READ | PROT_WRITE);
	spilled = map_array(spilled_fd, (size_t)page, PROT_READ | PROT_WRITE);
	if (!sets || !spilled) {
		err = -errno;
		goto cleanup;
	}
	for (uint32_t i = 0; i < nr_sets; i++) {
		for (int w = 0; w < MS_GO_GTAB_WAYS; w++) {
			struct ms_go_gslot *s = &sets[i].s[w];
			uint32_t tgid = __atomic_load_n(&s->tgid, __ATOMIC_ACQUIRE);

			if (!tgid || !__atomic_load_n(&s->g, __ATOMIC_ACQUIRE))
				continue;
			if (is_alive(&ac, tgid)) {
				out->held++;
				continue;
			}
			/* no program touches it: only its owner matches a slot with its tgid */
			__atomic_store_n(&s->tgid, 0, __ATOMIC_SEQ_CST);
			__atomic_store_n(&s->g, 0, __ATOMIC_SEQ_CST);
			out->reaped++;
		}
	}
	if (*spilled)
		err = reap_spill(spill_fd, spill_max, spilled, &ac, &out->reaped);
	out->spilled = __atomic_load_n(spilled, __ATOMIC_SEQ_CST);
cleanup:
	if (sets)
		munmap(sets, sets_len);
	if (spilled)
		munmap(spilled, (size_t)page);
	return err;
}
