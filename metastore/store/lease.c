/* Lease table: id hash, key -> lease index and a deadline min-heap (see lease.h). */
#include "store/lease.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ms_probes.h"

struct lease {
	int64_t id;
	int64_t ttl;       /* granted TTL, seconds */
	int64_t expiry_ms; /* caller's clock */
	uint64_t gen;      /* matches the one live heap entry of this lease */
	struct ms_lease_key *keys; /* owned copies; order is arbitrary (swap-remove) */
	size_t nkeys, kcap;
};

/* Key index entry: the key bytes are the ones in owner->keys[slot], not a second copy. */
struct kentry {
	uint64_t hash;
	const uint8_t *key; /* NULL: empty slot */
	size_t len;
	struct lease *owner;
	size_t slot;
};

/*
 * Heap entries are never removed on renew or revoke (that would need a position index);
 * an entry is live only while its lease exists with the same gen. gen is table-wide, so a
 * re-granted id never revives an old entry.
 */
struct hentry {
	int64_t expiry_ms;
	int64_t id;
	uint64_t gen;
};

struct ms_lease_table {
	struct lease **slots; /* open addressing, linear probing; NULL: empty */
	size_t cap, n;        /* cap is 0 or a power of two */
	struct kentry *kslots;
	size_t kcap, kn;
	struct hentry *heap;
	size_t hn, hcap;
	uint64_t gen;
	uint64_t rng;
};

/* --- hashing and ids ------------------------------------------------------------------ */

/* splitmix64: a full-period 64-bit generator, also a good integer mixer. */
static uint64_t splitmix_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t hash_id(int64_t id)
{
	uint64_t s = (uint64_t)id;

	return splitmix_next(&s);
}

/* FNV-1a */
static uint64_t hash_key(const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* True if slot j's entry, whose home is k, may move back into the hole at i (linear
 * probing deletion): k is not cyclically within (i, j]. */
static bool can_fill_hole(size_t i, size_t j, size_t k)
{
	if (i <= j)
		return k <= i || k > j;
	return k <= i && k > j;
}

/* --- id table ------------------------------------------------------------------------- */

static size_t id_find_slot(const struct ms_lease_table *t, int64_t id)
{
	size_t mask = t->cap - 1;

	for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask)
		if (!t->slots[i] || t->slots[i]->id == id)
			return i;
}

static struct lease *id_find(const struct ms_lease_table *t, int64_t id)
{
	if (!t->cap)
		return NULL;
	return t->slots[id_find_slot(t, id)];
}

/* Makes room for one more lease, keeping the load at most 3/4. */
static int id_reserve(struct ms_lease_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 16;
	struct lease **old = t->slots;
	size_t ocap = t->cap;

	if ((t->n + 1) * 4 <= t->cap * 3)
		return 0;
	t->slots = calloc(ncap, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i])
			t->slots[id_find_slot(t, old[i]->id)] = old[i];
	free(old);
	return 0;
}

