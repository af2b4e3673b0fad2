/* Applying a Txn: compares, then the chosen branch's ops in one revision (etcd's applyTxn). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"

/* Reads of the chosen branch must name a revision the store still has: checked after the
 * compares and before any write, as etcd does, since a txn cannot be rolled back. */
static struct kv_pb_err check_revisions(struct ms_mvcc *s, Etcdserverpb__RequestOp **ops, size_t n)
{
	struct kv_pb_err e = { MS_GRPC_OK, NULL };

	for (size_t i = 0; i < n && e.code == MS_GRPC_OK; i++) {
		const Etcdserverpb__RequestOp *op = ops[i];

		if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE) {
			int64_t rev = op->request_range->revision;

			if (rev > ms_mvcc_rev(s))
				e = kv_pb_mvcc_err(-MS_MVCC_EFUTURE);
			else if (rev > 0 && rev < ms_mvcc_compact_rev(s))
				e = kv_pb_mvcc_err(-MS_MVCC_ECOMPACTED);
		} else if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN) {
			const Etcdserverpb__TxnRequest *t = op->request_txn;

			e = check_revisions(s, t->success, t->n_success);
			if (e.code == MS_GRPC_OK)
				e = check_revisions(s, t->failure, t->n_failure);
		}
	}
	return e;
}

/* Puts of the chosen branch (and of nested txns, either way) must name existing leases. */
static struct kv_pb_err check_leases(const struct ms_applier *ap, Etcdserverpb__RequestOp **ops,
				     size_t n)
{
	struct kv_pb_err e = { MS_GRPC_OK, NULL };

	for (size_t i = 0; i < n && e.code == MS_GRPC_OK; i++) {
		const Etcdserverpb__RequestOp *op = ops[i];

		if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT) {
			e = ms_apply_lease_check(ap, op->request_put->lease);
		} else if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN) {
			const Etcdserverpb__TxnRequest *t = op->request_txn;

			e = check_leases(ap, t->success, t->n_success);
			if (e.code == MS_GRPC_OK)
				e = check_leases(ap, t->failure, t->n_failure);
		}
	}
	return e;
}

/* --- applying ------------------------------------------------------------------------ */

struct txn_ctx {
	struct ms_applier *ap;
	struct ms_mvcc_txn *t;
	struct kv_pb_arena *a;
	Etcdserverpb__ResponseHeader *hdr; /* shared by every sub-response */
	int err;                           /* first store failure */
	int depth;                         /* nesting of txn requests */
	struct kv_pb_err pre;              /* request error found before any write */
};

static int64_t target_of(const Etcdserverpb__Compare *c, const struct ms_kv *kv)
{
	switch (c->target) {
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION:
		return kv->version;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE:
		return kv->create_rev;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD:
		return kv->mod_rev;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE:
		return kv->lease;
	default:
		return 0;
	}
}

static int64_t operand_of(const Etcdserverpb__Compare *c)
{
	switch (c->target_union_case) {
	case ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION:
		return c->version;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION:
		return c->create_revision;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION:
		return c->mod_revision;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE:
		return c->lease;
	default:
		return 0;
	}
}

static bool compare_kv(const Etcdserverpb__Compare *c, const struct ms_kv *kv)
{
	int r;

	if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE) {
		ProtobufCBinaryData v = { kv->value_len, (uint8_t *)kv->value };

		r = kv_pb_bin_cmp(&v, &c->value);
	} else {
		int64_t a = target_of(c, kv), b = operand_of(c);

		r = (a > b) - (a < b);
	}
	switch (c->result) {
	case ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL:
		return r == 0;
	case ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER:
		return r > 0;
	case ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS:
		return r < 0;
	case ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL:
		return r != 0;
	default:
		return false;
	}
}

/* etcd's applyCompare: every key in the range must satisfy it; a missing key compares as
 * a zero kv, except that a value compare on a missing key is always false. */
static bool compare_holds(struct txn_ctx *x, const Etcdserverpb__Compare *c)
{
	struct ms_range_req q = { .key = c->key.data, .key_len = c->key.len,
				  .end = c->range_end.data, .end_len = c->range_end.len };
	struct ms_range_res res = { 0 };
	bool ok = true;

	if (ms_mvcc_txn_range(x->t, &q, &res))
		return false;
	if (res.n == 0) {
		struct ms_kv zero = { 0 };

		ok = c->target != ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE &&
		     compare_kv(c, &zero);
	}
	for (size_t i = 0; i < res.n && ok; i++)
		ok = compare_kv(c, &res.kvs[i]);
	ms_range_res_release(&res);
	return ok;
}

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
	bool ok = true;

	if (!resp)
		return NULL;
	etcdserverpb__txn_response__init(resp);
	resp->header = x->hdr;
	for (size_t i = 0; i < r->n_compare && ok; i++)
		ok = compare_holds(x, r->compare[i]);
	resp->succeeded = ok;
	ops = ok ? r->success : r->failure;
	n = ok ? r->n_success : r->n_failure;
	if (x->depth++ == 0) {
		x->pre = check_revisions(x->ap->mvcc, ops, n);
		if (x->pre.code == MS_GRPC_OK)
			x->pre = check_leases(x->ap, ops, n);
		if (x->pre.code != MS_GRPC_OK)
			return resp;
	}
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
	struct txn_ctx x = { .ap = ap, .a = &res->arena, .pre = { MS_GRPC_OK, NULL } };

	x.hdr = kv_pb_rev_header(&res->arena, 0);
	x.t = ms_mvcc_txn_begin(ap->mvcc);
	if (!x.t || !x.hdr) {
		ms_mvcc_txn_end(x.t);
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	resp = apply_txn(&x, req);
	x.hdr->revision = ms_mvcc_txn_end(x.t);
	if (x.pre.code != MS_GRPC_OK) {
		/* Nothing was written: the reads of the chosen branch name a lost revision. */
		ms_apply_res_fail(res, x.pre.code, x.pre.msg);
		return;
	}
	if (x.err == -ENOENT) {
		/* ignore_value/ignore_lease on a key the branch itself deleted. */
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
