/* Unit tests for lg_phases: the phase schedule, the semaphore written and restored, the switcher's protocol and schedule, refusals. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg_phase_ctl.h"
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

/* Windows: refusals, then one window less than fits, numbered from the first boundary after
 * the start, nothing written to the semaphore. */
static void test_windows(void **state)
{
	static const struct {
		int pid;
		unsigned ms;
		double secs;
		int err;
	} bad[] = {
		{ 0, 10, 1, -EINVAL },    /* no process */
		{ 1, 0, 1, -EINVAL },     /* no window length */
		{ 1, 10, 0.019, -EINVAL }, /* not two windows' time */
	};
	atomic_uint_fast64_t calls = 0;
	struct lg_phases *p;
	const struct lg_probe_phase *ph;
	uint64_t t0 = 7 * 10000000ull + 1; /* 1 ns past a 10 ms boundary */
	char buf[512];
	FILE *f;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lg_phases_new_windows(&p, bad[i].pid, bad[i].ms, bad[i].secs),
				 bad[i].err);
	fake_sem = 3;
	assert_int_equal(lg_phases_new_windows(&p, getpid(), 10, 0.04), 0);
	assert_int_equal(lg_phases_start(p, &calls, t0), 0);
	assert_int_equal(lg_phases_join(p), 0);
	ph = lg_phases_get(p, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ph[i].calls, 0);
	assert_int_equal(fake_sem, 3);
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	lg_phases_print(p, f);
	fclose(f);
	{
		unsigned long long w[3], c[3], ns[3];

		/* the CPU time is the test process's own: any value */
		assert_int_equal(sscanf(buf, "window: %llu calls=%llu cpu_ns=%llu\n"
					     "window: %llu calls=%llu cpu_ns=%llu\n"
					     "window: %llu calls=%llu cpu_ns=%llu\n",
					&w[0], &c[0], &ns[0], &w[1], &c[1], &ns[1], &w[2], &c[2], &ns[2]),
				 9);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(w[i], 8 + i);
			assert_int_equal(c[i], 0);
			assert_int_equal(ns[i], ph[i].cpu_ns);
		}
	}
	lg_phases_free(p);
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

/* A stand-in for bench/go_toggle on a Unix socket: each command received while "on" adds 7
 * hits (the hits of the phase it closes); it answers as the switcher does, or (mode) with
 * an error line, or not at all. */
enum fake_mode { FAKE_OK, FAKE_ERR, FAKE_SILENT };

struct fake {
	char dir[32], path[64];
	int lfd;
	enum fake_mode mode;
	pthread_t th;
	bool on;
	uint64_t hits;
	unsigned cmds;
	char last;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	char c, ans[128];

