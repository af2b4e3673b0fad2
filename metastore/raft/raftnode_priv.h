/* Raft node internals shared by raftnode.c (libraft, state machine) and raft_route.c. */
#ifndef MS_RAFTNODE_PRIV_H
#define MS_RAFTNODE_PRIV_H

#include <raft.h>
#include <raft/uv.h>

#include "raft/raftnode.h"
#include "raft/wait.h"

/* Raft entry header: magic, op, pad length (entries are padded to 8 bytes), origin node and
 * its proposal sequence number. */
#define MS_RAFT_ENTRY_MAGIC 0x3145534du /* "MSE1" */
#define MS_RAFT_ENTRY_HDR 24
#define MS_RAFT_OP_SLOTS 8 /* internal ops: MS_RAFT_OP_LEASE_EXPIRE + i */

struct ms_raft_route {
	grpc_unary_fn fn;
	void *ctx;
	bool (*serializable)(const uint8_t *msg, size_t len);
	struct ms_raft *rn;
};

/* A client write on its way through raft (the call is referenced until apply_cb). */
struct ms_proposal {
	struct raft_apply req;
	struct ms_raft *rn;
	uint64_t seq;
	uint64_t proposed_ns;   /* for the batch probe's commit record (trace.h), or 0 */
	struct grpc_call *call; /* NULL for an internal op */
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

struct ms_raft {
	uv_loop_t *loop;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct raft_fsm fsm;
	struct ms_raft_state_ops st;
	struct ms_raft_opts opts;
	struct ms_raft_peer *peers;
	size_t n_peers;
	char *dir;
	uv_timer_t poll; /* leadership changes, applied index after snapshots */
	bool was_leader, started, stopping, closed;
	bool lib_compress; /* libraft compresses snapshots itself */
	uint64_t published_ms; /* when this leader last proposed its client address */
	uint64_t reported_applied;
	uint64_t seq;
	struct ms_proposal *pending; /* oldest first */
	struct ms_proposal *pending_tail;
	struct ms_read_wait *reads, *reads_tail; /* waiting for the next barrier */
	struct ms_read_wait *reads_inflight;     /* served when the current barrier applies */
	struct raft_barrier barrier;
	bool barrier_busy;
	uv_idle_t kick;  /* work deferred out of libraft callbacks (ms_raft_kick) */
	bool kicked;
	struct ms_raft_route routes[MS_METHOD_COUNT];
	struct ms_raft_route ops[MS_RAFT_OP_SLOTS];
	ms_raft_forward_fn forward_fn;
	void *forward_ctx;
	ms_raft_unary_fn unary_fn;
	void *unary_ctx;
	struct ms_raft_waits waits; /* forwarded calls waiting for this member's apply */
	uint64_t applying;          /* the entry fsm_apply is applying now, or one applied */
	char client_addr[64];
	void (*leader_fn)(void *arg);
	void *leader_arg;
	void (*restore_fn)(void *arg);
	void *restore_arg;
};

/* The route an entry's op names, or NULL. */
const struct ms_raft_route *ms_raft_op_route(const struct ms_raft *rn, unsigned op);

/* Ends every waiting read with UNAVAILABLE `why` (leadership lost, shutdown). */
void ms_raft_fail_reads(struct ms_raft *rn, const char *why);

/* The leader's client address if it is known and not this node, else NULL. */
const char *ms_raft_leader_client(const struct ms_raft *rn);

/* Runs ms_raft_run_deferred(rn) from the loop soon, outside any libraft callback: calls
 * into libraft that it forbids from its own callbacks go through here. */
void ms_raft_kick(struct ms_raft *rn);

/* The deferred work: starts the next barrier for queued reads, ends the waits this member
 * has applied far enough for (raft_route.c). */
void ms_raft_run_deferred(struct ms_raft *rn);

/* The pending proposal of this node with sequence `seq`, or NULL. */
struct ms_proposal *ms_raft_pending_find(struct ms_raft *rn, uint64_t seq);

#endif /* MS_RAFTNODE_PRIV_H */
