/* Unit tests for the apply layer (metastore/apply/): typed entries in, results and state out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apply/apply.h"
#include "apply/authz.h"
#include "store/snapshot.h"

/* One member's state and its applier. */
struct member {
	struct ms_mvcc *mvcc;
	struct ms_lease_table *leases;
	struct ms_auth *auth;
	struct ms_applier ap;
	int64_t now;
	int changed;
};

static int64_t member_now(void *arg)
{
	return ((struct member *)arg)->now;
}

static void member_changed(void *arg)
{
	((struct member *)arg)->changed++;
}

static void member_init(struct member *m, int64_t now)
{
	memset(m, 0, sizeof(*m));
	m->mvcc = ms_mvcc_new(1);
	m->leases = ms_lease_table_new();
	m->auth = ms_auth_new(4, 60000);
	assert_non_null(m->mvcc);
	assert_non_null(m->leases);
	assert_non_null(m->auth);
	ms_lease_table_seed(m->leases, 42);
	m->now = now;
	m->ap = (struct ms_applier){ .mvcc = m->mvcc, .leases = m->leases, .auth = m->auth,
				     .now_ms = member_now, .clock_arg = m,
				     .changed = member_changed, .changed_arg = m };
}

static void member_free(struct member *m)
{
	ms_auth_free(m->auth);
	ms_lease_table_free(m->leases);
	ms_mvcc_free(m->mvcc);
}

/* Packs e with a header of (format, user, auth revision); returns malloc'ed bytes. */
static uint8_t *pack_entry(Metastore__Entry *e, uint32_t format, const char *user,
			   uint64_t auth_rev, size_t *len)
{
	Metastore__EntryHeader h = METASTORE__ENTRY_HEADER__INIT;
	uint8_t *buf;

	h.format = format;
	h.username = (char *)(user ? user : "");
	h.auth_revision = auth_rev;
	e->header = &h;
	*len = metastore__entry__get_packed_size(e);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	metastore__entry__pack(e, buf);
	e->header = NULL;
	return buf;
}

/* Applies e as `user` checked at the member's current auth revision; returns the code and
 * the packed response (malloc'ed, or NULL) in *resp. */
static uint32_t apply_as(struct member *m, Metastore__Entry *e, const char *user,
			 uint64_t auth_rev, uint8_t **resp, size_t *resp_len, const char **msg)
{
	struct ms_apply_res res = { 0 };
	size_t len;
	uint8_t *buf = pack_entry(e, MS_ENTRY_FORMAT, user, auth_rev, &len);
	uint32_t code;

	ms_apply_entry(&m->ap, buf, len, &res);
	free(buf);
	code = res.code;
	if (msg)
		*msg = res.msg;
	if (resp) {
		*resp = NULL;
		*resp_len = 0;
		if (res.resp) {
			*resp_len = protobuf_c_message_get_packed_size(res.resp);
			*resp = malloc(*resp_len ? *resp_len : 1);
			assert_non_null(*resp);
			protobuf_c_message_pack(res.resp, *resp);
		}
	}
	ms_apply_res_release(&res);
	return code;
}

static uint32_t apply_ok(struct member *m, Metastore__Entry *e)
{
	return apply_as(m, e, "", ms_auth_revision(m->auth), NULL, NULL, NULL);
}

static void put_entry(Metastore__Entry *e, Etcdserverpb__PutRequest *p, const char *key,
		      const char *val, int64_t lease)
{
	metastore__entry__init(e);
	etcdserverpb__put_request__init(p);
	p->key = (ProtobufCBinaryData){ strlen(key), (uint8_t *)key };
	p->value = (ProtobufCBinaryData){ strlen(val), (uint8_t *)val };
	p->lease = lease;
	p->prev_kv = true;
	e->op_case = METASTORE__ENTRY__OP_PUT;
	e->put = p;
}

