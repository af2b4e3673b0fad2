/* Membership changes: etcd's checks on the leader, the membership entries applied on every
 * member, and libraft's configuration brought to the table (raft_add, raft_assign, raft_remove). */
#include "raft/member_change.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "raft/member_fetch.h"
#include "raft/raftnode_priv.h"
#include "raft/transport.h"

/* etcd's HealthInterval: a voter heard from within it counts as connected. */
#define CONTACT_MS 5000
/* A configuration change libraft refused or failed is tried again after this long. */
#define RETRY_MS 500
/* A removed member that has not caught up with its removal by then is dropped anyway. */
#define LEAVE_MAX_MS 3000

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

void ms_raft_publish_via_leader(struct ms_raft *rn, const struct ms_member_change *c)
{
	if (rn->publish_fn && ms_raft_leader_client(rn))
		rn->publish_fn(rn->publish_ctx, c);
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

/* The index of server `id` in libraft's configuration, or -1. */
static int conf_index(const struct ms_raft *rn, uint64_t id)
{
	const struct raft_configuration *conf = &rn->raft->configuration;

	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id)
			return (int)i;
	return -1;
}

/* Whether the leader heard from member `id` within etcd's health interval (itself: yes). */
static bool connected(const struct ms_raft *rn, uint64_t id)
{
	uint64_t now = uv_now(rn->loop);

	if (id == rn->opts.node_id)
		return true;
	for (size_t i = 0; i < MS_MEMBERS_MAX; i++)
		if (rn->contact_id[i] == id)
			return rn->contact_ms[i] && now - rn->contact_ms[i] <= CONTACT_MS;
	return false;
}

/* Voters the leader is connected to, itself included. */
static size_t voters_connected(const struct ms_raft *rn)
{
	size_t n = 0;

	for (size_t i = 0; i < rn->members.n; i++)
		n += !rn->members.v[i].learner && connected(rn, rn->members.v[i].id);
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
		n += p->name[0] != '\0' || connected(rn, p->id);
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
		if (c->id != rn->opts.node_id && !connected(rn, c->id))
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

/* etcd's isLearnerReady: the learner's log within 90% of the leader's. */
static bool learner_ready(const struct ms_raft *rn, uint64_t id)
{
	int i = conf_index(rn, id);
	uint64_t match, last = raft_last_index(rn->raft);

	if (i < 0 || !rn->raft->leader_state.progress)
		return false;
	match = rn->raft->leader_state.progress[i].match_index;
	return (double)match >= (double)last * 0.9;
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
		if (!learner_ready(rn, c->id))
			return -EBUSY;
		break;
	case MS_MEMBER_PUBLISH:
		if (!target)
			return -ENOENT;
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
	if (e && e != -EPERM)
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
	    conf_index(rn, gone->id) >= 0)
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

/* Samples libraft's recent_recv for each server (the leader's view of who answers). */
static void sample_contact(struct ms_raft *rn)
{
	const struct raft_configuration *conf = &rn->raft->configuration;
	uint64_t now = uv_now(rn->loop);

	if (!rn->raft->leader_state.progress)
		return;
	for (unsigned i = 0; i < conf->n; i++) {
		size_t slot = MS_MEMBERS_MAX;

		if (!rn->raft->leader_state.progress[i].recent_recv)
			continue;
		for (size_t j = 0; j < MS_MEMBERS_MAX && slot == MS_MEMBERS_MAX; j++)
			if (rn->contact_id[j] == conf->servers[i].id)
				slot = j;
		for (size_t j = 0; j < MS_MEMBERS_MAX && slot == MS_MEMBERS_MAX; j++)
			if (!rn->contact_id[j] || !ms_members_find(&rn->members, rn->contact_id[j]))
				slot = j;
		if (slot < MS_MEMBERS_MAX) {
			rn->contact_id[slot] = conf->servers[i].id;
			rn->contact_ms[slot] = now;
		}
	}
}

/* The configuration libraft has now, in one line (a change committed). */
static void log_conf(struct ms_raft *rn)
{
	const struct raft_configuration *conf = &rn->raft->configuration;
	unsigned roles[3] = { 0 };

	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].role >= 0 && conf->servers[i].role < 3)
			roles[conf->servers[i].role]++;
	if (rn->log_fn)
		rn->log_fn(rn->log_arg, "raft: configuration: %u voters, %u learners, %u joining",
			   roles[RAFT_VOTER], roles[RAFT_STANDBY], roles[RAFT_SPARE]);
}

