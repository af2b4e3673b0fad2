/* Applying auth changes (enable, disable, users, roles, permissions) and Authenticate's tokens. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/authz.h"

struct kv_pb_err ms_apply_auth_err(int err)
{
	static const struct {
		int err;
		uint32_t code;
		const char *msg;
	} map[] = {
		{ MS_AUTH_EROOT_USER, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_ROOT_USER },
		{ MS_AUTH_EROOT_ROLE, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_ROOT_ROLE },
		{ MS_AUTH_EUSER_EXISTS, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_USER_EXISTS },
		{ MS_AUTH_EUSER_EMPTY, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_USER_EMPTY },
		{ MS_AUTH_EUSER_NOT_FOUND, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_USER_NOT_FOUND },
		{ MS_AUTH_EROLE_EXISTS, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_ROLE_EXISTS },
		{ MS_AUTH_EROLE_NOT_FOUND, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_ROLE_NOT_FOUND },
		{ MS_AUTH_EROLE_EMPTY, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_ROLE_EMPTY },
		{ MS_AUTH_EFAILED, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_FAILED },
		{ MS_AUTH_EDENIED, MS_GRPC_PERMISSION_DENIED, ERR_AUTH_DENIED },
		{ MS_AUTH_EROLE_NOT_GRANTED, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_ROLE_NOT_GRANTED },
		{ MS_AUTH_EPERM_NOT_GRANTED, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_PERM_NOT_GRANTED },
		{ MS_AUTH_ENOT_ENABLED, MS_GRPC_FAILED_PRECONDITION, ERR_AUTH_NOT_ENABLED },
		{ MS_AUTH_ETOKEN, MS_GRPC_UNAUTHENTICATED, ERR_AUTH_TOKEN },
		{ MS_AUTH_EMGMT, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_MGMT },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (-err == map[i].err)
			return (struct kv_pb_err){ map[i].code, map[i].msg };
	}
	return (struct kv_pb_err){ MS_GRPC_INTERNAL, NULL };
}

/* The response of a change: a header-only message of type `desc` at the store revision. */
static void reply_header(struct ms_applier *ap, int err, const ProtobufCMessageDescriptor *desc,
			 struct ms_apply_res *res)
{
	/* every header-only Auth response has AuthEnableResponse's layout */
	Etcdserverpb__AuthEnableResponse *resp;

	if (err) {
		struct kv_pb_err e = ms_apply_auth_err(err);

		ms_apply_res_fail(res, e.code, e.msg);
		return;
	}
	resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	if (!resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__auth_enable_response__init(resp);
	resp->base.descriptor = desc;
	resp->header = kv_pb_rev_header(&res->arena, ms_mvcc_rev(ap->mvcc));
	ms_apply_res_ok(res, &resp->base, resp->header);
}

/* Authenticate's token, proposed by the member that checked the password. */
static void apply_token(struct ms_applier *ap, const Metastore__Entry *e, struct ms_apply_res *res)
{
	const Metastore__SimpleToken *t = e->authenticate;
	char *const *roles;
	size_t n_roles;
	Etcdserverpb__AuthenticateResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	int64_t now = ap->now_ms ? ap->now_ms(ap->clock_arg) : 0;
	int err;

	if (!resp) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__authenticate_response__init(resp);
	/* the password was checked at this auth revision: a change since (password, user,
	 * auth disabled) makes the check void, as etcd's ErrAuthOldRevision */
	if (e->header->auth_revision != ms_auth_revision(ap->auth)) {
		ms_apply_res_fail(res, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_OLD_REVISION);
		return;
	}
	if (!ms_auth_enabled(ap->auth))
		err = -MS_AUTH_ENOT_ENABLED;
	else
		err = ms_auth_user_roles(ap->auth, t->username, &roles, &n_roles);
	if (!err)
		err = ms_auth_tokens_add(ms_auth_tokens(ap->auth), t->username, t->token, now);
	if (err) {
		struct kv_pb_err ke = ms_apply_auth_err(err);

		ms_apply_res_fail(res, ke.code, ke.msg);
		return;
	}
	resp->token = kv_pb_alloc(&res->arena, strlen(t->token) + 1);
	if (resp->token)
		memcpy(resp->token, t->token, strlen(t->token) + 1);
	resp->header = kv_pb_rev_header(&res->arena, ms_mvcc_rev(ap->mvcc));
	ms_apply_res_ok(res, &resp->base, resp->header);
}

static int grant_perm(struct ms_auth *a, const Etcdserverpb__AuthRoleGrantPermissionRequest *r)
{
	const Authpb__Permission *p = r->perm;
	int err;

	if (!p)
		return -MS_AUTH_EMGMT;
	err = ms_auth_role_grant(a, r->name, (enum ms_auth_perm_type)p->permtype, p->key.data,
				 p->key.len, p->range_end.data, p->range_end.len);
	return err == -EINVAL ? -MS_AUTH_EMGMT : err;
}

void ms_apply_auth(struct ms_applier *ap, const Metastore__Entry *e, struct ms_apply_res *res)
{
	struct ms_auth *a = ap->auth;
	const ProtobufCMessageDescriptor *d;
	int err;

	if (!a) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	switch (e->op_case) {
	case METASTORE__ENTRY__OP_AUTHENTICATE:
		apply_token(ap, e, res);
		return;
	case METASTORE__ENTRY__OP_AUTH_ENABLE:
		err = ms_auth_enable(a);
		d = &etcdserverpb__auth_enable_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_AUTH_DISABLE:
		err = ms_auth_disable(a);
		d = &etcdserverpb__auth_disable_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_USER_ADD:
		err = ms_auth_user_add(a, e->user_add->name, e->user_add->password,
				       e->user_add->options && e->user_add->options->no_password);
		d = &etcdserverpb__auth_user_add_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_USER_DELETE:
		err = ms_auth_user_delete(a, e->user_delete->name);
		d = &etcdserverpb__auth_user_delete_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_USER_CHANGE_PASSWORD:
		err = ms_auth_user_change_password(a, e->user_change_password->name,
						   e->user_change_password->password);
		d = &etcdserverpb__auth_user_change_password_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_USER_GRANT_ROLE:
		err = ms_auth_user_grant_role(a, e->user_grant_role->user, e->user_grant_role->role);
		d = &etcdserverpb__auth_user_grant_role_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_USER_REVOKE_ROLE:
		err = ms_auth_user_revoke_role(a, e->user_revoke_role->name,
					       e->user_revoke_role->role);
		d = &etcdserverpb__auth_user_revoke_role_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_ROLE_ADD:
		err = ms_auth_role_add(a, e->role_add->name);
		d = &etcdserverpb__auth_role_add_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_ROLE_DELETE:
		err = ms_auth_role_delete(a, e->role_delete->role);
		d = &etcdserverpb__auth_role_delete_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION:
		err = grant_perm(a, e->role_grant_permission);
		d = &etcdserverpb__auth_role_grant_permission_response__descriptor;
		break;
	case METASTORE__ENTRY__OP_ROLE_REVOKE_PERMISSION:
		err = ms_auth_role_revoke(a, e->role_revoke_permission->role,
					  e->role_revoke_permission->key.data,
					  e->role_revoke_permission->key.len,
					  e->role_revoke_permission->range_end.data,
					  e->role_revoke_permission->range_end.len);
		d = &etcdserverpb__auth_role_revoke_permission_response__descriptor;
		break;
	default:
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, "metastore: raft entry of an unknown op");
		return;
	}
	reply_header(ap, err, d, res);
}
