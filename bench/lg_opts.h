/* Benchmark load generator: command-line options. */
#ifndef BENCH_LG_OPTS_H
#define BENCH_LG_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* etcd's benchmark tool's workloads (tools/benchmark): put, range, txn-put, lease-keepalive,
 * watch-latency; mixed is this tool's own (gets and puts on one key space). */
enum lg_workload { LG_PUT, LG_GET, LG_MIXED, LG_TXN_PUT, LG_LEASE_KEEPALIVE, LG_WATCH_LATENCY };

struct lg_opts {
	char host[64];
	uint16_t port;
	unsigned conns;
	unsigned streams;
	double duration_s;   /* measured seconds (0 when requests is set) */
	uint64_t requests;   /* measured requests (0 when duration_s is set) */
	double warmup_s;
	enum lg_workload workload;
	unsigned get_percent; /* mixed: share of gets */
	unsigned keys;
	unsigned value_size;
	bool serializable;
	unsigned txn_ops;     /* txn-put: puts per transaction */
	unsigned watchers;    /* watch-latency: watchers per watch stream */
	double put_rate;      /* watch-latency: puts per second (0: next put once all events came) */
	bool verify; /* decode every response and check it */
	char prefix[64];
	/* --phase-pid: interleaved phases with the store's batch probe (or a switcher's uprobes)
	 * off and on (lg_phases) */
	int phase_pid;
	uint64_t phase_sem; /* the semaphore's address in that process */
	unsigned phase_ms;  /* phase length */
	char phase_ctl[108]; /* or --phase-ctl: a probe switcher's socket (lg_phase_ctl.h) */
	/* --window-pid: that process's CPU time and the calls in aligned windows (lg_phases) */
	int window_pid;
	unsigned window_ms;
};

/* Parses argv into o (defaults for what is not given). Returns 0, 1 after printing
 * --help, or -EINVAL after printing one line naming the bad option to stderr. */
int lg_opts_parse(struct lg_opts *o, int argc, char **argv);

/* The workload's name as --workload takes it ("put", "get", "mixed", "txn-put", ...). */
const char *lg_workload_name(enum lg_workload w);

#endif /* BENCH_LG_OPTS_H */
