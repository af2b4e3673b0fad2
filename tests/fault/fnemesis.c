/* Fault suite: the nemesis, a thread injecting seeded random faults into the cluster. */
#include "fnemesis.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fcluster.h"

enum kind { KILL_LEADER, KILL_FOLLOWER, KILL_TWO, KILL_ALL, STOP_LEADER, PART_LEADER,
	    PART_FOLLOWER };

static const char *const kind_names[] = {
	"kill -9 leader", "kill -9 follower", "kill -9 two members", "kill -9 all members",
	"SIGSTOP leader", "partition leader", "partition follower",
};

#define MS (1000000ULL)

void fnem_observe(struct fnem *n)
{
	struct fcl_cluster *cl = n->r->cl;

	fcl_reap(cl);
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		uint64_t self, leader, term;

		if (!cl->m[i].pid || cl->m[i].stopped || cl->m[i].link_down)
			continue;
		if (fcl_status(cl, i, &self, &leader, &term) == 0 && fault_term(n->r, term))
			fault_log(n->r, "raft term %llu (seen on %s): leader change",
				  (unsigned long long)term, cl->m[i].name);
	}
}

/* Holds for ms, observing terms and reaping members meanwhile. */
static void hold(struct fnem *n, uint64_t ms)
{
	uint64_t end = fault_now() + ms * MS;

	while (fault_now() < end) {
		fnem_observe(n);
		poll(NULL, 0, 200); /* observation period */
	}
}

int fnem_settle(struct fnem *n, int timeout_ms)
{
	uint64_t deadline = fault_now() + (uint64_t)timeout_ms * MS;
	int leader = -ETIMEDOUT;

	fcl_heal(n->r->cl);
	while (fault_now() < deadline) {
		fnem_observe(n);
		leader = fcl_leader(n->r->cl, 500, -1);
		if (leader >= 0)
			break;
		fcl_heal(n->r->cl); /* a member that died by itself meanwhile comes back */
	}
	return leader;
}

/* A random member other than skip (skip < 0: any). */
static int other(struct fnem *n, int skip)
{
	int i = (int)(fault_rand(&n->rng) % FAULT_MEMBERS);

	return i == skip ? (i + 1 + (int)(fault_rand(&n->rng) % 2)) % FAULT_MEMBERS : i;
}

/* Injects one fault of kind k. Returns how long to hold it, in ms. */
static uint64_t inject(struct fnem *n, int k)
{
	struct fcl_cluster *cl = n->r->cl;
	uint64_t hold_ms = 2000 + fault_rand(&n->rng) % 3000;
	int leader, keep;

	fnem_observe(n);
	leader = fcl_leader(cl, 5000, -1);

	if (leader < 0) {
		fault_log(n->r, "nemesis: no leader found; a random member stands for it");
		leader = other(n, -1);
	}
	fault_log(n->r, "fault %d: %s (leader %s)", (int)atomic_load(&n->r->faults) + 1,
		  kind_names[k], cl->m[leader].name);
	switch (k) {
	case KILL_LEADER:
		fcl_kill(cl, leader);
		break;
	case KILL_FOLLOWER:
		fcl_kill(cl, other(n, leader));
		break;
	case KILL_TWO:
		keep = other(n, -1);
		for (int i = 0; i < FAULT_MEMBERS; i++)
			if (i != keep)
				fcl_kill(cl, i);
		break;
	case KILL_ALL:
		for (int i = 0; i < FAULT_MEMBERS; i++)
			fcl_kill(cl, i);
		break;
	case STOP_LEADER:
		fcl_pause(cl, leader, true);
		/* Past the election timeout but shorter than the lease TTL: etcd 3.4 itself
		 * loses kept-alive leases when a leader resumes after more than a TTL (it
		 * still revokes what it thinks expired; seen with this suite). */
		hold_ms = 2500 + fault_rand(&n->rng) % 1000;
		break;
	case PART_LEADER:
		fcl_link(cl, leader, false);
		break;
	case PART_FOLLOWER:
		fcl_link(cl, other(n, leader), false);
		break;
	}
	atomic_fetch_add(&n->r->faults, 1);
	return hold_ms;
}

static void *nem_main(void *arg)
{
	struct fnem *n = arg;
	uint64_t end = fault_now() + (uint64_t)n->duration_s * 1000 * MS;
	int order[8], round = 0;

	/* The first rounds go through every kind once, in a seeded order. */
	memcpy(order, n->kinds, sizeof(order));
	for (int i = n->n_kinds - 1; i > 0; i--) {
		int j = (int)(fault_rand(&n->rng) % (uint64_t)(i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	hold(n, 2000);
	while (fault_now() < end && !atomic_load(&n->r->stop_nemesis)) {
		int k = round < n->n_kinds ? order[round]
					   : n->kinds[fault_rand(&n->rng) % (uint64_t)n->n_kinds];

		round++;
		hold(n, inject(n, k));
		if (fnem_settle(n, 30000) < 0)
			fault_anomaly(n->r, "no leader within 30 s after healing fault %d (%s)",
				      round, kind_names[k]);
		hold(n, 2000 + fault_rand(&n->rng) % 2000);
	}
	return NULL;
}

int fnem_start(struct fnem *n, struct fault_run *r, int duration_s)
{
	memset(n, 0, sizeof(*n));
	n->r = r;
	n->duration_s = duration_s;
	n->rng = r->seed ^ 0x9e3779b97f4a7c15ULL;
	for (int k = KILL_LEADER; k <= PART_FOLLOWER; k++)
		if (r->cl->netns || (k != PART_LEADER && k != PART_FOLLOWER))
			n->kinds[n->n_kinds++] = k;
	return -pthread_create(&n->th, NULL, nem_main, n);
}

void fnem_join(struct fnem *n)
{
	pthread_join(n->th, NULL);
}
