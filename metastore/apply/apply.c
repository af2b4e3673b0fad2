/* Applying committed raft entries: decode, format and auth re-check, then one applier per op. */
#include "apply/apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/authz.h"
#include "apply/txn_depth.h"

/* Entry.txn (raft_entry.proto). */
#define METASTORE__ENTRY__TXN_FIELD 12

void ms_apply_res_release(struct ms_apply_res *res)
{
	kv_pb_arena_free(&res->arena);
	memset(res, 0, sizeof(*res));
}

void ms_apply_res_fail(struct ms_apply_res *res, uint32_t code, const char *msg)
{
	res->code = code;
	res->msg = msg;
	res->resp = NULL;
	res->hdr = NULL;
}

void ms_apply_res_ok(struct ms_apply_res *res, ProtobufCMessage *resp,
		     Etcdserverpb__ResponseHeader *hdr)
{
	res->code = MS_GRPC_OK;
	res->msg = NULL;
	res->resp = resp;
	res->hdr = hdr;
	if (hdr)
		res->revision = hdr->revision;
	if (!resp || !hdr || res->arena.failed)
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
}

void ms_apply_changed(struct ms_applier *ap)
{
	if (ap->changed)
		ap->changed(ap->changed_arg);
}

/* Ops a caller's permissions decide (the others need no user or are the store's own). */
static bool needs_recheck(const Metastore__Entry *e)
{
	switch (e->op_case) {
	case METASTORE__ENTRY__OP_PUT:
	case METASTORE__ENTRY__OP_DELETE_RANGE:
	case METASTORE__ENTRY__OP_TXN:
	case METASTORE__ENTRY__OP_COMPACTION:
	case METASTORE__ENTRY__OP_LEASE_GRANT:
	case METASTORE__ENTRY__OP_LEASE_REVOKE:
	case METASTORE__ENTRY__OP_AUTH_DISABLE:
	case METASTORE__ENTRY__OP_USER_ADD:
	case METASTORE__ENTRY__OP_USER_DELETE:
	case METASTORE__ENTRY__OP_USER_CHANGE_PASSWORD:
	case METASTORE__ENTRY__OP_USER_GRANT_ROLE:
	case METASTORE__ENTRY__OP_USER_REVOKE_ROLE:
	case METASTORE__ENTRY__OP_ROLE_ADD:
	case METASTORE__ENTRY__OP_ROLE_DELETE:
	case METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION:
	case METASTORE__ENTRY__OP_ROLE_REVOKE_PERMISSION:
		return true;
	default:
		return false;
	}
}

int ms_apply_recheck(struct ms_applier *ap, const Metastore__Entry *e)
{
	const struct ms_authz z = { .auth = ap->auth, .leases = ap->leases };
	const char *user = e->header ? e->header->username : NULL;

	switch (e->op_case) {
	case METASTORE__ENTRY__OP_PUT:
		return ms_authz_put(&z, user, e->put);
	case METASTORE__ENTRY__OP_DELETE_RANGE:
		return ms_authz_delete(&z, user, e->delete_range);
	case METASTORE__ENTRY__OP_TXN:
		return ms_authz_txn(&z, user, e->txn, 0);
	case METASTORE__ENTRY__OP_LEASE_GRANT:
		return user && *user ? 0 : -MS_AUTH_EUSER_EMPTY;
	case METASTORE__ENTRY__OP_LEASE_REVOKE:
		return ms_authz_lease_keys(&z, user, e->lease_revoke->id);
	case METASTORE__ENTRY__OP_USER_CHANGE_PASSWORD:
		return ms_authz_self(&z, user, e->user_change_password->name);
	default:
		return ms_auth_check_admin(ap->auth, user);
	}
}

