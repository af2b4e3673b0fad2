/* Applying LeaseGrant, LeaseRevoke and lease expiry: the lease table and the keys it owns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"

#define ERR_LEASE_EXISTS "etcdserver: lease already exists"
#define ERR_LEASE_TTL_TOO_LARGE "etcdserver: too large lease TTL"
#define ERR_TOO_MANY_LEASES "etcdserver: too many leases (--max-leases)"

static int64_t now_ms(const struct ms_applier *ap)
{
	return ap->now_ms ? ap->now_ms(ap->clock_arg) : 0;
}

int64_t ms_apply_delete_lease_keys(struct ms_applier *ap, const struct ms_lease_keys *keys)
{
	struct ms_mvcc_txn *t;
	int64_t rev;

	if (!keys->n)
		return ms_mvcc_rev(ap->mvcc);
	t = ms_mvcc_txn_begin(ap->mvcc);
	for (size_t i = 0; t && i < keys->n; i++) {
		int64_t deleted;

		ms_mvcc_txn_delete(t, keys->v[i].key, keys->v[i].len, NULL, 0, &deleted, NULL);
	}
	rev = t ? ms_mvcc_txn_end(t) : ms_mvcc_rev(ap->mvcc);
	ms_apply_changed(ap);
	return rev;
}

void ms_apply_lease_grant(struct ms_applier *ap, const Metastore__LeaseGrant *g,
			  struct ms_apply_res *res)
{
	const Etcdserverpb__LeaseGrantRequest *r = g->request;
	Etcdserverpb__LeaseGrantResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	int err;

	if (!resp || !ap->leases || !r) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__lease_grant_response__init(resp);
	/* the count is replicated state and the limit rides in the entry, so every member
	 * refuses the same grants */
	if (g->max_leases && ms_lease_count(ap->leases) >= g->max_leases) {
		ms_apply_res_fail(res, MS_GRPC_RESOURCE_EXHAUSTED, ERR_TOO_MANY_LEASES);
		return;
	}
	/* ids are drawn from the replicated generator: every member draws the same one */
	err = ms_lease_grant(ap->leases, r->id, r->ttl, now_ms(ap), &resp->id, &resp->ttl);
	if (err == -EEXIST)
		ms_apply_res_fail(res, MS_GRPC_FAILED_PRECONDITION, ERR_LEASE_EXISTS);
	else if (err == -EINVAL)
		ms_apply_res_fail(res, MS_GRPC_OUT_OF_RANGE, ERR_LEASE_TTL_TOO_LARGE);
	else if (err)
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
	if (err)
		return;
	resp->header = kv_pb_rev_header(&res->arena, ms_mvcc_rev(ap->mvcc));
	ms_apply_res_ok(res, &resp->base, resp->header);
	if (ap->lease_granted)
		ap->lease_granted(ap->lease_arg);
}

void ms_apply_lease_revoke(struct ms_applier *ap, int64_t id, bool expired,
			   struct ms_apply_res *res)
{
	Etcdserverpb__LeaseRevokeResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	struct ms_lease_keys keys = { 0 };
	int err;

	if (!resp || !ap->leases) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__lease_revoke_response__init(resp);
	/* an expiry counts as one in the probes; both delete the keys in one revision */
	err = expired ? ms_lease_revoke_expired(ap->leases, id, &keys) :
			ms_lease_revoke(ap->leases, id, &keys);
	if (err) {
		ms_apply_res_fail(res, MS_GRPC_NOT_FOUND, ERR_LEASE_NOT_FOUND);
		ms_lease_keys_release(&keys);
		return;
	}
	resp->header = kv_pb_rev_header(&res->arena, ms_apply_delete_lease_keys(ap, &keys));
	ms_apply_res_ok(res, &resp->base, resp->header);
	ms_lease_keys_release(&keys);
}
