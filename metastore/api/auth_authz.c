/* Per-call authorization: what each method needs (etcd's rules), checked before its handler. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth_rpc.pb-c.h"
#include "api/auth_service.h"
#include "store/lease.h"
#include "probe/trace.h"
#include "rpc.pb-c.h"

/* What a method needs from the caller while auth is enabled. */
enum policy {
	POLICY_NONE,    /* nothing, no check made */
	POLICY_USER,    /* a valid user */
	POLICY_ADMIN,   /* the root role */
	POLICY_REQUEST, /* depends on the request (decoded below) */
	POLICY_WATCH,   /* per watch create, not at stream open */
};

static enum policy policy_of(uint32_t method)
{
	switch (method) {
	case MS_METHOD_KV_RANGE:
	case MS_METHOD_KV_PUT:
	case MS_METHOD_KV_DELETE_RANGE:
	case MS_METHOD_KV_TXN:
	case MS_METHOD_LEASE_REVOKE:
	case MS_METHOD_AUTH_USER_GET:
	case MS_METHOD_AUTH_USER_CHANGE_PASSWORD:
	case MS_METHOD_AUTH_ROLE_GET:
		return POLICY_REQUEST;
	case MS_METHOD_WATCH_WATCH:
		return POLICY_WATCH;
	case MS_METHOD_LEASE_GRANT:
	case MS_METHOD_LEASE_KEEP_ALIVE:
	case MS_METHOD_LEASE_TIME_TO_LIVE:
	case MS_METHOD_LEASE_LEASES:
	case GRPC_METHOD_LEASE_RENEW: /* a keep-alive a follower forwards */
		return POLICY_USER;
	case MS_METHOD_UNKNOWN:
	case MS_METHOD_AUTH_AUTHENTICATE:
	case MS_METHOD_MAINT_STATUS:
	case MS_METHOD_MAINT_ALARM:
	case MS_METHOD_CLUSTER_MEMBER_LIST:
		return POLICY_NONE;
	default:
		/* Compact, Hash, HashKV, Defragment, Snapshot, MoveLeader, member changes and
		 * every other Auth method. */
		return POLICY_ADMIN;
	}
}

/* The call's user: 0 with *user NULL when it sent no token, -MS_AUTH_ETOKEN when the token
 * is unknown or expired. */
static int call_user(struct auth_service *svc, struct grpc_call *call, const char **user)
{
	*user = NULL;
	if (!call->token)
		return 0;
	if (ms_auth_tokens_lookup(ms_auth_tokens(svc->auth), call->token,
				  (int64_t)uv_now(svc->loop), user))
		return -MS_AUTH_ETOKEN;
	return 0;
}

static int check_read(struct auth_service *svc, const char *user, ProtobufCBinaryData key,
		      ProtobufCBinaryData end)
{
	return ms_auth_check_range(svc->auth, user, key.data, key.len, end.data, end.len,
				   MS_AUTH_READ);
}

static int check_write(struct auth_service *svc, const char *user, ProtobufCBinaryData key,
		       ProtobufCBinaryData end)
{
	return ms_auth_check_range(svc->auth, user, key.data, key.len, end.data, end.len,
				   MS_AUTH_WRITE);
}

/* WRITE on every key attached to `lease` (LeaseRevoke, and a Put that names the lease). */
static int check_lease_keys(struct auth_service *svc, const char *user, int64_t lease)
{
	struct ms_lease_keys keys = { 0 };
	int err;

	if (!user || !*user)
		return -MS_AUTH_EUSER_EMPTY;
	if (!lease || !svc->kv->leases)
		return 0;
	err = ms_lease_keys(svc->kv->leases, lease, &keys);
	if (err)
		return err == -ENOENT ? 0 : err; /* no such lease: the handler answers */
	for (size_t i = 0; !err && i < keys.n; i++)
		err = ms_auth_check_range(svc->auth, user, keys.v[i].key, keys.v[i].len, NULL, 0,
					  MS_AUTH_WRITE);
	ms_lease_keys_release(&keys);
	return err;
}

