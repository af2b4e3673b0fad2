/* Key-range coverage: whether a union of permission ranges covers a requested range. */
#ifndef MS_AUTH_PERM_H
#define MS_AUTH_PERM_H

#include <stdbool.h>
#include <stddef.h>

#include "store/auth.h"

/*
 * Whether the range [key, end) (etcd convention: end_len 0 is the single key, end "\0" is
 * every key >= key) is covered by the union of the perms in `perms` whose type grants
 * `want` (READ or WRITE; READWRITE grants both). An empty range (end <= key) is checked
 * as its first key. Pure; O(n^2) in the number of perms, no allocation.
 */
bool ms_auth_perm_covers(const struct ms_auth_perm *const *perms, size_t n,
			 enum ms_auth_perm_type want, const uint8_t *key, size_t key_len,
			 const uint8_t *end, size_t end_len);

#endif /* MS_AUTH_PERM_H */
