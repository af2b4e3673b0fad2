/* The handshake opening every raft peer connection (libraft's wire format), and who may send it. */
#ifndef MS_PEER_HS_H
#define MS_PEER_HS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raft/raftnode.h"

/*
 * libraft's TCP transport opens each connection with three little-endian u64 (protocol
 * version 1, the sender's server id, the length of the address field), then the sender's
 * own peer address, NUL-terminated and zero-padded to that length (a multiple of 8). The
 * same bytes open our connections, inside TLS when peers use it. Ours add to the address
 * field, after the address's padding, MS_PEER_HS_KEY_MAGIC and the sender's forwarding key
 * (fwd_proof.h): libraft reads the address as a C string and skips the rest, and a field
 * without them has no key.
 */
#define MS_PEER_HS_PROTOCOL 1
#define MS_PEER_HS_PREAMBLE 24
/* A member's address fits in 128 bytes (struct ms_raft_peer); longer claims are refused
 * before anything is allocated for them. */
#define MS_PEER_HS_MAX_ADDR 256
#define MS_PEER_HS_KEY_MAGIC "msfwdk1" /* 8 bytes with its NUL */
#define MS_PEER_HS_KEY_LEN 32
#define MS_PEER_HS_KEY_EXT (8 + MS_PEER_HS_KEY_LEN)

struct ms_peer_hs {
	uint8_t buf[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
	size_t have; /* bytes received so far */
	size_t want; /* bytes the handshake has, as far as known */
	uint64_t id; /* once complete: the claimed server id */
	const char *address; /* once complete: the claimed address (in buf) */
	const uint8_t *key;  /* once complete: the sender's forwarding key (in buf), NULL: none */
};

/* Readies h for a new connection. */
void ms_peer_hs_init(struct ms_peer_hs *h);

/* Bytes the decoder still needs: a reader that asks for exactly this much never takes a
 * byte that follows the handshake. 0 once complete. */
size_t ms_peer_hs_need(const struct ms_peer_hs *h);

/*
 * Consumes up to len bytes of the handshake. Returns the bytes consumed (the rest follow
 * the handshake; ms_peer_hs_need() is 0 once it is complete), or -EPROTO with the reason in
 * why (wrong protocol, an address length of 0 or beyond MS_PEER_HS_MAX_ADDR, an address
 * without its NUL).
 */
ssize_t ms_peer_hs_feed(struct ms_peer_hs *h, const void *p, size_t len, char *why,
			size_t whylen);

/* Writes the handshake of (id, address) into out, with forwarding key `key`
 * (MS_PEER_HS_KEY_LEN bytes; NULL: none, libraft's exact bytes). Returns its length, or
 * -ENOSPC when out (or MS_PEER_HS_MAX_ADDR) is too small. */
ssize_t ms_peer_hs_encode(uint64_t id, const char *address, const uint8_t *key, uint8_t *out,
			  size_t outlen);

/*
 * Whether member `self` talks to a peer claiming (id, address): the id must be another
 * member of the configuration and the address that member's. Returns 0, or -EPERM with
 * the reason in why.
 */
int ms_peer_hs_check(const struct ms_raft_peer *members, size_t n, uint64_t self, uint64_t id,
		     const char *address, char *why, size_t whylen);

#endif /* MS_PEER_HS_H */
