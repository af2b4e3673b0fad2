/* Unit tests for the MVCC event log (metastore/store/eventlog.c), driven through the store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/eventlog.h"
#include "store/mvcc.h"

#define B(s) (const uint8_t *)(s), strlen(s)

static void render_bytes(char *buf, size_t cap, size_t *off, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			*off += (size_t)snprintf(buf + *off, cap - *off, "%c", p[i]);
		else
			*off += (size_t)snprintf(buf + *off, cap - *off, "\\x%02x", p[i]);
	}
}

/* "key=value cC mM vV [lL]" joined by "; " */
static char *render_kvs(const struct ms_kv *kvs, size_t n)
{
	static char buf[1 << 16];
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "; ");
		render_bytes(buf, sizeof(buf), &off, kvs[i].key, kvs[i].key_len);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "=");
		render_bytes(buf, sizeof(buf), &off, kvs[i].value, kvs[i].value_len);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " c%lld m%lld v%lld",
					(long long)kvs[i].create_rev, (long long)kvs[i].mod_rev,
					(long long)kvs[i].version);
		if (kvs[i].lease)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, " l%lld",
						(long long)kvs[i].lease);
		assert_true(off < sizeof(buf));
	}
	return buf;
}

static int64_t put(struct ms_mvcc *s, const char *key, const char *value)
{
	int64_t rev = 0;

	assert_int_equal(ms_mvcc_put(s, B(key), B(value), 0, NULL, NULL, &rev), 0);
	assert_int_equal(rev, ms_mvcc_rev(s));
	return rev;
}

/* A key's life: k=v1@2 k=v2@3 deleted@4 k=v3@5 k=v4@6, plus other=o@3... and o deleted@6 */
static struct ms_mvcc *history_store(void)
{
	struct ms_mvcc *s = ms_mvcc_new(1);
	struct ms_mvcc_txn *t;

