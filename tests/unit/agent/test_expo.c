/* Unit tests for expo: registry validation and exact Prometheus / OpenMetrics text output. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "expo.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static char *render(const struct expo_registry *reg, enum expo_format fmt, struct expo_buf *b)
{
	assert_int_equal(expo_render(reg, fmt, b), 0);
	assert_non_null(b->data);
	assert_int_equal(strlen(b->data), b->len);
	return b->data;
}

static void test_format_double(void **state)
{
	static const struct {
		double v;
		const char *want; /* Go: strconv.FormatFloat(v, 'g', -1, 64) */
	} cases[] = {
		{ 5e-06, "5e-06" },
		{ 1e-06, "1e-06" },
		{ 1e-05, "1e-05" },
		{ 2.5e-05, "2.5e-05" },
		{ 0.0001, "0.0001" },
		{ 0.00025, "0.00025" },
		{ 0.001, "0.001" },
		{ 0.25, "0.25" },
		{ 1, "1" },
		{ 2.5, "2.5" },
		{ 10, "10" },
		{ 100, "100" },
		{ 123456, "123456" },
		{ 999999, "999999" },
		{ 1e6, "1e+06" },
		{ 1234567, "1.234567e+06" },
		{ 1e21, "1e+21" },
		{ 1e100, "1e+100" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ -1.5, "-1.5" },
		{ -0.001, "-0.001" },
		{ 0, "0" },
		{ 5e-324, "5e-324" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		/* The fast paths (15, 16, 17 digits; subnormals; near powers of ten). */
		{ 2.0 / 3.0, "0.6666666666666666" },
		{ 0.1 + 0.7, "0.7999999999999999" },
		{ 9007199254740993.0, "9.007199254740992e+15" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 3.0e-310, "3e-310" },
		{ 1e23, "1e+23" },
		{ 0.000123, "0.000123" },
		{ 4.35, "4.35" },
		{ 1.2345678901234567e-5, "1.2345678901234568e-05" },
		{ 123456789.123, "1.23456789123e+08" },
		{ 12804.300000000001, "12804.300000000001" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
		{ NAN, "NaN" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char out[64];

		assert_string_equal(expo_format_double(cases[i].v, out, sizeof(out)), cases[i].want);
	}
}

static void test_empty_registry(void **state)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_buf b = { 0 };

	(void)state;
	assert_non_null(reg);
	assert_string_equal(render(reg, EXPO_PROMETHEUS, &b), "");
	expo_buf_free(&b);
	assert_string_equal(render(reg, EXPO_OPENMETRICS, &b), "# EOF\n");
	expo_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(expo_render(reg, (enum expo_format)7, &b), -EINVAL);
	expo_buf_free(&b);
	expo_buf_free(NULL);
	expo_registry_free(reg);
	expo_registry_free(NULL);
	expo_registry_reset(NULL);
}

/* Builds one registry with every kind of family; the two formats are checked below. */
static struct expo_registry *sample_registry(void)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *req, *inflight, *conns, *dur, *empty, *compact;
	struct expo_label put_ok[] = { { "method", "/etcdserverpb.KV/Put" }, { "code", "OK" } };
	struct expo_label range_nf[] = { { "method", "/etcdserverpb.KV/Range" },
					 { "code", "NotFound" } };
	struct expo_label put[] = { { "method", "/etcdserverpb.KV/Put" } };
	double bounds[] = { 0.005, 0.01, 0.25 };
	uint64_t counts[] = { 1, 2, 0, 3 };
	uint64_t zeros[] = { 0, 0, 0, 0 };

	assert_non_null(reg);
	req = expo_family_add(reg, "grpc_server_request_total", "Completed gRPC requests.",
			      EXPO_COUNTER);
	inflight = expo_family_add(reg, "grpc_server_in_flight_requests", "Requests being served.",
				   EXPO_GAUGE);
	conns = expo_family_add(reg, "grpc_server_active_connections", "Open connections.",
				EXPO_GAUGE);
	dur = expo_family_add(reg, "grpc_server_request_duration_seconds", "Request latency.",
			      EXPO_HISTOGRAM);
	empty = expo_family_add(reg, "watch_active_total", "Active watches.", EXPO_GAUGE);
	compact = expo_family_add(reg, "mvcc_compaction", "Compactions.", EXPO_COUNTER);
	assert_non_null(req);
	assert_non_null(inflight);
	assert_non_null(conns);
	assert_non_null(dur);
	assert_non_null(empty);
	assert_non_null(compact);
	assert_int_equal(expo_series_add_u64(req, put_ok, 2, 1000000), 0);
	assert_int_equal(expo_series_add_value(req, range_nf, 2, 3), 0);
	assert_int_equal(expo_series_add_value(inflight, put, 1, -2), 0);
	assert_int_equal(expo_series_add_value(conns, NULL, 0, 7), 0);
	assert_int_equal(expo_series_add_hist(dur, put_ok, 2, bounds, 3, counts, 4, 1.5, 6), 0);
	assert_int_equal(expo_series_add_hist(dur, range_nf, 2, bounds, 3, zeros, 4, 0, 0), 0);
	assert_int_equal(expo_series_add_u64(compact, NULL, 0, 2), 0);
	return reg;
}

