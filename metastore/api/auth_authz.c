/* Per-call authorization: what each method needs (etcd's rules), checked before its handler. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth_rpc.pb-c.h"
#include "api/auth_service.h"
#include "apply/authz.h"
#include "raft/raftnode.h"
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
	POLICY_MEMBER,  /* a member's proof, else the root role */
};

static enum policy policy_of(uint32_t method)
{
	switch (method) {
	case MS_METHOD_KV_RANGE:
	case MS_METHOD_KV_PUT:
	case MS_METHOD_KV_DELETE_RANGE:
	case MS_METHOD_KV_TXN:
	case MS_METHOD_LEASE_REVOKE:
	case MS_METHOD_LEASE_TIME_TO_LIVE:
	case MS_METHOD_AUTH_USER_GET:
	case MS_METHOD_AUTH_USER_CHANGE_PASSWORD:
	case MS_METHOD_AUTH_ROLE_GET:
		return POLICY_REQUEST;
	case MS_METHOD_WATCH_WATCH:
		return POLICY_WATCH;
	case MS_METHOD_LEASE_GRANT:
	case MS_METHOD_LEASE_KEEP_ALIVE:
	case MS_METHOD_LEASE_LEASES:
	case GRPC_METHOD_LEASE_RENEW: /* a keep-alive a follower forwards */
		return POLICY_USER;
	case MS_METHOD_UNKNOWN:
	case MS_METHOD_AUTH_AUTHENTICATE:
	case MS_METHOD_MAINT_STATUS:
	case MS_METHOD_MAINT_ALARM:
	case MS_METHOD_CLUSTER_MEMBER_LIST:
	case GRPC_METHOD_READ_INDEX: /* a member's question for the leader's applied index */
		return POLICY_NONE;
	case GRPC_METHOD_MEMBER_PUBLISH: /* a member's name and client URL */
		return POLICY_MEMBER;
	default:
		/* Compact, Hash, HashKV, Defragment, Snapshot, MoveLeader, member changes and
		 * every other Auth method. */
		return POLICY_ADMIN;
	}
}

/*
 * The call's user: 0 with *user NULL when it sent no token, -MS_AUTH_ETOKEN when the token
 * is unknown or expired. Without a token, as etcd does, the CN of the client certificate a
 * TLS port verified (--client-cert-auth) is the user. A call a member forwarded for such a
 * user names it (MS_HDR_FORWARDED_USER) with that member's proof for request `msg`: only a
 * proof that checks makes it the user (raft/fwd_proof.h), whoever opened the connection;
 * anything else is logged and ignored. Watches pass no msg: they are never forwarded.
 */
static int call_user(struct auth_service *svc, struct grpc_call *call, const uint8_t *msg,
		     size_t len, const char **user)
{
	*user = NULL;
	if (!call->token) {
		if ((call->fwd_user || call->fwd_proof) &&
		    ms_raft_forward_user(svc->kv->raft, call, msg, len, user) == 0)
			return 0;
		/* a refused assertion changes nothing: the call is what it was without it */
		if (!call->forwarded) /* a forwarding member is not the user */
			*user = grpc_call_tls_cn(call);
		return 0;
	}
	if (ms_auth_tokens_lookup(ms_auth_tokens(svc->auth), call->token,
				  (int64_t)uv_now(svc->loop), user))
		return -MS_AUTH_ETOKEN;
	return 0;
}

/* Decodes the request of a POLICY_REQUEST method and checks it. -EBADMSG: not decodable. */
static int check_request(struct auth_service *svc, const char *user, uint32_t method,
			 const uint8_t *msg, size_t len)
{
	const struct ms_authz z = { .auth = svc->auth, .leases = svc->kv->leases };
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m;
	int err;

	switch (method) {
	case MS_METHOD_KV_RANGE: desc = &etcdserverpb__range_request__descriptor; break;
	case MS_METHOD_KV_PUT: desc = &etcdserverpb__put_request__descriptor; break;
	case MS_METHOD_KV_DELETE_RANGE: desc = &etcdserverpb__delete_range_request__descriptor; break;
	case MS_METHOD_KV_TXN: desc = &etcdserverpb__txn_request__descriptor; break;
	case MS_METHOD_LEASE_REVOKE: desc = &etcdserverpb__lease_revoke_request__descriptor; break;
	case MS_METHOD_LEASE_TIME_TO_LIVE:
		desc = &etcdserverpb__lease_time_to_live_request__descriptor;
		break;
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

		err = ms_authz_read(&z, user, r->key, r->range_end);
		break;
	}
	case MS_METHOD_KV_PUT:
		err = ms_authz_put(&z, user, (const void *)m);
		break;
	case MS_METHOD_KV_DELETE_RANGE:
		err = ms_authz_delete(&z, user, (const void *)m);
		break;
	case MS_METHOD_KV_TXN:
		err = ms_authz_txn(&z, user, (const void *)m, 0);
		break;
	case MS_METHOD_LEASE_REVOKE:
		err = ms_authz_lease_keys(&z, user, ((const Etcdserverpb__LeaseRevokeRequest *)m)->id);
		break;
	case MS_METHOD_LEASE_TIME_TO_LIVE: {
		const Etcdserverpb__LeaseTimeToLiveRequest *r = (const void *)m;

		/* the attached keys are only listed to a caller who may read them all */
		err = r->keys ? ms_authz_lease_read(&z, user, r->id) :
				user ? 0 : -MS_AUTH_EUSER_EMPTY;
		break;
	}
	case MS_METHOD_AUTH_USER_GET:
		err = ms_authz_self(&z, user, ((const Etcdserverpb__AuthUserGetRequest *)m)->name);
		break;
	case MS_METHOD_AUTH_USER_CHANGE_PASSWORD:
		err = ms_authz_self(&z, user,
				 ((const Etcdserverpb__AuthUserChangePasswordRequest *)m)->name);
		break;
	default:
		err = ms_authz_role_get(&z, user, ((const Etcdserverpb__AuthRoleGetRequest *)m)->role);
		break;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return err;
}

static int check_call(struct auth_service *svc, struct grpc_call *call, enum policy p,
		      const uint8_t *msg, size_t len)
{
	const char *user;
	int err = call_user(svc, call, msg, len, &user);

	if (err)
		return err;
	if (user && !call->auth_user && !(call->auth_user = strdup(user)))
		return -ENOMEM;
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

	/* a write names the revision it was authorized at: apply checks again if it moved */
	call->auth_rev = ms_auth_revision(svc->auth);
	if (!ms_auth_enabled(svc->auth) || p == POLICY_NONE || p == POLICY_WATCH)
		return MS_GRPC_OK;
	if (p == POLICY_MEMBER && ms_raft_forward_member(svc->kv->raft, call, msg, len) == 0)
		return MS_GRPC_OK;
	err = check_call(svc, call, p == POLICY_MEMBER ? POLICY_ADMIN : p, msg, len);
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
	err = call_user(svc, call, NULL, 0, &user);
	if (!err)
		err = ms_auth_check_range(svc->auth, user, key, key_len, end, end_len, MS_AUTH_READ);
	ms_trace_auth_authorize(call->id, grpc_probe_method(call->method),
				err ? MS_AUTH_AUTHZ_DENIED : MS_AUTH_AUTHZ_ALLOWED);
	return err == 0;
}
