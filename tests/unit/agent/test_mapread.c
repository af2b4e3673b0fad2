/* Unit tests for mapread: batched per-CPU array reads summed over CPUs (needs root for BPF). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "mapread.h"

/* Fills a per-CPU array: entry i, cpu c, word w = (i + 1) * 1000 + c * 10 + w, and checks the
 * reader's sums against the same formula summed over CPUs. */
static void check_sizes(uint32_t nr, uint32_t words)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t vsz = words * sizeof(uint64_t);
	uint64_t *vals = calloc((size_t)ncpu * words, sizeof(uint64_t));
	uint64_t *out = calloc((size_t)nr * words, sizeof(uint64_t));
	struct mapread *r;
	int fd;

	assert_non_null(vals);
	assert_non_null(out);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "mr_test", sizeof(uint32_t), vsz, nr, NULL);
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < nr; i++) {
		for (int c = 0; c < ncpu; c++)
			for (uint32_t w = 0; w < words; w++)
				vals[c * words + w] = (uint64_t)(i + 1) * 1000 + c * 10 + w;
		assert_int_equal(bpf_map_update_elem(fd, &i, vals, BPF_ANY), 0);
	}
	assert_int_equal(mapread_new(&r), 0);
	/* Twice: the second read reuses the scratch buffers and must not accumulate. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(mapread_percpu_sum(r, fd, nr, words, out), 0);
		for (uint32_t i = 0; i < nr; i++) {
			for (uint32_t w = 0; w < words; w++) {
				uint64_t want = 0;

				for (int c = 0; c < ncpu; c++)
					want += (uint64_t)(i + 1) * 1000 + c * 10 + w;
				assert_int_equal(out[i * words + w], want);
			}
		}
	}
	mapread_free(r);
	close(fd);
	free(vals);
	free(out);
}

static void test_sums_table(void **state)
{
	static const struct {
		uint32_t nr, words;
	} cases[] = { { 1, 1 }, { 7, 1 }, { 64, 3 }, { 697, 35 }, { 4096, 1 } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_sizes(cases[i].nr, cases[i].words);
}

static void test_hash_table(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 5, 64 };

	(void)state;
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		uint32_t n = sizes[t], got = 99, keys[64], seen = 0;
		uint64_t vals[64];
		int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mr_hash", sizeof(uint32_t),
					sizeof(uint64_t), 64, NULL);

		assert_true(fd >= 0);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = 1000 + i;
			uint64_t v = (uint64_t)k * 7;

			assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
		}
		/* Room for fewer than there are: exactly `max` come back. */
		if (n > 1) {
			assert_int_equal(mapread_hash(fd, 4, 8, n - 1, keys, vals, &got), 0);
			assert_int_equal(got, n - 1);
		}
		assert_int_equal(mapread_hash(fd, 4, 8, 64, keys, vals, &got), 0);
		assert_int_equal(got, n);
		for (uint32_t i = 0; i < got; i++) {
			assert_true(keys[i] >= 1000 && keys[i] < 1000 + n);
			assert_int_equal(vals[i], (uint64_t)keys[i] * 7);
			seen += keys[i] - 999;
		}
		assert_int_equal(seen, n * (n + 1) / 2); /* each key once */
		close(fd);
	}
}

static void test_bad_fd(void **state)
{
	uint64_t out[4];
	struct mapread *r;

	(void)state;
	assert_int_equal(mapread_new(&r), 0);
	assert_int_equal(mapread_percpu_sum(r, -1, 4, 1, out), -EBADF);
	{
		uint32_t k, n = 5;
		uint64_t v;

		assert_int_equal(mapread_hash(-1, 4, 8, 1, &k, &v, &n), -EBADF);
		assert_int_equal(n, 0);
	}
	mapread_free(r);
	mapread_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums_table),
		cmocka_unit_test(test_hash_table),
		cmocka_unit_test(test_bad_fd),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_mapread: needs root to create BPF maps\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
