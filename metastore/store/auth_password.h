/* Password hashing for auth users: bcrypt ($2b$) through libxcrypt, with derived salts. */
#ifndef MS_AUTH_PASSWORD_H
#define MS_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Hashes `password` with bcrypt at `cost` into a malloc'ed "$2b$..." string (*out). The
 * 16 salt bytes are derived from (name, rev) rather than drawn at random, so the same call
 * gives the same hash on every node of a replicated store; a user's salt changes with every
 * auth revision. Returns 0, -EINVAL (cost out of range) or -ENOMEM.
 */
int ms_auth_password_hash(const char *password, const char *name, uint64_t rev, unsigned cost,
			  char **out);

/* Whether `password` matches a hash made by ms_auth_password_hash (any bcrypt hash).
 * An allocation failure makes it -ENOMEM; otherwise returns 1 (match) or 0. */
int ms_auth_password_verify(const char *password, const char *hash);

#endif /* MS_AUTH_PASSWORD_H */
