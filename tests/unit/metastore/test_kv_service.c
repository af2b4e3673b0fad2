/* Unit tests for the KV service: real protobuf requests through the handlers, responses
 * decoded back; the gRPC transport is replaced by a recorder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/kv_service.h"
#include "rpc.pb-c.h"

/* --- the transport, recorded ----------------------------------------------------------- */

static int faults;

int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	assert_int_equal(call->out.len, 0); /* unary: one response */
	assert_int_equal(ms_buf_append(&call->out, NULL, n), 0);
	protobuf_c_message_pack(m, call->out.data);
	return 0;
}

void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message)
{
	assert_false(call->finished);
	call->finished = true;
	call->code = code;
	call->message = message ? strdup(message) : NULL;
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	faults++;
	grpc_call_finish(call, MS_GRPC_INTERNAL, what);
}

#include "call_stubs.h"

/* the leader's answer to a member's ReadIndex (raft/ready.c); no test here asks one */
int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len)
{
	(void)call, (void)framed, (void)len;
	fail();
	return -EINVAL;
}

/* --- helpers ------------------------------------------------------------------------- */

struct fixture {
	struct ms_mvcc *mvcc;
	struct kv_service svc;
	struct grpc_call call;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->mvcc = ms_mvcc_new(1);
	f->svc = (struct kv_service){ .mvcc = f->mvcc, .cluster_id = 11, .member_id = 22,
				      .raft_term = 1, .max_request_bytes = 1024 };
	faults = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ms_buf_free(&f->call.out);
	free(f->call.message);
	ms_mvcc_free(f->mvcc);
	free(f);
	return 0;
}

/* Runs one handler on a packed request; leaves the result in f->call. */
static void run(struct fixture *f, grpc_unary_fn fn, const ProtobufCMessage *req)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(n ? n : 1);

	protobuf_c_message_pack(req, buf);
	ms_buf_free(&f->call.out);
	free(f->call.message);
	memset(&f->call, 0, sizeof(f->call));
	fn(&f->call, buf, n, &f->svc);
	free(buf);
	assert_true(f->call.finished);
}

static void expect_status(struct fixture *f, uint32_t code, const char *msg)
{
	assert_int_equal(f->call.code, code);
	if (msg)
		assert_string_equal(f->call.message, msg);
	if (code != MS_GRPC_OK)
		assert_int_equal(f->call.out.len, 0);
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

static int64_t put(struct fixture *f, const char *k, const char *v)
{
	Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutResponse *resp;
	int64_t rev;

	r.key = bin(k);
	r.value = bin(v);
	run(f, kv_service_put, &r.base);
	expect_status(f, MS_GRPC_OK, NULL);
	resp = etcdserverpb__put_response__unpack(NULL, f->call.out.len, f->call.out.data);
	assert_non_null(resp);
	assert_int_equal(resp->header->cluster_id, 11);
	assert_int_equal(resp->header->member_id, 22);
	rev = resp->header->revision;
	etcdserverpb__put_response__free_unpacked(resp, NULL);
	return rev;
}

/* Range over [key, end) and render the result as "k=v@mod/ver,...|count|more". */
static char *range_str(struct fixture *f, const char *key, const char *end, int64_t limit)
{
	Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *resp;
	static char out[512];
	size_t o = 0;

	r.key = bin(key);
	if (end)
		r.range_end = bin(end);
	r.limit = limit;
	run(f, kv_service_range, &r.base);
	expect_status(f, MS_GRPC_OK, NULL);
	resp = etcdserverpb__range_response__unpack(NULL, f->call.out.len, f->call.out.data);
	assert_non_null(resp);
	for (size_t i = 0; i < resp->n_kvs; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s=%.*s@%lld/%lld", i ? "," : "",
				      (int)resp->kvs[i]->key.len, resp->kvs[i]->key.data,
				      (int)resp->kvs[i]->value.len, resp->kvs[i]->value.data,
				      (long long)resp->kvs[i]->mod_revision,
				      (long long)resp->kvs[i]->version);
	snprintf(out + o, sizeof(out) - o, "|%lld|%d", (long long)resp->count, resp->more);
	etcdserverpb__range_response__free_unpacked(resp, NULL);
	return out;
}

/* --- tests --------------------------------------------------------------------------- */

static void test_put_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(put(f, "a", "1"), 2);
	assert_int_equal(put(f, "b", "2"), 3);
	assert_int_equal(put(f, "a", "3"), 4);
	assert_string_equal(range_str(f, "a", NULL, 0), "a=3@4/2|1|0");
	assert_string_equal(range_str(f, "a", "c", 0), "a=3@4/2,b=2@3/1|2|0");
	assert_string_equal(range_str(f, "a", "c", 1), "a=3@4/2|2|1");
	assert_string_equal(range_str(f, "b", "\0", 0), "b=2@3/1|1|0");
	assert_string_equal(range_str(f, "zz", NULL, 0), "|0|0");
	assert_int_equal(faults, 0);
}

