/* The probe contract: functions in metastore that bpf/ attaches uprobes to, and what they mean. */
#ifndef MS_PROBES_H
#define MS_PROBES_H

/*
 * Like USDT probe names in PostgreSQL, these functions are a versioned interface between
 * metastore/ and bpf/. metastore calls them at the documented points; each body is empty and
 * compiled with a 5-byte NOP at its entry (gcc -pg -mfentry -mnop-mcount), so an entry uprobe
 * takes the kernel's optimized path. The agent attaches entry probes only and reads the
 * arguments from registers (x86-64 SysV: rdi, rsi, rdx, rcx, r8, r9).
 *
 * Rules for changing this file:
 *  - never change the meaning or order of an argument of an existing probe;
 *  - a new probe, or a new enum value appended at the end, bumps MS_PROBE_ABI_MINOR;
 *  - anything else bumps MS_PROBE_ABI_MAJOR and renames the affected functions.
 * metastore exports the version as the global `ms_probe_abi_version` (major << 16 | minor).
 *
 * Request ids are unique within one process for its lifetime (a 64-bit counter that starts
 * at 1). A begin/end pair is matched by (process, id), never by thread or call stack, so a
 * request that completes later on the event loop is timed from begin to end.
 */
#define MS_PROBE_ABI_MAJOR 2
/* 1.6: the storage ops commit and fsync, the engines bbolt and wal and the status error (what a
 * Go etcd's sites report); 1.7: ms_probe_raft_status and struct ms_probe_limits (the member
 * subsystem). 2.0: the batch probe's buffers hold 256 records, the batch opens with the
 * window's start time and per-method counts of calls begun (struct ms_probe_batch), a call is
 * one END record (no BEGIN record), and a batch is handed over about once per millisecond
 * (not once per loop iteration). 2.1: a call's begin time is its read callback's start and its
 * END record's end time the first write to a client after its trailers (one timestamp each for
 * many calls); the record layout is unchanged. 2.2: a batch is handed over about every 4 ms
 * (the layout and the meaning of every field are unchanged). 2.3: only the member that
 * proposed an entry writes its commit record (one proposed elsewhere had val 0 and was
 * timed by no probe), and the commit time is when that member learned the commit index that
 * covers the entry (one timestamp for all the entries one commit index covers). */
#define MS_PROBE_ABI_MINOR 3

#include "ms_methods.h"

/* Storage operations: the `op` argument of the storage probes and the `operation` label. */
#define MS_STORAGE_OPS(X)                                                          \
	X(RANGE, "range")                                                          \
	X(PUT, "put")                                                              \
	X(DELETE, "delete")                                                        \
	X(TXN, "txn")                                                              \
	X(COMPACT, "compact")                                                      \
	X(COMMIT, "commit") /* since 1.6: a Go etcd's backend commit (bbolt) */    \
	X(FSYNC, "fsync")   /* since 1.6: a Go etcd's WAL fsync */

#define MS_STORAGE_OP_ENUM_(id, name) MS_STORAGE_OP_##id,
enum ms_storage_op {
	MS_STORAGE_OPS(MS_STORAGE_OP_ENUM_)
	MS_STORAGE_OP_COUNT
};
#undef MS_STORAGE_OP_ENUM_

/* Storage engines: the `storage` argument and label. */
#define MS_STORAGE_KINDS(X)                                                        \
	X(MEMORY, "memory")                                                        \
	X(BBOLT, "bbolt") /* since 1.6: a Go etcd's backend */                     \
	X(WAL, "wal")     /* since 1.6: a Go etcd's write-ahead log */

#define MS_STORAGE_KIND_ENUM_(id, name) MS_STORAGE_##id,
enum ms_storage_kind {
	MS_STORAGE_KINDS(MS_STORAGE_KIND_ENUM_)
	MS_STORAGE_KIND_COUNT
};
#undef MS_STORAGE_KIND_ENUM_

/* Result of a storage operation: the `status` argument and label. */
#define MS_STORAGE_STATUSES(X)                                                     \
	X(OK, "ok")                                                                \
	X(COMPACTED, "compacted")                                                  \
	X(FUTURE_REV, "future_revision")                                           \
	X(INVALID, "invalid")                                                      \
	X(NOMEM, "nomem")                                                          \
	X(ERROR, "error") /* since 1.6: the Go call returned an error */

#define MS_STORAGE_STATUS_ENUM_(id, name) MS_STORAGE_STATUS_##id,
enum ms_storage_status {
	MS_STORAGE_STATUSES(MS_STORAGE_STATUS_ENUM_)
	MS_STORAGE_STATUS_COUNT
};
#undef MS_STORAGE_STATUS_ENUM_

