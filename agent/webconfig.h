/* The web configuration file of the Prometheus exporters: TLS for /metrics and basic auth users. */
#ifndef AGENT_WEBCONFIG_H
#define AGENT_WEBCONFIG_H

#include <limits.h>
#include <stddef.h>

#define WEBCONFIG_MAX_USERS 16

struct webconfig_user {
	char name[64];
	char hash[128]; /* bcrypt ($2a$, $2b$, $2y$) */
};

struct webconfig {
	char cert_file[PATH_MAX]; /* tls_server_config.cert_file; "" without TLS */
	char key_file[PATH_MAX];  /* tls_server_config.key_file */
	size_t nr_users;          /* basic_auth_users; 0: no authentication */
	struct webconfig_user users[WEBCONFIG_MAX_USERS];
};

/*
 * Reads `path`, a YAML mapping as the exporters' --web.config.file takes it:
 *   tls_server_config: { cert_file: PATH, key_file: PATH }
 *   basic_auth_users: { NAME: BCRYPT_HASH, ... }
 * Both sections are optional; a TLS section needs both files; a user needs a bcrypt hash.
 * Returns 0 with *out filled, or -errno with "PATH:LINE: reason" (or "PATH: reason") in err.
 */
int webconfig_load(const char *path, struct webconfig *out, char *err, size_t errlen);

#endif /* AGENT_WEBCONFIG_H */