	put(s, "k", "v1");
	t = ms_mvcc_txn_begin(s);
	assert_int_equal(ms_mvcc_txn_put(t, B("k"), B("v2"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_put(t, B("o"), B("o"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_end(t), 3);
	assert_int_equal(ms_mvcc_delete(s, B("k"), NULL, 0, NULL, NULL, NULL), 0);
	put(s, "k", "v3");
	t = ms_mvcc_txn_begin(s);
	assert_int_equal(ms_mvcc_txn_put(t, B("k"), B("v4"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_delete(t, B("o"), NULL, 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_end(t), 6);
	return s;
}

/* Renders events from *pos on, `page` at a time: "PUT kv [<- prev kv]" joined by " | ". */
static char *render_events(struct ms_mvcc *s, uint64_t *pos, size_t page)
{
	static char buf[4096];
	struct ms_event ev[8];
	size_t off = 0;
	int64_t n;

	buf[0] = 0;
	assert_true(page <= 8);
	while ((n = ms_mvcc_events(s, pos, ev, page)) > 0) {
		for (int64_t i = 0; i < n; i++) {
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s", off ? " | " : "",
						ev[i].is_delete ? "DELETE" : "PUT",
						render_kvs(&ev[i].kv, 1));
			if (ev[i].has_prev)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, " <- %s",
							render_kvs(&ev[i].prev, 1));
			assert_true(off < sizeof(buf));
		}
	}
	if (n < 0)
		snprintf(buf, sizeof(buf), "ERR%lld", (long long)n);
	return buf;
}

#define EV2 "PUT k=v1 c2 m2 v1"
#define EV3 "PUT k=v2 c2 m3 v2 <- k=v1 c2 m2 v1 | PUT o=o c3 m3 v1"
#define EV4 "DELETE k= c0 m4 v0 <- k=v2 c2 m3 v2"
#define EV5 "PUT k=v3 c5 m5 v1"
#define EV6 "PUT k=v4 c5 m6 v2 <- k=v3 c5 m5 v1 | DELETE o= c0 m6 v0 <- o=o c3 m3 v1"

static void test_events(void **state)
{
	static const struct {
		int64_t compact; /* 0: none */
		int64_t from;
		int want_seek;
		const char *want;
	} cases[] = {
		{ 0, 1, 0, EV2 " | " EV3 " | " EV4 " | " EV5 " | " EV6 },
		{ 0, 0, 0, EV2 " | " EV3 " | " EV4 " | " EV5 " | " EV6 },
		{ 0, 4, 0, EV4 " | " EV5 " | " EV6 },
		{ 0, 6, 0, EV6 },
		{ 0, 7, 0, "" },
		{ 3, 2, -MS_MVCC_ECOMPACTED, "" },
		/* the revision before k=v2 is gone, and so is its prev */
		{ 3, 3, 0, "PUT k=v2 c2 m3 v2 | PUT o=o c3 m3 v1 | " EV4 " | " EV5 " | " EV6 },
		/* a tombstone at the compaction revision goes with the compaction */
		{ 4, 4, 0, EV5 " | " EV6 },
		{ 6, 6, 0, "PUT k=v4 c5 m6 v2" },
	};
	const size_t pages[] = { 1, 2, 8 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
			struct ms_mvcc *s = history_store();
			uint64_t pos = 0;
			int rc;
			const char *got;

			if (cases[i].compact)
				assert_int_equal(ms_mvcc_compact(s, cases[i].compact), 0);
			rc = ms_mvcc_event_seek(s, cases[i].from, &pos);
			if (rc != cases[i].want_seek)
				fail_msg("case %zu: seek %d want %d", i, rc, cases[i].want_seek);
			got = rc ? "" : render_events(s, &pos, pages[p]);
			if (strcmp(got, cases[i].want) != 0)
				fail_msg("case %zu page %zu: got \"%s\" want \"%s\"", i, pages[p], got,
					 cases[i].want);
			ms_mvcc_free(s);
		}
	}
}

static void test_event_positions(void **state)
{
	struct ms_mvcc *s = history_store();
	struct ms_mvcc_txn *t;
	uint64_t old, mid, live;

	(void)state;
	assert_int_equal(ms_mvcc_event_seek(s, 1, &old), 0);
	assert_int_equal(ms_mvcc_event_seek(s, 5, &mid), 0);
	assert_int_equal(ms_mvcc_event_seek(s, 7, &live), 0);
	assert_string_equal(render_events(s, &live, 8), "");
	/* a watcher at the end sees new writes as they come */
	put(s, "n", "1");
	assert_string_equal(render_events(s, &live, 8), "PUT n=1 c7 m7 v1");
	assert_string_equal(render_events(s, &live, 8), "");
	/* positions survive a compaction that does not reach them */
	assert_int_equal(ms_mvcc_compact(s, 4), 0);
	assert_string_equal(render_events(s, &old, 8), "ERR-4096");
	assert_string_equal(render_events(s, &mid, 8), EV5 " | " EV6 " | PUT n=1 c7 m7 v1");
	/* two writes of one key in a transaction: two events with the same prev */
	t = ms_mvcc_txn_begin(s);
	assert_int_equal(ms_mvcc_txn_put(t, B("n"), B("2"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_put(t, B("n"), B("3"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_end(t), 8);
	assert_string_equal(render_events(s, &live, 8),
			    "PUT n=2 c7 m8 v2 <- n=1 c7 m7 v1 | PUT n=3 c7 m8 v3 <- n=1 c7 m7 v1");
	/* compacting at 8 keeps only the transaction's last write of n */
	assert_int_equal(ms_mvcc_compact(s, 8), 0);
	assert_int_equal(ms_mvcc_event_seek(s, 8, &mid), 0);
	assert_string_equal(render_events(s, &mid, 8), "PUT n=3 c7 m8 v3");
	ms_mvcc_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_positions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
