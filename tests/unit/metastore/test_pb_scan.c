/* Unit tests for the protobuf field scan (metastore/rpc/pb_scan.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/pb_scan.h"
#include "rpc.pb-c.h"

/* RangeRequests built with protobuf-c: the scan of `serializable` (field 7) must agree with
 * a full decode, whatever other fields surround it. */
static void test_agrees_with_decode(void **state)
{
	static const struct {
		const char *name;
		const char *key, *range_end;
		int64_t limit, revision, min_mod;
		int serializable, keys_only, count_only;
		int want; /* scan result */
	} cases[] = {
		{ "empty", NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },
		{ "serializable only", NULL, NULL, 0, 0, 0, 1, 0, 0, 1 },
		{ "key and serializable", "a", NULL, 0, 0, 0, 1, 0, 0, 1 },
		{ "linearizable with fields", "key", "kez", 10, 3, 0, 0, 1, 1, 0 },
		{ "every field", "k", "\xff", 1, 1 << 30, 5, 1, 1, 1, 1 },
		{ "large revision before", "k", NULL, 0, INT64_MAX, INT64_MAX, 1, 0, 0, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT, *back;
		uint8_t buf[256];
		uint64_t v = 99;
		size_t n;
		int got;

		if (cases[i].key) {
			r.key.data = (uint8_t *)cases[i].key;
			r.key.len = strlen(cases[i].key);
		}
		if (cases[i].range_end) {
			r.range_end.data = (uint8_t *)cases[i].range_end;
			r.range_end.len = strlen(cases[i].range_end);
		}
		r.limit = cases[i].limit;
		r.revision = cases[i].revision;
		r.min_mod_revision = cases[i].min_mod;
		r.serializable = cases[i].serializable;
		r.keys_only = cases[i].keys_only;
		r.count_only = cases[i].count_only;
		n = etcdserverpb__range_request__pack(&r, buf);
		got = ms_pb_scan_varint(buf, n, 7, &v);
		back = etcdserverpb__range_request__unpack(NULL, n, buf);
		assert_non_null(back);
		if (got != cases[i].want || (got == 1 && v != (uint64_t)back->serializable))
			fail_msg("%s: scan %d (value %llu), decode says %d", cases[i].name, got,
				 (unsigned long long)v, back->serializable);
		etcdserverpb__range_request__free_unpacked(back, NULL);
	}
}

/* Hand-made encodings: wire types, repeated fields, malformed input. */
static void test_wire(void **state)
{
	static const struct {
		const char *name;
		const uint8_t bytes[24];
		size_t len;
		int want;
		uint64_t value;
	} cases[] = {
		{ "absent", { 0 }, 0, 0, 0 },
		{ "varint true", { 0x38, 0x01 }, 2, 1, 1 },
		{ "last occurrence wins", { 0x38, 0x01, 0x38, 0x00 }, 4, 1, 0 },
		{ "multi-byte varint", { 0x38, 0xac, 0x02 }, 3, 1, 300 },
		{ "after 64-bit field", { 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x38, 0x01 }, 11, 1, 1 },
		{ "after 32-bit field", { 0x0d, 1, 2, 3, 4, 0x38, 0x01 }, 7, 1, 1 },
		{ "field 7 inside bytes is not top level", { 0x0a, 0x02, 0x38, 0x01 }, 4, 0, 0 },
		{ "truncated varint", { 0x38, 0x80 }, 2, -EBADMSG, 0 },
		{ "length past the end", { 0x0a, 0x05, 0x61 }, 3, -EBADMSG, 0 },
		{ "truncated 64-bit", { 0x09, 1, 2, 3 }, 4, -EBADMSG, 0 },
		{ "field number 0", { 0x00, 0x01 }, 2, -EBADMSG, 0 },
		{ "group wire type", { 0x3b, 0x3c }, 2, -EBADMSG, 0 },
		{ "varint over 10 bytes",
		  { 0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 12,
		  -EBADMSG, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int got = ms_pb_scan_varint(cases[i].bytes, cases[i].len, 7, &v);

		if (got != cases[i].want || (got == 1 && v != cases[i].value))
			fail_msg("%s: got %d value %llu, want %d value %llu", cases[i].name, got,
				 (unsigned long long)v, cases[i].want,
				 (unsigned long long)cases[i].value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_decode),
		cmocka_unit_test(test_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
