/* Ordered key index for the MVCC store: a skip list of keys, each with its revision history,
 * and a hash of the same nodes for exact-key lookups (keyhash.c). */
#include "store/keyindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyhash.h"

/* With p = 1/4 per level, 24 levels keep lookups logarithmic far past 2^40 keys. */
#define KI_MAX_LEVEL 24

struct ms_keyindex {
	struct ms_key *head[KI_MAX_LEVEL];
	unsigned level; /* levels in use, >= 1 */
	size_t len;
	uint64_t rng;
	/* every node by its bytes: a put or a point read finds its key in a probe or two, not
	 * in a walk of dependent loads down the levels */
	struct ms_keyhash *hash;
};

struct ms_keyindex *ms_keyindex_new(uint64_t seed)
{
	struct ms_keyindex *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->hash = ms_keyhash_new(seed ^ 0x6a09e667f3bcc909ULL);
	if (!ix->hash) {
		free(ix);
		return NULL;
	}
	ix->level = 1;
	/* xorshift must never hold 0 */
	ix->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	return ix;
}

static void key_free(struct ms_key *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->revs[i].value);
	free(k->revs);
	free(k);
}

void ms_keyindex_free(struct ms_keyindex *ix)
{
	if (!ix)
		return;
	for (struct ms_key *k = ix->head[0], *next; k; k = next) {
		next = k->next[0];
		key_free(k);
	}
	ms_keyhash_free(ix->hash);
	free(ix);
}

size_t ms_keyindex_len(const struct ms_keyindex *ix)
{
	return ix->len;
}

int ms_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static inline int node_cmp(const struct ms_key *k, const uint8_t *key, size_t len)
{
	return ms_key_cmp(ms_key_bytes(k), k->key_len, key, len);
}

/* Fills update[i] with the link slot, at level i, that points at the first key >= `key`. */
static void locate(struct ms_keyindex *ix, const uint8_t *key, size_t len,
		   struct ms_key ***update)
{
	struct ms_key **links = ix->head;

	for (unsigned i = ix->level; i-- > 0;) {
		struct ms_key *x;

		while ((x = links[i]) && node_cmp(x, key, len) < 0)
			links = x->next;
		update[i] = &links[i];
	}
}

struct ms_key *ms_keyindex_seek(const struct ms_keyindex *ix, const uint8_t *key, size_t len)
{
	struct ms_key *const *links = ix->head;

	if (!len)
		return ix->head[0];
	for (unsigned i = ix->level; i-- > 0;) {
		struct ms_key *x;

		while ((x = links[i]) && node_cmp(x, key, len) < 0)
			links = x->next;
	}
	return links[0];
}

struct ms_key *ms_keyindex_find(const struct ms_keyindex *ix, const uint8_t *key, size_t len)
{
	return ms_keyhash_find(ix->hash, ms_keyhash_of(ix->hash, key, len), key, len);
}

static unsigned random_level(struct ms_keyindex *ix)
{
	uint64_t r = ix->rng;
	unsigned level = 1;

	r ^= r << 13;
	r ^= r >> 7;
	r ^= r << 17;
	ix->rng = r;
	while ((r & 3) == 0 && level < KI_MAX_LEVEL) {
		level++;
		r >>= 2;
	}
	return level;
}

struct ms_key *ms_keyindex_upsert(struct ms_keyindex *ix, const uint8_t *key, size_t len)
{
	struct ms_key **update[KI_MAX_LEVEL];
	uint64_t hash = ms_keyhash_of(ix->hash, key, len);
	struct ms_key *k = ms_keyhash_find(ix->hash, hash, key, len);
	unsigned level;