/* The submessage of the op case (NULL when an op names none). */
static const void *op_msg(const Metastore__Entry *e)
{
	switch (e->op_case) {
	case METASTORE__ENTRY__OP_PUT: return e->put;
	case METASTORE__ENTRY__OP_DELETE_RANGE: return e->delete_range;
	case METASTORE__ENTRY__OP_TXN: return e->txn;
	case METASTORE__ENTRY__OP_COMPACTION: return e->compaction;
	case METASTORE__ENTRY__OP_LEASE_GRANT: return e->lease_grant;
	case METASTORE__ENTRY__OP_LEASE_REVOKE: return e->lease_revoke;
	case METASTORE__ENTRY__OP_LEASE_EXPIRE: return e->lease_expire;
	case METASTORE__ENTRY__OP_AUTH_ENABLE: return e->auth_enable;
	case METASTORE__ENTRY__OP_AUTH_DISABLE: return e->auth_disable;
	case METASTORE__ENTRY__OP_AUTHENTICATE: return e->authenticate;
	case METASTORE__ENTRY__OP_USER_ADD: return e->user_add;
	case METASTORE__ENTRY__OP_USER_DELETE: return e->user_delete;
	case METASTORE__ENTRY__OP_USER_CHANGE_PASSWORD: return e->user_change_password;
	case METASTORE__ENTRY__OP_USER_GRANT_ROLE: return e->user_grant_role;
	case METASTORE__ENTRY__OP_USER_REVOKE_ROLE: return e->user_revoke_role;
	case METASTORE__ENTRY__OP_ROLE_ADD: return e->role_add;
	case METASTORE__ENTRY__OP_ROLE_DELETE: return e->role_delete;
	case METASTORE__ENTRY__OP_ROLE_GRANT_PERMISSION: return e->role_grant_permission;
	case METASTORE__ENTRY__OP_ROLE_REVOKE_PERMISSION: return e->role_revoke_permission;
	case METASTORE__ENTRY__OP_ALARM: return e->alarm;
	default: return NULL;
	}
}

void ms_apply_decoded(struct ms_applier *ap, const Metastore__Entry *e, struct ms_apply_res *res)
{
	const Metastore__EntryHeader *h = e->header;
	int err;

	if (!h || h->format > MS_ENTRY_FORMAT || !op_msg(e)) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, "metastore: raft entry of an unknown format");
		return;
	}
	/* Permissions changed since the edge checked this request: check again against the
	 * state every member has now, so all of them refuse or apply it alike. */
	if (ap->auth && ms_auth_enabled(ap->auth) && needs_recheck(e) &&
	    h->auth_revision != ms_auth_revision(ap->auth)) {
		err = ms_apply_recheck(ap, e);
		if (err) {
			struct kv_pb_err ke = ms_apply_auth_err(err);

			ms_apply_res_fail(res, ke.code, ke.msg);
			return;
		}
	}
	if (ap->alarms && ms_alarms_any(ap->alarms, MS_ALARM_NOSPACE) && ms_apply_capped(e)) {
		ms_apply_res_fail(res, MS_GRPC_RESOURCE_EXHAUSTED, ERR_NO_SPACE);
		return;
	}
	switch (e->op_case) {
	case METASTORE__ENTRY__OP_PUT:
		ms_apply_put(ap, e->put, res);
		break;
	case METASTORE__ENTRY__OP_DELETE_RANGE:
		ms_apply_delete(ap, e->delete_range, res);
		break;
	case METASTORE__ENTRY__OP_TXN:
		ms_apply_txn(ap, e->txn, res);
		break;
	case METASTORE__ENTRY__OP_COMPACTION:
		ms_apply_compact(ap, e->compaction, res);
		break;
	case METASTORE__ENTRY__OP_LEASE_GRANT:
		ms_apply_lease_grant(ap, e->lease_grant, res);
		break;
	case METASTORE__ENTRY__OP_LEASE_REVOKE:
		ms_apply_lease_revoke(ap, e->lease_revoke->id, false, res);
		break;
	case METASTORE__ENTRY__OP_LEASE_EXPIRE:
		ms_apply_lease_revoke(ap, e->lease_expire->id, true, res);
		break;
	case METASTORE__ENTRY__OP_ALARM:
		ms_apply_alarm(ap, e->alarm, res);
		break;
	default:
		ms_apply_auth(ap, e, res);
		break;
	}
}

int ms_apply_entry(struct ms_applier *ap, const uint8_t *entry, size_t len,
		   struct ms_apply_res *res)
{
	/* The decoded entry lives in one arena: a few mallocs instead of one per field. */
	struct kv_pb_arena arena = { 0 };
	ProtobufCAllocator alloc = kv_pb_allocator(&arena);
	Metastore__Entry *e;

	/* protobuf-c unpacks recursively: a txn nesting deeper than the edge lets through is
	 * refused before it is unpacked (every member alike) */
	if (ms_txn_depth_in(entry, len, METASTORE__ENTRY__TXN_FIELD, MS_APPLY_MAX_NESTING) >
	    MS_APPLY_MAX_NESTING) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, "metastore: raft entry nests too deep");
		return -EBADMSG;
	}
	e = metastore__entry__unpack(&alloc, len, entry);
	if (!e) {
		kv_pb_arena_free(&arena);
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, "metastore: raft entry does not decode");
		return -EBADMSG;
	}
	ms_apply_decoded(ap, e, res);
	kv_pb_arena_free(&arena);
	return 0;
}
