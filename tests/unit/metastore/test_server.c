/* Unit tests for the gRPC transport (server.c, grpc_call.c): an nghttp2 client in the same
 * process talks to the server over 127.0.0.1; test handlers stand in for the services. */
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

static int setup_opts(void **state, unsigned max_conns, unsigned handshake_ms, unsigned idle_ms)
{
	static const struct grpc_stream_ops ops = { .message = s_message,
						    .half_close = s_half_close,
						    .closed = s_closed };
	struct fixture *f = calloc(1, sizeof(*f));
	struct ms_server_opts o = { .host = "127.0.0.1", .port = 0, .max_connections = max_conns,
				    .handshake_timeout_ms = handshake_ms, .idle_timeout_ms = idle_ms,
				    .max_recv_bytes = MAX_RECV,
				    .max_conn_pending_bytes = conn_pending_cap };

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

/* --- tests ----------------------------------------------------------------------------- */

static struct body_src range_body(uint8_t *buf, int64_t limit)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	uint8_t key[] = "k";

	req.key.data = key;
	req.key.len = 1;
	req.limit = limit;
	return (struct body_src){ .p = buf, .len = frame(buf, &req.base, 0), .end_stream = true };
}

/* Status of every kind of bad request, each answered Trailers-Only (one HEADERS block). */
static void test_statuses_table(void **state)
{
	struct fixture *f = *state;
	static const uint8_t compressed[] = { 1, 0, 0, 0, 1, 0x0a };
	static const uint8_t huge[] = { 0, 0, 0, 0x10, 0x01 }; /* declares 4097 bytes */
	static const uint8_t two[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t cut[] = { 0, 0, 0, 0, 9, 0x0a };
	static const struct {
		const char *method, *path, *ctype;
		const uint8_t *body;
		size_t len;
		int http, grpc;
		const char *msg;
	} cases[] = {
		{ "POST", "/etcdserverpb.Nope/Get", "application/grpc", two, 5, 200, 12,
		  "unknown service etcdserverpb.Nope" },
		{ "POST", "/etcdserverpb.KV/Nope", "application/grpc", two, 5, 200, 12,
		  "unknown method Nope for service etcdserverpb.KV" },
		{ "POST", "/etcdserverpb.Lease/LeaseGrant", "application/grpc", two, 5, 200, 12,
		  "unknown service etcdserverpb.Lease" },
		{ "POST", "/nonsense", "application/grpc", two, 5, 200, 12,
		  "malformed method name: \"/nonsense\"" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", compressed, sizeof(compressed),
		  200, 12, "grpc: compressed messages are not supported" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", huge, sizeof(huge), 200, 8,
		  "grpc: received message larger than max (4097 vs. 4096)" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", two, sizeof(two), 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", cut, sizeof(cut), 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", NULL, 0, 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/DeleteRange", "application/grpc", two, 5, 200, 13,
		  "internal error: handler returned without a status" },
		{ "POST", "/etcdserverpb.KV/Range", "text/plain", two, 5, 415, -1, "" },
		{ "GET", "/etcdserverpb.KV/Range", "application/grpc", NULL, 0, 405, -1, "" },
	};
	struct body_src b[sizeof(cases) / sizeof(cases[0])];
	struct resp *r[sizeof(cases) / sizeof(cases[0])];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++) {
		b[i] = (struct body_src){ .p = cases[i].body, .len = cases[i].len, .end_stream = true };
		r[i] = request(&f->cl, cases[i].method, cases[i].path, cases[i].ctype,
			       cases[i].body ? &b[i] : NULL);
	}
	pump(f, &r[n - 1]->closed, 0);
	for (size_t i = 0; i < n; i++) {
		pump(f, &r[i]->closed, 0);
		if (r[i]->http_status != cases[i].http || r[i]->grpc_status != cases[i].grpc ||
		    strcmp(r[i]->grpc_message, cases[i].msg) || r[i]->header_blocks != 1 ||
		    r[i]->body_len)
			fail_msg("case %zu (%s): got %d/%d '%s' in %d header blocks, %zu body bytes",
				 i, cases[i].path, r[i]->http_status, r[i]->grpc_status,
				 r[i]->grpc_message, r[i]->header_blocks, r[i]->body_len);
	}
}

