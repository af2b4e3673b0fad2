/* etcd-style auth state: users, roles, key-range permissions, the auth revision, tokens. */
#ifndef MS_AUTH_H
#define MS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/auth_token.h"

/*
 * Pure state, not thread-safe, no I/O and no printing. Every mutation (enable, disable,
 * user and role changes) is a deterministic function of the state and its arguments: no
 * clock, no random numbers (password salts are derived from the user name and the auth
 * revision), so a replicated log applied on every node gives every node the same state.
 * Tokens are node-local (auth_token.h); mutations drop the tokens they invalidate.
 *
 * etcd's rules: the user "root" with the role "root" must exist to enable auth; the role
 * "root" may be granted without being added and allows everything; while auth is enabled
 * the root user cannot be deleted or lose the root role, and the root role cannot be
 * deleted. Every successful change bumps the auth revision (starts at 1).
 */
#define MS_AUTH_ROOT "root"
#define MS_AUTH_DEFAULT_BCRYPT_COST 10
#define MS_AUTH_MIN_BCRYPT_COST 4
#define MS_AUTH_MAX_BCRYPT_COST 31

/* Errors, returned negated; each is one etcd error (auth_service.c has the texts). */
enum ms_auth_err {
	MS_AUTH_EROOT_USER = 5000, /* root user does not exist */
	MS_AUTH_EROOT_ROLE,        /* root user does not have root role */
	MS_AUTH_EUSER_EXISTS,      /* user name already exists */
	MS_AUTH_EUSER_EMPTY,       /* user name is empty */
	MS_AUTH_EUSER_NOT_FOUND,   /* user name not found */
	MS_AUTH_EROLE_EXISTS,      /* role name already exists */
	MS_AUTH_EROLE_NOT_FOUND,   /* role name not found */
	MS_AUTH_EROLE_EMPTY,       /* role name is empty */
	MS_AUTH_EFAILED,           /* authentication failed, invalid user ID or password */
	MS_AUTH_EDENIED,           /* permission denied */
	MS_AUTH_EROLE_NOT_GRANTED, /* role is not granted to the user */
	MS_AUTH_EPERM_NOT_GRANTED, /* permission is not granted to the role */
	MS_AUTH_ENOT_ENABLED,      /* authentication is not enabled */
	MS_AUTH_ETOKEN,            /* invalid auth token */
	MS_AUTH_EMGMT,             /* invalid auth management */
};

/* authpb.Permission.Type values. */
enum ms_auth_perm_type {
	MS_AUTH_READ = 0,
	MS_AUTH_WRITE = 1,
	MS_AUTH_READWRITE = 2,
};

/*
 * A key-range permission with etcd's key/range_end convention: end_len 0 is the single key;
 * end "\0" is every key >= key (from-key); otherwise [key, end). A prefix permission is
 * [prefix, prefix + 1).
 */
struct ms_auth_perm {
	enum ms_auth_perm_type type;
	uint8_t *key;
	size_t key_len;
	uint8_t *end;
	size_t end_len;
};

struct ms_auth;

/* Creates an empty, disabled store (revision 1). bcrypt_cost is the bcrypt cost of new
 * password hashes (MS_AUTH_MIN..MAX_BCRYPT_COST); token_ttl_ms how long an unused token
 * lives. Returns NULL on allocation failure or a cost out of range. */
struct ms_auth *ms_auth_new(unsigned bcrypt_cost, int64_t token_ttl_ms);

/* Frees the store; NULL is allowed. */
void ms_auth_free(struct ms_auth *a);

/* Whether auth is enabled. */
bool ms_auth_enabled(const struct ms_auth *a);

/* The auth revision: bumped by every successful change. */
uint64_t ms_auth_revision(const struct ms_auth *a);

/* The node-local token table. */
struct ms_auth_tokens *ms_auth_tokens(struct ms_auth *a);

/* --- mutations (deterministic) ------------------------------------------------------- */

/* Enables auth. Returns 0 (also when already enabled), -MS_AUTH_EROOT_USER or
 * -MS_AUTH_EROOT_ROLE. */
int ms_auth_enable(struct ms_auth *a);

/* Disables auth and drops every token. Returns 0 (also when already disabled). */
int ms_auth_disable(struct ms_auth *a);

/* Adds a user with a bcrypt hash of `password` (none when no_password: it cannot
 * authenticate). Returns 0, -MS_AUTH_EUSER_EMPTY, -MS_AUTH_EUSER_EXISTS or -ENOMEM. */
int ms_auth_user_add(struct ms_auth *a, const char *name, const char *password, bool no_password);

/* Deletes a user and its tokens. Returns 0, -MS_AUTH_EMGMT (root while enabled),
 * -MS_AUTH_EUSER_NOT_FOUND. */
int ms_auth_user_delete(struct ms_auth *a, const char *name);

/* Sets a new password and drops the user's tokens. Returns 0, -MS_AUTH_EUSER_NOT_FOUND or
 * -ENOMEM. */
int ms_auth_user_change_password(struct ms_auth *a, const char *name, const char *password);

/* Grants `role` to `user` (a role granted twice is kept once, returning 0). Returns 0,
 * -MS_AUTH_EUSER_NOT_FOUND, -MS_AUTH_EROLE_NOT_FOUND (roles other than root must exist)
 * or -ENOMEM. */
