/* Benchmark statistics: medians of paired ratios and their bootstrap confidence interval. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The bootstrap's random numbers: splitmix64, so a printed seed reproduces an interval. */
struct stats_rng {
	uint64_t s;
};

/* Seeds the generator. */
void stats_rng_seed(struct stats_rng *r, uint64_t seed);

/* Next 64-bit value. */
uint64_t stats_rng_next(struct stats_rng *r);

/* Uniform integer in [0, n) (n > 0), without modulo bias. */
size_t stats_rng_below(struct stats_rng *r, size_t n);

/*
 * Median of v[0..n) (mean of the middle two when n is even). Sorts v in place.
 * Returns 0 and the median in *out, or -EINVAL for n == 0.
 */
int stats_median(double *v, size_t n, double *out);

/* How a ratio compares to its target. */
enum stats_verdict {
	STATS_MET,          /* the whole interval is on the target's side */
	STATS_NOT_MET,      /* the whole interval is on the other side */
	STATS_NOT_RESOLVED, /* the interval has values on both sides */
};

/* The median of per-round ratios a[i] / b[i] and its bootstrap percentile interval. */
struct stats_ratio {
	size_t n;         /* rounds */
	size_t groups;    /* distinct groups the rounds came in (1 without groups) */
	double median;    /* median of the n ratios */
	double lo, hi;    /* the interval's bounds */
	double level;     /* its confidence level, e.g. 0.95 */
	unsigned resamples;
	uint64_t seed;
};

/*
 * Per round i the ratio a[i] / b[i] (rounds with b[i] <= 0 or a[i] < 0 are an error); the
 * median of those ratios; and, from `resamples` bootstrap resamples of the rounds (drawn
 * with replacement by a generator seeded with `seed`), the central `level` percentile
 * interval of the resampled medians. Returns 0, -EINVAL (n == 0, a bad value, level not in
 * (0, 1), resamples == 0) or -ENOMEM.
 */
int stats_ratio_ci(const double *a, const double *b, size_t n, unsigned resamples, double level,
		   uint64_t seed, struct stats_ratio *out);

/*
 * As stats_ratio_ci, for rounds that come in groups whose rounds share more than chance
 * (phases of one process: its memory layout moves them all): round i is of group
 * group[i] (any labels; NULL: one group). Each resample draws as many groups as there are,
 * with replacement, then within each drawn group as many of its rounds, with replacement
 * (a two-stage bootstrap), so the interval holds the spread between groups too. With one
 * group it is stats_ratio_ci's interval, draw for draw. Returns as stats_ratio_ci.
 */
int stats_ratio_ci_grouped(const double *a, const double *b, const long *group, size_t n,
			   unsigned resamples, double level, uint64_t seed,
			   struct stats_ratio *out);

/*
 * The verdict of interval [lo, hi] against `target`: for at_most, met when hi <= target,
 * not met when lo > target; otherwise (at least) met when lo >= target, not met when
 * hi < target; else not resolved.
 */
enum stats_verdict stats_verdict_of(double lo, double hi, double target, int at_most);

/* "met", "not met" or "not resolved". */
const char *stats_verdict_name(enum stats_verdict v);

#endif /* BENCH_STATS_H */
