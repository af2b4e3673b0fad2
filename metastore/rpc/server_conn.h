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
	struct ms_conn *conns, *conns_tail; /* oldest first */
	uv_timer_t sweep; /* enforces the handshake and idle deadlines */
	/* One read buffer for every connection: nghttp2 takes each read whole before the
	 * callback returns, so a silent connection holds no buffer of its own. */
	char rbuf[64 * 1024];
	char tbuf[64 * 1024]; /* the decrypted bytes of one TLS read, the same way */
	unsigned conn_cap; /* max_connections, lowered to what RLIMIT_NOFILE allows */
	/* Connections closed by the deadlines or to make room, since the last log line. */
	unsigned n_handshake_timeouts, n_idle_timeouts, n_evicted;
	/* Refused on a TLS port since the last log line: plain text, failed handshakes (the
	 * reason of the last one). */
	unsigned n_plaintext, n_tls_failed;
	char tls_why[200];
	uint64_t logged_ms;
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
	size_t in_bytes; /* request bytes buffered by all calls of this connection */
	bool in_recv;    /* inside nghttp2_session_mem_recv: no mem_send now */
	uint64_t opened_ms;    /* loop time of the accept */
	uint64_t idle_since_ms; /* when its last call ended (or the handshake, the accept) */
	bool handshaken;      /* preface and the client's first SETTINGS arrived */
	bool draining;        /* GOAWAY sent for idleness: closed at the next sweep */
	bool writable_due;    /* some call has writable_due set */
	bool closing;
	bool dirty;      /* on srv->dirty, waiting for the flusher */
	struct ms_tls *tls;   /* NULL: plain text */
	bool tls_ready;       /* handshake done: nghttp2 reads and writes through it */
	bool tls_dead;        /* handshake failed: closed once its alert is written */
	bool tls_seen;        /* its first bytes arrived (and were a TLS record) */
	char *tls_cn;         /* CN of the verified client certificate, NULL if none */
	/* Why every call of this connection is refused (plain text on a TLS port), or NULL. */
	const char *refuse_why;
	struct ms_conn *next_dirty;
};

/* Hands what nghttp2 has for `c` to the socket (up to the write high-water mark) and closes
 * the connection when the session is over; nothing happens inside a read callback. */
void ms_conn_flush(struct ms_conn *c);

/* Closes `c` (idempotent): its calls end as CANCELLED, it leaves the server's list now and
 * is freed once libuv has closed its handle. */
void ms_conn_close(struct ms_conn *c);

/* Feeds bytes from the socket to nghttp2 (in_recv set meanwhile). Returns its result. */
ssize_t ms_conn_h2_recv(struct ms_conn *c, const uint8_t *p, size_t len);

/* Hands `len` bytes to the socket, and `data` (malloc'ed) with them, freed once written: at
 * once when the socket takes them all, else by a queued write whose completion flushes the
 * connection again. 0 or -errno (the caller closes). */
int ms_conn_write_raw(struct ms_conn *c, uint8_t *data, size_t len);

/* --- server_tls.c ------------------------------------------------------------------------ */

/* Starts the TLS session of a new connection on a TLS port. 0 or -ENOMEM. */
int ms_conn_tls_start(struct ms_conn *c);

/* Bytes from the socket of a TLS port's connection: the handshake, then decrypted input
 * for nghttp2; plain text is refused. May close `c`. */
void ms_conn_tls_recv(struct ms_conn *c, const uint8_t *p, size_t len);

/* Replaces the plain output in `out` by what goes to the network: its encryption after any
 * handshake bytes. 0 or -errno (the caller closes). */
int ms_conn_tls_seal(struct ms_conn *c, struct ms_buf *out);

/* Frees the connection's TLS state. */
void ms_conn_tls_free(struct ms_conn *c);

/* --- conn_guard.c ------------------------------------------------------------------------ */

/* The client's preface and first SETTINGS frame arrived: the handshake deadline is met. */
void ms_conn_handshake_done(struct ms_conn *c);

/* Sets the connection cap from --max-connections and RLIMIT_NOFILE (raising the soft limit)
 * and initializes the sweep timer; ms_server_shutdown closes it. */
void ms_conn_guard_init(struct ms_server *s);

/* Logs what the deadlines, the limit and the TLS port refused since the last line, at most
 * one line every 10 s. */
void ms_conn_guard_log(struct ms_server *s);

/* Starts the sweep that enforces the handshake and idle deadlines (if either is set). */
void ms_conn_guard_start(struct ms_server *s);

/* At the limit: closes the oldest connection still in its handshake, else the one without
 * a running call idle longest. Returns false if every connection runs a call. */
bool ms_conn_guard_make_room(struct ms_server *s);

/* Output for `c` is ready: its read callback flushes it, or else the server's idle flusher
 * does, so that no write (and no close it may cause) runs inside the caller. */
void ms_conn_schedule_flush(struct ms_conn *c);

/* Installs the stream-level callbacks of grpc_call.c (headers, data, stream close). The
 * session's user data must be the struct ms_conn. */
void grpc_call_set_h2_callbacks(nghttp2_session_callbacks *cbs);

/* Runs the `writable` callback of every call of `c` whose pending bytes fell below its armed
 * mark. Called by the connection after handing output to the socket. */
void grpc_call_run_writable(struct ms_conn *c);

/* The stream of `call` is gone (connection closing): ends the call as CANCELLED if it had
 * not ended, tells a streaming service, unlinks it and drops the stream's reference. */
void grpc_call_detach(struct grpc_call *call);

#endif /* MS_SERVER_CONN_H */
