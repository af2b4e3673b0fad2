/* etcdserverpb.Auth service: enable/disable, authenticate, user and role management. */
#include "api/auth_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth_rpc.pb-c.h"

struct kv_pb_err auth_service_err(int err)
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

static int64_t store_rev(const struct auth_service *svc)
{
	return ms_mvcc_rev(svc->kv->mvcc);
}

/* Every Auth response but five carries only a header: they share one layout. */
static void reply_header(struct grpc_call *call, struct auth_service *svc,
			 const ProtobufCMessageDescriptor *desc)
{
	Etcdserverpb__AuthEnableResponse resp = ETCDSERVERPB__AUTH_ENABLE_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	resp.base.descriptor = desc;
	resp.header = kv_pb_header(&a, svc->kv, store_rev(svc));
	kv_pb_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
}

/* Ends a mutation: its header-only response on success, else its error. */
static void finish(struct grpc_call *call, struct auth_service *svc, int err,
		   const ProtobufCMessageDescriptor *resp_desc)
{
	if (err)
		kv_pb_fail(call, auth_service_err(err));
	else
		reply_header(call, svc, resp_desc);
}

/* Unpacks a request of type `desc`; NULL (and the call ended) when it is not valid. */
static void *unpack(struct grpc_call *call, const ProtobufCMessageDescriptor *desc,
		    const uint8_t *msg, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, msg);

	if (!m)
		kv_pb_bad_request(call);
	return m;
}