static void on_changed(struct raft_change *req, int status)
{
	struct ms_raft *rn = req->data;

	rn->change_busy = false;
	if (!status)
		log_conf(rn);
	if (status && rn->log_fn && status != RAFT_LEADERSHIPLOST && status != RAFT_NOCONNECTION)
		rn->log_fn(rn->log_arg, "raft: configuration change failed: %s",
			   raft_strerror(status));
	if (status)
		rn->change_at_ms = uv_now(rn->loop);
}

static void on_left(struct raft_transfer *req)
{
	struct ms_raft *rn = req->data;

	rn->leave_busy = false;
}

/* Forgets the leaving members libraft's configuration no longer holds (every member). */
static void forget_left(struct ms_raft *rn)
{
	size_t k = 0, n = rn->n_leaving;

	for (size_t i = 0; i < n; i++)
		if (conf_index(rn, rn->leaving[i].peer.id) >= 0)
			rn->leaving[k++] = rn->leaving[i];
	rn->n_leaving = k;
	if (k != n)
		ms_raft_members_changed(rn);
}

/* Whether the leader may drop removed member `id` from the configuration: it has the entry
 * that removed it and a heartbeat or two told it that entry committed, or it is not
 * answering, or it had its time. */
static bool may_drop(struct ms_raft *rn, uint64_t id)
{
	uint64_t now = uv_now(rn->loop);
	int at = conf_index(rn, id);

	for (size_t i = 0; i < rn->n_leaving; i++) {
		const struct ms_leaving *l = &rn->leaving[i];

		if (l->peer.id != id)
			continue;
		if (now - l->since_ms >= LEAVE_MAX_MS || !connected(rn, id))
			return true;
		return at >= 0 && rn->raft->leader_state.progress &&
		       rn->raft->leader_state.progress[at].match_index >= l->index &&
		       now - l->since_ms >= 4 * (uint64_t)rn->opts.heartbeat_ms;
	}
	return true;
}

/* The next libraft call that brings its configuration towards the table, made now; false
 * when the configuration matches. */
static bool next_change(struct ms_raft *rn)
{
	const struct raft_configuration *conf = &rn->raft->configuration;
	int rv = 0;

	rn->change.data = rn;
	/* removals first: they never wait for a member to catch up */
	for (unsigned i = 0; i < conf->n; i++)
		if (!ms_members_find(&rn->members, conf->servers[i].id) &&
		    conf->servers[i].id != rn->opts.node_id && may_drop(rn, conf->servers[i].id)) {
			rv = raft_remove(rn->raft, &rn->change, conf->servers[i].id, on_changed);
			goto made;
		}
	for (size_t i = 0; i < rn->members.n; i++) {
		const struct ms_raft_peer *p = &rn->members.v[i];
		int at = conf_index(rn, p->id);

		if (at < 0) {
			rv = raft_add(rn->raft, &rn->change, p->id, p->address, on_changed);
			goto made;
		}
		/* spare -> standby (replicated to), then standby -> voter (libraft catches it up) */
		if (conf->servers[at].role == RAFT_SPARE) {
			rv = raft_assign(rn->raft, &rn->change, p->id, RAFT_STANDBY, on_changed);
			goto made;
		}
	}
	/* members caught up first: libraft's catch-up of one that is not running yet takes
	 * rounds, during which no other change is made */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rn->members.n; i++) {
			const struct ms_raft_peer *p = &rn->members.v[i];
			int at = conf_index(rn, p->id);

			if (!p->learner && conf->servers[at].role != RAFT_VOTER &&
			    (pass || learner_ready(rn, p->id))) {
				rv = raft_assign(rn->raft, &rn->change, p->id, RAFT_VOTER,
						 on_changed);
				goto made;
			}
		}
	return false;
made:
	rn->change_at_ms = uv_now(rn->loop);
	if (rv) {
		if (rn->log_fn && rv != RAFT_CANTCHANGE && rv != RAFT_NOTLEADER)
			rn->log_fn(rn->log_arg, "raft: configuration change refused: %s",
				   raft_strerror(rv));
		return true;
	}
	rn->change_busy = true;
	return true;
}

void ms_raft_members_reconcile(struct ms_raft *rn)
{
	if (rn->attached || rn->stopping)
		return;
	forget_left(rn);
	if (raft_state(rn->raft) != RAFT_LEADER)
		return;
	sample_contact(rn);
	/* a removed leader hands the leadership to a voter, which then removes it */
	if (rn->removed_self) {
		rn->leave.data = rn;
		if (!rn->leave_busy && raft_transfer(rn->raft, &rn->leave, 0, on_left) == 0)
			rn->leave_busy = true;
		return;
	}
	if (rn->change_busy || uv_now(rn->loop) - rn->change_at_ms < RETRY_MS)
		return;
	next_change(rn);
}
