/* Unit tests for the key index's exact-key hash (metastore/store/keyhash.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/keyhash.h"
#include "store/keyindex.h"

/* A level-1 node holding `len` bytes, as the key index lays one out. */
static struct ms_key *node_new(const void *key, size_t len)
{
	struct ms_key *k = calloc(1, sizeof(*k) + sizeof(k->next[0]) + len);

	assert_non_null(k);
	k->level = 1;
	k->key_len = len;
	memcpy((uint8_t *)&k->next[1], key, len);
	return k;
}

/* Hashes the caller picks put every key of a case at chosen home slots: runs that collide,
 * runs that wrap past the table's end, gaps the removal must not open. */
static void test_collisions_table(void **state)
{
	static const struct {
		const char *name;
		uint64_t hash[6];
		int remove[3]; /* indexes removed in this order (-1 ends a shorter list) */
	} cases[] = {
		{ "one home, remove the first", { 5, 5, 5, 5, 5, 5 }, { 0, -1 } },
		{ "one home, remove the middle", { 5, 5, 5, 5, 5, 5 }, { 3, 1, -1 } },
		{ "one home, remove the last", { 5, 5, 5, 5, 5, 5 }, { 5, 4, -1 } },
		{ "wrap at the end", { 62, 63, 63, 62, 0, 1 }, { 0, 2, -1 } },
		{ "a key homed after the hole stays", { 10, 10, 12, 12, 11, 13 }, { 1, 0, -1 } },
		{ "interleaved homes", { 7, 8, 7, 8, 7, 9 }, { 2, 4, 0 } },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ms_keyhash *h = ms_keyhash_new(1);
		struct ms_key *k[6];
		int gone[6] = { 0 }, removed = 0;
		char key[8];

		assert_non_null(h);
		for (int i = 0; i < 6; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			k[i] = node_new(key, strlen(key));
			assert_int_equal(ms_keyhash_reserve(h), 0);
			ms_keyhash_insert(h, cases[c].hash[i], k[i]);
		}
		for (int r = 0; r < 3 && cases[c].remove[r] >= 0; r++) {
			int i = cases[c].remove[r];

			ms_keyhash_remove(h, cases[c].hash[i], k[i]);
			gone[i] = 1;
			removed++;
			for (int j = 0; j < 6; j++) {
				struct ms_key *got;

				snprintf(key, sizeof(key), "k%d", j);
				got = ms_keyhash_find(h, cases[c].hash[j], (const uint8_t *)key,
						      strlen(key));
				if (got != (gone[j] ? NULL : k[j]))
					fail_msg("%s: after removing k%d, k%d found %p, want %p",
						 cases[c].name, i, j, (void *)got,
						 gone[j] ? NULL : (void *)k[j]);
			}
		}
		assert_int_equal(ms_keyhash_len(h), 6 - removed);
		/* removing what is not there changes nothing */
		ms_keyhash_remove(h, cases[c].hash[cases[c].remove[0]], k[cases[c].remove[0]]);
		assert_int_equal(ms_keyhash_len(h), 6 - removed);
		for (int i = 0; i < 6; i++)
			free(k[i]);
		ms_keyhash_free(h);
	}
}

/* Same bytes under one seed: one hash; lengths and every byte count; no two of 100000 keys
 * share a 64-bit hash. */
static void test_hash_of(void **state)
{
	struct ms_keyhash *h = ms_keyhash_new(7), *g = ms_keyhash_new(8);
	static const uint8_t zeros[16];
	uint64_t *seen = calloc(100000, sizeof(*seen));
	char key[32];

	(void)state;
	assert_non_null(h);
	assert_non_null(g);
	assert_non_null(seen);
	assert_int_equal(ms_keyhash_of(h, (const uint8_t *)"abc", 3),
			 ms_keyhash_of(h, (const uint8_t *)"abcd", 3));
	assert_int_not_equal(ms_keyhash_of(h, (const uint8_t *)"abc", 3),
			     ms_keyhash_of(g, (const uint8_t *)"abc", 3));
	/* zero bytes still count: keys of 0..16 zero bytes all differ */
	for (size_t a = 0; a <= 16; a++)
		for (size_t b = a + 1; b <= 16; b++)
			assert_int_not_equal(ms_keyhash_of(h, zeros, a), ms_keyhash_of(h, zeros, b));
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "/registry/pods/ns-%d/p", i);
		seen[i] = ms_keyhash_of(h, (const uint8_t *)key, strlen(key));
	}
	for (int i = 0; i < 100000; i++)
		for (int j = i + 1; j < i + 64 && j < 100000; j++)
			if (seen[i] == seen[j])
				fail_msg("keys %d and %d share hash %llx", i, j,
					 (unsigned long long)seen[i]);
	free(seen);
	ms_keyhash_free(h);
	ms_keyhash_free(g);
}

