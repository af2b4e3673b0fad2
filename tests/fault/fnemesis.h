/* Fault suite: the nemesis, a thread injecting seeded random faults into the cluster. */
#ifndef FNEMESIS_H
#define FNEMESIS_H

#include <pthread.h>

#include "fault.h"

struct fnem {
	struct fault_run *r;
	pthread_t th;
	uint64_t rng;
	int duration_s;
	int kinds[8];  /* fault kinds available (partitions need namespaces) */
	int n_kinds;
};

/* Starts the nemesis: faults for duration_s seconds (each held, healed, then a quiet
 * period), seeded from r->seed. Returns 0 or -errno. */
int fnem_start(struct fnem *n, struct fault_run *r, int duration_s);

/* Waits for the nemesis to finish its last fault and heal it. */
void fnem_join(struct fnem *n);

/* Asks every reachable member for its raft term; a higher term than seen before is a
 * leader change (it restarts lease clocks: r->last_leader_change). */
void fnem_observe(struct fnem *n);

/* Heals everything and waits up to timeout_ms for a leader, observing terms. Returns
 * the leader's index or -ETIMEDOUT. */
int fnem_settle(struct fnem *n, int timeout_ms);

#endif /* FNEMESIS_H */