static void id_remove(struct ms_lease_table *t, int64_t id)
{
	size_t mask = t->cap - 1;
	size_t i = id_find_slot(t, id);

	t->slots[i] = NULL;
	for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		if (can_fill_hole(i, j, hash_id(t->slots[j]->id) & mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->n--;
}

/* --- key index ------------------------------------------------------------------------ */

static size_t key_find_slot(const struct ms_lease_table *t, uint64_t h, const uint8_t *key,
			    size_t len)
{
	size_t mask = t->kcap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct kentry *e = &t->kslots[i];

		if (!e->key || (e->hash == h && e->len == len && !memcmp(e->key, key, len)))
			return i;
	}
}

static struct kentry *key_find(const struct ms_lease_table *t, const uint8_t *key, size_t len)
{
	struct kentry *e;

	if (!t->kcap)
		return NULL;
	e = &t->kslots[key_find_slot(t, hash_key(key, len), key, len)];
	return e->key ? e : NULL;
}

static int key_reserve(struct ms_lease_table *t)
{
	size_t ncap = t->kcap ? t->kcap * 2 : 16;
	struct kentry *old = t->kslots;
	size_t ocap = t->kcap;

	if ((t->kn + 1) * 4 <= t->kcap * 3)
		return 0;
	t->kslots = calloc(ncap, sizeof(*t->kslots));
	if (!t->kslots) {
		t->kslots = old;
		return -ENOMEM;
	}
	t->kcap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			t->kslots[key_find_slot(t, old[i].hash, old[i].key, old[i].len)] = old[i];
	free(old);
	return 0;
}

static void key_remove(struct ms_lease_table *t, struct kentry *e)
{
	size_t mask = t->kcap - 1;
	size_t i = (size_t)(e - t->kslots);

	memset(e, 0, sizeof(*e));
	for (size_t j = (i + 1) & mask; t->kslots[j].key; j = (j + 1) & mask) {
		if (can_fill_hole(i, j, t->kslots[j].hash & mask)) {
			t->kslots[i] = t->kslots[j];
			memset(&t->kslots[j], 0, sizeof(t->kslots[j]));
			i = j;
		}
	}
	t->kn--;
}

/* Takes key `slot` out of its lease's array (ownership of the bytes to the caller) and
 * points the index entry of the key moved into the gap at its new slot. */
static struct ms_lease_key lease_take_key(struct ms_lease_table *t, struct lease *l, size_t slot)
{
	struct ms_lease_key k = l->keys[slot];

	l->keys[slot] = l->keys[--l->nkeys];
	if (slot < l->nkeys)
		key_find(t, l->keys[slot].key, l->keys[slot].len)->slot = slot;
	return k;
}

static int lease_reserve_key(struct lease *l)
{
	size_t ncap = l->kcap ? l->kcap * 2 : 4;
	struct ms_lease_key *nk;

	if (l->nkeys < l->kcap)
		return 0;
	nk = realloc(l->keys, ncap * sizeof(*nk));
	if (!nk)
		return -ENOMEM;
	l->keys = nk;
	l->kcap = ncap;
	return 0;
}

/* --- deadline heap -------------------------------------------------------------------- */

static bool h_less(const struct hentry *a, const struct hentry *b)
{
	if (a->expiry_ms != b->expiry_ms)
		return a->expiry_ms < b->expiry_ms;
	return a->id < b->id;
}

static void h_up(struct hentry *h, size_t i)
{
	struct hentry e = h[i];

	while (i > 0 && h_less(&e, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static void h_down(struct hentry *h, size_t n, size_t i)
{
	struct hentry e = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h_less(&h[c + 1], &h[c]))
			c++;
		if (!h_less(&h[c], &e))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
}

static bool h_live(const struct ms_lease_table *t, const struct hentry *e)
{
	const struct lease *l = id_find(t, e->id);

	return l && l->gen == e->gen;
}

static struct hentry h_pop(struct ms_lease_table *t)
{
	struct hentry top = t->heap[0];

	t->heap[0] = t->heap[--t->hn];
	if (t->hn)
		h_down(t->heap, t->hn, 0);
	return top;
}

/* Drops stale entries in place once they outnumber the live ones, so keep-alives on idle
 * tables (nobody popping) cannot grow the heap without bound. */
static void h_compact(struct ms_lease_table *t)
{
	size_t w = 0;

	if (t->hn <= 2 * t->n + 32)
		return;
	for (size_t r = 0; r < t->hn; r++)
		if (h_live(t, &t->heap[r]))
			t->heap[w++] = t->heap[r];
	t->hn = w;
	for (size_t i = w / 2; i-- > 0;)
		h_down(t->heap, t->hn, i);
}

static int h_reserve(struct ms_lease_table *t)
{
	size_t ncap = t->hcap ? t->hcap * 2 : 16;
	struct hentry *nh;

	h_compact(t);
	if (t->hn < t->hcap)
		return 0;
	nh = realloc(t->heap, ncap * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	t->heap = nh;
	t->hcap = ncap;
	return 0;
}

/* Needs a prior successful h_reserve. */
static void h_push(struct ms_lease_table *t, const struct lease *l)
{
	t->heap[t->hn] = (struct hentry){ .expiry_ms = l->expiry_ms, .id = l->id, .gen = l->gen };
	h_up(t->heap, t->hn++);
}

/* --- table ---------------------------------------------------------------------------- */

static int64_t deadline(int64_t now_ms, int64_t ttl_s)
{
	int64_t add = ttl_s * 1000; /* ttl_s <= MS_LEASE_MAX_TTL: no overflow */

	if (now_ms > INT64_MAX - add)
		return INT64_MAX;
	return now_ms + add;
}

struct ms_lease_table *ms_lease_table_new(void)
{
	struct ms_lease_table *t = calloc(1, sizeof(*t));
	uint64_t seed;

	if (!t)
		return NULL;
	/* Random by default: ids from an earlier run that a client still holds must not name
	 * someone else's lease after a restart. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)t;
	}
	t->rng = seed;
	return t;
}

static void lease_free(struct lease *l)
{
	for (size_t i = 0; i < l->nkeys; i++)
		free(l->keys[i].key);
	free(l->keys);
	free(l);
}

void ms_lease_table_free(struct ms_lease_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			lease_free(t->slots[i]);
	free(t->slots);
	free(t->kslots);
	free(t->heap);
	free(t);
}

void ms_lease_table_seed(struct ms_lease_table *t, uint64_t seed)
{
	t->rng = seed;
}

static uint32_t count32(const struct ms_lease_table *t)
{
	return t->n > UINT32_MAX ? UINT32_MAX : (uint32_t)t->n;
}

static int grant(struct ms_lease_table *t, int64_t id, int64_t ttl_s, int64_t now_ms,
		 int64_t *id_out, int64_t *ttl_out)
{
	struct lease *l;
	int err;

	if (id < 0 || ttl_s > MS_LEASE_MAX_TTL)
		return -EINVAL;
	if (id && id_find(t, id))
		return -EEXIST;
	err = id_reserve(t);
	if (err)
		return err;
	err = h_reserve(t);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	while (!id) {
		id = (int64_t)(splitmix_next(&t->rng) >> 1);
		if (id_find(t, id))
			id = 0;
	}
	l->id = id;
	l->ttl = ttl_s < MS_LEASE_MIN_TTL ? MS_LEASE_MIN_TTL : ttl_s;
	l->expiry_ms = deadline(now_ms, l->ttl);
	l->gen = ++t->gen;
	t->slots[id_find_slot(t, id)] = l;
	t->n++;
	h_push(t, l);
	*id_out = id;
	*ttl_out = l->ttl;
	return 0;
}

static uint32_t status_of(int err)
{
	switch (err) {
	case 0:
		return MS_LEASE_STATUS_OK;
	case -ENOENT:
		return MS_LEASE_STATUS_NOT_FOUND;
	case -EEXIST:
		return MS_LEASE_STATUS_EXISTS;
	case -ENOMEM:
		return MS_LEASE_STATUS_NOMEM;
	default:
		return MS_LEASE_STATUS_INVALID;
	}
}

int ms_lease_grant(struct ms_lease_table *t, int64_t id, int64_t ttl_s, int64_t now_ms,
		   int64_t *id_out, int64_t *ttl_out)
{
	int64_t got_id = 0, got_ttl = 0;
	int err = grant(t, id, ttl_s, now_ms, &got_id, &got_ttl);

	ms_probe_lease_op(MS_LEASE_OP_GRANT, err ? id : got_id, status_of(err));
	if (err)
		return err;
	ms_probe_lease_active(count32(t));
	if (id_out)
		*id_out = got_id;
	if (ttl_out)
		*ttl_out = got_ttl;
	return 0;
}

static int keys_cmp(const void *a, const void *b)
{
	const struct ms_lease_key *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static int revoke(struct ms_lease_table *t, uint32_t op, int64_t id,
		  struct ms_lease_keys *keys_out)
{
	struct lease *l = id_find(t, id);
	struct ms_lease_keys got = { 0 };

	if (keys_out)
		*keys_out = got;
	if (!l) {
		ms_probe_lease_op(op, id, MS_LEASE_STATUS_NOT_FOUND);
		return -ENOENT;
	}
	for (size_t i = 0; i < l->nkeys; i++)
		key_remove(t, key_find(t, l->keys[i].key, l->keys[i].len));
	got.v = l->keys;
	got.n = l->nkeys;
	l->keys = NULL;
	l->nkeys = 0;
	id_remove(t, id);
	lease_free(l);
	if (got.n > 1)
		qsort(got.v, got.n, sizeof(*got.v), keys_cmp);
	if (keys_out)
		*keys_out = got;
	else
		ms_lease_keys_release(&got);
	ms_probe_lease_op(op, id, MS_LEASE_STATUS_OK);
	ms_probe_lease_active(count32(t));
	return 0;
}

int ms_lease_revoke(struct ms_lease_table *t, int64_t id, struct ms_lease_keys *keys_out)
{
	return revoke(t, MS_LEASE_OP_REVOKE, id, keys_out);
}

int ms_lease_revoke_expired(struct ms_lease_table *t, int64_t id,
			    struct ms_lease_keys *keys_out)
{
	return revoke(t, MS_LEASE_OP_EXPIRE, id, keys_out);
}

/* Moves lease l's deadline to expiry_ms. Fires no probe: a caller that is an operation
 * (renew) fires its own. */
static int set_expiry(struct ms_lease_table *t, struct lease *l, int64_t expiry_ms)
{
	int err = h_reserve(t);

	if (err)
		return err;
	l->expiry_ms = expiry_ms;
	l->gen = ++t->gen;
	h_push(t, l);
	return 0;
}

int ms_lease_renew(struct ms_lease_table *t, int64_t id, int64_t now_ms, int64_t *ttl_out)
{
	struct lease *l = id_find(t, id);
	int err = 0;

	if (!l || l->expiry_ms <= now_ms) {
		err = -ENOENT;
		goto cleanup;
	}
	err = set_expiry(t, l, deadline(now_ms, l->ttl));
	if (err)
		goto cleanup;
	if (ttl_out)
		*ttl_out = l->ttl;
cleanup:
	ms_probe_lease_op(MS_LEASE_OP_RENEW, id, status_of(err));
	return err;
}

int ms_lease_ttl(const struct ms_lease_table *t, int64_t id, int64_t now_ms, int64_t *granted,
		 int64_t *remaining_s)
{
	const struct lease *l = id_find(t, id);

	if (!l)
		return -ENOENT;
	if (granted)
		*granted = l->ttl;
	if (remaining_s)
		*remaining_s = (l->expiry_ms - now_ms) / 1000; /* C truncates toward zero, as Go */
	return 0;
}

bool ms_lease_exists(const struct ms_lease_table *t, int64_t id)
{
	return id_find(t, id) != NULL;
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int ms_lease_list(const struct ms_lease_table *t, int64_t **ids, size_t *n)
{
	int64_t *v = NULL;
	size_t k = 0;

	*ids = NULL;
	*n = 0;
	if (!t->n)
		return 0;
	v = malloc(t->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			v[k++] = t->slots[i]->id;
	qsort(v, k, sizeof(*v), id_cmp);
	*ids = v;
	*n = k;
	return 0;
}

int ms_lease_attach(struct ms_lease_table *t, int64_t id, const uint8_t *key, size_t key_len)
{
	struct lease *l = id_find(t, id);
	struct ms_lease_key k;
	struct kentry *e;
	int err;

	if (!key || !key_len)
		return -EINVAL;
	if (!l)
		return -ENOENT;
	/* Every allocation comes first, so a failure leaves the table as it was. */
	err = key_reserve(t);
	if (err)
		return err;
	e = key_find(t, key, key_len);
	if (e && e->owner == l)
		return 0;
	err = lease_reserve_key(l);
	if (err)
		return err;
	if (e) {
		k = lease_take_key(t, e->owner, e->slot);
	} else {
		k.key = malloc(key_len);
		if (!k.key)
			return -ENOMEM;
		memcpy(k.key, key, key_len);
		k.len = key_len;
		e = &t->kslots[key_find_slot(t, hash_key(key, key_len), key, key_len)];
		*e = (struct kentry){ .hash = hash_key(key, key_len), .key = k.key, .len = key_len };
		t->kn++;
	}
	e->owner = l;
	e->slot = l->nkeys;
	l->keys[l->nkeys++] = k;
	return 0;
}

int ms_lease_detach(struct ms_lease_table *t, int64_t id, const uint8_t *key, size_t key_len)
{
	struct kentry *e = key ? key_find(t, key, key_len) : NULL;
	struct ms_lease_key k;

	if (!e || (id && e->owner->id != id))
		return -ENOENT;
	k = lease_take_key(t, e->owner, e->slot);
	key_remove(t, e);
	free(k.key);
	return 0;
}

int64_t ms_lease_key_owner(const struct ms_lease_table *t, const uint8_t *key, size_t key_len)
{
	const struct kentry *e = key ? key_find(t, key, key_len) : NULL;

	return e ? e->owner->id : 0;
}

int ms_lease_keys(const struct ms_lease_table *t, int64_t id, struct ms_lease_keys *out)
{
	const struct lease *l = id_find(t, id);
	struct ms_lease_keys got = { 0 };
	int err = 0;

	*out = got;
	if (!l)
		return -ENOENT;
	if (!l->nkeys)
		return 0;
	got.v = calloc(l->nkeys, sizeof(*got.v));
	if (!got.v) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (; got.n < l->nkeys; got.n++) {
		got.v[got.n].key = malloc(l->keys[got.n].len);
		if (!got.v[got.n].key) {
			err = -ENOMEM;
			goto cleanup;
		}
		memcpy(got.v[got.n].key, l->keys[got.n].key, l->keys[got.n].len);
		got.v[got.n].len = l->keys[got.n].len;
	}
	qsort(got.v, got.n, sizeof(*got.v), keys_cmp);
	*out = got;
	return 0;
cleanup:
	ms_lease_keys_release(&got);
	return err;
}

void ms_lease_keys_release(struct ms_lease_keys *keys)
{
	if (!keys)
		return;
	for (size_t i = 0; i < keys->n; i++)
		free(keys->v[i].key);
	free(keys->v);
	keys->v = NULL;
	keys->n = 0;
}

size_t ms_lease_expired(struct ms_lease_table *t, int64_t now_ms, int64_t *ids, size_t max)
{
	size_t k = 0;

	/* Pop the due live entries, then push them back: they stay due until revoked. A live
	 * entry is exactly its lease's (expiry, id, gen), so it is rebuilt from the lease, and
	 * each pop frees the room its push needs: this never allocates. */
	while (k < max && t->hn && t->heap[0].expiry_ms <= now_ms) {
		struct hentry e = h_pop(t);

		if (h_live(t, &e))
			ids[k++] = e.id;
	}
	for (size_t i = 0; i < k; i++)
		h_push(t, id_find(t, ids[i]));
	return k;
}

size_t ms_lease_count(const struct ms_lease_table *t)
{
	return t->n;
}

int64_t ms_lease_next_deadline(struct ms_lease_table *t)
{
	while (t->hn && !h_live(t, &t->heap[0]))
		h_pop(t);
	return t->hn ? t->heap[0].expiry_ms : MS_LEASE_NO_DEADLINE;
}


int ms_lease_promote(struct ms_lease_table *t, int64_t now_ms, int64_t extra_ms)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct lease *l = t->slots[i];
		int err;

		if (!l)
			continue;
		int64_t d = deadline(now_ms, l->ttl);

		err = set_expiry(t, l, d > INT64_MAX - extra_ms ? INT64_MAX : d + extra_ms);
		if (err)
			return err;
	}
	return 0;
}

int ms_lease_postpone(struct ms_lease_table *t, int64_t id, int64_t until_ms)
{
	struct lease *l = id_find(t, id);

	if (!l)
		return -ENOENT;
	return l->expiry_ms < until_ms ? set_expiry(t, l, until_ms) : 0;
}

uint64_t ms_lease_table_rng(const struct ms_lease_table *t)
{
	return t->rng;
}

int64_t ms_lease_granted_ttl(const struct ms_lease_table *t, int64_t id)
{
	const struct lease *l = id_find(t, id);

	return l ? l->ttl : -1;
}

int ms_lease_restore(struct ms_lease_table *t, int64_t id, int64_t ttl_s, int64_t now_ms)
{
	int64_t id_out, ttl_out;

	/* a snapshot holds granted leases: real ids, TTLs already raised to the minimum */
	if (id <= 0 || ttl_s < MS_LEASE_MIN_TTL)
		return -EINVAL;
	return grant(t, id, ttl_s, now_ms, &id_out, &ttl_out);
}

void ms_lease_table_clear(struct ms_lease_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i])
			lease_free(t->slots[i]);
		t->slots[i] = NULL;
	}
	if (t->kslots)
		memset(t->kslots, 0, t->kcap * sizeof(*t->kslots));
	t->n = t->kn = t->hn = 0;
}
