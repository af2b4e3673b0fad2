/* Benchmark latency samples: every latency kept, merged, sorted and read as percentiles. */
#ifndef BENCH_LG_STATS_H
#define BENCH_LG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Calls still running this long after the end of the load make the run fail. */
#define LG_DRAIN_NS (10ULL * 1000000000ULL)

/* CLOCK_MONOTONIC in ns. */
static inline uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Growable array of latencies in nanoseconds; zero-initialize, release with lg_lat_free. */
struct lg_lat {
	uint64_t *v;
	size_t n, cap;
};

/* What one run measured, as the report prints it. */
struct lg_result {
	uint64_t ok;              /* OK calls (events for watch-latency) in the window */
	uint64_t errors;          /* non-OK responses, preload and warm-up included */
	uint64_t measured_errors; /* of those, in the measured window */
	uint64_t finished;        /* calls finished, preload and warm-up included */
	double secs;              /* length of the measured window */
	struct lg_lat lat;        /* latency of each OK call in the window, sorted */
	uint64_t puts;            /* watch-latency: measured puts (0: not that workload) */
	struct lg_lat put_lat;    /* watch-latency: their latencies, sorted */
};

/* Appends one latency. Returns 0 or -ENOMEM. */
int lg_lat_add(struct lg_lat *l, uint64_t ns);

/* Appends every sample of src to dst (src is unchanged). Returns 0 or -ENOMEM. */
int lg_lat_merge(struct lg_lat *dst, const struct lg_lat *src);

/* Sorts the samples in increasing order (needed before lg_lat_pct). */
void lg_lat_sort(struct lg_lat *l);

/* Nearest-rank percentile (0 < p <= 100) of sorted samples, in ns; 0 when empty. */
uint64_t lg_lat_pct(const struct lg_lat *l, double p);

/* Frees the samples and zeroes l; NULL is allowed. */
void lg_lat_free(struct lg_lat *l);

#endif /* BENCH_LG_STATS_H */
