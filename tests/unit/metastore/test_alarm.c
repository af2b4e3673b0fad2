/* Unit tests for the alarm table (metastore/store/alarm.c) and the store size it guards. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/alarm.h"
#include "store/mvcc.h"

static void test_activate_deactivate(void **state)
{
	static const struct {
		char op; /* a: activate, d: deactivate */
		uint64_t member;
		enum ms_alarm_type type;
		int want;
		size_t n_after;
	} steps[] = {
		{ 'a', 7, MS_ALARM_NOSPACE, 1, 1 },  { 'a', 7, MS_ALARM_NOSPACE, 0, 1 },
		{ 'a', 3, MS_ALARM_NOSPACE, 1, 2 },  { 'a', 7, MS_ALARM_CORRUPT, 1, 3 },
		{ 'a', 1, MS_ALARM_NONE, -EINVAL, 3 }, { 'a', 1, (enum ms_alarm_type)9, -EINVAL, 3 },
		{ 'd', 5, MS_ALARM_NOSPACE, 0, 3 },  { 'd', 7, MS_ALARM_NOSPACE, 1, 2 },
		{ 'd', 7, MS_ALARM_NOSPACE, 0, 2 },
	};
	struct ms_alarms a = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int got = steps[i].op == 'a' ?
				  ms_alarms_activate(&a, steps[i].member, steps[i].type) :
				  ms_alarms_deactivate(&a, steps[i].member, steps[i].type);

		print_message("step %zu\n", i);
		assert_int_equal(got, steps[i].want);
		assert_int_equal(a.n, steps[i].n_after);
	}
	/* ordered by member, then type */
	assert_int_equal(a.v[0].member_id, 3);
	assert_int_equal(a.v[0].type, MS_ALARM_NOSPACE);
	assert_int_equal(a.v[1].member_id, 7);
	assert_int_equal(a.v[1].type, MS_ALARM_CORRUPT);
	assert_true(ms_alarms_any(&a, MS_ALARM_NOSPACE));
	assert_true(ms_alarms_any(&a, MS_ALARM_CORRUPT));
	assert_int_equal(ms_alarms_deactivate(&a, 3, MS_ALARM_NOSPACE), 1);
	assert_false(ms_alarms_any(&a, MS_ALARM_NOSPACE));
	assert_string_equal(ms_alarm_type_name(MS_ALARM_NOSPACE), "NOSPACE");
	assert_string_equal(ms_alarm_type_name(MS_ALARM_CORRUPT), "CORRUPT");
	assert_string_equal(ms_alarm_type_name(MS_ALARM_NONE), "NONE");
}

static void test_full_table(void **state)
{
	struct ms_alarms a = { 0 };

	(void)state;
	for (uint64_t i = 0; i < MS_ALARMS_MAX; i++)
		assert_int_equal(ms_alarms_activate(&a, i, MS_ALARM_NOSPACE), 1);
	assert_int_equal(ms_alarms_activate(&a, 999, MS_ALARM_NOSPACE), -ENOSPC);
	assert_int_equal(a.n, MS_ALARMS_MAX);
}

static void test_dump_load(void **state)
{
	struct ms_alarms a = { 0 }, b = { 0 }, c = { 0 };
	struct ms_buf buf = { 0 };

	(void)state;
	ms_alarms_activate(&a, 11, MS_ALARM_NOSPACE);
	ms_alarms_activate(&a, 2, MS_ALARM_CORRUPT);
	assert_int_equal(ms_alarms_dump(&a, &buf), 0);
	assert_int_equal(buf.len, 8 + 2 * 16);
	assert_int_equal(ms_alarms_load(&b, buf.data, buf.len), 0);
	assert_int_equal(b.n, 2);
	assert_memory_equal(b.v, a.v, 2 * sizeof(a.v[0]));
	/* every truncation is refused, the table unchanged */
	ms_alarms_activate(&c, 5, MS_ALARM_NOSPACE);
	for (size_t n = 0; n < buf.len; n++) {
		assert_int_equal(ms_alarms_load(&c, buf.data, n), -EINVAL);
		assert_int_equal(c.n, 1);
	}
	/* a type out of range, a duplicate */
	buf.data[16] = 7;
	assert_int_equal(ms_alarms_load(&c, buf.data, buf.len), -EINVAL);
	buf.data[16] = 1;
	memcpy(buf.data + 24, buf.data + 8, 16);
	assert_int_equal(ms_alarms_load(&c, buf.data, buf.len), -EINVAL);
	ms_buf_free(&buf);
}

/* The store size counts every revision held: key + value + MS_MVCC_REV_BYTES each. */
static void test_store_size(void **state)
{
	struct ms_mvcc *s = ms_mvcc_new(1);
	int64_t rev, deleted;
	size_t r = MS_MVCC_REV_BYTES;

	(void)state;
	assert_non_null(s);
	assert_int_equal(ms_mvcc_size(s), 0);
	assert_int_equal(ms_mvcc_put(s, (const uint8_t *)"ab", 2, (const uint8_t *)"xyz", 3, 0,
				     NULL, NULL, &rev), 0);
	assert_int_equal(ms_mvcc_size(s), 2 + 3 + r);
	assert_int_equal(ms_mvcc_put(s, (const uint8_t *)"ab", 2, (const uint8_t *)"12345", 5, 0,
				     NULL, NULL, &rev), 0);
	assert_int_equal(ms_mvcc_size(s), (2 + 3 + r) + (2 + 5 + r));
	assert_int_equal(ms_mvcc_delete(s, (const uint8_t *)"ab", 2, NULL, 0, &deleted, NULL, &rev),
			 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(ms_mvcc_size(s), (2 + 3 + r) + (2 + 5 + r) + (2 + r));
	/* compacting at the delete drops the whole history of the key */
	assert_int_equal(ms_mvcc_compact(s, rev), 0);
	assert_int_equal(ms_mvcc_size(s), 0);
	ms_mvcc_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activate_deactivate),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_dump_load),
		cmocka_unit_test(test_store_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
