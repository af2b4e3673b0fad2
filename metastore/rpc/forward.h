/* Forwarding of client calls to the raft leader: a gRPC client over HTTP/2 on the event loop. */
#ifndef MS_FORWARD_H
#define MS_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/grpc.h"

/* etcd's answer when the leader cannot be reached (gRPC UNAVAILABLE). */
#define MS_ERR_LEADER_UNREACHABLE "etcdserver: leader unreachable"

struct ms_forward;

/* A forwarder on `loop`. Returns 0 with *out, or -ENOMEM. */
int ms_forward_new(uv_loop_t *loop, struct ms_forward **out);

/*
 * Sends `msg` (the call's one request message) for the call's method to the server at
 * `target` (IPv4:PORT), over one HTTP/2 connection per target kept open for later calls.
 * The response messages and status are relayed to `call` when that server answers; a
 * connection failure ends it with UNAVAILABLE "etcdserver: leader unreachable". Holds a
 * call reference until then. Returns 0, or -errno with nothing sent (the caller answers).
 */
int ms_forward_call(struct ms_forward *fw, const char *target, struct grpc_call *call,
		    const uint8_t *msg, size_t len);

/* Closes every connection; calls still waiting end with UNAVAILABLE. Idempotent. */
void ms_forward_stop(struct ms_forward *fw);

/* Frees the forwarder after the loop closed its connections; NULL is allowed. */
void ms_forward_free(struct ms_forward *fw);

#endif /* MS_FORWARD_H */
