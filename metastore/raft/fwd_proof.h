/* Proof that a forwarded call's user was authenticated by a member: keys learned over the peer transport, HMACs, replay windows. */
#ifndef MS_FWD_PROOF_H
#define MS_FWD_PROOF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Why: a follower that verified a client certificate forwards the call to the leader over
 * the leader's client port, where any client can send any header. The leader trusts a user
 * name only with a proof that a member made it: an HMAC-SHA256 under the key that member
 * sent in its raft peer handshake (peer_hs.h), so only who can open a peer connection as
 * that member (peer TLS, or the peer network) can make one. The MAC covers the sender, the
 * receiving member, a per-sender counter (replays are refused), the method, the user and
 * the request; a proof for one call, one leader, once.
 * Not the peer transport itself (etcd forwards proposals there): libraft's connections carry
 * its own messages only and libraft forwards no proposal, so calls would need a second
 * request/response protocol next to libraft's, with its own waits and timeouts, beside the
 * forwarder that already has them. The proof brings the peer transport's trust (who may be
 * a member) to that forwarder instead.
 */
#define MS_FWD_KEY_LEN 32
#define MS_FWD_WINDOW 64       /* counters this far behind the highest seen are still taken */
#define MS_FWD_PROOF_MAX 128   /* "v1:<sender hex16>:<counter>:<hmac hex64>" and its NUL */
#define MS_FWD_USER_MAX 256    /* longer user names are not asserted */

struct ms_fwd_keys;

/* A table with a fresh random own key (getrandom). Returns 0 with *out, -ENOMEM or -EIO. */
int ms_fwd_keys_new(struct ms_fwd_keys **out);

/* Frees the table; NULL is allowed. */
void ms_fwd_keys_free(struct ms_fwd_keys *k);

/* This member's key, sent in every peer handshake it opens (valid while k is). */
const uint8_t *ms_fwd_keys_own(const struct ms_fwd_keys *k);

/* Member `id` sent `key` in a handshake the transport accepted. A key other than the one
 * known starts a new replay window. Returns 0 or -ENOMEM. */
int ms_fwd_keys_learn(struct ms_fwd_keys *k, uint64_t id, const uint8_t key[MS_FWD_KEY_LEN]);

/*
 * Writes into out (MS_FWD_PROOF_MAX bytes) the proof that member `self` authenticated
 * `user` for call `method` with request `msg`, for member `target`. Returns 0, or -EINVAL
 * (a user name that is empty, too long or not printable ASCII: it cannot be a header).
 */
int ms_fwd_proof_make(struct ms_fwd_keys *k, uint64_t self, uint64_t target, uint32_t method,
		      const char *user, const uint8_t *msg, size_t len, char *out);

/*
 * Checks, as member `self`, a proof for (method, user, msg). Returns 0 (and the sender in
 * *sender, may be NULL), or -EPERM with the reason in why: malformed, made for another
 * member, a sender whose key is not known, a wrong MAC, or a counter seen already or too
 * old. A refused proof moves no replay window.
 */
int ms_fwd_proof_check(struct ms_fwd_keys *k, uint64_t self, const char *proof, uint32_t method,
		       const char *user, const uint8_t *msg, size_t len, uint64_t *sender,
		       char *why, size_t whylen);

#endif /* MS_FWD_PROOF_H */
