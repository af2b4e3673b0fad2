/* Benchmark statistics: median of paired ratios, bootstrap percentile interval, verdicts. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

void stats_rng_seed(struct stats_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t stats_rng_next(struct stats_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t stats_rng_below(struct stats_rng *r, size_t n)
{
	/* values at or above the largest multiple of n are drawn again */
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, v;

	do
		v = stats_rng_next(r);
	while (v >= lim);
	return (size_t)(v % n);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

int stats_median(double *v, size_t n, double *out)
{
	if (!n)
		return -EINVAL;
	qsort(v, n, sizeof(*v), cmp_double);
	*out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return 0;
}

/* The p-quantile of sorted v[0..n), linear between the closest ranks (R's type 7). */
static double quantile_sorted(const double *v, size_t n, double p)
{
	double h = p * (double)(n - 1), f = floor(h);
	size_t i = (size_t)f;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (h - f) * (v[i + 1] - v[i]);
}

int stats_ratio_ci(const double *a, const double *b, size_t n, unsigned resamples, double level,
		   uint64_t seed, struct stats_ratio *out)
{
	double *r = NULL, *draw = NULL, *meds = NULL;
	struct stats_rng rng;
	int rc = -EINVAL;

	if (!n || !resamples || !(level > 0 && level < 1))
		return -EINVAL;
	r = malloc(n * sizeof(*r));
	draw = malloc(n * sizeof(*draw));
	meds = malloc(resamples * sizeof(*meds));
	if (!r || !draw || !meds) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(b[i] > 0) || !(a[i] >= 0) || isinf(a[i]) || isinf(b[i]))
			goto cleanup;
		r[i] = a[i] / b[i];
	}
	stats_rng_seed(&rng, seed);
	for (unsigned k = 0; k < resamples; k++) {
		for (size_t i = 0; i < n; i++)
			draw[i] = r[stats_rng_below(&rng, n)];
		stats_median(draw, n, &meds[k]);
	}
	qsort(meds, resamples, sizeof(*meds), cmp_double);
	*out = (struct stats_ratio){ .n = n, .level = level, .resamples = resamples, .seed = seed };
	out->lo = quantile_sorted(meds, resamples, (1 - level) / 2);
	out->hi = quantile_sorted(meds, resamples, 1 - (1 - level) / 2);
	stats_median(r, n, &out->median);
	rc = 0;
cleanup:
	free(r);
	free(draw);
	free(meds);
	return rc;
}

enum stats_verdict stats_verdict_of(double lo, double hi, double target, int at_most)
{
	if (at_most) {
		if (hi <= target)
			return STATS_MET;
		if (lo > target)
			return STATS_NOT_MET;
	} else {
		if (lo >= target)
			return STATS_MET;
		if (hi < target)
			return STATS_NOT_MET;
	}
	return STATS_NOT_RESOLVED;
}

const char *stats_verdict_name(enum stats_verdict v)
{
	switch (v) {
	case STATS_MET:
		return "met";
	case STATS_NOT_MET:
		return "not met";
	default:
		return "not resolved";
	}
}