/* A response far larger than the client's 64 KiB window arrives whole: data is deferred and
 * resumed as WINDOW_UPDATEs come in. */
static void test_large_response_flow_control(void **state)
{
	struct fixture *f = *state;
	const int64_t size = 3 << 20;
	uint8_t buf[64];
	struct body_src b = range_body(buf, size);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	Etcdserverpb__RangeResponse *resp;
	size_t n;

	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(r->header_blocks, 2); /* headers, then trailers */
	assert_true(r->body_len > 5);
	n = (size_t)r->body[1] << 24 | (size_t)r->body[2] << 16 | (size_t)r->body[3] << 8 | r->body[4];
	assert_int_equal(n + 5, r->body_len);
	resp = etcdserverpb__range_response__unpack(NULL, n, r->body + 5);
	assert_non_null(resp);
	assert_int_equal(resp->count, size);
	assert_int_equal(resp->n_kvs, 1);
	assert_int_equal(resp->kvs[0]->value.len, (size_t)size);
	assert_int_equal(resp->kvs[0]->value.data[size - 1], 'v');
	etcdserverpb__range_response__free_unpacked(resp, NULL);
}

/* A half-built response is dropped by the fault path: INTERNAL, nothing else. */
static void test_fault_drops_response(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Txn", "application/grpc", &b);

	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, MS_GRPC_INTERNAL);
	assert_string_equal(r->grpc_message, "internal error: broken invariant");
	assert_int_equal(r->body_len, 0);
}

/* A handler finishes later from the event loop; its stream is still there. */
static void test_async_finish(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	while (!pending)
		pump(f, NULL, 5);
	pump(f, NULL, 20);
	assert_false(r->closed); /* nothing until the handler finishes */
	assert_false(grpc_call_cancelled(pending));
	assert_int_equal(grpc_call_send(pending, &resp.base), 0);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(r->body_len, 5); /* an empty PutResponse */
}

/* The client resets the stream while the handler is still working: the call stays valid for
 * the handler, sends fail, finishing does nothing, and the connection serves on. */
static void test_async_after_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 }, rb[64];
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct body_src b2 = range_body(rb, 3);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	struct resp *r2;

	while (!pending)
		pump(f, NULL, 5);
	assert_int_equal(nghttp2_submit_rst_stream(f->cl.h2, NGHTTP2_FLAG_NONE, r->id,
						   NGHTTP2_CANCEL), 0);
	for (int i = 0; i < 200 && !grpc_call_cancelled(pending); i++)
		pump(f, NULL, 5);
	assert_true(grpc_call_cancelled(pending));
	assert_int_equal(grpc_call_send(pending, &resp.base), -ECANCELED);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	r2 = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b2);
	pump(f, &r2->closed, 0);
	assert_int_equal(r2->grpc_status, 0);
}

/* The connection goes away under a pending call. */
static void test_async_after_disconnect(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };

	request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	while (!pending)
		pump(f, NULL, 5);
	assert_int_equal(ms_server_connections(f->srv), 1);
	close(f->cl.fd);
	f->cl.fd = -1;
	for (int i = 0; i < 200 && ms_server_connections(f->srv); i++)
		pump(f, NULL, 5);
	assert_int_equal(ms_server_connections(f->srv), 0);
	assert_true(grpc_call_cancelled(pending));
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
}

/* A stream gets each message as it arrives, including two in one DATA frame, and ends with
 * OK after the client half-closes; `closed` runs once. */