/* A random run of inserts and removes against a reference array, over few homes so that long
 * runs form and the table grows through them; every key checked after every step. */
static void test_random_against_reference(void **state)
{
	enum { N = 300, STEPS = 3000 };
	unsigned seed = (unsigned)time(NULL);
	struct ms_keyhash *h = ms_keyhash_new(3);
	struct ms_key *k[N];
	uint64_t hash[N];
	int in[N] = { 0 };
	size_t len = 0;
	char key[16];

	(void)state;
	printf("test_random_against_reference seed %u\n", seed);
	srand(seed);
	assert_non_null(h);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key/%d", i);
		k[i] = node_new(key, strlen(key));
		hash[i] = (uint64_t)(rand() % 40) * 0x100000001ULL; /* low bits: few homes */
	}
	for (int s = 0; s < STEPS; s++) {
		int i = rand() % N;

		if (in[i]) {
			ms_keyhash_remove(h, hash[i], k[i]);
			in[i] = 0;
			len--;
		} else {
			assert_int_equal(ms_keyhash_reserve(h), 0);
			ms_keyhash_insert(h, hash[i], k[i]);
			in[i] = 1;
			len++;
		}
		assert_int_equal(ms_keyhash_len(h), len);
		for (int j = 0; j < N; j++) {
			struct ms_key *got;

			snprintf(key, sizeof(key), "key/%d", j);
			got = ms_keyhash_find(h, hash[j], (const uint8_t *)key, strlen(key));
			if (got != (in[j] ? k[j] : NULL))
				fail_msg("seed %u step %d: key %d found %p, want %p", seed, s, j,
					 (void *)got, in[j] ? (void *)k[j] : NULL);
		}
	}
	for (int i = 0; i < N; i++)
		free(k[i]);
	ms_keyhash_free(h);
}

/* Through the key index: found by bytes (the empty key too), gone after the compaction that
 * removed it, a key equal up to a length not confused with it. */
static void test_index_find(void **state)
{
	struct ms_keyindex *ix = ms_keyindex_new(5);
	struct ms_key_rev r = { .mod_rev = 2, .create_rev = 2, .version = 1 };
	struct ms_key_rev tomb = { .mod_rev = 3, .create_rev = 0, .version = 0 };
	struct ms_key *a, *ab, *empty;

	(void)state;
	assert_non_null(ix);
	a = ms_keyindex_upsert(ix, (const uint8_t *)"a", 1);
	ab = ms_keyindex_upsert(ix, (const uint8_t *)"ab", 2);
	empty = ms_keyindex_upsert(ix, (const uint8_t *)"", 0);
	assert_non_null(a);
	assert_non_null(ab);
	assert_non_null(empty);
	assert_ptr_equal(ms_keyindex_upsert(ix, (const uint8_t *)"a", 1), a);
	assert_ptr_equal(ms_keyindex_find(ix, (const uint8_t *)"ab", 2), ab);
	assert_ptr_equal(ms_keyindex_find(ix, (const uint8_t *)"ab", 1), a);
	assert_ptr_equal(ms_keyindex_find(ix, (const uint8_t *)"", 0), empty);
	assert_null(ms_keyindex_find(ix, (const uint8_t *)"abc", 3));
	assert_int_equal(ms_key_append(a, &r), 0);
	assert_int_equal(ms_key_append(a, &tomb), 0);
	assert_int_equal(ms_key_append(ab, &r), 0);
	ms_keyindex_compact(ix, 3); /* a: tombstone at 3; "" never had a revision */
	assert_int_equal(ms_keyindex_len(ix), 1);
	assert_null(ms_keyindex_find(ix, (const uint8_t *)"a", 1));
	assert_null(ms_keyindex_find(ix, (const uint8_t *)"", 0));
	assert_ptr_equal(ms_keyindex_find(ix, (const uint8_t *)"ab", 2), ab);
	a = ms_keyindex_upsert(ix, (const uint8_t *)"a", 1);
	assert_non_null(a);
	assert_ptr_equal(ms_keyindex_find(ix, (const uint8_t *)"a", 1), a);
	assert_ptr_equal(ms_keyindex_seek(ix, NULL, 0), a);
	assert_int_equal(ms_keyindex_len(ix), 2);
	ms_keyindex_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collisions_table),
		cmocka_unit_test(test_hash_of),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_index_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
