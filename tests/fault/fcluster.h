/* Fault suite: the three member processes (etcd or metastore), their namespaces and links. */
#ifndef FCLUSTER_H
#define FCLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fault.h"

enum fcl_kind { FCL_ETCD, FCL_METASTORE };

struct fcl_member {
	char name[8];
	char host[32];
	uint16_t cport, pport;
	char netns[64]; /* empty: the current network namespace */
	char veth[16];	/* its link in the bridge namespace (partitions) */
	pid_t pid;	/* 0 while not running */
	bool expect_exit; /* the nemesis killed it */
	bool stopped;
	bool link_down;
	uint64_t member_id; /* from Status, once seen */
};

struct fcl_cluster {
	enum fcl_kind kind;
	const char *bin;
	char dir[200];
	bool netns;
	struct fault_run *run;
	pthread_mutex_t mu;
	struct fcl_member m[FAULT_MEMBERS];
};

/* Sets up the members: netns_prefix NULL puts them on 127.0.0.1:port_base.., else each in
 * namespace PREFIX-mN at 10.199.0.N with link fvN in the current (bridge) namespace.
 * Starts nothing. Returns 0 or -errno. */
int fcl_init(struct fcl_cluster *cl, struct fault_run *run, enum fcl_kind kind,
	     const char *bin, const char *dir, const char *netns_prefix, uint16_t port_base);

/* Starts member i from its data dir (log appended to DIR/NAME.log). Returns 0 or -errno. */
int fcl_start(struct fcl_cluster *cl, int i);

/* kill -9 of member i, waited for (and counted as expected). Returns 0 or -errno. */
int fcl_kill(struct fcl_cluster *cl, int i);

/* SIGSTOP (stop=true) or SIGCONT of member i. Returns 0 or -errno. */
int fcl_pause(struct fcl_cluster *cl, int i, bool stop);

/* Takes member i's link down or up (namespace mode only). Returns 0 or -errno. */
int fcl_link(struct fcl_cluster *cl, int i, bool up);

/* Notices members that exited: one the nemesis did not kill is an anomaly (with its
 * signal or exit status). Returns how many exited. */
int fcl_reap(struct fcl_cluster *cl);

/* Undoes every fault: starts members that are down, continues stopped ones, brings links
 * up. Returns 0 or the first -errno. */
int fcl_heal(struct fcl_cluster *cl);

/* Maintenance.Status of member i (500 ms): its member id, the leader it knows, its raft
 * term (term may be NULL). Returns 0 or -errno. */
int fcl_status(struct fcl_cluster *cl, int i, uint64_t *self, uint64_t *leader,
	       uint64_t *term);

/* The member that leads, asked through Maintenance.Status within timeout_ms; skip is a
 * member not to count (-1: none). Returns its index or -ETIMEDOUT. */
int fcl_leader(struct fcl_cluster *cl, int timeout_ms, int skip);

/* kill -9 of every member still running (end of run); waits for them. */
void fcl_stop_all(struct fcl_cluster *cl);

#endif /* FCLUSTER_H */
