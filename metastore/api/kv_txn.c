/* etcdserverpb.KV/Txn: request checks (op count, duplicate keys), compares, then/else apply. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/kv_pb.h"
#include "api/kv_service.h"

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

static int bin_cmp(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->data, b->data, n) : 0;

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static bool set_has(const struct key_set *s, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (bin_cmp(s->k[i], k) == 0)
			return true;
	return false;
}

/* Whether key k falls in one of the delete ranges. */
static bool dels_cover(const struct key_set *dels, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < dels->n; i++) {
		const ProtobufCBinaryData *end = dels->end[i];
		int c = bin_cmp(k, dels->k[i]);

		if (end->len == 0 ? c == 0
				  : c >= 0 && ((end->len == 1 && end->data[0] == 0) || bin_cmp(k, end) < 0))
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
static struct kv_pb_err check_leases(const struct kv_service *svc, Etcdserverpb__RequestOp **ops,
				     size_t n)
{
	struct kv_pb_err e = { MS_GRPC_OK, NULL };

	for (size_t i = 0; i < n && e.code == MS_GRPC_OK; i++) {
		const Etcdserverpb__RequestOp *op = ops[i];

		if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT) {
			e = kv_pb_lease_check(svc, op->request_put->lease);
		} else if (op->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN) {
			const Etcdserverpb__TxnRequest *t = op->request_txn;

			e = check_leases(svc, t->success, t->n_success);
			if (e.code == MS_GRPC_OK)
				e = check_leases(svc, t->failure, t->n_failure);
		}
	}
	return e;
}

/* --- applying ------------------------------------------------------------------------ */

struct txn_ctx {
	struct kv_service *svc;
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

		r = bin_cmp(&v, &c->value);
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

		if (!ms_mvcc_get(x->svc->mvcc, r->key.data, r->key.len, &cur)) {
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
		kv_pb_lease_put(x->svc, r->key.data, r->key.len, lease);
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
				    r->prev_kv || x->svc->leases ? &prevs : NULL);
	resp->deleted = deleted;
	if (!x->err && prevs)
		kv_pb_lease_deleted(x->svc, prevs, (size_t)deleted);
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
		x->pre = check_revisions(x->svc->mvcc, ops, n);
		if (x->pre.code == MS_GRPC_OK)
			x->pre = check_leases(x->svc, ops, n);
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

void kv_service_txn(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Etcdserverpb__TxnRequest *req;
	Etcdserverpb__TxnResponse *resp;
	struct kv_pb_arena a = { 0 };
	struct kv_pb_err e;
	struct txn_ctx x = { .svc = svc, .a = &a, .pre = { MS_GRPC_OK, NULL } };

	if (len > svc->max_request_bytes) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	req = etcdserverpb__txn_request__unpack(NULL, len, msg);
	if (!req) {
		kv_pb_bad_request(call);
		return;
	}
	e = check_txn(req, KV_MAX_TXN_OPS);
	if (e.code == MS_GRPC_OK && (check_branch_dups(req->success, req->n_success) ||
				     check_branch_dups(req->failure, req->n_failure)))
		e = (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_DUPLICATE_KEY };
	if (e.code != MS_GRPC_OK) {
		kv_pb_fail(call, e);
		goto cleanup;
	}
	x.hdr = kv_pb_header(&a, svc, 0);
	x.t = ms_mvcc_txn_begin(svc->mvcc);
	if (!x.t || !x.hdr) {
		ms_mvcc_txn_end(x.t);
		grpc_call_fault(call, x.t ? "out of memory" : "transaction already open");
		goto cleanup;
	}
	resp = apply_txn(&x, req);
	x.hdr->revision = ms_mvcc_txn_end(x.t);
	if (x.pre.code != MS_GRPC_OK) {
		/* Nothing was written: the reads of the chosen branch name a lost revision. */
		kv_pb_fail(call, x.pre);
		goto cleanup;
	}
	if (x.err == -ENOENT) {
		/* ignore_value/ignore_lease on a key the branch itself deleted. */
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND);
		goto cleanup;
	}
	if (x.err || !resp) {
		grpc_call_fault(call, "storage failure inside a transaction");
		goto cleanup;
	}
	kv_pb_reply(call, &a, &resp->base);
	kv_pb_changed(svc);
cleanup:
	kv_pb_arena_free(&a);
	etcdserverpb__txn_request__free_unpacked(req, NULL);
}
