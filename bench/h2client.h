/* gRPC client transport (benchmarks, fault suite): one cleartext HTTP/2 connection driven by nghttp2. */
#ifndef BENCH_H2CLIENT_H
#define BENCH_H2CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct h2c_conn;

/*
 * Called once per finished call: grpc_status is the grpc-status the server sent (0 = OK),
 * or -1 when the call ended without one (HTTP status other than 200, stream reset,
 * connection lost). body/body_len is the response body (gRPC framing included) when the
 * connection keeps bodies, else NULL with body_len still counting its bytes. call_user is
 * what h2c_call_submit was given. body is valid during the callback only.
 */
typedef void (*h2c_done_fn)(void *conn_user, void *call_user, int grpc_status,
			    const uint8_t *body, size_t body_len);

/* Streaming calls: called for each complete response message (gRPC framing removed),
 * valid during the callback only. */
typedef void (*h2c_msg_fn)(void *conn_user, void *call_user, const uint8_t *msg, size_t len);

/* Connects to host:port (numeric IPv4) and sends the HTTP/2 preface and SETTINGS;
 * keep_body: collect response bodies for the done callback. On success *out owns the
 * socket. Returns 0 or -errno. */
int h2c_connect(struct h2c_conn **out, const char *host, uint16_t port, bool keep_body,
		h2c_done_fn done, void *conn_user);

/* h2c_connect waiting at most timeout_ms for the TCP connection (-1: no limit);
 * -ETIMEDOUT when it did not complete in time. Returns 0 or -errno. */
int h2c_connect_ms(struct h2c_conn **out, const char *host, uint16_t port, bool keep_body,
		   h2c_done_fn done, void *conn_user, int timeout_ms);

/* Queues one unary call: POST `path` with the protobuf message `msg` of `len` bytes
 * (the 5-byte gRPC frame header is added here; msg is copied). Nothing is sent until
 * h2c_poll. Returns 0 or -errno. */
int h2c_call_submit(struct h2c_conn *c, const char *path, const uint8_t *msg, size_t len,
		    void *call_user);

/* Opens a streaming call: POST `path` with the first message (copied); each response
 * message goes to on_msg, the end of the call to the connection's done callback (with no
 * body). send_open: the request side stays open for h2c_stream_send, else it ends after
 * the first message. *stream_id names the call for h2c_stream_send. Returns 0 or -errno. */
int h2c_stream_open(struct h2c_conn *c, const char *path, const uint8_t *msg, size_t len,
		    bool send_open, h2c_msg_fn on_msg, void *call_user, int32_t *stream_id);

/* Queues one more request message on an open streaming call (sent by h2c_poll).
 * Returns 0, -ENOENT when that call has ended, or -errno. */
int h2c_stream_send(struct h2c_conn *c, int32_t stream_id, const uint8_t *msg, size_t len);

/* Sends what is queued, waits up to timeout_ms for the socket, and processes what
 * arrived (finished calls invoke the done callback). Returns 0, or -errno when the
 * connection failed or was closed by the server. */
int h2c_poll(struct h2c_conn *c, int timeout_ms);

/* The most connections h2c_poll_many takes at once. */
#define H2C_POLL_MAX 64

/* h2c_poll over connections cs[0..n) at once: one wait for whichever socket is ready first.
 * Returns 0, -E2BIG past H2C_POLL_MAX, or -errno of the first connection that failed. */
int h2c_poll_many(struct h2c_conn *const *cs, unsigned n, int timeout_ms);

/* Number of calls submitted and not finished yet. */
size_t h2c_in_flight(const struct h2c_conn *c);

/* Closes the connection; calls still in flight end with grpc_status -1. NULL is allowed. */
void h2c_close(struct h2c_conn *c);

#endif /* BENCH_H2CLIENT_H */