int ms_auth_user_grant_role(struct ms_auth *a, const char *user, const char *role);

/* Revokes `role` from `user`. Returns 0, -MS_AUTH_EMGMT (root from root while enabled),
 * -MS_AUTH_EUSER_NOT_FOUND or -MS_AUTH_EROLE_NOT_GRANTED. */
int ms_auth_user_revoke_role(struct ms_auth *a, const char *user, const char *role);

/* Adds an empty role. Returns 0, -MS_AUTH_EROLE_EMPTY, -MS_AUTH_EROLE_EXISTS or -ENOMEM. */
int ms_auth_role_add(struct ms_auth *a, const char *name);

/* Deletes a role and takes it from every user. Returns 0, -MS_AUTH_EMGMT (root while
 * enabled) or -MS_AUTH_EROLE_NOT_FOUND. */
int ms_auth_role_delete(struct ms_auth *a, const char *name);

/* Grants a permission to a role (same key and end: its type is replaced). The bytes are
 * copied. Returns 0, -MS_AUTH_EROLE_NOT_FOUND, -EINVAL (bad type) or -ENOMEM. */
int ms_auth_role_grant(struct ms_auth *a, const char *role, enum ms_auth_perm_type type,
		       const uint8_t *key, size_t key_len, const uint8_t *end, size_t end_len);

/* Revokes the permission with exactly this key and end. Returns 0,
 * -MS_AUTH_EROLE_NOT_FOUND or -MS_AUTH_EPERM_NOT_GRANTED. */
int ms_auth_role_revoke(struct ms_auth *a, const char *role, const uint8_t *key, size_t key_len,
			const uint8_t *end, size_t end_len);

/* --- reads --------------------------------------------------------------------------- */

/* Users and roles in name order: count and the i-th name (static until the next change). */
size_t ms_auth_user_count(const struct ms_auth *a);
const char *ms_auth_user_name(const struct ms_auth *a, size_t i);
size_t ms_auth_role_count(const struct ms_auth *a);
const char *ms_auth_role_name(const struct ms_auth *a, size_t i);

/* The roles of a user, sorted (borrowed until the next change). Returns 0 or
 * -MS_AUTH_EUSER_NOT_FOUND. */
int ms_auth_user_roles(const struct ms_auth *a, const char *name, char *const **roles,
		       size_t *n);

/* The permissions of a role, sorted by key (borrowed until the next change). Returns 0 or
 * -MS_AUTH_EROLE_NOT_FOUND. */
int ms_auth_role_perms(const struct ms_auth *a, const char *name,
		       const struct ms_auth_perm **perms, size_t *n);

/* Whether `user` exists and holds `role`. */
bool ms_auth_has_role(const struct ms_auth *a, const char *user, const char *role);

/* --- checks -------------------------------------------------------------------------- */

/*
 * Whether `user` may access the range [key, end) (etcd convention, see ms_auth_perm) with
 * `type` (READ or WRITE): the range must be covered by the union of the user's permissions
 * of that type (READWRITE counts as both); the root role allows everything. Returns 0 (also
 * while auth is disabled), -MS_AUTH_EUSER_EMPTY (user NULL or "") or -MS_AUTH_EDENIED.
 */
int ms_auth_check_range(const struct ms_auth *a, const char *user, const uint8_t *key,
			size_t key_len, const uint8_t *end, size_t end_len,
			enum ms_auth_perm_type type);

/* Whether `user` may run admin requests (holds the root role). Returns 0 (also while auth
 * is disabled), -MS_AUTH_EUSER_EMPTY, -MS_AUTH_EUSER_NOT_FOUND or -MS_AUTH_EDENIED. */
int ms_auth_check_admin(const struct ms_auth *a, const char *user);

/* Checks a user's password (bcrypt). Returns 0, -MS_AUTH_ENOT_ENABLED, -MS_AUTH_EFAILED
 * (unknown user, no password, wrong password) or -ENOMEM. */
int ms_auth_check_password(const struct ms_auth *a, const char *name, const char *password);

/* The first half of ms_auth_check_password, for a bcrypt check made off the event loop
 * (ms_auth_password_verify on a worker thread): a malloc'ed copy of the user's hash in
 * *hash. Returns 0, -MS_AUTH_ENOT_ENABLED, -MS_AUTH_EFAILED (unknown user, no password) or
 * -ENOMEM. */
int ms_auth_password_hash_of(const struct ms_auth *a, const char *name, char **hash);

/* --- snapshots ----------------------------------------------------------------------- */

struct ms_buf;

/* Appends the replicated state (enabled, revision, users with their hashes, roles) to
 * `out` as one protobuf message; tokens are node-local and left out. `auth` is the struct
 * ms_auth (void for struct ms_snap_parts.extra_dump). Returns 0 or -ENOMEM. */
int ms_auth_dump(void *auth, struct ms_buf *out);

/* Replaces the state with a dump of ms_auth_dump (len 0: the initial state, disabled with
 * no users) and drops every token. On failure nothing changed. Returns 0, -EINVAL
 * (malformed: not a dump, or names out of order) or -ENOMEM. */
int ms_auth_load(void *auth, const uint8_t *data, size_t len);

#endif /* MS_AUTH_H */
