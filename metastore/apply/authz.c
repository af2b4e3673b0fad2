/* etcd's permission rules for one request, on the auth state: used at the edge and at apply. */
#include "apply/authz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ms_authz_read(const struct ms_authz *z, const char *user, ProtobufCBinaryData key,
		      ProtobufCBinaryData end)
{
	return ms_auth_check_range(z->auth, user, key.data, key.len, end.data, end.len,
				   MS_AUTH_READ);
}

static int check_write(const struct ms_authz *z, const char *user, ProtobufCBinaryData key,
		       ProtobufCBinaryData end)
{
	return ms_auth_check_range(z->auth, user, key.data, key.len, end.data, end.len,
				   MS_AUTH_WRITE);
}

/* WRITE on every key attached to `lease` (LeaseRevoke, and a Put that names the lease). */
/* `type` on every key attached to `lease`; a user is needed even for an unknown lease. */
static int lease_keys_permit(const struct ms_authz *z, const char *user, int64_t lease,
			     enum ms_auth_perm_type type)
{
	struct ms_lease_keys keys = { 0 };
	int err;

	if (!user || !*user)
		return -MS_AUTH_EUSER_EMPTY;
	if (!lease || !z->leases)
		return 0;
	err = ms_lease_keys(z->leases, lease, &keys);
	if (err)
		return err == -ENOENT ? 0 : err; /* no such lease: the handler answers */
	for (size_t i = 0; !err && i < keys.n; i++)
		err = ms_auth_check_range(z->auth, user, keys.v[i].key, keys.v[i].len, NULL, 0,
					  type);
	ms_lease_keys_release(&keys);
	return err;
}

int ms_authz_lease_keys(const struct ms_authz *z, const char *user, int64_t lease)
{
	return lease_keys_permit(z, user, lease, MS_AUTH_WRITE);
}

int ms_authz_lease_read(const struct ms_authz *z, const char *user, int64_t lease)
{
	return lease_keys_permit(z, user, lease, MS_AUTH_READ);
}

int ms_authz_put(const struct ms_authz *z, const char *user, const Etcdserverpb__PutRequest *r)
{
	ProtobufCBinaryData none = { 0, NULL };
	int err = check_write(z, user, r->key, none);

	if (!err && r->prev_kv)
		err = ms_authz_read(z, user, r->key, none);
	if (!err && r->lease)
		err = ms_authz_lease_keys(z, user, r->lease);
	return err;
}

int ms_authz_delete(const struct ms_authz *z, const char *user,
			const Etcdserverpb__DeleteRangeRequest *r)
{
	int err = check_write(z, user, r->key, r->range_end);

	if (!err && r->prev_kv)
		err = ms_authz_read(z, user, r->key, r->range_end);
	return err;
}

static int check_ops(const struct ms_authz *z, const char *user, Etcdserverpb__RequestOp **ops,
		     size_t n, unsigned depth)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++) {
		const Etcdserverpb__RequestOp *op = ops[i];

		switch (op->request_case) {
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
			err = ms_authz_read(z, user, op->request_range->key,
					 op->request_range->range_end);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
			err = ms_authz_put(z, user, op->request_put);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
			err = ms_authz_delete(z, user, op->request_delete_range);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
			err = ms_authz_txn(z, user, op->request_txn, depth + 1);
			break;
		default:
			break;
		}
	}
	return err;
}

int ms_authz_txn(const struct ms_authz *z, const char *user, const Etcdserverpb__TxnRequest *t,
		     unsigned depth)
{
	int err = 0;

	if (depth > MS_AUTHZ_TXN_MAX_DEPTH)
		return -MS_AUTH_EDENIED;
	for (size_t i = 0; !err && i < t->n_compare; i++)
		err = ms_authz_read(z, user, t->compare[i]->key, t->compare[i]->range_end);
	if (!err)
		err = check_ops(z, user, t->success, t->n_success, depth);
	if (!err)
		err = check_ops(z, user, t->failure, t->n_failure, depth);
	return err;
}

/* Self-service Auth reads and password changes, else the root role. */
int ms_authz_self(const struct ms_authz *z, const char *user, const char *name)
{
	if (user && *user && strcmp(user, name) == 0)
		return 0;
	return ms_auth_check_admin(z->auth, user);
}

int ms_authz_role_get(const struct ms_authz *z, const char *user, const char *role)
{
	if (user && *user && ms_auth_has_role(z->auth, user, role))
		return 0;
	return ms_auth_check_admin(z->auth, user);
}

