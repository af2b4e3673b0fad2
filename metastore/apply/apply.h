/* Applying committed raft entries to the store: one deterministic path for every member. */
#ifndef MS_APPLY_H
#define MS_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "apply/kv_pb.h"
#include "store/alarm.h"
#include "store/auth.h"
#include "store/lease.h"
#include "store/mvcc.h"
#include "raft_entry.pb-c.h"

/* etcd's answer to a write while the NOSPACE alarm is raised (gRPC RESOURCE_EXHAUSTED). */
#define ERR_NO_SPACE "etcdserver: mvcc: database space exceeded"

/* The entry format this build writes and reads; entries of a newer format are refused. */
#define MS_ENTRY_FORMAT 1

/* Deepest nesting of txns an entry may hold (the edge refuses deeper ones first). */
#define MS_APPLY_MAX_NESTING 130

/*
 * What apply reads and changes. Everything here is replicated state, except the clock (lease
 * deadlines and token lifetimes are this member's own: only the leader's lease deadlines
 * decide expiry) and the hooks; no member's flags (limits ride in the entries).
 */
struct ms_applier {
	struct ms_mvcc *mvcc;          /* borrowed */
	struct ms_lease_table *leases; /* borrowed; NULL: lease ids are stored unchecked */
	struct ms_auth *auth;          /* borrowed; NULL: no auth */
	struct ms_alarms *alarms;      /* borrowed; NULL: no alarms kept */
	int64_t (*now_ms)(void *arg);  /* monotonic ms of this member */
	void *clock_arg;
	void (*changed)(void *arg);    /* after an entry that may have changed keys (watchers) */
	void *changed_arg;
	void (*lease_granted)(void *arg); /* after a grant (the expiry timer may wake sooner) */
	void *lease_arg;
};

/*
 * The outcome of one entry. code MS_GRPC_OK: resp is the response (owned by arena) and hdr
 * its header, shared by every sub-response, with the revision the entry was applied at; the
 * member fields are left for the member that answers. Otherwise msg is etcd's text for code
 * (a static string; NULL for an internal fault).
 */
struct ms_apply_res {
	uint32_t code;
	const char *msg;
	ProtobufCMessage *resp;
	Etcdserverpb__ResponseHeader *hdr;
	int64_t revision;
	struct kv_pb_arena arena;
};

/*
 * Applies one entry (the packed Metastore__Entry of a committed raft entry) and fills *res
 * (zeroed by the caller; release it with ms_apply_res_release). The result depends only on
 * the state and the entry, so every member computes the same one. An entry that does not
 * decode, has a newer format or an unknown op changes nothing and ends with INTERNAL.
 * Returns 0, or -EBADMSG for such an entry (res says so too).
 */
int ms_apply_entry(struct ms_applier *ap, const uint8_t *entry, size_t len,
		   struct ms_apply_res *res);

/* Applies an already decoded entry (the no-raft path of the api layer and tests). */
void ms_apply_decoded(struct ms_applier *ap, const Metastore__Entry *e, struct ms_apply_res *res);

/* Frees what the result owns; a zeroed result is allowed. */
void ms_apply_res_release(struct ms_apply_res *res);

/* Sets res to error `code`/`msg` (no response). */
void ms_apply_res_fail(struct ms_apply_res *res, uint32_t code, const char *msg);

/* Sets res to OK with response `resp` (arena-owned) and its header `hdr`. */
void ms_apply_res_ok(struct ms_apply_res *res, ProtobufCMessage *resp,
		     Etcdserverpb__ResponseHeader *hdr);

/* The per-op appliers (apply_kv.c, apply_lease.c, apply_auth.c); each fills res. */
void ms_apply_put(struct ms_applier *ap, const Etcdserverpb__PutRequest *r,
		  struct ms_apply_res *res);
void ms_apply_delete(struct ms_applier *ap, const Etcdserverpb__DeleteRangeRequest *r,
		     struct ms_apply_res *res);
void ms_apply_txn(struct ms_applier *ap, const Etcdserverpb__TxnRequest *r,
		  struct ms_apply_res *res);
void ms_apply_compact(struct ms_applier *ap, const Etcdserverpb__CompactionRequest *r,
		      struct ms_apply_res *res);
void ms_apply_lease_grant(struct ms_applier *ap, const Metastore__LeaseGrant *g,
			  struct ms_apply_res *res);
void ms_apply_lease_revoke(struct ms_applier *ap, int64_t id, bool expired,
			   struct ms_apply_res *res);
void ms_apply_auth(struct ms_applier *ap, const Metastore__Entry *e, struct ms_apply_res *res);

/* Alarm ACTIVATE / DEACTIVATE (apply_alarm.c): the alarm table, answered with what changed. */
void ms_apply_alarm(struct ms_applier *ap, const Etcdserverpb__AlarmRequest *r,
		    struct ms_apply_res *res);

/* Whether the entry may not apply while a NOSPACE alarm is raised (etcd's capped applier:
 * puts, txns that write, lease grants). */
bool ms_apply_capped(const Metastore__Entry *e);

/* Whether the entry's caller may still do what it asked, when the auth state changed since
 * the edge checked it (etcd's re-check at apply). Returns 0 or a negative MS_AUTH_E*. */
int ms_apply_recheck(struct ms_applier *ap, const Metastore__Entry *e);

/* Deletes the keys of a revoked lease in one revision; returns the store revision after. */
int64_t ms_apply_delete_lease_keys(struct ms_applier *ap, const struct ms_lease_keys *keys);

/* The lease table kept in step with a write (apply_kv.c). */
void ms_apply_lease_put(struct ms_applier *ap, const uint8_t *key, size_t len, int64_t lease);
void ms_apply_lease_deleted(struct ms_applier *ap, const struct ms_kv *kvs, size_t n);

/* A put naming a lease the table does not hold is refused (NotFound), like etcd. */
struct kv_pb_err ms_apply_lease_check(const struct ms_applier *ap, int64_t lease);

/* Runs the changed hook, if any. */
void ms_apply_changed(struct ms_applier *ap);

/* The gRPC status for an ms_auth error (msg NULL: an internal fault). */
struct kv_pb_err ms_apply_auth_err(int err);

#endif /* MS_APPLY_H */