static void snapshot_of(struct member *m, struct ms_buf *out)
{
	struct ms_snap_parts parts = { .mvcc = m->mvcc, .leases = m->leases,
				       .extra_dump = ms_auth_dump, .extra_arg = m->auth };

	assert_int_equal(ms_snapshot_serialize(&parts, out), 0);
}

/* Two members with different clocks apply the same entries: same responses, same state. */
static void test_same_entries_same_results(void **state)
{
	struct member a, b;
	Metastore__Entry e;
	Etcdserverpb__PutRequest put;
	Etcdserverpb__LeaseGrantRequest grant_req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Metastore__LeaseGrant grant = METASTORE__LEASE_GRANT__INIT;
	Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__CompactionRequest comp = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	Metastore__LeaseExpire exp = METASTORE__LEASE_EXPIRE__INIT;
	struct ms_buf sa = { 0 }, sb = { 0 };
	int64_t lease_id = 0;

	(void)state;
	member_init(&a, 1000);
	member_init(&b, 987654321);
	for (int step = 0; step < 7; step++) {
		uint8_t *ra, *rb;
		size_t la, lb;
		uint32_t ca, cb;

		metastore__entry__init(&e);
		switch (step) {
		case 0:
			put_entry(&e, &put, "k1", "v1", 0);
			break;
		case 1:
			put_entry(&e, &put, "k1", "v2", 0); /* prev_kv comes back */
			break;
		case 2:
			grant_req.ttl = 10;
			grant.request = &grant_req;
			e.op_case = METASTORE__ENTRY__OP_LEASE_GRANT;
			e.lease_grant = &grant;
			break;
		case 3:
			put_entry(&e, &put, "k2", "leased", lease_id);
			break;
		case 4:
			del.key = (ProtobufCBinaryData){ 2, (uint8_t *)"k1" };
			e.op_case = METASTORE__ENTRY__OP_DELETE_RANGE;
			e.delete_range = &del;
			break;
		case 5:
			comp.revision = 3;
			e.op_case = METASTORE__ENTRY__OP_COMPACTION;
			e.compaction = &comp;
			break;
		default:
			exp.id = lease_id; /* the expiry deletes k2 */
			e.op_case = METASTORE__ENTRY__OP_LEASE_EXPIRE;
			e.lease_expire = &exp;
			break;
		}
		ca = apply_as(&a, &e, "", 1, &ra, &la, NULL);
		cb = apply_as(&b, &e, "", 1, &rb, &lb, NULL);
		print_message("step %d\n", step);
		assert_int_equal(ca, MS_GRPC_OK);
		assert_int_equal(cb, MS_GRPC_OK);
		assert_int_equal(la, lb);
		assert_memory_equal(ra, rb, la);
		if (step == 2) {
			Etcdserverpb__LeaseGrantResponse *g =
				etcdserverpb__lease_grant_response__unpack(NULL, la, ra);

			assert_non_null(g);
			lease_id = g->id;
			assert_int_not_equal(lease_id, 0);
			etcdserverpb__lease_grant_response__free_unpacked(g, NULL);
		}
		free(ra);
		free(rb);
	}
	assert_int_equal(ms_mvcc_rev(a.mvcc), 6);
	assert_false(ms_lease_exists(a.leases, lease_id));
	snapshot_of(&a, &sa);
	snapshot_of(&b, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.data, sb.data, sa.len);
	assert_int_equal(a.changed, b.changed);
	ms_buf_free(&sa);
	ms_buf_free(&sb);
	member_free(&a);
	member_free(&b);
}