	if (k)
		return k;
	if (ms_keyhash_reserve(ix->hash))
		return NULL;
	locate(ix, key, len, update);
	level = random_level(ix);
	k = malloc(sizeof(*k) + level * sizeof(k->next[0]) + len);
	if (!k)
		return NULL;
	k->revs = NULL;
	k->n = k->cap = 0;
	k->dropped = 0;
	k->key_len = len;
	k->level = level;
	memcpy((uint8_t *)&k->next[level], key, len);
	for (unsigned i = ix->level; i < level; i++)
		update[i] = &ix->head[i];
	if (level > ix->level)
		ix->level = level;
	for (unsigned i = 0; i < level; i++) {
		k->next[i] = *update[i];
		*update[i] = k;
	}
	ms_keyhash_insert(ix->hash, hash, k);
	ix->len++;
	return k;
}

int ms_key_reserve(struct ms_key *k)
{
	size_t cap;
	struct ms_key_rev *revs;

	if (k->n < k->cap)
		return 0;
	cap = k->cap ? k->cap * 2 : 2;
	revs = realloc(k->revs, cap * sizeof(*revs));
	if (!revs)
		return -ENOMEM;
	k->revs = revs;
	k->cap = cap;
	return 0;
}

int ms_key_append(struct ms_key *k, const struct ms_key_rev *r)
{
	int err = ms_key_reserve(k);

	if (err)
		return err;
	k->revs[k->n++] = *r;
	return 0;
}

/* Index of the newest revision with mod_rev <= rev, or -1. */
static ptrdiff_t rev_index(const struct ms_key *k, int64_t rev)
{
	size_t lo = 0, hi = k->n;

	/* reads at the current revision are the common case */
	if (k->n && k->revs[k->n - 1].mod_rev <= rev)
		return (ptrdiff_t)k->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->revs[mid].mod_rev <= rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

const struct ms_key_rev *ms_key_rev_at(const struct ms_key *k, int64_t rev)
{
	ptrdiff_t i = rev_index(k, rev);

	return i < 0 ? NULL : &k->revs[i];
}

static void key_compact(struct ms_key *k, int64_t rev)
{
	ptrdiff_t i = rev_index(k, rev);
	size_t drop;

	if (i < 0)
		return;
	drop = (size_t)i + (k->revs[i].version == 0 ? 1 : 0);
	if (!drop)
		return;
	for (size_t j = 0; j < drop; j++)
		free(k->revs[j].value);
	k->n -= drop;
	k->dropped += drop;
	memmove(k->revs, k->revs + drop, k->n * sizeof(*k->revs));
	/* give memory back once a long history has been cut down; failure just keeps it */
	if (k->cap > 8 && k->n <= k->cap / 4) {
		size_t cap = k->n ? k->n * 2 : 0;
		struct ms_key_rev *revs = cap ? realloc(k->revs, cap * sizeof(*revs)) : NULL;

		if (!cap) {
			free(k->revs);
			k->revs = NULL;
			k->cap = 0;
		} else if (revs) {
			k->revs = revs;
			k->cap = cap;
		}
	}
}

void ms_keyindex_compact(struct ms_keyindex *ix, int64_t rev)
{
	struct ms_key **update[KI_MAX_LEVEL];
	struct ms_key *k, *next;

	for (unsigned i = 0; i < ix->level; i++)
		update[i] = &ix->head[i];
	/* one ordered pass; update[i] is the link slot of the last kept key at level i */
	for (k = ix->head[0]; k; k = next) {
		next = k->next[0];
		key_compact(k, rev);
		if (k->n) {
			for (unsigned i = 0; i < k->level; i++)
				update[i] = &k->next[i];
			continue;
		}
		for (unsigned i = 0; i < k->level; i++)
			*update[i] = k->next[i];
		ms_keyhash_remove(ix->hash, ms_keyhash_of(ix->hash, ms_key_bytes(k), k->key_len), k);
		key_free(k);
		ix->len--;
	}
	while (ix->level > 1 && !ix->head[ix->level - 1])
		ix->level--;
}

size_t ms_keyindex_bytes(const struct ms_keyindex *ix, size_t per_rev)
{
	size_t total = 0;

	for (const struct ms_key *k = ix->head[0]; k; k = k->next[0])
		for (size_t i = 0; i < k->n; i++)
			total += k->key_len + k->revs[i].value_len + per_rev;
	return total;
}