/* Lease operations (since 1.2): the `op` argument of ms_probe_lease_op and the `operation`
 * label. EXPIRE is a revoke the leader made because the lease's TTL ran out. */
#define MS_LEASE_OPS(X)                                                            \
	X(GRANT, "grant")                                                          \
	X(REVOKE, "revoke")                                                        \
	X(RENEW, "renew")                                                          \
	X(EXPIRE, "expire")

#define MS_LEASE_OP_ENUM_(id, name) MS_LEASE_OP_##id,
enum ms_lease_op {
	MS_LEASE_OPS(MS_LEASE_OP_ENUM_)
	MS_LEASE_OP_COUNT
};
#undef MS_LEASE_OP_ENUM_

/* Result of a lease operation (since 1.2): the `status` argument and label. */
#define MS_LEASE_STATUSES(X)                                                       \
	X(OK, "ok")                                                                \
	X(NOT_FOUND, "not_found")                                                  \
	X(EXISTS, "exists")                                                        \
	X(INVALID, "invalid")                                                      \
	X(NOMEM, "nomem")

#define MS_LEASE_STATUS_ENUM_(id, name) MS_LEASE_STATUS_##id,
enum ms_lease_status {
	MS_LEASE_STATUSES(MS_LEASE_STATUS_ENUM_)
	MS_LEASE_STATUS_COUNT
};
#undef MS_LEASE_STATUS_ENUM_

/* Result of an Authenticate call (since 1.4): the `result` argument of
 * ms_probe_auth_authenticate and the `result` label of auth_authentication_total. */
#define MS_AUTH_AUTHN_RESULTS(X)                                                   \
	X(SUCCESS, "success")                                                      \
	X(FAILURE, "failure")

#define MS_AUTH_AUTHN_ENUM_(id, name) MS_AUTH_AUTHN_##id,
enum ms_auth_authn_result {
	MS_AUTH_AUTHN_RESULTS(MS_AUTH_AUTHN_ENUM_)
	MS_AUTH_AUTHN_COUNT
};
#undef MS_AUTH_AUTHN_ENUM_

/* Result of a permission check (since 1.4): the `result` argument of
 * ms_probe_auth_authorize and the `result` label of auth_authorization_total. */
#define MS_AUTH_AUTHZ_RESULTS(X)                                                   \
	X(ALLOWED, "allowed")                                                      \
	X(DENIED, "denied")

#define MS_AUTH_AUTHZ_ENUM_(id, name) MS_AUTH_AUTHZ_##id,
enum ms_auth_authz_result {
	MS_AUTH_AUTHZ_RESULTS(MS_AUTH_AUTHZ_ENUM_)
	MS_AUTH_AUTHZ_COUNT
};
#undef MS_AUTH_AUTHZ_ENUM_

/*
 * The batch probe (since 1.5). A uprobe hit costs the store a trip into the kernel (about
 * 1.3 us on a nop5 site here), as much as a whole in-memory read. So the per-request events
 * of the grpc, storage, mvcc, raft and auth probes, and the watch events sent, also exist as
 * records: while the batch probe is attached (its semaphore, below, is non-zero) the store
 * appends one record per event to the buffer of its subsystem and hands all buffers to
 * ms_probe_batch from a 4 ms loop timer (1 ms before 2.2), armed before the loop waits for
 * I/O in the first iteration that leaves an event pending (so it also wakes an idle loop), or
 * as soon as one buffer is full. One hit then carries every event of about 4 ms, however many
 * loop iterations served them (since 2.0; before, one hit per iteration). Without an attached
 * batch probe the store writes no records and takes no timestamps; the direct probes (below)
 * fire for every event either way.
 *
 * Every record is 32 bytes. Times are CLOCK_MONOTONIC nanoseconds taken by the store at the
 * event (the clock of bpf_ktime_get_ns; since 2.0 read through the TSC between 1 ms anchors
 * while the kernel's clocksource is the TSC, within the CLOCK_MONOTONIC reads around it).
 * The records of one buffer are in event order; a record reaches the probe within about 5 ms
 * of its event (the window plus the loop timer's granularity of 1 ms), and before the store
 * exits.
 *
 * gRPC calls (since 2.0): a call's begin is no record but a count (grpc_begun, per method) in
 * the batch of the window it began in, and its begin time, which is later than that window's
 * start (window_ns), travels in its END record. So a probe that first sees a batch with
 * window start W counts (times, and takes out of the in-flight gauge) exactly the calls whose
 * END record carries a begin time > W: their begins are in the counts it saw.
 */
