/* The Go gRPC object's method table: a seed under which the known method names hash apart. */
#include "go_methods.h"

#include <errno.h>
#include <string.h>

#include "ms_methods.h"

/* Expected tries: with 56 names in 512 slots about 1 seed in 20 separates them all. */
#define SEED_TRIES 100000

static void name_words(const char *name, __u64 *w)
{
	char buf[MS_GO_METHOD_MAX];

	memset(buf, 0, sizeof(buf));
	strncpy(buf, name, sizeof(buf) - 1);
	memcpy(w, buf, sizeof(buf));
}

static int try_seed(struct ms_go_method_slot *tab, uint64_t seed)
{
	memset(tab, 0, sizeof(*tab) * MS_GO_METHOD_SLOTS);
	for (uint32_t m = 1; m < MS_METHOD_COUNT; m++) {
		const char *name = ms_method_name(m);
		__u64 w[MS_GO_METHOD_WORDS];
		uint32_t at;

		if (strlen(name) >= MS_GO_METHOD_MAX)
			continue; /* the program counts a path that long as unknown */
		name_words(name, w);
		at = ms_go_method_slot(w, seed);
		if (tab[at].name[0])
			return -EEXIST;
		memcpy(tab[at].name, w, sizeof(w));
		tab[at].id = m;
	}
	return 0;
}

int go_methods_build(struct ms_go_method_slot *tab, uint64_t *seed)
{
	for (uint64_t s = 1; s <= SEED_TRIES; s++) {
		if (try_seed(tab, s) == 0) {
			*seed = s;
			return 0;
		}
	}
	memset(tab, 0, sizeof(*tab) * MS_GO_METHOD_SLOTS);
	return -E2BIG;
}

uint32_t go_methods_find(const struct ms_go_method_slot *tab, uint64_t seed, const __u64 *w)
{
	const struct ms_go_method_slot *s = &tab[ms_go_method_slot(w, seed)];

	if (memcmp(s->name, w, sizeof(s->name)) != 0 || s->id >= MS_METHOD_COUNT)
		return MS_METHOD_UNKNOWN;
	return s->id;
}