static void test_stream_messages(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__WatchRequest w = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCancelRequest c = ETCDSERVERPB__WATCH_CANCEL_REQUEST__INIT;
	uint8_t buf[64];
	size_t n1, n2;
	struct body_src b;
	struct resp *r;
	size_t want[2], off = 0;

	w.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST;
	w.cancel_request = &c;
	c.watch_id = 7;
	n1 = frame(buf, &w.base, 0);
	c.watch_id = 300; /* a longer varint: a different size */
	n2 = frame(buf + n1, &w.base, 0);
	want[0] = n1 - 5;
	want[1] = n2 - 5;
	b = (struct body_src){ .p = buf, .len = n1 + n2, .end_stream = true };
	r = request(&f->cl, "POST", "/etcdserverpb.Watch/Watch", "application/grpc", &b);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)r->body[off + 4];
		Etcdserverpb__WatchResponse *resp;

		assert_true(off + 5 + n <= r->body_len);
		resp = etcdserverpb__watch_response__unpack(NULL, n, r->body + off + 5);
		assert_non_null(resp);
		assert_int_equal(resp->watch_id, (int64_t)want[i]);
		etcdserverpb__watch_response__free_unpacked(resp, NULL);
		off += 5 + n;
	}
	assert_int_equal(off, r->body_len);
	assert_int_equal(closed_streams, 1);
}

/* The authorizer: refuses calls whose token is "deny"; records what it saw. */
static int authorized, handled;
static char seen_token[32];

static uint32_t authz(struct grpc_call *call, const uint8_t *msg, size_t len, const char **why,
		     void *ctx)
{
	(void)ctx;
	authorized++;
	snprintf(seen_token, sizeof(seen_token), "%s", call->token ? call->token : "(none)");
	/* a unary call comes with its message, a stream opens without one */
	assert_true(call->method == MS_METHOD_WATCH_WATCH ? msg == NULL : msg != NULL && len > 0);
	if (call->token && strcmp(call->token, "deny") == 0) {
		*why = "etcdserver: permission denied";
		return MS_GRPC_PERMISSION_DENIED;
	}
	return MS_GRPC_OK;
}

static void h_count(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	handled++;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

/* The authorizer runs before a unary handler and before a stream opens, with the call's
 * token header; a refusal is Trailers-Only and the service never sees the call. */
static void test_authorizer(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *path, *token;
		int grpc;
		int handled, closed; /* counters after the case */
		const char *seen;
	} cases[] = {
		{ "/etcdserverpb.KV/Compact", NULL, 0, 1, 0, "(none)" },
		{ "/etcdserverpb.KV/Compact", "tok.1", 0, 2, 0, "tok.1" },
		{ "/etcdserverpb.KV/Compact", "deny", 7, 2, 0, "deny" },
		{ "/etcdserverpb.Watch/Watch", "deny", 7, 2, 0, "deny" },
		{ "/etcdserverpb.Watch/Watch", "tok.2", 0, 2, 1, "tok.2" },
	};
	uint8_t buf[64];
	Etcdserverpb__CompactionRequest c = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	size_t n;

	c.revision = 5;
	n = frame(buf, &c.base, 0);
	ms_server_handle(f->srv, MS_METHOD_KV_COMPACT, h_count, NULL);
	ms_server_set_authorizer(f->srv, authz, NULL);
	authorized = handled = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct body_src b = { .p = buf, .len = n, .end_stream = true };
		bool watch = strstr(cases[i].path, "Watch") != NULL;
		struct resp *r = request_tok(&f->cl, "POST", cases[i].path, "application/grpc",
					     cases[i].token, watch ? NULL : &b);

		/* the Watch stream sends no message: it ends at half-close */
		pump(f, &r->closed, 0);
		if (r->grpc_status != cases[i].grpc || handled != cases[i].handled ||
		    closed_streams != cases[i].closed || strcmp(seen_token, cases[i].seen) ||
		    authorized != (int)i + 1)
			fail_msg("case %zu: status %d handled %d closed %d token %s authorized %d", i,
				 r->grpc_status, handled, closed_streams, seen_token, authorized);
		if (cases[i].grpc == 7 &&
		    (strcmp(r->grpc_message, "etcdserver: permission denied") || r->header_blocks != 1))
			fail_msg("case %zu: '%s' in %d header blocks", i, r->grpc_message,
				 r->header_blocks);
	}
}

static int setup_one_conn(void **state)
{
	return setup_n(state, 1);
}

/* At the limit with every connection running a call, a new one is closed at once and the
 * busy one goes on. */
