/* Planning a Txn before it writes (etcd's compareToPath and checkRequests). A txn cannot be
 * rolled back, so whatever can refuse it is decided here, on the store before the txn. */
#include <errno.h>
#include <stdlib.h>

#include "apply/txn_plan.h"

/* The kv's side of a numeric compare. */
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

/* The request's side: the union member of the compare's own target, else 0 (etcd's
 * compareKV). The members share storage, so only the one the union holds may be read. */
static int64_t operand_of(const Etcdserverpb__Compare *c)
{
	switch (c->target) {
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION:
		return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION
			       ? c->version : 0;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE:
		return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION
			       ? c->create_revision : 0;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD:
		return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION
			       ? c->mod_revision : 0;
	case ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE:
		return c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE
			       ? c->lease : 0;
	default:
		return 0;
	}
}

/* etcd's compareKV: an unknown target compares equal, an unknown result holds. */
static bool compare_kv(const Etcdserverpb__Compare *c, const struct ms_kv *kv)
{
	int r;

	if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE) {
		ProtobufCBinaryData v = { kv->value_len, (uint8_t *)kv->value };
		ProtobufCBinaryData none = { 0, NULL };

		r = kv_pb_bin_cmp(&v, c->target_union_case == ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE
					      ? &c->value : &none);
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
		return true;
	}
}

/* etcd's applyCompare: every key in the range must satisfy it; a missing key compares as
 * a zero kv, except that a value compare on a missing key is always false. */
static bool compare_holds(struct ms_mvcc_txn *t, const Etcdserverpb__Compare *c)
{
	struct ms_range_req q = { .key = c->key.data, .key_len = c->key.len,
				  .end = c->range_end.data, .end_len = c->range_end.len };
	struct ms_range_res res = { 0 };
	bool ok = true;

	if (ms_mvcc_txn_range(t, &q, &res))
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

static int path_push(struct ms_txn_plan *p, bool took_success)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		bool *np = realloc(p->path, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		p->path = np;
		p->cap = cap;
	}
	p->path[p->n++] = took_success;
	return 0;
}

/* Appends r's outcome and then those of the txns its chosen branch nests, in apply order. */
static int plan_path(struct ms_mvcc_txn *t, const Etcdserverpb__TxnRequest *r,
		     struct ms_txn_plan *p)
{
	Etcdserverpb__RequestOp **ops;
	bool ok = true;
	size_t n;
	int err;

	for (size_t i = 0; i < r->n_compare && ok; i++)
		ok = compare_holds(t, r->compare[i]);
	err = path_push(p, ok);
	ops = ok ? r->success : r->failure;
	n = ok ? r->n_success : r->n_failure;
	for (size_t i = 0; i < n && !err; i++)
		if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
			err = plan_path(t, ops[i]->request_txn, p);
	return err;
}

typedef struct kv_pb_err (*op_check_fn)(const struct ms_applier *ap,
					const Etcdserverpb__RequestOp *op);

/* Runs f on every non-txn op of the chosen path, in apply order, up to the first refusal;
 * *cur walks the path as apply will. */
static struct kv_pb_err walk(const struct ms_applier *ap, const struct ms_txn_plan *p,
			     size_t *cur, const Etcdserverpb__TxnRequest *r, op_check_fn f)
{
	struct kv_pb_err e = { MS_GRPC_OK, NULL };
	bool ok = *cur < p->n && p->path[*cur];
	Etcdserverpb__RequestOp **ops = ok ? r->success : r->failure;
	size_t n = ok ? r->n_success : r->n_failure;

	(*cur)++;
	for (size_t i = 0; i < n && e.code == MS_GRPC_OK; i++) {
		if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
			e = walk(ap, p, cur, ops[i]->request_txn, f);
		else
			e = f(ap, ops[i]);
	}
	return e;
}

/* etcd's checkRequestPut: ignore_value/ignore_lease need a stored key, a lease must exist. */
static struct kv_pb_err check_put(const struct ms_applier *ap, const Etcdserverpb__RequestOp *op)
{
	const Etcdserverpb__PutRequest *r = op->request_put;
	struct ms_kv cur;

	if (op->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
		return (struct kv_pb_err){ MS_GRPC_OK, NULL };
	if ((r->ignore_value || r->ignore_lease) &&
	    !ms_mvcc_get(ap->mvcc, r->key.data, r->key.len, &cur))
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND };
	return ms_apply_lease_check(ap, r->lease);
}

/* etcd's checkRequestRange: a read names a revision the store has. */
static struct kv_pb_err check_range(const struct ms_applier *ap,
				    const Etcdserverpb__RequestOp *op)
{
	int64_t rev;

	if (op->request_case != ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE)
		return (struct kv_pb_err){ MS_GRPC_OK, NULL };
	rev = op->request_range->revision;
	if (rev > ms_mvcc_rev(ap->mvcc))
		return kv_pb_mvcc_err(-MS_MVCC_EFUTURE);
	if (rev > 0 && rev < ms_mvcc_compact_rev(ap->mvcc))
		return kv_pb_mvcc_err(-MS_MVCC_ECOMPACTED);
	return (struct kv_pb_err){ MS_GRPC_OK, NULL };
}

int ms_txn_plan_make(const struct ms_applier *ap, struct ms_mvcc_txn *t,
		     const Etcdserverpb__TxnRequest *r, struct ms_txn_plan *p,
		     struct kv_pb_err *refusal)
{
	size_t cur = 0;
	int err;

	*refusal = (struct kv_pb_err){ MS_GRPC_OK, NULL };
	err = plan_path(t, r, p);
	if (err)
		return err;
	*refusal = walk(ap, p, &cur, r, check_put);
	if (refusal->code == MS_GRPC_OK) {
		cur = 0;
		*refusal = walk(ap, p, &cur, r, check_range);
	}
	/* Refused here or not at all: the edge lets no op of a txn delete a key that a later
	 * put of it reads with ignore_value/ignore_lease (a duplicate key), so a key checked
	 * above is still stored when its put applies. */
	return 0;
}

void ms_txn_plan_release(struct ms_txn_plan *p)
{
	if (!p)
		return;
	free(p->path);
	p->path = NULL;
	p->n = p->cap = 0;
}
