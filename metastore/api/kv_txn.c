/* etcdserverpb.KV/Txn at the edge: nesting, op count and duplicate keys checked, then proposed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/reply.h"
#include "api/kv_service.h"
#include "api/propose.h"
#include "api/quota.h"
#include "apply/txn_depth.h"

/* --- checks before anything is applied (etcd's checkTxnRequest / checkIntervals) ------- */

static struct kv_pb_err check_txn(const Etcdserverpb__TxnRequest *t, size_t max_ops);

static struct kv_pb_err check_op(const Etcdserverpb__RequestOp *op, size_t max_ops)
{
	static const struct kv_pb_err ok = { MS_GRPC_OK, NULL };
	static const struct kv_pb_err empty = { MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY };

	switch (op->request_case) {
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
		if (!op->request_range->key.len)
			return empty;
		/* The store refuses unknown sort options; refuse them before anything is written,
		 * with the status a plain Range gets, not as a storage fault mid-transaction. */
		if ((unsigned)op->request_range->sort_order > MS_SORT_DESCEND ||
		    (unsigned)op->request_range->sort_target > MS_SORT_VALUE)
			return kv_pb_mvcc_err(-EINVAL);
		return ok;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
		if (!op->request_put->key.len)
			return empty;
		if (op->request_put->ignore_value && op->request_put->value.len)
			return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_VALUE_PROVIDED };
		if (op->request_put->ignore_lease && op->request_put->lease)
			return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_LEASE_PROVIDED };
		return ok;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
		return op->request_delete_range->key.len ? ok : empty;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
		return check_txn(op->request_txn, max_ops);
	default:
		return ok;
	}
}

static struct kv_pb_err check_txn(const Etcdserverpb__TxnRequest *t, size_t max_ops)
{
	size_t opc = t->n_compare;
	struct kv_pb_err e = { MS_GRPC_OK, NULL };

	if (opc < t->n_success)
		opc = t->n_success;
	if (opc < t->n_failure)
		opc = t->n_failure;
	if (opc > max_ops)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_TOO_MANY_OPS };
	for (size_t i = 0; i < t->n_compare; i++) {
		if (!t->compare[i]->key.len)
			return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY };
	}
	for (size_t i = 0; i < t->n_success && e.code == MS_GRPC_OK; i++)
		e = check_op(t->success[i], max_ops - opc);
	for (size_t i = 0; i < t->n_failure && e.code == MS_GRPC_OK; i++)
		e = check_op(t->failure[i], max_ops - opc);
	return e;
}

struct key_set {
	const ProtobufCBinaryData **k;
	const ProtobufCBinaryData **end; /* deletes: range end (len 0: single key) */
	size_t n, cap;
};

static int set_add(struct key_set *s, const ProtobufCBinaryData *k, const ProtobufCBinaryData *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		const ProtobufCBinaryData **nk = realloc(s->k, cap * sizeof(*nk));
		const ProtobufCBinaryData **ne;

		if (!nk)
			return -ENOMEM;
		s->k = nk;
		ne = realloc(s->end, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		s->end = ne;
		s->cap = cap;
	}
	s->k[s->n] = k;
	s->end[s->n] = e;
	s->n++;
	return 0;
}

static void set_free(struct key_set *s)
{
	free(s->k);
	free(s->end);
}

static bool set_has(const struct key_set *s, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (kv_pb_bin_cmp(s->k[i], k) == 0)
			return true;
	return false;
}

/* Whether key k falls in one of the delete ranges. */
static bool dels_cover(const struct key_set *dels, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < dels->n; i++) {
		const ProtobufCBinaryData *end = dels->end[i];
		int c = kv_pb_bin_cmp(k, dels->k[i]);

		if (end->len == 0 ? c == 0
				  : c >= 0 && ((end->len == 1 && end->data[0] == 0) || kv_pb_bin_cmp(k, end) < 0))
			return true;
	}
	return false;
}

/*
 * A key may be put at most once by whatever a branch can run, and not also deleted by it;
 * the then/else branches of a nested txn exclude each other, so one key in both is fine.
 * Fills puts/dels with what `ops` may write. Returns 1 on a duplicate, 0, or -ENOMEM.
 */
