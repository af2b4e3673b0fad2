/* libraft's configuration brought to the member table on the leader (raft_add, raft_assign,
 * raft_remove), the leader's contact with each member, and removed members on their way out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raft/member_change.h"
#include "raft/raftnode_priv.h"

/* etcd's HealthInterval: a voter heard from within it counts as connected. */
#define CONTACT_MS 5000
/* A configuration change libraft refused or failed is tried again after this long. */
#define RETRY_MS 500
/* A removed member that has not caught up with its removal by then is dropped anyway. */
#define LEAVE_MAX_MS 3000

/* The index of server `id` in libraft's configuration, or -1. */
int ms_raft_conf_index(const struct ms_raft *rn, uint64_t id)
{
	const struct raft_configuration *conf = &rn->raft->configuration;

	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id)
			return (int)i;
	return -1;
}

/* Whether the leader heard from member `id` within etcd's health interval (itself: yes). */
bool ms_raft_member_connected(const struct ms_raft *rn, uint64_t id)
{
	uint64_t now = uv_now(rn->loop);

	if (id == rn->opts.node_id)
		return true;
	for (size_t i = 0; i < MS_MEMBERS_MAX; i++)
		if (rn->contact_id[i] == id)
			return rn->contact_ms[i] && now - rn->contact_ms[i] <= CONTACT_MS;
	return false;
}

/* etcd's isLearnerReady: the learner's log within 90% of the leader's. */
bool ms_raft_learner_ready(const struct ms_raft *rn, uint64_t id)
{
	int i = ms_raft_conf_index(rn, id);
	uint64_t match, last = raft_last_index(rn->raft);

	if (i < 0 || !rn->raft->leader_state.progress)
		return false;
	match = rn->raft->leader_state.progress[i].match_index;
	return (double)match >= (double)last * 0.9;
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
	if (status && rn->log_fn && status != RAFT_LEADERSHIPLOST && status != RAFT_NOCONNECTION &&
	    status != RAFT_CANCELED)
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
		if (ms_raft_conf_index(rn, rn->leaving[i].peer.id) >= 0)
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
	int at = ms_raft_conf_index(rn, id);

	for (size_t i = 0; i < rn->n_leaving; i++) {
		const struct ms_leaving *l = &rn->leaving[i];

		if (l->peer.id != id)
			continue;
		if (now - l->since_ms >= LEAVE_MAX_MS || !ms_raft_member_connected(rn, id))
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
		int at = ms_raft_conf_index(rn, p->id);

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
			int at = ms_raft_conf_index(rn, p->id);

			if (!p->learner && conf->servers[at].role != RAFT_VOTER &&
			    (pass || ms_raft_learner_ready(rn, p->id))) {
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
	/* only a leader that applied its log: before, its table may lag */
	if (!ms_raft_is_leader(rn))
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
