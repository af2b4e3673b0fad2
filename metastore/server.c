/* gRPC server: libuv TCP listener, one nghttp2 session per connection, unary dispatch. */
#include "server.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_probes.h"

#define READ_BUF_SIZE (64 * 1024)
/* Stop pulling frames from nghttp2 while this much is queued for a slow reader. */
#define WRITE_HIGH_WATER (4u * 1024 * 1024)
#define MAX_CONCURRENT_STREAMS 256
#define STREAM_WINDOW (1u << 20)
#define CONN_WINDOW (16u << 20)

struct ms_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct ms_server_opts opts;
	grpc_unary_fn handlers[MS_METHOD_COUNT];
	struct grpc_stream_ops streams[MS_METHOD_COUNT];
	void *ctx[MS_METHOD_COUNT];
	struct ms_conn *conns;
	/* Connections with output produced outside their own read callback, flushed from an
	 * idle handle so that no flush (and no close it may cause) runs inside a caller. */
	uv_idle_t flusher;
	struct ms_conn *dirty;
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
	bool in_recv;  /* inside nghttp2_session_mem_recv: no mem_send now */
	bool closing;
	bool dirty;    /* on srv->dirty, waiting for the flusher */
	struct ms_conn *next_dirty;
};

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
};

/* Set while parsing request headers, before the call is accepted. */
struct call_hdrs {
	bool post;
	bool grpc_ct;
	bool have_path;
};

static uint64_t req_seq;
static uint64_t conn_seq;

static void conn_close(struct ms_conn *c);
static void conn_flush(struct ms_conn *c);

/* --- deferred flushing --------------------------------------------------------------- */

static void on_flusher(uv_idle_t *h)
{
	struct ms_server *s = h->data;

	while (s->dirty) {
		struct ms_conn *c = s->dirty;

		s->dirty = c->next_dirty;
		c->dirty = false;
		conn_flush(c);
	}
	uv_idle_stop(&s->flusher);
}

/* Output for `c` is ready: its read callback flushes it, or else the flusher does. */
static void conn_schedule_flush(struct ms_conn *c)
{
	struct ms_server *s = c->srv;

	if (c->in_recv || c->dirty || c->closing)
		return;
	c->dirty = true;
	c->next_dirty = s->dirty;
	s->dirty = c;
	uv_idle_start(&s->flusher, on_flusher);
}

static void conn_unschedule(struct ms_conn *c)
{
	struct ms_conn **p;

	if (!c->dirty)
		return;
	for (p = &c->srv->dirty; *p; p = &(*p)->next_dirty) {
		if (*p == c) {
			*p = c->next_dirty;
			break;
		}
	}
	c->dirty = false;
}

/* --- call lifecycle ------------------------------------------------------------------ */

static void call_end_probe(struct grpc_call *call)
{
	if (call->ended || !call->id)
		return;
	call->ended = true;
	ms_probe_grpc_request_end(call->id, call->method, call->code);
}

static void call_free(struct grpc_call *call)
{
	struct ms_server *s = call->conn->srv;

	if (call->streaming && s->streams[call->method].closed)
		s->streams[call->method].closed(call, s->ctx[call->method]);
	grpc_buf_free(&call->in);
	grpc_buf_free(&call->out);
	free(call->message);
	free(call);
}

static void call_unlink(struct ms_conn *c, struct grpc_call *call)
{
	for (struct grpc_call **p = &c->calls; *p; p = &(*p)->next) {
		if (*p == call) {
			*p = call->next;
			return;
		}
	}
}

static int submit_trailers(struct grpc_call *call)
{
	char code[12];
	char *enc = call->message ? grpc_percent_encode(call->message) : NULL;
	nghttp2_nv nv[2] = {
		{ (uint8_t *)"grpc-status", (uint8_t *)code, 11, 0, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"grpc-message", (uint8_t *)enc, 12, enc ? strlen(enc) : 0,
		  NGHTTP2_NV_FLAG_NONE },
	};
	int rv;

	nv[0].valuelen = (size_t)snprintf(code, sizeof(code), "%u", call->code);
	rv = nghttp2_submit_trailer(call->conn->h2, call->stream_id, nv, enc ? 2 : 1);
	free(enc);
	call->trailers_sent = true;
	call_end_probe(call);
	return rv;
}

static ssize_t data_read_cb(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct grpc_call *call = src->ptr;
	size_t n = call->out.len - call->out_off;

	(void)h2;
	(void)stream_id;
	(void)user;
	if (n > length)
		n = length;
	memcpy(buf, call->out.data + call->out_off, n);
	call->out_off += n;
	if (call->out_off < call->out.len)
		return (ssize_t)n;
	/* Everything queued is out: reuse the buffer for later responses of a stream. */
	call->out.len = call->out_off = 0;
	if (!call->finished)
		return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	if (submit_trailers(call))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)n;
}

