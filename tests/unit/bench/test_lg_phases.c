/* Unit tests for lg_phases: the phase schedule, the semaphore written and restored, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg_phases.h"

/* Stands in for the store's semaphore: this process writes its own memory as it would the
 * store's. */
static volatile uint16_t fake_sem;

static void test_refusals(void **state)
{
	struct lg_phases *p = (struct lg_phases *)1;
	static const struct {
		pid_t pid;
		uint64_t addr;
		unsigned ms;
		double secs;
		int err;
	} cases[] = {
		{ 0, 1, 10, 1, -EINVAL },        /* no process */
		{ 1, 0, 10, 1, -EINVAL },        /* no address */
		{ 1, 1, 0, 1, -EINVAL },         /* no phase length */
		{ 1, 1, 10, 0, -EINVAL },        /* no time */
		{ 1, 1, 1000, 1.5, -EINVAL },    /* not one whole pair of phases */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(lg_phases_new(&p, cases[i].pid, cases[i].addr, cases[i].ms,
					       cases[i].secs),
				 cases[i].err);
		assert_null(p);
	}
	fake_sem = 0;
	assert_int_equal(lg_phases_new(&p, getpid(), (uint64_t)(uintptr_t)&fake_sem, 10, 1),
			 -ENOENT);
	assert_null(p);
	lg_phases_free(NULL);
}

static void test_schedule_and_restore(void **state)
{
	static const int want_on[] = { 0, 1, 1, 0, 0, 1, 1, 0 };
	atomic_uint_fast64_t calls = 0;
	struct lg_phases *p;
	const struct lg_probe_phase *ph;
	size_t n;

	(void)state;
	fake_sem = 3;
	assert_int_equal(lg_phases_new(&p, getpid(), (uint64_t)(uintptr_t)&fake_sem, 5, 0.04), 0);
	assert_int_equal(lg_phases_start(p, &calls, 0), 0);
	assert_int_equal(lg_phases_join(p), 0);
	/* the attached value is back once the phases are done */
	assert_int_equal(fake_sem, 3);
	ph = lg_phases_get(p, &n);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ph[i].on, want_on[i]);
		assert_int_equal(ph[i].calls, 0);
	}
	lg_phases_free(p);
	assert_int_equal(fake_sem, 3);
}

/* The phase thread writes 0 in an off phase: seen from here while it runs. */
static void test_off_phase_writes_zero(void **state)
{
	atomic_uint_fast64_t calls = 0;
	struct lg_phases *p;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct timespec now;
	uint64_t t0;

	(void)state;
	fake_sem = 2;
	assert_int_equal(lg_phases_new(&p, getpid(), (uint64_t)(uintptr_t)&fake_sem, 200, 0.4), 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	t0 = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	assert_int_equal(lg_phases_start(p, &calls, t0), 0);
	/* 20 ms into phase 0 (off): written to 0; calls counted into the running phase */
	nanosleep(&ts, NULL);
	assert_int_equal(fake_sem, 0);
	atomic_fetch_add(&calls, 7);
	lg_phases_free(p);
	assert_int_equal(fake_sem, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_schedule_and_restore),
		cmocka_unit_test(test_off_phase_writes_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