#define MS_PROBE_BATCH_MAX 256

/* The buffers of a batch, one per subsystem. */
#define MS_BATCH_GRPC 0
#define MS_BATCH_STORAGE 1
#define MS_BATCH_MVCC 2
#define MS_BATCH_RAFT 3
#define MS_BATCH_AUTH 4
#define MS_BATCH_WATCH 5
#define MS_BATCH_BUFS 6

/* The `kind` of a record; the fields each kind uses are listed beside it. */
enum ms_probe_rec_kind {
	MS_REC_NONE = 0,
	/* grpc buffer; val of END is the begin time of the call. A call that began while the
	 * batch probe was not attached has no END record (since 2.0). */
	MS_REC_GRPC_BEGIN = 1,        /* 1.x only: 2.0 counts begins in grpc_begun instead */
	MS_REC_GRPC_END = 2,          /* id req_id, t_ns end, val begin, a method, b grpc code
				       * (since 2.1: begin = the read that brought the call's
				       * headers, end = the first client write after its trailers) */
	MS_REC_GRPC_PANIC = 3,        /* id req_id, t_ns now, a method */
	MS_REC_GRPC_RATE_LIMITED = 4, /* id req_id, t_ns now, a method */
	/* storage buffer: one record per operation, written at its end */
	MS_REC_STORAGE_OP = 16, /* id op_id, t_ns begin, val end ns, a op, b storage kind, c status */
	/* mvcc buffer. A gauge record (REVISION) replaces the buffer's earlier one of the same
	 * node instead of adding another: the latest value is what counts. */
	MS_REC_MVCC_REVISION = 32, /* id node, val revision (as ms_probe_mvcc_revision) */
	MS_REC_MVCC_COMPACT = 33,  /* id node, val revision (as ms_probe_mvcc_compact) */
	/* raft buffer; APPLY is a gauge record like REVISION. The leader that proposed an
	 * entry knows when it did: its COMMIT record carries that time, so propose-to-commit
	 * needs no matching of records (before 2.3, 0: proposed on another node, or not
	 * recorded; since 2.3 such entries have no record). The commit time is when the member
	 * learned the commit index covering the entry (since 2.3; before, its apply's start). */
	MS_REC_RAFT_COMMIT = 49, /* id node, t_ns commit time, val propose time, a 0 */
	MS_REC_RAFT_APPLY = 50,  /* id node, val applied index */
	/* auth buffer: as ms_probe_auth_authenticate / ms_probe_auth_authorize */
	MS_REC_AUTH_AUTHENTICATE = 64, /* a result */
	MS_REC_AUTH_AUTHORIZE = 65,    /* id req_id, a method, b result */
	/* watch buffer: as ms_probe_watch_events */
	MS_REC_WATCH_EVENTS = 80, /* id watch_id, val PUT events << 32 | DELETE events */
};

/* Types that read the same in the store (stdint) and in BPF programs (vmlinux.h). */
#ifdef __bpf__
#define MS_PROBE_U16 __u16
#define MS_PROBE_U32 __u32
#define MS_PROBE_U64 __u64
#else
#include <stdint.h>
#define MS_PROBE_U16 uint16_t
#define MS_PROBE_U32 uint32_t
#define MS_PROBE_U64 uint64_t
#endif

struct ms_probe_rec {
	MS_PROBE_U64 id;
	MS_PROBE_U64 t_ns;
	MS_PROBE_U64 val;
	MS_PROBE_U16 kind; /* enum ms_probe_rec_kind */
	MS_PROBE_U16 a;
	MS_PROBE_U16 b;
	MS_PROBE_U16 c;
};

/* What ms_probe_batch gets: for each buffer (MS_BATCH_*), its record count and records;
 * since 2.0 also the window the batch covers and the gRPC calls begun in it. */
struct ms_probe_batch {
	MS_PROBE_U32 n[MS_BATCH_BUFS];
	/* CLOCK_MONOTONIC ns of the previous hand-over (0 for the process's first batch): every
	 * event of this batch came after it */
	MS_PROBE_U64 window_ns;
	/* gRPC calls begun in this window, per enum ms_method (out-of-range: MS_METHOD_UNKNOWN) */
	MS_PROBE_U32 grpc_begun[MS_METHOD_COUNT];
	struct ms_probe_rec rec[MS_BATCH_BUFS][MS_PROBE_BATCH_MAX];
};