/* Submits response HEADERS: with a body, or as Trailers-Only when the call has no message. */
static int submit_response(struct grpc_call *call)
{
	char code[12];
	char *enc = NULL;
	nghttp2_nv nv[4] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
		  NGHTTP2_NV_FLAG_NONE },
	};
	size_t nnv = 2;
	nghttp2_data_provider dp = { .source.ptr = call, .read_callback = data_read_cb };
	bool trailers_only = call->finished && call->out.len == 0;
	int rv;

	call->headers_sent = true;
	if (trailers_only) {
		enc = call->message ? grpc_percent_encode(call->message) : NULL;
		nv[nnv++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)code, 11,
					  (size_t)snprintf(code, sizeof(code), "%u", call->code),
					  NGHTTP2_NV_FLAG_NONE };
		if (enc)
			nv[nnv++] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)enc, 12,
						  strlen(enc), NGHTTP2_NV_FLAG_NONE };
		call->trailers_sent = true;
	}
	rv = nghttp2_submit_response(call->conn->h2, call->stream_id, nv, nnv,
				     trailers_only ? NULL : &dp);
	free(enc);
	if (trailers_only)
		call_end_probe(call);
	return rv;
}

int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t hdr[GRPC_FRAME_HDR];

	if (n > UINT32_MAX)
		return -EMSGSIZE;
	grpc_frame_header(hdr, (uint32_t)n);
	if (grpc_buf_append(&call->out, hdr, sizeof(hdr)) ||
	    grpc_buf_append(&call->out, NULL, n))
		return -ENOMEM;
	protobuf_c_message_pack(m, call->out.data + call->out.len - n);
	if (call->headers_sent) {
		nghttp2_session_resume_data(call->conn->h2, call->stream_id);
		conn_schedule_flush(call->conn);
	}
	return 0;
}

void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message)
{
	struct ms_conn *c = call->conn;

	if (call->finished)
		return;
	call->finished = true;
	call->code = code;
	if (message && *message)
		call->message = strdup(message);
	if (!call->headers_sent) {
		if (submit_response(call))
			call_end_probe(call);
	} else {
		nghttp2_session_resume_data(c->h2, call->stream_id);
	}
	conn_schedule_flush(c);
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	char msg[160];

	ms_probe_grpc_panic(call->id, call->method);
	/* A half-built response must not go out: the call ends with INTERNAL only. */
	call->out.len = call->out_off = 0;
	snprintf(msg, sizeof(msg), "internal error: %s", what);
	grpc_call_finish(call, MS_GRPC_INTERNAL, msg);
}

/* Runs the handler once the whole request body is in. */
static void call_dispatch(struct ms_server *s, struct grpc_call *call)
{
	const uint8_t *msg = NULL;
	size_t len = 0;
	char err[128];

	if (call->finished)
		return;
	switch (grpc_unframe(call->in.data, call->in.len, s->opts.max_recv_bytes, &msg, &len)) {
	case GRPC_UNFRAME_OK:
		s->handlers[call->method](call, msg, len, s->ctx[call->method]);
		return;
	case GRPC_UNFRAME_TOO_LARGE:
		snprintf(err, sizeof(err), "grpc: received message larger than max (%zu vs. %zu)", len,
			 s->opts.max_recv_bytes);
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
		return;
	case GRPC_UNFRAME_COMPRESSED:
		grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED,
				 "grpc: compressed messages are not supported");
		return;
	case GRPC_UNFRAME_EMPTY:
	case GRPC_UNFRAME_TRUNCATED:
	case GRPC_UNFRAME_TRAILING:
		grpc_call_finish(call, MS_GRPC_INTERNAL,
				 "grpc: error unmarshalling request: not exactly one message");
		return;
	}
}

/* --- nghttp2 callbacks --------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ms_conn *c = user;
	struct grpc_call *call;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = calloc(1, sizeof(*call) + sizeof(struct call_hdrs));
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	call->conn = c;
	call->stream_id = f->hd.stream_id;
	call->next = c->calls;
	c->calls = call;
	nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, call);
	return 0;
}

static struct call_hdrs *hdrs_of(struct grpc_call *call)
{
	return (struct call_hdrs *)(call + 1);
}

static bool eq(const uint8_t *v, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(v, s, len) == 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct grpc_call *call = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	struct call_hdrs *h;

	(void)flags;
	(void)user;
	if (!call || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	h = hdrs_of(call);
	if (eq(name, namelen, ":path")) {
		call->method = ms_method_lookup((const char *)value, valuelen);
		h->have_path = true;
	} else if (eq(name, namelen, ":method")) {
		h->post = eq(value, valuelen, "POST");
	} else if (eq(name, namelen, "content-type")) {
		/* application/grpc, application/grpc+proto, application/grpc;... */
		h->grpc_ct = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
			     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	}
	return 0;
}

