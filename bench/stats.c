/* Benchmark statistics: median of paired ratios, bootstrap percentile interval, verdicts. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
	return stats_ratio_ci_grouped(a, b, NULL, n, resamples, level, seed, out);
}

/* Rounds by group: idx[start[g] .. start[g + 1]) are the rounds of group g, in order. */
struct groups {
	size_t n;
	size_t *start; /* n + 1 entries */
	size_t *idx;
};

/* Groups the rounds by label, groups in the order their first round comes. 0 or -ENOMEM. */
static int groups_of(const long *group, size_t n, struct groups *g)
{
	size_t *of = malloc(n * sizeof(*of)), *count = calloc(n + 1, sizeof(*count));
	long *label = malloc(n * sizeof(*label));
	int rc = -ENOMEM;

	g->n = 0;
	g->start = calloc(n + 1, sizeof(*g->start));
	g->idx = malloc(n * sizeof(*g->idx));
	if (!of || !count || !label || !g->start || !g->idx)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		/* quadratic in the groups, which are a handful of processes */
		while (k < g->n && group && label[k] != group[i])
			k++;
		if (k == g->n)
			label[g->n++] = group ? group[i] : 0;
		of[i] = k;
		count[k]++;
	}
	for (size_t k = 0; k < g->n; k++)
		g->start[k + 1] = g->start[k] + count[k];
	memset(count, 0, (n + 1) * sizeof(*count));
	for (size_t i = 0; i < n; i++)
		g->idx[g->start[of[i]] + count[of[i]]++] = i;
	rc = 0;
cleanup:
	free(of);
	free(count);
	free(label);
	return rc;
}

int stats_ratio_ci_grouped(const double *a, const double *b, const long *group, size_t n,
			   unsigned resamples, double level, uint64_t seed,
			   struct stats_ratio *out)
{
	double *r = NULL, *draw = NULL, *meds = NULL;
	struct groups g = { 0 };
	struct stats_rng rng;
	size_t most = 0;
	int rc = -EINVAL;

	if (!n || !resamples || !(level > 0 && level < 1))
		return -EINVAL;
	r = malloc(n * sizeof(*r));
	meds = malloc(resamples * sizeof(*meds));
	if (!r || !meds || groups_of(group, n, &g)) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t c = 0; c < g.n; c++)
		if (g.start[c + 1] - g.start[c] > most)
			most = g.start[c + 1] - g.start[c];
	/* groups of unequal size: a resample holds up to g.n times the largest */
	draw = malloc(g.n * most * sizeof(*draw));
	if (!draw) {
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
		size_t m = 0;

		for (size_t d = 0; d < g.n; d++) {
			/* one group: no draw for it, so the rounds' draws are stats_ratio_ci's */
			size_t c = g.n == 1 ? 0 : stats_rng_below(&rng, g.n);
			size_t from = g.start[c], len = g.start[c + 1] - from;

			for (size_t i = 0; i < len; i++)
				draw[m++] = r[g.idx[from + stats_rng_below(&rng, len)]];
		}
		stats_median(draw, m, &meds[k]);
	}
	qsort(meds, resamples, sizeof(*meds), cmp_double);
	*out = (struct stats_ratio){ .n = n, .groups = g.n, .level = level,
				     .resamples = resamples, .seed = seed };
	out->lo = quantile_sorted(meds, resamples, (1 - level) / 2);
	out->hi = quantile_sorted(meds, resamples, 1 - (1 - level) / 2);
	stats_median(r, n, &out->median);
	rc = 0;
cleanup:
	free(g.start);
	free(g.idx);
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
