/* Unit tests for the benchmark statistics (bench/stats.c): medians, bootstrap, verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>

#include <cmocka.h>

#include "stats.h"

static void test_median(void **state)
{
	static const struct {
		double v[6];
		size_t n;
		double want;
	} cases[] = {
		{ { 3 }, 1, 3 },
		{ { 4, 1 }, 2, 2.5 },
		{ { 5, 1, 3 }, 3, 3 },
		{ { 9, 1, 8, 2 }, 4, 5 },
		{ { 1.5, -2, 7, 0, 3 }, 5, 1.5 },
	};
	double out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v[6];

		for (size_t j = 0; j < cases[i].n; j++)
			v[j] = cases[i].v[j];
		assert_int_equal(stats_median(v, cases[i].n, &out), 0);
		assert_true(out == cases[i].want);
	}
	assert_int_equal(stats_median(&out, 0, &out), -EINVAL);
}

/* splitmix64's published first outputs for seed 0 and 1234567. */
static void test_rng(void **state)
{
	struct stats_rng r;

	(void)state;
	stats_rng_seed(&r, 0);
	assert_true(stats_rng_next(&r) == 0xe220a8397b1dcdafull);
	assert_true(stats_rng_next(&r) == 0x6e789e6aa1b965f4ull);
	stats_rng_seed(&r, 1234567);
	assert_true(stats_rng_next(&r) == 6457827717110365317ull);
	assert_true(stats_rng_next(&r) == 3203168211198807973ull);
	for (int i = 0; i < 1000; i++)
		assert_true(stats_rng_below(&r, 7) < 7);
	assert_int_equal(stats_rng_below(&r, 1), 0);
}

/* Every ratio the same: the interval is that value, whatever the seed. */
static void test_ratio_constant(void **state)
{
	double a[5] = { 2, 4, 6, 8, 10 }, b[5] = { 1, 2, 3, 4, 5 };
	struct stats_ratio r;

	(void)state;
	assert_int_equal(stats_ratio_ci(a, b, 5, 1000, 0.95, 42, &r), 0);
	assert_int_equal(r.n, 5);
	assert_true(r.median == 2 && r.lo == 2 && r.hi == 2);
	assert_int_equal(r.resamples, 1000);
	assert_true(r.seed == 42);
}

/* Fixed rounds and seed: the same interval every time, the median inside it, and exact
 * values (recorded from this implementation, checked to be within the ratios' range). */
static void test_ratio_fixed_seed(void **state)
{
	double a[9] = { 101, 103, 99, 104, 102, 100, 105, 98, 103 };
	double b[9] = { 100, 100, 100, 100, 100, 100, 100, 100, 100 };
	struct stats_ratio r1, r2;

	(void)state;
	assert_int_equal(stats_ratio_ci(a, b, 9, 2000, 0.95, 7, &r1), 0);
	assert_int_equal(stats_ratio_ci(a, b, 9, 2000, 0.95, 7, &r2), 0);
	assert_true(r1.lo == r2.lo && r1.hi == r2.hi);
	assert_true(fabs(r1.median - 1.02) < 1e-12);
	assert_true(r1.lo >= 0.98 && r1.lo <= r1.median);
	assert_true(r1.hi >= r1.median && r1.hi <= 1.05);
	assert_true(fabs(r1.lo - 0.99) < 1e-9);
	assert_true(fabs(r1.hi - 1.04) < 1e-9);
}

/* All rounds in one group: stats_ratio_ci's interval, draw for draw. */
static void test_ratio_one_group(void **state)
{
	double a[9] = { 101, 103, 99, 104, 102, 100, 105, 98, 103 };
	double b[9] = { 100, 100, 100, 100, 100, 100, 100, 100, 100 };
	long g[9] = { 7, 7, 7, 7, 7, 7, 7, 7, 7 };
	struct stats_ratio r1, r2;

	(void)state;
	assert_int_equal(stats_ratio_ci(a, b, 9, 2000, 0.95, 7, &r1), 0);
	assert_int_equal(stats_ratio_ci_grouped(a, b, g, 9, 2000, 0.95, 7, &r2), 0);
	assert_int_equal(r1.groups, 1);
	assert_int_equal(r2.groups, 1);
	assert_true(r1.lo == r2.lo && r1.hi == r2.hi && r1.median == r2.median);
}

/*
 * Four groups (processes) whose rounds sit around 1.00, 1.01, 1.02 and 1.03: the rounds
 * alone give a narrow interval around the middle; the two-stage bootstrap, which may draw
 * the same process several times, a wide one that holds it. Exact values recorded from
 * this implementation with its seed.
 */