static void test_connection_limit(void **state)
{
	struct fixture *f = *state;
	struct client extra;
	uint8_t buf[] = { 0, 0, 0, 0, 0 }, x;
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	ssize_t n = -1;

	while (!pending)
		pump(f, NULL, 5);
	client_open(&extra, ms_server_port(f->srv));
	for (int i = 0; i < 200 && n != 0; i++) {
		pump(f, NULL, 5);
		n = recv(extra.fd, &x, 1, 0);
	}
	assert_int_equal(n, 0);
	assert_int_equal(ms_server_connections(f->srv), 1);
	assert_int_equal(grpc_call_send(pending, &resp.base), 0);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	client_close(&extra);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A raw TCP connection to the server that has sent `n` bytes of `data`. */
static int raw_open(struct fixture *f, const char *data, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ms_server_port(f->srv)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (n)
		assert_int_equal(send(fd, data, n, MSG_NOSIGNAL), (ssize_t)n);
	return fd;
}

/* Whether the server has closed fd (EOF or reset); reads and drops what it sent before. */
static bool raw_closed(int fd)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Runs the server until fd is closed or `ms` pass; returns the ms it took (or -1). */
static long until_closed(struct fixture *f, int fd, int ms)
{
	long t0 = now_ms();

	while (now_ms() - t0 < ms) {
		pump(f, NULL, 5);
		if (raw_closed(fd))
			return now_ms() - t0;
	}
	return -1;
}

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SETTINGS_EMPTY "\0\0\0\4\0\0\0\0\0"

static int setup_handshake(void **state)
{
	return setup_opts(state, 8, 300, 0);
}

/* --handshake-timeout 300: a connection without the preface and a first SETTINGS frame is
 * closed 300-400 ms after it opened (a sweep every 50 ms); one that sent both is not. */
static void test_handshake_deadline(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *data;
		size_t len;
		bool closed;
	} cases[] = {
		{ "", 0, true },
		{ PREFACE, 12, true },                /* half the preface */
		{ PREFACE, 24, true },                /* no SETTINGS */
		{ PREFACE SETTINGS_EMPTY, 33, false },
		{ "GET / HTTP/1.1\r\n\r\n", 18, true }, /* not HTTP/2: nghttp2 refuses at once */
	};
	int fd[sizeof(cases) / sizeof(cases[0])];
	long t0 = now_ms(), took;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fd[i] = raw_open(f, cases[i].data, cases[i].len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].closed)
			continue;
		took = until_closed(f, fd[i], 1000);
		if (took < 0 || (i < 3 && (now_ms() - t0 < 300 || now_ms() - t0 > 400)))
			fail_msg("case %zu: closed after %ld ms (in %ld)", i, now_ms() - t0, took);
	}
	pump(f, NULL, 300);
	assert_false(raw_closed(fd[3]));
	assert_int_equal(ms_server_connections(f->srv), 2); /* fd[3] and the fixture's client */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		close(fd[i]);
}

static int setup_idle(void **state)
{
	return setup_opts(state, 8, 0, 300);
}

/* --idle-timeout 300: a connection whose last call ended gets GOAWAY(NO_ERROR) and is
 * closed 300-400 ms later; one with a call still open is not, however long it waits. */
static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64], pb[] = { 0, 0, 0, 0, 0 };
	struct body_src b = range_body(buf, 1);
	struct body_src bp = { .p = pb, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	int fd = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	long t0, took;
	struct client cl2;
	uint8_t rb[65536];
	ssize_t n;

	pump(f, &r->closed, 0);
	t0 = now_ms();
	assert_int_equal(r->grpc_status, 0);
	/* a second client keeps a call open: never idle */
	client_open(&cl2, ms_server_port(f->srv));
	request(&cl2, "POST", "/etcdserverpb.KV/Put", "application/grpc", &bp);
	while (!pending) {
		assert_int_equal(nghttp2_session_send(cl2.h2), 0);
		pump(f, NULL, 5);
	}
	while (!f->cl.eof && now_ms() - t0 < 1000)
		pump(f, NULL, 5);
	if (!f->cl.eof || now_ms() - t0 < 300 || now_ms() - t0 > 400)
		fail_msg("idle client closed after %ld ms", now_ms() - t0);
	assert_int_equal(nghttp2_session_want_read(f->cl.h2), 0); /* it had a GOAWAY */
	took = until_closed(f, fd, 1000);
	assert_true(took >= 0);
	for (t0 = now_ms(); now_ms() - t0 < 500;) {
		pump(f, NULL, 5);
		while ((n = recv(cl2.fd, rb, sizeof(rb), MSG_DONTWAIT)) > 0)
			assert_int_equal(nghttp2_session_mem_recv(cl2.h2, rb, (size_t)n), n);
		assert_int_not_equal(n, 0);
		assert_int_equal(nghttp2_session_send(cl2.h2), 0);
	}
	assert_int_equal(ms_server_connections(f->srv), 1);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	client_close(&cl2);
}

