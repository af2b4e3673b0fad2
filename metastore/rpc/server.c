/* gRPC server: libuv TCP listener, connections, one nghttp2 session each, I/O and shutdown. */
#include "rpc/server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_probes.h"
#include "probe/trace.h"
#include "rpc/server_conn.h"

/* Stop pulling frames from nghttp2 while this much is queued for a slow reader. */
#define WRITE_HIGH_WATER (4u * 1024 * 1024)
#define MAX_CONCURRENT_STREAMS 256
#define STREAM_WINDOW (1u << 20)
#define CONN_WINDOW (16u << 20)
/* Request bytes one connection may buffer across its calls: at least this, and at least
 * four of the largest messages. */
#define CONN_IN_CAP_MIN (16u << 20)

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
	char *base; /* what to free: buf may start past bytes already written */
};

static uint64_t conn_seq;


/* --- deferred flushing --------------------------------------------------------------- */

static void on_flusher(uv_idle_t *h)
{
	struct ms_server *s = h->data;

	while (s->dirty) {
		struct ms_conn *c = s->dirty;

		s->dirty = c->next_dirty;
		c->dirty = false;
		ms_conn_flush(c);
	}
	uv_idle_stop(&s->flusher);
}

void ms_conn_schedule_flush(struct ms_conn *c)
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

/* --- connection I/O ------------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct ms_conn *c = req->data;

	free(w->base);
	free(w);
	if (status < 0)
		ms_conn_close(c);
	else if (!c->closing)
		ms_conn_flush(c);
}

int ms_conn_write_raw(struct ms_conn *c, uint8_t *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	struct write_req *w;
	int n;

	/* Written at once when the socket takes it (libuv refuses while earlier writes are
	 * queued, so the order holds): no request, and no change of the poll set, which a
	 * queued write costs twice (epoll_ctl to watch for POLLOUT, again to stop). */
	n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == (int)len) {
		free(data);
		return 0;
	}
	if (n < 0 && n != UV_EAGAIN) {
		free(data);
		return -EIO;
	}
	if (n > 0)
		b = uv_buf_init((char *)data + n, (unsigned)(len - (size_t)n));
	w = malloc(sizeof(*w));
	if (!w) {
		free(data);
		return -ENOMEM;
	}
	w->buf = b;
	w->base = (char *)data;
	w->req.data = c;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write)) {
		free(data);
		free(w);
		return -EIO;
	}
	return 0;
}

