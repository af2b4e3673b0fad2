/* Shared by the gRPC transport tests (test_server.c, test_server_conn.c): test services, an
 * nghttp2 client in the same process over 127.0.0.1, and the fixture that runs both. */
#ifndef MS_TEST_SERVER_FIXTURE_H
#define MS_TEST_SERVER_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "rpc.pb-c.h"
#include "rpc/server.h"

#define MAX_RECV 4096
#define MAX_STREAMS 16

/* --- test services ------------------------------------------------------------------- */

static struct grpc_call *pending; /* a call a handler left to finish later */

/* Range: answers with one kv whose value has `limit` bytes (a response of any size). */
static void h_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	Etcdserverpb__RangeRequest *req = etcdserverpb__range_request__unpack(NULL, len, msg);
	Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;
	Mvccpb__KeyValue kv = MVCCPB__KEY_VALUE__INIT, *kvs[1] = { &kv };

	(void)ctx;
	if (!req) {
		grpc_call_finish(call, MS_GRPC_INTERNAL, "grpc: error unmarshalling request");
		return;
	}
	kv.value.len = (size_t)req->limit;
	kv.value.data = malloc(kv.value.len + 1);
	memset(kv.value.data, 'v', kv.value.len);
	resp.kvs = kvs;
	resp.n_kvs = 1;
	resp.count = req->limit;
	assert_int_equal(grpc_call_send(call, &resp.base), 0);
	grpc_call_finish(call, MS_GRPC_OK, NULL);
	free(kv.value.data);
	etcdserverpb__range_request__free_unpacked(req, NULL);
}

/* Put: finishes later, as a write waiting for raft would. */
static void h_put_async(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	grpc_call_ref(call);
	pending = call;
}

/* DeleteRange: a broken handler that forgets the status. */
static void h_forget(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call, (void)msg, (void)len, (void)ctx;
}

/* Txn: an internal fault after half a response. */
static void h_fault(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	Etcdserverpb__TxnResponse resp = ETCDSERVERPB__TXN_RESPONSE__INIT;

	(void)msg, (void)len, (void)ctx;
	assert_int_equal(grpc_call_send(call, &resp.base), 0);
	grpc_call_fault(call, "broken invariant");
}

/* Watch: echoes each request's size as a response's watch_id; OK on half-close. */
static void s_message(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	Etcdserverpb__WatchResponse resp = ETCDSERVERPB__WATCH_RESPONSE__INIT;

	(void)msg, (void)ctx;
	resp.watch_id = (int64_t)len;
	assert_int_equal(grpc_call_send(call, &resp.base), 0);
}

static void s_half_close(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static int closed_streams;

static void s_closed(struct grpc_call *call, void *ctx)
{
	(void)call, (void)ctx;
	closed_streams++;
}

/* --- an HTTP/2 client ------------------------------------------------------------------ */

struct resp {
	int32_t id;
	int http_status;
	int grpc_status; /* -1: none */
	char grpc_message[256];
	int header_blocks;
	uint8_t *body;
	size_t body_len;
	bool closed;
};

struct client {
	int fd;
	nghttp2_session *h2;
	struct resp r[MAX_STREAMS];
	int n;
	bool eof;
};

struct fixture {
	uv_loop_t loop;
	struct ms_server *srv;
	struct client cl;
};

static struct resp *resp_of(struct client *cl, int32_t id)
{
	for (int i = 0; i < cl->n; i++)
		if (cl->r[i].id == id)
			return &cl->r[i];
	return NULL;
}

static ssize_t c_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user)
{
	struct client *cl = user;
	ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);

	(void)h2, (void)flags;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NGHTTP2_ERR_WOULDBLOCK;
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int c_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct resp *r = resp_of(user, f->hd.stream_id);

	(void)h2, (void)flags, (void)namelen;
	if (!r)
		return 0;
	if (!strcmp((const char *)name, ":status"))
		r->http_status = atoi((const char *)value);
	else if (!strcmp((const char *)name, "grpc-status"))
		r->grpc_status = atoi((const char *)value);
	else if (!strcmp((const char *)name, "grpc-message"))
		snprintf(r->grpc_message, sizeof(r->grpc_message), "%.*s", (int)valuelen, value);
	return 0;
}

static int c_frame(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct resp *r = resp_of(user, f->hd.stream_id);

	(void)h2;
	if (r && f->hd.type == NGHTTP2_HEADERS)
		r->header_blocks++;
	return 0;
}

static int c_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		  void *user)
{
	struct resp *r = resp_of(user, id);

	(void)h2, (void)flags;
	if (r) {
		r->body = realloc(r->body, r->body_len + len);
		memcpy(r->body + r->body_len, data, len);
		r->body_len += len;
	}
	return 0;
}

static int c_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user)
{
	struct resp *r = resp_of(user, id);

	(void)h2, (void)err;
	if (r)
		r->closed = true;
	return 0;
}