static int setup_two_conns(void **state)
{
	return setup_opts(state, 2, 0, 0);
}

/* At --max-connections 2, a new connection takes the place of the oldest one still in its
 * handshake, else of the one idle longest, so silent clients cannot lock others out. */
static void test_limit_evicts(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	struct body_src b = range_body(buf, 1);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	int silent, silent2, idle_a, idle_b;

	pump(f, &r->closed, 0); /* the fixture's client: handshaken, idle */
	silent = raw_open(f, "", 0);
	pump(f, NULL, 20);
	assert_int_equal(ms_server_connections(f->srv), 2);
	/* a second silent one replaces the first, not the idle client */
	silent2 = raw_open(f, "", 0);
	assert_true(until_closed(f, silent, 1000) >= 0);
	assert_false(raw_closed(silent2));
	assert_false(f->cl.eof);
	assert_int_equal(ms_server_connections(f->srv), 2);
	/* a handshaken one replaces the silent one */
	idle_a = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	assert_true(until_closed(f, silent2, 1000) >= 0);
	pump(f, NULL, 20);
	/* now both are idle: a new one replaces the one idle longest (the fixture's client) */
	idle_b = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	for (long t0 = now_ms(); !f->cl.eof && now_ms() - t0 < 1000;)
		pump(f, NULL, 5);
	assert_true(f->cl.eof);
	pump(f, NULL, 20);
	assert_false(raw_closed(idle_a));
	assert_false(raw_closed(idle_b));
	assert_int_equal(ms_server_connections(f->srv), 2);
	close(silent);
	close(silent2);
	close(idle_a);
	close(idle_b);
}

static int setup_pending_cap(void **state)
{
	int rc;

	conn_pending_cap = 10000;
	rc = setup_opts(state, 8, 0, 0);
	conn_pending_cap = 0;
	return rc;
}

/* Request bodies still arriving count against the connection's bound together: with 10000
 * bytes allowed, two unfinished 4000-byte bodies fit, a third does not (RESOURCE_EXHAUSTED,
 * the others untouched); once the first two end they are served, and their bytes are free
 * again for a new call. */
static void test_conn_pending_bytes(void **state)
{
	struct fixture *f = *state;
	static uint8_t body[4000];
	struct body_src open_b[3], fin;
	struct resp *r[3], *again;
	uint8_t rb[64];
	struct body_src b = range_body(rb, 1);

	for (int i = 0; i < 3; i++) {
		open_b[i] = (struct body_src){ .p = body, .len = sizeof(body) };
		r[i] = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc",
			       &open_b[i]);
	}
	/* answered while its body is open: the stream stays half-open, so wait for the status */
	for (long t0 = now_ms(); r[2]->grpc_status < 0 && now_ms() - t0 < 5000;)
		pump(f, NULL, 5);
	assert_int_equal(r[2]->grpc_status, MS_GRPC_RESOURCE_EXHAUSTED);
	assert_string_equal(r[2]->grpc_message,
			    "grpc: connection buffers 12000 request bytes, the most allowed is 10000");
	assert_false(r[0]->closed);
	assert_false(r[1]->closed);
	/* the two bodies end without another byte: zeros, a 0-byte message and trailing bytes,
	 * so both end as malformed, and their bytes are released */
	for (int i = 0; i < 2; i++) {
		fin = (struct body_src){ .p = body, .len = 0, .end_stream = true };
		assert_int_equal(nghttp2_submit_data(f->cl.h2, NGHTTP2_FLAG_END_STREAM, r[i]->id,
						     &(nghttp2_data_provider){ .source.ptr = &fin,
									       .read_callback = c_body }),
				 0);
		pump(f, &r[i]->closed, 0);
		assert_int_equal(r[i]->grpc_status, MS_GRPC_INTERNAL);
	}
	again = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	pump(f, &again->closed, 0);
	assert_int_equal(again->grpc_status, 0);
}

