/* Membership changes on the leader (MemberAdd, MemberRemove, MemberUpdate, MemberPromote):
 * etcd's checks, then a membership entry through the log. */
#ifndef MS_MEMBER_CHANGE_H
#define MS_MEMBER_CHANGE_H

#include <stdbool.h>

#include "raft/members.h"
#include "raft/raftnode.h"

/* etcd's answers to refused membership changes (rpctypes). */
#define MS_ERR_MEMBER_NOT_FOUND "etcdserver: member not found"
#define MS_ERR_PEER_URL_EXISTS "etcdserver: Peer URLs already exists"
#define MS_ERR_MEMBER_BAD_URLS "etcdserver: given member URLs are invalid"
#define MS_ERR_NOT_ENOUGH_STARTED \
	"etcdserver: re-configuration failed due to not enough started members"
#define MS_ERR_UNHEALTHY "etcdserver: unhealthy cluster"
#define MS_ERR_NOT_LEARNER "etcdserver: can only promote a learner member"
#define MS_ERR_LEARNER_NOT_READY \
	"etcdserver: can only promote a learner member which is in sync with leader"
#define MS_ERR_TOO_MANY_LEARNERS "etcdserver: too many learner members in cluster"
#define MS_ERR_MEMBER_EXISTS "etcdserver: member ID already exist"
/* Not etcd's (an etcd member always has a peer URL). */
#define MS_ERR_NO_PEER_URL \
	"etcdserver: this member was started without --initial-cluster and has no peer URL: " \
	"it cannot take members"

/* Learners at once, as etcd 3.4. */
#define MS_MAX_LEARNERS 1

/*
 * Proposes membership change c from this member, after etcd's checks (with `strict`, etcd's
 * --strict-reconfig-check: no change that leaves too few started or connected voters). An
 * add gets a new id here (random, non-zero, never a member's or a removed one's), written
 * to c->id. `done` learns the outcome as for ms_raft_propose (the result's code is non-zero
 * when the table refused the change as it applied). Returns 0, -EPERM (not the leader),
 * or a refusal with *why set to etcd's message and *code to its gRPC code (MS_GRPC_*):
 * -ENOENT, -EEXIST, -EAGAIN (not enough started members), -EHOSTUNREACH (unhealthy),
 * -EINVAL (not a learner), -EBUSY (learner not in sync), -EMLINK (too many learners),
 * -EADDRNOTAVAIL (this member has no peer URL), -ENOSPC (the table is full) or -ENOMEM;
 * -EALREADY (no refusal: *why NULL) for a publish the table holds already (nothing
 * proposed, done never runs).
 */
int ms_raft_member_change(struct ms_raft *rn, struct ms_member_change *c, bool strict,
			  ms_raft_done_fn done, void *arg, const char **why, uint32_t *code);

/* How a follower has the leader publish its attributes (a MS_MEMBER_PUBLISH change):
 * fn(ctx, c) sends c on (best effort; it is sent again a second later until it applied). */
void ms_raft_set_publisher(struct ms_raft *rn,
			   void (*fn)(void *ctx, const struct ms_member_change *c), void *ctx);

/* fn(arg) runs once this member applied its own removal and another member leads: the
 * member stops serving (etcd: "the member has been permanently removed from the cluster"). */
void ms_raft_on_removed(struct ms_raft *rn, void (*fn)(void *arg), void *arg);

/* fn(arg, m) runs each time the member table changed (m borrowed for the call), e.g. to
 * keep a copy in the data dir. */
void ms_raft_on_members(struct ms_raft *rn, void (*fn)(void *arg, const struct ms_members *m),
			void *arg);

#endif /* MS_MEMBER_CHANGE_H */
