/* Unit tests for the forked snapshot serializer (metastore/raft/snap_fork.c). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft/snap_fork.h"

/* What the child serializes: a pattern of `len` bytes, or an error, or a crash. */
struct job {
	size_t len;
	int err;
	bool crash;
	int seen; /* written after the fork: the child must see the value from before */
};

static int serialize(void *arg, struct ms_buf *out)
{
	struct job *j = arg;

	if (j->crash) /* SIGKILL: no handler of the test framework runs in the child */
		kill(getpid(), SIGKILL);
	if (j->err)
		return j->err;
	if (ms_buf_append(out, NULL, j->len))
		return -ENOMEM;
	for (size_t i = 0; i < j->len; i++)
		out->data[out->len - j->len + i] = (uint8_t)(i * 7 + (size_t)j->seen);
	return 0;
}

/* Table: lengths around the pipe's buffer, fn errors, a child that crashes; the bytes are
 * appended after what `out` held, the state is the one at the fork. */
static void test_collect_table(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		int err, want;
		bool crash;
	} cases[] = {
		{ "empty state", 0, 0, 0, false },
		{ "one byte", 1, 0, 0, false },
		{ "a pipe's buffer", 65536, 0, 0, false },
		{ "past several buffers", 3 * 65536 + 5, 0, 0, false },
		{ "8 MB", 8u << 20, 0, 0, false },
		{ "busy", 0, -EBUSY, -EBUSY, false },
		{ "out of memory", 0, -ENOMEM, -ENOMEM, false },
		{ "the child crashes", 100, 0, -EIO, true },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct job j = { .len = cases[c].len, .err = cases[c].err,
				 .crash = cases[c].crash, .seen = 3 };
		struct ms_buf out = { 0 };
		struct ms_snap_fork f;
		int rv;

		assert_int_equal(ms_buf_append(&out, "HEAD", 4), 0);
		assert_int_equal(ms_snap_fork_start(&f, serialize, &j), 0);
		assert_int_not_equal(f.pid, 0);
		j.seen = 99; /* the parent's change after the fork */
		rv = ms_snap_fork_collect(&f, &out);
		if (rv != cases[c].want)
			fail_msg("%s: collect returned %d, want %d", cases[c].name, rv,
				 cases[c].want);
		assert_int_equal(f.pid, 0);
		assert_memory_equal(out.data, "HEAD", 4);
		assert_int_equal(out.len, 4 + (cases[c].want ? 0 : cases[c].len));
		for (size_t i = 0; !cases[c].want && i < cases[c].len; i++)
			if (out.data[4 + i] != (uint8_t)(i * 7 + 3))
				fail_msg("%s: byte %zu is %u, want %u", cases[c].name, i,
					 out.data[4 + i], (uint8_t)(i * 7 + 3));
		/* the child is reaped: no zombie of it is left */
		assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
		assert_int_equal(errno, ECHILD);
		ms_buf_free(&out);
	}
}

/* A child that is never collected is killed and reaped by cancel; cancel with none, and a
 * second collect, do nothing. */
static void test_cancel(void **state)
{
	struct job j = { .len = 64u << 20, .seen = 1 };
	struct ms_buf out = { 0 };
	struct ms_snap_fork f;

	(void)state;
	assert_int_equal(ms_snap_fork_start(&f, serialize, &j), 0);
	ms_snap_fork_cancel(&f);
	assert_int_equal(f.pid, 0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	ms_snap_fork_cancel(&f);
	assert_int_equal(ms_snap_fork_collect(&f, &out), -EINVAL);
	assert_int_equal(out.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect_table),
		cmocka_unit_test(test_cancel),
	};

	/* a child killed mid-write must not take the test with it */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
