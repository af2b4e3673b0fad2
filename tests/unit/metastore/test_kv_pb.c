/* Unit tests for the protobuf allocation arena (metastore/apply/kv_pb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apply/kv_pb.h"

/* Allocation sizes in order; each piece must be zeroed, 16-byte aligned and apart from
 * every other piece of the same arena. */
static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 1000, 1008, 1009, 5000, 3, 70000, 8 };

static void test_pieces_zeroed_aligned_apart(void **state)
{
	struct kv_pb_arena a = { 0 };
	uint8_t *p[sizeof(sizes) / sizeof(sizes[0])];
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);

	(void)state;
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < n; i++) {
			p[i] = kv_pb_alloc(&a, sizes[i]);
			assert_non_null(p[i]);
			assert_int_equal((uintptr_t)p[i] % 16, 0);
			for (size_t b = 0; b < sizes[i]; b++)
				assert_int_equal(p[i][b], 0);
			/* Dirty it, so a later piece laid over it would not read zero. */
			memset(p[i], 0xa5, sizes[i]);
		}
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				if (i != j && sizes[i] && sizes[j])
					assert_true(p[i] + sizes[i] <= p[j] ||
						    p[j] + sizes[j] <= p[i]);
		assert_false(a.failed);
		/* Freed, the arena is as new and serves the same again. */
		kv_pb_arena_free(&a);
		assert_null(a.blks);
		assert_int_equal(a.left, 0);
	}
}

/* A message unpacked through the arena's allocator holds the same fields as the packed one
 * and is released with the arena alone. */
static void test_unpack_through_allocator(void **state)
{
	struct kv_pb_arena a = { 0 };
	ProtobufCAllocator alloc = kv_pb_allocator(&a);
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT, *got;
	uint8_t value[3000], buf[4096];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t)i;
	put.key = (ProtobufCBinaryData){ 5, (uint8_t *)"key/1" };
	put.value = (ProtobufCBinaryData){ sizeof(value), value };
	put.lease = 77;
	len = etcdserverpb__put_request__pack(&put, buf);
	got = etcdserverpb__put_request__unpack(&alloc, len, buf);
	assert_non_null(got);
	assert_int_equal(got->key.len, 5);
	assert_memory_equal(got->key.data, "key/1", 5);
	assert_int_equal(got->value.len, sizeof(value));
	assert_memory_equal(got->value.data, value, sizeof(value));
	assert_int_equal(got->lease, 77);
	assert_false(a.failed);
	/* A truncated message fails to unpack; what it had allocated stays with the arena. */
	assert_null(etcdserverpb__put_request__unpack(&alloc, len - 1, buf));
	kv_pb_arena_free(&a);
	assert_null(a.blks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_zeroed_aligned_apart),
		cmocka_unit_test(test_unpack_through_allocator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
