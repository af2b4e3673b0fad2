/* Unit tests for kernel: which uname releases meet the agent's minimum. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_release(void **state)
{
	static const struct {
		const char *release;
		int want;
	} cases[] = {
		{ "6.18.44-fc-v669", 1 },
		{ "5.17", 1 },
		{ "5.17.0-rc1", 1 },
		{ "5.16.20", 0 },
		{ "5.4.0-150-generic", 0 },
		{ "4.19.0", 0 },
		{ "10.0", 1 },
		{ "5.170", 1 },
		{ "", -EINVAL },
		{ "v6.1", -EINVAL },
		{ "6", -EINVAL },
		{ "6.x", -EINVAL },
		{ NULL, -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++)
		assert_int_equal(kernel_release_at_least(cases[i].release, KERNEL_MIN_MAJOR,
							 KERNEL_MIN_MINOR), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
