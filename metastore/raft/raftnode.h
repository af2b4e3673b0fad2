/* Raft replication of the store with libraft: proposals, apply on every node, snapshots. */
#ifndef MS_RAFTNODE_H
#define MS_RAFTNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "apply/apply.h"
#include "raft/wait.h"
#include "rpc/forward.h"
#include "raft/fwd_proof.h"
#include "rpc/grpc.h"
#include "rpc/server.h"

/* etcd's errors for a request this node cannot serve (gRPC UNAVAILABLE). */
#define MS_ERR_NOT_LEADER "etcdserver: not leader"
#define MS_ERR_NO_LEADER "etcdserver: no leader"
#define MS_ERR_LEADER_CHANGED "etcdserver: leader changed"
#define MS_ERR_STOPPED "etcdserver: server stopped"
/* A write the raft log could not take (a failing disk). */
#define MS_ERR_LOG_WRITE "etcdserver: raft log write failed"

struct ms_raft;
struct ms_peer_opts; /* raft/transport.h */
struct ms_members;   /* raft/members.h */

struct ms_raft_peer {
	uint64_t id;       /* raft node id = etcd member id, > 0 */
	char name[64];     /* --name of that member */
	char address[128]; /* peer address host:port (raft TCP transport) */
	char client[64];   /* client (gRPC) address host:port; "" until that member published it */
	bool learner;      /* a learner (libraft standby): replicated to, no vote */
};

struct ms_raft_opts {
	uint64_t node_id;                  /* this node: one of peers */
	const char *dir;                   /* raft log and snapshots (must exist) */
	const struct ms_raft_peer *peers;  /* the initial cluster, this node included */
	size_t n_peers;
	unsigned election_ms, heartbeat_ms;
	unsigned snapshot_threshold;       /* entries between snapshots */
	unsigned snapshot_trailing;        /* entries kept in the log behind a snapshot */
	const char *client_addr;           /* this member's gRPC address host:port */
	const struct ms_peer_opts *peer;   /* peer listener and TLS; NULL: plain, own address */
	const char *name;                  /* this member's --name (published when it runs) */
	uint64_t cluster_id;               /* answered to members queries of joining members */
	bool join;                         /* joins an existing cluster: no bootstrap, the
					    * leader sends the log */
	const struct ms_members *members;  /* the table to start from instead of peers (the
					    * data dir's copy, or a joining member's fetched
					    * one), or NULL; copied */
};

/* Sends a call on to the leader's client address; 0, or -errno with the call unanswered. */
typedef int (*ms_raft_forward_fn)(void *ctx, const char *leader_addr, struct grpc_call *call,
				  const struct ms_forward_cred *cred, const uint8_t *msg,
				  size_t len);

/* Makes unary call `method` with `msg` (and `cred`, may be NULL) on the leader's client
 * address; done(arg, reply) runs once with its answer when this returns 0, never on -errno. */
typedef int (*ms_raft_unary_fn)(void *ctx, const char *leader_addr, uint32_t method,
				const struct ms_forward_cred *cred, const uint8_t *msg,
				size_t len, ms_forward_done_fn done, void *arg);

/* The state machine's snapshot functions (whole state, see snapshot.h). `snapshot` runs in a
 * child forked from the loop (snap_fork.c; on the loop itself where fork fails, or under a
 * test fixture's io) and only copies the state out; libraft compresses it (LZ4, on a worker
 * thread) when built with LZ4, else `compress` (may be NULL) does, on a worker thread too.
 * `restore` reads either form. */
struct ms_raft_state_ops {
	int (*snapshot)(void *arg, struct ms_buf *out);
	int (*compress)(const uint8_t *raw, size_t len, struct ms_buf *out);
	int (*restore)(void *arg, const uint8_t *data, size_t len);
	void *arg;
};

/* Sets up libraft on `loop` (nothing runs before ms_raft_start). Returns 0 with *out, or
 * -errno with a one-line reason in err; *out may then still hold a node whose handles close
 * on the loop: stop it, run the loop and free it as after a start. */
int ms_raft_new(uv_loop_t *loop, const struct ms_raft_opts *o, const struct ms_raft_state_ops *st,
		struct ms_raft **out, char *err, size_t errlen);

/* Bootstraps a new data dir with the initial cluster, loads the log and snapshot (applying
 * what a single node had committed) and joins the cluster. 0 or -errno with err. */
int ms_raft_start(struct ms_raft *rn, char *err, size_t errlen);

/* The outcome of a proposal on the member that made it: status 0 with the apply result
 * (borrowed for the call) once this member applied the entry; -EAGAIN when leadership was
 * lost before it applied (it may still commit later: the outcome is unknown), -ENOSPC or -EIO
 * when the log could not be written (a full disk, a failing one), -ESHUTDOWN when the member
 * stops. Runs exactly once, from the event loop or a libraft callback: it must
 * not call into libraft. */
