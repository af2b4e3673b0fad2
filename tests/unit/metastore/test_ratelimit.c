/* Unit tests for the token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/ratelimit.h"

#define MS 1000000ull

static void test_bucket_table(void **state)
{
	static const struct {
		double rate, burst;
		uint64_t at_ms[8];
		int n;
		const char *want; /* one char per take: '+' allowed, '-' refused */
	} cases[] = {
		{ 0, 0, { 0, 0, 0, 0 }, 4, "++++" },                      /* no limit */
		{ 10, 2, { 0, 0, 0, 0 }, 4, "++--" },                     /* burst, then dry */
		{ 10, 2, { 0, 0, 0, 100, 100, 200 }, 6, "++-+-+" },       /* one token per 100 ms */
		{ 10, 2, { 0, 0, 1000, 1000, 1000 }, 5, "++++-" },        /* refill caps at burst */
		{ 1, 0.5, { 0, 0, 999, 1000 }, 4, "+--+" },               /* burst at least 1 */
		{ 0.1, 2, { 0, 1, 2, 5000, 9999, 10002 }, 6, "++---+" },  /* slow rates */
		{ 10, 1, { 500, 100, 600 }, 3, "+-+" },                   /* clock going back */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_ratelimit r;
		char got[9] = { 0 };

		ms_ratelimit_init(&r, cases[i].rate, cases[i].burst, cases[i].at_ms[0] * MS);
		for (int k = 0; k < cases[i].n; k++)
			got[k] = ms_ratelimit_take(&r, cases[i].at_ms[k] * MS) ? '+' : '-';
		if (strcmp(got, cases[i].want))
			fail_msg("case %zu: got %s, want %s", i, got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
