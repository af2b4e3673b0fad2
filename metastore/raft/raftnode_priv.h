/* Raft node internals shared by raftnode.c (libraft, state machine) and raft_route.c. */
#ifndef MS_RAFTNODE_PRIV_H
#define MS_RAFTNODE_PRIV_H

#include <raft.h>
#include <raft/uv.h>

#include "raft/io_once.h"
#include "raft/snap_fork.h"
#include "raft/members.h"
#include "raft/raftnode.h"
#include "raft/wait.h"

/*
 * The frame of every raft entry this store writes (24 bytes, little-endian): magic "MSE2",
 * kind, pad length (libraft needs entries padded to 8 bytes), the proposing member and its
 * proposal sequence number (together the request id its waiting call is found by), then the
 * body. Kinds: a store entry (a packed Metastore__Entry, applied by apply/) or a member's
 * client address (the raft node's own). An entry of the first format ("MSE1": raw gRPC
 * requests) stops the member (ms_raft_on_fatal): it cannot be applied, nor skipped.
 */
#define MS_RAFT_ENTRY_MAGIC 0x3245534du /* "MSE2" */
#define MS_RAFT_ENTRY_MAGIC_V1 0x3145534du /* "MSE1" */
#define MS_RAFT_ENTRY_HDR 24
#define MS_RAFT_KIND_STORE 1u
#define MS_RAFT_KIND_MEMBER_ATTR 2u
#define MS_RAFT_KIND_MEMBERSHIP 3u /* a struct ms_member_change (members.h) */

struct ms_raft_route {
	grpc_unary_fn fn;
	void *ctx;
	bool (*serializable)(const uint8_t *msg, size_t len);
	struct ms_raft *rn;
};

/* An entry this member proposed, until libraft reports it applied or failed. */
struct ms_proposal {
	struct raft_apply req;
	struct ms_raft *rn;
	uint64_t seq;
	uint64_t proposed_ns;   /* for the batch probe's commit record (trace.h), or 0 */
	ms_raft_done_fn done;   /* NULL once told (or for no one) */
	void *done_arg;
	bool applied;
	struct ms_proposal *prev, *next;
};

/* A linearizable read waiting for a barrier. */
struct ms_read_wait {
	struct grpc_call *call;
	const struct ms_raft_route *route;
	struct ms_buf msg;
	struct ms_read_wait *next;
};

/* A call a follower holds while it knows no leader to forward it to, or a local read held
 * until this member is ready (leader_wait.c). */
struct ms_leader_wait {
	struct grpc_call *call; /* referenced */
	struct ms_buf msg;      /* its request, copied */
	uint64_t deadline_ms;   /* loop time it fails at, "no leader" / "not leader" */
	bool for_ready;         /* runs again once this member is ready, not once a leader is known */
	struct ms_leader_wait *next;
};

/* A removed member still in libraft's configuration: the transport still talks to it, so that
 * it learns its removal before the leader drops it from the configuration. */
struct ms_leaving {
	struct ms_raft_peer peer;
	uint64_t index;    /* the entry that removed it */
	uint64_t since_ms; /* when that applied here */
};