static int check_put(struct auth_service *svc, const char *user, const Etcdserverpb__PutRequest *r)
{
	ProtobufCBinaryData none = { 0, NULL };
	int err = check_write(svc, user, r->key, none);

	if (!err && r->prev_kv)
		err = check_read(svc, user, r->key, none);
	if (!err && r->lease)
		err = check_lease_keys(svc, user, r->lease);
	return err;
}

static int check_delete(struct auth_service *svc, const char *user,
			const Etcdserverpb__DeleteRangeRequest *r)
{
	int err = check_write(svc, user, r->key, r->range_end);

	if (!err && r->prev_kv)
		err = check_read(svc, user, r->key, r->range_end);
	return err;
}

static int check_txn(struct auth_service *svc, const char *user, const Etcdserverpb__TxnRequest *t,
		     unsigned depth);

static int check_ops(struct auth_service *svc, const char *user, Etcdserverpb__RequestOp **ops,
		     size_t n, unsigned depth)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++) {
		const Etcdserverpb__RequestOp *op = ops[i];

		switch (op->request_case) {
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
			err = check_read(svc, user, op->request_range->key,
					 op->request_range->range_end);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
			err = check_put(svc, user, op->request_put);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
			err = check_delete(svc, user, op->request_delete_range);
			break;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
			err = check_txn(svc, user, op->request_txn, depth + 1);
			break;
		default:
			break;
		}
	}
	return err;
}

/* Nested txns deeper than this are refused (protobuf-c bounds the nesting too). */
#define TXN_MAX_DEPTH 64

static int check_txn(struct auth_service *svc, const char *user, const Etcdserverpb__TxnRequest *t,
		     unsigned depth)
{
	int err = 0;

	if (depth > TXN_MAX_DEPTH)
		return -MS_AUTH_EDENIED;
	for (size_t i = 0; !err && i < t->n_compare; i++)
		err = check_read(svc, user, t->compare[i]->key, t->compare[i]->range_end);
	if (!err)
		err = check_ops(svc, user, t->success, t->n_success, depth);
	if (!err)
		err = check_ops(svc, user, t->failure, t->n_failure, depth);
	return err;
}

/* Self-service Auth reads and password changes, else the root role. */
static int check_self(struct auth_service *svc, const char *user, const char *name)
{
	if (user && *user && strcmp(user, name) == 0)
		return 0;
	return ms_auth_check_admin(svc->auth, user);
}

static int check_role_get(struct auth_service *svc, const char *user, const char *role)
{
	if (user && *user && ms_auth_has_role(svc->auth, user, role))
		return 0;
	return ms_auth_check_admin(svc->auth, user);
}

