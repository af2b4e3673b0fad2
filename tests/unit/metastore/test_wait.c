/* Unit tests for the applied-index wait registry (metastore/raft/wait.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raft/wait.h"

/* What the callbacks saw, in the order they ran. */
struct seen {
	int id[16];
	int status[16];
	size_t n;
	struct ms_raft_waits *w; /* for the callback that registers another wait */
};

struct waiter {
	struct seen *seen;
	int id;
};

static void record(void *arg, int status)
{
	struct waiter *x = arg;

	x->seen->id[x->seen->n] = x->id;
	x->seen->status[x->seen->n++] = status;
}

static void test_applied_in_index_order(void **state)
{
	struct ms_raft_waits w = { 0 };
	struct seen s = { 0 };
	struct waiter a = { &s, 1 }, b = { &s, 2 }, c = { &s, 3 }, d = { &s, 4 };

	(void)state;
	assert_int_equal(ms_raft_waits_add(&w, 7, 1000, record, &a), 0);
	assert_int_equal(ms_raft_waits_add(&w, 5, 1000, record, &b), 0);
	assert_int_equal(ms_raft_waits_add(&w, 7, 1000, record, &c), 0);
	assert_int_equal(ms_raft_waits_add(&w, 9, 1000, record, &d), 0);
	assert_int_equal(ms_raft_waits_min(&w), 5);
	/* nothing applied far enough, nothing late */
	assert_int_equal(ms_raft_waits_run(&w, 4, 10), 0);
	assert_int_equal(s.n, 0);
	/* index 7 reached: 5 first, then the two 7s in the order they came */
	assert_int_equal(ms_raft_waits_run(&w, 7, 20), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.id[0], 2);
	assert_int_equal(s.id[1], 1);
	assert_int_equal(s.id[2], 3);
	assert_int_equal(s.status[0], 0);
	assert_int_equal(s.status[2], 0);
	assert_int_equal(ms_raft_waits_min(&w), 9);
	assert_int_equal(w.n, 1);
	assert_int_equal(ms_raft_waits_run(&w, 100, 30), 1);
	assert_int_equal(s.id[3], 4);
	assert_int_equal(ms_raft_waits_min(&w), 0);
	assert_int_equal(w.n, 0);
}

static void test_timeout(void **state)
{
	struct ms_raft_waits w = { 0 };
	struct seen s = { 0 };
	struct waiter a = { &s, 1 }, b = { &s, 2 };

	(void)state;
	ms_raft_waits_add(&w, 10, 500, record, &a);
	ms_raft_waits_add(&w, 11, 900, record, &b);
	assert_int_equal(ms_raft_waits_run(&w, 3, 499), 0);
	/* the deadline is inclusive; the other one still waits */
	assert_int_equal(ms_raft_waits_run(&w, 3, 500), 1);
	assert_int_equal(s.id[0], 1);
	assert_int_equal(s.status[0], -ETIMEDOUT);
	/* applied in time beats the deadline of the same run */
	assert_int_equal(ms_raft_waits_run(&w, 11, 5000), 1);
	assert_int_equal(s.id[1], 2);
	assert_int_equal(s.status[1], 0);
	assert_int_equal(w.n, 0);
}

static void test_cancel(void **state)
{
	struct ms_raft_waits w = { 0 };
	struct seen s = { 0 };
	struct waiter a = { &s, 1 }, b = { &s, 2 };

	(void)state;
	ms_raft_waits_add(&w, 10, 500, record, &a);
	ms_raft_waits_add(&w, 3, 500, record, &b);
	assert_int_equal(ms_raft_waits_cancel(&w, -ECANCELED), 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], 2);
	assert_int_equal(s.status[0], -ECANCELED);
	assert_int_equal(s.status[1], -ECANCELED);
	assert_null(w.head);
	assert_int_equal(ms_raft_waits_cancel(&w, -ECANCELED), 0);
}

static struct waiter later;

/* A callback that waits again: the new wait belongs to the next run. */
static void wait_again(void *arg, int status)
{
	struct waiter *x = arg;

	record(arg, status);
	later = (struct waiter){ x->seen, 99 };
	assert_int_equal(ms_raft_waits_add(x->seen->w, 6, 1000, record, &later), 0);
}

static void test_callback_adds(void **state)
{
	struct ms_raft_waits w = { 0 };
	struct seen s = { .w = &w };
	struct waiter a = { &s, 1 };

	(void)state;
	ms_raft_waits_add(&w, 5, 1000, wait_again, &a);
	assert_int_equal(ms_raft_waits_run(&w, 8, 0), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(w.n, 1);
	assert_int_equal(ms_raft_waits_min(&w), 6);
	assert_int_equal(ms_raft_waits_run(&w, 8, 0), 1);
	assert_int_equal(s.id[1], 99);
	assert_int_equal(w.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_applied_in_index_order),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_callback_adds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