static void test_prometheus_text(void **state)
{
	static const char want[] =
		"# HELP grpc_server_request_total Completed gRPC requests.\n"
		"# TYPE grpc_server_request_total counter\n"
		"grpc_server_request_total{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 1000000\n"
		"grpc_server_request_total{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 3\n"
		"# HELP grpc_server_in_flight_requests Requests being served.\n"
		"# TYPE grpc_server_in_flight_requests gauge\n"
		"grpc_server_in_flight_requests{method=\"/etcdserverpb.KV/Put\"} -2\n"
		"# HELP grpc_server_active_connections Open connections.\n"
		"# TYPE grpc_server_active_connections gauge\n"
		"grpc_server_active_connections 7\n"
		"# HELP grpc_server_request_duration_seconds Request latency.\n"
		"# TYPE grpc_server_request_duration_seconds histogram\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.005\"} 1\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.01\"} 3\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.25\"} 3\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"+Inf\"} 6\n"
		"grpc_server_request_duration_seconds_sum{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 1.5\n"
		"grpc_server_request_duration_seconds_count{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 6\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.005\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.01\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.25\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"+Inf\"} 0\n"
		"grpc_server_request_duration_seconds_sum{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 0\n"
		"grpc_server_request_duration_seconds_count{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 0\n"
		"# HELP watch_active_total Active watches.\n"
		"# TYPE watch_active_total gauge\n"
		"# HELP mvcc_compaction Compactions.\n"
		"# TYPE mvcc_compaction counter\n"
		"mvcc_compaction 2\n";
	struct expo_registry *reg = sample_registry();
	struct expo_buf b = { 0 };

	(void)state;
	assert_string_equal(render(reg, EXPO_PROMETHEUS, &b), want);
	expo_buf_free(&b);
	expo_registry_free(reg);
}

static void test_openmetrics_text(void **state)
{
	/* Counter families lose "_total" in HELP/TYPE; samples always carry it. */
	static const char want[] =
		"# HELP grpc_server_request Completed gRPC requests.\n"
		"# TYPE grpc_server_request counter\n"
		"grpc_server_request_total{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 1000000\n"
		"grpc_server_request_total{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 3\n"
		"# HELP grpc_server_in_flight_requests Requests being served.\n"
		"# TYPE grpc_server_in_flight_requests gauge\n"
		"grpc_server_in_flight_requests{method=\"/etcdserverpb.KV/Put\"} -2\n"
		"# HELP grpc_server_active_connections Open connections.\n"
		"# TYPE grpc_server_active_connections gauge\n"
		"grpc_server_active_connections 7\n"
		"# HELP grpc_server_request_duration_seconds Request latency.\n"
		"# TYPE grpc_server_request_duration_seconds histogram\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.005\"} 1\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.01\"} 3\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"0.25\"} 3\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Put\",code=\"OK\",le=\"+Inf\"} 6\n"
		"grpc_server_request_duration_seconds_sum{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 1.5\n"
		"grpc_server_request_duration_seconds_count{method=\"/etcdserverpb.KV/Put\",code=\"OK\"} 6\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.005\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.01\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"0.25\"} 0\n"
		"grpc_server_request_duration_seconds_bucket{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\",le=\"+Inf\"} 0\n"
		"grpc_server_request_duration_seconds_sum{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 0\n"
		"grpc_server_request_duration_seconds_count{method=\"/etcdserverpb.KV/Range\",code=\"NotFound\"} 0\n"
		"# HELP watch_active_total Active watches.\n"
		"# TYPE watch_active_total gauge\n"
		"# HELP mvcc_compaction Compactions.\n"
		"# TYPE mvcc_compaction counter\n"
		"mvcc_compaction_total 2\n"
		"# EOF\n";
	struct expo_registry *reg = sample_registry();
	struct expo_buf b = { 0 };

	(void)state;
	assert_string_equal(render(reg, EXPO_OPENMETRICS, &b), want);
	expo_buf_free(&b);
	expo_registry_free(reg);
}

