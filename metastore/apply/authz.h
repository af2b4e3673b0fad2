/* etcd's permission rules for one request, on the auth state: used at the edge and at apply. */
#ifndef MS_APPLY_AUTHZ_H
#define MS_APPLY_AUTHZ_H

#include <stdint.h>

#include "store/auth.h"
#include "store/lease.h"
#include "auth_rpc.pb-c.h"
#include "rpc.pb-c.h"

/* etcd's error texts (rpctypes): clients match on them. */
#define ERR_AUTH_ROOT_USER "etcdserver: root user does not exist"
#define ERR_AUTH_ROOT_ROLE "etcdserver: root user does not have root role"
#define ERR_AUTH_USER_EXISTS "etcdserver: user name already exists"
#define ERR_AUTH_USER_EMPTY "etcdserver: user name is empty"
#define ERR_AUTH_USER_NOT_FOUND "etcdserver: user name not found"
#define ERR_AUTH_ROLE_EXISTS "etcdserver: role name already exists"
#define ERR_AUTH_ROLE_NOT_FOUND "etcdserver: role name not found"
#define ERR_AUTH_ROLE_EMPTY "etcdserver: role name is empty"
#define ERR_AUTH_FAILED "etcdserver: authentication failed, invalid user ID or password"
#define ERR_AUTH_DENIED "etcdserver: permission denied"
#define ERR_AUTH_ROLE_NOT_GRANTED "etcdserver: role is not granted to the user"
#define ERR_AUTH_PERM_NOT_GRANTED "etcdserver: permission is not granted to the role"
#define ERR_AUTH_NOT_ENABLED "etcdserver: authentication is not enabled"
#define ERR_AUTH_TOKEN "etcdserver: invalid auth token"
#define ERR_AUTH_MGMT "etcdserver: invalid auth management"
#define ERR_AUTH_OLD_REVISION "etcdserver: revision of auth store is old"

/* Txns nested deeper are refused outright (the edge refuses them before this, as too many
 * operations). */
#define MS_AUTHZ_TXN_MAX_DEPTH 128

/* The state a check reads (both borrowed; leases may be NULL). */
struct ms_authz {
	struct ms_auth *auth;
	struct ms_lease_table *leases;
};

/*
 * Each check returns 0 (allowed) or a negative MS_AUTH_E* / -errno (refused) for `user`
 * (NULL or "": no user). They read the state only and fire no probe.
 */

/* READ on [key, end). */
int ms_authz_read(const struct ms_authz *z, const char *user, ProtobufCBinaryData key,
		  ProtobufCBinaryData end);

/* WRITE on every key attached to `lease` (LeaseRevoke, a Put naming the lease); a user is
 * needed even for an unknown lease. */
int ms_authz_lease_keys(const struct ms_authz *z, const char *user, int64_t lease);

/* READ on every key attached to `lease` (LeaseTimeToLive listing its keys: the keys are
 * what the caller would read, the class of etcd's CVE-2023-32082). */
int ms_authz_lease_read(const struct ms_authz *z, const char *user, int64_t lease);

/* WRITE on the key, READ too with prev_kv, the lease's keys when it names one. */
int ms_authz_put(const struct ms_authz *z, const char *user, const Etcdserverpb__PutRequest *r);

/* WRITE on the range, READ too with prev_kv. */
int ms_authz_delete(const struct ms_authz *z, const char *user,
		    const Etcdserverpb__DeleteRangeRequest *r);

/* READ for every compare, and every op of both branches, recursively (depth: 0 at the top). */
int ms_authz_txn(const struct ms_authz *z, const char *user, const Etcdserverpb__TxnRequest *t,
		 unsigned depth);

/* The user itself (its own user get, password change), else the root role. */
int ms_authz_self(const struct ms_authz *z, const char *user, const char *name);

/* A role the user holds, else the root role. */
int ms_authz_role_get(const struct ms_authz *z, const char *user, const char *role);

#endif /* MS_APPLY_AUTHZ_H */
