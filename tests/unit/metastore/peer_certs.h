/* Throwaway certificates for the peer TLS unit tests (peer_certs.sh): a temporary directory
 * made in the group setup, removed in its teardown, and paths into it. */
#ifndef MS_TEST_PEER_CERTS_H
#define MS_TEST_PEER_CERTS_H

#include <stdio.h>
#include <stdlib.h>

static char peer_certs_dir[64];

/* DIR/name; the last four results stay valid. */
static inline const char *path(const char *name)
{
	static char p[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", peer_certs_dir, name);
	return p[k];
}

/* ca and other (CAs), n1 and n2 (signed by ca, IP 127.0.0.1), rogue (signed by other); run
 * from the top of the tree, as `make unit` does. */
static inline int setup(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(peer_certs_dir, sizeof(peer_certs_dir), "/tmp/ms-peer-certs.XXXXXX");
	if (!mkdtemp(peer_certs_dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "tests/unit/metastore/peer_certs.sh %s >/dev/null 2>&1",
		 peer_certs_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", peer_certs_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif /* MS_TEST_PEER_CERTS_H */
