/* Unit tests for the register linearizability checker (tests/fault/fwgl.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fwgl.h"

#define R FWGL_READ
#define W FWGL_WRITE
#define C FWGL_CAS
#define MAYBE UINT64_MAX /* ret of an op that never answered */
#define MS 1000000ULL

/* kind, value, expect, seen, ok, call ms, ret ms (MAYBE: indeterminate) */
struct op_row {
	enum fwgl_kind kind;
	int64_t value, expect, seen;
	bool ok;
	uint64_t call, ret;
};

static const struct {
	const char *name;
	struct op_row ops[8];
	size_t n;
	int want;
	const char *why; /* substring of the message when not linearizable */
} cases[] = {
	{ "empty history", { { 0 } }, 0, 1, NULL },
	{ "initial value read", { { R, 0, 0, 0, 0, 0, 1 } }, 1, 1, NULL },
	{ "write then read it", { { W, 1, 0, 0, 0, 0, 1 }, { R, 1, 0, 0, 0, 2, 3 } }, 2, 1, NULL },
	{ "read of a value never written",
	  { { W, 1, 0, 0, 0, 0, 1 }, { R, 2, 0, 0, 0, 2, 3 } }, 2, 0, "read -> 2" },
	{ "read overlapping a write sees the new value",
	  { { W, 1, 0, 0, 0, 0, 10 }, { R, 1, 0, 0, 0, 5, 6 } }, 2, 1, NULL },
	{ "read overlapping a write sees the old value",
	  { { W, 1, 0, 0, 0, 0, 10 }, { R, 0, 0, 0, 0, 5, 6 } }, 2, 1, NULL },
	{ "stale read after a newer write completed",
	  { { W, 1, 0, 0, 0, 0, 1 }, { W, 2, 0, 0, 0, 2, 3 }, { R, 1, 0, 0, 0, 4, 5 } }, 3, 0,
	  "read -> 1" },
	{ "cas that succeeded",
	  { { W, 1, 0, 0, 0, 0, 1 }, { C, 2, 1, 0, 1, 2, 3 }, { R, 2, 0, 0, 0, 4, 5 } }, 3, 1, NULL },
	{ "cas succeeded although the value differed",
	  { { W, 1, 0, 0, 0, 0, 1 }, { C, 2, 3, 0, 1, 2, 3 } }, 2, 0, "cas 3->2 ok" },
	{ "cas failed and saw the value",
	  { { W, 1, 0, 0, 0, 0, 1 }, { C, 6, 5, 1, 0, 2, 3 } }, 2, 1, NULL },
	{ "cas failed although the value matched",
	  { { W, 1, 0, 0, 0, 0, 1 }, { C, 2, 1, 1, 0, 2, 3 } }, 2, 0, "failed, saw 1" },
	{ "maybe write observed later",
	  { { W, 1, 0, 0, 0, 0, 1 }, { W, 2, 0, 0, 0, 2, MAYBE }, { R, 2, 0, 0, 0, 10, 11 } }, 3, 1,
	  NULL },
	{ "maybe write that never happened",
	  { { W, 1, 0, 0, 0, 0, 1 }, { W, 2, 0, 0, 0, 2, MAYBE }, { R, 1, 0, 0, 0, 10, 11 } }, 3, 1,
	  NULL },
	{ "maybe write observed, then the old value again",
	  { { W, 1, 0, 0, 0, 0, 1 },
	    { W, 2, 0, 0, 0, 2, MAYBE },
	    { R, 2, 0, 0, 0, 10, 11 },
	    { R, 1, 0, 0, 0, 12, 13 } },
	  4, 0, "read -> 1" },
	{ "maybe cas observed",
	  { { W, 1, 0, 0, 0, 0, 1 }, { C, 3, 1, 0, 0, 2, MAYBE }, { R, 3, 0, 0, 0, 5, 6 } }, 3, 1,
	  NULL },
	{ "maybe read is ignored",
	  { { W, 1, 0, 0, 0, 0, 1 }, { R, 7, 0, 0, 0, 2, MAYBE } }, 2, 1, NULL },
	{ "two concurrent writes, then both values in turn",
	  { { W, 1, 0, 0, 0, 0, 10 },
	    { W, 2, 0, 0, 0, 0, 10 },
	    { R, 1, 0, 0, 0, 11, 12 },
	    { R, 2, 0, 0, 0, 13, 14 } },
	  4, 0, "read -> 2" },
	{ "two concurrent writes, the later one read twice",
	  { { W, 1, 0, 0, 0, 0, 10 },
	    { W, 2, 0, 0, 0, 0, 10 },
	    { R, 2, 0, 0, 0, 11, 12 },
	    { R, 2, 0, 0, 0, 13, 14 } },
	  4, 1, NULL },
};

static void fill(struct fwgl_op *ops, const struct op_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ops[i] = (struct fwgl_op){
			.client = (int)i,
			.kind = rows[i].kind,
			.value = rows[i].value,
			.expect = rows[i].expect,
			.seen = rows[i].seen,
			.ok = rows[i].ok,
			.maybe = rows[i].ret == MAYBE,
			.call = rows[i].call * MS,
			.ret = rows[i].ret == MAYBE ? 0 : rows[i].ret * MS,
		};
	}
}

static void test_histories(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fwgl_op ops[8];
		char why[512];
		int rv;

		fill(ops, cases[i].ops, cases[i].n);
		rv = fwgl_check(ops, cases[i].n, 100000, why, sizeof(why));
		if (rv != cases[i].want)
			fail_msg("%s: got %d, want %d (%s)", cases[i].name, rv, cases[i].want, why);
		if (cases[i].why && !strstr(why, cases[i].why))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].name, why, cases[i].why);
	}
}

/* The order the ops are given in does not matter. */
static void test_order_independent(void **state)
{
	struct op_row rows[3] = { { R, 1, 0, 0, 0, 4, 5 }, { W, 2, 0, 0, 0, 2, 3 },
				  { W, 1, 0, 0, 0, 0, 1 } };
	struct fwgl_op ops[3];
	char why[256];

	(void)state;
	fill(ops, rows, 3);
	assert_int_equal(fwgl_check(ops, 3, 1000, why, sizeof(why)), 0);
}

/* Many concurrent writes and a read nobody can explain: the bound stops the search. */
static void test_step_bound(void **state)
{
	struct fwgl_op ops[21];
	char why[256];

	(void)state;
	for (int i = 0; i < 20; i++)
		ops[i] = (struct fwgl_op){ .client = i, .kind = FWGL_WRITE, .value = i + 1,
					   .call = 0, .ret = 100 * MS };
	ops[20] = (struct fwgl_op){ .client = 20, .kind = FWGL_READ, .value = 99,
				    .call = 1 * MS, .ret = 99 * MS };
	assert_int_equal(fwgl_check(ops, 21, 50, why, sizeof(why)), -E2BIG);
	assert_string_equal(why, "search bound of 50 steps reached after 20 of 21 ops; inconclusive");
}

static void test_describe(void **state)
{
	struct fwgl_op op = { .client = 3, .kind = FWGL_CAS, .value = 9, .expect = 5, .seen = 7,
			      .call = 1200 * MS, .ret = 1350 * MS };
	char buf[160];

	(void)state;
	assert_string_equal(fwgl_describe(&op, buf, sizeof(buf)),
			    "client 3 cas 5->9 failed, saw 7 [1.200, 1.350]");
	op.maybe = true;
	assert_string_equal(fwgl_describe(&op, buf, sizeof(buf)),
			    "client 3 cas 5->9 [1.200, ?] maybe");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histories),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_step_bound),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