	while (fd >= 0 && read(fd, &c, 1) == 1) {
		if (c == '\n')
			continue;
		f->cmds++;
		f->last = c;
		if (f->on)
			f->hits += 7;
		f->on = c == '1';
		if (f->mode == FAKE_SILENT)
			continue;
		if (f->mode == FAKE_ERR)
			snprintf(ans, sizeof(ans), "err boom\n");
		else
			snprintf(ans, sizeof(ans), "ok on=%d hits_before=%" PRIu64
				 " hits_after=%" PRIu64 "\n", f->on, f->hits, f->hits);
		assert_true(write(fd, ans, strlen(ans)) == (ssize_t)strlen(ans));
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->on = true;
	strcpy(f->dir, "/tmp/test_lg_phases.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl", f->dir);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* After the client closed: the thread is done. */
static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(rmdir(f->dir), 0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_ack_parse(void **state)
{
	static const struct {
		const char *line;
		int err;
		bool on;
		uint64_t before, after;
	} cases[] = {
		{ "ok on=1 hits_before=5 hits_after=9", 0, true, 5, 9 },
		{ "ok on=0 hits_before=0 hits_after=0", 0, false, 0, 0 },
		{ "ok on=2 hits_before=0 hits_after=0", -EPROTO, false, 0, 0 },
		{ "ok on=1 hits_before=9 hits_after=5", -EPROTO, false, 0, 0 }, /* went back */
		{ "ok on=1 hits_before=1 hits_after=2 more", -EPROTO, false, 0, 0 },
		{ "ok on=1 hits_before=1", -EPROTO, false, 0, 0 },
		{ "err cannot attach", -EPROTO, false, 0, 0 },
		{ "", -EPROTO, false, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lg_phase_ack a = { 0 };

		assert_int_equal(lg_phase_ctl_parse(cases[i].line, &a), cases[i].err);
		if (cases[i].err)
			continue;
		assert_int_equal(a.on, cases[i].on);
		assert_int_equal(a.hits_before, cases[i].before);
		assert_int_equal(a.hits_after, cases[i].after);
	}
}

/* Pairs ABBA through the switcher (off on, on off, ...), each on phase with the 7 hits the
 * fake added when it was closed, off phases none (also an off phase after an off one); the
 * switcher attached again at the end. */
static void test_ctl_schedule(void **state)
{
	atomic_uint_fast64_t calls = 0;
	struct lg_phase_ctl *ctl;
	struct lg_phases *p;
	const struct lg_probe_phase *ph;
	struct fake f;
	char why[256] = "";
	size_t n;

	(void)state;
	fake_start(&f, FAKE_OK);
	assert_int_equal(lg_phase_ctl_open(f.path, 5000, &ctl, why, sizeof(why)), 0);
	assert_int_equal(lg_phases_new_ctl(&p, getpid(), ctl, 5, 0.2, why, sizeof(why)), 0);
	assert_int_equal(f.cmds, 1); /* the check: "1" */
	assert_int_equal(lg_phases_start(p, &calls, now_ns()), 0);
	assert_int_equal(lg_phases_join(p), 0);
	assert_string_equal(lg_phases_error(p), "");
	ph = lg_phases_get(p, &n);
	assert_true(n >= 4 && n <= 40 && n % 2 == 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ph[i].on, ((i / 2) % 2 == 0) == (i % 2 == 1));
		assert_int_equal(ph[i].hits, ph[i].on ? 7 : 0);
		assert_true(ph[i].switch_ns > 0);
	}
	/* the check, one switch per phase (a last pair that did not fit may add one), the end */
	assert_true(f.cmds == n + 2 || f.cmds == n + 3);
	assert_int_equal(f.last, '1');
	lg_phases_free(p);
	fake_stop(&f);
	assert_true(f.on);
}

/* An error answer and no answer: refused, with what was seen. */
static void test_ctl_refusals(void **state)
{
	struct lg_phase_ctl *ctl;
	struct lg_phases *p = (struct lg_phases *)1;
	struct lg_phase_ack a;
	struct fake f;
	char why[256] = "";

	(void)state;
	fake_start(&f, FAKE_ERR);
	assert_int_equal(lg_phase_ctl_open(f.path, 5000, &ctl, why, sizeof(why)), 0);
	assert_int_equal(lg_phases_new_ctl(&p, getpid(), ctl, 5, 0.2, why, sizeof(why)), -EPROTO);
	assert_null(p);
	assert_non_null(strstr(why, "answer to '1' from "));
	assert_non_null(strstr(why, ": \"err boom\""));
	fake_stop(&f);

	fake_start(&f, FAKE_SILENT);
	assert_int_equal(lg_phase_ctl_open(f.path, 100, &ctl, why, sizeof(why)), 0);
	assert_int_equal(lg_phase_ctl_set(ctl, false, &a, why, sizeof(why)), -ETIMEDOUT);
	assert_non_null(strstr(why, "no whole answer to '0' from "));
	assert_non_null(strstr(why, " in 100 ms (got \"\")"));
	lg_phase_ctl_free(ctl);
	fake_stop(&f);

	assert_int_equal(lg_phase_ctl_open("/nonexistent/ctl", 100, &ctl, why, sizeof(why)),
			 -ENOENT);
	assert_null(ctl);
	assert_string_equal(why, "cannot connect to /nonexistent/ctl: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_schedule_and_restore),
		cmocka_unit_test(test_off_phase_writes_zero),
		cmocka_unit_test(test_ack_parse),
		cmocka_unit_test(test_ctl_schedule),
		cmocka_unit_test(test_ctl_refusals),
		cmocka_unit_test(test_windows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
