/* Unit tests for privs: the capabilities the agent needs and how a missing set is named. */
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "privs.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(c) (1ull << (c))

static void test_cap_names(void **state)
{
	static const struct {
		uint64_t mask;
		size_t len;
		const char *want;
	} cases[] = {
		{ 0, 64, "" },
		{ BIT(CAP_BPF), 64, "CAP_BPF" },
		{ BIT(CAP_BPF) | BIT(CAP_PERFMON), 64, "CAP_PERFMON, CAP_BPF" },
		{ BIT(CAP_SETGID) | BIT(CAP_SETUID) | BIT(CAP_SYS_ADMIN), 64,
		  "CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN" },
		/* one without a name here */
		{ BIT(CAP_NET_RAW) | BIT(CAP_BPF), 64, "capability 13, CAP_BPF" },
		/* a short buffer is cut, never overrun */
		{ BIT(CAP_BPF) | BIT(CAP_PERFMON), 10, "CAP_PERFM" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char buf[64];

		memset(buf, 'x', sizeof(buf));
		assert_string_equal(privs_cap_names(cases[i].mask, buf, cases[i].len), cases[i].want);
	}
}

static void test_needed(void **state)
{
	uint64_t base = BIT(CAP_BPF) | BIT(CAP_PERFMON) | BIT(CAP_SYS_ADMIN) | BIT(CAP_SETPCAP);
	char buf[128];

	(void)state;
	assert_int_equal(privs_needed(false), base);
	assert_int_equal(privs_needed(true), base | BIT(CAP_SETUID) | BIT(CAP_SETGID));
	assert_string_equal(privs_cap_names(privs_needed(false), buf, sizeof(buf)),
			    "CAP_SETPCAP, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_names),
		cmocka_unit_test(test_needed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
