/* Benchmark: time and bytes to build and render /metrics for growing series counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "buckets.h"
#include "expo.h"

/*
 * The registry is filled the way the collector fills it on each scrape: reset, then a
 * histogram family and a counter family with one series per label set. Each label set has
 * two labels (method, code), like grpc_server_request_duration_seconds.
 */
#define NR_BOUNDS 20
#define MAX_ROUNDS 101

static const unsigned sizes[] = { 1, 100, 10000 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static const struct {
	enum expo_format fmt;
	const char *name;
} formats[] = { { EXPO_PROMETHEUS, "Prometheus 0.0.4" }, { EXPO_OPENMETRICS, "OpenMetrics 1.0" } };
#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

struct sample {
	double build_ns[MAX_ROUNDS];
	double render_ns[MAX_ROUNDS];
	size_t bytes;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Fills reg with n histogram series and n counter series; returns 0 or -errno. */
static int build(struct expo_registry *reg, unsigned n, const double *bounds_s)
{
	struct expo_family *hist, *total;
	uint64_t counts[NR_BOUNDS + 1];
	int err = 0;

	expo_registry_reset(reg);
	hist = expo_family_add(reg, "grpc_server_request_duration_seconds",
			       "Latency of gRPC calls from request headers to trailers.",
			       EXPO_HISTOGRAM);
	total = expo_family_add(reg, "grpc_server_request_total",
				"gRPC calls completed, by method and status code.", EXPO_COUNTER);
	if (!hist || !total)
		return -ENOMEM;
	for (unsigned i = 0; i < n && !err; i++) {
		char method[48], code[16];
		struct expo_label l[] = { { "method", method }, { "code", code } };
		uint64_t count = 0;

		snprintf(method, sizeof(method), "/etcdserverpb.KV/Method%u", i / 16);
		snprintf(code, sizeof(code), "Code%u", i % 16);
		/* Distinct, non-trivial counts so every bucket line carries a real number. */
		for (unsigned b = 0; b <= NR_BOUNDS; b++) {
			counts[b] = (uint64_t)(i + 1) * (b + 1) * 37;
			count += counts[b];
		}
		err = expo_series_add_hist(hist, l, 2, bounds_s, NR_BOUNDS, counts, NR_BOUNDS + 1,
					   (double)count * 1.5e-4, count);
		if (!err)
			err = expo_series_add_u64(total, l, 2, count);
	}
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Rounds interleave every size and format, so drift hits all of them alike. */
static int measure(struct expo_registry *reg, const double *bounds_s, int rounds,
		   struct sample res[NR_SIZES][NR_FORMATS])
{
	struct expo_buf out = { 0 };
	int err = 0;

	for (int r = 0; r < rounds && !err; r++) {
		for (size_t s = 0; s < NR_SIZES && !err; s++) {
			for (size_t f = 0; f < NR_FORMATS && !err; f++) {
				size_t fi = (f + (size_t)r) % NR_FORMATS;
				struct sample *sm = &res[s][fi];
				double t0 = now_ns(), t1;

				err = build(reg, sizes[s], bounds_s);
				t1 = now_ns();
				/* Keep the buffer's memory between scrapes, as the HTTP server would. */
				out.len = 0;
				if (!err)
					err = expo_render(reg, formats[fi].fmt, &out);
				sm->build_ns[r] = t1 - t0;
				sm->render_ns[r] = now_ns() - t1;
				sm->bytes = out.len;
			}
		}
	}
	expo_buf_free(&out);
	return err;
}

#define GZIP_ROUNDS 3

/* Deflates in (gzip framing, like the agent's /metrics) at `level`; *out_len gets the size.
 * Returns 0 or -ENOMEM / -EIO. */
static int gzip_len(const char *in, size_t len, int level, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = compressBound(len) + 32;
	unsigned char *out = malloc(cap);
	int err = -EIO;

	if (!out)
		return -ENOMEM;
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
		*out_len = z.total_out;
		err = 0;
	}
	deflateEnd(&z);
out:
	free(out);
	return err;
}

/* Median time and size of gzip at `level` of the largest Prometheus render. */
static int measure_gzip(struct expo_registry *reg, const double *bounds_s, int level,
			double *ms, size_t *bytes, size_t *in_bytes)
{
	struct expo_buf out = { 0 };
	double t[GZIP_ROUNDS];
	int err = build(reg, sizes[NR_SIZES - 1], bounds_s);

	if (!err)
		err = expo_render(reg, EXPO_PROMETHEUS, &out);
	for (int r = 0; r < GZIP_ROUNDS && !err; r++) {
		double t0 = now_ns();

		err = gzip_len(out.data, out.len, level, bytes);
		t[r] = now_ns() - t0;
	}
	*in_bytes = out.len;
	if (!err)
		*ms = median(t, GZIP_ROUNDS) / 1e6;
	expo_buf_free(&out);
	return err;
}

int main(int argc, char **argv)
{
	static struct sample res[NR_SIZES][NR_FORMATS];
	uint64_t bounds_ns[NR_BOUNDS];
	double bounds_s[NR_BOUNDS];
	struct expo_registry *reg = expo_registry_new();
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	/* The agent's http.c compresses at zlib's default level (6); 1 is zlib's fastest. */
	static const int gz_levels[2] = { Z_DEFAULT_COMPRESSION, Z_BEST_SPEED };
	double gz_ms[2] = { 0 };
	size_t gz_bytes[2] = { 0 }, gz_in = 0;
	int err;

	if (!reg || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: render_cost [ROUNDS 1..%d]\n", MAX_ROUNDS);
		expo_registry_free(reg);
		return 2;
	}
	/* 20 bounds: the agent's default set when it has that many, else evenly extended. */
	{
		uint32_t nd = buckets_default(bounds_ns, NR_BOUNDS);

		for (uint32_t i = nd; i < NR_BOUNDS; i++)
			bounds_ns[i] = bounds_ns[i - 1] * 2;
		for (uint32_t i = 0; i < NR_BOUNDS; i++)
			bounds_s[i] = (double)bounds_ns[i] / 1e9;
	}
	err = measure(reg, bounds_s, rounds, res);
	for (int i = 0; i < 2 && !err; i++)
		err = measure_gzip(reg, bounds_s, gz_levels[i], &gz_ms[i], &gz_bytes[i], &gz_in);
	expo_registry_free(reg);
	if (err) {
		fprintf(stderr, "render_cost: %s\n", strerror(-err));
		return 1;
	}

	printf("Median of %d interleaved rounds. A label set is one histogram series "
	       "(%d buckets + +Inf, _sum, _count) plus one counter series (two series per "
	       "label set); \"build\" is registry reset + adding the series, \"render\" is "
	       "expo_render into a reused buffer (median and fastest round).\n\n", rounds, NR_BOUNDS);
	printf("| label sets | format | build (median) | render (median) | render (min) | build + render "
	       "| ns per label set | ns per series | output bytes | bytes per label set |\n");
	printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t s = 0; s < NR_SIZES; s++) {
		for (size_t f = 0; f < NR_FORMATS; f++) {
			const struct sample *sm = &res[s][f];
			double b = median(sm->build_ns, rounds), r = median(sm->render_ns, rounds);
			double rmin = sm->render_ns[0];

			for (int i = 1; i < rounds; i++)
				rmin = sm->render_ns[i] < rmin ? sm->render_ns[i] : rmin;
			printf("| %u | %s | %.1f us | %.1f us | %.1f us | %.1f us | %.0f | %.0f | %zu | %.0f |\n",
			       sizes[s], formats[f].name, b / 1e3, r / 1e3, rmin / 1e3, (b + r) / 1e3,
			       (b + r) / sizes[s], (b + r) / (2.0 * sizes[s]), sm->bytes,
			       (double)sm->bytes / sizes[s]);
		}
	}
	printf("\nGzip of the %u label set Prometheus render (%zu bytes), as /metrics sends it when the "
	       "scraper accepts gzip (Prometheus does), median of %d: zlib's default level, which "
	       "agent/http.c uses, %.1f ms to %zu bytes; level 1 (fastest) %.1f ms to %zu bytes.\n",
	       sizes[NR_SIZES - 1], gz_in, GZIP_ROUNDS, gz_ms[0], gz_bytes[0], gz_ms[1], gz_bytes[1]);
	return 0;
}