/* The store's configured limits (since 1.7), as ms_probe_raft_status points at them; 0 is
 * no limit. Filled once at start-up, before the first status. */
struct ms_probe_limits {
	MS_PROBE_U64 max_connections; /* --max-connections */
	MS_PROBE_U64 rate_limit_milli; /* --rate-limit, calls per 1000 s (it may be below 1/s) */
	MS_PROBE_U64 rate_burst_milli; /* --rate-burst * 1000 (the rate limit when not set) */
	MS_PROBE_U64 max_leases;      /* --max-leases */
	MS_PROBE_U64 max_watches;     /* --max-watches */
};

/* The names of the limits, in the order of struct ms_probe_limits (the `limit` label; the
 * agent exports the two rates per second). */
#define MS_PROBE_LIMITS(X)                                                         \
	X(MAX_CONNECTIONS, "max_connections")                                      \
	X(RATE_LIMIT, "rate_limit")                                                \
	X(RATE_BURST, "rate_burst")                                                \
	X(MAX_LEASES, "max_leases")                                                \
	X(MAX_WATCHES, "max_watches")

#define MS_PROBE_LIMIT_ENUM_(id, name) MS_LIMIT_##id,
enum ms_probe_limit {
	MS_PROBE_LIMITS(MS_PROBE_LIMIT_ENUM_)
	MS_LIMIT_COUNT
};
#undef MS_PROBE_LIMIT_ENUM_

#ifndef __bpf__

