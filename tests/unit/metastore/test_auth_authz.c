/* Unit tests for per-call authorization: real protobuf requests through the authorizer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_rpc.pb-c.h"
#include "api/auth_service.h"
#include "store/lease.h"
#include "rpc.pb-c.h"

struct fixture {
	struct ms_auth *auth;
	struct ms_lease_table *leases;
	struct kv_service kv;
	struct auth_service svc;
	char tok_root[MS_AUTH_TOKEN_MAX], tok_u[MS_AUTH_TOKEN_MAX];
	int64_t lease_a, lease_b; /* leases holding the keys "a" and "b" */
};

#define B(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* root (root role) and u (role r: READWRITE on a, READ on [r/, r0), WRITE on w), enabled. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int64_t now;

	assert_non_null(f);
	f->auth = ms_auth_new(4, MS_AUTH_TOKEN_DEFAULT_TTL_MS);
	f->leases = ms_lease_table_new();
	assert_non_null(f->auth);
	assert_non_null(f->leases);
	f->kv.leases = f->leases;
	f->svc = (struct auth_service){ .auth = f->auth, .kv = &f->kv, .loop = uv_default_loop() };
	assert_int_equal(ms_auth_user_add(f->auth, "root", "pw", false), 0);
	assert_int_equal(ms_auth_user_grant_role(f->auth, "root", "root"), 0);
	assert_int_equal(ms_auth_role_add(f->auth, "r"), 0);
	assert_int_equal(ms_auth_role_grant(f->auth, "r", MS_AUTH_READWRITE, B("a"), NULL, 0), 0);
	assert_int_equal(ms_auth_role_grant(f->auth, "r", MS_AUTH_READ, B("r/"), B("r0")), 0);
	assert_int_equal(ms_auth_role_grant(f->auth, "r", MS_AUTH_WRITE, B("w"), NULL, 0), 0);
	assert_int_equal(ms_auth_user_add(f->auth, "u", "pw", false), 0);
	assert_int_equal(ms_auth_user_grant_role(f->auth, "u", "r"), 0);
	assert_int_equal(ms_auth_enable(f->auth), 0);
	now = (int64_t)uv_now(f->svc.loop);
	assert_int_equal(ms_auth_tokens_issue(ms_auth_tokens(f->auth), "root", now, f->tok_root), 0);
	assert_int_equal(ms_auth_tokens_issue(ms_auth_tokens(f->auth), "u", now, f->tok_u), 0);
	assert_int_equal(ms_lease_grant(f->leases, 0, 60, 0, &f->lease_a, NULL), 0);
	assert_int_equal(ms_lease_grant(f->leases, 0, 60, 0, &f->lease_b, NULL), 0);
	assert_int_equal(ms_lease_attach(f->leases, f->lease_a, B("a")), 0);
	assert_int_equal(ms_lease_attach(f->leases, f->lease_b, B("b")), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ms_lease_table_free(f->leases);
	ms_auth_free(f->auth);
	free(f);
	return 0;
}

