/* Reading BPF maps for a scrape: whole per-CPU arrays in one batched syscall, CPUs summed. */
#include "mapread.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mapread {
	int nr_cpus;
	void *keys;   /* scratch: uint32_t keys */
	void *values; /* scratch: per-CPU values */
	size_t keys_cap, values_cap;
};

int mapread_new(struct mapread **out)
{
	struct mapread *r;
	int n = libbpf_num_possible_cpus();

	*out = NULL;
	if (n <= 0)
		return n < 0 ? n : -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->nr_cpus = n;
	*out = r;
	return 0;
}

void mapread_free(struct mapread *r)
{
	if (!r)
		return;
	free(r->keys);
	free(r->values);
	free(r);
}

static int grow(void **p, size_t *cap, size_t need)
{
	void *n;

	if (need <= *cap)
		return 0;
	n = realloc(*p, need);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = need;
	return 0;
}

int mapread_percpu_sum(struct mapread *r, int fd, uint32_t nr, uint32_t words, uint64_t *out)
{
	/* The kernel rounds per-CPU value sizes up to 8 bytes; ours are already multiples. */
	size_t vsz = (size_t)words * sizeof(uint64_t);
	uint32_t done = 0, batch = 0;
	bool first = true;
	int err;

	err = grow(&r->keys, &r->keys_cap, (size_t)nr * sizeof(uint32_t));
	if (!err)
		err = grow(&r->values, &r->values_cap, (size_t)nr * vsz * r->nr_cpus);
	if (err)
		return err;
	memset(out, 0, (size_t)nr * vsz);

	while (done < nr) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t count = nr - done;
		const uint64_t *v = r->values;
		const uint32_t *k = r->keys;

		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, r->keys, r->values,
					   &count, &opts);
		if (err) {
			err = -errno;
			if (err != -ENOENT)
				return err;
		}
		first = false;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t key = k[i];

			if (key >= nr)
				continue;
			for (int c = 0; c < r->nr_cpus; c++) {
				const uint64_t *cv = v + ((size_t)i * r->nr_cpus + c) * words;

				for (uint32_t w = 0; w < words; w++)
					out[(size_t)key * words + w] += cv[w];
			}
		}
		done += count;
		if (err == -ENOENT || count == 0)
			break;
	}
	return 0;
}

int mapread_hash(int fd, uint32_t key_size, uint32_t value_size, uint32_t max, void *keys,
		 void *values, uint32_t *n)
{
	uint8_t *k = keys, *v = values;
	uint32_t got = 0;

	*n = 0;
	if (fd < 0)
		return -EBADF;
	/* Bounded even if entries come and go while we walk. */
	for (uint32_t tries = 0; got < max && tries < 2 * max + 2; tries++) {
		const void *prev = got ? k + (size_t)(got - 1) * key_size : NULL;
		uint8_t *key = k + (size_t)got * key_size;

		if (bpf_map_get_next_key(fd, prev, key)) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		/* A key deleted since get_next_key is skipped: the next walk resumes after prev. */
		if (bpf_map_lookup_elem(fd, key, v + (size_t)got * value_size) == 0)
			got++;
	}
	*n = got;
	return 0;
}