/* Decodes the request of a POLICY_REQUEST method and checks it. -EBADMSG: not decodable. */
static int check_request(struct auth_service *svc, const char *user, uint32_t method,
			 const uint8_t *msg, size_t len)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m;
	int err;

	switch (method) {
	case MS_METHOD_KV_RANGE: desc = &etcdserverpb__range_request__descriptor; break;
	case MS_METHOD_KV_PUT: desc = &etcdserverpb__put_request__descriptor; break;
	case MS_METHOD_KV_DELETE_RANGE: desc = &etcdserverpb__delete_range_request__descriptor; break;
	case MS_METHOD_KV_TXN: desc = &etcdserverpb__txn_request__descriptor; break;
	case MS_METHOD_LEASE_REVOKE: desc = &etcdserverpb__lease_revoke_request__descriptor; break;
	case MS_METHOD_AUTH_USER_GET: desc = &etcdserverpb__auth_user_get_request__descriptor; break;
	case MS_METHOD_AUTH_USER_CHANGE_PASSWORD:
		desc = &etcdserverpb__auth_user_change_password_request__descriptor;
		break;
	case MS_METHOD_AUTH_ROLE_GET: desc = &etcdserverpb__auth_role_get_request__descriptor; break;
	default: return -MS_AUTH_EDENIED;
	}
	m = msg ? protobuf_c_message_unpack(desc, NULL, len, msg) : NULL;
	if (!m)
		return -EBADMSG;
	switch (method) {
	case MS_METHOD_KV_RANGE: {
		const Etcdserverpb__RangeRequest *r = (const void *)m;

		err = check_read(svc, user, r->key, r->range_end);
		break;
	}
	case MS_METHOD_KV_PUT:
		err = check_put(svc, user, (const void *)m);
		break;
	case MS_METHOD_KV_DELETE_RANGE:
		err = check_delete(svc, user, (const void *)m);
		break;
	case MS_METHOD_KV_TXN:
		err = check_txn(svc, user, (const void *)m, 0);
		break;
	case MS_METHOD_LEASE_REVOKE:
		err = check_lease_keys(svc, user, ((const Etcdserverpb__LeaseRevokeRequest *)m)->id);
		break;
	case MS_METHOD_AUTH_USER_GET:
		err = check_self(svc, user, ((const Etcdserverpb__AuthUserGetRequest *)m)->name);
		break;
	case MS_METHOD_AUTH_USER_CHANGE_PASSWORD:
		err = check_self(svc, user,
				 ((const Etcdserverpb__AuthUserChangePasswordRequest *)m)->name);
		break;
	default:
		err = check_role_get(svc, user, ((const Etcdserverpb__AuthRoleGetRequest *)m)->role);
		break;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return err;
}

static int check_call(struct auth_service *svc, struct grpc_call *call, enum policy p,
		      const uint8_t *msg, size_t len)
{
	const char *user;
	int err = call_user(svc, call, &user);

	if (err)
		return err;
	switch (p) {
	case POLICY_USER:
		if (!user)
			return -MS_AUTH_EUSER_EMPTY;
		return 0;
	case POLICY_ADMIN:
		return ms_auth_check_admin(svc->auth, user);
	default:
		return check_request(svc, user, call->method, msg, len);
	}
}

uint32_t auth_service_authorize(struct grpc_call *call, const uint8_t *msg, size_t len,
				const char **why, void *ctx)
{
	struct auth_service *svc = ctx;
	enum policy p = policy_of(call->method);
	struct kv_pb_err e;
	int err;

	if (!ms_auth_enabled(svc->auth) || p == POLICY_NONE || p == POLICY_WATCH)
		return MS_GRPC_OK;
	err = check_call(svc, call, p, msg, len);
	ms_trace_auth_authorize(call->id, grpc_probe_method(call->method),
				err ? MS_AUTH_AUTHZ_DENIED : MS_AUTH_AUTHZ_ALLOWED);
	if (!err)
		return MS_GRPC_OK;
	if (err == -EBADMSG) {
		*why = "grpc: error unmarshalling request";
		return MS_GRPC_INTERNAL;
	}
	e = auth_service_err(err);
	*why = e.msg ? e.msg : "internal error: authorization failed";
	return e.code;
}

bool auth_service_watch_permitted(struct grpc_call *call, const uint8_t *key, size_t key_len,
				  const uint8_t *end, size_t end_len, void *ctx)
{
	struct auth_service *svc = ctx;
	const char *user;
	int err;

	if (!ms_auth_enabled(svc->auth))
		return true;
	err = call_user(svc, call, &user);
	if (!err)
		err = ms_auth_check_range(svc->auth, user, key, key_len, end, end_len, MS_AUTH_READ);
	ms_trace_auth_authorize(call->id, grpc_probe_method(call->method),
				err ? MS_AUTH_AUTHZ_DENIED : MS_AUTH_AUTHZ_ALLOWED);
	return err == 0;
}