static void test_request_errors(void **state)
{
	static const char big[1100] = { [0 ... 1098] = 'v' };
	struct fixture *f = *state;
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__CompactionRequest c = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff };

	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: key is not provided");
	run(f, kv_service_range, &r.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: key is not provided");
	run(f, kv_service_delete_range, &d.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: key is not provided");

	p.key = bin("k");
	p.value = bin(big);
	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: request is too large");
	/* A delete is a write too: its size is checked the same way, before anything else. */
	d.key = bin(big);
	run(f, kv_service_delete_range, &d.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: request is too large");
	d.key = bin("");
	p.value = bin("x");
	p.ignore_value = true;
	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: value is provided");
	p.value = bin("");
	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: key not found");

	r.key = bin("k");
	r.revision = 5;
	run(f, kv_service_range, &r.base);
	expect_status(f, MS_GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision");
	put(f, "k", "1");
	put(f, "k", "2");
	c.revision = 3;
	run(f, kv_service_compact, &c.base);
	expect_status(f, MS_GRPC_OK, NULL);
	r.revision = 2;
	run(f, kv_service_range, &r.base);
	expect_status(f, MS_GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");
	run(f, kv_service_compact, &c.base);
	expect_status(f, MS_GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");

	/* Not a protobuf: the handler refuses it before touching the store. */
	free(f->call.message);
	ms_buf_free(&f->call.out);
	memset(&f->call, 0, sizeof(f->call));
	kv_service_range(&f->call, garbage, sizeof(garbage), &f->svc);
	expect_status(f, MS_GRPC_INTERNAL, "grpc: error unmarshalling request");
	free(f->call.message);
	f->call.message = NULL;
	assert_int_equal(faults, 0);
}

/* Builds a put op / range op / compare into caller storage. */
static Etcdserverpb__RequestOp *op_put(Etcdserverpb__RequestOp *op, Etcdserverpb__PutRequest *p,
				       const char *k, const char *v)
{
	etcdserverpb__request_op__init(op);
	etcdserverpb__put_request__init(p);
	p->key = bin(k);
	p->value = bin(v);
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op->request_put = p;
	return op;
}

static Etcdserverpb__RequestOp *op_del(Etcdserverpb__RequestOp *op,
				       Etcdserverpb__DeleteRangeRequest *d, const char *k,
				       const char *end)
{
	etcdserverpb__request_op__init(op);
	etcdserverpb__delete_range_request__init(d);
	d->key = bin(k);
	if (end)
		d->range_end = bin(end);
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
	op->request_delete_range = d;
	return op;
}

/* Runs a txn with one compare on `key` and the given branches; returns succeeded or -1. */
static int txn(struct fixture *f, Etcdserverpb__Compare *cmp, Etcdserverpb__RequestOp **then,
	       size_t nthen, Etcdserverpb__RequestOp **els, size_t nels, int64_t *rev)
{
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__TxnResponse *resp;
	int ok;

	t.compare = cmp ? &cmp : NULL;
	t.n_compare = cmp ? 1 : 0;
	t.success = then;
	t.n_success = nthen;
	t.failure = els;
	t.n_failure = nels;
	run(f, kv_service_txn, &t.base);
	if (f->call.code != MS_GRPC_OK)
		return -1;
	resp = etcdserverpb__txn_response__unpack(NULL, f->call.out.len, f->call.out.data);
	assert_non_null(resp);
	ok = resp->succeeded;
	assert_int_equal(resp->n_responses, ok ? nthen : nels);
	if (rev)
		*rev = resp->header->revision;
	etcdserverpb__txn_response__free_unpacked(resp, NULL);
	return ok;
}

static void test_txn_compares(void **state)
{
	static const struct {
		const char *name;
		Etcdserverpb__Compare__CompareTarget target;
		Etcdserverpb__Compare__CompareResult result;
		const char *key;
		int64_t num;
		const char *value;
		int want;
	} cases[] = {
		/* "a" is at version 2, created at 2, modified at 3, value "y". */
		{ "value equal", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, "a", 0, "y", 1 },
		{ "value less", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS, "a", 0, "z", 1 },
		{ "value greater", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER, "a", 0, "z", 0 },
		{ "version equal", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, "a", 2, NULL, 1 },
		{ "create equal", ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, "a", 2, NULL, 1 },
		{ "mod greater", ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD, ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER, "a", 2, NULL, 1 },
		{ "mod not equal", ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD, ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL, "a", 3, NULL, 0 },
		/* A missing key compares as zeros, except that a value compare is always false. */
		{ "missing version 0", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, "nope", 0, NULL, 1 },
		{ "missing create 0", ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, "nope", 0, NULL, 1 },
		{ "missing value", ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE, ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL, "nope", 0, "x", 0 },
	};
	struct fixture *f = *state;

	put(f, "a", "x");
	put(f, "a", "y");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Etcdserverpb__Compare c = ETCDSERVERPB__COMPARE__INIT;
		int got;

		c.key = bin(cases[i].key);
		c.target = cases[i].target;
		c.result = cases[i].result;
		switch (c.target) {
		case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE:
			c.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
			c.value = bin(cases[i].value);
			break;
		case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION:
			c.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
			c.version = cases[i].num;
			break;
		case ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE:
			c.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
			c.create_revision = cases[i].num;
			break;
		default:
			c.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
			c.mod_revision = cases[i].num;
			break;
		}
		got = txn(f, &c, NULL, 0, NULL, 0, NULL);
		if (got != cases[i].want)
			fail_msg("%s: succeeded=%d, want %d", cases[i].name, got, cases[i].want);
	}
	/* No writes: the revision did not move. */
	assert_int_equal(ms_mvcc_rev(f->mvcc), 3);
}

static void test_txn_writes_and_checks(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__RequestOp o[4], *ops[4];
	Etcdserverpb__PutRequest p[4];
	Etcdserverpb__DeleteRangeRequest d[2];
	Etcdserverpb__TxnRequest nested = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp *nthen[1], *nelse[1], no[2];
	Etcdserverpb__PutRequest np[2];
	int64_t rev = 0;

	/* Two puts and a delete share one revision. */
	put(f, "gone", "1"); /* rev 2 */
	ops[0] = op_put(&o[0], &p[0], "t1", "a");
	ops[1] = op_put(&o[1], &p[1], "t2", "b");
	ops[2] = op_del(&o[2], &d[0], "gone", NULL);
	assert_int_equal(txn(f, NULL, ops, 3, NULL, 0, &rev), 1);
	assert_int_equal(rev, 3);
	assert_string_equal(range_str(f, "t", "u", 0), "t1=a@3/1,t2=b@3/1|2|0");
	assert_string_equal(range_str(f, "gone", NULL, 0), "|0|0");

	/* The same key twice, or put inside a deleted range: refused, nothing applied. */
	ops[0] = op_put(&o[0], &p[0], "x", "1");
	ops[1] = op_put(&o[1], &p[1], "x", "2");
	assert_int_equal(txn(f, NULL, ops, 2, NULL, 0, NULL), -1);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request");
	ops[0] = op_del(&o[0], &d[1], "w", "y");
	ops[1] = op_put(&o[1], &p[1], "x", "2");
	assert_int_equal(txn(f, NULL, ops, 2, NULL, 0, NULL), -1);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request");
	assert_int_equal(ms_mvcc_rev(f->mvcc), 3);

	/* A nested txn may put one key in both branches (they exclude each other), but not a
	 * key its parent also puts. */
	nthen[0] = op_put(&no[0], &np[0], "n", "then");
	nelse[0] = op_put(&no[1], &np[1], "n", "else");
	nested.success = nthen;
	nested.n_success = 1;
	nested.failure = nelse;
	nested.n_failure = 1;
	etcdserverpb__request_op__init(&o[0]);
	o[0].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
	o[0].request_txn = &nested;
	ops[0] = &o[0];
	assert_int_equal(txn(f, NULL, ops, 1, NULL, 0, &rev), 1);
	assert_int_equal(rev, 4);
	assert_string_equal(range_str(f, "n", NULL, 0), "n=then@4/1|1|0");
	ops[1] = op_put(&o[1], &p[1], "n", "parent");
	assert_int_equal(txn(f, NULL, ops, 2, NULL, 0, NULL), -1);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request");
	assert_int_equal(faults, 0);
}

static void test_txn_too_many_ops(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__RequestOp o[KV_MAX_TXN_OPS + 1], *ops[KV_MAX_TXN_OPS + 1];
	Etcdserverpb__PutRequest p[KV_MAX_TXN_OPS + 1];
	char keys[KV_MAX_TXN_OPS + 1][8];

	for (int i = 0; i <= KV_MAX_TXN_OPS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%03d", i);
		ops[i] = op_put(&o[i], &p[i], keys[i], "v");
	}
	f->svc.max_request_bytes = 1 << 20;
	assert_int_equal(txn(f, NULL, ops, KV_MAX_TXN_OPS + 1, NULL, 0, NULL), -1);
	expect_status(f, MS_GRPC_INVALID_ARGUMENT, "etcdserver: too many operations in txn request");
	/* Exactly the limit is fine, in one revision. */
	assert_int_equal(txn(f, NULL, ops, KV_MAX_TXN_OPS, NULL, 0, NULL), 1);
	assert_int_equal(ms_mvcc_rev(f->mvcc), 2);
}

static void test_lease_tracking(void **state)
{
	struct fixture *f = *state;
	struct ms_lease_table *t = ms_lease_table_new();
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp o, *ops[1];
	Etcdserverpb__PutRequest tp;

	assert_non_null(t);
	f->svc.leases = t;
	assert_int_equal(ms_lease_grant(t, 7, 60, 0, NULL, NULL), 0);

	p.key = bin("k");
	p.value = bin("v");
	p.lease = 7;
	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_OK, NULL);
	assert_int_equal(ms_lease_key_owner(t, (const uint8_t *)"k", 1), 7);

	/* A put without a lease takes the key off its lease. */
	p.lease = 0;
	run(f, kv_service_put, &p.base);
	assert_int_equal(ms_lease_key_owner(t, (const uint8_t *)"k", 1), 0);

	/* An unknown lease: refused, nothing written. */
	p.lease = 8;
	run(f, kv_service_put, &p.base);
	expect_status(f, MS_GRPC_NOT_FOUND, "etcdserver: requested lease not found");
	assert_int_equal(ms_mvcc_rev(f->mvcc), 3);
	ops[0] = op_put(&o, &tp, "t", "v");
	tp.lease = 8;
	assert_int_equal(txn(f, NULL, ops, 1, NULL, 0, NULL), -1);
	expect_status(f, MS_GRPC_NOT_FOUND, "etcdserver: requested lease not found");
	assert_int_equal(ms_mvcc_rev(f->mvcc), 3);

	/* A deleted key leaves its lease; so does one deleted inside a txn. */
	p.key = bin("k2");
	p.lease = 7;
	run(f, kv_service_put, &p.base);
	tp.lease = 7;
	assert_int_equal(txn(f, NULL, ops, 1, NULL, 0, NULL), 1);
	assert_int_equal(ms_lease_key_owner(t, (const uint8_t *)"t", 1), 7);
	d.key = bin("k2");
	run(f, kv_service_delete_range, &d.base);
	expect_status(f, MS_GRPC_OK, NULL);
	assert_int_equal(ms_lease_key_owner(t, (const uint8_t *)"k2", 2), 0);
	{
		Etcdserverpb__RequestOp od, *dops[1];
		Etcdserverpb__DeleteRangeRequest dd;

		dops[0] = op_del(&od, &dd, "t", NULL);
		assert_int_equal(txn(f, NULL, dops, 1, NULL, 0, NULL), 1);
	}
	assert_int_equal(ms_lease_key_owner(t, (const uint8_t *)"t", 1), 0);
	assert_int_equal(faults, 0);
	f->svc.leases = NULL;
	ms_lease_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_compares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_writes_and_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_too_many_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_tracking, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
