/* etcd-style auth state: users, roles, key-range permissions, the auth revision. */
#include "store/auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/auth_password.h"
#include "store/auth_perm.h"
#include "store/auth_priv.h"

struct ms_auth *ms_auth_new(unsigned bcrypt_cost, int64_t token_ttl_ms)
{
	struct ms_auth *a;

	if (bcrypt_cost < MS_AUTH_MIN_BCRYPT_COST || bcrypt_cost > MS_AUTH_MAX_BCRYPT_COST)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->tokens = ms_auth_tokens_new(token_ttl_ms);
	if (!a->tokens) {
		free(a);
		return NULL;
	}
	a->revision = 1;
	a->bcrypt_cost = bcrypt_cost;
	return a;
}

void auth_user_release(struct auth_user *u)
{
	for (size_t i = 0; i < u->nroles; i++)
		free(u->roles[i]);
	free(u->roles);
	free(u->hash);
	free(u->name);
}

static void perm_release(struct ms_auth_perm *p)
{
	free(p->key);
	free(p->end);
}

void auth_role_release(struct auth_role *r)
{
	for (size_t i = 0; i < r->nperms; i++)
		perm_release(&r->perms[i]);
	free(r->perms);
	free(r->name);
}

void ms_auth_free(struct ms_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nusers; i++)
		auth_user_release(&a->users[i]);
	for (size_t i = 0; i < a->nroles; i++)
		auth_role_release(&a->roles[i]);
	free(a->users);
	free(a->roles);
	ms_auth_tokens_free(a->tokens);
	free(a);
}

bool ms_auth_enabled(const struct ms_auth *a)
{
	return a->enabled;
}

uint64_t ms_auth_revision(const struct ms_auth *a)
{
	return a->revision;
}

struct ms_auth_tokens *ms_auth_tokens(struct ms_auth *a)
{
	return a->tokens;
}

/* --- lookups ------------------------------------------------------------------------- */

/* Index of `name` in a sorted array of elements whose first member is a char *name; or
 * where it would go (*found false). */