static void client_open(struct client *cl, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	nghttp2_session_callbacks *cbs;
	int one = 1;

	memset(cl, 0, sizeof(*cl));
	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cl->fd >= 0);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(cl->fd, F_SETFL, O_NONBLOCK);
	setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_send_callback(cbs, c_send);
	nghttp2_session_callbacks_set_on_header_callback(cbs, c_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_close);
	assert_int_equal(nghttp2_session_client_new(&cl->h2, cbs, cl), 0);
	nghttp2_session_callbacks_del(cbs);
	assert_int_equal(nghttp2_submit_settings(cl->h2, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void client_close(struct client *cl)
{
	for (int i = 0; i < cl->n; i++)
		free(cl->r[i].body);
	nghttp2_session_del(cl->h2);
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
}

struct body_src {
	const uint8_t *p;
	size_t len, off;
	bool end_stream;
};

static ssize_t c_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
		      nghttp2_data_source *src, void *user)
{
	struct body_src *b = src->ptr;
	size_t n = b->len - b->off < len ? b->len - b->off : len;

	(void)h2, (void)id, (void)user;
	memcpy(buf, b->p + b->off, n);
	b->off += n;
	if (b->off == b->len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (!b->end_stream)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

/* Starts a request with an optional `token` header; `body` (kept by the caller until sent)
 * may be NULL for none. */
static struct resp *request_tok(struct client *cl, const char *method, const char *path,
				const char *ctype, const char *token, struct body_src *body)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"127.0.0.1", 10, 9, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
		{ (uint8_t *)"content-type", (uint8_t *)ctype, 12, strlen(ctype), 0 },
		{ (uint8_t *)"token", (uint8_t *)token, 5, token ? strlen(token) : 0, 0 },
	};
	nghttp2_data_provider dp = { .source.ptr = body, .read_callback = c_body };
	struct resp *r = &cl->r[cl->n++];

	assert_true(cl->n <= MAX_STREAMS);
	r->grpc_status = -1;
	r->id = nghttp2_submit_request(cl->h2, NULL, nv, token ? 6 : 5, body ? &dp : NULL, NULL);
	assert_true(r->id > 0);
	return r;
}

static struct resp *request(struct client *cl, const char *method, const char *path,
			    const char *ctype, struct body_src *body)
{
	return request_tok(cl, method, path, ctype, NULL, body);
}

/* Runs server and client until *flag is true (or, with flag NULL, for `ms`); fails after
 * five seconds. */
static void pump(struct fixture *f, const bool *flag, int ms)
{
	struct timespec t0, t;
	uint8_t buf[65536];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = f->cl.fd, .events = POLLIN };
		long el;

		if (flag && *flag)
			return;
		if (f->cl.fd >= 0 && !f->cl.eof) {
			assert_int_equal(nghttp2_session_send(f->cl.h2), 0);
		}
		uv_run(&f->loop, UV_RUN_NOWAIT);
		while (f->cl.fd >= 0 && !f->cl.eof && poll(&p, 1, 1) > 0) {
			ssize_t n = recv(f->cl.fd, buf, sizeof(buf), 0);

			if (n == 0)
				f->cl.eof = true;
			if (n <= 0)
				break;
			assert_int_equal(nghttp2_session_mem_recv(f->cl.h2, buf, (size_t)n), n);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (!flag && el >= ms)
			return;
		if (flag && el > 5000)
			fail_msg("timed out waiting for the server (%zu bytes in)", f->cl.r[f->cl.n - 1].body_len);
	}
}

/* A framed message: 5-byte prefix (flag `compressed`) + the packed `m`. */
static size_t frame(uint8_t *out, const ProtobufCMessage *m, uint8_t compressed)
{
	size_t n = protobuf_c_message_pack(m, out + 5);

	out[0] = compressed;
	out[1] = (uint8_t)(n >> 24);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	return n + 5;
}

static size_t conn_pending_cap; /* max_conn_pending_bytes of the next setup */
static struct ms_tls_ctx *server_tls; /* TLS of the next setup's server; NULL: plain */

static int setup_opts(void **state, unsigned max_conns, unsigned handshake_ms, unsigned idle_ms)
{
	static const struct grpc_stream_ops ops = { .message = s_message,
						    .half_close = s_half_close,
						    .closed = s_closed };
	struct fixture *f = calloc(1, sizeof(*f));
	struct ms_server_opts o = { .host = "127.0.0.1", .port = 0, .max_connections = max_conns,
				    .handshake_timeout_ms = handshake_ms, .idle_timeout_ms = idle_ms,
				    .max_recv_bytes = MAX_RECV,
				    .max_conn_pending_bytes = conn_pending_cap, .tls = server_tls };

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(ms_server_new(&f->loop, &o, &f->srv), 0);
	ms_server_handle(f->srv, MS_METHOD_KV_RANGE, h_range, NULL);
	ms_server_handle(f->srv, MS_METHOD_KV_PUT, h_put_async, NULL);
	ms_server_handle(f->srv, MS_METHOD_KV_DELETE_RANGE, h_forget, NULL);
	ms_server_handle(f->srv, MS_METHOD_KV_TXN, h_fault, NULL);
	ms_server_handle_stream(f->srv, MS_METHOD_WATCH_WATCH, &ops, NULL);
	client_open(&f->cl, ms_server_port(f->srv));
	pending = NULL;
	closed_streams = 0;
	*state = f;
	return 0;
}

static int setup_n(void **state, unsigned max_conns)
{
	return setup_opts(state, max_conns, 0, 0);
}

static int setup(void **state)
{
	return setup_n(state, 8);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	client_close(&f->cl);
	ms_server_shutdown(f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ms_server_free(f->srv);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* --- request bodies ------------------------------------------------------------------ */

static struct body_src range_body(uint8_t *buf, int64_t limit)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	uint8_t key[] = "k";

	req.key.data = key;
	req.key.len = 1;
	req.limit = limit;
	return (struct body_src){ .p = buf, .len = frame(buf, &req.base, 0), .end_stream = true };
}

#endif /* MS_TEST_SERVER_FIXTURE_H */
