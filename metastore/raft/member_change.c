/* Membership changes: etcd's checks on the leader, and the membership entries applied on
 * every member. */
#include "raft/member_change.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "raft/member_fetch.h"
#include "raft/raftnode_priv.h"
#include "raft/transport.h"


void ms_raft_set_publisher(struct ms_raft *rn,
			   void (*fn)(void *ctx, const struct ms_member_change *c), void *ctx)
{
	rn->publish_fn = fn;
	rn->publish_ctx = ctx;
}

void ms_raft_on_removed(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->removed_fn = fn;
	rn->removed_arg = arg;
}

void ms_raft_on_members(struct ms_raft *rn, void (*fn)(void *arg, const struct ms_members *m),
			void *arg)
{
	rn->members_fn = fn;
	rn->members_arg = arg;
}

bool ms_raft_publish_via_leader(struct ms_raft *rn, const struct ms_member_change *c)
{
	if (!rn->publish_fn || !ms_raft_leader_client(rn))
		return false;
	rn->publish_fn(rn->publish_ctx, c);
	return true;
}

void ms_raft_members_changed(struct ms_raft *rn)
{
	struct ms_buf b = { 0 };

	/* a removal applied, or a snapshot (or log) that removed this member */
	if (ms_members_was_removed(&rn->members, rn->opts.node_id))
		rn->removed_self = true;
	if (!rn->attached) {
		struct ms_raft_peer all[2 * MS_MEMBERS_MAX];
		size_t n = rn->members.n;

		memcpy(all, rn->members.v, n * sizeof(all[0]));
		for (size_t i = 0; i < rn->n_leaving; i++)
			all[n++] = rn->leaving[i].peer;
		ms_peer_transport_set_members(&rn->transport, all, n);
		if (!ms_members_info_encode(rn->opts.cluster_id, &rn->members, &b))
			ms_peer_transport_set_info(&rn->transport, b.data, b.len);
		ms_buf_free(&b);
	}
	if (rn->members_fn)
		rn->members_fn(rn->members_arg, &rn->members);
}

/* etcd's text and gRPC code for a change the table refused. */
static void refusal(int e, const struct ms_member_change *c, const char **why, uint32_t *code)
{
	*code = MS_GRPC_FAILED_PRECONDITION;
	switch (e) {
	case -ENOENT:
		*why = MS_ERR_MEMBER_NOT_FOUND;
		*code = MS_GRPC_NOT_FOUND;
		break;
	case -EEXIST:
		*why = c->op == MS_MEMBER_ADD && !c->address[0] ? MS_ERR_MEMBER_EXISTS :
								  MS_ERR_PEER_URL_EXISTS;
		break;
	case -EAGAIN:
		*why = MS_ERR_NOT_ENOUGH_STARTED;
		break;
	case -EHOSTUNREACH:
		*why = MS_ERR_UNHEALTHY;
		*code = MS_GRPC_UNAVAILABLE;
		break;
	case -EINVAL:
		*why = MS_ERR_NOT_LEARNER;
		break;
	case -EBUSY:
		*why = MS_ERR_LEARNER_NOT_READY;
		break;
	case -EMLINK:
		*why = MS_ERR_TOO_MANY_LEARNERS;
		break;
	case -EADDRNOTAVAIL:
		*why = MS_ERR_NO_PEER_URL;
		break;
	case -ENOSPC:
		*why = "etcdserver: too many members in cluster";
		*code = MS_GRPC_RESOURCE_EXHAUSTED;
		break;
	default:
		*why = "etcdserver: out of memory";
		*code = MS_GRPC_INTERNAL;
	}
}

/* Voters the leader is connected to, itself included. */
static size_t voters_connected(const struct ms_raft *rn)
{
	size_t n = 0;

	for (size_t i = 0; i < rn->members.n; i++)
		n += !rn->members.v[i].learner && ms_raft_member_connected(rn, rn->members.v[i].id);
	return n;
}

