/* Unit tests for log: exact text and JSON lines, escaping, level names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "log.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_format(void **state)
{
	static const struct {
		enum log_level level;
		bool json;
		const char *msg;
		const char *want;
	} cases[] = {
		{ LOG_ERROR, false, "missing capabilities: CAP_BPF",
		  "metastore-agent: missing capabilities: CAP_BPF\n" },
		{ LOG_INFO, false, "", "metastore-agent: \n" },
		{ LOG_INFO, true, "serving http://127.0.0.1:9464/metrics",
		  "{\"ts\":\"2026-12-01T14:00:05.042Z\",\"level\":\"info\",\"msg\":\"serving http://127.0.0.1:9464/metrics\"}\n" },
		{ LOG_ERROR, true, "symbol \"x\" in C:\\bin\tnow\n",
		  "{\"ts\":\"2026-12-01T14:00:05.042Z\",\"level\":\"error\",\"msg\":\"symbol \\\"x\\\" in C:\\\\bin\\u0009now\\u000a\"}\n" },
		{ LOG_WARN, true, "w", "{\"ts\":\"2026-12-01T14:00:05.042Z\",\"level\":\"warn\",\"msg\":\"w\"}\n" },
		{ LOG_DEBUG, true, "d", "{\"ts\":\"2026-12-01T14:00:05.042Z\",\"level\":\"debug\",\"msg\":\"d\"}\n" },
	};
	/* 2026-12-01T14:00:05.042 UTC */
	const struct timespec ts = { .tv_sec = 1796133605, .tv_nsec = 42999999 };

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char buf[512];

		assert_string_equal(log_format(buf, sizeof(buf), cases[i].level, cases[i].json, &ts,
					       cases[i].msg), cases[i].want);
	}
}

static void test_levels(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum log_level want;
	} cases[] = {
		{ "error", 0, LOG_ERROR }, { "warn", 0, LOG_WARN }, { "info", 0, LOG_INFO },
		{ "debug", 0, LOG_DEBUG }, { "INFO", -EINVAL, 0 }, { "", -EINVAL, 0 },
		{ "warning", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		enum log_level lv = LOG_INFO;

		assert_int_equal(log_parse_level(cases[i].name, &lv), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(lv, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
