/* Ordered key index for the MVCC store: a skip list of keys, each with its revision history. */
#ifndef MS_KEYINDEX_H
#define MS_KEYINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One revision of one key. version == 0 marks a tombstone (the key was deleted at mod_rev). */
struct ms_key_rev {
	int64_t mod_rev;
	int64_t create_rev;
	int64_t version;
	int64_t lease;
	uint8_t *value; /* owned; NULL when value_len == 0 */
	size_t value_len;
};

/*
 * A key and its history, oldest first; mod_rev never decreases along revs (a transaction
 * that writes a key twice appends two entries with the same mod_rev). The key bytes follow
 * next[] in the same allocation, so a node and its key never move while the node lives.
 */
struct ms_key {
	struct ms_key_rev *revs;
	size_t n, cap;
	uint64_t dropped; /* revisions compacted away: revs[i] is the key's (dropped + i)-th */
	size_t key_len;
	unsigned level;
	struct ms_key *next[];
};

struct ms_keyindex;

/* Creates an empty index; `seed` drives the skip list's level choice. NULL on ENOMEM. */
struct ms_keyindex *ms_keyindex_new(uint64_t seed);

/* Frees the index, every key and every value it holds; NULL is allowed. */
void ms_keyindex_free(struct ms_keyindex *ix);

/* Number of keys in the index (including keys whose newest revision is a tombstone). */
size_t ms_keyindex_len(const struct ms_keyindex *ix);

/* The key equal to `key`, or NULL. */
struct ms_key *ms_keyindex_find(const struct ms_keyindex *ix, const uint8_t *key, size_t len);

/* The first key >= `key` (len 0: the first key), or NULL past the end. */
struct ms_key *ms_keyindex_seek(const struct ms_keyindex *ix, const uint8_t *key, size_t len);

/* The key equal to `key`, inserted with an empty history if absent. NULL on ENOMEM. */
struct ms_key *ms_keyindex_upsert(struct ms_keyindex *ix, const uint8_t *key, size_t len);

/*
 * Compaction at `rev`: in each key, drops every revision older than the newest one at or
 * below `rev`, and that one too if it is a tombstone; keys left without revisions are
 * removed. Values of dropped revisions are freed.
 */
void ms_keyindex_compact(struct ms_keyindex *ix, int64_t rev);

/* Bytewise key order (memcmp, a proper prefix sorts first): <0, 0, >0 like memcmp. */
int ms_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Makes room for one more revision, so that the next ms_key_append cannot fail.
 * 0 or -ENOMEM. */
int ms_key_reserve(struct ms_key *k);

/* Appends a revision; the key takes ownership of r->value on success. 0 or -ENOMEM. */
int ms_key_append(struct ms_key *k, const struct ms_key_rev *r);

/* The newest revision with mod_rev <= rev (tombstones included), or NULL. */
const struct ms_key_rev *ms_key_rev_at(const struct ms_key *k, int64_t rev);

static inline const uint8_t *ms_key_bytes(const struct ms_key *k)
{
	return (const uint8_t *)&k->next[k->level];
}

static inline struct ms_key *ms_key_next(const struct ms_key *k)
{
	return k->next[0];
}

/* The newest revision (tombstones included), or NULL for an empty history. */
static inline const struct ms_key_rev *ms_key_latest(const struct ms_key *k)
{
	return k->n ? &k->revs[k->n - 1] : NULL;
}

/* Bytes of every revision held: its key, its value and per_rev more (a walk of the index). */
size_t ms_keyindex_bytes(const struct ms_keyindex *ix, size_t per_rev);

#endif /* MS_KEYINDEX_H */
