/* The member list a joining member fetches from a peer (--initial-cluster-state existing). */
#ifndef MS_MEMBER_FETCH_H
#define MS_MEMBER_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "raft/members.h"
#include "rpc/tls.h"

/* The answer to a members query: magic, body length, then the cluster id and the table. */
#define MS_MEMBERS_INFO_MAGIC 0x31424d454d534dULL /* "MSMEMB1" */

/* Encodes the answer for cluster_id and m into out (appended). 0 or -ENOMEM. */
int ms_members_info_encode(uint64_t cluster_id, const struct ms_members *m, struct ms_buf *out);

/* Decodes an answer of len bytes (the whole of it, as ms_members_info_encode made it) into
 * *cluster_id and m. 0, -EAGAIN (shorter than its length says), or -EINVAL. */
int ms_members_info_decode(const uint8_t *p, size_t len, uint64_t *cluster_id,
			   struct ms_members *m);

/*
 * Asks the member at peer address `address` (IPv4:PORT) for the member list, over TLS
 * with `tls` (NULL: plain TCP), waiting at most timeout_ms for each step. Blocking (it runs
 * before the event loop starts). Returns 0 with *cluster_id and m, or -errno with a
 * one-line reason in err.
 */
int ms_members_fetch(const char *address, struct ms_tls_ctx *tls, unsigned timeout_ms,
		     uint64_t *cluster_id, struct ms_members *m, char *err, size_t errlen);

#endif /* MS_MEMBER_FETCH_H */
