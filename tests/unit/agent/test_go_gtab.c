/* Unit tests for go_gtab: a goroutine table's use counted and exited processes' entries freed, on real BPF maps (needs root). */
#include <bpf/bpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "go_gtab.h"
#include "ms_go.h"

#define LIVE_A 100
#define LIVE_B 200
#define DEAD_A 300
#define DEAD_B 400
#define NR_SETS 4
#define SPILL_MAX 64

static int fake_alive(uint32_t tgid)
{
	return tgid == LIVE_A || tgid == LIVE_B;
}

struct tab {
	int sets, spill, spilled;
};

static struct tab tab_new(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, mm, .map_flags = BPF_F_MMAPABLE);
	struct tab t = {
		.sets = bpf_map_create(BPF_MAP_TYPE_ARRAY, "gt_sets", sizeof(uint32_t),
				       sizeof(struct ms_go_gset), NR_SETS, &mm),
		.spill = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "gt_spill", sizeof(struct ms_go_gkey),
					sizeof(struct ms_go_gslot), SPILL_MAX, NULL),
		.spilled = bpf_map_create(BPF_MAP_TYPE_ARRAY, "gt_spilled", sizeof(uint32_t),
					  sizeof(uint64_t), 1, &mm),
	};

	if (t.sets < 0 || t.spill < 0 || t.spilled < 0)
		fail_msg("bpf_map_create: %s (needs root and BPF)", strerror(errno));
	return t;
}

static void tab_free(struct tab *t)
{
	close(t->sets);
	close(t->spill);
	close(t->spilled);
}

/* A table's contents: per set, the tgid of each way (0: free); the spill map's tgids. */
struct fill {
	uint32_t ways[NR_SETS][MS_GO_GTAB_WAYS];
	uint32_t spill[8];
	unsigned nr_spill;
};

static void tab_fill(struct tab *t, const struct fill *f)
{
	uint64_t n = f->nr_spill;
	uint32_t zero = 0;

	for (uint32_t i = 0; i < NR_SETS; i++) {
		struct ms_go_gset set;

		memset(&set, 0, sizeof(set));
		for (int w = 0; w < MS_GO_GTAB_WAYS; w++) {
			if (!f->ways[i][w])
				continue;
			set.s[w].tgid = f->ways[i][w];
			set.s[w].g = 0xc000000000ull + i * 0x1000 + (uint64_t)w * 0x100;
			set.s[w].site = 1;
		}
		assert_int_equal(bpf_map_update_elem(t->sets, &i, &set, BPF_ANY), 0);
	}
	for (unsigned i = 0; i < f->nr_spill; i++) {
		struct ms_go_gkey k = { .tgid = f->spill[i], .site = 1, .g = 0xd00000 + i * 0x100 };
		struct ms_go_gslot s = { .g = k.g, .tgid = k.tgid, .site = 1 };

		assert_int_equal(bpf_map_update_elem(t->spill, &k, &s, BPF_NOEXIST), 0);
	}
	assert_int_equal(bpf_map_update_elem(t->spilled, &zero, &n, BPF_ANY), 0);
}

/* The tgids left in the sets after a pass, way by way: dead ones are 0 now, with g 0. */
static void expect_sets(struct tab *t, const uint32_t want[NR_SETS][MS_GO_GTAB_WAYS])
{
	for (uint32_t i = 0; i < NR_SETS; i++) {
		struct ms_go_gset set;

		assert_int_equal(bpf_map_lookup_elem(t->sets, &i, &set), 0);
		for (int w = 0; w < MS_GO_GTAB_WAYS; w++) {
			assert_int_equal(set.s[w].tgid, want[i][w]);
			if (!want[i][w])
				assert_int_equal(set.s[w].g, 0);
		}
	}
}

static unsigned spill_entries(struct tab *t)
{
	struct ms_go_gkey k;
	unsigned n = 0;

	for (int r = bpf_map_get_next_key(t->spill, NULL, &k); r == 0;
	     r = bpf_map_get_next_key(t->spill, &k, &k))
		n++;
	return n;
}

