/* Members: which store process is which member (node slot), and which members are up. */
#ifndef AGENT_MEMBERS_H
#define AGENT_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "ms_maps.h"

/* A member whose last status is older than this is down (its loop stopped ticking). A Go
 * etcd's process (ms_proc.no_status) has no status probe: it is up while it lives. */
#define MEMBERS_STALE_NS (2ull * 1000000000ull)

/* One scrape's view of the members, by slot. */
struct members_view {
	uint32_t nr_slots; /* slots [0, nr_slots) may be in use (slot-major maps read that far) */
	bool known[MS_NODE_SLOTS];  /* the slot belongs to a node */
	char name[MS_NODE_SLOTS][17]; /* its node id in hex: the `node` label */
	bool up[MS_NODE_SLOTS];     /* a live process of it reported within MEMBERS_STALE_NS */
	uint64_t term[MS_NODE_SLOTS], leader[MS_NODE_SLOTS]; /* of that process (up only) */
	bool is_leader[MS_NODE_SLOTS];
	bool no_status[MS_NODE_SLOTS]; /* up, and a Go etcd: term and leader are unknown */
	bool has_limits[MS_NODE_SLOTS];               /* up and its limits were read */
	uint64_t limits[MS_NODE_SLOTS][MS_LIMIT_COUNT]; /* in enum ms_probe_limit order */
	uint32_t pid[MS_NODE_SLOTS]; /* the process that makes it up, or the last one seen */
	uint32_t nr_procs;           /* live store processes, with their slots: */
	uint32_t tgid[MS_MAX_PROCS];
	uint32_t tgid_slot[MS_MAX_PROCS];
};

/* One entry of the maps the view is built from. */
struct members_proc {
	uint32_t tgid;
	struct ms_proc p;
	bool alive; /* /proc/TGID exists */
};

struct members_slot {
	uint64_t node;
	uint32_t slot;
};

/*
 * Builds the view from the processes (proc_node) and node slots (node_slots) read at
 * monotonic time `now_ns`. A slot is known once a node holds it, and stays; it is up while
 * one of its processes lives and reported within MEMBERS_STALE_NS, or lives and is a Go
 * etcd (the latest such one gives term and leader). Only live processes are listed.
 * Out-of-range slots are ignored.
 */
void members_build(const struct members_proc *procs, uint32_t nr_procs,
		   const struct members_slot *slots, uint32_t nr_slots, uint64_t now_ns,
		   struct members_view *v);

/* The slot of live process `tgid`, or -1. */
int members_slot_of(const struct members_view *v, uint32_t tgid);

/*
 * Reads proc_node (`proc_fd`) and node_slots (`slots_fd`), deletes the processes that
 * exited from proc_node and builds *v (now: CLOCK_MONOTONIC). Not reentrant (static read
 * buffers): one caller at a time (the collector holds its lock). Returns 0 or -errno.
 */
int members_read(int proc_fd, int slots_fd, struct members_view *v);

#endif /* AGENT_MEMBERS_H */
