/* Unit tests for planning a Txn (metastore/apply/txn_plan.c): the path its compares choose
 * on the store before the txn, the checks that refuse it whole, and what applying it does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apply/txn_plan.h"

#define LEASE 7 /* the one lease the store holds */
#define MAX_OPS 4
#define MAX_TXNS 8

/* An op of a case: 'p' put, 'i' put with ignore_value, 'l' put with ignore_lease, 'r' range,
 * 'd' delete, 't' a nested txn (index into the case's txns). */
struct op_def {
	char kind;
	const char *key;
	const char *val; /* put: value */
	int64_t arg;     /* put: lease; range: revision; txn: index */
};

/* A txn of a case: if `cmp_key` is set, one compare value(cmp_key) == cmp_val. */
struct txn_def {
	const char *cmp_key, *cmp_val;
	struct op_def success[MAX_OPS], failure[MAX_OPS];
};

struct kv_want {
	const char *key, *val; /* val NULL: absent after the txn */
};

struct plan_case {
	const char *name;
	struct txn_def txns[MAX_TXNS]; /* [0] is the request */
	const char *path;              /* the plan's path: '1' success, '0' failure */
	uint32_t code;                 /* the refusal, or MS_GRPC_OK */
	const char *msg;
	struct kv_want after[4];       /* keys after ms_apply_txn */
};

static const struct plan_case cases[] = {
	{ "one put", { { .success = { { 'p', "a", "1", 0 } } } }, "1", MS_GRPC_OK, NULL,
	  { { "a", "1" } } },
	{ "ignore_value on a missing key after a put",
	  { { .success = { { 'p', "b", "1", 0 }, { 'i', "none", NULL, 0 } } } }, "1",
	  MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "b", NULL }, { "none", NULL } } },
	{ "ignore_lease on a key deleted before the txn",
	  { { .success = { { 'p', "b", "1", 0 }, { 'l', "gone", NULL, 0 } } } }, "1",
	  MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "b", NULL }, { "gone", NULL } } },
	{ "a missing lease after a put",
	  { { .success = { { 'p', "c", "1", 0 }, { 'p', "d", "1", 99 } } } }, "1",
	  MS_GRPC_NOT_FOUND, ERR_LEASE_NOT_FOUND, { { "c", NULL }, { "d", NULL } } },
	{ "a held lease", { { .success = { { 'p', "c", "1", 0 }, { 'p', "d", "1", LEASE } } } },
	  "1", MS_GRPC_OK, NULL, { { "c", "1" }, { "d", "1" } } },
	{ "ignore_value on a stored key", { { .success = { { 'p', "c", "1", 0 },
							     { 'i', "old", NULL, 0 } } } },
	  "1", MS_GRPC_OK, NULL, { { "c", "1" }, { "old", "old" } } },
	{ "a fault in the branch not taken",
	  { { "old", "old", { { 'p', "e", "1", 0 } }, { { 'i', "none", NULL, 0 } } } }, "1",
	  MS_GRPC_OK, NULL, { { "e", "1" } } },
	{ "a fault in the branch taken",
	  { { "old", "x", { { 'p', "e", "1", 0 } }, { { 'p', "f", "1", 0 },
						    { 'i', "none", NULL, 0 } } } },
	  "0", MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "e", NULL }, { "f", NULL } } },
	{ "a nested compare sees the store before the txn",
	  { { .success = { { 'p', "k", "1", 0 }, { 't', NULL, NULL, 1 } } },
	    { "k", "1", { { 'p', "x", "after", 0 } }, { { 'p', "x", "before", 0 } } } },
	  "10", MS_GRPC_OK, NULL, { { "k", "1" }, { "x", "before" } } },
	{ "a fault in a nested branch",
	  { { .success = { { 'p', "e", "1", 0 }, { 't', NULL, NULL, 1 } } },
	    { "old", "other", { { 'p', "g", "1", 0 } }, { { 'i', "none", NULL, 0 } } } },
	  "10", MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "e", NULL }, { "none", NULL } } },
	{ "ignore_value on a missing key after a delete",
	  { { .success = { { 'd', "old", NULL, 0 }, { 'i', "none", NULL, 0 } } } }, "1",
	  MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "old", "old" }, { "none", NULL } } },
	{ "a range at a future revision after a put",
	  { { .success = { { 'p', "h", "1", 0 }, { 'r', "h", NULL, 5 } } } }, "1",
	  MS_GRPC_OUT_OF_RANGE, ERR_FUTURE_REV, { { "h", NULL } } },
	{ "a range at a compacted revision after a put",
	  { { .success = { { 'p', "h", "1", 0 }, { 'r', "old", NULL, 2 } } } }, "1",
	  MS_GRPC_OUT_OF_RANGE, ERR_COMPACTED, { { "h", NULL } } },
	{ "a range at the compaction's revision", /* etcd: compacted means below it */
	  { { .success = { { 'p', "h", "1", 0 }, { 'r', "old", NULL, 3 } } } }, "1",
	  MS_GRPC_OK, NULL, { { "h", "1" } } },
	{ "puts are checked before ranges",
	  { { .success = { { 'r', "h", NULL, 9 }, { 'i', "none", NULL, 0 } } } }, "1",
	  MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND, { { "none", NULL } } },
	{ "the path is depth-first in apply order",
	  { { .success = { { 't', NULL, NULL, 1 }, { 't', NULL, NULL, 3 } } },
	    { "old", "x", { { 'p', "m", "1", 0 } }, { { 't', NULL, NULL, 2 } } },
	    { "old", "old", { { 'p', "n", "1", 0 } }, { { 'p', "n", "0", 0 } } },
	    { "none", "x", { { 'p', "o", "1", 0 } }, { { 'p', "o", "0", 0 } } } },
	  "1010", MS_GRPC_OK, NULL, { { "m", NULL }, { "n", "1" }, { "o", "0" } } },
};