void ms_conn_flush(struct ms_conn *c)
{
	struct ms_buf out = { 0 };
	const uint8_t *data;
	bool more = false;
	ssize_t n;

	if (c->closing || c->in_recv)
		return;
	if (c->tls_dead) {
		/* its alert went out: the client has read why */
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
			ms_conn_close(c);
		return;
	}
	/* nghttp2 speaks only once the TLS handshake is done */
	while ((!c->tls || c->tls_ready) && !(more = uv_stream_get_write_queue_size(
		       (uv_stream_t *)&c->tcp) + out.len >= WRITE_HIGH_WATER)) {
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0) {
			ms_buf_free(&out);
			ms_conn_close(c);
			return;
		}
		if (n == 0)
			break;
		if (ms_buf_append(&out, data, (size_t)n)) {
			ms_buf_free(&out);
			ms_conn_close(c);
			return;
		}
	}
	if (c->tls && ms_conn_tls_seal(c, &out)) {
		ms_buf_free(&out);
		ms_conn_close(c);
		return;
	}
	if (out.len && ms_conn_write_raw(c, out.data, out.len)) {
		ms_conn_close(c);
		return;
	}
	if (out.len)
		ms_trace_stamp_ends();
	/* stopped at the high-water mark and all of it written at once: no write callback
	 * will come to send the rest */
	if (more && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
		ms_conn_schedule_flush(c);
	if (c->tls && !c->tls_ready)
		return; /* no session to ask yet */
	/* services refill streams that drained; their output goes out from the flusher */
	grpc_call_run_writable(c);
	if (c->closing)
		return;
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
		ms_conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ms_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

ssize_t ms_conn_h2_recv(struct ms_conn *c, const uint8_t *p, size_t len)
{
	ssize_t rv;

	c->in_recv = true;
	rv = nghttp2_session_mem_recv(c->h2, p, len);
	c->in_recv = false;
	return rv;
}

static void conn_read(struct ms_conn *c, ssize_t nread, const uv_buf_t *buf)
{
	ssize_t rv;

	if (nread < 0) {
		ms_conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	if (c->tls) {
		ms_conn_tls_recv(c, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	rv = ms_conn_h2_recv(c, (const uint8_t *)buf->base, (size_t)nread);
	if (rv < 0) {
		ms_conn_close(c);
		return;
	}
	ms_conn_flush(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	/* the calls this read begins are timed from here (probe/trace.h) */
	ms_trace_read_begin();
	conn_read(st->data, nread, buf);
	ms_trace_read_end();
}

static void on_conn_closed(uv_handle_t *h)
{
	struct ms_conn *c = h->data;

	ms_conn_tls_free(c);
	free(c);
}

void ms_conn_close(struct ms_conn *c)
{
	struct ms_server *s = c->srv;
	struct grpc_call *call, *next;

	if (c->closing)
		return;
	c->closing = true;
	conn_unschedule(c);
	for (call = c->calls; call; call = next) {
		next = call->next;
		grpc_call_detach(call);
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
	else
		s->conns_tail = c->prev;
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
	grpc_call_set_h2_callbacks(cbs);
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
	if (s->nconns >= s->conn_cap)
		ms_conn_guard_make_room(s);
	if (s->nconns >= s->conn_cap) {
		/* Every connection runs a call: accept to take it off the backlog, then close. */
		uv_tcp_t *t = malloc(sizeof(*t));

		if (!t)
			return;
		uv_tcp_init(s->loop, t);
		if (uv_accept(l, (uv_stream_t *)t) == 0)
			ms_probe_conn_reject(s->nconns);
		uv_close((uv_handle_t *)t, on_rejected_closed);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) || conn_session_new(c) ||
	    (s->opts.tls && ms_conn_tls_start(c))) {
		if (c->h2)
			nghttp2_session_del(c->h2);
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->prev = s->conns_tail;
	if (s->conns_tail)
		s->conns_tail->next = c;
	else
		s->conns = c;
	s->conns_tail = c;
	s->nconns++;
	c->id = ++conn_seq;
	c->opened_ms = c->idle_since_ms = uv_now(s->loop);
	ms_probe_conn_open(c->id, s->nconns);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	ms_conn_flush(c);
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
	ms_ratelimit_init(&s->rate, o->rate_limit, o->rate_burst, uv_hrtime());
	s->conn_in_cap = 4 * (o->max_recv_bytes + GRPC_FRAME_HDR);
	if (s->conn_in_cap < CONN_IN_CAP_MIN)
		s->conn_in_cap = CONN_IN_CAP_MIN;
	if (o->max_conn_pending_bytes)
		s->conn_in_cap = o->max_conn_pending_bytes;
	uv_idle_init(loop, &s->flusher);
	s->flusher.data = s;
	ms_conn_guard_init(s);
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	err = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (err) {
		/* The handle must still be closed through the loop before it is freed. */
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_close((uv_handle_t *)&s->flusher, NULL);
		uv_close((uv_handle_t *)&s->sweep, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		free(s);
		return err;
	}
	ms_conn_guard_start(s);
	*out = s;
	return 0;
}

void ms_server_handle(struct ms_server *s, uint32_t m, grpc_unary_fn fn, void *ctx)
{
	if (m >= GRPC_METHOD_COUNT || m == MS_METHOD_UNKNOWN)
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

void ms_server_set_authorizer(struct ms_server *s, ms_authorizer_fn fn, void *ctx)
{
	s->authorize = fn;
	s->authorize_ctx = ctx;
}

void ms_server_set_applied_index(struct ms_server *s, uint64_t (*fn)(void *arg), void *arg)
{
	s->applied_fn = fn;
	s->applied_arg = arg;
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
	uv_close((uv_handle_t *)&s->sweep, NULL);
	while (s->conns)
		ms_conn_close(s->conns);
}

void ms_server_free(struct ms_server *s)
{
	free(s);
}
