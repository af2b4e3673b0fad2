/* Basic auth passwords: bcrypt checks against the web configuration's hashes. */
#ifndef AGENT_PASSWD_H
#define AGENT_PASSWD_H

/*
 * Whether `password` hashes to the bcrypt `hash` (libcrypt's crypt_r, loaded on first use so
 * that the agent needs libcrypt only when basic auth is configured). Returns 1 (match),
 * 0 (no match, or a malformed hash), or -errno (libcrypt missing: -ENOSYS).
 */
int passwd_check(const char *hash, const char *password);

/* Whether two strings are equal, in a time that depends on their lengths only. */
int passwd_equal(const char *a, const char *b);

#endif /* AGENT_PASSWD_H */
