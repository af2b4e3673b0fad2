/* Cluster membership from the command line: --initial-cluster parsing and member ids. */
#ifndef MS_CLUSTER_H
#define MS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/args.h"
#include "raft/raftnode.h"

#define MS_CLUSTER_MAX_MEMBERS 16

struct ms_cluster {
	uint64_t cluster_id;
	uint64_t self_id;
	struct ms_raft_peer members[MS_CLUSTER_MAX_MEMBERS];
	size_t n;
	bool peer_https; /* the peer URLs are https:// (all of them: one transport) */
};

/* Stable non-zero 64-bit id of (kind, name), e.g. ("member:", "n1"). */
uint64_t ms_cluster_id_of(const char *kind, const char *name);

/*
 * Parses "name=http://IP:PORT,..." (etcd's --initial-cluster; NULL: `self` alone, with
 * peer address 127.0.0.1:0 since a lone member has no peers to reach it) and identifies
 * `self` among the members. Returns 0, or -EINVAL with a one-line message in err.
 */
int ms_cluster_parse(const char *initial_cluster, const char *self, struct ms_cluster *c,
		     char *err, size_t errlen);

/*
 * Checks the peer flags against the parsed cluster: --initial-advertise-peer-urls must be
 * this member's entry, --listen-peer-urls of the same scheme, https:// peers need
 * --peer-cert-file and --peer-key-file, and the peer TLS flags need https:// peers.
 * Returns 0, or -EINVAL with a one-line message in err.
 */
int ms_cluster_check_peers(const struct ms_cluster *c, const struct ms_args *a, char *err,
			   size_t errlen);

#endif /* MS_CLUSTER_H */
