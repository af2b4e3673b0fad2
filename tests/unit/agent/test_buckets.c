/* Unit tests for buckets: the default bounds and parsing of --buckets lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buckets.h"
#include "ms_maps.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull

static void test_defaults(void **state)
{
	uint64_t b[MS_MAX_BUCKETS], small[4];
	uint32_t n = buckets_default(b, MS_MAX_BUCKETS);

	(void)state;
	assert_true(n >= 2 && n <= MS_MAX_BUCKETS);
	/* Resolves microsecond reads (first bound well below 1 ms) and slow fsyncs (>= 1 s). */
	assert_true(b[0] <= 10 * US);
	assert_true(b[n - 1] >= 1 * S);
	for (uint32_t i = 1; i < n; i++)
		assert_true(b[i] > b[i - 1]);
	/* A short output array gets the first `max` bounds. */
	assert_int_equal(buckets_default(small, 4), 4);
	assert_memory_equal(small, b, sizeof(small));
}

static void test_parse_valid(void **state)
{
	static const struct {
		const char *list;
		uint32_t n;
		uint64_t want[6];
	} cases[] = {
		{ "1", 1, { 1 * S } },
		{ "0.00001,0.0001,0.001", 3, { 10 * US, 100 * US, 1 * MS } },
		{ "5e-06,2.5e-3,0.25,1,2.5,10", 6, { 5 * US, 2500 * US, 250 * MS, 1 * S, 2500 * MS, 10 * S } },
		{ " 0.5 , 1\t", 2, { 500 * MS, 1 * S } },
		{ "1e-9,2e-9", 2, { 1, 2 } },
		{ "0.0000000006", 1, { 1 } }, /* 0.6 ns rounds to 1 ns */
		{ "1000000", 1, { 1000000 * S } },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		uint64_t out[MS_MAX_BUCKETS];
		uint32_t n = 0;
		char err[128] = "";

		assert_int_equal(buckets_parse(cases[i].list, out, MS_MAX_BUCKETS, &n, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		assert_int_equal(n, cases[i].n);
		assert_memory_equal(out, cases[i].want, n * sizeof(uint64_t));
	}
}

static void test_parse_max(void **state)
{
	char list[MS_MAX_BUCKETS * 8 + 16] = "", err[128];
	uint64_t out[MS_MAX_BUCKETS];
	uint32_t n = 0;
	size_t o = 0;

	(void)state;
	for (int i = 1; i <= MS_MAX_BUCKETS; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%d", i > 1 ? "," : "", i);
	assert_int_equal(buckets_parse(list, out, MS_MAX_BUCKETS, &n, err, sizeof(err)), 0);
	assert_int_equal(n, MS_MAX_BUCKETS);
	assert_int_equal(out[MS_MAX_BUCKETS - 1], (uint64_t)MS_MAX_BUCKETS * S);
	snprintf(list + o, sizeof(list) - o, ",%d", MS_MAX_BUCKETS + 1);
	assert_int_equal(buckets_parse(list, out, MS_MAX_BUCKETS, &n, err, sizeof(err)), -EINVAL);
	snprintf(list, sizeof(list), "more than %d bounds", MS_MAX_BUCKETS);
	assert_string_equal(err, list);
}

static void test_parse_invalid(void **state)
{
	static const struct {
		const char *list;
		const char *msg;
	} cases[] = {
		{ "", "empty bucket list" },
		{ ",", "bound 1 is empty" },
		{ "0.1,", "bound 2 is empty" },
		{ "0.1,,0.2", "bound 2 is empty" },
		{ "0.1, ,0.2", "bound 2 is empty" },
		{ "abc", "'abc' is not a number of seconds" },
		{ "0.1,1s", "'1s' is not a number of seconds" },
		{ "0.1 0.2", "'0.1 0.2' is not a number of seconds" },
		{ "0.2,0.1", "bounds must increase: '0.1' after '0.2'" },
		{ "0.1,0.1", "bounds must increase: '0.1' after '0.1'" },
		{ "1e-9,1.2e-9", "bounds must increase: '1.2e-9' after '1e-9'" },
		{ "-1", "'-1' is not positive" },
		{ "0", "'0' is not positive" },
		{ "0.1,-0.0", "'-0.0' is not positive" },
		{ "nan", "'nan' is not finite" },
		{ "0.1,inf", "'inf' is not finite" },
		{ "-Infinity", "'-Infinity' is not finite" },
		{ "1e400", "'1e400' is not finite" },
		{ "1e-10", "'1e-10' is below 1 ns" },
		{ "1e-400", "'1e-400' is below 1 ns" },
		{ "1000001", "'1000001' is above 1e+06 seconds" },
		{ "0.000000000000000000000000000000000000000000000000000000000000001",
		  "bound 1 is too long" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		uint64_t out[MS_MAX_BUCKETS];
		uint32_t n = 77;
		char err[128] = "";

		assert_int_equal(buckets_parse(cases[i].list, out, MS_MAX_BUCKETS, &n, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, cases[i].msg);
		assert_int_equal(n, 77);
	}
	{
		uint64_t out[1];
		uint32_t n;
		char err[64];

		assert_int_equal(buckets_parse(NULL, out, 1, &n, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "empty bucket list");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_max),
		cmocka_unit_test(test_parse_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
