/* Applying Put, DeleteRange and Compact to the MVCC store, with the lease table kept in step. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"

struct kv_pb_err ms_apply_lease_check(const struct ms_applier *ap, int64_t lease)
{
	if (lease && ap->leases && !ms_lease_exists(ap->leases, lease))
		return (struct kv_pb_err){ MS_GRPC_NOT_FOUND, ERR_LEASE_NOT_FOUND };
	return (struct kv_pb_err){ MS_GRPC_OK, NULL };
}

void ms_apply_lease_put(struct ms_applier *ap, const uint8_t *key, size_t len, int64_t lease)
{
	if (!ap->leases)
		return;
	/* The lease was checked before the write; attach can only fail for memory, and then
	 * the key simply outlives its lease, as if put without one. */
	if (lease)
		ms_lease_attach(ap->leases, lease, key, len);
	else
		ms_lease_detach(ap->leases, 0, key, len);
}

void ms_apply_lease_deleted(struct ms_applier *ap, const struct ms_kv *kvs, size_t n)
{
	for (size_t i = 0; ap->leases && i < n; i++)
		if (kvs[i].lease)
			ms_lease_detach(ap->leases, kvs[i].lease, kvs[i].key, kvs[i].key_len);
}

/* Resolves ignore_value / ignore_lease against the key's current state (copying the value:
 * the put is about to replace what it points at). */
static struct kv_pb_err put_resolve(struct ms_applier *ap, struct kv_pb_arena *a,
				    const Etcdserverpb__PutRequest *r, const uint8_t **val,
				    size_t *val_len, int64_t *lease)
{
	struct ms_kv cur;

	*val = r->value.data;
	*val_len = r->value.len;
	*lease = r->lease;
	if (!r->ignore_value && !r->ignore_lease)
		return (struct kv_pb_err){ MS_GRPC_OK, NULL };
	if (!ms_mvcc_get(ap->mvcc, r->key.data, r->key.len, &cur))
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND };
	if (r->ignore_value) {
		uint8_t *copy = kv_pb_alloc(a, cur.value_len);

		if (!copy)
			return (struct kv_pb_err){ MS_GRPC_INTERNAL, NULL };
		if (cur.value_len)
			memcpy(copy, cur.value, cur.value_len);
		*val = copy;
		*val_len = cur.value_len;
	}
	if (r->ignore_lease)
		*lease = cur.lease;
	return (struct kv_pb_err){ MS_GRPC_OK, NULL };
}

void ms_apply_put(struct ms_applier *ap, const Etcdserverpb__PutRequest *r,
		  struct ms_apply_res *res)
{
	Etcdserverpb__PutResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	struct ms_kv prev;
	struct kv_pb_err e;
	const uint8_t *val;
	size_t val_len;
	int64_t lease, rev;
	bool had_prev = false;
	int err;

	if (!resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__put_response__init(resp);
	e = put_resolve(ap, &res->arena, r, &val, &val_len, &lease);
	if (e.code == MS_GRPC_OK)
		e = ms_apply_lease_check(ap, lease);
	if (e.code != MS_GRPC_OK) {
		ms_apply_res_fail(res, e.code, e.msg);
		return;
	}
	err = ms_mvcc_put(ap->mvcc, r->key.data, r->key.len, val, val_len, lease,
			  r->prev_kv ? &prev : NULL, &had_prev, &rev);
	if (err) {
		e = kv_pb_mvcc_err(err);
		ms_apply_res_fail(res, e.code, e.msg);
		return;
	}
	/* a copy: the response is packed after later entries may have changed the store */
	if (r->prev_kv && had_prev)
		resp->prev_kv = kv_pb_kv_copy(&res->arena, &prev);
	resp->header = kv_pb_rev_header(&res->arena, rev);
	ms_apply_res_ok(res, &resp->base, resp->header);
	ms_apply_lease_put(ap, r->key.data, r->key.len, lease);
	ms_apply_changed(ap);
}

void ms_apply_delete(struct ms_applier *ap, const Etcdserverpb__DeleteRangeRequest *r,
		     struct ms_apply_res *res)
{
	Etcdserverpb__DeleteRangeResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	struct ms_kv *prevs = NULL;
	int64_t deleted = 0, rev;
	int err;

	if (!resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__delete_range_response__init(resp);
	err = ms_mvcc_delete(ap->mvcc, r->key.data, r->key.len, r->range_end.data,
			     r->range_end.len, &deleted,
			     /* the deleted keys also leave their leases */
			     r->prev_kv || ap->leases ? &prevs : NULL, &rev);
	if (err) {
		struct kv_pb_err e = kv_pb_mvcc_err(err);

		ms_apply_res_fail(res, e.code, e.msg);
		free(prevs);
		return;
	}
	resp->deleted = deleted;
	if (r->prev_kv && prevs && deleted) {
		resp->prev_kvs = kv_pb_alloc(&res->arena, (size_t)deleted * sizeof(*resp->prev_kvs));
		for (int64_t i = 0; resp->prev_kvs && i < deleted; i++)
			resp->prev_kvs[i] = kv_pb_kv_copy(&res->arena, &prevs[i]);
		resp->n_prev_kvs = resp->prev_kvs ? (size_t)deleted : 0;
	}
	resp->header = kv_pb_rev_header(&res->arena, rev);
	ms_apply_res_ok(res, &resp->base, resp->header);
	if (prevs)
		ms_apply_lease_deleted(ap, prevs, (size_t)deleted);
	if (deleted)
		ms_apply_changed(ap);
	free(prevs);
}

void ms_apply_compact(struct ms_applier *ap, const Etcdserverpb__CompactionRequest *r,
		      struct ms_apply_res *res)
{
	Etcdserverpb__CompactionResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	int err;

	if (!resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__compaction_response__init(resp);
	err = ms_mvcc_compact(ap->mvcc, r->revision);
	if (err) {
		struct kv_pb_err e = kv_pb_mvcc_err(err);

		ms_apply_res_fail(res, e.code, e.msg);
		return;
	}
	resp->header = kv_pb_rev_header(&res->arena, ms_mvcc_rev(ap->mvcc));
	ms_apply_res_ok(res, &resp->base, resp->header);
	ms_apply_changed(ap);
}