static void test_ratio_groups_widen(void **state)
{
	double a[100], b[100];
	long g[100];
	struct stats_ratio flat, grouped;

	(void)state;
	for (int i = 0; i < 100; i++) {
		g[i] = 10 + i % 4;
		a[i] = 1000.0 + 10.0 * (i % 4) + (double)(i / 4 % 5) * 0.5 - 1.0;
		b[i] = 1000.0;
	}
	assert_int_equal(stats_ratio_ci(a, b, 100, 4000, 0.95, 3, &flat), 0);
	assert_int_equal(stats_ratio_ci_grouped(a, b, g, 100, 4000, 0.95, 3, &grouped), 0);
	assert_int_equal(grouped.groups, 4);
	assert_int_equal(grouped.n, 100);
	assert_true(fabs(flat.median - grouped.median) < 1e-12);
	assert_true(grouped.lo <= flat.lo && grouped.hi >= flat.hi);
	assert_true(grouped.hi - grouped.lo >= 2 * (flat.hi - flat.lo));
	assert_true(fabs(flat.median - 1.015) < 1e-12);
	assert_true(fabs(flat.lo - 1.0105) < 1e-9 && fabs(flat.hi - 1.01975) < 1e-9);
	assert_true(fabs(grouped.lo - 1.0005) < 1e-9 && fabs(grouped.hi - 1.0295) < 1e-9);
}

/* Groups of unequal size (1 and 3 rounds): resamples of varying length stay in range. */
static void test_ratio_groups_unequal(void **state)
{
	double a[4] = { 110, 100, 101, 102 }, b[4] = { 100, 100, 100, 100 };
	long g[4] = { 2, 1, 1, 1 };
	struct stats_ratio r;

	(void)state;
	assert_int_equal(stats_ratio_ci_grouped(a, b, g, 4, 1000, 0.95, 5, &r), 0);
	assert_int_equal(r.groups, 2);
	assert_true(fabs(r.median - 1.015) < 1e-12);
	assert_true(r.lo >= 1.0 && r.hi <= 1.1 && r.lo <= r.hi);
}

static void test_ratio_errors(void **state)
{
	double a[2] = { 1, 2 }, b[2] = { 1, 0 }, ok[2] = { 1, 1 };
	struct stats_ratio r;

	(void)state;
	assert_int_equal(stats_ratio_ci(a, ok, 0, 10, 0.95, 1, &r), -EINVAL);
	assert_int_equal(stats_ratio_ci(a, b, 2, 10, 0.95, 1, &r), -EINVAL);
	assert_int_equal(stats_ratio_ci(a, ok, 2, 0, 0.95, 1, &r), -EINVAL);
	assert_int_equal(stats_ratio_ci(a, ok, 2, 10, 1.0, 1, &r), -EINVAL);
	assert_int_equal(stats_ratio_ci(a, ok, 2, 10, 0.95, 1, &r), 0);
}

static void test_verdict(void **state)
{
	static const struct {
		double lo, hi, target;
		int at_most;
		enum stats_verdict want;
	} cases[] = {
		{ 0.995, 1.008, 1.01, 1, STATS_MET },
		{ 0.995, 1.010, 1.01, 1, STATS_MET },
		{ 1.004, 1.020, 1.01, 1, STATS_NOT_RESOLVED },
		{ 1.011, 1.020, 1.01, 1, STATS_NOT_MET },
		{ 0.975, 0.990, 0.97, 0, STATS_MET },
		{ 0.960, 0.990, 0.97, 0, STATS_NOT_RESOLVED },
		{ 0.900, 0.969, 0.97, 0, STATS_NOT_MET },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(stats_verdict_of(cases[i].lo, cases[i].hi, cases[i].target,
						  cases[i].at_most),
				 cases[i].want);
	assert_string_equal(stats_verdict_name(STATS_MET), "met");
	assert_string_equal(stats_verdict_name(STATS_NOT_MET), "not met");
	assert_string_equal(stats_verdict_name(STATS_NOT_RESOLVED), "not resolved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median),          cmocka_unit_test(test_rng),
		cmocka_unit_test(test_ratio_constant),  cmocka_unit_test(test_ratio_fixed_seed),
		cmocka_unit_test(test_ratio_one_group), cmocka_unit_test(test_ratio_groups_widen),
		cmocka_unit_test(test_ratio_groups_unequal),
		cmocka_unit_test(test_ratio_errors),    cmocka_unit_test(test_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
