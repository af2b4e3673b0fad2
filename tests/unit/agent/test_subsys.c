/* Unit tests for subsys: --probes list parsing and probe indexing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ms_maps.h"
#include "subsys.h"

#define G (1u << SUBSYS_GRPC)
#define C (1u << SUBSYS_CONN)
#define S (1u << SUBSYS_STORAGE)
#define M (1u << SUBSYS_MVCC)
#define W (1u << SUBSYS_WATCH)
#define L (1u << SUBSYS_LEASE)
#define AU (1u << SUBSYS_AUTH)
#define R (1u << SUBSYS_RAFT)

static void test_parse_table(void **state)
{
	static const struct {
		const char *list;
		int err;
		uint32_t mask;
		const char *bad; /* the rejected item */
	} cases[] = {
		{ "grpc", 0, G, NULL },
		{ "grpc,storage", 0, G | S, NULL },
		{ "mvcc,grpc,mvcc", 0, G | M, NULL },
		{ "all", 0, G | C | S | M | W | L | AU | R, NULL },
		{ "conn", 0, C, NULL },
		{ "auth,lease", 0, AU | L, NULL },
		{ "raft,mvcc", 0, R | M, NULL },
		{ "grpc,all", 0, G | C | S | M | W | L | AU | R, NULL },
		{ "", -EINVAL, 0, "" },
		{ "grpc,", -EINVAL, 0, "" },
		{ ",grpc", -EINVAL, 0, "" },
		{ "grpc,bogus,mvcc", -EINVAL, 0, "bogus" },
		{ "GRPC", -EINVAL, 0, "GRPC" },
		{ "grp", -EINVAL, 0, "grp" },
		{ "grpcx", -EINVAL, 0, "grpcx" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t mask = 0xdead;
		const char *bad;
		size_t bad_len;
		int err = subsys_parse_list(cases[i].list, &mask, &bad, &bad_len);

		assert_int_equal(err, cases[i].err);
		if (!err) {
			assert_int_equal(mask, cases[i].mask);
		} else {
			assert_int_equal(bad_len, strlen(cases[i].bad));
			assert_memory_equal(bad, cases[i].bad, bad_len);
		}
	}
}

static void test_probe_indexes(void **state)
{
	uint32_t seen = 0, total = subsys_total_probes();

	(void)state;
	assert_true(total <= MS_MAX_PROBES);
	/* Indexes are dense and unique: each of 0..total-1 exactly once. */
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);

		assert_non_null(d->metrics[0]);
		for (size_t i = 0; i < d->nr_probes; i++) {
			uint32_t idx = subsys_probe_index(id, i);

			assert_true(idx < total);
			assert_int_equal(seen & (1u << idx), 0);
			seen |= 1u << idx;
			assert_memory_equal(d->probes[i].func, "ms_probe_", 9);
		}
	}
	assert_int_equal(seen, (total == 32) ? UINT32_MAX : (1u << total) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_probe_indexes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
