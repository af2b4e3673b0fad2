/* Unit tests for the ordered key index (metastore/store/keyindex.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/keyindex.h"

#define KEY(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_key_cmp(void **state)
{
	static const struct {
		const char *a;
		size_t alen;
		const char *b;
		size_t blen;
		int want; /* sign */
	} cases[] = {
		{ "a", 1, "a", 1, 0 },     { "a", 1, "b", 1, -1 },   { "b", 1, "a", 1, 1 },
		{ "a", 1, "ab", 2, -1 },   { "ab", 2, "a", 1, 1 },   { "", 0, "a", 1, -1 },
		{ "", 0, "", 0, 0 },       { "\xff", 1, "a", 1, 1 }, { "a\0", 2, "a", 1, 1 },
		{ "a\0b", 3, "a\0c", 3, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int c = ms_key_cmp((const uint8_t *)cases[i].a, cases[i].alen,
				   (const uint8_t *)cases[i].b, cases[i].blen);
		int sign = (c > 0) - (c < 0);

		if (sign != cases[i].want)
			fail_msg("case %zu: got %d want %d", i, sign, cases[i].want);
	}
}

/* Deterministic pseudo-random key of 1..6 bytes from a small alphabet (so prefixes repeat). */
static size_t make_key(uint64_t *rng, uint8_t *out)
{
	static const uint8_t alphabet[] = { 0x00, 'a', 'b', 'c', 0x7f, 0xff };
	size_t len;

	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	len = 1 + (*rng >> 33) % 6;
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[(*rng >> (8 + 3 * i)) % sizeof(alphabet)];
	return len;
}

struct ref_key {
	uint8_t b[8];
	size_t len;
};

static int ref_cmp(const void *pa, const void *pb)
{
	const struct ref_key *a = pa, *b = pb;

	return ms_key_cmp(a->b, a->len, b->b, b->len);
}

/* Sorts and dedups the reference set; returns its new length. */
static size_t ref_unique(struct ref_key *ref, size_t n)
{
	size_t m = 0;

	qsort(ref, n, sizeof(*ref), ref_cmp);
	for (size_t i = 0; i < n; i++)
		if (!m || ref_cmp(&ref[m - 1], &ref[i]) != 0)
			ref[m++] = ref[i];
	return m;
}

/* Every upper link of a key must point at the next key (in key order) that is that tall. */
static void check_links(struct ms_keyindex *ix)
{
	for (struct ms_key *k = ms_keyindex_seek(ix, NULL, 0); k; k = ms_key_next(k)) {
		for (unsigned lvl = 1; lvl < k->level; lvl++) {
			struct ms_key *want = ms_key_next(k);

			while (want && want->level <= lvl)
				want = ms_key_next(want);
			assert_ptr_equal(k->next[lvl], want);
		}
	}
}

static void check_against(struct ms_keyindex *ix, const struct ref_key *ref, size_t n)
{
	size_t i = 0;

	check_links(ix);

	assert_int_equal(ms_keyindex_len(ix), n);
	for (struct ms_key *k = ms_keyindex_seek(ix, NULL, 0); k; k = ms_key_next(k), i++) {
		assert_true(i < n);
		assert_int_equal(k->key_len, ref[i].len);
		assert_memory_equal(ms_key_bytes(k), ref[i].b, ref[i].len);
		assert_ptr_equal(ms_keyindex_find(ix, ref[i].b, ref[i].len), k);
	}
	assert_int_equal(i, n);
}

