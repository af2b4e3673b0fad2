/* Fault suite: leases kept alive over a keep-alive stream, and abandoned ones that must expire. */
#ifndef FLEASE_H
#define FLEASE_H

#include <pthread.h>

#include "fault.h"
#include "fwork.h"

#define FLEASE_KEPT 3
#define FLEASE_GONE_MAX 1024

struct flease_gone {
	int64_t id;
	char key[48];
	uint64_t granted; /* monotonic ns of the grant's ack */
	bool resolved;	  /* seen gone, or reported */
};

struct flease {
	struct fault_run *r;
	pthread_t keeper, abandoner;
	struct fwork_client kc, ac; /* keeper (setup, final checks), abandoner */
	int64_t kept[FLEASE_KEPT];
	char kept_key[FLEASE_KEPT][48];
	uint64_t last_renew[FLEASE_KEPT];
	uint64_t max_gap;
	bool lost[FLEASE_KEPT];
	struct flease_gone gone[FLEASE_GONE_MAX];
	size_t n_gone;
	int keeper_member;
	bool ended;
	uint64_t renewals;
};

/* Grants the kept leases and puts their keys (the cluster must be healthy: within
 * timeout_ms), then starts the keeper (until r->stop_streams) and the abandoner (grants
 * until r->stop_work, then ends once every abandoned lease is resolved).
 * Returns 0 or -errno. */
int flease_start(struct flease *l, struct fault_run *r, int timeout_ms);

/* Waits for the abandoner to resolve every abandoned lease (it ends by itself, bounded). */
void flease_join_abandoner(struct flease *l);

/* Every kept lease must still live on every member (TimeToLive > 0) with its key attached
 * (serializable read of each member). Reports anomalies; returns how many. */
int flease_check_kept(struct flease *l);

/* Joins the keeper (after r->stop_streams). */
void flease_join_keeper(struct flease *l);

#endif /* FLEASE_H */