/* Owns the protobuf pieces one case builds. */
struct built {
	Etcdserverpb__TxnRequest txn[MAX_TXNS];
	Etcdserverpb__Compare cmp[MAX_TXNS], *cmpp[MAX_TXNS];
	Etcdserverpb__RequestOp op[MAX_TXNS][2][MAX_OPS], *opp[MAX_TXNS][2][MAX_OPS];
	Etcdserverpb__PutRequest put[MAX_TXNS][2][MAX_OPS];
	Etcdserverpb__RangeRequest range[MAX_TXNS][2][MAX_OPS];
	Etcdserverpb__DeleteRangeRequest del[MAX_TXNS][2][MAX_OPS];
};

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ s ? strlen(s) : 0, (uint8_t *)s };
}

static size_t build_ops(struct built *b, const struct plan_case *c, size_t t, int side)
{
	const struct op_def *defs = side ? c->txns[t].failure : c->txns[t].success;
	size_t n = 0;

	for (; n < MAX_OPS && defs[n].kind; n++) {
		const struct op_def *d = &defs[n];
		Etcdserverpb__RequestOp *op = &b->op[t][side][n];

		etcdserverpb__request_op__init(op);
		b->opp[t][side][n] = op;
		switch (d->kind) {
		case 'p':
		case 'i':
		case 'l': {
			Etcdserverpb__PutRequest *p = &b->put[t][side][n];

			etcdserverpb__put_request__init(p);
			p->key = bin(d->key);
			p->value = bin(d->val);
			p->lease = d->arg;
			p->ignore_value = d->kind == 'i';
			p->ignore_lease = d->kind == 'l';
			op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
			op->request_put = p;
			break;
		}
		case 'r':
			etcdserverpb__range_request__init(&b->range[t][side][n]);
			b->range[t][side][n].key = bin(d->key);
			b->range[t][side][n].revision = d->arg;
			op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
			op->request_range = &b->range[t][side][n];
			break;
		case 'd':
			etcdserverpb__delete_range_request__init(&b->del[t][side][n]);
			b->del[t][side][n].key = bin(d->key);
			op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
			op->request_delete_range = &b->del[t][side][n];
			break;
		case 't':
			assert_in_range(d->arg, 1, MAX_TXNS - 1);
			op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
			op->request_txn = &b->txn[d->arg];
			break;
		default:
			fail_msg("case '%s': unknown op kind '%c'", c->name, d->kind);
		}
	}
	return n;
}

static void build(struct built *b, const struct plan_case *c)
{
	memset(b, 0, sizeof(*b));
	for (size_t t = 0; t < MAX_TXNS; t++) {
		Etcdserverpb__TxnRequest *r = &b->txn[t];

		etcdserverpb__txn_request__init(r);
		if (c->txns[t].cmp_key) {
			etcdserverpb__compare__init(&b->cmp[t]);
			b->cmp[t].result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
			b->cmp[t].target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
			b->cmp[t].key = bin(c->txns[t].cmp_key);
			b->cmp[t].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
			b->cmp[t].value = bin(c->txns[t].cmp_val);
			b->cmpp[t] = &b->cmp[t];
			r->compare = &b->cmpp[t];
			r->n_compare = 1;
		}
		r->n_success = build_ops(b, c, t, 0);
		r->success = b->opp[t][0];
		r->n_failure = build_ops(b, c, t, 1);
		r->failure = b->opp[t][1];
	}
}

