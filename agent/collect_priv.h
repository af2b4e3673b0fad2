/* Collector internals shared by the collector (collect.c) and the store families (collect_store.c). */
#ifndef AGENT_COLLECT_PRIV_H
#define AGENT_COLLECT_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "collect.h"
#include "mapread.h"
#include "members.h"
#include "ms_maps.h"

#define HIST_WORDS (sizeof(struct ms_hist) / sizeof(uint64_t))

struct collector {
	struct loader *loader;
	const char *version;
	const char *revision; /* the source tree's git revision, "unknown" outside git */
	struct mapread *reader;
	struct expo_registry *reg;
	pthread_mutex_t lock;
	uint64_t map_read_errors;
	double bounds_s[MS_MAX_BUCKETS];
	uint32_t nr_bounds;
	uint64_t *scratch; /* summed map values, sized for the largest map */
	uint64_t *counts;  /* per-slot request counts (MS_NODE_SLOTS * MS_GRPC_SERIES) */
	struct binwatch *watch; /* --binary: re-attaches a replaced file; NULL otherwise */
	int target_pid;         /* --pid: the one process probed; 0 with --binary */
	struct members_view members; /* of the current scrape (or health check) */
};

/* Counts a failed map read. */
void collect_read_failed(struct collector *c);

/* Reads entries [0, nr) of a per-CPU array of subsystem `sub` into c->scratch, CPUs summed;
 * counts a failure. Returns 0 or -errno. */
int collect_read_map(struct collector *c, enum subsys_id sub, const char *name, uint32_t nr,
		     uint32_t words);

/* Reads the member view into c->members (and forgets exited processes). Returns 0 or -errno. */
int collect_read_members(struct collector *c);

/* Adds the families that come from store processes, each series with its `node`. */
void collect_store(struct collector *c);

#endif /* AGENT_COLLECT_PRIV_H */
