/* Who this member is at start-up: the data dir's member table, or a joining member's
 * fetched from a peer (--initial-cluster-state existing), or --initial-cluster. */
#ifndef MS_JOIN_H
#define MS_JOIN_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd/args.h"
#include "cmd/cluster.h"
#include "raft/member_file.h"

/*
 * Fills *table and *f (and c's self and cluster ids) for a start in a->data_dir (which
 * exists): from DATA/members when it is there; else, joining (a->join, no member.id yet),
 * from the first peer of --initial-cluster that answers a members query, this member being
 * the one with its peer URL there; else from --initial-cluster (c). *write tells that the
 * table is not in the data dir yet. Returns 0, or -errno with a one-line reason in err.
 */
int ms_join_members(const struct ms_args *a, struct ms_cluster *c, struct ms_members *table,
		    struct ms_member_file *f, bool *write, char *err, size_t errlen);

#endif /* MS_JOIN_H */
