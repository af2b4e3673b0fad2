/* Applying a Txn: the branches its plan chose, their ops in one revision (etcd's applyTxn). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/txn_plan.h"

struct txn_ctx {
	struct ms_applier *ap;
	struct ms_mvcc_txn *t;
	struct kv_pb_arena *a;
	Etcdserverpb__ResponseHeader *hdr; /* shared by every sub-response */
	int err;                           /* first store failure */
	const struct ms_txn_plan *plan;    /* the branch each txn takes */
	size_t cur;                        /* the next txn's place in the plan */
};

static Etcdserverpb__TxnResponse *apply_txn(struct txn_ctx *x, const Etcdserverpb__TxnRequest *r);

static Etcdserverpb__RangeResponse *apply_range(struct txn_ctx *x,
						const Etcdserverpb__RangeRequest *r)
{
	Etcdserverpb__RangeResponse *resp = kv_pb_alloc(x->a, sizeof(*resp));
	struct ms_range_res res = { 0 };
	struct ms_range_req q;
	int err;

	if (!resp)
		return NULL;
	etcdserverpb__range_response__init(resp);
	resp->header = x->hdr;
	kv_pb_range_req(r, &q);
	err = ms_mvcc_txn_range(x->t, &q, &res);
	if (err) {
		x->err = err;
		return resp;
	}
	/* Copies: a later write of the same txn may move what the result points at. */
	resp->kvs = kv_pb_alloc(x->a, res.n * sizeof(*resp->kvs));
	for (size_t i = 0; resp->kvs && i < res.n; i++)
		resp->kvs[i] = kv_pb_kv_copy(x->a, &res.kvs[i]);
	resp->n_kvs = resp->kvs ? res.n : 0;
	resp->count = res.count;
	resp->more = res.more;
	ms_range_res_release(&res);
	return resp;
}

static Etcdserverpb__PutResponse *apply_put(struct txn_ctx *x, const Etcdserverpb__PutRequest *r)
{
	Etcdserverpb__PutResponse *resp = kv_pb_alloc(x->a, sizeof(*resp));
	const uint8_t *val = r->value.data;
	size_t val_len = r->value.len;
	int64_t lease = r->lease;
	struct ms_kv prev, cur;
	bool had_prev = false;

	if (!resp)
		return NULL;
	etcdserverpb__put_response__init(resp);
	resp->header = x->hdr;
	if (r->ignore_value || r->ignore_lease) {
		uint8_t *copy;

		if (!ms_mvcc_get(x->ap->mvcc, r->key.data, r->key.len, &cur)) {
			x->err = -ENOENT;
			return resp;
		}
		if (r->ignore_value) {
			copy = kv_pb_alloc(x->a, cur.value_len);
			if (!copy)
				return NULL;
			/* an empty value may have no bytes at all: memcpy from NULL is undefined */
			if (cur.value_len)
				memcpy(copy, cur.value, cur.value_len);
			val = copy;
			val_len = cur.value_len;
		}
		if (r->ignore_lease)
			lease = cur.lease;
	}
	x->err = ms_mvcc_txn_put(x->t, r->key.data, r->key.len, val, val_len, lease,
				 r->prev_kv ? &prev : NULL, &had_prev);
	if (!x->err && r->prev_kv && had_prev)
		resp->prev_kv = kv_pb_kv_copy(x->a, &prev);
	if (!x->err)
		ms_apply_lease_put(x->ap, r->key.data, r->key.len, lease);
	return resp;
}

