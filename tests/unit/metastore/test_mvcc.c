/* Unit tests for the MVCC store (metastore/store/mvcc.c), including its probe calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ms_probes.h"
#include "store/mvcc.h"
#include "probe/trace.h"

/* --- probe recorder ---------------------------------------------------------------------
 * The test defines the probe functions itself, so the linker never pulls metastore's
 * empty ones and every call the store makes lands here. */

static char probe_log[4096];
static size_t probe_off;
static uint64_t probe_base; /* op ids are rendered relative to the first one seen */
static bool probe_base_set;
static bool probe_recording; /* only between probe_reset() and probe_stop() */

static const char *const op_names[] = { "range", "put", "delete", "txn", "compact" };
static const char *const status_names[] = { "ok", "compacted", "future", "invalid", "nomem" };

static void probe_reset(void)
{
	probe_log[0] = 0;
	probe_off = 0;
	probe_base_set = false;
	probe_recording = true;
}

static void probe_stop(void)
{
	probe_recording = false;
}

static void probe_add(const char *fmt, ...)
{
	va_list ap;

	if (!probe_recording)
		return;
	va_start(ap, fmt);
	probe_off += (size_t)vsnprintf(probe_log + probe_off, sizeof(probe_log) - probe_off, fmt, ap);
	va_end(ap);
	assert_true(probe_off < sizeof(probe_log));
}

static uint64_t probe_id(uint64_t id)
{
	if (!probe_base_set) {
		probe_base = id;
		probe_base_set = true;
	}
	return id - probe_base;
}

const uint32_t ms_probe_abi_version = (MS_PROBE_ABI_MAJOR << 16) | MS_PROBE_ABI_MINOR;

void ms_probe_grpc_request_begin(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	fail_msg("the store made a grpc probe call");
}

void ms_probe_grpc_request_end(uint64_t req_id, uint32_t method, uint32_t code)
{
	(void)req_id;
	(void)method;
	(void)code;
	fail_msg("the store made a grpc probe call");
}

void ms_probe_grpc_panic(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	fail_msg("the store made a grpc probe call");
}

void ms_probe_storage_begin(uint64_t op_id, uint32_t op, uint32_t kind)
{
	assert_true(op < MS_STORAGE_OP_COUNT);
	assert_int_equal(kind, MS_STORAGE_MEMORY);
	probe_add("begin#%llu:%s ", (unsigned long long)probe_id(op_id), op_names[op]);
}

void ms_probe_storage_end(uint64_t op_id, uint32_t op, uint32_t kind, uint32_t status)
{
	assert_true(op < MS_STORAGE_OP_COUNT);
	assert_true(status < MS_STORAGE_STATUS_COUNT);
	assert_int_equal(kind, MS_STORAGE_MEMORY);
	probe_add("end#%llu:%s:%s ", (unsigned long long)probe_id(op_id), op_names[op],
		  status_names[status]);
}

void ms_probe_mvcc_revision(uint64_t node_id, int64_t rev)
{
	probe_add("rev(%llu,%lld) ", (unsigned long long)node_id, (long long)rev);
}

void ms_probe_mvcc_compact(uint64_t node_id, int64_t rev)
{
	probe_add("compact(%llu,%lld) ", (unsigned long long)node_id, (long long)rev);
}

/* The batch probe: the store writes records only while its semaphore is up; the test
 * raises it itself. Records are logged with a "B:" prefix when the buffers are handed over
 * (storage records first, then mvcc ones). */
volatile uint16_t ms_probe_batch_semaphore;

void ms_probe_batch(const struct ms_probe_batch *b)
{
	assert_int_equal(b->n[MS_BATCH_GRPC], 0);
	assert_int_equal(b->n[MS_BATCH_RAFT], 0);
	assert_true(b->n[MS_BATCH_STORAGE] + b->n[MS_BATCH_MVCC] > 0);
	for (uint32_t i = 0; i < b->n[MS_BATCH_STORAGE]; i++) {
		const struct ms_probe_rec *r = &b->rec[MS_BATCH_STORAGE][i];

		assert_int_equal(r->kind, MS_REC_STORAGE_OP);
		assert_true(r->a < MS_STORAGE_OP_COUNT);
		assert_int_equal(r->b, MS_STORAGE_MEMORY);
		assert_true(r->c < MS_STORAGE_STATUS_COUNT);
		/* begin and end are real CLOCK_MONOTONIC times, in order */
		assert_true(r->t_ns > 0 && r->val >= r->t_ns && r->val <= ms_trace_now());
		probe_add("B:%s#%llu:%s ", op_names[r->a], (unsigned long long)probe_id(r->id),
			  status_names[r->c]);
	}
	for (uint32_t i = 0; i < b->n[MS_BATCH_MVCC]; i++) {
		const struct ms_probe_rec *r = &b->rec[MS_BATCH_MVCC][i];

		assert_true(r->kind == MS_REC_MVCC_REVISION || r->kind == MS_REC_MVCC_COMPACT);
		probe_add("B:%s(%llu,%lld) ", r->kind == MS_REC_MVCC_REVISION ? "rev" : "compact",
			  (unsigned long long)r->id, (long long)r->val);
	}
}

/* --- helpers ------------------------------------------------------------------------- */

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

/* Renders a range of the whole store at `rev` (0: current), or "ERR<n>". */
static char *dump_at(struct ms_mvcc *s, int64_t rev)
{
	static char err[32];
	struct ms_range_req req = { .key = (const uint8_t *)"", .end = (const uint8_t *)"",
				    .end_len = 1, .rev = rev };
	struct ms_range_res res;
	char *out;
	int rc = ms_mvcc_range(s, &req, &res);

	if (rc) {
		snprintf(err, sizeof(err), "ERR%d", rc);
		return err;
	}
	assert_int_equal(res.count, (int64_t)res.n);
	out = render_kvs(res.kvs, res.n);
	ms_range_res_release(&res);
	return out;
}

