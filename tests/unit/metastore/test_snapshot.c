/* Unit tests for whole-store snapshots (metastore/store/snapshot.c, mvcc_snap.c): round trips and bad input. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers" /* terse op tables */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/lease.h"
#include "store/mvcc.h"
#include "store/snapshot.h"

enum op_kind { OP_END, OP_PUT, OP_DEL, OP_DEL_RANGE, OP_TXN_PUT2, OP_COMPACT, OP_GRANT };

struct op {
	enum op_kind kind;
	const char *key, *val; /* OP_DEL_RANGE: val is the range end */
	int64_t n;             /* lease id (put/grant), compact revision */
};

struct scenario {
	const char *name;
	struct op ops[16];
};

static const struct scenario scenarios[] = {
	{ "empty", { { OP_END } } },
	{ "puts and deletes",
	  { { OP_PUT, "a", "1" }, { OP_PUT, "b", "2" }, { OP_PUT, "a", "3" }, { OP_DEL, "b" },
	    { OP_PUT, "c", "" }, { OP_END } } },
	{ "txn and range delete",
	  { { OP_PUT, "k1", "x" }, { OP_TXN_PUT2, "k2", "y" }, { OP_DEL_RANGE, "k", "l" },
	    { OP_PUT, "k1", "z" }, { OP_END } } },
	{ "compacted history",
	  { { OP_PUT, "a", "1" }, { OP_PUT, "a", "2" }, { OP_DEL, "a" }, { OP_PUT, "b", "1" },
	    { OP_PUT, "a", "4" }, { OP_COMPACT, NULL, NULL, 4 }, { OP_PUT, "b", "5" }, { OP_END } } },
	{ "leases",
	  { { OP_GRANT, NULL, NULL, 7 }, { OP_GRANT, NULL, NULL, 9 }, { OP_PUT, "l1", "v", 7 },
	    { OP_PUT, "l2", "v", 7 }, { OP_PUT, "l3", "v", 9 }, { OP_PUT, "l2", "w" }, { OP_END } } },
};

static void run_ops(struct ms_mvcc *s, struct ms_lease_table *t, const struct op *ops)
{
	for (const struct op *o = ops; o->kind != OP_END; o++) {
		const uint8_t *k = (const uint8_t *)o->key, *v = (const uint8_t *)o->val;
		int64_t deleted;

		switch (o->kind) {
		case OP_PUT:
			assert_int_equal(ms_mvcc_put(s, k, strlen(o->key), v, strlen(o->val), o->n,
						     NULL, NULL, NULL), 0);
			if (o->n)
				assert_int_equal(ms_lease_attach(t, o->n, k, strlen(o->key)), 0);
			else
				ms_lease_detach(t, 0, k, strlen(o->key));
			break;
		case OP_DEL:
			assert_int_equal(ms_mvcc_delete(s, k, strlen(o->key), NULL, 0, &deleted, NULL,
							NULL), 0);
			break;
		case OP_DEL_RANGE:
			assert_int_equal(ms_mvcc_delete(s, k, strlen(o->key), v, strlen(o->val),
							&deleted, NULL, NULL), 0);
			break;
		case OP_TXN_PUT2: {
			struct ms_mvcc_txn *x = ms_mvcc_txn_begin(s);

			assert_non_null(x);
			assert_int_equal(ms_mvcc_txn_put(x, k, strlen(o->key), v, 1, 0, NULL, NULL), 0);
			assert_int_equal(ms_mvcc_txn_put(x, k, strlen(o->key), v, strlen(o->val), 0,
							 NULL, NULL), 0);
			ms_mvcc_txn_end(x);
			break;
		}
		case OP_COMPACT:
			assert_int_equal(ms_mvcc_compact(s, o->n), 0);
			break;
		case OP_GRANT:
			assert_int_equal(ms_lease_grant(t, o->n, 60, 0, NULL, NULL), 0);
			break;
		case OP_END:
			break;
		}
	}
}

static size_t out_printf(char *out, size_t cap, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + off, cap - off, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap - off);
	return off + (size_t)n;
}

static size_t dump_kv(char *out, size_t cap, size_t off, const struct ms_kv *kv)
{
	return out_printf(out, cap, off, " %.*s=%.*s c%lld m%lld v%lld l%lld",
			  (int)kv->key_len, (const char *)kv->key, (int)kv->value_len,
			  (const char *)kv->value, (long long)kv->create_rev, (long long)kv->mod_rev,
			  (long long)kv->version, (long long)kv->lease);
}

