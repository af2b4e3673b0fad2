/* Fault suite: the run state shared by the workloads, the nemesis and the final checks. */
#ifndef FAULT_H
#define FAULT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAULT_MEMBERS 3
#define FAULT_PREFIX "fault/"
#define FAULT_ELECTION_MS 1000
#define FAULT_LEASE_TTL 5
/* An abandoned lease must be gone this long after its grant ack (or the last leader
 * change, which restarts every lease's clock): TTL + 2 election timeouts + 3 s. */
#define FAULT_LEASE_BOUND_MS (FAULT_LEASE_TTL * 1000 + 2 * FAULT_ELECTION_MS + 3000)

struct fcl_cluster;

/* One acknowledged (or maybe) unique-key put. */
struct fault_put {
	char key[48];
	int64_t value_id;
	int64_t rev; /* acknowledged header.revision; 0 = maybe */
	bool transient; /* deleted later on purpose (lease keys): checked against the history only */
};

/* One client operation's acknowledged header revision, in completion order per client. */
struct fault_rev {
	int client;
	int64_t rev;
	bool write;
};

/* One register operation; see fwgl.h for the meaning of the fields. */
struct fwgl_op;

struct fault_vec {
	void *v;
	size_t n, cap, elem;
};

struct fault_run {
	struct fcl_cluster *cl;
	uint64_t seed;
	uint64_t t0;		    /* monotonic ns at start */
	atomic_bool stop_work;	    /* writers and registers end */
	atomic_bool stop_streams;   /* watchers and keep-alives end */
	atomic_bool stop_nemesis;
	atomic_uint_fast64_t ops;
	atomic_uint_fast64_t faults;
	atomic_uint_fast64_t anomalies;
	atomic_uint_fast64_t last_leader_change; /* monotonic ns; lease clocks restart */
	atomic_uint_fast64_t term;		 /* highest raft term any answer carried */
	pthread_mutex_t mu; /* guards the vectors below */
	struct fault_vec puts;	/* struct fault_put */
	struct fault_vec revs;	/* struct fault_rev */
	struct fault_vec regs;	/* struct fwgl_op, all registers */
};

/* Monotonic clock in ns. */
uint64_t fault_now(void);

/* Milliseconds since the run started, for log lines. */
double fault_elapsed(const struct fault_run *r);

/* xorshift64 step; *s must be non-zero. Returns the next value. */
uint64_t fault_rand(uint64_t *s);

/* Prints one anomaly line ("ANOMALY: ...") and counts it. Thread-safe. */
void fault_anomaly(struct fault_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints one progress line with the elapsed time. Thread-safe. */
void fault_log(struct fault_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Notes a raft term seen in an answer: a higher one than before is a leader change,
 * which restarts every lease's clock (r->last_leader_change). Returns true if higher. */
bool fault_term(struct fault_run *r, uint64_t term);

/* Appends a copy of elem (v->elem bytes) under r->mu. Returns 0 or -ENOMEM. */
int fault_push(struct fault_run *r, struct fault_vec *v, const void *elem);

/* Frees a vector's storage. */
void fault_vec_free(struct fault_vec *v);

#endif /* FAULT_H */
