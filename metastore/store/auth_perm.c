/* Key-range coverage: whether a union of permission ranges covers a requested range. */
#include "store/auth_perm.h"

#include <string.h>

/* A range bound as a byte string: p[0..len), then one 0 byte when succ (the key just
 * after p), or +infinity when inf. Nothing is allocated. */
struct bound {
	const uint8_t *p;
	size_t len;
	bool succ;
	bool inf;
};

static int bound_cmp(const struct bound *a, const struct bound *b)
{
	size_t la, lb, n;
	int c;

	if (a->inf || b->inf)
		return (int)a->inf - (int)b->inf;
	la = a->len + a->succ;
	lb = b->len + b->succ;
	n = a->len < b->len ? a->len : b->len;
	c = n ? memcmp(a->p, b->p, n) : 0;
	if (c)
		return c;
	/* Past the shorter plain part: the only other possible byte is a succ 0 byte, and a
	 * plain byte of the longer one is >= 0, so lengths decide unless bytes differ. */
	for (size_t i = n; i < la && i < lb; i++) {
		uint8_t x = i < a->len ? a->p[i] : 0, y = i < b->len ? b->p[i] : 0;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return (la > lb) - (la < lb);
}

/* The [begin, end) bounds of an etcd key/range_end pair. */
static void range_bounds(const uint8_t *key, size_t key_len, const uint8_t *end, size_t end_len,
			 struct bound *b, struct bound *e)
{
	*b = (struct bound){ key, key_len, false, false };
	if (end_len == 1 && end[0] == 0) {
		*e = (struct bound){ NULL, 0, false, true };
		return;
	}
	*e = (struct bound){ end, end_len, false, false };
	if (end_len == 0 || bound_cmp(e, b) <= 0)
		*e = (struct bound){ key, key_len, true, false }; /* one key */
}

static bool grants(enum ms_auth_perm_type have, enum ms_auth_perm_type want)
{
	return have == want || have == MS_AUTH_READWRITE;
}

bool ms_auth_perm_covers(const struct ms_auth_perm *const *perms, size_t n,
			 enum ms_auth_perm_type want, const uint8_t *key, size_t key_len,
			 const uint8_t *end, size_t end_len)
{
	struct bound cur, stop;

	range_bounds(key, key_len, end, end_len, &cur, &stop);
	/* Each step moves `cur` to the farthest end of a perm that contains it; a perm is
	 * used at most once, so n + 1 steps suffice. */
	for (size_t step = 0; step <= n; step++) {
		struct bound best = cur;
		bool found = false;

		if (bound_cmp(&cur, &stop) >= 0)
			return true;
		for (size_t i = 0; i < n; i++) {
			struct bound pb, pe;

			if (!grants(perms[i]->type, want))
				continue;
			range_bounds(perms[i]->key, perms[i]->key_len, perms[i]->end,
				     perms[i]->end_len, &pb, &pe);
			if (bound_cmp(&pb, &cur) <= 0 && bound_cmp(&pe, &best) > 0) {
				best = pe;
				found = true;
			}
		}
		if (!found)
			return false;
		cur = best;
	}
	return bound_cmp(&cur, &stop) >= 0;
}
