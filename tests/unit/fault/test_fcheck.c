/* Unit tests for the history checks (tests/fault/fcheck.c): revisions, stored keys, watch streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcheck.h"

struct lines {
	int n;
	char first[320];
};

static void collect(void *user, const char *line)
{
	struct lines *l = user;

	if (!l->n++)
		snprintf(l->first, sizeof(l->first), "%s", line);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_revs(void **state)
{
	static const struct {
		struct fault_rev revs[5];
		size_t n;
		int want;
		const char *line;
	} cases[] = {
		{ { { 1, 5, true }, { 1, 6, true } }, 2, 0, NULL },
		{ { { 1, 5, true }, { 1, 5, true } }, 2, 1,
		  "client 1: write acknowledged at revision 5 after it had seen revision 5 (went backwards)" },
		{ { { 1, 6, true }, { 1, 6, false } }, 2, 0, NULL },
		{ { { 1, 6, false }, { 1, 5, false } }, 2, 1,
		  "client 1: read acknowledged at revision 5 after it had seen revision 6 (went backwards)" },
		{ { { 1, 5, true }, { 2, 3, true }, { 1, 6, true }, { 2, 4, false } }, 4, 0, NULL },
		{ { { 1, 9, true }, { 1, 4, true }, { 1, 5, true } }, 3, 2,
		  "client 1: write acknowledged at revision 4 after it had seen revision 9 (went backwards)" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct lines l = { 0 };

		assert_int_equal(fchk_revs(cases[i].revs, cases[i].n, collect, &l), cases[i].want);
		assert_int_equal(l.n, cases[i].want);
		if (cases[i].line)
			assert_string_equal(l.first, cases[i].line);
	}
}

static void test_acked(void **state)
{
	struct fchk_kv kvs[] = {
		{ "fault/w/1/2", 12, 1000000002, false },
		{ "fault/w/1/1", 10, 1000000001, false },
		{ "fault/w/2/1", 11, 2000000001, false },
	};
	static const struct {
		struct fault_put put;
		int want;
		const char *line;
	} cases[] = {
		{ { "fault/w/1/1", 1000000001, 10, false }, 0, NULL },
		{ { "fault/w/1/3", 1000000003, 0, false }, 0, NULL }, /* maybe: not checked */
		{ { "fault/l/gone/0", 1000, 7, true }, 0, NULL },     /* transient: not checked */
		{ { "fault/w/1/3", 1000000003, 13, false }, 1,
		  "n2: acknowledged put fault/w/1/3 (revision 13) is missing" },
		{ { "fault/w/1/2", 1000000002, 4, false }, 1,
		  "n2: acknowledged put fault/w/1/2: expected mod_revision 4 value 1000000002, seen mod_revision 12 value 1000000002" },
		{ { "fault/w/2/1", 7, 11, false }, 1,
		  "n2: acknowledged put fault/w/2/1: expected mod_revision 11 value 7, seen mod_revision 11 value 2000000001" },
	};

	(void)state;
	fchk_sort_kvs(kvs, N(kvs));
	assert_string_equal(kvs[0].key, "fault/w/1/1");
	for (size_t i = 0; i < N(cases); i++) {
		struct lines l = { 0 };

		assert_int_equal(fchk_acked(&cases[i].put, 1, kvs, N(kvs), "n2", collect, &l),
				 cases[i].want);
		if (cases[i].line)
			assert_string_equal(l.first, cases[i].line);
	}
}

static const struct fchk_kv ref[] = {
	{ "fault/a", 2, 1, false },
	{ "fault/b", 3, 2, false },
	{ "fault/c", 3, 3, false }, /* one transaction: two events at revision 3 */
	{ "fault/a", 4, 0, true },
};

static void test_events(void **state)
{
	static const struct {
		struct fchk_kv got[6];
		size_t n;
		int want;
		const char *line;
	} cases[] = {
		{ { { "fault/a", 2, 1, false }, { "fault/b", 3, 2, false }, { "fault/c", 3, 3, false },
		    { "fault/a", 4, 0, true } },
		  4, 0, NULL },
		{ { { "fault/a", 2, 1, false }, { "fault/a", 4, 0, true } }, 2, 1,
		  "w1: gap at event #1: expected rev 3 PUT fault/b=2, got rev 4 DELETE fault/a=0" },
		{ { { "fault/a", 2, 1, false }, { "fault/a", 2, 1, false }, { "fault/b", 3, 2, false } },
		  3, 1,
		  "w1: event #1 duplicated: expected rev 3 PUT fault/b=2, got rev 2 PUT fault/a=1 again" },
		{ { { "fault/a", 2, 1, false }, { "fault/b", 3, 2, false } }, 2, 1,
		  "w1: stream ends after 2 of 4 events; first missing: rev 3 PUT fault/c=3" },
		{ { { "fault/a", 2, 1, false }, { "fault/b", 3, 9, false } }, 2, 1,
		  "w1: event #1 differs: expected rev 3 PUT fault/b=2, got rev 3 PUT fault/b=9" },
		{ { { "fault/a", 2, 1, false }, { "fault/c", 3, 3, false }, { "fault/b", 3, 2, false } },
		  3, 1,
		  "w1: event #1 differs: expected rev 3 PUT fault/b=2, got rev 3 PUT fault/c=3" },
		{ { { "fault/b", 3, 2, false }, { "fault/a", 2, 1, false } }, 2, 1,
		  "w1: gap at event #0: expected rev 2 PUT fault/a=1, got rev 3 PUT fault/b=2" },
		{ { { "fault/a", 2, 1, false }, { "fault/b", 3, 2, false }, { "fault/c", 3, 3, false },
		    { "fault/a", 4, 0, true }, { "fault/d", 5, 4, false } },
		  5, 1, "w1: 1 events beyond the 4 committed; first extra: rev 5 PUT fault/d=4" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct lines l = { 0 };

		assert_int_equal(fchk_events(cases[i].got, cases[i].n, ref, N(ref), "w1", collect, &l),
				 cases[i].want);
		if (cases[i].line)
			assert_string_equal(l.first, cases[i].line);
	}
}

static void test_acked_in_history(void **state)
{
	static const struct {
		struct fault_put put;
		int want;
		const char *line;
	} cases[] = {
		{ { "fault/c", 3, 3, false }, 0, NULL }, /* the second event of revision 3 */
		{ { "fault/a", 1, 2, true }, 0, NULL },	 /* transient puts are checked too */
		{ { "fault/x", 5, 0, false }, 0, NULL }, /* maybe */
		{ { "fault/b", 7, 3, false }, 1,
		  "history: acknowledged put fault/b=7 at revision 3 is not there; the history holds rev 3 PUT fault/b=2" },
		{ { "fault/a", 1, 4, false }, 1,
		  "history: acknowledged put fault/a=1 at revision 4 is not there; the history holds rev 4 DELETE fault/a=0" },
		{ { "fault/z", 1, 9, false }, 1,
		  "history: acknowledged put fault/z=1 at revision 9 is not there; the history holds no event at that revision" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct lines l = { 0 };

		assert_int_equal(fchk_acked_in_history(&cases[i].put, 1, ref, N(ref), collect, &l),
				 cases[i].want);
		if (cases[i].line)
			assert_string_equal(l.first, cases[i].line);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revs),
		cmocka_unit_test(test_acked),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_acked_in_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