/* Rejects a request that is not gRPC at the HTTP level (no call, no probes). */
static void reject_http(struct ms_conn *c, struct grpc_call *call, const char *status)
{
	nghttp2_nv nv[] = { { (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
			      NGHTTP2_NV_FLAG_NONE } };

	call->finished = call->headers_sent = call->trailers_sent = call->ended = true;
	nghttp2_submit_response(c->h2, call->stream_id, nv, 1, NULL);
}

static void on_request_headers(struct ms_conn *c, struct grpc_call *call)
{
	struct ms_server *s = c->srv;
	struct call_hdrs *h = hdrs_of(call);

	if (!h->post || !h->have_path) {
		reject_http(c, call, "405");
		return;
	}
	if (!h->grpc_ct) {
		reject_http(c, call, "415");
		return;
	}
	call->id = ++req_seq;
	ms_probe_grpc_request_begin(call->id, call->method);
	if (s->streams[call->method].message) {
		call->streaming = true;
		/* Headers now, so that responses can follow whenever the service has them. */
		if (submit_response(call)) {
			grpc_call_fault(call, "cannot submit response headers");
			return;
		}
		if (s->streams[call->method].open)
			s->streams[call->method].open(call, s->ctx[call->method]);
		return;
	}
	if (!s->handlers[call->method])
		grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED,
				 call->method == MS_METHOD_UNKNOWN ? "unknown method"
								   : "method not implemented");
}

/* Hands every complete message buffered on a streaming call to its service, in order. */
static void stream_deliver(struct ms_server *s, struct grpc_call *call)
{
	size_t off = 0;

	while (!call->finished && call->in.len - off >= GRPC_FRAME_HDR) {
		const uint8_t *p = call->in.data + off;
		size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];

		if (p[0]) {
			grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED,
					 "grpc: compressed messages are not supported");
			break;
		}
		if (n > s->opts.max_recv_bytes) {
			grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED,
					 "grpc: received message larger than max");
			break;
		}
		if (call->in.len - off - GRPC_FRAME_HDR < n)
			break; /* the rest of this message has not arrived yet */
		off += GRPC_FRAME_HDR + n;
		s->streams[call->method].message(call, p + GRPC_FRAME_HDR, n, s->ctx[call->method]);
	}
	if (call->finished) {
		call->in.len = 0;
		return;
	}
	memmove(call->in.data, call->in.data + off, call->in.len - off);
	call->in.len -= off;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ms_conn *c = user;
	struct grpc_call *call;

	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (!call)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		on_request_headers(c, call);
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	if (!call->streaming)
		call_dispatch(c->srv, call);
	else if (!call->finished && c->srv->streams[call->method].half_close)
		c->srv->streams[call->method].half_close(call, c->srv->ctx[call->method]);
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user)
{
	struct ms_conn *c = user;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
	char err[128];

	(void)flags;
	if (!call || call->finished)
		return 0;
	/* Bound what one call may buffer: the largest message plus its prefix. */
	if (call->in.len + len > c->srv->opts.max_recv_bytes + GRPC_FRAME_HDR) {
		snprintf(err, sizeof(err), "grpc: received message larger than max (%zu vs. %zu)",
			 call->in.len + len - GRPC_FRAME_HDR, c->srv->opts.max_recv_bytes);
		grpc_buf_free(&call->in);
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
		return 0;
	}
	if (grpc_buf_append(&call->in, data, len))
		grpc_call_fault(call, "out of memory buffering the request");
	else if (call->streaming)
		stream_deliver(c->srv, call);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
			   void *user)
{
	struct ms_conn *c = user;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)error_code;
	if (!call)
		return 0;
	if (!call->ended) {
		/* Reset or closed before its trailers went out. */
		call->code = MS_GRPC_CANCELLED;
		call_end_probe(call);
	}
	call_unlink(c, call);
	call_free(call);
	return 0;
}

