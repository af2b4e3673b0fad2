/* Internals of the auth state shared by auth.c (rules) and auth_snap.c (snapshots). */
#ifndef MS_AUTH_PRIV_H
#define MS_AUTH_PRIV_H

#include "store/auth.h"

struct auth_user {
	char *name;
	char *hash; /* NULL: no password, cannot authenticate */
	char **roles; /* sorted */
	size_t nroles;
};

struct auth_role {
	char *name;
	struct ms_auth_perm *perms; /* sorted by key */
	size_t nperms;
};

struct ms_auth {
	struct auth_user *users; /* sorted by name */
	size_t nusers;
	struct auth_role *roles; /* sorted by name */
	size_t nroles;
	bool enabled;
	uint64_t revision;
	unsigned bcrypt_cost;
	struct ms_auth_tokens *tokens;
};

/* Frees what a user / a role owns (not the struct itself). */
void auth_user_release(struct auth_user *u);
void auth_role_release(struct auth_role *r);

#endif /* MS_AUTH_PRIV_H */