#ifdef __cplusplus
extern "C" {
#endif

extern const uint32_t ms_probe_abi_version;

/*
 * grpc: one pair per gRPC call (unary or stream).
 * begin: the request headers were accepted and the method resolved; `method` is an
 *        enum ms_method id (MS_METHOD_UNKNOWN for a path the server does not serve, and
 *        for the /metastorepb.Internal/ methods members call on each other).
 * end:   the call's trailers (grpc-status) were queued; `code` is that grpc-status.
 *        Called exactly once for every begin, on every path, including errors.
 */
void ms_probe_grpc_request_begin(uint64_t req_id, uint32_t method);
void ms_probe_grpc_request_end(uint64_t req_id, uint32_t method, uint32_t code);

/*
 * grpc: a handler hit an internal fault (failed invariant, allocation failure) and the
 * recovery path ends the call with INTERNAL. Called before the matching request_end.
 */
void ms_probe_grpc_panic(uint64_t req_id, uint32_t method);

/*
 * grpc (since 1.2): the server's rate limit refused the call; it ends with
 * RESOURCE_EXHAUSTED right after (its request_end follows).
 */
void ms_probe_grpc_rate_limited(uint64_t req_id, uint32_t method);

/*
 * storage: one pair around each operation on the key-value engine.
 * `op_id` is unique per process like a request id; `op` an enum ms_storage_op; `kind` an enum
 * ms_storage_kind; `status` an enum ms_storage_status (the operation's result).
 */
void ms_probe_storage_begin(uint64_t op_id, uint32_t op, uint32_t kind);
void ms_probe_storage_end(uint64_t op_id, uint32_t op, uint32_t kind, uint32_t status);

/*
 * mvcc: the store's current revision became `rev` on raft node `node_id` (1 for a single
 * node). Called after every write that creates a revision, and once at start-up.
 */
void ms_probe_mvcc_revision(uint64_t node_id, int64_t rev);

/* mvcc: a compaction up to and including `rev` finished on node `node_id`. */
void ms_probe_mvcc_compact(uint64_t node_id, int64_t rev);

/*
 * conn (since 1.1): a client connection was accepted / closed. `conn_id` is unique per
 * process; `active` is the number of open client connections right after the event, so a
 * probe attached late still reads the true count from the next event on.
 */
void ms_probe_conn_open(uint64_t conn_id, uint32_t active);
void ms_probe_conn_close(uint64_t conn_id, uint32_t active);

/* conn (since 1.2): a connection was accepted and closed at once because `active`
 * connections were already open (--max-connections). */
void ms_probe_conn_reject(uint32_t active);

/*
 * watch (since 1.2): a watcher was created / canceled (by the client, or because its
 * stream ended). `watch_id` is the id within its stream; `active` is the number of watchers
 * open in the process right after the event.
 */
void ms_probe_watch_create(int64_t watch_id, uint32_t active);
void ms_probe_watch_cancel(int64_t watch_id, uint32_t active);

/* watch (since 1.2): one WatchResponse carrying `puts` PUT and `deletes` DELETE events was
 * queued for watcher `watch_id`. */
void ms_probe_watch_events(int64_t watch_id, uint32_t puts, uint32_t deletes);

/*
 * lease (since 1.2): one call per grant, revoke, keep-alive renew or expiry revoke, after
 * the operation decided its result. `op` is an enum ms_lease_op; `lease_id` the lease the
 * request named (0 for a grant that failed before an id was chosen); `status` an enum
 * ms_lease_status: OK; NOT_FOUND (no such lease, or renewing one that already expired);
 * EXISTS (grant of an id in use); INVALID (negative id, TTL above the maximum); NOMEM.
 */
void ms_probe_lease_op(uint32_t op, int64_t lease_id, uint32_t status);

/* lease (since 1.2): the number of leases became `count`. Called after every grant and
 * revoke (of either op) that changed it, right after the matching ms_probe_lease_op. */
void ms_probe_lease_active(uint32_t count);

/*
 * raft (since 1.3). `node` is the raft node id of the process (the etcd member id, printed in
 * hex by `etcdctl member list`), `index` a raft log index. An entry is proposed by the leader
 * that accepted the request, committed once a quorum stored it, then applied on every node.
 *
 * propose: this node, the leader, appended entry `index` for a client write (one call per
 * write request that reached raft). The time from propose to the commit of the same
 * (process, index) is raft_commit_duration_seconds.
 */
void ms_probe_raft_propose(uint64_t node, uint64_t index);

/* raft (since 1.3): entry `index` is committed and about to be applied on `node`. Fires on
 * every node for every entry that carries a store command, proposed here or elsewhere. */
void ms_probe_raft_commit(uint64_t node, uint64_t index);

/* raft (since 1.3): `node` applied everything up to `index` to its state machine: after each
 * entry, and once after a snapshot restore (the raft_applied_index gauge). */
void ms_probe_raft_apply(uint64_t node, uint64_t index);

/*
 * auth (since 1.4): one call per Authenticate request, once its outcome is known. `result`
 * is an enum ms_auth_authn_result: SUCCESS (a token was issued) or FAILURE (auth not
 * enabled, unknown user, wrong password, malformed request, no token could be made).
 */
void ms_probe_auth_authenticate(uint32_t result);

/*
 * auth (since 1.4): one call per permission check, made only while auth is enabled: for
 * each call whose method needs one (before its handler runs; for a stream, when it opens)
 * and for each watch a Watch stream asks to create. `req_id` and `method` are the call's
 * (as in the grpc probes; a watch create gives its stream's); `result` is an enum
 * ms_auth_authz_result: ALLOWED, or DENIED (no token, an invalid token, or missing
 * permission). Methods that need no check (Authenticate, Status, MemberList, Alarm) fire
 * nothing.
 */
void ms_probe_auth_authorize(uint64_t req_id, uint32_t method, uint32_t result);


/*
 * member (since 1.7): each member, once at start-up (before its first batch, with term and
 * leader 0) and then on every tick of its raft poll timer (every 20 ms), says who it is and
 * what it knows of the cluster: `node` its raft node id (as in the raft probes), `term` its current
 * raft term, `leader` the node id of the leader it knows (itself when it leads; 0 while it
 * knows none), `limits` its configured limits (ms_probe_limits_info; valid for the process's
 * lifetime). So a probe attached late learns the process's member id within a tick,
 * a process that stops ticking (exited, stopped, its loop stuck) is noticed, and every
 * leader change a member sees is one change of `leader`.
 */
void ms_probe_raft_status(uint64_t node, uint64_t term, uint64_t leader,
			  const struct ms_probe_limits *limits);

/* What the store passes as `limits` (since 1.7). */
extern struct ms_probe_limits ms_probe_limits_info;

/*
 * The batch probe (since 1.5): `b` holds 0..MS_PROBE_BATCH_MAX records in each buffer (at
 * least one record in all, or at least one call begun), valid only during the call. Its semaphore is a USDT-style 16-bit counter
 * that the kernel raises while a uprobe is attached with it as its reference counter
 * (libbpf: bpf_uprobe_opts.ref_ctr_offset = the file offset of the symbol); the store writes
 * records only while it is non-zero. Every uprobe on ms_probe_batch must name the semaphore:
 * the kernel refuses uprobes with different reference counters on one site.
 */
void ms_probe_batch(const struct ms_probe_batch *b);

extern volatile uint16_t ms_probe_batch_semaphore;

#ifdef __cplusplus
}
#endif
#endif /* !__bpf__ */

#endif /* MS_PROBES_H */
