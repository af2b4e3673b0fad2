/* Unit tests for go_methods: the Go gRPC object's method table and its seed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "go_methods.h"
#include "ms_methods.h"

static struct ms_go_method_slot tab[MS_GO_METHOD_SLOTS];

static void words(const char *name, __u64 *w)
{
	char buf[MS_GO_METHOD_MAX];

	memset(buf, 0, sizeof(buf));
	strncpy(buf, name, sizeof(buf) - 1);
	memcpy(w, buf, sizeof(buf));
}

static uint32_t find(uint64_t seed, const char *name)
{
	__u64 w[MS_GO_METHOD_WORDS];

	words(name, w);
	return go_methods_find(tab, seed, w);
}

/* Every method of the store's table is found with its own id; each takes one slot. */
static void test_every_method_found(void **state)
{
	uint64_t seed = 0;
	unsigned used = 0;

	(void)state;
	assert_int_equal(go_methods_build(tab, &seed), 0);
	assert_true(seed >= 1);
	for (uint32_t m = 1; m < MS_METHOD_COUNT; m++)
		assert_int_equal(find(seed, ms_method_name(m)), m);
	for (unsigned i = 0; i < MS_GO_METHOD_SLOTS; i++)
		used += tab[i].name[0] != 0;
	assert_int_equal(used, MS_METHOD_COUNT - 1);
}

/* Paths that are no method (or differ from one in a byte) are unknown, never another id. */
static void test_unknown_paths(void **state)
{
	static const char *const paths[] = {
		"",
		"/",
		"/etcdserverpb.KV/Nope",
		"/etcdserverpb.KV/Pu",
		"/etcdserverpb.KV/Putt",
		"/etcdserverpb.KV/put",
		"etcdserverpb.KV/Put",
		"/etcdserverpb.KV/Range/",
		"/grpc.health.v1.Health/Watc",
	};
	uint64_t seed = 0;

	(void)state;
	assert_int_equal(go_methods_build(tab, &seed), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(find(seed, paths[i]), MS_METHOD_UNKNOWN);
}

/* The same table and seed every time: the BPF object's rodata and its map agree. */
static void test_deterministic(void **state)
{
	static struct ms_go_method_slot first[MS_GO_METHOD_SLOTS];
	uint64_t s1 = 0, s2 = 0;

	(void)state;
	assert_int_equal(go_methods_build(first, &s1), 0);
	assert_int_equal(go_methods_build(tab, &s2), 0);
	assert_int_equal(s1, s2);
	assert_memory_equal(first, tab, sizeof(tab));
}

/* The slot function is the shared one: a name's slot under the seed is where it sits. */
static void test_slot_matches_hash(void **state)
{
	__u64 w[MS_GO_METHOD_WORDS];
	uint64_t seed = 0;

	(void)state;
	assert_int_equal(go_methods_build(tab, &seed), 0);
	for (uint32_t m = 1; m < MS_METHOD_COUNT; m++) {
		uint32_t at;

		words(ms_method_name(m), w);
		at = ms_go_method_slot(w, seed);
		assert_int_equal(tab[at].id, m);
		assert_memory_equal(tab[at].name, w, sizeof(w));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_method_found),
		cmocka_unit_test(test_unknown_paths),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_slot_matches_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