/* Started voters (those that published their name), leaving `skip` out. */
static size_t voters_started(const struct ms_raft *rn, uint64_t skip, size_t *voters)
{
	size_t n = 0;

	*voters = 0;
	for (size_t i = 0; i < rn->members.n; i++) {
		const struct ms_raft_peer *p = &rn->members.v[i];

		if (p->learner || p->id == skip)
			continue;
		(*voters)++;
		/* etcd: it published its name; here also one the leader hears from (a follower
		 * of a cluster with auth enabled publishes only once it leads) */
		n += p->name[0] != '\0' || ms_raft_member_connected(rn, p->id);
	}
	return n;
}

/* etcd's mayAddMember, mayRemoveMember, mayPromoteMember (strict reconfig check). */
static int strict_check(const struct ms_raft *rn, const struct ms_member_change *c,
			const struct ms_raft_peer *target)
{
	size_t voters, started;

	switch (c->op) {
	case MS_MEMBER_ADD:
		if (c->learner)
			return 0;
		started = voters_started(rn, 0, &voters);
		/* one started voter of two may add (a cluster recovering from a lost member) */
		if (!(started == 1 && voters + 1 == 2) && started < (voters + 1) / 2 + 1)
			return -EAGAIN;
		return voters_connected(rn) == voters ? 0 : -EHOSTUNREACH;
	case MS_MEMBER_REMOVE:
		if (target->learner)
			return 0;
		started = voters_started(rn, c->id, &voters);
		if (started < voters / 2 + 1)
			return -EAGAIN;
		/* a member never heard from is not part of the active quorum */
		if (c->id != rn->opts.node_id && !ms_raft_member_connected(rn, c->id))
			return 0;
		voters_started(rn, 0, &voters);
		return voters_connected(rn) - 1 < 1 + (voters - 1) / 2 ? -EHOSTUNREACH : 0;
	case MS_MEMBER_PROMOTE:
		started = voters_started(rn, 0, &voters) + 1;
		return started < (voters + 1) / 2 + 1 ? -EAGAIN : 0;
	default:
		return 0;
	}
}

/* Whether this member's own peer address is the placeholder of a lone member (port 0). */
static bool self_unreachable(const struct ms_raft *rn)
{
	const struct ms_raft_peer *self = ms_members_find(&rn->members, rn->opts.node_id);
	size_t n = self ? strlen(self->address) : 0;

	return n >= 2 && strcmp(self->address + n - 2, ":0") == 0;
}

/* A new member id: random, non-zero, neither a member's nor a removed member's. */
static uint64_t new_id(const struct ms_raft *rn)
{
	uint64_t id = 0;

	while (!id || ms_members_find(&rn->members, id) ||
	       ms_members_was_removed(&rn->members, id)) {
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
			id = uv_hrtime() * 0x9e3779b97f4a7c15ull;
	}
	return id;
}

/* The checks of one change against the table, the leader's view and etcd's limits. */
static int check_change(struct ms_raft *rn, struct ms_member_change *c, bool strict)
{
	struct ms_raft_peer *target = ms_members_find(&rn->members, c->id);
	struct ms_raft_peer *at;
	size_t learners = 0;

	switch (c->op) {
	case MS_MEMBER_ADD:
		if (ms_members_by_address(&rn->members, c->address))
			return -EEXIST;
		/* started without --initial-cluster: no peer URL anyone could reach it at */
		if (self_unreachable(rn))
			return -EADDRNOTAVAIL;
		for (size_t i = 0; i < rn->members.n; i++)
			learners += rn->members.v[i].learner;
		if (c->learner && learners >= MS_MAX_LEARNERS)
			return -EMLINK;
		if (rn->members.n == MS_MEMBERS_MAX)
			return -ENOSPC;
		c->id = new_id(rn);
		break;
	case MS_MEMBER_REMOVE:
		if (!target)
			return -ENOENT;
		break;
	case MS_MEMBER_UPDATE:
		if (!target)
			return -ENOENT;
		at = ms_members_by_address(&rn->members, c->address);
		if (at && at != target)
			return -EEXIST;
		break;
	case MS_MEMBER_PROMOTE:
		if (!target)
			return -ENOENT;
		if (!target->learner)
			return -EINVAL;
		if (!ms_raft_learner_ready(rn, c->id))
			return -EBUSY;
		break;
	case MS_MEMBER_PUBLISH:
		if (!target)
			return -ENOENT;
		/* a publish sent again before the first applied: nothing to propose */
		if (strcmp(target->name, c->name) == 0 && strcmp(target->client, c->client) == 0)
			return -EALREADY;
		return 0;
	default:
		return -EINVAL;
	}
	return strict ? strict_check(rn, c, target) : 0;
}

