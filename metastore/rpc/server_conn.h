/* Internals shared by the listener/connection code (server.c) and the call code (grpc_call.c). */
#ifndef MS_SERVER_CONN_H
#define MS_SERVER_CONN_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/grpc.h"
#include "rpc/ratelimit.h"
#include "rpc/server.h"

struct ms_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct ms_server_opts opts;
	struct ms_ratelimit rate;
	grpc_unary_fn handlers[GRPC_METHOD_COUNT];
	struct grpc_stream_ops streams[GRPC_METHOD_COUNT];
	void *ctx[GRPC_METHOD_COUNT];
	ms_authorizer_fn authorize; /* NULL: every call may run */
	void *authorize_ctx;
	uint64_t (*applied_fn)(void *arg); /* for forwarded calls (MS_HDR_APPLIED_INDEX) */
	void *applied_arg;
	struct ms_conn *conns;
	/* Connections with output produced outside their own read callback, flushed from an
	 * idle handle so that no flush (and no close it may cause) runs inside a caller. */
	uv_idle_t flusher;
	struct ms_conn *dirty;
	size_t conn_in_cap; /* request bytes one connection may buffer across its calls */
	unsigned nconns;
	bool shutting_down;
};

struct ms_conn {
	uv_tcp_t tcp;
	uint64_t id;
	struct ms_server *srv;
	nghttp2_session *h2;
	struct grpc_call *calls;
	struct ms_conn *next, *prev;
	char *rbuf;
	size_t in_bytes; /* request bytes buffered by all calls of this connection */
	bool in_recv;    /* inside nghttp2_session_mem_recv: no mem_send now */
	bool closing;
	bool dirty;      /* on srv->dirty, waiting for the flusher */
	struct ms_conn *next_dirty;
};

/* Output for `c` is ready: its read callback flushes it, or else the server's idle flusher
 * does, so that no write (and no close it may cause) runs inside the caller. */
void ms_conn_schedule_flush(struct ms_conn *c);

/* Installs the stream-level callbacks of grpc_call.c (headers, data, stream close). The
 * session's user data must be the struct ms_conn. */
void grpc_call_set_h2_callbacks(nghttp2_session_callbacks *cbs);

/* The stream of `call` is gone (connection closing): ends the call as CANCELLED if it had
 * not ended, tells a streaming service, unlinks it and drops the stream's reference. */
void grpc_call_detach(struct grpc_call *call);

#endif /* MS_SERVER_CONN_H */