static void test_order_find_seek(void **state)
{
	enum { N = 3000 };
	struct ref_key *ref = calloc(N, sizeof(*ref));
	struct ms_keyindex *ix = ms_keyindex_new(42);
	uint64_t rng = 7;
	size_t n;

	(void)state;
	assert_non_null(ref);
	assert_non_null(ix);
	for (size_t i = 0; i < N; i++) {
		struct ms_key *k;

		ref[i].len = make_key(&rng, ref[i].b);
		k = ms_keyindex_upsert(ix, ref[i].b, ref[i].len);
		assert_non_null(k);
		/* an upsert of an existing key returns the same node */
		assert_ptr_equal(ms_keyindex_upsert(ix, ref[i].b, ref[i].len), k);
	}
	n = ref_unique(ref, N);
	check_against(ix, ref, n);

	/* seek of a key that is absent lands on the next greater one */
	for (size_t i = 0; i < 500; i++) {
		uint8_t probe[8];
		size_t len = make_key(&rng, probe);
		struct ref_key want = { .len = len };
		struct ms_key *k = ms_keyindex_seek(ix, probe, len);
		size_t j = 0;

		memcpy(want.b, probe, len);
		while (j < n && ref_cmp(&ref[j], &want) < 0)
			j++;
		if (j == n) {
			assert_null(k);
		} else {
			assert_non_null(k);
			assert_int_equal(k->key_len, ref[j].len);
			assert_memory_equal(ms_key_bytes(k), ref[j].b, ref[j].len);
		}
		assert_true((ms_keyindex_find(ix, probe, len) != NULL) ==
			    (j < n && ref_cmp(&ref[j], &want) == 0));
	}
	ms_keyindex_free(ix);
	free(ref);
}

static struct ms_key_rev rev_of(int64_t mod, int64_t version, const char *value)
{
	struct ms_key_rev r = { .mod_rev = mod, .create_rev = mod, .version = version };

	if (value) {
		r.value_len = strlen(value);
		r.value = (uint8_t *)strdup(value);
	}
	return r;
}

static void test_rev_at(void **state)
{
	/* history: mods 3, 5, 5 (one transaction wrote twice), 9 */
	static const struct {
		int64_t rev;
		ptrdiff_t want; /* index into the history, -1 none */
	} cases[] = { { 1, -1 }, { 2, -1 }, { 3, 0 }, { 4, 0 },  { 5, 2 },
		      { 8, 2 },  { 9, 3 },  { 10, 3 }, { 100, 3 } };
	struct ms_keyindex *ix = ms_keyindex_new(1);
	struct ms_key *k = ms_keyindex_upsert(ix, KEY("k"));
	const int64_t mods[] = { 3, 5, 5, 9 };

	(void)state;
	assert_non_null(k);
	assert_null(ms_key_rev_at(k, 100));
	assert_null(ms_key_latest(k));
	for (size_t i = 0; i < 4; i++) {
		struct ms_key_rev r = rev_of(mods[i], (int64_t)i + 1, "v");

		assert_int_equal(ms_key_append(k, &r), 0);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ms_key_rev *r = ms_key_rev_at(k, cases[i].rev);

		if (cases[i].want < 0)
			assert_null(r);
		else
			assert_ptr_equal(r, &k->revs[cases[i].want]);
	}
	assert_ptr_equal(ms_key_latest(k), &k->revs[3]);
	ms_keyindex_free(ix);
}

/*
 * History strings: space-separated "mod" (a put) or "mod-" (a tombstone), oldest first.
 * Rendering the history after compaction in the same format makes the expectations whole.
 */
static void load_history(struct ms_key *k, const char *hist)
{
	const char *p = hist;

	while (*p) {
		char *end;
		long mod = strtol(p, &end, 10);
		bool tomb = *end == '-';
		struct ms_key_rev r = rev_of(mod, tomb ? 0 : 1, tomb ? NULL : "v");

		assert_int_equal(ms_key_append(k, &r), 0);
		p = end + tomb;
		while (*p == ' ')
			p++;
	}
}

static void render_history(const struct ms_key *k, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < k->n; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%lld%s", i ? " " : "",
					(long long)k->revs[i].mod_rev,
					k->revs[i].version ? "" : "-");
}

static size_t count_revs(const char *hist)
{
	size_t n = 1;

	for (const char *p = hist; *p; p++)
		n += *p == ' ';
	return n;
}