/* --- tests --------------------------------------------------------------------------- */

static void test_new_store(void **state)
{
	struct ms_mvcc *s;

	(void)state;
	probe_reset();
	s = ms_mvcc_new(7);
	assert_non_null(s);
	probe_stop();
	assert_string_equal(probe_log, "rev(7,1) ");
	assert_int_equal(ms_mvcc_rev(s), 1);
	assert_int_equal(ms_mvcc_compact_rev(s), 0);
	assert_string_equal(dump_at(s, 0), "");
	ms_mvcc_free(s);
	ms_mvcc_free(NULL);
}

/* Each step's expected store after it; revisions follow from the step count. */
static void test_revisions_and_versions(void **state)
{
	static const struct {
		char op; /* 'p' put, 'd' delete of one key */
		const char *key, *value;
		int64_t want_rev;
		const char *want;
	} steps[] = {
		{ 'p', "a", "1", 2, "a=1 c2 m2 v1" },
		{ 'p', "a", "2", 3, "a=2 c2 m3 v2" },
		{ 'p', "b", "x", 4, "a=2 c2 m3 v2; b=x c4 m4 v1" },
		{ 'd', "a", NULL, 5, "b=x c4 m4 v1" },
		{ 'd', "a", NULL, 5, "b=x c4 m4 v1" }, /* nothing to delete: no revision */
		{ 'p', "a", "3", 6, "a=3 c6 m6 v1; b=x c4 m4 v1" }, /* a new generation */
		{ 'p', "a", "", 7, "a= c6 m7 v2; b=x c4 m4 v1" },   /* empty values are values */
		{ 'p', "b", "y", 8, "a= c6 m7 v2; b=y c4 m8 v2" },
	};
	struct ms_mvcc *s = ms_mvcc_new(1);

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t rev = 0, deleted = -1;

		if (steps[i].op == 'p')
			assert_int_equal(ms_mvcc_put(s, B(steps[i].key), B(steps[i].value), 0,
						     NULL, NULL, &rev),
					 0);
		else
			assert_int_equal(ms_mvcc_delete(s, B(steps[i].key), NULL, 0, &deleted,
							NULL, &rev),
					 0);
		assert_int_equal(rev, steps[i].want_rev);
		assert_int_equal(ms_mvcc_rev(s), steps[i].want_rev);
		if (strcmp(dump_at(s, 0), steps[i].want) != 0)
			fail_msg("step %zu: got \"%s\" want \"%s\"", i, dump_at(s, 0), steps[i].want);
	}
	ms_mvcc_free(s);
}

static void test_put_prev_and_lease(void **state)
{
	struct ms_mvcc *s = ms_mvcc_new(1);
	struct ms_kv prev, kv;
	bool had = true;

	(void)state;
	assert_int_equal(ms_mvcc_put(s, B("k"), B("v1"), 5, &prev, &had, NULL), 0);
	assert_false(had);
	assert_int_equal(ms_mvcc_put(s, B("k"), B("v2"), 0, &prev, &had, NULL), 0);
	assert_true(had);
	assert_string_equal(render_kvs(&prev, 1), "k=v1 c2 m2 v1 l5");
	assert_true(ms_mvcc_get(s, B("k"), &kv));
	assert_string_equal(render_kvs(&kv, 1), "k=v2 c2 m3 v2");
	assert_false(ms_mvcc_get(s, B("nope"), &kv));
	assert_false(ms_mvcc_get(s, NULL, 0, &kv));
	ms_mvcc_free(s);
}

/*
 * The range data set. Revisions: b=2@2 a=3@3 c=1@4 a=9@5 ab=5@6 foo/1=x@7 foo/2=y@8 fop=z@9
 * \xff=ff@10 b=0@11 b=7@12.
 */
static struct ms_mvcc *range_store(void)
{
	static const char *const puts[][2] = {
		{ "b", "2" },	  { "a", "3" },	    { "c", "1" },   { "a", "9" },
		{ "ab", "5" },	  { "foo/1", "x" }, { "foo/2", "y" }, { "fop", "z" },
		{ "\xff", "ff" }, { "b", "0" },	    { "b", "7" },
	};
	struct ms_mvcc *s = ms_mvcc_new(1);

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		assert_int_equal(put(s, puts[i][0], puts[i][1]), (int64_t)i + 2);
	return s;
}

#define A_9 "a=9 c3 m5 v2"
#define AB_5 "ab=5 c6 m6 v1"
#define B_7 "b=7 c2 m12 v3"
#define C_1 "c=1 c4 m4 v1"
#define FOO1 "foo/1=x c7 m7 v1"
#define FOO2 "foo/2=y c8 m8 v1"
#define FOP "fop=z c9 m9 v1"
#define FF "\\xff=ff c10 m10 v1"
#define ALL A_9 "; " AB_5 "; " B_7 "; " C_1 "; " FOO1 "; " FOO2 "; " FOP "; " FF

