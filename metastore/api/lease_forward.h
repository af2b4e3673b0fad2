/* Keep-alive streams on a follower: each keep-alive goes on to the leader, answers in order. */
#ifndef MS_LEASE_FORWARD_H
#define MS_LEASE_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "raft/raftnode.h"
#include "rpc/grpc.h"

/* Where a keep-alive stream's requests are served: the leader renews them itself
 * (`renew`, which sends one LeaseKeepAliveResponse on the call), a follower forwards them. */
struct lease_forward_env {
	uv_loop_t *loop;
	struct ms_raft *rn;
	grpc_unary_fn renew;
	void *renew_ctx;
};

/*
 * Takes keep-alive request `msg` of stream `call` (copied): on a follower it is sent to the
 * leader as /metastorepb.Internal/LeaseRenew with the stream's token, one at a time, and the
 * answers go back on the stream in request order. As etcd's follower does, a keep-alive that
 * finds no reachable leader is retried every 50 ms for the request timeout, then the stream
 * ends UNAVAILABLE "etcdserver: no leader" (none known) or "etcdserver: request timed out".
 * Once the stream has forwarded anything all its requests go through here (also after this
 * member became the leader), so the stream's state lives in call->user. `env` is copied.
 * Returns 0, or -ENOMEM with the call ended.
 */
int lease_forward_keep_alive(struct grpc_call *call, const uint8_t *msg, size_t len,
			     const struct lease_forward_env *env);

/* The client half-closed: the stream ends OK once the queued keep-alives are answered.
 * False when the call has no forwarding state (the caller finishes it). */
bool lease_forward_half_close(struct grpc_call *call);

/* The stream is gone: its state is freed once no forwarded keep-alive is out. */
void lease_forward_closed(struct grpc_call *call);

#endif /* MS_LEASE_FORWARD_H */