/* A producer of FLOW_MSGS responses of FLOW_MSG_BYTES that stops once FLOW_BUF bytes wait
 * on the call and goes on from the writable callback, as the watch service does. */
#define FLOW_MSGS 256
#define FLOW_MSG_BYTES 4096
#define FLOW_BUF (64 * 1024)

static int flow_sent, flow_writable;
static size_t flow_max_pending;

static void flow_produce(struct grpc_call *call)
{
	static char reason[FLOW_MSG_BYTES];
	Etcdserverpb__WatchResponse resp = ETCDSERVERPB__WATCH_RESPONSE__INIT;

	memset(reason, 'r', sizeof(reason) - 1);
	resp.cancel_reason = reason;
	while (flow_sent < FLOW_MSGS) {
		if (grpc_call_pending_bytes(call) >= FLOW_BUF) {
			grpc_call_notify_writable(call, FLOW_BUF / 2);
			return;
		}
		resp.watch_id = flow_sent++;
		assert_int_equal(grpc_call_send(call, &resp.base), 0);
		if (grpc_call_pending_bytes(call) > flow_max_pending)
			flow_max_pending = grpc_call_pending_bytes(call);
	}
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void flow_open(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	flow_produce(call);
}

static void flow_writable_cb(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	flow_writable++;
	flow_produce(call);
}

static void flow_message(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call, (void)msg, (void)len, (void)ctx;
}

/* 1 MiB through a 64 KiB client window: the producer never has more than its buffer plus one
 * message waiting, is called back as the client takes data, and every message arrives once,
 * in order. */
static void test_stream_writable(void **state)
{
	static const struct grpc_stream_ops ops = { .open = flow_open, .message = flow_message,
						    .writable = flow_writable_cb };
	struct fixture *f = *state;
	struct resp *r;
	size_t off = 0;
	int n = 0;

	flow_sent = flow_writable = 0;
	flow_max_pending = 0;
	ms_server_handle_stream(f->srv, MS_METHOD_LEASE_KEEP_ALIVE, &ops, NULL);
	r = request(&f->cl, "POST", "/etcdserverpb.Lease/LeaseKeepAlive", "application/grpc", NULL);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(flow_sent, FLOW_MSGS);
	assert_true(flow_writable >= (FLOW_MSGS * FLOW_MSG_BYTES) / FLOW_BUF - 1);
	assert_true(flow_max_pending < FLOW_BUF + FLOW_MSG_BYTES + 64);
	while (off + 5 <= r->body_len) {
		size_t len = (size_t)r->body[off + 1] << 24 | (size_t)r->body[off + 2] << 16 |
			     (size_t)r->body[off + 3] << 8 | r->body[off + 4];
		Etcdserverpb__WatchResponse *w =
			etcdserverpb__watch_response__unpack(NULL, len, r->body + off + 5);

		assert_non_null(w);
		assert_int_equal(w->watch_id, n);
		etcdserverpb__watch_response__free_unpacked(w, NULL);
		off += 5 + len;
		n++;
	}
	assert_int_equal(off, r->body_len);
	assert_int_equal(n, FLOW_MSGS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statuses_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_response_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_drops_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_after_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_after_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorizer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup_one_conn, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_deadline, setup_handshake, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup_idle, teardown),
		cmocka_unit_test_setup_teardown(test_limit_evicts, setup_two_conns, teardown),
		cmocka_unit_test_setup_teardown(test_stream_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_pending_bytes, setup_pending_cap, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
