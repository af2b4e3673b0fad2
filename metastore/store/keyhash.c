/* Exact-key lookup for the key index: linear probing over (hash, node) slots, at most half full. */
#include "store/keyhash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyindex.h"

#define KH_MIN_CAP 64

struct kh_slot {
	uint64_t hash;
	struct ms_key *k; /* NULL: empty */
};

struct ms_keyhash {
	struct kh_slot *slots;
	size_t cap; /* a power of two */
	size_t len;
	uint64_t seed;
};

struct ms_keyhash *ms_keyhash_new(uint64_t seed)
{
	struct ms_keyhash *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->slots = calloc(KH_MIN_CAP, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	h->cap = KH_MIN_CAP;
	h->seed = seed;
	return h;
}

void ms_keyhash_free(struct ms_keyhash *h)
{
	if (!h)
		return;
	free(h->slots);
	free(h);
}

size_t ms_keyhash_len(const struct ms_keyhash *h)
{
	return h->len;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	return x;
}

/* Keys are mostly paths of a few dozen bytes: eight bytes a step, each step a multiply. */
uint64_t ms_keyhash_of(const struct ms_keyhash *h, const uint8_t *key, size_t len)
{
	uint64_t acc = h->seed ^ (len * 0x9e3779b97f4a7c15ULL), w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, key + i, 8);
		acc = (acc ^ w) * 0xff51afd7ed558ccdULL;
		acc ^= acc >> 29;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, key + i, len - i);
		acc = (acc ^ w) * 0xc4ceb9fe1a85ec53ULL;
	}
	return mix(acc);
}

static inline size_t home(const struct ms_keyhash *h, uint64_t hash)
{
	return (size_t)hash & (h->cap - 1);
}

struct ms_key *ms_keyhash_find(const struct ms_keyhash *h, uint64_t hash, const uint8_t *key,
			       size_t len)
{
	for (size_t i = home(h, hash);; i = (i + 1) & (h->cap - 1)) {
		const struct kh_slot *s = &h->slots[i];

		if (!s->k)
			return NULL;
		if (s->hash == hash && s->k->key_len == len &&
		    (!len || memcmp(ms_key_bytes(s->k), key, len) == 0))
			return s->k;
	}
}

static void place(struct kh_slot *slots, size_t cap, uint64_t hash, struct ms_key *k)
{
	size_t i = (size_t)hash & (cap - 1);

	while (slots[i].k)
		i = (i + 1) & (cap - 1);
	slots[i] = (struct kh_slot){ .hash = hash, .k = k };
}

int ms_keyhash_reserve(struct ms_keyhash *h)
{
	struct kh_slot *slots;
	size_t cap;

	if ((h->len + 1) * 2 <= h->cap)
		return 0;
	if (h->cap > SIZE_MAX / 2 / sizeof(*slots))
		return -ENOMEM;
	cap = h->cap * 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++)
		if (h->slots[i].k)
			place(slots, cap, h->slots[i].hash, h->slots[i].k);
	free(h->slots);
	h->slots = slots;
	h->cap = cap;
	return 0;
}

void ms_keyhash_insert(struct ms_keyhash *h, uint64_t hash, struct ms_key *k)
{
	place(h->slots, h->cap, hash, k);
	h->len++;
}

/* Whether slot `at`'s home lies cyclically in (hole, at]: then it may not move to `hole`. */
static inline bool stays(size_t home_i, size_t hole, size_t at)
{
	return hole < at ? home_i > hole && home_i <= at : home_i > hole || home_i <= at;
}

void ms_keyhash_remove(struct ms_keyhash *h, uint64_t hash, const struct ms_key *k)
{
	size_t mask = h->cap - 1, hole, i;

	for (hole = home(h, hash); h->slots[hole].k != k; hole = (hole + 1) & mask) {
		if (!h->slots[hole].k)
			return;
	}
	/* backward shift: later slots of the run move up so that no probe meets a gap early */
	for (i = (hole + 1) & mask; h->slots[i].k; i = (i + 1) & mask) {
		if (stays(home(h, h->slots[i].hash), hole, i))
			continue;
		h->slots[hole] = h->slots[i];
		hole = i;
	}
	h->slots[hole] = (struct kh_slot){ 0 };
	h->len--;
}