struct ms_raft {
	uv_loop_t *loop;
	struct raft *raft;     /* raft_storage, or a test fixture's server */
	struct raft raft_storage;
	struct ms_io_once io; /* raft_uv's io, its close callback passed on once */
	struct raft_uv_transport transport;
	struct raft_fsm fsm;
	struct ms_raft_state_ops st;
	struct ms_raft_opts opts;
	struct ms_members members; /* replicated: the log's membership changes applied */
	char name[64];             /* this member's --name, published once it runs */
	struct raft_change change; /* the one configuration change libraft takes at a time */
	bool change_busy;
	uint64_t change_at_ms;     /* when the last one was made (retries wait a little) */
	struct raft_transfer leave; /* a removed leader hands its leadership on */
	bool leave_busy;
	bool removed_self;         /* this member was removed: it stops once it does not lead */
	bool removed_told;
	void (*removed_fn)(void *arg);
	void *removed_arg;
	void (*members_fn)(void *arg, const struct ms_members *m);
	void *members_arg;
	void (*publish_fn)(void *ctx, const struct ms_member_change *c);
	void *publish_ctx;
	struct ms_leaving leaving[MS_MEMBERS_MAX];
	size_t n_leaving;
	/* the leader's last contact with each member (libraft's recent_recv, sampled) */
	uint64_t contact_id[MS_MEMBERS_MAX];
	uint64_t contact_ms[MS_MEMBERS_MAX];
	char *dir;
	uv_timer_t poll; /* leadership changes, applied index after snapshots */
	uint64_t lead_index; /* the last entry when this member was elected, 0: not leading */
	struct raft_barrier lead_barrier; /* commits them in the new term */
	bool lead_barrier_busy;
	bool was_leader, started, stopping, closed;
	bool attached; /* raft is another owner's instance (ms_raft_new_attached) */
	bool storage_live; /* io and transport are freed by ms_raft_free, once the loop ran dry */
	bool lib_compress; /* libraft compresses snapshots itself */
	/* the snapshot being taken: its bytes (the member table, then the state from the child,
	 * from snap_state_at on) and the child serializing the state */
	struct ms_buf snap_buf;
	size_t snap_state_at;
	struct ms_snap_fork snap_fork;
	uint64_t published_ms; /* when this leader last proposed its client address */
	uint64_t reported_applied;
	/* the commit index the batch probe's commit records last read the clock for, and that
	 * time: every entry up to it was committed by then (ms_raft_commit_time) */
	uint64_t commit_seen_index, commit_seen_ns;
	uint64_t seq;
	struct ms_proposal *pending; /* oldest first */
	struct ms_proposal *pending_tail;
	struct ms_read_wait *reads, *reads_tail; /* waiting for the next barrier */
	struct ms_read_wait *reads_inflight;     /* served when the current barrier applies */
	struct ms_leader_wait *leader_waits, *leader_waits_tail; /* for a leader to forward to */
	uint64_t redispatch_deadline; /* while one runs again: its wait's deadline, else 0 */
	struct raft_barrier barrier;
	bool barrier_busy;
	uv_idle_t kick;  /* work deferred out of libraft callbacks (ms_raft_kick) */
	bool kicked;
	struct ms_raft_route routes[MS_METHOD_COUNT];
	/* readiness (ready.c): a started member serves local reads once it applied what its
	 * cluster had committed when it asked the leader (ready_index, 0: not known yet) */
	struct ms_raft_route read_index_route; /* the leader's side of that question */
	bool ready, ready_asking;
	uint64_t ready_index;
	uint64_t ready_asked_ms;
	ms_raft_apply_fn apply_fn;
	void *apply_arg;
	ms_raft_fatal_fn fatal_fn;
	void *fatal_arg;
	ms_raft_fatal_fn log_fn;
	void *log_arg;
	int io_error;          /* the last proposal failure of storage, 0 once one applies */
	uint64_t io_logged_ms; /* when it was last logged */
	char io_msg[RAFT_ERRMSG_BUF_SIZE];
	uint64_t logged_leader;   /* the leader last logged, 0: none */
	uint64_t no_leader_since; /* ms since when no leader is known, 0: one is */
	bool logged_no_leader, had_leader;
	ms_raft_forward_fn forward_fn;
	void *forward_ctx;
	ms_raft_unary_fn unary_fn;
	void *unary_ctx;
	struct ms_fwd_keys *fwd_keys; /* forwarding keys (fwd_proof.h); NULL: attached node */
	uint64_t fwd_log_window_ms;   /* start of the second refused proofs are logged in */
	unsigned fwd_logged, fwd_unlogged;
	char fwd_self[17]; /* this member's id in hex: the user of its own proofs */
	struct ms_raft_waits waits; /* forwarded calls waiting for this member's apply */
	uint64_t applying;          /* the entry fsm_apply is applying now, or one applied */
	char client_addr[64];
	void (*leader_fn)(void *arg);
	void *leader_arg;
	void (*restore_fn)(void *arg);
	void *restore_arg;
	void (*ready_fn)(void *arg);
	void *ready_arg;
};

/* Proposes a frame of `kind` with `body` (copied); see ms_raft_propose. */
int ms_raft_propose_kind(struct ms_raft *rn, unsigned kind, const void *body, size_t len,
			 ms_raft_done_fn done, void *arg);

/* Ends every waiting read with UNAVAILABLE `why` (leadership lost, shutdown). */
void ms_raft_fail_reads(struct ms_raft *rn, const char *why);

/* Holds `call` (a reference and a copy of msg) until a leader is known (or, `for_ready`,
 * until this member is ready: ms_raft_ready), for at most ms_raft_leader_wait_ms, or until
 * the deadline of the wait it runs again from. Returns 0, or -ETIMEDOUT (that deadline
 * passed) / -ENOMEM: nothing held, the caller answers. */
int ms_raft_leader_wait_add(struct ms_raft *rn, struct grpc_call *call, const uint8_t *msg,
			    size_t len, bool for_ready);

