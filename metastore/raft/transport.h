/* libraft's transport interface (raft/uv.h) for the store's peers: one listener on the member's
 * peer address, member ids checked, optional mutual TLS. */
#ifndef MS_TRANSPORT_H
#define MS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <raft/uv.h>
#include <uv.h>

#include "rpc/tls.h"
#include "raft/raftnode.h"
#include "raft/fwd_proof.h"

/* One line for the operator (a refused peer, a failed TLS handshake), without a newline. */
typedef void (*ms_peer_log_fn)(void *arg, const char *line);

struct ms_peer_opts {
	const char *listen_addr; /* IPv4:PORT to bind; NULL: this member's peer address */
	bool tls;                /* https:// peers: every connection is mutual TLS */
	struct ms_tls_cfg tls_cfg;
	ms_peer_log_fn log;      /* NULL: refusals are not logged */
	void *log_arg;
	/* borrowed, outlives the transport: its own key goes in every handshake this member
	 * opens, and an accepted peer's key is learned into it (fwd_proof.h); NULL: none */
	struct ms_fwd_keys *fwd_keys;
};

/*
 * Makes t libraft's transport for member `self` of `members` (copied): it listens on the
 * member's peer address (or o->listen_addr) only when the configuration has other members,
 * and hands libraft a connection only after the peer's handshake names another member
 * with that member's address (others are closed and logged). Returns 0, or -EINVAL /
 * -ENOMEM with a one-line reason in err (a TLS file that does not load).
 */
int ms_peer_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
			   const struct ms_raft_peer *members, size_t n, uint64_t self,
			   const struct ms_peer_opts *o, char *err, size_t errlen);

/* Replaces the members the transport lets in and dials (copied; at most MS_MEMBERS_MAX): a
 * member added is let in, a removed one refused, and libraft's connects to a member go to
 * its address here (MemberUpdate), not the one libraft's configuration holds. Returns 0. */
int ms_peer_transport_set_members(struct raft_uv_transport *t, const struct ms_raft_peer *members,
				  size_t n);

/* Sets what a members query (MS_PEER_QUERY_ID) is answered with (copied). 0 or -ENOMEM. */
int ms_peer_transport_set_info(struct raft_uv_transport *t, const void *p, size_t len);

/* A handshake with this id and address asks for the member list (a member joining with
 * --initial-cluster-state existing): the answer is the info bytes, then the connection closes. */
#define MS_PEER_QUERY_ID 0
#define MS_PEER_QUERY_MEMBERS "metastore:members?"

/* Frees what init allocated, after libraft closed the transport (or never started it). */
void ms_peer_transport_free(struct raft_uv_transport *t);

/* How long a connection may take for TLS and the raft handshake before it is closed. */
#define MS_PEER_HANDSHAKE_MS 5000

#endif /* MS_TRANSPORT_H */