static Etcdserverpb__DeleteRangeResponse *apply_delete(struct txn_ctx *x,
						       const Etcdserverpb__DeleteRangeRequest *r)
{
	Etcdserverpb__DeleteRangeResponse *resp = kv_pb_alloc(x->a, sizeof(*resp));
	struct ms_kv *prevs = NULL;
	int64_t deleted = 0;

	if (!resp)
		return NULL;
	etcdserverpb__delete_range_response__init(resp);
	resp->header = x->hdr;
	x->err = ms_mvcc_txn_delete(x->t, r->key.data, r->key.len, r->range_end.data,
				    r->range_end.len, &deleted,
				    r->prev_kv || x->ap->leases ? &prevs : NULL);
	resp->deleted = deleted;
	if (!x->err && prevs)
		ms_apply_lease_deleted(x->ap, prevs, (size_t)deleted);
	if (!x->err && r->prev_kv && prevs && deleted) {
		resp->prev_kvs = kv_pb_alloc(x->a, (size_t)deleted * sizeof(*resp->prev_kvs));
		for (int64_t i = 0; resp->prev_kvs && i < deleted; i++)
			resp->prev_kvs[i] = kv_pb_kv_copy(x->a, &prevs[i]);
		resp->n_prev_kvs = resp->prev_kvs ? (size_t)deleted : 0;
	}
	free(prevs);
	return resp;
}

static Etcdserverpb__ResponseOp *apply_op(struct txn_ctx *x, const Etcdserverpb__RequestOp *op)
{
	Etcdserverpb__ResponseOp *r = kv_pb_alloc(x->a, sizeof(*r));

	if (!r)
		return NULL;
	etcdserverpb__response_op__init(r);
	switch (op->request_case) {
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
		r->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
		r->response_range = apply_range(x, op->request_range);
		break;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
		r->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
		r->response_put = apply_put(x, op->request_put);
		break;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
		r->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
		r->response_delete_range = apply_delete(x, op->request_delete_range);
		break;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
		r->response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN;
		r->response_txn = apply_txn(x, op->request_txn);
		break;
	default:
		/* An empty RequestOp: etcd answers it with an empty ResponseOp. */
		break;
	}
	return r;
}

static Etcdserverpb__TxnResponse *apply_txn(struct txn_ctx *x, const Etcdserverpb__TxnRequest *r)
{
	Etcdserverpb__TxnResponse *resp = kv_pb_alloc(x->a, sizeof(*resp));
	Etcdserverpb__RequestOp **ops;
	size_t n;
	bool ok;

	if (!resp)
		return NULL;
	etcdserverpb__txn_response__init(resp);
	resp->header = x->hdr;
	/* the compares were decided by the plan, on the store before this txn wrote */
	ok = x->cur < x->plan->n && x->plan->path[x->cur];
	x->cur++;
	resp->succeeded = ok;
	ops = ok ? r->success : r->failure;
	n = ok ? r->n_success : r->n_failure;
	resp->responses = kv_pb_alloc(x->a, n * sizeof(*resp->responses));
	if (!resp->responses)
		return resp;
	for (size_t i = 0; i < n && !x->err; i++)
		resp->responses[i] = apply_op(x, ops[i]);
	resp->n_responses = n;
	return resp;
}

void ms_apply_txn(struct ms_applier *ap, const Etcdserverpb__TxnRequest *req,
		  struct ms_apply_res *res)
{
	Etcdserverpb__TxnResponse *resp;
	struct ms_txn_plan plan = { 0 };
	struct txn_ctx x = { .ap = ap, .a = &res->arena, .plan = &plan };
	struct kv_pb_err refusal;

	x.hdr = kv_pb_rev_header(&res->arena, 0);
	x.t = ms_mvcc_txn_begin(ap->mvcc);
	if (!x.t || !x.hdr || ms_txn_plan_make(ap, x.t, req, &plan, &refusal)) {
		ms_mvcc_txn_end(x.t);
		ms_txn_plan_release(&plan);
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	if (refusal.code != MS_GRPC_OK) {
		/* nothing was written: the txn is refused whole, as etcd refuses it */
		ms_mvcc_txn_end(x.t);
		ms_txn_plan_release(&plan);
		ms_apply_res_fail(res, refusal.code, refusal.msg);
		return;
	}
	resp = apply_txn(&x, req);
	x.hdr->revision = ms_mvcc_txn_end(x.t);
	ms_txn_plan_release(&plan);
	if (x.err == -ENOENT) {
		/* ignore_value/ignore_lease on a key the txn itself deleted: the edge refuses
		 * that as a duplicate key, so only an entry from elsewhere gets here */
		ms_apply_res_fail(res, MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND);
		return;
	}
	if (x.err || !resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	ms_apply_res_ok(res, &resp->base, x.hdr);
	ms_apply_changed(ap);
}