/* Everything observable: every readable revision, the event log, the leases. */
static void dump(struct ms_mvcc *s, struct ms_lease_table *t, char *out, size_t cap)
{
	static const uint8_t all_end[1] = { 0 };
	size_t off = out_printf(out, cap, 0, "rev %lld compact %lld\n", (long long)ms_mvcc_rev(s),
				(long long)ms_mvcc_compact_rev(s));
	struct ms_event ev[64];
	uint64_t pos;
	int64_t n, *ids = NULL;
	size_t nids = 0;

	for (int64_t r = ms_mvcc_compact_rev(s) ? ms_mvcc_compact_rev(s) : 1; r <= ms_mvcc_rev(s); r++) {
		struct ms_range_req q = { .end = all_end, .end_len = 1, .rev = r };
		struct ms_range_res res = { 0 };

		assert_int_equal(ms_mvcc_range(s, &q, &res), 0);
		off = out_printf(out, cap, off, "@%lld:", (long long)r);
		for (size_t i = 0; i < res.n; i++)
			off = dump_kv(out, cap, off, &res.kvs[i]);
		off = out_printf(out, cap, off, "\n");
		ms_range_res_release(&res);
	}
	assert_int_equal(ms_mvcc_event_seek(s, ms_mvcc_compact_rev(s) + 1, &pos), 0);
	n = ms_mvcc_events(s, &pos, ev, 64);
	assert_true(n >= 0);
	off = out_printf(out, cap, off, "events at %llu:", (unsigned long long)pos);
	for (int64_t i = 0; i < n; i++) {
		off = out_printf(out, cap, off, " %s", ev[i].is_delete ? "DEL" : "PUT");
		off = dump_kv(out, cap, off, &ev[i].kv);
		if (ev[i].has_prev)
			off = dump_kv(out, cap, off, &ev[i].prev);
	}
	off = out_printf(out, cap, off, "\nleases:");
	assert_int_equal(ms_lease_list(t, &ids, &nids), 0);
	for (size_t i = 0; i < nids; i++) {
		struct ms_lease_keys keys = { 0 };

		assert_int_equal(ms_lease_keys(t, ids[i], &keys), 0);
		off = out_printf(out, cap, off, " %lld/%lld[", (long long)ids[i],
				 (long long)ms_lease_granted_ttl(t, ids[i]));
		for (size_t k = 0; k < keys.n; k++)
			off = out_printf(out, cap, off, "%.*s,", (int)keys.v[k].len,
					 (const char *)keys.v[k].key);
		off = out_printf(out, cap, off, "]");
		ms_lease_keys_release(&keys);
	}
	free(ids);
	out_printf(out, cap, off, "\n");
}

/* Both forms restore: zlib-compressed (ms_snapshot_take) and raw (ms_snapshot_serialize,
 * which libraft compresses itself). */
static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2 * sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		bool raw_form = i & 1;
		struct ms_mvcc *a = ms_mvcc_new(1), *b = ms_mvcc_new(1);
		struct ms_lease_table *la = ms_lease_table_new(), *lb = ms_lease_table_new();
		struct ms_snap_parts pa = { .mvcc = a, .leases = la }, pb = { .mvcc = b, .leases = lb };
		struct ms_buf snap = { 0 };
		static char want[16384], got[16384];

		run_ops(a, la, scenarios[i / 2].ops);
		/* b has state of its own, which the restore must replace entirely */
		assert_int_equal(ms_mvcc_put(b, (const uint8_t *)"junk", 4, NULL, 0, 0, NULL, NULL,
					     NULL), 0);
		assert_int_equal(ms_lease_grant(lb, 99, 10, 0, NULL, NULL), 0);
		if (raw_form)
			assert_int_equal(ms_snapshot_serialize(&pa, &snap), 0);
		else
			assert_int_equal(ms_snapshot_take(&pa, &snap), 0);
		assert_int_equal(ms_snapshot_restore(&pb, snap.data, snap.len, 0), 0);
		dump(a, la, want, sizeof(want));
		dump(b, lb, got, sizeof(got));
		if (strcmp(want, got))
			fail_msg("%s (%s):\nwant %s\ngot  %s", scenarios[i / 2].name,
				 raw_form ? "raw" : "zlib", want, got);
		/* the id generator continues where the source's was */
		assert_int_equal(ms_lease_table_rng(la), ms_lease_table_rng(lb));
		ms_buf_free(&snap);
		ms_mvcc_free(a);
		ms_mvcc_free(b);
		ms_lease_table_free(la);
		ms_lease_table_free(lb);
	}
}

/* Truncated or damaged snapshots are refused, never crash, and leave the store alone. */
static void test_bad_input(void **state)
{
	struct ms_mvcc *a = ms_mvcc_new(1), *b = ms_mvcc_new(1);
	struct ms_lease_table *la = ms_lease_table_new(), *lb = ms_lease_table_new();
	struct ms_snap_parts pa = { .mvcc = a, .leases = la }, pb = { .mvcc = b, .leases = lb };
	struct ms_buf snap = { 0 };
	static char before[16384], after[16384];

	(void)state;
	run_ops(a, la, scenarios[3].ops);
	run_ops(b, lb, scenarios[1].ops);
	assert_int_equal(ms_snapshot_take(&pa, &snap), 0);
	dump(b, lb, before, sizeof(before));
	for (size_t cut = 0; cut < snap.len; cut++)
		assert_int_equal(ms_snapshot_restore(&pb, snap.data, cut, 0), -EINVAL);
	for (size_t i = 16; i < snap.len; i++) {
		snap.data[i] ^= 0x5a;
		/* zlib catches most flips (adler-32); whatever it lets through must not crash */
		(void)ms_snapshot_restore(&pb, snap.data, snap.len, 0);
		snap.data[i] ^= 0x5a;
		if (i == 16) {
			dump(b, lb, after, sizeof(after));
			assert_string_equal(before, after);
		}
	}
	ms_buf_free(&snap);
	ms_mvcc_free(a);
	ms_mvcc_free(b);
	ms_lease_table_free(la);
	ms_lease_table_free(lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
