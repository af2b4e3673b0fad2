/* Simple auth tokens: random, node-local, each naming a user, expiring after an idle TTL. */
#ifndef MS_AUTH_TOKEN_H
#define MS_AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* etcd's default TTL of simple tokens (--auth-token-ttl): 300 s since last use. */
#define MS_AUTH_TOKEN_DEFAULT_TTL_MS (300 * 1000)
/* Longest token text, NUL included. */
#define MS_AUTH_TOKEN_MAX 48

/*
 * Like etcd's simple tokens: "<16 random letters>.<sequence>", learned by every member through
 * the raft log (ms_auth_tokens_add), valid for `ttl_ms` after their last use on that member
 * (each successful lookup extends it). Time is the caller's clock (`now_ms`, monotonic milliseconds), so tests inject it. Not
 * thread-safe; never prints.
 */
struct ms_auth_tokens;

/* Creates an empty table. Returns NULL on allocation failure. */
struct ms_auth_tokens *ms_auth_tokens_new(int64_t ttl_ms);

/* Frees the table; NULL is allowed. */
void ms_auth_tokens_free(struct ms_auth_tokens *t);

/* Issues a token for `user` (copied) into out (MS_AUTH_TOKEN_MAX bytes). Random letters
 * come from getrandom(2). Returns 0, -ENOMEM or -EIO (no randomness). */
int ms_auth_tokens_issue(struct ms_auth_tokens *t, const char *user, int64_t now_ms,
			 char out[MS_AUTH_TOKEN_MAX]);

/* Writes a new random token text into out ("<16 letters>.<sequence>"), adding nothing.
 * Returns 0 or -EIO (no randomness). */
int ms_auth_tokens_generate(struct ms_auth_tokens *t, char out[MS_AUTH_TOKEN_MAX]);

/* Adds `token` (copied) for `user`, valid for the TTL from now_ms: how every member learns
 * a token the leader handed out. Returns 0, -EINVAL (too long) or -ENOMEM. */
int ms_auth_tokens_add(struct ms_auth_tokens *t, const char *user, const char *token,
		       int64_t now_ms);

/* Looks a token up: *user (borrowed until the token goes) gets its user and its TTL starts
 * again from now_ms. Returns 0, or -ENOENT for an unknown or expired token (an expired one
 * is dropped). */
int ms_auth_tokens_lookup(struct ms_auth_tokens *t, const char *token, int64_t now_ms,
			  const char **user);

/* Drops every token of `user`. */
void ms_auth_tokens_drop_user(struct ms_auth_tokens *t, const char *user);

/* Drops every token. */
void ms_auth_tokens_clear(struct ms_auth_tokens *t);

/* Number of tokens held (expired ones included until a lookup or issue drops them). */
size_t ms_auth_tokens_count(const struct ms_auth_tokens *t);

#endif /* MS_AUTH_TOKEN_H */