static void test_ranges(void **state)
{
	/* key_len/end_len 0 mean strlen(); the one-byte key or end "\0" needs an explicit 1 */
	static const struct {
		const char *name, *key, *end;
		size_t key_len, end_len;
		int64_t rev, limit;
		enum ms_sort_order order;
		enum ms_sort_target target;
		bool keys_only, count_only;
		int64_t min_mod, max_mod, min_create, max_create;
		int64_t want_count;
		bool want_more;
		const char *want;
	} cases[] = {
		{ .name = "single", .key = "a", .want_count = 1, .want = A_9 },
		{ .name = "single missing", .key = "zz", .want = "" },
		{ .name = "single is not a prefix", .key = "fo", .want = "" },
		{ .name = "half open", .key = "a", .end = "b", .want_count = 2, .want = A_9 "; " AB_5 },
		{ .name = "prefix", .key = "foo", .end = "fop", .want_count = 2,
		  .want = FOO1 "; " FOO2 },
		{ .name = "from key", .key = "f", .end = "", .end_len = 1, .want_count = 4,
		  .want = FOO1 "; " FOO2 "; " FOP "; " FF },
		{ .name = "all, empty key", .key = "", .end = "", .end_len = 1, .want_count = 8,
		  .want = ALL },
		{ .name = "all, zero key", .key = "", .key_len = 1, .end = "", .end_len = 1,
		  .want_count = 8, .want = ALL },
		{ .name = "empty key to end", .key = "", .end = "b", .want_count = 2,
		  .want = A_9 "; " AB_5 },
		{ .name = "end before key", .key = "c", .end = "a", .want = "" },
		{ .name = "end equals key", .key = "c", .end = "c", .want = "" },
		{ .name = "past the last key", .key = "\xff\xff", .end = "", .end_len = 1, .want = "" },
		{ .name = "limit", .key = "", .end = "", .end_len = 1, .limit = 3, .want_count = 8,
		  .want_more = true, .want = A_9 "; " AB_5 "; " B_7 },
		{ .name = "limit exact", .key = "", .end = "", .end_len = 1, .limit = 8,
		  .want_count = 8, .want = ALL },
		{ .name = "limit above", .key = "", .end = "", .end_len = 1, .limit = 9,
		  .want_count = 8, .want = ALL },
		{ .name = "negative limit", .key = "", .end = "", .end_len = 1, .limit = -1,
		  .want_count = 8, .want = ALL },
		{ .name = "key ascend", .key = "", .end = "", .end_len = 1, .order = MS_SORT_ASCEND,
		  .want_count = 8, .want = ALL },
		{ .name = "key descend", .key = "", .end = "", .end_len = 1,
		  .order = MS_SORT_DESCEND, .want_count = 8,
		  .want = FF "; " FOP "; " FOO2 "; " FOO1 "; " C_1 "; " B_7 "; " AB_5 "; " A_9 },
		{ .name = "key descend limit", .key = "", .end = "", .end_len = 1, .limit = 2,
		  .order = MS_SORT_DESCEND, .want_count = 8, .want_more = true,
		  .want = FF "; " FOP },
		{ .name = "version with order none ascends", .key = "", .end = "", .end_len = 1,
		  .target = MS_SORT_VERSION, .want_count = 8,
		  .want = AB_5 "; " C_1 "; " FOO1 "; " FOO2 "; " FOP "; " FF "; " A_9 "; " B_7 },
		{ .name = "mod descend", .key = "", .end = "", .end_len = 1, .order = MS_SORT_DESCEND,
		  .target = MS_SORT_MOD, .want_count = 8,
		  .want = B_7 "; " FF "; " FOP "; " FOO2 "; " FOO1 "; " AB_5 "; " A_9 "; " C_1 },
		{ .name = "create ascend limit", .key = "", .end = "", .end_len = 1, .limit = 3,
		  .order = MS_SORT_ASCEND, .target = MS_SORT_CREATE, .want_count = 8,
		  .want_more = true, .want = B_7 "; " A_9 "; " C_1 },
		{ .name = "value ascend", .key = "", .end = "", .end_len = 1, .order = MS_SORT_ASCEND,
		  .target = MS_SORT_VALUE, .want_count = 8,
		  .want = C_1 "; " AB_5 "; " B_7 "; " A_9 "; " FF "; " FOO1 "; " FOO2 "; " FOP },
		{ .name = "keys only", .key = "a", .end = "b", .keys_only = true, .want_count = 2,
		  .want = "a= c3 m5 v2; ab= c6 m6 v1" },
		{ .name = "count only", .key = "", .end = "", .end_len = 1, .count_only = true,
		  .want_count = 8, .want = "" },
		{ .name = "count only with limit", .key = "", .end = "", .end_len = 1, .limit = 2,
		  .count_only = true, .want_count = 8, .want = "" },
		{ .name = "min mod", .key = "", .end = "", .end_len = 1, .min_mod = 7,
		  .want_count = 8, .want = B_7 "; " FOO1 "; " FOO2 "; " FOP "; " FF },
		{ .name = "max mod", .key = "", .end = "", .end_len = 1, .max_mod = 6,
		  .want_count = 8, .want = A_9 "; " AB_5 "; " C_1 },
		{ .name = "create window", .key = "", .end = "", .end_len = 1, .min_create = 4,
		  .max_create = 8, .want_count = 8, .want = AB_5 "; " C_1 "; " FOO1 "; " FOO2 },
		{ .name = "filter cut by limit", .key = "", .end = "", .end_len = 1, .limit = 2,
		  .min_mod = 7, .want_count = 8, .want_more = true, .want = B_7 "; " FOO1 },
		{ .name = "filter fits limit", .key = "", .end = "", .end_len = 1, .limit = 2,
		  .max_create = 3, .want_count = 8, .want = A_9 "; " B_7 },
		{ .name = "filter and sort", .key = "", .end = "", .end_len = 1, .limit = 2,
		  .order = MS_SORT_DESCEND, .target = MS_SORT_MOD, .max_mod = 8, .want_count = 8,
		  .want_more = true, .want = FOO2 "; " FOO1 },
		{ .name = "at rev 6", .key = "", .end = "", .end_len = 1, .rev = 6, .want_count = 4,
		  .want = A_9 "; " AB_5 "; b=2 c2 m2 v1; " C_1 },
		{ .name = "at rev 4, prefix", .key = "a", .end = "b", .rev = 4, .want_count = 1,
		  .want = "a=3 c3 m3 v1" },
		{ .name = "at rev 11, single", .key = "b", .rev = 11, .want_count = 1,
		  .want = "b=0 c2 m11 v2" },
		{ .name = "at rev 1", .key = "", .end = "", .end_len = 1, .rev = 1, .want = "" },
		{ .name = "at the current rev", .key = "a", .rev = 12, .want_count = 1, .want = A_9 },
		{ .name = "negative rev is current", .key = "a", .rev = -3, .want_count = 1,
		  .want = A_9 },
	};
	struct ms_mvcc *s = range_store();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *end = cases[i].end;
		struct ms_range_req req = {
			.key = (const uint8_t *)cases[i].key,
			.key_len = cases[i].key_len ? cases[i].key_len : strlen(cases[i].key),
			.end = (const uint8_t *)end,
			.end_len = cases[i].end_len ? cases[i].end_len : end ? strlen(end) : 0,
			.rev = cases[i].rev,
			.limit = cases[i].limit,
			.sort_order = cases[i].order,
			.sort_target = cases[i].target,
			.keys_only = cases[i].keys_only,
			.count_only = cases[i].count_only,
			.min_mod_rev = cases[i].min_mod,
			.max_mod_rev = cases[i].max_mod,
			.min_create_rev = cases[i].min_create,
			.max_create_rev = cases[i].max_create,
		};
		struct ms_range_res res;
		const char *got;

		if (ms_mvcc_range(s, &req, &res) != 0)
			fail_msg("%s: range failed", cases[i].name);
		got = render_kvs(res.kvs, res.n);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got \"%s\" want \"%s\"", cases[i].name, got, cases[i].want);
		if (res.count != cases[i].want_count || res.more != cases[i].want_more)
			fail_msg("%s: count %lld more %d, want %lld %d", cases[i].name,
				 (long long)res.count, res.more, (long long)cases[i].want_count,
				 cases[i].want_more);
		assert_int_equal(res.rev, 12);
		for (size_t j = 0; j < res.n && cases[i].keys_only; j++)
			assert_null(res.kvs[j].value);
		ms_range_res_release(&res);
		ms_range_res_release(&res); /* twice is allowed */
	}
	ms_mvcc_free(s);
}