typedef void (*ms_raft_done_fn)(void *arg, int status, const struct ms_apply_res *res);

/* Applies one committed store entry (apply.h's ms_apply_entry, bound to the store). */
typedef int (*ms_raft_apply_fn)(void *arg, const uint8_t *entry, size_t len,
				struct ms_apply_res *res);

/* Told (printf-style) when the log holds what this member must not go past (an entry it
 * cannot apply): the caller reports it and exits; the node applies nothing more. */
typedef void (*ms_raft_fatal_fn)(void *arg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Where the node logs what an operator must know (one line, printf-style): each change of the
 * leader, no leader for an election timeout (lost quorum), storage failures of proposals (a
 * full disk: once per kind and every 10 s while they last). */
void ms_raft_on_log(struct ms_raft *rn, ms_raft_fatal_fn fn, void *arg);

/* The storage failure proposals meet now (libraft's text, e.g. "io: create segment open-1:
 * not enough space to allocate 8388608 bytes"), or NULL while the log takes entries. */
const char *ms_raft_io_error(const struct ms_raft *rn);

/* Sets the fatal handler (before ms_raft_start). */
void ms_raft_on_fatal(struct ms_raft *rn, ms_raft_fatal_fn fn, void *arg);

/* Sets the state machine's apply function (before ms_raft_start). */
void ms_raft_set_apply(struct ms_raft *rn, ms_raft_apply_fn fn, void *arg);

/*
 * Proposes a store entry (a packed Metastore__Entry, copied) from this member. `done` (may be
 * NULL) learns the outcome as described above; it is not called when this returns an error.
 * Returns 0, -EPERM (not the leader: the caller forwards or refuses) or -ENOMEM.
 */
int ms_raft_propose(struct ms_raft *rn, const uint8_t *entry, size_t len, ms_raft_done_fn done,
		    void *arg);

/* Answers a call this member cannot serve as a follower: forwards it to the leader when one
 * is known (see ms_raft_set_forwarder); while none is, holds it (a reference and a copy of
 * msg) and runs its handler again once one is, for up to ms_raft_request_timeout_ms; else
 * UNAVAILABLE "no leader" / "not leader" / "server stopped". */
void ms_raft_not_leader(struct ms_raft *rn, struct grpc_call *call, const uint8_t *msg,
			size_t len);

/*
 * Routes read method `m` with linearizable semantics: a single-node cluster serves it at
 * once; a leader of several serves it after a barrier (batched over concurrent reads)
 * commits; a follower answers "not leader". `serializable` (may be NULL) tells requests
 * that asked for a local read, served at once on any node.
 */
void ms_raft_route_read(struct ms_raft *rn, struct ms_server *srv, enum ms_method m,
			grpc_unary_fn fn, void *ctx,
			bool (*serializable)(const uint8_t *msg, size_t len));

/* Followers hand the writes and linearizable reads they cannot serve to `fn` (see
 * forward.h) instead of answering "not leader", once the leader's client address is known
 * (every leader publishes it through the log when elected), with the caller's auth token. */
void ms_raft_set_forwarder(struct ms_raft *rn, ms_raft_forward_fn fn, void *ctx);

/* Sets how ms_raft_call_leader reaches the leader (`ctx` borrowed). */
void ms_raft_set_unary_forwarder(struct ms_raft *rn, ms_raft_unary_fn fn, void *ctx);

/* Calls unary `method` on the leader for client call `origin` (e.g. a keep-alive a
 * follower got on that stream), with its credentials (ms_raft_forward_cred). Returns 0
 * (done runs once later), -EAGAIN when no other member is known to lead or none can be
 * called, -ECANCELED when stopping, or the forwarder's -errno (done never runs). */
int ms_raft_call_leader(struct ms_raft *rn, uint32_t method, const struct grpc_call *origin,
			const uint8_t *msg, size_t len, ms_forward_done_fn done, void *arg);

/*
 * The credentials a call forwarded to the leader carries (raft_fwd.c): the client's token;
 * without one, the user this member authenticated for it (origin->auth_user: the CN of a
 * verified client certificate, or a user another member proved) with this member's proof
 * for the leader (fwd_proof.h); else none. The strings point into origin and `proof`.
 */
void ms_raft_forward_cred(struct ms_raft *rn, const struct grpc_call *origin, uint32_t method,
			  const uint8_t *msg, size_t len, struct ms_forward_cred *cred,
			  char proof[MS_FWD_PROOF_MAX]);

/*
 * The user a forwarded call asserts (MS_HDR_FORWARDED_USER) when its proof checks for
 * (call->method, msg): returns 0 with *user pointing into call. Else -EPERM, *user NULL,
 * and one line logged (at most MS_FWD_LOG_PER_S a second): the caller ignores the
 * assertion, so a forged or replayed one changes nothing but is seen.
 */
int ms_raft_forward_user(struct ms_raft *rn, const struct grpc_call *call, const uint8_t *msg,
			 size_t len, const char **user);
#define MS_FWD_LOG_PER_S 20

/*
 * Whether `call` is a MemberPublish a member made on its own behalf (ms_raft_call_leader
 * with no origin): its proof is made for the method with MS_FWD_MEMBER_SELF set and names
 * the sender's id as the user, so no proof a member makes for a client's call passes.
 * Returns 0, or -EPERM (nothing logged: the caller falls back to the client's checks).
 */
int ms_raft_forward_member(struct ms_raft *rn, const struct grpc_call *call, const uint8_t *msg,
			   size_t len);
#define MS_FWD_MEMBER_SELF 0x80000000u

/*
 * Runs cb(arg, 0) once this member has applied entry `index`; cb(arg, -ETIMEDOUT) after
 * etcd's request timeout (5 s + 2 election timeouts); cb(arg, -ECANCELED) when raft stops.
 * cb runs from the loop, outside libraft's callbacks. Returns 1 when `index` is applied
 * already (cb never runs), 0 when cb will run exactly once, -ECANCELED (stopping) or
 * -ENOMEM (cb never runs).
 */
int ms_raft_wait_applied(struct ms_raft *rn, uint64_t index, ms_raft_wait_cb cb, void *arg);

/*
 * Whether this member serves local (serializable) reads: once it has applied what its
 * cluster had committed after it started (a leader: its predecessors' entries; a follower:
 * the leader's applied index it asked for with /metastorepb.Internal/ReadIndex). Until
 * then such reads are held, as etcd serves no client before it is ready. NULL: ready.
 */
bool ms_raft_ready(const struct ms_raft *rn);

/* Serves /metastorepb.Internal/ReadIndex on srv: the leader answers after a barrier, the
 * call's applied-index trailer being the answer; others forward it or say not leader. */
void ms_raft_serve_read_index(struct ms_raft *rn, struct ms_server *srv);

/* fn(arg) runs each time this node becomes the leader (before it serves as one). */
void ms_raft_on_leader(struct ms_raft *rn, void (*fn)(void *arg), void *arg);

/* fn(arg) runs once, from the poll timer, when this member becomes ready (ms_raft_ready). */
void ms_raft_on_ready(struct ms_raft *rn, void (*fn)(void *arg), void *arg);

/* fn(arg) runs after a snapshot replaced the state (watchers must catch up). */
void ms_raft_on_restore(struct ms_raft *rn, void (*fn)(void *arg), void *arg);

/* Whether this node is the leader now and has run its ms_raft_on_leader hook. NULL (no
 * raft: unit tests) counts as leader. */
bool ms_raft_is_leader(const struct ms_raft *rn);

uint64_t ms_raft_node_id(const struct ms_raft *rn);
uint64_t ms_raft_leader_id(const struct ms_raft *rn); /* 0: none known */
uint64_t ms_raft_term(const struct ms_raft *rn);
/* The last entry applied here; while an entry is being applied, that entry (a response built
 * in its apply reflects it). */
uint64_t ms_raft_applied_index(const struct ms_raft *rn);
uint64_t ms_raft_commit_index(const struct ms_raft *rn);

/* etcd's request timeout for this member: 5 s plus two election timeouts (ms). */
uint64_t ms_raft_request_timeout_ms(const struct ms_raft *rn);

/* Starts handing leadership to voting member `target` (from the loop, never from a libraft
 * callback). Returns 0 (started: ms_raft_leader_id tells when it is done), -EPERM (this
 * member does not lead), -EBUSY (a transfer is under way), -ENOENT (target is no voting
 * member, or this member itself) or -ENOMEM. */
int ms_raft_move_leader(struct ms_raft *rn, uint64_t target);

/* The members of the cluster configuration (borrowed, valid while rn lives). */
const struct ms_raft_peer *ms_raft_peers(const struct ms_raft *rn, size_t *n);

/* Stops raft: pending proposals end with "server stopped"; handles close through the loop.
 * Idempotent. */
void ms_raft_stop(struct ms_raft *rn);

/* Frees rn once the loop has run dry after ms_raft_stop (libraft's last close callbacks
 * still read its storage); NULL is allowed. */
void ms_raft_free(struct ms_raft *rn);

#endif /* MS_RAFTNODE_H */
