/* etcdserverpb.Auth service: changes proposed through the log, user and role reads. */
#include "api/auth_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth_rpc.pb-c.h"
#include "api/propose.h"

struct kv_pb_err auth_service_err(int err)
{
	return ms_apply_auth_err(err);
}

static int64_t store_rev(const struct auth_service *svc)
{
	return ms_mvcc_rev(svc->kv->mvcc);
}

/* Unpacks a request of type `desc`; NULL (and the call ended) when it is not valid. */
static void *unpack(struct grpc_call *call, const ProtobufCMessageDescriptor *desc,
		    const uint8_t *msg, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, msg);

	if (!m)
		api_bad_request(call);
	return m;
}

static void release(void *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
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
		api_fail(call, auth_service_err(err));
		goto cleanup;
	}
	resp.header = api_header(&a, svc->kv, store_rev(svc));
	resp.roles = (char **)roles;
	resp.n_roles = n;
	api_reply(call, &a, &resp.base);
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
		uresp.header = api_header(&a, svc->kv, store_rev(svc));
		uresp.users = names;
		uresp.n_users = names ? n : 0;
		api_reply(call, &a, &uresp.base);
	} else {
		rresp.header = api_header(&a, svc->kv, store_rev(svc));
		rresp.roles = names;
		rresp.n_roles = names ? n : 0;
		api_reply(call, &a, &rresp.base);
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
		api_fail(call, auth_service_err(err));
		goto cleanup;
	}
	resp.header = api_header(&a, svc->kv, store_rev(svc));
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
	api_reply(call, &a, &resp.base);
cleanup:
	kv_pb_arena_free(&a);
	release(req);
}

/* The change each Auth write method proposes: its request type and entry op. */
static const struct {
	enum ms_method m;
	const ProtobufCMessageDescriptor *req;
	Metastore__Entry__OpCase op;
} changes[] = {
	{ MS_METHOD_AUTH_ENABLE, &etcdserverpb__auth_enable_request__descriptor,
	  METASTORE__ENTRY__OP_AUTH_ENABLE },
	{ MS_METHOD_AUTH_DISABLE, &etcdserverpb__auth_disable_request__descriptor,
	  METASTORE__ENTRY__OP_AUTH_DISABLE },
	{ MS_METHOD_AUTH_USER_ADD, &etcdserverpb__auth_user_add_request__descriptor,
	  METASTORE__ENTRY__OP_USER_ADD },
	{ MS_METHOD_AUTH_USER_DELETE, &etcdserverpb__auth_user_delete_request__descriptor,
	  METASTORE__ENTRY__OP_USER_DELETE },
	{ MS_METHOD_AUTH_USER_CHANGE_PASSWORD,
	  &etcdserverpb__auth_user_change_password_request__descriptor,
	  METASTORE__ENTRY__OP_USER_CHANGE_PASSWORD },
	{ MS_METHOD_AUTH_USER_GRANT_ROLE, &etcdserverpb__auth_user_grant_role_request__descriptor,
	  METASTORE__ENTRY__OP_USER_GRANT_ROLE },
	{ MS_METHOD_AUTH_USER_REVOKE_ROLE, &etcdserverpb__auth_user_revoke_role_request__descriptor,
	  METASTORE__ENTRY__OP_USER_REVOKE_ROLE },
	{ MS_METHOD_AUTH_ROLE_ADD, &etcdserverpb__auth_role_add_request__descriptor,
	  METASTORE__ENTRY__OP_ROLE_ADD },
	{ MS_METHOD_AUTH_ROLE_DELETE, &etcdserverpb__auth_role_delete_request__descriptor,
	  METASTORE__ENTRY__OP_ROLE_DELETE },
	{ MS_METHOD_AUTH_ROLE_GRANT_PERMISSION,
	  &etcdserverpb__auth_role_grant_permission_request__descriptor,
	  METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION },
	{ MS_METHOD_AUTH_ROLE_REVOKE_PERMISSION,
	  &etcdserverpb__auth_role_revoke_permission_request__descriptor,
	  METASTORE__ENTRY__OP_ROLE_REVOKE_PERMISSION },
};

/* Every Auth change: decoded and checked here, applied on every member through the log. */
static void auth_change(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	ProtobufCMessage *req = NULL;
	size_t i;

	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (changes[i].m == call->method)
			break;
	if (i == sizeof(changes) / sizeof(changes[0])) {
		grpc_call_fault(call, "auth change without an entry op");
		return;
	}
	req = unpack(call, changes[i].req, msg, len);
	if (!req)
		return;
	if (changes[i].op == METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION &&
	    !((Etcdserverpb__AuthRoleGrantPermissionRequest *)req)->perm) {
		api_bad_request(call);
		goto cleanup;
	}
	e.op_case = changes[i].op;
	/* every op of the entry's oneof shares one pointer */
	e.auth_enable = (Etcdserverpb__AuthEnableRequest *)req;
	api_propose(svc->kv, call, &e, msg, len);
cleanup:
	release(req);
}

void auth_service_register(struct auth_service *svc, struct ms_server *srv)
{
	enum kind { READ, WRITE };
	static const struct {
		enum ms_method m;
		grpc_unary_fn fn;
		enum kind kind;
	} routes[] = {
		{ MS_METHOD_AUTH_ENABLE, auth_change, WRITE },
		{ MS_METHOD_AUTH_DISABLE, auth_change, WRITE },
		{ MS_METHOD_AUTH_AUTHENTICATE, auth_service_authenticate, WRITE },
		{ MS_METHOD_AUTH_USER_ADD, auth_change, WRITE },
		{ MS_METHOD_AUTH_USER_GET, user_get, READ },
		{ MS_METHOD_AUTH_USER_LIST, user_list, READ },
		{ MS_METHOD_AUTH_USER_DELETE, auth_change, WRITE },
		{ MS_METHOD_AUTH_USER_CHANGE_PASSWORD, auth_change, WRITE },
		{ MS_METHOD_AUTH_USER_GRANT_ROLE, auth_change, WRITE },
		{ MS_METHOD_AUTH_USER_REVOKE_ROLE, auth_change, WRITE },
		{ MS_METHOD_AUTH_ROLE_ADD, auth_change, WRITE },
		{ MS_METHOD_AUTH_ROLE_GET, role_get, READ },
		{ MS_METHOD_AUTH_ROLE_LIST, role_list, READ },
		{ MS_METHOD_AUTH_ROLE_DELETE, auth_change, WRITE },
		{ MS_METHOD_AUTH_ROLE_GRANT_PERMISSION, auth_change, WRITE },
		{ MS_METHOD_AUTH_ROLE_REVOKE_PERMISSION, auth_change, WRITE },
	};
	struct ms_raft *rn = svc->kv->raft;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		/* Changes (and Authenticate's token) are proposed by their handlers; reads are
		 * linearizable. */
		if (!rn || routes[i].kind != READ)
			ms_server_handle(srv, routes[i].m, routes[i].fn, svc);
		else
			ms_raft_route_read(rn, srv, routes[i].m, routes[i].fn, svc, NULL);
	}
	ms_server_set_authorizer(srv, auth_service_authorize, svc);
}