static size_t name_search(const void *base, size_t n, size_t size, const char *name, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = *(char *const *)((const char *)base + mid * size);
		int c = strcmp(m, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct auth_user *user_find(const struct ms_auth *a, const char *name)
{
	bool found;
	size_t i = name_search(a->users, a->nusers, sizeof(*a->users), name, &found);

	return found ? &a->users[i] : NULL;
}

static struct auth_role *role_find(const struct ms_auth *a, const char *name)
{
	bool found;
	size_t i = name_search(a->roles, a->nroles, sizeof(*a->roles), name, &found);

	return found ? &a->roles[i] : NULL;
}

/* Position of `role` in a user's sorted roles, or where it would go. */
static size_t user_role_pos(const struct auth_user *u, const char *role, bool *found)
{
	size_t i = 0;

	while (i < u->nroles && strcmp(u->roles[i], role) < 0)
		i++;
	*found = i < u->nroles && strcmp(u->roles[i], role) == 0;
	return i;
}

static bool user_has_role(const struct auth_user *u, const char *role)
{
	bool found;

	user_role_pos(u, role, &found);
	return found;
}

/* Grows an array by one element at index i (zeroed). Returns 0 or -ENOMEM. */
static int array_insert(void **base, size_t *n, size_t size, size_t i)
{
	char *p = realloc(*base, (*n + 1) * size);

	if (!p)
		return -ENOMEM;
	memmove(p + (i + 1) * size, p + i * size, (*n - i) * size);
	memset(p + i * size, 0, size);
	*base = p;
	(*n)++;
	return 0;
}

static void array_remove(void *base, size_t *n, size_t size, size_t i)
{
	char *p = base;

	memmove(p + i * size, p + (i + 1) * size, (*n - i - 1) * size);
	(*n)--;
}

/* --- mutations ----------------------------------------------------------------------- */

int ms_auth_enable(struct ms_auth *a)
{
	struct auth_user *root;

	if (a->enabled)
		return 0;
	root = user_find(a, MS_AUTH_ROOT);
	if (!root)
		return -MS_AUTH_EROOT_USER;
	if (!user_has_role(root, MS_AUTH_ROOT))
		return -MS_AUTH_EROOT_ROLE;
	a->enabled = true;
	a->revision++;
	return 0;
}

int ms_auth_disable(struct ms_auth *a)
{
	if (!a->enabled)
		return 0;
	a->enabled = false;
	ms_auth_tokens_clear(a->tokens);
	a->revision++;
	return 0;
}

int ms_auth_user_add(struct ms_auth *a, const char *name, const char *password, bool no_password)
{
	struct auth_user u = { 0 };
	bool found;
	size_t i;
	int err;

	if (!*name)
		return -MS_AUTH_EUSER_EMPTY;
	i = name_search(a->users, a->nusers, sizeof(*a->users), name, &found);
	if (found)
		return -MS_AUTH_EUSER_EXISTS;
	u.name = strdup(name);
	if (!u.name)
		return -ENOMEM;
	if (!no_password) {
		err = ms_auth_password_hash(password, name, a->revision, a->bcrypt_cost, &u.hash);
		if (err)
			goto cleanup;
	}
	err = array_insert((void **)&a->users, &a->nusers, sizeof(*a->users), i);
	if (err)
		goto cleanup;
	a->users[i] = u;
	a->revision++;
	return 0;
cleanup:
	auth_user_release(&u);
	return err;
}

int ms_auth_user_delete(struct ms_auth *a, const char *name)
{
	bool found;
	size_t i;

	if (a->enabled && strcmp(name, MS_AUTH_ROOT) == 0)
		return -MS_AUTH_EMGMT;
	i = name_search(a->users, a->nusers, sizeof(*a->users), name, &found);
	if (!found)
		return -MS_AUTH_EUSER_NOT_FOUND;
	ms_auth_tokens_drop_user(a->tokens, name);
	auth_user_release(&a->users[i]);
	array_remove(a->users, &a->nusers, sizeof(*a->users), i);
	a->revision++;
	return 0;
}

int ms_auth_user_change_password(struct ms_auth *a, const char *name, const char *password)
{
	struct auth_user *u = user_find(a, name);
	char *hash;
	int err;

	if (!u)
		return -MS_AUTH_EUSER_NOT_FOUND;
	err = ms_auth_password_hash(password, name, a->revision, a->bcrypt_cost, &hash);
	if (err)
		return err;
	free(u->hash);
	u->hash = hash;
	ms_auth_tokens_drop_user(a->tokens, name);
	a->revision++;
	return 0;
}

int ms_auth_user_grant_role(struct ms_auth *a, const char *user, const char *role)
{
	struct auth_user *u = user_find(a, user);
	bool found;
	size_t i;
	char *copy;

	if (!u)
		return -MS_AUTH_EUSER_NOT_FOUND;
	if (strcmp(role, MS_AUTH_ROOT) != 0 && !role_find(a, role))
		return -MS_AUTH_EROLE_NOT_FOUND;
	i = user_role_pos(u, role, &found);
	if (found)
		return 0;
	copy = strdup(role);
	if (!copy || array_insert((void **)&u->roles, &u->nroles, sizeof(*u->roles), i)) {
		free(copy);
		return -ENOMEM;
	}
	u->roles[i] = copy;
	a->revision++;
	return 0;
}

int ms_auth_user_revoke_role(struct ms_auth *a, const char *user, const char *role)
{
	struct auth_user *u;
	bool found;
	size_t i;

	if (a->enabled && strcmp(user, MS_AUTH_ROOT) == 0 && strcmp(role, MS_AUTH_ROOT) == 0)
		return -MS_AUTH_EMGMT;
	u = user_find(a, user);
	if (!u)
		return -MS_AUTH_EUSER_NOT_FOUND;
	i = user_role_pos(u, role, &found);
	if (!found)
		return -MS_AUTH_EROLE_NOT_GRANTED;
	free(u->roles[i]);
	array_remove(u->roles, &u->nroles, sizeof(*u->roles), i);
	a->revision++;
	return 0;
}

int ms_auth_role_add(struct ms_auth *a, const char *name)
{
	bool found;
	size_t i;
	char *copy;

	if (!*name)
		return -MS_AUTH_EROLE_EMPTY;
	i = name_search(a->roles, a->nroles, sizeof(*a->roles), name, &found);
	if (found)
		return -MS_AUTH_EROLE_EXISTS;
	copy = strdup(name);
	if (!copy || array_insert((void **)&a->roles, &a->nroles, sizeof(*a->roles), i)) {
		free(copy);
		return -ENOMEM;
	}
	a->roles[i].name = copy;
	a->revision++;
	return 0;
}

int ms_auth_role_delete(struct ms_auth *a, const char *name)
{
	bool found;
	size_t i;

	if (a->enabled && strcmp(name, MS_AUTH_ROOT) == 0)
		return -MS_AUTH_EMGMT;
	i = name_search(a->roles, a->nroles, sizeof(*a->roles), name, &found);
	if (!found)
		return -MS_AUTH_EROLE_NOT_FOUND;
	auth_role_release(&a->roles[i]);
	array_remove(a->roles, &a->nroles, sizeof(*a->roles), i);
	for (size_t k = 0; k < a->nusers; k++) {
		struct auth_user *u = &a->users[k];
		size_t j = user_role_pos(u, name, &found);

		if (found) {
			free(u->roles[j]);
			array_remove(u->roles, &u->nroles, sizeof(*u->roles), j);
		}
	}
	a->revision++;
	return 0;
}

static int bytes_cmp(const uint8_t *x, size_t xl, const uint8_t *y, size_t yl)
{
	int c = xl && yl ? memcmp(x, y, xl < yl ? xl : yl) : 0;

	return c ? c : (xl > yl) - (xl < yl);
}

static uint8_t *bytes_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

int ms_auth_role_grant(struct ms_auth *a, const char *role, enum ms_auth_perm_type type,
		       const uint8_t *key, size_t key_len, const uint8_t *end, size_t end_len)
{
	struct auth_role *r = role_find(a, role);
	struct ms_auth_perm p = { type, NULL, key_len, NULL, end_len };
	size_t i = 0;

	if (!r)
		return -MS_AUTH_EROLE_NOT_FOUND;
	if (type != MS_AUTH_READ && type != MS_AUTH_WRITE && type != MS_AUTH_READWRITE)
		return -EINVAL;
	/* Sorted by key, then end: the same pair only changes its type. */
	while (i < r->nperms) {
		int c = bytes_cmp(r->perms[i].key, r->perms[i].key_len, key, key_len);

		if (c == 0)
			c = bytes_cmp(r->perms[i].end, r->perms[i].end_len, end, end_len);
		if (c == 0) {
			r->perms[i].type = type;
			a->revision++;
			return 0;
		}
		if (c > 0)
			break;
		i++;
	}
	p.key = bytes_dup(key, key_len);
	p.end = bytes_dup(end, end_len);
	if (!p.key || !p.end || array_insert((void **)&r->perms, &r->nperms, sizeof(*r->perms), i)) {
		perm_release(&p);
		return -ENOMEM;
	}
	r->perms[i] = p;
	a->revision++;
	return 0;
}

int ms_auth_role_revoke(struct ms_auth *a, const char *role, const uint8_t *key, size_t key_len,
			const uint8_t *end, size_t end_len)
{
	struct auth_role *r = role_find(a, role);

	if (!r)
		return -MS_AUTH_EROLE_NOT_FOUND;
	for (size_t i = 0; i < r->nperms; i++) {
		struct ms_auth_perm *p = &r->perms[i];

		if (bytes_cmp(p->key, p->key_len, key, key_len) == 0 &&
		    bytes_cmp(p->end, p->end_len, end, end_len) == 0) {
			perm_release(p);
			array_remove(r->perms, &r->nperms, sizeof(*r->perms), i);
			a->revision++;
			return 0;
		}
	}
	return -MS_AUTH_EPERM_NOT_GRANTED;
}

/* --- reads --------------------------------------------------------------------------- */

size_t ms_auth_user_count(const struct ms_auth *a)
{
	return a->nusers;
}

const char *ms_auth_user_name(const struct ms_auth *a, size_t i)
{
	return i < a->nusers ? a->users[i].name : NULL;
}

size_t ms_auth_role_count(const struct ms_auth *a)
{
	return a->nroles;
}

const char *ms_auth_role_name(const struct ms_auth *a, size_t i)
{
	return i < a->nroles ? a->roles[i].name : NULL;
}

int ms_auth_user_roles(const struct ms_auth *a, const char *name, char *const **roles, size_t *n)
{
	const struct auth_user *u = user_find(a, name);

	if (!u)
		return -MS_AUTH_EUSER_NOT_FOUND;
	*roles = u->roles;
	*n = u->nroles;
	return 0;
}

int ms_auth_role_perms(const struct ms_auth *a, const char *name,
		       const struct ms_auth_perm **perms, size_t *n)
{
	const struct auth_role *r = role_find(a, name);

	if (!r)
		return -MS_AUTH_EROLE_NOT_FOUND;
	*perms = r->perms;
	*n = r->nperms;
	return 0;
}

bool ms_auth_has_role(const struct ms_auth *a, const char *user, const char *role)
{
	const struct auth_user *u = user_find(a, user);

	return u && user_has_role(u, role);
}

/* --- checks -------------------------------------------------------------------------- */

/* Most permissions one check looks at; beyond it the rest are not consulted. */
#define CHECK_MAX_PERMS 1024

int ms_auth_check_range(const struct ms_auth *a, const char *user, const uint8_t *key,
			size_t key_len, const uint8_t *end, size_t end_len,
			enum ms_auth_perm_type type)
{
	const struct ms_auth_perm *perms[CHECK_MAX_PERMS];
	const struct auth_user *u;
	size_t n = 0;

	if (!a->enabled)
		return 0;
	if (!user || !*user)
		return -MS_AUTH_EUSER_EMPTY;
	u = user_find(a, user);
	if (!u)
		return -MS_AUTH_EDENIED;
	if (user_has_role(u, MS_AUTH_ROOT))
		return 0;
	for (size_t i = 0; i < u->nroles; i++) {
		const struct auth_role *r = role_find(a, u->roles[i]);

		for (size_t j = 0; r && j < r->nperms && n < CHECK_MAX_PERMS; j++)
			perms[n++] = &r->perms[j];
	}
	return ms_auth_perm_covers(perms, n, type, key, key_len, end, end_len) ? 0
									       : -MS_AUTH_EDENIED;
}

int ms_auth_check_admin(const struct ms_auth *a, const char *user)
{
	const struct auth_user *u;

	if (!a->enabled)
		return 0;
	if (!user || !*user)
		return -MS_AUTH_EUSER_EMPTY;
	u = user_find(a, user);
	if (!u)
		return -MS_AUTH_EUSER_NOT_FOUND;
	return user_has_role(u, MS_AUTH_ROOT) ? 0 : -MS_AUTH_EDENIED;
}

int ms_auth_password_hash_of(const struct ms_auth *a, const char *name, char **hash)
{
	const struct auth_user *u;

	*hash = NULL;
	if (!a->enabled)
		return -MS_AUTH_ENOT_ENABLED;
	u = user_find(a, name);
	if (!u || !u->hash)
		return -MS_AUTH_EFAILED;
	*hash = strdup(u->hash);
	return *hash ? 0 : -ENOMEM;
}

int ms_auth_check_password(const struct ms_auth *a, const char *name, const char *password)
{
	const struct auth_user *u;
	int ok;

	if (!a->enabled)
		return -MS_AUTH_ENOT_ENABLED;
	u = user_find(a, name);
	if (!u || !u->hash)
		return -MS_AUTH_EFAILED;
	ok = ms_auth_password_verify(password, u->hash);
	if (ok < 0)
		return ok;
	return ok ? 0 : -MS_AUTH_EFAILED;
}