/* The response header carries the revision the write was applied at. */
static void test_put_revision(void **state)
{
	struct member m;
	Metastore__Entry e;
	Etcdserverpb__PutRequest put;
	uint8_t *resp;
	size_t len;

	(void)state;
	member_init(&m, 0);
	for (int i = 0; i < 3; i++) {
		Etcdserverpb__PutResponse *p;

		put_entry(&e, &put, "k", "v", 0);
		assert_int_equal(apply_as(&m, &e, "", 1, &resp, &len, NULL), MS_GRPC_OK);
		p = etcdserverpb__put_response__unpack(NULL, len, resp);
		assert_non_null(p);
		assert_non_null(p->header);
		assert_int_equal(p->header->revision, 2 + i);
		assert_int_equal(p->header->member_id, 0); /* the answering member's to fill */
		etcdserverpb__put_response__free_unpacked(p, NULL);
		free(resp);
	}
	member_free(&m);
}

/* Entries apply only in a format this build knows; malformed ones change nothing. */
static void test_refused_entries(void **state)
{
	struct member m;
	Metastore__Entry e;
	Etcdserverpb__PutRequest put;
	struct ms_apply_res res = { 0 };
	static const uint8_t garbage[] = { 0x0a, 0x05, 0x01 };
	size_t len;
	uint8_t *buf;

	(void)state;
	member_init(&m, 0);
	put_entry(&e, &put, "k", "v", 0);
	buf = pack_entry(&e, MS_ENTRY_FORMAT + 1, "", 1, &len);
	assert_int_equal(ms_apply_entry(&m.ap, buf, len, &res), 0);
	assert_int_equal(res.code, MS_GRPC_INTERNAL);
	assert_string_equal(res.msg, "metastore: raft entry of an unknown format");
	ms_apply_res_release(&res);
	free(buf);
	assert_int_equal(ms_apply_entry(&m.ap, garbage, sizeof(garbage), &res), -EBADMSG);
	assert_int_equal(res.code, MS_GRPC_INTERNAL);
	ms_apply_res_release(&res);
	/* an entry without an op */
	metastore__entry__init(&e);
	buf = pack_entry(&e, MS_ENTRY_FORMAT, "", 1, &len);
	assert_int_equal(ms_apply_entry(&m.ap, buf, len, &res), 0);
	assert_int_equal(res.code, MS_GRPC_INTERNAL);
	ms_apply_res_release(&res);
	free(buf);
	assert_int_equal(ms_mvcc_rev(m.mvcc), 1);
	member_free(&m);
}

/* The lease limit rides in the grant: members apply the proposer's limit, not their own. */
static void test_lease_limit_in_entry(void **state)
{
	struct member m;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Metastore__LeaseGrant g = METASTORE__LEASE_GRANT__INIT;
	const char *msg;

	(void)state;
	member_init(&m, 0);
	req.ttl = 30;
	g.request = &req;
	g.max_leases = 2;
	e.op_case = METASTORE__ENTRY__OP_LEASE_GRANT;
	e.lease_grant = &g;
	assert_int_equal(apply_ok(&m, &e), MS_GRPC_OK);
	assert_int_equal(apply_ok(&m, &e), MS_GRPC_OK);
	assert_int_equal(apply_as(&m, &e, "", 1, NULL, NULL, &msg), MS_GRPC_RESOURCE_EXHAUSTED);
	assert_string_equal(msg, "etcdserver: too many leases (--max-leases)");
	g.max_leases = 0; /* no limit at the proposer */
	assert_int_equal(apply_ok(&m, &e), MS_GRPC_OK);
	assert_int_equal(ms_lease_count(m.leases), 3);
	member_free(&m);
}