/* --- connection I/O ------------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct ms_conn *c = req->data;

	free(w->buf.base);
	free(w);
	if (status < 0)
		conn_close(c);
	else if (!c->closing)
		conn_flush(c);
}

static void conn_flush(struct ms_conn *c)
{
	struct grpc_buf out = { 0 };
	struct write_req *w;
	const uint8_t *data;
	ssize_t n;

	if (c->closing || c->in_recv)
		return;
	while (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + out.len < WRITE_HIGH_WATER) {
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0) {
			grpc_buf_free(&out);
			conn_close(c);
			return;
		}
		if (n == 0)
			break;
		if (grpc_buf_append(&out, data, (size_t)n)) {
			grpc_buf_free(&out);
			conn_close(c);
			return;
		}
	}
	if (out.len) {
		w = malloc(sizeof(*w));
		if (!w) {
			grpc_buf_free(&out);
			conn_close(c);
			return;
		}
		w->buf = uv_buf_init((char *)out.data, (unsigned)out.len);
		w->req.data = c;
		if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write)) {
			free(w->buf.base);
			free(w);
			conn_close(c);
			return;
		}
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
		conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ms_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->rbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct ms_conn *c = st->data;
	ssize_t rv;

	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	c->in_recv = true;
	rv = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base, (size_t)nread);
	c->in_recv = false;
	if (rv < 0) {
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct ms_conn *c = h->data;

	free(c->rbuf);
	free(c);
}

static void conn_close(struct ms_conn *c)
{
	struct ms_server *s = c->srv;
	struct grpc_call *call, *next;

	if (c->closing)
		return;
	c->closing = true;
	conn_unschedule(c);
	for (call = c->calls; call; call = next) {
		next = call->next;
		if (!call->ended) {
			call->code = MS_GRPC_CANCELLED;
			call_end_probe(call);
		}
		call_free(call);
	}
	c->calls = NULL;
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	ms_probe_conn_close(c->id, s->nconns);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static int conn_session_new(struct ms_conn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
	};
	int rv;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	rv = nghttp2_session_server_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (rv)
		return -ENOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW))
		return -ENOMEM;
	return 0;
}

static void on_rejected_closed(uv_handle_t *h)
{
	free(h);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct ms_server *s = l->data;
	struct ms_conn *c;

	if (status < 0)
		return;
	if (s->nconns >= s->opts.max_connections) {
		/* Over the limit: accept to take it off the backlog, then close at once. */
		uv_tcp_t *t = malloc(sizeof(*t));

		if (!t)
			return;
		uv_tcp_init(s->loop, t);
		uv_accept(l, (uv_stream_t *)t);
		uv_close((uv_handle_t *)t, on_rejected_closed);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	c->rbuf = malloc(READ_BUF_SIZE);
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	if (!c->rbuf || uv_accept(l, (uv_stream_t *)&c->tcp) || conn_session_new(c)) {
		if (c->h2)
			nghttp2_session_del(c->h2);
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	c->id = ++conn_seq;
	ms_probe_conn_open(c->id, s->nconns);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	conn_flush(c);
}

int ms_server_new(uv_loop_t *loop, const struct ms_server_opts *o, struct ms_server **out)
{
	struct sockaddr_in addr;
	struct ms_server *s;
	int err;

	*out = NULL;
	err = uv_ip4_addr(o->host, o->port, &addr);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->opts = *o;
	uv_idle_init(loop, &s->flusher);
	s->flusher.data = s;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	err = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (err) {
		/* The handle must still be closed through the loop before it is freed. */
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_close((uv_handle_t *)&s->flusher, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

void ms_server_handle(struct ms_server *s, enum ms_method m, grpc_unary_fn fn, void *ctx)
{
	if ((unsigned)m >= MS_METHOD_COUNT || m == MS_METHOD_UNKNOWN)
		return;
	s->handlers[m] = fn;
	s->ctx[m] = ctx;
}

void ms_server_handle_stream(struct ms_server *s, enum ms_method m,
			     const struct grpc_stream_ops *ops, void *ctx)
{
	if ((unsigned)m >= MS_METHOD_COUNT || m == MS_METHOD_UNKNOWN || !ops->message)
		return;
	s->streams[m] = *ops;
	s->ctx[m] = ctx;
}

uint16_t ms_server_port(const struct ms_server *s)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

unsigned ms_server_connections(const struct ms_server *s)
{
	return s->nconns;
}

void ms_server_shutdown(struct ms_server *s)
{
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	uv_close((uv_handle_t *)&s->listener, NULL);
	uv_close((uv_handle_t *)&s->flusher, NULL);
	while (s->conns)
		conn_close(s->conns);
}

void ms_server_free(struct ms_server *s)
{
	free(s);
}