static void test_range_errors(void **state)
{
	static const struct {
		const char *name;
		struct ms_range_req req;
		int want;
	} cases[] = {
		{ "empty key", { .key = (const uint8_t *)"" }, -EINVAL },
		{ "null key", { .key = NULL, .key_len = 1 }, -EINVAL },
		{ "null end", { .key = (const uint8_t *)"a", .key_len = 1, .end_len = 1 }, -EINVAL },
		{ "future", { .key = (const uint8_t *)"a", .key_len = 1, .rev = 13 }, -MS_MVCC_EFUTURE },
		{ "bad order",
		  { .key = (const uint8_t *)"a", .key_len = 1, .sort_order = (enum ms_sort_order)7 },
		  -EINVAL },
		{ "bad target",
		  { .key = (const uint8_t *)"a", .key_len = 1,
		    .sort_target = (enum ms_sort_target)9 },
		  -EINVAL },
	};
	struct ms_mvcc *s = range_store();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_range_res res;
		int rc = ms_mvcc_range(s, &cases[i].req, &res);

		if (rc != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].name, rc, cases[i].want);
		assert_null(res.kvs);
		ms_range_res_release(&res);
	}
	ms_mvcc_free(s);
}

static void test_write_errors(void **state)
{
	struct ms_mvcc *s = ms_mvcc_new(1);
	int64_t rev = 0, deleted = 9;
	struct ms_kv *prevs = (struct ms_kv *)&rev;

	(void)state;
	assert_int_equal(ms_mvcc_put(s, (const uint8_t *)"", 0, B("v"), 0, NULL, NULL, &rev),
			 -EINVAL);
	assert_int_equal(rev, 1);
	assert_int_equal(ms_mvcc_put(s, NULL, 3, B("v"), 0, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ms_mvcc_put(s, B("k"), NULL, 2, 0, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ms_mvcc_delete(s, (const uint8_t *)"", 0, NULL, 0, &deleted, &prevs,
					&rev),
			 -EINVAL);
	assert_int_equal(deleted, 0);
	assert_null(prevs);
	assert_int_equal(ms_mvcc_rev(s), 1);
	assert_string_equal(dump_at(s, 0), "");
	ms_mvcc_free(s);
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

static void test_old_revisions(void **state)
{
	static const char *const want[] = {
		[1] = "",
		[2] = "k=v1 c2 m2 v1",
		[3] = "k=v2 c2 m3 v2; o=o c3 m3 v1",
		[4] = "o=o c3 m3 v1",
		[5] = "k=v3 c5 m5 v1; o=o c3 m3 v1",
		[6] = "k=v4 c5 m6 v2",
	};
	struct ms_mvcc *s = history_store();

	(void)state;
	for (int64_t r = 1; r <= 6; r++)
		if (strcmp(dump_at(s, r), want[r]) != 0)
			fail_msg("rev %lld: got \"%s\" want \"%s\"", (long long)r, dump_at(s, r),
				 want[r]);
	assert_string_equal(dump_at(s, 0), want[6]);
	assert_string_equal(dump_at(s, 7), "ERR-4097");
	ms_mvcc_free(s);
}

/* Compacting at every revision in turn: reads at or above it are unchanged, below fail. */
static void test_compaction(void **state)
{
	char before[8][128];
	struct ms_mvcc *s = history_store();

	(void)state;
	for (int64_t r = 1; r <= 6; r++)
		snprintf(before[r], sizeof(before[r]), "%s", dump_at(s, r));
	ms_mvcc_free(s);
	for (int64_t at = 1; at <= 6; at++) {
		s = history_store();
		assert_int_equal(ms_mvcc_compact(s, at), 0);
		assert_int_equal(ms_mvcc_compact_rev(s), at);
		for (int64_t r = 1; r <= 6; r++) {
			const char *got = dump_at(s, r);
			const char *want = r < at ? "ERR-4096" : before[r];

			if (strcmp(got, want) != 0)
				fail_msg("compact %lld, read %lld: got \"%s\" want \"%s\"",
					 (long long)at, (long long)r, got, want);
		}
		/* writes after a compaction keep the generations right */
		put(s, "k", "v5");
		assert_string_equal(dump_at(s, 0), "k=v5 c5 m7 v3");
		ms_mvcc_free(s);
	}
}

static void test_compaction_errors(void **state)
{
	static const struct {
		int64_t at;
		int want;
	} steps[] = {
		{ 0, -MS_MVCC_ECOMPACTED }, /* nothing was compacted: 0 is not above it */
		{ 7, -MS_MVCC_EFUTURE },    { 3, 0 },
		{ 3, -MS_MVCC_ECOMPACTED }, { 2, -MS_MVCC_ECOMPACTED },
		{ 6, 0 },                   { 6, -MS_MVCC_ECOMPACTED },
	};
	struct ms_mvcc *s = history_store();
	int64_t compacted = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = ms_mvcc_compact(s, steps[i].at);

		if (rc != steps[i].want)
			fail_msg("step %zu: got %d want %d", i, rc, steps[i].want);
		if (!rc)
			compacted = steps[i].at;
		assert_int_equal(ms_mvcc_compact_rev(s), compacted);
	}
	assert_int_equal(ms_mvcc_rev(s), 6);
	ms_mvcc_free(s);
}

static void test_delete_ranges(void **state)
{
	static const struct {
		const char *key, *end;
		size_t key_len, end_len;
		bool want_prevs;
		int64_t want_deleted;
		const char *want_prev, *want_left;
	} cases[] = {
		{ "a", "", 1, 0, 1, 1, "a=1 c2 m2 v1", "ab=2 c3 m3 v1; b=3 c4 m5 v2; c=4 c6 m6 v1" },
		{ "a", "", 1, 0, 0, 1, "", "ab=2 c3 m3 v1; b=3 c4 m5 v2; c=4 c6 m6 v1" },
		{ "zz", "", 2, 0, 1, 0, "", "a=1 c2 m2 v1; ab=2 c3 m3 v1; b=3 c4 m5 v2; c=4 c6 m6 v1" },
		{ "a", "b", 1, 1, 1, 2, "a=1 c2 m2 v1; ab=2 c3 m3 v1", "b=3 c4 m5 v2; c=4 c6 m6 v1" },
		{ "b", "\0", 1, 1, 1, 2, "b=3 c4 m5 v2; c=4 c6 m6 v1", "a=1 c2 m2 v1; ab=2 c3 m3 v1" },
		{ "", "\0", 0, 1, 1, 4, "a=1 c2 m2 v1; ab=2 c3 m3 v1; b=3 c4 m5 v2; c=4 c6 m6 v1", "" },
		{ "x", "\0", 1, 1, 1, 0, "", "a=1 c2 m2 v1; ab=2 c3 m3 v1; b=3 c4 m5 v2; c=4 c6 m6 v1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_mvcc *s = ms_mvcc_new(1);
		struct ms_kv *prevs = NULL;
		int64_t deleted = -1, rev = 0, want_rev;
		const char *got;

		put(s, "a", "1");
		put(s, "ab", "2");
		put(s, "b", "x");
		put(s, "b", "3");
		put(s, "c", "4");
		put(s, "d", "gone");
		assert_int_equal(ms_mvcc_delete(s, B("d"), NULL, 0, NULL, NULL, NULL), 0);
		want_rev = ms_mvcc_rev(s) + (cases[i].want_deleted ? 1 : 0);
		assert_int_equal(ms_mvcc_delete(s, (const uint8_t *)cases[i].key, cases[i].key_len,
						(const uint8_t *)cases[i].end, cases[i].end_len,
						&deleted, cases[i].want_prevs ? &prevs : NULL, &rev),
				 0);
		assert_int_equal(deleted, cases[i].want_deleted);
		assert_int_equal(rev, want_rev);
		assert_int_equal(ms_mvcc_rev(s), want_rev);
		got = render_kvs(prevs, prevs ? (size_t)deleted : 0);
		if (strcmp(got, cases[i].want_prev) != 0)
			fail_msg("case %zu prevs: got \"%s\" want \"%s\"", i, got, cases[i].want_prev);
		if (!deleted)
			assert_null(prevs);
		free(prevs);
		got = dump_at(s, 0);
		if (strcmp(got, cases[i].want_left) != 0)
			fail_msg("case %zu left: got \"%s\" want \"%s\"", i, got, cases[i].want_left);
		ms_mvcc_free(s);
	}
}

static void test_txn(void **state)
{
	struct ms_mvcc *s = ms_mvcc_new(1);
	struct ms_mvcc_txn *t;
	struct ms_range_req one = { .key = (const uint8_t *)"a", .key_len = 1 };
	struct ms_range_res res;
	struct ms_kv prev;
	bool had;
	int64_t deleted;

	(void)state;
	put(s, "a", "1");
	put(s, "z", "26");

	/* a no-op transaction keeps the revision */
	t = ms_mvcc_txn_begin(s);
	assert_non_null(t);
	assert_int_equal(ms_mvcc_txn_range(t, &one, &res), 0);
	assert_string_equal(render_kvs(res.kvs, res.n), "a=1 c2 m2 v1");
	assert_int_equal(res.rev, 3);
	ms_range_res_release(&res);
	assert_int_equal(ms_mvcc_txn_delete(t, B("nope"), NULL, 0, &deleted, NULL), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(ms_mvcc_txn_end(t), 3);
	assert_int_equal(ms_mvcc_rev(s), 3);

	t = ms_mvcc_txn_begin(s);
	assert_null(ms_mvcc_txn_begin(s)); /* one at a time */
	assert_int_equal(ms_mvcc_txn_put(t, B("a"), B("2"), 0, &prev, &had), 0);
	assert_true(had);
	assert_string_equal(render_kvs(&prev, 1), "a=1 c2 m2 v1");
	/* its own write is visible, at the transaction's revision */
	assert_int_equal(ms_mvcc_txn_range(t, &one, &res), 0);
	assert_string_equal(render_kvs(res.kvs, res.n), "a=2 c2 m4 v2");
	assert_int_equal(res.rev, 4);
	ms_range_res_release(&res);
	/* a second write of the same key counts as a modification at the same revision */
	assert_int_equal(ms_mvcc_txn_put(t, B("a"), B("3"), 0, &prev, &had), 0);
	assert_string_equal(render_kvs(&prev, 1), "a=2 c2 m4 v2");
	assert_int_equal(ms_mvcc_txn_delete(t, B("z"), NULL, 0, &deleted, NULL), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(ms_mvcc_txn_put(t, B("n"), B("new"), 0, NULL, NULL), 0);
	/* outside the transaction nothing has happened yet */
	assert_string_equal(dump_at(s, 0), "a=1 c2 m2 v1; z=26 c3 m3 v1");
	assert_int_equal(ms_mvcc_put(s, B("x"), B("x"), 0, NULL, NULL, NULL), -EBUSY);
	assert_int_equal(ms_mvcc_delete(s, B("a"), NULL, 0, NULL, NULL, NULL), -EBUSY);
	assert_int_equal(ms_mvcc_compact(s, 2), -EBUSY);
	assert_int_equal(ms_mvcc_txn_put(t, (const uint8_t *)"", 0, B("v"), 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(ms_mvcc_txn_end(t), 4);
	assert_int_equal(ms_mvcc_rev(s), 4);
	assert_string_equal(dump_at(s, 0), "a=3 c2 m4 v3; n=new c4 m4 v1");
	assert_string_equal(dump_at(s, 3), "a=1 c2 m2 v1; z=26 c3 m3 v1");
	assert_int_equal(ms_mvcc_txn_end(t), -EINVAL); /* already ended */
	assert_int_equal(ms_mvcc_txn_end(NULL), -EINVAL);
	assert_int_equal(ms_mvcc_txn_put(t, B("a"), B("v"), 0, NULL, NULL), -EINVAL);
	ms_mvcc_free(s);
}

/* Probe scenarios: each runs on a store of node 3 holding a=1 at revision 2. */
static void run_put(struct ms_mvcc *s)
{
	put(s, "b", "2");
}

static void run_put_invalid(struct ms_mvcc *s)
{
	assert_int_equal(ms_mvcc_put(s, NULL, 0, NULL, 0, 0, NULL, NULL, NULL), -EINVAL);
}

static void run_range_then_put(struct ms_mvcc *s)
{
	assert_string_equal(dump_at(s, 0), "a=1 c2 m2 v1");
	put(s, "a", "2");
}

static void run_range_future(struct ms_mvcc *s)
{
	assert_string_equal(dump_at(s, 3), "ERR-4097");
}

static void run_range_compacted(struct ms_mvcc *s)
{
	assert_int_equal(ms_mvcc_compact(s, 2), 0);
	assert_string_equal(dump_at(s, 1), "ERR-4096");
}

static void run_compact_future(struct ms_mvcc *s)
{
	assert_int_equal(ms_mvcc_compact(s, 3), -MS_MVCC_EFUTURE);
}

static void run_delete(struct ms_mvcc *s)
{
	assert_int_equal(ms_mvcc_delete(s, B("nope"), NULL, 0, NULL, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_delete(s, B("a"), NULL, 0, NULL, NULL, NULL), 0);
}

static void run_txn_write(struct ms_mvcc *s)
{
	struct ms_mvcc_txn *t = ms_mvcc_txn_begin(s);
	struct ms_range_req req = { .key = (const uint8_t *)"a", .key_len = 1 };
	struct ms_range_res res;
	struct ms_kv kv;

	assert_true(ms_mvcc_get(s, B("a"), &kv));
	assert_int_equal(ms_mvcc_txn_put(t, B("b"), B("2"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_range(t, &req, &res), 0);
	ms_range_res_release(&res);
	assert_int_equal(ms_mvcc_txn_delete(t, B("a"), NULL, 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_end(t), 3);
}

static void run_txn_noop(struct ms_mvcc *s)
{
	assert_int_equal(ms_mvcc_txn_end(ms_mvcc_txn_begin(s)), 2);
}

static void run_txn_failed_read(struct ms_mvcc *s)
{
	struct ms_mvcc_txn *t = ms_mvcc_txn_begin(s);
	struct ms_range_req req = { .key = (const uint8_t *)"a", .key_len = 1, .rev = 9 };
	struct ms_range_res res;

	assert_int_equal(ms_mvcc_txn_range(t, &req, &res), -MS_MVCC_EFUTURE);
	assert_int_equal(ms_mvcc_txn_put(t, NULL, 0, NULL, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(ms_mvcc_txn_end(t), 2);
}

static void test_probes(void **state)
{
	/* want: the direct probes alone; batch: what follows them once the batch semaphore is
	 * up and the buffers are flushed (storage records first, then mvcc ones) */
	static const struct {
		const char *name;
		void (*run)(struct ms_mvcc *s);
		const char *want;
		const char *batch;
	} cases[] = {
		{ "put", run_put, "begin#0:put rev(3,3) end#0:put:ok ", "B:put#0:ok B:rev(3,3) " },
		{ "invalid put", run_put_invalid, "begin#0:put end#0:put:invalid ",
		  "B:put#0:invalid " },
		{ "range, put", run_range_then_put,
		  "begin#0:range end#0:range:ok begin#1:put rev(3,3) end#1:put:ok ",
		  "B:range#0:ok B:put#1:ok B:rev(3,3) " },
		{ "future range", run_range_future, "begin#0:range end#0:range:future ",
		  "B:range#0:future " },
		{ "compacted range", run_range_compacted,
		  "begin#0:compact compact(3,2) end#0:compact:ok "
		  "begin#1:range end#1:range:compacted ",
		  "B:compact#0:ok B:range#1:compacted B:compact(3,2) " },
		{ "future compact", run_compact_future, "begin#0:compact end#0:compact:future ",
		  "B:compact#0:future " },
		{ "deletes", run_delete,
		  "begin#0:delete end#0:delete:ok begin#1:delete rev(3,3) end#1:delete:ok ",
		  "B:delete#0:ok B:delete#1:ok B:rev(3,3) " },
		{ "txn", run_txn_write, "begin#0:txn rev(3,3) end#0:txn:ok ",
		  "B:txn#0:ok B:rev(3,3) " },
		{ "no-op txn", run_txn_noop, "begin#0:txn end#0:txn:ok ", "B:txn#0:ok " },
		{ "txn with a failed read", run_txn_failed_read, "begin#0:txn end#0:txn:future ",
		  "B:txn#0:future " },
	};

	(void)state;
	for (int batch = 0; batch <= 1; batch++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct ms_mvcc *s = ms_mvcc_new(3);
			char want[512];

			put(s, "a", "1");
			probe_reset();
			ms_probe_batch_semaphore = (uint16_t)batch;
			cases[i].run(s);
			ms_trace_flush();
			ms_probe_batch_semaphore = 0;
			probe_stop();
			snprintf(want, sizeof(want), "%s%s", cases[i].want,
				 batch ? cases[i].batch : "");
			if (strcmp(probe_log, want) != 0)
				fail_msg("%s%s: got \"%s\" want \"%s\"", cases[i].name,
					 batch ? " (batch)" : "", probe_log, want);
			ms_mvcc_free(s);
		}
	}
}

/* An operation that began before the batch probe was attached gets no record. */
static void test_probes_attach_midway(void **state)
{
	struct ms_mvcc *s = ms_mvcc_new(3);
	struct ms_mvcc_txn *t;

	(void)state;
	probe_reset();
	t = ms_mvcc_txn_begin(s);
	ms_probe_batch_semaphore = 1;
	assert_int_equal(ms_mvcc_txn_put(t, B("k"), B("v"), 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_txn_end(t), 2);
	ms_trace_flush();
	ms_probe_batch_semaphore = 0;
	probe_stop();
	/* the revision it made is recorded; the transaction itself is not */
	assert_string_equal(probe_log, "begin#0:txn rev(3,2) end#0:txn:ok B:rev(3,2) ");
	ms_mvcc_free(s);
}

/* --- against a reference model ------------------------------------------------------------
 * Random puts, deletes, transactions and compactions on a few keys; every revision's full
 * state is kept in a plain array, and random reads at random revisions must match it. */

enum { M_KEYS = 12, M_REVS = 400 };

struct model_kv {
	bool live;
	char value[16];
	int64_t create, mod, version;
};

struct model {
	struct model_kv at[M_REVS + 2][M_KEYS]; /* state after each revision */
	struct model_kv cur[M_KEYS];            /* state including an open transaction */
	int64_t rev;
};

static void model_key(size_t i, char *out)
{
	/* "k00".."k11", with "k0" and "k1" as prefixes of others */
	if (i == 0)
		strcpy(out, "k0");
	else if (i == 1)
		strcpy(out, "k1");
	else
		sprintf(out, "k%02zu", i);
}

static int model_key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void model_put(struct model_kv *kv, int64_t rev, const char *value)
{
	if (!kv->live) {
		kv->create = rev;
		kv->version = 0;
	}
	kv->live = true;
	kv->mod = rev;
	kv->version++;
	snprintf(kv->value, sizeof(kv->value), "%s", value);
}

/* Expected rendering of [lo, hi) (hi NULL: to the end) at revision r, keys sorted. */
static void model_render(const struct model *m, int64_t r, const char *lo, const char *hi,
			 char *out, size_t cap, int64_t *count)
{
	char keys[M_KEYS][8];
	size_t off = 0, order[M_KEYS];

	for (size_t i = 0; i < M_KEYS; i++)
		model_key(i, keys[i]);
	/* sort indexes by key name */
	for (size_t i = 0; i < M_KEYS; i++)
		order[i] = i;
	for (size_t i = 1; i < M_KEYS; i++)
		for (size_t j = i; j > 0 && model_key_cmp(keys[order[j - 1]], keys[order[j]]) > 0;
		     j--) {
			size_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	out[0] = 0;
	*count = 0;
	for (size_t n = 0; n < M_KEYS; n++) {
		size_t i = order[n];
		const struct model_kv *kv = &m->at[r][i];

		if (!kv->live || strcmp(keys[i], lo) < 0 || (hi && strcmp(keys[i], hi) >= 0))
			continue;
		off += (size_t)snprintf(out + off, cap - off, "%s%s=%s c%lld m%lld v%lld",
					*count ? "; " : "", keys[i], kv->value,
					(long long)kv->create, (long long)kv->mod,
					(long long)kv->version);
		(*count)++;
	}
}

static void test_against_model(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct ms_mvcc *s = ms_mvcc_new(1);
	uint64_t rng = 12345;
	int64_t compacted = 0;
	char want[2048];

	(void)state;
	assert_non_null(m);
#define RND(n) ((rng = rng * 6364136223846793005ULL + 1442695040888963407ULL), (rng >> 33) % (n))
	m->rev = 1;
	while (m->rev < M_REVS) {
		unsigned what = (unsigned)RND(20);
		bool in_txn = what >= 16;
		struct ms_mvcc_txn *t = in_txn ? ms_mvcc_txn_begin(s) : NULL;
		unsigned nops = in_txn ? 1 + (unsigned)RND(4) : 1;
		bool wrote = false;

		if (what == 15) {
			int64_t at = compacted + 1 + (int64_t)RND((uint64_t)(m->rev - compacted));

			assert_int_equal(ms_mvcc_compact(s, at), 0);
			compacted = at;
			continue;
		}
		for (unsigned op = 0; op < nops; op++) {
			size_t i = RND(M_KEYS), j = RND(M_KEYS);
			char key[8], end[8], value[16];

			model_key(i, key);
			model_key(j, end);
			if (RND(3)) {
				snprintf(value, sizeof(value), "v%lld.%u", (long long)m->rev, op);
				if (t)
					assert_int_equal(ms_mvcc_txn_put(t, B(key), B(value), 0, NULL,
									 NULL),
							 0);
				else
					put(s, key, value);
				model_put(&m->cur[i], m->rev + 1, value);
				wrote = true;
			} else {
				int64_t n = 0, want_n = 0;
				bool to_end = RND(4) == 0;
				size_t end_len = to_end ? 1 : strlen(end);

				if (to_end)
					end[0] = 0;
				for (size_t k = 0; k < M_KEYS; k++) {
					char name[8];

					model_key(k, name);
					if (m->cur[k].live && strcmp(name, key) >= 0 &&
					    (to_end || strcmp(name, end) < 0)) {
						m->cur[k].live = false;
						want_n++;
					}
				}
				if (t)
					assert_int_equal(ms_mvcc_txn_delete(t, B(key),
									    (const uint8_t *)end,
									    end_len, &n, NULL),
							 0);
				else
					assert_int_equal(ms_mvcc_delete(s, B(key),
									(const uint8_t *)end,
									end_len, &n, NULL, NULL),
							 0);
				assert_int_equal(n, want_n);
				wrote |= n > 0;
			}
			if (!t && wrote)
				break;
		}
		if (t)
			ms_mvcc_txn_end(t);
		if (wrote) {
			m->rev++;
			memcpy(m->at[m->rev], m->cur, sizeof(m->cur));
		}
		assert_int_equal(ms_mvcc_rev(s), m->rev);

		/* a few random reads at random revisions */
		for (int r = 0; r < 3; r++) {
			int64_t rev = 1 + (int64_t)RND((uint64_t)m->rev);
			char lo[8], hi[8];
			bool to_end = RND(3) == 0;
			struct ms_range_req req = { .rev = rev };
			struct ms_range_res res;
			int64_t count;
			int rc;

			model_key(RND(M_KEYS), lo);
			model_key(RND(M_KEYS), hi);
			req.key = (const uint8_t *)lo;
			req.key_len = strlen(lo);
			req.end = to_end ? (const uint8_t *)"" : (const uint8_t *)hi;
			req.end_len = to_end ? 1 : strlen(hi);
			rc = ms_mvcc_range(s, &req, &res);
			if (rev < compacted) {
				assert_int_equal(rc, -MS_MVCC_ECOMPACTED);
				continue;
			}
			assert_int_equal(rc, 0);
			model_render(m, rev, lo, to_end ? NULL : hi, want, sizeof(want), &count);
			if (strcmp(render_kvs(res.kvs, res.n), want) != 0)
				fail_msg("rev %lld [%s,%s): got \"%s\" want \"%s\"", (long long)rev,
					 lo, to_end ? "end" : hi, render_kvs(res.kvs, res.n), want);
			assert_int_equal(res.count, count);
			ms_range_res_release(&res);
		}
	}
#undef RND
	assert_true(compacted > 0);
	ms_mvcc_free(s);
	free(m);
}

/* Ranges over many keys: order, prefix bounds and limits at scale. */
static void test_many_keys(void **state)
{
	enum { N = 10000 };
	struct ms_mvcc *s = ms_mvcc_new(1);
	struct ms_range_req req = { .key = (const uint8_t *)"", .end = (const uint8_t *)"",
				    .end_len = 1 };
	struct ms_range_res res;
	static int64_t put_rev[N];
	char key[16];

	(void)state;
	/* inserted in a scrambled order so the index has to sort them */
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key/%05zu", (i * 7919) % N);
		put_rev[(i * 7919) % N] = put(s, key, key);
	}
	assert_int_equal(ms_mvcc_range(s, &req, &res), 0);
	assert_int_equal(res.n, N);
	assert_int_equal(res.count, N);
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key/%05zu", i);
		assert_int_equal(res.kvs[i].key_len, strlen(key));
		assert_memory_equal(res.kvs[i].key, key, strlen(key));
		assert_memory_equal(res.kvs[i].value, key, strlen(key));
		assert_int_equal(res.kvs[i].mod_rev, put_rev[i]);
	}
	ms_range_res_release(&res);
	/* key/01000 .. key/01999 */
	req.key = (const uint8_t *)"key/01";
	req.key_len = 6;
	req.end = (const uint8_t *)"key/02";
	req.end_len = 6;
	req.limit = 10;
	assert_int_equal(ms_mvcc_range(s, &req, &res), 0);
	assert_int_equal(res.count, 1000);
	assert_true(res.more);
	assert_int_equal(res.n, 10);
	assert_memory_equal(res.kvs[9].key, "key/01009", 9);
	ms_range_res_release(&res);
	ms_mvcc_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_store),
		cmocka_unit_test(test_revisions_and_versions),
		cmocka_unit_test(test_put_prev_and_lease),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_old_revisions),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_compaction_errors),
		cmocka_unit_test(test_delete_ranges),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_probes_attach_midway),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_many_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