static void test_escaping(void **state)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *f = expo_family_add(reg, "esc", "a \\ b\nc \"q\"", EXPO_GAUGE);
	struct expo_label l[] = { { "path", "C:\\dir\n\"x\"" }, { "empty", "" } };
	struct expo_buf b = { 0 };

	(void)state;
	assert_int_equal(expo_series_add_value(f, l, 2, 1), 0);
	/* 0.0.4 escapes \ and newline in HELP but leaves quotes; label values escape all three. */
	assert_string_equal(render(reg, EXPO_PROMETHEUS, &b),
			    "# HELP esc a \\\\ b\\nc \"q\"\n"
			    "# TYPE esc gauge\n"
			    "esc{path=\"C:\\\\dir\\n\\\"x\\\"\",empty=\"\"} 1\n");
	expo_buf_free(&b);
	assert_string_equal(render(reg, EXPO_OPENMETRICS, &b),
			    "# HELP esc a \\\\ b\\nc \\\"q\\\"\n"
			    "# TYPE esc gauge\n"
			    "esc{path=\"C:\\\\dir\\n\\\"x\\\"\",empty=\"\"} 1\n"
			    "# EOF\n");
	expo_buf_free(&b);
	expo_registry_free(reg);
}

static void test_sample_values(void **state)
{
	static const struct {
		double v;
		const char *want;
	} doubles[] = {
		{ 0, "0" },
		{ 1e6, "1000000" },
		{ 123456789012.0, "123456789012" },
		{ -42, "-42" },
		{ 0.5, "0.5" },
		{ 1e-7, "1e-07" },
		{ 1234.5678, "1234.5678" },
		{ 1e20, "1e+20" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
		{ NAN, "NaN" },
	};
	static const struct {
		uint64_t v;
		const char *want;
	} ints[] = {
		{ 0, "0" },
		{ (1ull << 53) + 1, "9007199254740993" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	struct expo_registry *reg = expo_registry_new();
	struct expo_buf b = { 0 };

	(void)state;
	for (size_t i = 0; i < LEN(doubles) + LEN(ints); i++) {
		struct expo_family *f = expo_family_add(reg, "v", "", EXPO_GAUGE);
		char want[128];
		const char *w;

		if (i < LEN(doubles)) {
			assert_int_equal(expo_series_add_value(f, NULL, 0, doubles[i].v), 0);
			w = doubles[i].want;
		} else {
			assert_int_equal(expo_series_add_u64(f, NULL, 0, ints[i - LEN(doubles)].v), 0);
			w = ints[i - LEN(doubles)].want;
		}
		snprintf(want, sizeof(want), "# HELP v \n# TYPE v gauge\nv %s\n", w);
		assert_string_equal(render(reg, EXPO_PROMETHEUS, &b), want);
		expo_buf_free(&b);
		expo_registry_reset(reg);
	}
	expo_registry_free(reg);
}

static void test_histogram_edges(void **state)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *h = expo_family_add(reg, "h_seconds", "H.", EXPO_HISTOGRAM);
	double bounds[] = { 5e-06, 1e-05, 0.0001, 1, 2.5, 10 };
	uint64_t counts[] = { 1, 0, 2, 0, 4, 0, 8 };
	uint64_t only_inf[] = { 5 };
	struct expo_label l[] = { { "node", "1" } };
	struct expo_buf b = { 0 };

	(void)state;
	/* count 10 is behind the buckets' 15: +Inf and _count show 15. */
	assert_int_equal(expo_series_add_hist(h, l, 1, bounds, 6, counts, 7, 0.000125, 10), 0);
	/* No bounds at all: only the +Inf bucket. */
	assert_int_equal(expo_series_add_hist(h, NULL, 0, NULL, 0, only_inf, 1, 2.25, 5), 0);
	assert_string_equal(render(reg, EXPO_PROMETHEUS, &b),
			    "# HELP h_seconds H.\n"
			    "# TYPE h_seconds histogram\n"
			    "h_seconds_bucket{node=\"1\",le=\"5e-06\"} 1\n"
			    "h_seconds_bucket{node=\"1\",le=\"1e-05\"} 1\n"
			    "h_seconds_bucket{node=\"1\",le=\"0.0001\"} 3\n"
			    "h_seconds_bucket{node=\"1\",le=\"1\"} 3\n"
			    "h_seconds_bucket{node=\"1\",le=\"2.5\"} 7\n"
			    "h_seconds_bucket{node=\"1\",le=\"10\"} 7\n"
			    "h_seconds_bucket{node=\"1\",le=\"+Inf\"} 15\n"
			    "h_seconds_sum{node=\"1\"} 0.000125\n"
			    "h_seconds_count{node=\"1\"} 15\n"
			    "h_seconds_bucket{le=\"+Inf\"} 5\n"
			    "h_seconds_sum 2.25\n"
			    "h_seconds_count 5\n");
	expo_buf_free(&b);
	expo_registry_free(reg);
}

static void test_validation(void **state)
{
	static const char *const bad_names[] = { "", "1abc", "a-b", "a b", "\xc3\xa9", "a.b" };
	static const char *const good_names[] = { "a", "_a", "a:b", ":x", "A_9" };
	static const char *const bad_labels[] = { "", "9x", "a:b", "a-b", "__name__", "le" };
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *c, *h;
	double bounds[] = { 0.1, 0.2 };
	double flat[] = { 0.1, 0.1 };
	double nan_b[] = { NAN };
	double inf_b[] = { 0.1, INFINITY };
	uint64_t counts[] = { 1, 2, 3 };
	struct expo_label dup[] = { { "a", "1" }, { "a", "2" } };
	struct expo_label null_value[] = { { "a", NULL } };

	(void)state;
	for (size_t i = 0; i < LEN(bad_names); i++)
		assert_null(expo_family_add(reg, bad_names[i], "", EXPO_GAUGE));
	assert_null(expo_family_add(reg, NULL, "", EXPO_GAUGE));
	assert_null(expo_family_add(NULL, "x", "", EXPO_GAUGE));
	assert_null(expo_family_add(reg, "x", "", (enum expo_type)9));
	for (size_t i = 0; i < LEN(good_names); i++)
		assert_non_null(expo_family_add(reg, good_names[i], NULL, EXPO_GAUGE));
	assert_null(expo_family_add(reg, "a", "again", EXPO_COUNTER));

	c = expo_family_add(reg, "c", "", EXPO_COUNTER);
	h = expo_family_add(reg, "h", "", EXPO_HISTOGRAM);
	assert_non_null(c);
	assert_non_null(h);
	for (size_t i = 0; i < LEN(bad_labels); i++) {
		struct expo_label l[] = { { "ok", "v" }, { bad_labels[i], "v" } };

		assert_int_equal(expo_series_add_value(c, l, 2, 1), -EINVAL);
		assert_int_equal(expo_series_add_hist(h, l, 2, bounds, 2, counts, 3, 0, 6), -EINVAL);
	}
	assert_int_equal(expo_series_add_value(c, dup, 2, 1), -EINVAL);
	assert_int_equal(expo_series_add_value(c, null_value, 1, 1), -EINVAL);
	assert_int_equal(expo_series_add_value(c, NULL, 1, 1), -EINVAL);
	assert_int_equal(expo_series_add_value(NULL, NULL, 0, 1), -EINVAL);
	assert_int_equal(expo_series_add_u64(NULL, NULL, 0, 1), -EINVAL);
	assert_int_equal(expo_series_add_value(h, NULL, 0, 1), -EINVAL);
	assert_int_equal(expo_series_add_u64(h, NULL, 0, 1), -EINVAL);
	assert_int_equal(expo_series_add_hist(c, NULL, 0, bounds, 2, counts, 3, 0, 6), -EINVAL);
	assert_int_equal(expo_series_add_hist(NULL, NULL, 0, bounds, 2, counts, 3, 0, 6), -EINVAL);
	assert_int_equal(expo_series_add_hist(h, NULL, 0, bounds, 2, counts, 2, 0, 6), -EINVAL);
	assert_int_equal(expo_series_add_hist(h, NULL, 0, flat, 2, counts, 3, 0, 6), -EINVAL);
	assert_int_equal(expo_series_add_hist(h, NULL, 0, nan_b, 1, counts, 2, 0, 3), -EINVAL);
	assert_int_equal(expo_series_add_hist(h, NULL, 0, inf_b, 2, counts, 3, 0, 6), -EINVAL);
	assert_int_equal(expo_series_add_hist(h, NULL, 0, bounds, 2, NULL, 3, 0, 6), -EINVAL);
	/* Nothing rejected above may have left a sample behind. */
	{
		struct expo_buf b = { 0 };

		render(reg, EXPO_PROMETHEUS, &b);
		assert_null(strstr(b.data, "\nc "));
		assert_null(strstr(b.data, "c{"));
		assert_null(strstr(b.data, "h_"));
		expo_buf_free(&b);
	}
	expo_registry_free(reg);
}

/* Fills enough series to span several arena chunks, then checks a reset registry renders
 * only what was added after the reset, twice in a row. */
static void test_reset_reuse(void **state)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_buf b = { 0 };

	(void)state;
	for (int round = 0; round < 3; round++) {
		struct expo_family *f = expo_family_add(reg, "big", "Many series.", EXPO_COUNTER);
		size_t n = round == 1 ? 50 : 3000, lines = 0;
		char val[32], want[64];

		assert_non_null(f);
		for (size_t i = 0; i < n; i++) {
			struct expo_label l[] = { { "id", val } };

			snprintf(val, sizeof(val), "%zu", i);
			assert_int_equal(expo_series_add_u64(f, l, 1, i * 10 + (size_t)round), 0);
		}
		render(reg, EXPO_PROMETHEUS, &b);
		for (const char *p = b.data; (p = strchr(p, '\n')); p++)
			lines++;
		assert_int_equal(lines, n + 2);
		snprintf(want, sizeof(want), "big{id=\"%zu\"} %zu\n", n - 1, (n - 1) * 10 + round);
		assert_string_equal(b.data + b.len - strlen(want), want);
		expo_buf_free(&b);
		expo_registry_reset(reg);
	}
	render(reg, EXPO_PROMETHEUS, &b);
	assert_string_equal(b.data, "");
	expo_buf_free(&b);
	expo_registry_free(reg);
}

static void test_buf_append(void **state)
{
	struct expo_buf b = { 0 };
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *f = expo_family_add(reg, "g", "G.", EXPO_GAUGE);

	(void)state;
	assert_int_equal(expo_series_add_value(f, NULL, 0, 3), 0);
	assert_int_equal(expo_buf_printf(&b, "# pre %d\n", 1), 0);
	/* Rendering appends after what the buffer already holds. */
	render(reg, EXPO_PROMETHEUS, &b);
	assert_string_equal(b.data, "# pre 1\n# HELP g G.\n# TYPE g gauge\ng 3\n");
	expo_buf_free(&b);
	expo_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_double),
		cmocka_unit_test(test_empty_registry),
		cmocka_unit_test(test_prometheus_text),
		cmocka_unit_test(test_openmetrics_text),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_sample_values),
		cmocka_unit_test(test_histogram_edges),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_reset_reuse),
		cmocka_unit_test(test_buf_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
