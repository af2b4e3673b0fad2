/* Benchmark latency samples: every latency kept, merged, sorted and read as percentiles. */
#include "lg_stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int lat_reserve(struct lg_lat *l, size_t extra)
{
	size_t cap = l->cap ? l->cap : 4096;
	uint64_t *n;

	if (l->n + extra <= l->cap)
		return 0;
	while (cap < l->n + extra)
		cap *= 2;
	n = realloc(l->v, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->v = n;
	l->cap = cap;
	return 0;
}

int lg_lat_add(struct lg_lat *l, uint64_t ns)
{
	if (l->n == l->cap && lat_reserve(l, 1))
		return -ENOMEM;
	l->v[l->n++] = ns;
	return 0;
}

int lg_lat_merge(struct lg_lat *dst, const struct lg_lat *src)
{
	if (!src->n)
		return 0;
	if (lat_reserve(dst, src->n))
		return -ENOMEM;
	memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void lg_lat_sort(struct lg_lat *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
}

uint64_t lg_lat_pct(const struct lg_lat *l, double p)
{
	size_t rank;

	if (!l->n)
		return 0;
	/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
	rank = (size_t)ceil(p / 100.0 * (double)l->n);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->v[rank - 1];
}

void lg_lat_free(struct lg_lat *l)
{
	if (!l)
		return;
	free(l->v);
	memset(l, 0, sizeof(*l));
}