/* Runs the authorizer on a packed request; returns the code, *why its message. */
static uint32_t authorize(struct fixture *f, const char *token, uint32_t method,
			  const ProtobufCMessage *m, const char **why)
{
	struct grpc_call call = { .id = 1, .method = method };
	uint8_t buf[1024];
	size_t n = m ? protobuf_c_message_pack(m, buf) : 0;

	call.token = (char *)token;
	*why = NULL;
	return auth_service_authorize(&call, m ? buf : NULL, n, why, &f->svc);
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

/* One case: who asks, what, and the answer. */
struct expect {
	const char *who; /* "root", "u", "none" or "bogus" */
	uint32_t code;
	const char *msg; /* NULL for OK */
};

static const char *token_of(struct fixture *f, const char *who)
{
	if (strcmp(who, "root") == 0)
		return f->tok_root;
	if (strcmp(who, "u") == 0)
		return f->tok_u;
	return strcmp(who, "bogus") == 0 ? "bogus.1" : NULL;
}

static void check(struct fixture *f, const char *what, uint32_t method, const ProtobufCMessage *m,
		  const struct expect *e)
{
	const char *why;
	uint32_t code = authorize(f, token_of(f, e->who), method, m, &why);

	if (code != e->code || (e->msg && (!why || strcmp(why, e->msg) != 0)))
		fail_msg("%s as %s: got %u '%s', want %u '%s'", what, e->who, code,
			 why ? why : "", e->code, e->msg ? e->msg : "");
}

#define OK_AS(w) { w, MS_GRPC_OK, NULL }
#define DENIED_AS(w) { w, MS_GRPC_PERMISSION_DENIED, ERR_AUTH_DENIED }
#define NO_USER { "none", MS_GRPC_INVALID_ARGUMENT, ERR_AUTH_USER_EMPTY }
#define BAD_TOKEN { "bogus", MS_GRPC_UNAUTHENTICATED, ERR_AUTH_TOKEN }

static void test_kv(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__RangeRequest ra = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeRequest rb = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeRequest rp = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__PutRequest pw = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutRequest pl = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__DeleteRangeRequest da = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__CompactionRequest cp = ETCDSERVERPB__COMPACTION_REQUEST__INIT;

	ra.key = bin("a");
	rb.key = bin("b");
	rp.key = bin("r/");
	rp.range_end = bin("r0");
	check(f, "range a", MS_METHOD_KV_RANGE, &ra.base, &(struct expect)OK_AS("u"));
	check(f, "range a", MS_METHOD_KV_RANGE, &ra.base, &(struct expect)OK_AS("root"));
	check(f, "range a", MS_METHOD_KV_RANGE, &ra.base, &(struct expect)NO_USER);
	check(f, "range a", MS_METHOD_KV_RANGE, &ra.base, &(struct expect)BAD_TOKEN);
	check(f, "range b", MS_METHOD_KV_RANGE, &rb.base, &(struct expect)DENIED_AS("u"));
	check(f, "range r/", MS_METHOD_KV_RANGE, &rp.base, &(struct expect)OK_AS("u"));
	rp.range_end = bin("r1");
	check(f, "range r/..r1", MS_METHOD_KV_RANGE, &rp.base, &(struct expect)DENIED_AS("u"));
	/* a put needs WRITE, and READ too with prev_kv */
	pw.key = bin("w");
	check(f, "put w", MS_METHOD_KV_PUT, &pw.base, &(struct expect)OK_AS("u"));
	pw.prev_kv = true;
	check(f, "put w prev_kv", MS_METHOD_KV_PUT, &pw.base, &(struct expect)DENIED_AS("u"));
	/* a put naming a lease needs WRITE on the lease's keys */
	pl.key = bin("a");
	pl.lease = f->lease_a;
	check(f, "put a lease a", MS_METHOD_KV_PUT, &pl.base, &(struct expect)OK_AS("u"));
	pl.lease = f->lease_b;
	check(f, "put a lease b", MS_METHOD_KV_PUT, &pl.base, &(struct expect)DENIED_AS("u"));
	da.key = bin("a");
	check(f, "delete a", MS_METHOD_KV_DELETE_RANGE, &da.base, &(struct expect)OK_AS("u"));
	da.range_end = bin("c");
	check(f, "delete a..c", MS_METHOD_KV_DELETE_RANGE, &da.base,
	      &(struct expect)DENIED_AS("u"));
	check(f, "compact", MS_METHOD_KV_COMPACT, &cp.base, &(struct expect)DENIED_AS("u"));
	check(f, "compact", MS_METHOD_KV_COMPACT, &cp.base, &(struct expect)OK_AS("root"));
	check(f, "compact", MS_METHOD_KV_COMPACT, &cp.base, &(struct expect)NO_USER);
}

static void test_txn(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__TxnRequest outer = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__TxnRequest inner = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__Compare *cmps[] = { &cmp };
	Etcdserverpb__RequestOp op_txn = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp *outer_ops[] = { &op_txn }, *inner_ops[] = { &op_put };
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;

	put.key = bin("a");
	op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op_put.request_put = &put;
	inner.failure = inner_ops;
	inner.n_failure = 1;
	op_txn.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
	op_txn.request_txn = &inner;
	outer.success = outer_ops;
	outer.n_success = 1;
	cmp.key = bin("r/x");
	outer.compare = cmps;
	outer.n_compare = 1;
	check(f, "txn", MS_METHOD_KV_TXN, &outer.base, &(struct expect)OK_AS("u"));
	/* a put two levels down */
	put.key = bin("b");
	check(f, "txn nested put b", MS_METHOD_KV_TXN, &outer.base, &(struct expect)DENIED_AS("u"));
	check(f, "txn nested put b", MS_METHOD_KV_TXN, &outer.base, &(struct expect)OK_AS("root"));
	/* a compare needs READ */
	put.key = bin("a");
	cmp.key = bin("w");
	check(f, "txn compare w", MS_METHOD_KV_TXN, &outer.base, &(struct expect)DENIED_AS("u"));
}

static void test_lease_and_admin(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__LeaseGrantRequest lg = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseRevokeRequest lr = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	Etcdserverpb__AuthUserGetRequest ug = ETCDSERVERPB__AUTH_USER_GET_REQUEST__INIT;
	Etcdserverpb__AuthRoleGetRequest rg = ETCDSERVERPB__AUTH_ROLE_GET_REQUEST__INIT;
	Etcdserverpb__AuthUserChangePasswordRequest cp =
		ETCDSERVERPB__AUTH_USER_CHANGE_PASSWORD_REQUEST__INIT;
	Etcdserverpb__AuthUserListRequest ul = ETCDSERVERPB__AUTH_USER_LIST_REQUEST__INIT;
	Etcdserverpb__AuthenticateRequest au = ETCDSERVERPB__AUTHENTICATE_REQUEST__INIT;
	Etcdserverpb__LeaseTimeToLiveRequest tl = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;

	check(f, "lease grant", MS_METHOD_LEASE_GRANT, &lg.base, &(struct expect)OK_AS("u"));
	check(f, "lease grant", MS_METHOD_LEASE_GRANT, &lg.base, &(struct expect)NO_USER);
	check(f, "lease grant", MS_METHOD_LEASE_GRANT, &lg.base, &(struct expect)BAD_TOKEN);
	check(f, "keep-alive open", MS_METHOD_LEASE_KEEP_ALIVE, NULL, &(struct expect)NO_USER);
	check(f, "keep-alive open", MS_METHOD_LEASE_KEEP_ALIVE, NULL, &(struct expect)OK_AS("u"));
	lr.id = f->lease_a;
	check(f, "revoke lease a", MS_METHOD_LEASE_REVOKE, &lr.base, &(struct expect)OK_AS("u"));
	lr.id = f->lease_b;
	check(f, "revoke lease b", MS_METHOD_LEASE_REVOKE, &lr.base, &(struct expect)DENIED_AS("u"));
	check(f, "revoke lease b", MS_METHOD_LEASE_REVOKE, &lr.base, &(struct expect)OK_AS("root"));
	/* time-to-live lists a lease's keys only to whoever may read them all (u reads a, not b) */
	tl.id = f->lease_b;
	check(f, "ttl lease b", MS_METHOD_LEASE_TIME_TO_LIVE, &tl.base, &(struct expect)OK_AS("u"));
	check(f, "ttl lease b", MS_METHOD_LEASE_TIME_TO_LIVE, &tl.base, &(struct expect)NO_USER);
	tl.keys = true;
	check(f, "ttl lease b keys", MS_METHOD_LEASE_TIME_TO_LIVE, &tl.base,
	      &(struct expect)DENIED_AS("u"));
	check(f, "ttl lease b keys", MS_METHOD_LEASE_TIME_TO_LIVE, &tl.base,
	      &(struct expect)OK_AS("root"));
	tl.id = f->lease_a;
	check(f, "ttl lease a keys", MS_METHOD_LEASE_TIME_TO_LIVE, &tl.base,
	      &(struct expect)OK_AS("u"));
	ug.name = "u";
	check(f, "user get self", MS_METHOD_AUTH_USER_GET, &ug.base, &(struct expect)OK_AS("u"));
	ug.name = "root";
	check(f, "user get root", MS_METHOD_AUTH_USER_GET, &ug.base, &(struct expect)DENIED_AS("u"));
	cp.name = "u";
	cp.password = "x";
	check(f, "change own password", MS_METHOD_AUTH_USER_CHANGE_PASSWORD, &cp.base,
	      &(struct expect)OK_AS("u"));
	rg.role = "r";
	check(f, "role get held", MS_METHOD_AUTH_ROLE_GET, &rg.base, &(struct expect)OK_AS("u"));
	rg.role = "root";
	check(f, "role get root", MS_METHOD_AUTH_ROLE_GET, &rg.base, &(struct expect)DENIED_AS("u"));
	check(f, "user list", MS_METHOD_AUTH_USER_LIST, &ul.base, &(struct expect)DENIED_AS("u"));
	check(f, "user list", MS_METHOD_AUTH_USER_LIST, &ul.base, &(struct expect)OK_AS("root"));
	/* no check at all: Authenticate, Status, MemberList; Watch is checked per create */
	check(f, "authenticate", MS_METHOD_AUTH_AUTHENTICATE, &au.base, &(struct expect)OK_AS("none"));
	check(f, "authenticate", MS_METHOD_AUTH_AUTHENTICATE, &au.base, &(struct expect)OK_AS("bogus"));
	check(f, "status", MS_METHOD_MAINT_STATUS, &ul.base, &(struct expect)OK_AS("none"));
	check(f, "member list", MS_METHOD_CLUSTER_MEMBER_LIST, &ul.base, &(struct expect)OK_AS("none"));
	check(f, "watch open", MS_METHOD_WATCH_WATCH, NULL, &(struct expect)OK_AS("none"));
}

static void test_watch_and_disabled(void **state)
{
	struct fixture *f = *state;
	struct grpc_call call = { .id = 1, .method = MS_METHOD_WATCH_WATCH };
	Etcdserverpb__RangeRequest rb = ETCDSERVERPB__RANGE_REQUEST__INIT;
	const char *why;
	uint8_t junk[] = { 0x0a, 0x7f, 0x01 }; /* a field longer than the message */

	call.token = f->tok_u;
	assert_true(auth_service_watch_permitted(&call, B("a"), NULL, 0, &f->svc));
	assert_true(auth_service_watch_permitted(&call, B("r/"), B("r0"), &f->svc));
	assert_false(auth_service_watch_permitted(&call, B("r/"), B("\0"), &f->svc));
	assert_false(auth_service_watch_permitted(&call, B("b"), NULL, 0, &f->svc));
	call.token = NULL;
	assert_false(auth_service_watch_permitted(&call, B("a"), NULL, 0, &f->svc));
	/* a request the authorizer cannot decode is refused as the handler would */
	call = (struct grpc_call){ .id = 2, .method = MS_METHOD_KV_RANGE, .token = f->tok_u };
	assert_int_equal(auth_service_authorize(&call, junk, sizeof(junk), &why, &f->svc),
			 MS_GRPC_INTERNAL);
	/* disabled: nothing is checked */
	assert_int_equal(ms_auth_disable(f->auth), 0);
	rb.key = bin("b");
	check(f, "range b disabled", MS_METHOD_KV_RANGE, &rb.base, &(struct expect)OK_AS("none"));
	call.token = NULL;
	assert_true(auth_service_watch_permitted(&call, B("b"), NULL, 0, &f->svc));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_and_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_and_disabled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
