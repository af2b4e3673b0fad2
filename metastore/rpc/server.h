/* gRPC server: libuv TCP listener, one nghttp2 session per connection, unary dispatch. */
#ifndef MS_SERVER_H
#define MS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/grpc.h"
#include "rpc/tls.h"

struct ms_server;

struct ms_server_opts {
	const char *host;          /* IPv4 literal */
	uint16_t port;             /* 0: any free port */
	/* At the limit a new connection takes the place of the oldest one still in its
	 * handshake, else of the one idle longest (no call running); only when every
	 * connection runs a call is the new one closed at once. */
	unsigned max_connections;
	unsigned handshake_timeout_ms; /* HTTP/2 preface + first SETTINGS by then; 0: none */
	unsigned idle_timeout_ms;  /* no open stream this long: GOAWAY and close; 0: none */
	size_t max_recv_bytes;     /* largest request message accepted (gRPC max receive size) */
	/* Request bytes one connection may buffer over all its calls; a call whose data would
	 * pass it ends with RESOURCE_EXHAUSTED. 0: 16 MiB or four of the largest messages,
	 * whichever is more. */
	size_t max_conn_pending_bytes;
	double rate_limit;         /* calls per second over all connections; 0: no limit */
	double rate_burst;         /* calls allowed at once before the rate applies */
	/* Every connection speaks TLS with this (borrowed; it outlives the server), NULL: plain
	 * text. The handshake deadline covers the TLS handshake. */
	struct ms_tls_ctx *tls;
};

/* Binds and listens on `loop`. Returns 0 with *out owned by the caller, or -errno. */
int ms_server_new(uv_loop_t *loop, const struct ms_server_opts *o, struct ms_server **out);

/* Routes unary method `m` (enum ms_method or enum grpc_internal_method) to `fn` with `ctx`
 * (borrowed). Unrouted methods get UNIMPLEMENTED. */
void ms_server_handle(struct ms_server *s, uint32_t m, grpc_unary_fn fn, void *ctx);

/* Routes streaming method `m` to `ops` (copied) with `ctx` (borrowed). */
void ms_server_handle_stream(struct ms_server *s, enum ms_method m,
			     const struct grpc_stream_ops *ops, void *ctx);

/*
 * Decides, before the handler runs, whether a call may go on: for a unary call with its one
 * request message, for a streaming call with msg NULL when it opens. Returns MS_GRPC_OK, or
 * the status the call ends with and *why its message (static storage).
 */
typedef uint32_t (*ms_authorizer_fn)(struct grpc_call *call, const uint8_t *msg, size_t len,
				     const char **why, void *ctx);

/* Installs the authorizer every call goes through (NULL: none) with `ctx` (borrowed). */
void ms_server_set_authorizer(struct ms_server *s, ms_authorizer_fn fn, void *ctx);

/* The header a forwarding member sets on the calls it makes for its clients; such a call's
 * status carries MS_HDR_APPLIED_INDEX, this server's applied raft index (decimal) at the
 * moment the call finished, so that the forwarder answers its client only once it applied
 * as much. */
#define MS_HDR_FORWARDED "ms-forwarded"
#define MS_HDR_APPLIED_INDEX "ms-applied-index"
/* A forwarded call without a token names the user the forwarding member authenticated (the
 * CN of its client's certificate) and that member's proof of it (raft/fwd_proof.h); the
 * server believes the name only when the proof checks. */
#define MS_HDR_FORWARDED_USER "ms-forwarded-user"
#define MS_HDR_FORWARDED_PROOF "ms-forwarded-proof"

/* Sets where the applied index of MS_HDR_APPLIED_INDEX comes from (NULL: not sent). */
void ms_server_set_applied_index(struct ms_server *s, uint64_t (*fn)(void *arg), void *arg);

/* The bound port. */
uint16_t ms_server_port(const struct ms_server *s);

/* Open client connections. */
unsigned ms_server_connections(const struct ms_server *s);

/* Stops accepting and closes every connection (in-flight calls end as CANCELLED); the loop
 * then runs out of handles. Idempotent. */
void ms_server_shutdown(struct ms_server *s);

/* Frees the server after the loop has finished closing its handles; NULL is allowed. */
void ms_server_free(struct ms_server *s);

#endif /* MS_SERVER_H */