static void test_reap_table(void **state)
{
	static const struct {
		const char *name;
		struct fill fill;
		uint32_t left[NR_SETS][MS_GO_GTAB_WAYS];
		uint64_t held, spilled, reaped;
	} cases[] = {
		{ "empty", { { { 0 } }, { 0 }, 0 }, { { 0 } }, 0, 0, 0 },
		{ "live only",
		  { { { LIVE_A, LIVE_B }, { 0, 0, LIVE_A } }, { LIVE_A }, 1 },
		  { { LIVE_A, LIVE_B }, { 0, 0, LIVE_A } }, 3, 1, 0 },
		{ "a dead process in sets and spill",
		  { { { LIVE_A, DEAD_A, LIVE_B, DEAD_A }, { DEAD_A, DEAD_A, DEAD_A, DEAD_A },
		      { 0 }, { 0, 0, 0, LIVE_B } },
		    { DEAD_A, LIVE_A, DEAD_A, DEAD_A }, 4 },
		  { { LIVE_A, 0, LIVE_B, 0 }, { 0 }, { 0 }, { 0, 0, 0, LIVE_B } }, 3, 1, 9 },
		{ "two dead processes, spill only dead",
		  { { { DEAD_B }, { 0, DEAD_A } }, { DEAD_A, DEAD_B, DEAD_B }, 3 },
		  { { 0 } }, 0, 0, 5 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tab t = tab_new();
		struct go_gtab_usage u;

		print_message("%s\n", cases[c].name);
		tab_fill(&t, &cases[c].fill);
		assert_int_equal(go_gtab_reap(t.sets, NR_SETS, t.spill, SPILL_MAX, t.spilled,
					      fake_alive, &u), 0);
		assert_int_equal(u.held, cases[c].held);
		assert_int_equal(u.spilled, cases[c].spilled);
		assert_int_equal(u.reaped, cases[c].reaped);
		expect_sets(&t, cases[c].left);
		assert_int_equal(spill_entries(&t), cases[c].spilled);
		/* a second pass finds nothing more to free */
		assert_int_equal(go_gtab_reap(t.sets, NR_SETS, t.spill, SPILL_MAX, t.spilled,
					      fake_alive, &u), 0);
		assert_int_equal(u.held, cases[c].held);
		assert_int_equal(u.spilled, cases[c].spilled);
		assert_int_equal(u.reaped, 0);
		tab_free(&t);
	}
}

/* Without a callback, /proc decides: this process is alive, a reaped child is not. */
static void test_reap_proc(void **state)
{
	struct fill f = { { { 0 } }, { 0 }, 0 };
	uint32_t left[NR_SETS][MS_GO_GTAB_WAYS] = { { 0 } };
	struct tab t = tab_new();
	struct go_gtab_usage u;
	pid_t child = fork();

	(void)state;
	assert_true(child >= 0);
	if (!child)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	f.ways[0][0] = left[0][0] = (uint32_t)getpid();
	f.ways[1][2] = (uint32_t)child;
	tab_fill(&t, &f);
	assert_int_equal(go_gtab_reap(t.sets, NR_SETS, t.spill, SPILL_MAX, t.spilled, NULL, &u), 0);
	assert_int_equal(u.held, 1);
	assert_int_equal(u.reaped, 1);
	expect_sets(&t, left);
	tab_free(&t);
}

/* A map that cannot be mapped (not BPF_F_MMAPABLE) is an error, not a silent 0. */
static void test_not_mmapable(void **state)
{
	struct tab t = tab_new();
	struct go_gtab_usage u;
	int plain = bpf_map_create(BPF_MAP_TYPE_ARRAY, "gt_plain", sizeof(uint32_t),
				   sizeof(struct ms_go_gset), NR_SETS, NULL);

	(void)state;
	assert_true(plain >= 0);
	assert_int_not_equal(go_gtab_reap(plain, NR_SETS, t.spill, SPILL_MAX, t.spilled, NULL, &u),
			     0);
	close(plain);
	tab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reap_table),
		cmocka_unit_test(test_reap_proc),
		cmocka_unit_test(test_not_mmapable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