/* A txn nested deeper than any the edge lets through is refused before it is unpacked. */
static void test_nesting_bound(void **state)
{
	enum { DEPTH = MS_APPLY_MAX_NESTING + 1 };
	struct member m;
	Etcdserverpb__TxnRequest txns[DEPTH];
	Etcdserverpb__RequestOp ops[DEPTH], *op_ptrs[DEPTH];
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	struct ms_apply_res res = { 0 };
	uint8_t *buf;
	size_t len;

	(void)state;
	member_init(&m, 0);
	for (int i = 0; i < DEPTH; i++) {
		etcdserverpb__txn_request__init(&txns[i]);
		etcdserverpb__request_op__init(&ops[i]);
		op_ptrs[i] = &ops[i];
		if (i + 1 < DEPTH) {
			ops[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
			ops[i].request_txn = &txns[i + 1];
			txns[i].success = &op_ptrs[i];
			txns[i].n_success = 1;
		}
	}
	e.op_case = METASTORE__ENTRY__OP_TXN;
	e.txn = &txns[0];
	buf = pack_entry(&e, MS_ENTRY_FORMAT, "", 1, &len);
	assert_int_equal(ms_apply_entry(&m.ap, buf, len, &res), -EBADMSG);
	assert_string_equal(res.msg, "metastore: raft entry nests too deep");
	ms_apply_res_release(&res);
	free(buf);
	member_free(&m);
}

/* root (root role) and alice (role app: readwrite on a/...), auth enabled, through entries. */
static void auth_setup(struct member *m)
{
	static char pw[] = "pw", root[] = "root", alice[] = "alice", app[] = "app";
	Etcdserverpb__AuthUserAddRequest ua = ETCDSERVERPB__AUTH_USER_ADD_REQUEST__INIT;
	Etcdserverpb__AuthRoleAddRequest ra = ETCDSERVERPB__AUTH_ROLE_ADD_REQUEST__INIT;
	Etcdserverpb__AuthUserGrantRoleRequest gr = ETCDSERVERPB__AUTH_USER_GRANT_ROLE_REQUEST__INIT;
	Etcdserverpb__AuthRoleGrantPermissionRequest gp =
		ETCDSERVERPB__AUTH_ROLE_GRANT_PERMISSION_REQUEST__INIT;
	Etcdserverpb__AuthEnableRequest en = ETCDSERVERPB__AUTH_ENABLE_REQUEST__INIT;
	Authpb__Permission perm = AUTHPB__PERMISSION__INIT;
	Metastore__Entry e;

	metastore__entry__init(&e);
	e.op_case = METASTORE__ENTRY__OP_USER_ADD;
	e.user_add = &ua;
	ua.password = pw;
	ua.name = root;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	ua.name = alice;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	e.op_case = METASTORE__ENTRY__OP_ROLE_ADD;
	e.role_add = &ra;
	ra.name = root;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	ra.name = app;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	e.op_case = METASTORE__ENTRY__OP_USER_GRANT_ROLE;
	e.user_grant_role = &gr;
	gr.user = root;
	gr.role = root;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	gr.user = alice;
	gr.role = app;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	perm.permtype = AUTHPB__PERMISSION__TYPE__READWRITE;
	perm.key = (ProtobufCBinaryData){ 2, (uint8_t *)"a/" };
	perm.range_end = (ProtobufCBinaryData){ 2, (uint8_t *)"a0" };
	gp.name = app;
	gp.perm = &perm;
	e.op_case = METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION;
	e.role_grant_permission = &gp;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	e.op_case = METASTORE__ENTRY__OP_AUTH_ENABLE;
	e.auth_enable = &en;
	assert_int_equal(apply_ok(m, &e), MS_GRPC_OK);
	assert_true(ms_auth_enabled(m->auth));
}

/* Permissions changed between the edge's check and apply: checked again, on the new state. */
static void test_auth_recheck(void **state)
{
	static char app[] = "app";
	struct member m;
	Metastore__Entry e, rv;
	Etcdserverpb__PutRequest put;
	Etcdserverpb__AuthRoleRevokePermissionRequest rp =
		ETCDSERVERPB__AUTH_ROLE_REVOKE_PERMISSION_REQUEST__INIT;
	uint64_t checked_at;
	const char *msg;

	(void)state;
	member_init(&m, 0);
	auth_setup(&m);
	checked_at = ms_auth_revision(m.auth);
	put_entry(&e, &put, "a/x", "1", 0);
	put.prev_kv = false;
	/* checked at the current revision: applied as it is */
	assert_int_equal(apply_as(&m, &e, "alice", checked_at, NULL, NULL, NULL), MS_GRPC_OK);
	/* an older revision, still permitted: applied */
	assert_int_equal(apply_as(&m, &e, "alice", checked_at - 1, NULL, NULL, NULL), MS_GRPC_OK);
	/* the permission goes; alice's put checked before that is refused at apply */
	metastore__entry__init(&rv);
	rp.role = app;
	rp.key = (ProtobufCBinaryData){ 2, (uint8_t *)"a/" };
	rp.range_end = (ProtobufCBinaryData){ 2, (uint8_t *)"a0" };
	rv.op_case = METASTORE__ENTRY__OP_ROLE_REVOKE_PERMISSION;
	rv.role_revoke_permission = &rp;
	assert_int_equal(apply_as(&m, &rv, "root", ms_auth_revision(m.auth), NULL, NULL, NULL),
			 MS_GRPC_OK);
	assert_int_equal(apply_as(&m, &e, "alice", checked_at, NULL, NULL, &msg),
			 MS_GRPC_PERMISSION_DENIED);
	assert_string_equal(msg, ERR_AUTH_DENIED);
	/* an entry naming no user while auth is on, from before it was enabled */
	assert_int_equal(apply_as(&m, &e, "", 1, NULL, NULL, &msg), MS_GRPC_INVALID_ARGUMENT);
	assert_string_equal(msg, ERR_AUTH_USER_EMPTY);
	assert_int_equal(ms_mvcc_rev(m.mvcc), 3); /* the two allowed puts only */
	member_free(&m);
}

/* Authenticate's token: learned by the member at the revision the password was checked at. */
static void test_token_entry(void **state)
{
	static char alice[] = "alice", tok[] = "abcdefghijklmnop.7", tok2[] = "zyxwvutsrqponmlk.8";
	struct member m;
	Metastore__Entry e;
	Metastore__SimpleToken t = METASTORE__SIMPLE_TOKEN__INIT;
	const char *user, *msg;
	uint8_t *resp;
	size_t len;
	Etcdserverpb__AuthenticateResponse *ar;

	(void)state;
	member_init(&m, 5000);
	auth_setup(&m);
	metastore__entry__init(&e);
	e.op_case = METASTORE__ENTRY__OP_AUTHENTICATE;
	e.authenticate = &t;
	t.username = alice;
	t.token = tok;
	assert_int_equal(apply_as(&m, &e, "", ms_auth_revision(m.auth), &resp, &len, NULL),
			 MS_GRPC_OK);
	ar = etcdserverpb__authenticate_response__unpack(NULL, len, resp);
	assert_non_null(ar);
	assert_string_equal(ar->token, tok);
	etcdserverpb__authenticate_response__free_unpacked(ar, NULL);
	free(resp);
	assert_int_equal(ms_auth_tokens_lookup(ms_auth_tokens(m.auth), tok, 5001, &user), 0);
	assert_string_equal(user, "alice");
	/* a password checked before the auth state changed gives no token */
	t.token = tok2;
	assert_int_equal(apply_as(&m, &e, "", ms_auth_revision(m.auth) - 1, NULL, NULL, &msg),
			 MS_GRPC_INVALID_ARGUMENT);
	assert_string_equal(msg, ERR_AUTH_OLD_REVISION);
	assert_int_equal(ms_auth_tokens_lookup(ms_auth_tokens(m.auth), tok2, 5001, &user),
			 -ENOENT);
	member_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_entries_same_results),
		cmocka_unit_test(test_put_revision),
		cmocka_unit_test(test_refused_entries),
		cmocka_unit_test(test_nesting_bound),
		cmocka_unit_test(test_lease_limit_in_entry),
		cmocka_unit_test(test_auth_recheck),
		cmocka_unit_test(test_token_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