int ms_raft_member_change(struct ms_raft *rn, struct ms_member_change *c, bool strict,
			  ms_raft_done_fn done, void *arg, const char **why, uint32_t *code)
{
	struct ms_buf b = { 0 };
	int e;

	*why = NULL;
	*code = 0;
	if (!rn->started || rn->stopping || !ms_raft_is_leader(rn))
		return -EPERM;
	e = check_change(rn, c, strict);
	if (!e)
		e = ms_member_change_encode(c, &b);
	if (!e)
		e = ms_raft_propose_kind(rn, MS_RAFT_KIND_MEMBERSHIP, b.data, b.len, done, arg);
	ms_buf_free(&b);
	if (e && e != -EPERM && e != -EALREADY)
		refusal(e, c, why, code);
	return e;
}

/* One line for the operator about a change applied here. */
static void log_change(struct ms_raft *rn, const struct ms_member_change *c)
{
	static const char *const what[] = { [MS_MEMBER_ADD] = "added", [MS_MEMBER_REMOVE] = "removed",
					    [MS_MEMBER_UPDATE] = "updated",
					    [MS_MEMBER_PROMOTE] = "promoted" };

	if (!rn->log_fn || c->op == MS_MEMBER_PUBLISH || c->op >= sizeof(what) / sizeof(what[0]))
		return;
	rn->log_fn(rn->log_arg, "raft: member %016llx %s%s%s%s", (unsigned long long)c->id,
		   what[c->op], c->address[0] ? " (peer " : "", c->address,
		   c->address[0] ? (c->learner ? ", learner)" : ")") : "");
}

void ms_raft_members_apply(struct ms_raft *rn, struct ms_proposal *prop, const uint8_t *body,
			   size_t len)
{
	struct ms_apply_res res = { 0 };
	struct ms_member_change c;
	const char *why;
	uint32_t code;
	int e = ms_member_change_decode(body, len, &c);
	struct ms_raft_peer *gone = e || c.op != MS_MEMBER_REMOVE ? NULL :
				    ms_members_find(&rn->members, c.id);

	/* a removed member goes on hearing from the others until it is out of libraft's
	 * configuration (it learns its removal from them) */
	if (gone && gone->id != rn->opts.node_id && rn->n_leaving < MS_MEMBERS_MAX &&
	    ms_raft_conf_index(rn, gone->id) >= 0)
		rn->leaving[rn->n_leaving++] = (struct ms_leaving){
			.peer = *gone, .index = rn->applying, .since_ms = uv_now(rn->loop) };
	if (!e)
		e = ms_members_apply(&rn->members, &c);
	if (e == 1) {
		e = 0; /* an add replayed on top of a table that has it */
	} else if (!e) {
		log_change(rn, &c);
		if (c.op == MS_MEMBER_REMOVE && c.id == rn->opts.node_id)
			rn->removed_self = true;
		ms_raft_members_changed(rn);
	} else {
		refusal(e, &c, &why, &code);
		ms_apply_res_fail(&res, code, why);
	}
	if (prop && prop->done) {
		ms_raft_done_fn d = prop->done;

		prop->done = NULL;
		d(prop->done_arg, 0, &res);
	}
	ms_apply_res_release(&res);
}

