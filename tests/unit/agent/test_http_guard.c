/* Unit tests for http_guard: which connection makes room for a new one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_guard.h"

/* 8 slots, eviction past 4 open, for connections waiting at least 1 s. */
static struct http_guard *guard(void)
{
	struct http_guard *g = http_guard_new(8, 4, 1.0);

	assert_non_null(g);
	return g;
}

static void test_new_bad_sizes(void **state)
{
	(void)state;
	assert_null(http_guard_new(0, 0, 1));
	assert_null(http_guard_new(4, 4, 1));
	http_guard_free(NULL);
}

static void test_below_soft_no_victim(void **state)
{
	struct http_guard *g = guard();
	int victim;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(http_guard_open(g, 100 + i, 10.0 * i, &victim), i);
		assert_int_equal(victim, -1);
	}
	assert_int_equal(http_guard_evicted(g), 0);
	http_guard_free(g);
}

static void test_past_soft_oldest_waiting_goes(void **state)
{
	struct http_guard *g = guard();
	int victim;

	(void)state;
	assert_int_equal(http_guard_open(g, 100, 0.0, &victim), 0); /* oldest, but served */
	assert_int_equal(http_guard_open(g, 101, 1.0, &victim), 1);
	assert_int_equal(http_guard_open(g, 102, 2.0, &victim), 2);
	assert_int_equal(http_guard_open(g, 103, 3.0, &victim), 3);
	http_guard_busy(g, 0);
	/* Fifth connection at t=3.5: 101 has waited 2.5 s, the longest of the waiting ones. */
	assert_int_equal(http_guard_open(g, 104, 3.5, &victim), 4);
	assert_int_equal(victim, 101);
	/* Sixth at t=3.6: 101 is shut down already, so 102 (1.6 s). */
	assert_int_equal(http_guard_open(g, 105, 3.6, &victim), 5);
	assert_int_equal(victim, 102);
	/* Seventh at t=3.7: 103 waited only 0.7 s, 104 and 105 less: nobody goes. */
	assert_int_equal(http_guard_open(g, 106, 3.7, &victim), 6);
	assert_int_equal(victim, -1);
	assert_int_equal(http_guard_evicted(g), 2);
	http_guard_free(g);
}

static void test_last_slot_evicts_whatever_age(void **state)
{
	struct http_guard *g = guard();
	int victim;

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_int_equal(http_guard_open(g, 100 + i, 5.0 + 0.01 * i, &victim), i);
	/* The last slot at t=5.1: everybody is young, the oldest waiting goes anyway. */
	assert_int_equal(http_guard_open(g, 107, 5.1, &victim), 7);
	assert_int_equal(victim, 100);
	/* Still full until the server closes it. */
	assert_int_equal(http_guard_open(g, 108, 5.2, &victim), -ENOSPC);
	http_guard_close(g, 0);
	assert_int_equal(http_guard_open(g, 108, 5.2, &victim), 0);
	assert_int_equal(victim, 101);
	http_guard_free(g);
}

static void test_all_busy_newcomer_goes(void **state)
{
	struct http_guard *g = guard();
	int victim;

	(void)state;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(http_guard_open(g, 100 + i, 0, &victim), i);
		http_guard_busy(g, i);
	}
	assert_int_equal(http_guard_open(g, 107, 50, &victim), 7);
	assert_int_equal(victim, 107);
	http_guard_free(g);
}

static void test_idle_restarts_the_wait(void **state)
{
	struct http_guard *g = guard();
	int victim;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(http_guard_open(g, 100 + i, 0, &victim), i);
	/* 100 was served and answered at t=9: it waits from then on. */
	http_guard_busy(g, 0);
	http_guard_idle(g, 0, 9.0);
	assert_int_equal(http_guard_open(g, 104, 10.0, &victim), 4);
	assert_int_equal(victim, 101);
	/* Out-of-range and closed slots are ignored. */
	http_guard_busy(g, -1);
	http_guard_idle(g, 99, 0);
	http_guard_close(g, 99);
	http_guard_close(g, 7);
	http_guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad_sizes),
		cmocka_unit_test(test_below_soft_no_victim),
		cmocka_unit_test(test_past_soft_oldest_waiting_goes),
		cmocka_unit_test(test_last_slot_evicts_whatever_age),
		cmocka_unit_test(test_all_busy_newcomer_goes),
		cmocka_unit_test(test_idle_restarts_the_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