static int check_intervals(Etcdserverpb__RequestOp **ops, size_t n, struct key_set *puts,
			   struct key_set *dels)
{
	int rv = 0;

	for (size_t i = 0; i < n && !rv; i++) {
		const Etcdserverpb__DeleteRangeRequest *d = ops[i]->request_delete_range;

		if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE)
			rv = set_add(dels, &d->key, &d->range_end);
	}
	for (size_t i = 0; i < n && !rv; i++) {
		const Etcdserverpb__TxnRequest *t = ops[i]->request_txn;
		struct key_set pt = { 0 }, dt = { 0 }, pe = { 0 }, de = { 0 };

		if (ops[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
			continue;
		rv = check_intervals(t->success, t->n_success, &pt, &dt);
		if (!rv)
			rv = check_intervals(t->failure, t->n_failure, &pe, &de);
		for (size_t k = 0; k < pt.n && !rv; k++) {
			rv = set_has(puts, pt.k[k]) || dels_cover(dels, pt.k[k]);
			if (!rv)
				rv = set_add(puts, pt.k[k], pt.end[k]);
		}
		for (size_t k = 0; k < pe.n && !rv; k++) {
			rv = (set_has(puts, pe.k[k]) && !set_has(&pt, pe.k[k])) ||
			     dels_cover(dels, pe.k[k]);
			if (!rv)
				rv = set_add(puts, pe.k[k], pe.end[k]);
		}
		for (size_t k = 0; k < dt.n && !rv; k++)
			rv = set_add(dels, dt.k[k], dt.end[k]);
		for (size_t k = 0; k < de.n && !rv; k++)
			rv = set_add(dels, de.k[k], de.end[k]);
		set_free(&pt);
		set_free(&dt);
		set_free(&pe);
		set_free(&de);
	}
	for (size_t i = 0; i < n && !rv; i++) {
		const Etcdserverpb__PutRequest *p = ops[i]->request_put;

		if (ops[i]->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
			continue;
		rv = set_has(puts, &p->key) || dels_cover(dels, &p->key);
		if (!rv)
			rv = set_add(puts, &p->key, &p->value);
	}
	return rv;
}

static int check_branch_dups(Etcdserverpb__RequestOp **ops, size_t n)
{
	struct key_set puts = { 0 }, dels = { 0 };
	int rv = check_intervals(ops, n, &puts, &dels);

	set_free(&puts);
	set_free(&dels);
	return rv;
}

void kv_service_txn(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	struct kv_pb_arena a = { 0 };
	ProtobufCAllocator alloc = kv_pb_allocator(&a);
	Etcdserverpb__TxnRequest *req;
	struct kv_pb_err err;
	int depth;

	if (len > svc->max_request_bytes) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	/* Each nesting level takes at least one of the KV_MAX_TXN_OPS operations etcd allows
	 * (its checkTxnRequest budget), so deeper txns are too many operations; refused before
	 * protobuf-c unpacks them (recursively). */
	depth = ms_txn_depth(msg, len, KV_MAX_TXN_OPS + 1);
	if (depth > KV_MAX_TXN_OPS) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_MANY_OPS);
		return;
	}
	req = depth < 0 ? NULL : etcdserverpb__txn_request__unpack(&alloc, len, msg);
	if (!req) {
		kv_pb_arena_free(&a);
		api_bad_request(call);
		return;
	}
	err = check_txn(req, KV_MAX_TXN_OPS);
	if (err.code == MS_GRPC_OK && (check_branch_dups(req->success, req->n_success) ||
				       check_branch_dups(req->failure, req->n_failure)))
		err = (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_DUPLICATE_KEY };
	if (err.code != MS_GRPC_OK) {
		api_fail(call, err);
	} else if (!api_quota_refuse(svc, call, api_quota_txn_cost(req))) {
		e.op_case = METASTORE__ENTRY__OP_TXN;
		e.txn = req;
		api_propose(svc, call, &e, msg, len);
	}
	kv_pb_arena_free(&a);
}
