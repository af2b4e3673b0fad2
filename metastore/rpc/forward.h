/* Forwarding of client calls to the raft leader: a gRPC client over HTTP/2 on the event loop. */
#ifndef MS_FORWARD_H
#define MS_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/grpc.h"

/* etcd's answers when the leader cannot be reached, or this member does not catch up with
 * what the leader applied in time, or stops meanwhile (gRPC UNAVAILABLE). */
#define MS_ERR_LEADER_UNREACHABLE "etcdserver: leader unreachable"
#define MS_ERR_REQUEST_TIMEOUT "etcdserver: request timed out"
#define MS_ERR_FORWARD_STOPPED "etcdserver: server stopped"

struct ms_forward;

/* What the server answered a forwarded unary call (valid during the done callback only). */
struct ms_forward_reply {
	uint32_t status;        /* its grpc-status, or UNAVAILABLE when it was not reached */
	const char *message;    /* grpc-message (decoded), or NULL */
	const uint8_t *framed;  /* the response messages, length-prefixed as on the wire */
	size_t framed_len;
	uint64_t applied_index; /* its MS_HDR_APPLIED_INDEX trailer, 0 if none */
};

typedef void (*ms_forward_done_fn)(void *arg, const struct ms_forward_reply *reply);

/* Who a forwarded call is made for (strings borrowed for the call to ms_forward_unary):
 * the client's `token`, or else the `user` this member authenticated with its `proof`
 * (MS_HDR_FORWARDED_USER, MS_HDR_FORWARDED_PROOF). Any may be NULL. */
struct ms_forward_cred {
	const char *token;
	const char *user;
	const char *proof;
};

/* cb(arg, status) once this member applied `index` (status 0) or gave up (-errno). Returns
 * 1 when it is applied already (cb never runs), 0 (cb runs once later) or -errno. */
typedef int (*ms_forward_wait_fn)(void *ctx, uint64_t index, void (*cb)(void *arg, int status),
				  void *arg);

/* A forwarder on `loop`. Returns 0 with *out, or -ENOMEM. */
int ms_forward_new(uv_loop_t *loop, struct ms_forward **out);

struct ms_tls_ctx;

/* Targets given as https://IPv4:PORT are reached over TLS with `tls` (borrowed; it outlives
 * the forwarder): the server's certificate must chain to its CAs and name the IP, and the
 * context's certificate is presented. Without it such targets are unreachable. */
void ms_forward_set_tls(struct ms_forward *fw, struct ms_tls_ctx *tls);

/* Calls made from now on end UNAVAILABLE "etcdserver: request timed out" when not answered
 * within `timeout_ms` (0: no limit, the default). */
void ms_forward_set_timeout(struct ms_forward *fw, uint64_t timeout_ms);

/* Sets how a relayed call waits for this member's apply (ms_forward_call); `ctx` borrowed.
 * Without it answers are relayed at once. */
void ms_forward_set_wait(struct ms_forward *fw, ms_forward_wait_fn fn, void *ctx);

/*
 * Makes unary call `method` with request message `msg` on the server at `target`
 * (IPv4:PORT, or https://IPv4:PORT for TLS), over one HTTP/2 connection per target kept open for later calls, marked
 * forwarded (MS_HDR_FORWARDED) and with the credentials of `cred` (copied; NULL: none).
 * done(arg, reply) runs once with the answer; a connection failure answers UNAVAILABLE
 * "etcdserver: leader unreachable". Returns 0, or -errno with nothing sent and done never
 * run.
 */
int ms_forward_unary(struct ms_forward *fw, const char *target, uint32_t method,
		     const struct ms_forward_cred *cred, const uint8_t *msg, size_t len,
		     ms_forward_done_fn done, void *arg);

/*
 * Sends `msg` (the call's one request message) for the call's method, with `cred`, to
 * `target` (see ms_forward_unary) and relays the answer to `call` once this member applied
 * what that server had applied when it answered (the wait set by ms_forward_set_wait): a
 * client's next local read sees what its call did. Giving up on the wait answers
 * UNAVAILABLE "etcdserver: request timed out" (or "server stopped"). Holds a call
 * reference until then. Returns 0, or -errno with nothing sent (the caller answers).
 */
int ms_forward_call(struct ms_forward *fw, const char *target, struct grpc_call *call,
		    const struct ms_forward_cred *cred, const uint8_t *msg, size_t len);

/* Closes every connection; calls still waiting for an answer end with UNAVAILABLE. The
 * handles close through the loop. Idempotent. */
void ms_forward_stop(struct ms_forward *fw);

/* Frees the forwarder after the loop closed its connections; NULL is allowed. */
void ms_forward_free(struct ms_forward *fw);

#endif /* MS_FORWARD_H */