static void test_compact_history(void **state)
{
	static const struct {
		const char *hist;
		int64_t at;
		const char *want; /* NULL: the key is gone */
	} cases[] = {
		{ "2 3 4", 1, "2 3 4" },   /* nothing at or below */
		{ "2 3 4", 2, "2 3 4" },   /* the newest at or below is the oldest */
		{ "2 3 4", 3, "3 4" },     { "2 3 4", 4, "4" },   { "2 3 4", 9, "4" },
		{ "2 3- 5", 3, "5" },      /* the tombstone goes with what it ended */
		{ "2 3- 5", 4, "5" },      { "2 3- 5", 2, "2 3- 5" },
		{ "2 3-", 3, NULL },       /* nothing left: the key leaves the index */
		{ "2 3-", 7, NULL },       { "2 3-", 2, "2 3-" },
		{ "2 5 5 7", 5, "5 7" },   /* a txn's second write of the key is the one kept */
		{ "2 4- 6 8-", 6, "6 8-" }, { "2 4- 6 8-", 8, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_keyindex *ix = ms_keyindex_new(i + 1);
		struct ms_key *k;
		char got[128];

		/* neighbours make sure unlinking keeps the list intact */
		load_history(ms_keyindex_upsert(ix, KEY("a")), "1");
		load_history(ms_keyindex_upsert(ix, KEY("k")), cases[i].hist);
		load_history(ms_keyindex_upsert(ix, KEY("z")), "1");
		ms_keyindex_compact(ix, cases[i].at);
		k = ms_keyindex_find(ix, KEY("k"));
		if (!cases[i].want) {
			if (k)
				fail_msg("case %zu: key still present", i);
			assert_int_equal(ms_keyindex_len(ix), 2);
			assert_ptr_equal(ms_key_next(ms_keyindex_find(ix, KEY("a"))),
					 ms_keyindex_find(ix, KEY("z")));
		} else {
			assert_non_null(k);
			render_history(k, got, sizeof(got));
			/* every revision that left is counted, so absolute positions hold */
			assert_int_equal(k->dropped + k->n, count_revs(cases[i].hist));
			if (strcmp(got, cases[i].want) != 0)
				fail_msg("case %zu: got \"%s\" want \"%s\"", i, got, cases[i].want);
			assert_int_equal(ms_keyindex_len(ix), 3);
		}
		ms_keyindex_free(ix);
	}
}

/* Removing many keys at once must leave every level of the skip list consistent. */
static void test_compact_many(void **state)
{
	enum { N = 4000 };
	struct ref_key *ref = calloc(N, sizeof(*ref));
	struct ms_keyindex *ix = ms_keyindex_new(99);
	size_t m = 0;

	(void)state;
	assert_non_null(ref);
	for (size_t i = 0; i < N; i++) {
		struct ms_key *k;

		ref[i].len = (size_t)snprintf((char *)ref[i].b, sizeof(ref[i].b), "%06zu", i);
		k = ms_keyindex_upsert(ix, ref[i].b, ref[i].len);
		assert_non_null(k);
		/* every third key is deleted at revision 10 */
		load_history(k, i % 3 == 0 ? "2 10-" : "2 11");
	}
	ms_keyindex_compact(ix, 10);
	for (size_t i = 0; i < N; i++)
		if (i % 3 != 0)
			ref[m++] = ref[i];
	check_against(ix, ref, m);
	for (size_t i = 0; i < N; i += 3) {
		char key[8];
		size_t len = (size_t)snprintf(key, sizeof(key), "%06zu", i);

		assert_null(ms_keyindex_find(ix, (const uint8_t *)key, len));
	}
	/* the index still accepts new keys after unlinking */
	assert_non_null(ms_keyindex_upsert(ix, KEY("000000")));
	assert_int_equal(ms_keyindex_len(ix), m + 1);
	ms_keyindex_free(ix);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_cmp),
		cmocka_unit_test(test_order_find_seek),
		cmocka_unit_test(test_rev_at),
		cmocka_unit_test(test_compact_history),
		cmocka_unit_test(test_compact_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