struct member {
	struct ms_mvcc *mvcc;
	struct ms_lease_table *leases;
	struct ms_applier ap;
};

static int64_t no_clock(void *arg)
{
	(void)arg;
	return 0;
}

/* The store before every case: old=old (rev 2), gone=1 (rev 3) deleted (rev 4), compacted at
 * 3, so revision 4 is current and revisions 1 and 2 are compacted; lease LEASE is held. */
static void member_init(struct member *m)
{
	int64_t rev;

	m->mvcc = ms_mvcc_new(1);
	m->leases = ms_lease_table_new();
	assert_non_null(m->mvcc);
	assert_non_null(m->leases);
	assert_int_equal(ms_lease_grant(m->leases, LEASE, 60, 0, NULL, NULL), 0);
	assert_int_equal(ms_mvcc_put(m->mvcc, (const uint8_t *)"old", 3, (const uint8_t *)"old",
				     3, 0, NULL, NULL, &rev), 0);
	assert_int_equal(ms_mvcc_put(m->mvcc, (const uint8_t *)"gone", 4, (const uint8_t *)"1",
				     1, 0, NULL, NULL, &rev), 0);
	assert_int_equal(ms_mvcc_delete(m->mvcc, (const uint8_t *)"gone", 4, NULL, 0, NULL, NULL,
					&rev), 0);
	assert_int_equal(ms_mvcc_compact(m->mvcc, 3), 0);
	assert_int_equal(ms_mvcc_rev(m->mvcc), 4);
	m->ap = (struct ms_applier){ .mvcc = m->mvcc, .leases = m->leases, .now_ms = no_clock };
}

static void member_free(struct member *m)
{
	ms_lease_table_free(m->leases);
	ms_mvcc_free(m->mvcc);
}

/* The plan's path as '0'/'1' characters. */
static void path_str(const struct ms_txn_plan *p, char *out, size_t cap)
{
	size_t i = 0;

	for (; i < p->n && i + 1 < cap; i++)
		out[i] = p->path[i] ? '1' : '0';
	out[i] = 0;
}

static void test_plans(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct plan_case *c = &cases[i];
		struct ms_txn_plan plan = { 0 };
		struct kv_pb_err refusal;
		struct member m;
		struct built *b = malloc(sizeof(*b));
		struct ms_mvcc_txn *t;
		char path[MAX_TXNS + 1];

		assert_non_null(b);
		print_message("case: %s\n", c->name);
		member_init(&m);
		build(b, c);
		t = ms_mvcc_txn_begin(m.mvcc);
		assert_non_null(t);
		assert_int_equal(ms_txn_plan_make(&m.ap, t, &b->txn[0], &plan, &refusal), 0);
		assert_int_equal(ms_mvcc_txn_end(t), 4); /* planning writes nothing */
		path_str(&plan, path, sizeof(path));
		assert_string_equal(path, c->path);
		assert_int_equal(refusal.code, c->code);
		if (c->msg)
			assert_string_equal(refusal.msg, c->msg);
		else
			assert_null(refusal.msg);
		ms_txn_plan_release(&plan);
		ms_txn_plan_release(&plan); /* released twice: a no-op */
		free(b);
		member_free(&m);
	}
}

/* Applying: a refused txn changes nothing, an accepted one writes in one revision. */
static void test_apply(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct plan_case *c = &cases[i];
		struct ms_apply_res res = { 0 };
		struct member m;
		struct built *b = malloc(sizeof(*b));

		assert_non_null(b);
		print_message("case: %s\n", c->name);
		member_init(&m);
		build(b, c);
		ms_apply_txn(&m.ap, &b->txn[0], &res);
		assert_int_equal(res.code, c->code);
		if (c->code == MS_GRPC_OK) {
			assert_int_equal(ms_mvcc_rev(m.mvcc), 5);
			assert_int_equal(res.hdr->revision, 5);
		} else {
			assert_string_equal(res.msg, c->msg);
			assert_int_equal(ms_mvcc_rev(m.mvcc), 4);
		}
		for (size_t k = 0; k < 4 && c->after[k].key; k++) {
			struct ms_kv kv;
			const char *key = c->after[k].key, *want = c->after[k].val;
			bool have = ms_mvcc_get(m.mvcc, (const uint8_t *)key, strlen(key), &kv);
			char got[32] = "";

			if (have)
				snprintf(got, sizeof(got), "%.*s", (int)kv.value_len,
					 (const char *)kv.value);
			assert_string_equal(have ? got : "(absent)", want ? want : "(absent)");
		}
		ms_apply_res_release(&res);
		free(b);
		member_free(&m);
	}
}

