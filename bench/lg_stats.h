/* Benchmark latency samples: every latency kept, merged, sorted and read as percentiles. */
#ifndef BENCH_LG_STATS_H
#define BENCH_LG_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Growable array of latencies in nanoseconds; zero-initialize, release with lg_lat_free. */
struct lg_lat {
	uint64_t *v;
	size_t n, cap;
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
