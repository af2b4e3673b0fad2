/* Benchmark load generator: command-line options. */
#ifndef BENCH_LG_OPTS_H
#define BENCH_LG_OPTS_H

#include <stdbool.h>
#include <stdint.h>

enum lg_workload { LG_PUT, LG_GET, LG_MIXED };

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
	bool verify; /* decode every response and check it */
	char prefix[64];
};

/* Parses argv into o (defaults for what is not given). Returns 0, 1 after printing
 * --help, or -EINVAL after printing one line naming the bad option to stderr. */
int lg_opts_parse(struct lg_opts *o, int argc, char **argv);

/* The workload's name: "put", "get" or "mixed". */
const char *lg_workload_name(enum lg_workload w);

#endif /* BENCH_LG_OPTS_H */