/* One compare against "old" (version 1, create and mod revision 2, no lease, value "old"). */
struct cmp_case {
	const char *name;
	int result, target, union_case;
	int64_t num;        /* the union's number, when it holds one */
	const char *value;  /* the union's value, when it holds one */
	const char *key;    /* NULL: "old" */
	bool holds;
};

#define R(x) ETCDSERVERPB__COMPARE__COMPARE_RESULT__##x
#define T(x) ETCDSERVERPB__COMPARE__COMPARE_TARGET__##x
#define U(x) ETCDSERVERPB__COMPARE__TARGET_UNION_##x

static const struct cmp_case cmp_cases[] = {
	{ "value equal", R(EQUAL), T(VALUE), U(VALUE), 0, "old", NULL, true },
	{ "value greater", R(GREATER), T(VALUE), U(VALUE), 0, "ol", NULL, true },
	{ "value less", R(LESS), T(VALUE), U(VALUE), 0, "older", NULL, true },
	{ "value not equal", R(NOT_EQUAL), T(VALUE), U(VALUE), 0, "old", NULL, false },
	{ "value without a value: against empty", R(GREATER), T(VALUE), U(LEASE), 0x72, NULL,
	  NULL, true },
	{ "value of a missing key never holds", R(NOT_EQUAL), T(VALUE), U(VALUE), 0, "x", "none",
	  false },
	{ "version equal", R(EQUAL), T(VERSION), U(VERSION), 1, NULL, NULL, true },
	{ "create less", R(LESS), T(CREATE), U(CREATE_REVISION), 3, NULL, NULL, true },
	{ "mod greater", R(GREATER), T(MOD), U(MOD_REVISION), 1, NULL, NULL, true },
	{ "lease equal", R(EQUAL), T(LEASE), U(LEASE), 0, NULL, NULL, true },
	{ "mod against another target's number: against 0", R(GREATER), T(MOD), U(VERSION), 5,
	  NULL, NULL, true },
	{ "version of a missing key is 0", R(EQUAL), T(VERSION), U(VERSION), 0, NULL, "none",
	  true },
	{ "an unknown result holds", 9, T(VERSION), U(VERSION), 7, NULL, NULL, true },
	{ "an unknown target compares equal", R(EQUAL), 9, U(VERSION), 7, NULL, NULL, true },
};

/* Compares decide the path as etcd's compareKV decides them. */
static void test_compares(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
		const struct cmp_case *c = &cmp_cases[i];
		Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT, *cmpp = &cmp;
		Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
		struct ms_txn_plan plan = { 0 };
		struct kv_pb_err refusal;
		struct ms_mvcc_txn *t;
		struct member m;

		print_message("compare: %s\n", c->name);
		member_init(&m);
		cmp.result = c->result;
		cmp.target = c->target;
		cmp.key = bin(c->key ? c->key : "old");
		cmp.target_union_case = c->union_case;
		if (c->union_case == U(VALUE))
			cmp.value = bin(c->value);
		else if (c->union_case == U(VERSION))
			cmp.version = c->num;
		else if (c->union_case == U(CREATE_REVISION))
			cmp.create_revision = c->num;
		else if (c->union_case == U(MOD_REVISION))
			cmp.mod_revision = c->num;
		else
			cmp.lease = c->num;
		txn.compare = &cmpp;
		txn.n_compare = 1;
		t = ms_mvcc_txn_begin(m.mvcc);
		assert_non_null(t);
		assert_int_equal(ms_txn_plan_make(&m.ap, t, &txn, &plan, &refusal), 0);
		ms_mvcc_txn_end(t);
		assert_int_equal(plan.n, 1);
		assert_int_equal(plan.path[0], c->holds);
		ms_txn_plan_release(&plan);
		member_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_compares),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