/* Runs every held call's handler again once what it waits for holds: this member leads or
 * knows its leader's client address (a forward, or the call served here), or it is ready;
 * ends those past their deadline with UNAVAILABLE "no leader" / "not leader" ("request
 * timed out" for a ready wait with a leader known). From the poll timer. */
void ms_raft_leader_waits_run(struct ms_raft *rn);

/* One look at readiness (ready.c), from the poll timer: a leader that has applied its
 * predecessors' entries (`leading`) is ready; a follower asks the leader for its applied
 * index once and is ready when it has applied as much. */
void ms_raft_ready_poll(struct ms_raft *rn, bool leading);

/* The leader's answer to a member's ReadIndex, served after a barrier (raft_route.c): an
 * empty message; the trailer of the forwarded call carries the applied index. */
void ms_raft_read_index_serve(struct grpc_call *call, const uint8_t *msg, size_t len,
			      void *ctx);

/* Ends every held call with UNAVAILABLE `why` (shutdown). */
void ms_raft_leader_waits_fail(struct ms_raft *rn, const char *why);

/* How long a follower holds a call for a leader: as long as a proposal may wait to commit
 * (ms_raft_request_timeout_ms); etcdctl's own 5 s command timeout ends first. */
uint64_t ms_raft_leader_wait_ms(const struct ms_raft *rn);

/* The leader's client address if it is known and not this node, else NULL. */
const char *ms_raft_leader_client(const struct ms_raft *rn);

/*
 * A raft node on a libraft instance another owner made (a test fixture's server): attach
 * gets the node's state machine and returns the instance (NULL: failure). The owner
 * bootstraps, starts, steps and closes it; ms_raft_start only starts the node's own timer.
 * Returns as ms_raft_new.
 */
int ms_raft_new_attached(uv_loop_t *loop, const struct ms_raft_opts *o,
			 const struct ms_raft_state_ops *st,
			 struct raft *(*attach)(void *arg, struct raft_fsm *fsm), void *arg,
			 struct ms_raft **out, char *err, size_t errlen);

/* One look at leadership and the applied index (what the node's timer runs every 20 ms). */
void ms_raft_poll(struct ms_raft *rn);

/* Runs ms_raft_run_deferred(rn) from the loop soon, outside any libraft callback: calls
 * into libraft that it forbids from its own callbacks go through here. */
void ms_raft_kick(struct ms_raft *rn);

/* A proposal failed for storage (status a RAFT_* code): logged and kept for Status. */
void ms_raft_report_io(struct ms_raft *rn, int status);

/* The deferred work: starts the next barrier for queued reads, ends the waits this member
 * has applied far enough for (raft_route.c). */
void ms_raft_run_deferred(struct ms_raft *rn);

/* A membership entry applied (fsm_apply): the table changes, the transport follows, the
 * member that proposed it learns the outcome (member_change.c). */
void ms_raft_members_apply(struct ms_raft *rn, struct ms_proposal *prop, const uint8_t *body,
			   size_t len);

/* The table changed (apply, snapshot): the transport, the members query and the owner's
 * hook learn it. */
void ms_raft_members_changed(struct ms_raft *rn);

/* The index of server `id` in libraft's configuration, or -1 (member_conf.c). */
int ms_raft_conf_index(const struct ms_raft *rn, uint64_t id);

/* Whether the leader heard from member `id` within etcd's health interval (5 s); this
 * member itself: always. */
bool ms_raft_member_connected(const struct ms_raft *rn, uint64_t id);

/* etcd's isLearnerReady, on the leader: the log of member `id` is within 90% of its own. */
bool ms_raft_learner_ready(const struct ms_raft *rn, uint64_t id);

/* A follower's publish (name, client address) sent to the leader through the publisher.
 * Returns false when it could not be sent: no publisher, or no leader address known yet. */
bool ms_raft_publish_via_leader(struct ms_raft *rn, const struct ms_member_change *c);

/* From the poll: forgets removed members libraft's configuration dropped; on the leader,
 * brings libraft's configuration to the table, one change at a time (add, learner or voter
 * role, remove), and hands a removed leader's leadership on. */
void ms_raft_members_reconcile(struct ms_raft *rn);

/* The pending proposal of this node with sequence `seq`, or NULL. */
struct ms_proposal *ms_raft_pending_find(struct ms_raft *rn, uint64_t seq);

/* The commit time for the batch probe's commit record of the entry being applied, which this
 * node proposed at `proposed_ns` (0: elsewhere); 0 when there is to be no record. One clock
 * read per commit index the node learns (raftnode.c). */
uint64_t ms_raft_commit_time(struct ms_raft *rn, uint64_t proposed_ns);

#endif /* MS_RAFTNODE_PRIV_H */
