/* Unit tests for series: every known label value is exported, at 0 before it counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "series.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Renders the one family `fill` adds, in the Prometheus text format; caller frees. */
static char *render_one(const char *name, int (*fill)(struct expo_family *, const void *),
			const void *arg)
{
	struct expo_registry *reg = expo_registry_new();
	struct expo_family *f = expo_family_add(reg, name, "H.", EXPO_COUNTER);
	struct expo_buf b = { 0 };

	assert_non_null(f);
	assert_int_equal(fill(f, arg), 0);
	assert_int_equal(expo_render(reg, EXPO_PROMETHEUS, &b), 0);
	expo_registry_free(reg);
	return b.data;
}

/* The text every served method gives: `fmt` holds %s for the method, then the value. */
static char *per_method_text(const char *head, const char *fmt, const uint64_t *v)
{
	struct expo_buf b = { 0 };

	assert_int_equal(expo_buf_printf(&b, "%s", head), 0);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++) {
		if (m == MS_METHOD_UNKNOWN && !v[m])
			continue;
		assert_int_equal(expo_buf_printf(&b, fmt, ms_method_name(m), v[m]), 0);
	}
	return b.data;
}

struct per_method_case {
	const char *node;
	uint64_t unknown, put, txn;
	const char *fmt;
};

static int fill_per_method(struct expo_family *f, const void *arg)
{
	const struct per_method_case *c = arg;
	uint64_t v[MS_METHOD_COUNT] = { 0 };

	v[MS_METHOD_UNKNOWN] = c->unknown;
	v[MS_METHOD_KV_PUT] = c->put;
	v[MS_METHOD_KV_TXN] = c->txn;
	return series_per_method(f, c->node, v);
}

static void test_per_method(void **state)
{
	static const struct per_method_case cases[] = {
		/* nothing counted yet: every served method at 0, no unknown */
		{ NULL, 0, 0, 0, "p_total{method=\"%s\"} %" PRIu64 "\n" },
		{ NULL, 0, 1, 0, "p_total{method=\"%s\"} %" PRIu64 "\n" },
		{ NULL, 2, 0, 7, "p_total{method=\"%s\"} %" PRIu64 "\n" },
		{ "5f6175d4cb44788c", 0, 3, 0, "p_total{node=\"5f6175d4cb44788c\",method=\"%s\"} %" PRIu64 "\n" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		uint64_t v[MS_METHOD_COUNT] = { 0 };
		char *got = render_one("p_total", fill_per_method, &cases[i]), *want;

		v[MS_METHOD_UNKNOWN] = cases[i].unknown;
		v[MS_METHOD_KV_PUT] = cases[i].put;
		v[MS_METHOD_KV_TXN] = cases[i].txn;
		want = per_method_text("# HELP p_total H.\n# TYPE p_total counter\n", cases[i].fmt, v);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
}

/* The first and last lines and the count, exactly: the rest follows the same pattern. */
static void test_per_method_literal(void **state)
{
	struct per_method_case c = { NULL, 0, 4, 0, NULL };
	char *got = render_one("p_total", fill_per_method, &c);
	size_t lines = 0;

	(void)state;
	assert_memory_equal(got,
			    "# HELP p_total H.\n# TYPE p_total counter\n"
			    "p_total{method=\"/etcdserverpb.KV/Range\"} 0\n"
			    "p_total{method=\"/etcdserverpb.KV/Put\"} 4\n",
			    strlen("# HELP p_total H.\n# TYPE p_total counter\n"
				   "p_total{method=\"/etcdserverpb.KV/Range\"} 0\n"
				   "p_total{method=\"/etcdserverpb.KV/Put\"} 4\n"));
	assert_non_null(strstr(got, "p_total{method=\"/etcdserverpb.Auth/RoleRevokePermission\"} 0\n"));
	for (const char *p = got; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + MS_METHOD_COUNT - 1);
	free(got);
}

struct total_case {
	const char *node;
	uint32_t method, code;
	uint64_t v;
	size_t samples; /* sample lines expected */
	const char *line; /* one line that must be there */
	const char *first; /* the first sample line */
};

static int fill_total(struct expo_family *f, const void *arg)
{
	const struct total_case *c = arg;
	uint64_t v[MS_GRPC_SERIES] = { 0 };

	v[c->method * MS_GRPC_CODE_COUNT + c->code] = c->v;
	return series_request_total(f, c->node, v);
}

static void test_request_total(void **state)
{
	static const size_t served = (MS_METHOD_COUNT - 1) * MS_GRPC_CODE_COUNT;
	static const struct total_case cases[] = {
		{ NULL, MS_METHOD_KV_PUT, MS_GRPC_OK, 0, served,
		  "r_total{method=\"/etcdserverpb.Watch/Watch\",code=\"Canceled\"} 0\n",
		  "r_total{method=\"/etcdserverpb.KV/Range\",code=\"OK\"} 0\n" },
		{ NULL, MS_METHOD_KV_PUT, MS_GRPC_UNAVAILABLE, 5, served,
		  "r_total{method=\"/etcdserverpb.KV/Put\",code=\"Unavailable\"} 5\n",
		  "r_total{method=\"/etcdserverpb.KV/Range\",code=\"OK\"} 0\n" },
		/* unknown paths only once counted, and only their codes */
		{ NULL, MS_METHOD_UNKNOWN, MS_GRPC_UNIMPLEMENTED, 2, served + 1,
		  "r_total{method=\"unknown\",code=\"Unimplemented\"} 2\n",
		  "r_total{method=\"unknown\",code=\"Unimplemented\"} 2\n" },
		{ "a", MS_METHOD_KV_RANGE, MS_GRPC_OK, 9, served,
		  "r_total{node=\"a\",method=\"/etcdserverpb.KV/Range\",code=\"OK\"} 9\n",
		  "r_total{node=\"a\",method=\"/etcdserverpb.KV/Range\",code=\"OK\"} 9\n" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char *got = render_one("r_total", fill_total, &cases[i]);
		size_t lines = 0;

		for (const char *p = got; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 2 + cases[i].samples);
		assert_non_null(strstr(got, cases[i].line));
		/* the first sample line follows the header */
		assert_int_equal(strncmp(got + strlen("# HELP r_total H.\n# TYPE r_total counter\n"),
					 cases[i].first, strlen(cases[i].first)), 0);
		free(got);
	}
}

struct enum_case {
	const char *node;
	uint64_t v[2];
	const char *want;
};

static int fill_enum(struct expo_family *f, const void *arg)
{
	static const char *const names[] = { "success", "failure" };
	const struct enum_case *c = arg;

	return series_enum(f, c->node, "result", names, 2, c->v);
}

static void test_enum(void **state)
{
	static const struct enum_case cases[] = {
		{ NULL, { 0, 0 },
		  "# HELP e_total H.\n# TYPE e_total counter\n"
		  "e_total{result=\"success\"} 0\ne_total{result=\"failure\"} 0\n" },
		{ "b", { 3, 1 },
		  "# HELP e_total H.\n# TYPE e_total counter\n"
		  "e_total{node=\"b\",result=\"success\"} 3\ne_total{node=\"b\",result=\"failure\"} 1\n" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char *got = render_one("e_total", fill_enum, &cases[i]);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_method),
		cmocka_unit_test(test_per_method_literal),
		cmocka_unit_test(test_request_total),
		cmocka_unit_test(test_enum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
