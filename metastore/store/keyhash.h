/* Exact-key lookup for the key index: an open-addressing hash of key bytes to skip-list nodes. */
#ifndef MS_KEYHASH_H
#define MS_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

struct ms_key;
struct ms_keyhash;

/*
 * Creates an empty table. `seed` keys the hash, so that which keys collide depends on it:
 * give each table an unpredictable one (a client choosing colliding keys would otherwise make
 * every lookup a scan). NULL on ENOMEM.
 */
struct ms_keyhash *ms_keyhash_new(uint64_t seed);

/* Frees the table, not the nodes it points at; NULL is allowed. */
void ms_keyhash_free(struct ms_keyhash *h);

/* The hash of a key under the table's seed (what the other calls take as `hash`). */
uint64_t ms_keyhash_of(const struct ms_keyhash *h, const uint8_t *key, size_t len);

/* The node whose bytes equal `key` (hash = ms_keyhash_of of it), or NULL. */
struct ms_key *ms_keyhash_find(const struct ms_keyhash *h, uint64_t hash, const uint8_t *key,
			       size_t len);

/* Makes room for one more node, so that the next ms_keyhash_insert cannot fail. 0 or
 * -ENOMEM. */
int ms_keyhash_reserve(struct ms_keyhash *h);

/* Adds node k (not in the table; its bytes hash to `hash`), after ms_keyhash_reserve. The
 * table points at k but does not own it. */
void ms_keyhash_insert(struct ms_keyhash *h, uint64_t hash, struct ms_key *k);

/* Removes node k (its bytes hash to `hash`); nothing when it is not in the table. */
void ms_keyhash_remove(struct ms_keyhash *h, uint64_t hash, const struct ms_key *k);

/* Number of nodes in the table. */
size_t ms_keyhash_len(const struct ms_keyhash *h);

#endif /* MS_KEYHASH_H */