static void release(void *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

static void auth_enable(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	void *req = unpack(call, &etcdserverpb__auth_enable_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_enable(svc->auth),
		       &etcdserverpb__auth_enable_response__descriptor);
	release(req);
}

static void auth_disable(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	void *req = unpack(call, &etcdserverpb__auth_disable_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_disable(svc->auth),
		       &etcdserverpb__auth_disable_response__descriptor);
	release(req);
}

static void user_add(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserAddRequest *req =
		unpack(call, &etcdserverpb__auth_user_add_request__descriptor, msg, len);

	if (req)
		finish(call, svc,
		       ms_auth_user_add(svc->auth, req->name, req->password,
					req->options && req->options->no_password),
		       &etcdserverpb__auth_user_add_response__descriptor);
	release(req);
}

static void user_get(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserGetRequest *req =
		unpack(call, &etcdserverpb__auth_user_get_request__descriptor, msg, len);
	Etcdserverpb__AuthUserGetResponse resp = ETCDSERVERPB__AUTH_USER_GET_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	char *const *roles;
	size_t n;
	int err;

	if (!req)
		return;
	err = ms_auth_user_roles(svc->auth, req->name, &roles, &n);
	if (err) {
		kv_pb_fail(call, auth_service_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc->kv, store_rev(svc));
	resp.roles = (char **)roles;
	resp.n_roles = n;
	kv_pb_reply(call, &a, &resp.base);
cleanup:
	kv_pb_arena_free(&a);
	release(req);
}

/* UserList and RoleList: every name, sorted. */
static void list_names(struct grpc_call *call, struct auth_service *svc, bool users)
{
	Etcdserverpb__AuthUserListResponse uresp = ETCDSERVERPB__AUTH_USER_LIST_RESPONSE__INIT;
	Etcdserverpb__AuthRoleListResponse rresp = ETCDSERVERPB__AUTH_ROLE_LIST_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	size_t n = users ? ms_auth_user_count(svc->auth) : ms_auth_role_count(svc->auth);
	char **names = kv_pb_alloc(&a, (n ? n : 1) * sizeof(*names));

	for (size_t i = 0; names && i < n; i++)
		names[i] = (char *)(users ? ms_auth_user_name(svc->auth, i)
					  : ms_auth_role_name(svc->auth, i));
	if (users) {
		uresp.header = kv_pb_header(&a, svc->kv, store_rev(svc));
		uresp.users = names;
		uresp.n_users = names ? n : 0;
		kv_pb_reply(call, &a, &uresp.base);
	} else {
		rresp.header = kv_pb_header(&a, svc->kv, store_rev(svc));
		rresp.roles = names;
		rresp.n_roles = names ? n : 0;
		kv_pb_reply(call, &a, &rresp.base);
	}
	kv_pb_arena_free(&a);
}

static void user_list(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	void *req = unpack(call, &etcdserverpb__auth_user_list_request__descriptor, msg, len);

	if (req)
		list_names(call, ctx, true);
	release(req);
}

static void role_list(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	void *req = unpack(call, &etcdserverpb__auth_role_list_request__descriptor, msg, len);

	if (req)
		list_names(call, ctx, false);
	release(req);
}

static void user_delete(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserDeleteRequest *req =
		unpack(call, &etcdserverpb__auth_user_delete_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_user_delete(svc->auth, req->name),
		       &etcdserverpb__auth_user_delete_response__descriptor);
	release(req);
}

static void user_change_password(struct grpc_call *call, const uint8_t *msg, size_t len,
				 void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserChangePasswordRequest *req =
		unpack(call, &etcdserverpb__auth_user_change_password_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_user_change_password(svc->auth, req->name, req->password),
		       &etcdserverpb__auth_user_change_password_response__descriptor);
	release(req);
}

static void user_grant_role(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserGrantRoleRequest *req =
		unpack(call, &etcdserverpb__auth_user_grant_role_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_user_grant_role(svc->auth, req->user, req->role),
		       &etcdserverpb__auth_user_grant_role_response__descriptor);
	release(req);
}

static void user_revoke_role(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthUserRevokeRoleRequest *req =
		unpack(call, &etcdserverpb__auth_user_revoke_role_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_user_revoke_role(svc->auth, req->name, req->role),
		       &etcdserverpb__auth_user_revoke_role_response__descriptor);
	release(req);
}

static void role_add(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthRoleAddRequest *req =
		unpack(call, &etcdserverpb__auth_role_add_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_role_add(svc->auth, req->name),
		       &etcdserverpb__auth_role_add_response__descriptor);
	release(req);
}

static void role_get(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthRoleGetRequest *req =
		unpack(call, &etcdserverpb__auth_role_get_request__descriptor, msg, len);
	Etcdserverpb__AuthRoleGetResponse resp = ETCDSERVERPB__AUTH_ROLE_GET_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	const struct ms_auth_perm *perms;
	size_t n;
	int err;

	if (!req)
		return;
	err = ms_auth_role_perms(svc->auth, req->role, &perms, &n);
	if (err) {
		kv_pb_fail(call, auth_service_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc->kv, store_rev(svc));
	resp.perm = kv_pb_alloc(&a, (n ? n : 1) * sizeof(*resp.perm));
	for (size_t i = 0; resp.perm && i < n; i++) {
		Authpb__Permission *p = kv_pb_alloc(&a, sizeof(*p));

		if (!p)
			break;
		authpb__permission__init(p);
		p->permtype = (Authpb__Permission__Type)perms[i].type;
		p->key = (ProtobufCBinaryData){ perms[i].key_len, perms[i].key };
		p->range_end = (ProtobufCBinaryData){ perms[i].end_len, perms[i].end };
		resp.perm[resp.n_perm++] = p;
	}
	kv_pb_reply(call, &a, &resp.base);
cleanup:
	kv_pb_arena_free(&a);
	release(req);
}

static void role_delete(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthRoleDeleteRequest *req =
		unpack(call, &etcdserverpb__auth_role_delete_request__descriptor, msg, len);

	if (req)
		finish(call, svc, ms_auth_role_delete(svc->auth, req->role),
		       &etcdserverpb__auth_role_delete_response__descriptor);
	release(req);
}

static void role_grant_permission(struct grpc_call *call, const uint8_t *msg, size_t len,
				  void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthRoleGrantPermissionRequest *req =
		unpack(call, &etcdserverpb__auth_role_grant_permission_request__descriptor, msg, len);
	const Authpb__Permission *p;
	int err;

	if (!req)
		return;
	p = req->perm;
	if (!p) {
		kv_pb_bad_request(call);
		goto cleanup;
	}
	err = ms_auth_role_grant(svc->auth, req->name, (enum ms_auth_perm_type)p->permtype,
				 p->key.data, p->key.len, p->range_end.data, p->range_end.len);
	if (err == -EINVAL)
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_MGMT);
	else
		finish(call, svc, err, &etcdserverpb__auth_role_grant_permission_response__descriptor);
cleanup:
	release(req);
}

static void role_revoke_permission(struct grpc_call *call, const uint8_t *msg, size_t len,
				   void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthRoleRevokePermissionRequest *req =
		unpack(call, &etcdserverpb__auth_role_revoke_permission_request__descriptor, msg, len);

	if (req)
		finish(call, svc,
		       ms_auth_role_revoke(svc->auth, req->role, req->key.data, req->key.len,
					   req->range_end.data, req->range_end.len),
		       &etcdserverpb__auth_role_revoke_permission_response__descriptor);
	release(req);
}

void auth_service_register(struct auth_service *svc, struct ms_server *srv)
{
	enum kind { LOCAL, READ, WRITE };
	static const struct {
		enum ms_method m;
		grpc_unary_fn fn;
		enum kind kind;
	} routes[] = {
		{ MS_METHOD_AUTH_ENABLE, auth_enable, WRITE },
		{ MS_METHOD_AUTH_DISABLE, auth_disable, WRITE },
		{ MS_METHOD_AUTH_AUTHENTICATE, auth_service_authenticate, LOCAL },
		{ MS_METHOD_AUTH_USER_ADD, user_add, WRITE },
		{ MS_METHOD_AUTH_USER_GET, user_get, READ },
		{ MS_METHOD_AUTH_USER_LIST, user_list, READ },
		{ MS_METHOD_AUTH_USER_DELETE, user_delete, WRITE },
		{ MS_METHOD_AUTH_USER_CHANGE_PASSWORD, user_change_password, WRITE },
		{ MS_METHOD_AUTH_USER_GRANT_ROLE, user_grant_role, WRITE },
		{ MS_METHOD_AUTH_USER_REVOKE_ROLE, user_revoke_role, WRITE },
		{ MS_METHOD_AUTH_ROLE_ADD, role_add, WRITE },
		{ MS_METHOD_AUTH_ROLE_GET, role_get, READ },
		{ MS_METHOD_AUTH_ROLE_LIST, role_list, READ },
		{ MS_METHOD_AUTH_ROLE_DELETE, role_delete, WRITE },
		{ MS_METHOD_AUTH_ROLE_GRANT_PERMISSION, role_grant_permission, WRITE },
		{ MS_METHOD_AUTH_ROLE_REVOKE_PERMISSION, role_revoke_permission, WRITE },
	};
	struct ms_raft *rn = svc->kv->raft;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		/* With raft, changes go through the log (and apply on every node); reads are
		 * linearizable; Authenticate stays node-local, as its tokens are. */
		if (!rn || routes[i].kind == LOCAL)
			ms_server_handle(srv, routes[i].m, routes[i].fn, svc);
		else if (routes[i].kind == WRITE)
			ms_raft_route_write(rn, srv, routes[i].m, routes[i].fn, svc);
		else
			ms_raft_route_read(rn, srv, routes[i].m, routes[i].fn, svc, NULL);
	}
	ms_server_set_authorizer(srv, auth_service_authorize, svc);
}
