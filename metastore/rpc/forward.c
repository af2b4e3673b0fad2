/* Forwarding of unary calls to the raft leader: a gRPC client over HTTP/2 on the event loop. */
#include "rpc/forward_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_methods.h"
#include "rpc/server.h"
#include "rpc/tls.h"

#define FW_READ_BUF 65536
#define SWEEP_MS 100 /* how often deadlines are checked */

struct fw_conn;

/* One forwarded call: its framed request out, the framed responses and status back. */
struct fw_req {
	uint32_t method;
	char *token, *user, *proof; /* the credentials sent (ms_forward_cred), NULL: none */
	ms_forward_done_fn done;
	void *arg;
	struct fw_conn *conn;
	struct ms_buf body;
	size_t body_off;
	struct ms_buf resp;
	uint32_t status;
	bool have_status;
	char *message;
	uint64_t applied_index;
	int32_t stream_id;    /* once submitted */
	uint64_t deadline_ms; /* answered "request timed out" then; 0: never */
	struct fw_req *prev, *next; /* the connection's calls */
};

struct fw_conn {
	uv_tcp_t tcp;
	uv_connect_t connect;
	struct ms_forward *fw;
	nghttp2_session *h2;
	char target[72];    /* as given: IPv4:PORT, or https://IPv4:PORT */
	const char *authority; /* its IPv4:PORT */
	struct ms_tls *tls;  /* NULL: plain text */
	bool tls_ready;      /* handshake done: HTTP/2 goes through it */
	char *rbuf;
	bool connected, closing;
	bool in_recv; /* inside nghttp2_session_mem_recv: on_read flushes afterwards */
	struct fw_req *reqs; /* submitted, or waiting for the connection */
	struct fw_conn *next;
};

struct fw_write {
	uv_write_t req;
	uv_buf_t buf;
};

static void req_link(struct fw_conn *c, struct fw_req *r)
{
	r->conn = c;
	r->prev = NULL;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
}

static void req_unlink(struct fw_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->conn->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void req_free(struct fw_req *r)
{
	ms_buf_free(&r->body);
	ms_buf_free(&r->resp);
	free(r->message);
	free(r->token);
	free(r->user);
	free(r->proof);
	free(r);
}

/* Hands what the leader answered (or `code`/`why` when it did not) to the caller and frees
 * the (unlinked) request. */
static void req_answer(struct fw_req *r, uint32_t code, const char *why)
{
	struct ms_forward_reply reply = { .status = code, .message = why };

	if (r->have_status)
		reply = (struct ms_forward_reply){ .status = r->status, .message = r->message,
						   .framed = r->resp.data,
						   .framed_len = r->resp.len,
						   .applied_index = r->applied_index };
	r->done(r->arg, &reply);
	req_free(r);
}

static void req_end(struct fw_req *r, uint32_t code, const char *why)
{
	req_unlink(r);
	req_answer(r, code, why);
}

static void on_closed(uv_handle_t *h)
{
	struct fw_conn *c = h->data;

	ms_tls_free(c->tls);
	free(c->rbuf);
	free(c);
}

/* Drops a connection: its calls end UNAVAILABLE, the handle closes through the loop. */
static void conn_close(struct fw_conn *c)
{
	struct fw_conn **pp;

	if (c->closing)
		return;
	c->closing = true;
	for (pp = &c->fw->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	while (c->reqs)
		req_end(c->reqs, MS_GRPC_UNAVAILABLE, MS_ERR_LEADER_UNREACHABLE);
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *w, int status)
{
	struct fw_write *fw = (struct fw_write *)w;

	(void)status; /* a failed write shows up as a failed read */
	free(fw->buf.base);
	free(fw);
}

/* Writes whatever the session has to send (through TLS once its handshake is done). */
static void conn_flush(struct fw_conn *c)
{
	struct ms_buf out = { 0 };
	struct fw_write *w;
	char why[256];
	size_t n;

	while (!c->tls || c->tls_ready) {
		const uint8_t *data;
		ssize_t got = nghttp2_session_mem_send(c->h2, &data);

		if (got < 0 || (got > 0 && ms_buf_append(&out, data, (size_t)got)))
			goto fail;
		if (got == 0)
			break;
	}
	if (c->tls) {
		if (out.len && ms_tls_write(c->tls, out.data, out.len, why, sizeof(why)))
			goto fail;
		ms_buf_free(&out);
		n = ms_tls_out_pending(c->tls);
		if (n && ms_buf_append(&out, NULL, n))
			goto fail;
		out.len = n ? ms_tls_out_take(c->tls, out.data, n) : 0;
	}
	if (!out.len) {
		ms_buf_free(&out);
		return;
	}
	w = malloc(sizeof(*w));
	if (!w)
		goto fail;
	/* libuv copies the descriptor; the bytes stay ours until on_written */
	w->buf = uv_buf_init((char *)out.data, (unsigned)out.len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_written)) {
		free(w);
		goto fail;
	}
	return;
fail:
	ms_buf_free(&out);
	conn_close(c);
}

static ssize_t body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct fw_req *r = src->ptr;
	size_t n = r->body.len - r->body_off;

	(void)h2, (void)stream_id, (void)user;
	if (n > length)
		n = length;
	memcpy(buf, r->body.data + r->body_off, n);
	r->body_off += n;
	if (r->body_off == r->body.len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static nghttp2_nv nv_of(const char *name, const char *value)
{
	return (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
			     NGHTTP2_NV_FLAG_NONE };
}

static int req_submit(struct fw_conn *c, struct fw_req *r)
{
	/* the fixed headers, then room for the credentials present */
	nghttp2_nv nv[7 + 3] = {
		NV(":method", "POST"),
		NV(":scheme", c->tls ? "https" : "http"),
		NV(":path", grpc_method_path(r->method)),
		NV(":authority", c->authority),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV(MS_HDR_FORWARDED, "1"),
	};
	size_t n = 7;
	const char *extra[][2] = { { "token", r->token },
				   { MS_HDR_FORWARDED_USER, r->user },
				   { MS_HDR_FORWARDED_PROOF, r->proof } };

	for (size_t i = 0; i < 3; i++)
		if (extra[i][1])
			nv[n++] = nv_of(extra[i][0], extra[i][1]);
	nghttp2_data_provider dp = { .source.ptr = r, .read_callback = body_read };

	r->stream_id = nghttp2_submit_request(c->h2, NULL, nv, n, &dp, r);
	return r->stream_id < 0 ? -EIO : 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct fw_req *r = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	char num[24];

	(void)flags, (void)user;
	if (!r)
		return 0;
	if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0 && valuelen < sizeof(num)) {
		memcpy(num, value, valuelen);
		num[valuelen] = '\0';
		r->status = (uint32_t)strtoul(num, NULL, 10);
		r->have_status = true;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0 && !r->message) {
		r->message = grpc_percent_decode(value, valuelen);
	} else if (namelen == sizeof(MS_HDR_APPLIED_INDEX) - 1 &&
		   memcmp(name, MS_HDR_APPLIED_INDEX, namelen) == 0 && valuelen < sizeof(num)) {
		memcpy(num, value, valuelen);
		num[valuelen] = '\0';
		r->applied_index = strtoull(num, NULL, 10);
	}
	return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data,
		   size_t len, void *user)
{
	struct fw_req *r = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)flags, (void)user;
	if (r && ms_buf_append(&r->resp, data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
			   void *user)
{
	struct fw_req *r = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)error_code, (void)user;
	if (r)
		req_end(r, MS_GRPC_UNAVAILABLE, MS_ERR_LEADER_UNREACHABLE);
	return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fw_conn *c = h->data;

	(void)suggested;
	buf->base = c->rbuf;
	buf->len = FW_READ_BUF;
}

/* Ciphertext from the leader: the handshake, then records for nghttp2. Returns < 0 when
 * the connection must end (a failed handshake: its calls end "leader unreachable"). */
static ssize_t tls_recv(struct fw_conn *c, const uint8_t *p, size_t len)
{
	char why[256];
	ssize_t n;

	if (ms_tls_feed(c->tls, p, len))
		return -1;
	if (!c->tls_ready) {
		int rc = ms_tls_handshake(c->tls, why, sizeof(why));

		if (rc == -EAGAIN)
			return 0;
		if (rc)
			return -1;
		c->tls_ready = true;
	}
	for (;;) {
		n = ms_tls_read(c->tls, c->rbuf, FW_READ_BUF, why, sizeof(why));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0 || nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->rbuf, (size_t)n) < 0)
			return -1;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fw_conn *c = s->data;
	ssize_t rv = nread;

	/* answers' callbacks may make calls: those are flushed below, not from inside */
	c->in_recv = true;
	if (nread > 0 && c->tls)
		rv = tls_recv(c, (const uint8_t *)buf->base, (size_t)nread);
	else if (nread > 0)
		rv = nghttp2_session_mem_recv(c->h2, (const uint8_t *)buf->base, (size_t)nread);
	c->in_recv = false;
	if (rv < 0)
		conn_close(c);
	else if (!c->closing)
		conn_flush(c);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct fw_conn *c = req->data;
	nghttp2_session_callbacks *cbs = NULL;
	int rv = status;

	if (c->closing)
		return;
	if (!rv)
		rv = nghttp2_session_callbacks_new(&cbs) ? -ENOMEM : 0;
	if (!rv) {
		nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
		nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
		rv = nghttp2_session_client_new(&c->h2, cbs, c) ? -ENOMEM : 0;
		nghttp2_session_callbacks_del(cbs);
	}
	if (!rv)
		rv = nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0) ? -EIO : 0;
	if (!rv)
		rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	for (struct fw_req *r = c->reqs; !rv && r; r = r->next)
		rv = req_submit(c, r);
	if (rv) {
		conn_close(c);
		return;
	}
	c->connected = true;
	if (c->tls) {
		char why[256];

		/* the ClientHello; the calls follow once the handshake is done */
		if (ms_tls_handshake(c->tls, why, sizeof(why)) != -EAGAIN) {
			conn_close(c);
			return;
		}
	}
	conn_flush(c);
}

static struct fw_conn *conn_get(struct ms_forward *fw, const char *target)
{
	struct sockaddr_in sa;
	char host[48];
	bool https = strncmp(target, "https://", 8) == 0;
	const char *addr = https ? target + 8 : target;
	const char *colon = strrchr(addr, ':');
	struct fw_conn *c;

	/* one that got a GOAWAY (the leader closes idle connections) takes no new calls: it
	 * stays listed until it closes, and a new one serves the target */
	for (c = fw->conns; c; c = c->next)
		if (strcmp(c->target, target) == 0 &&
		    (!c->h2 || nghttp2_session_check_request_allowed(c->h2)))
			return c;
	if (!colon || (size_t)(colon - addr) >= sizeof(host) || strlen(target) >= sizeof(c->target))
		return NULL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	/* an https:// leader is verified with --trusted-ca-file: no context, no call */
	if (uv_ip4_addr(host, atoi(colon + 1), &sa) || (https && !fw->tls))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rbuf = malloc(FW_READ_BUF);
	if (!c->rbuf || (https && ms_tls_new(fw->tls, false, host, &c->tls)) ||
	    uv_tcp_init(fw->loop, &c->tcp)) {
		ms_tls_free(c->tls);
		free(c->rbuf);
		free(c);
		return NULL;
	}
	c->fw = fw;
	c->tcp.data = c;
	c->connect.data = c;
	snprintf(c->target, sizeof(c->target), "%s", target);
	c->authority = c->target + (addr - target);
	c->next = fw->conns;
	fw->conns = c;
	if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa, on_connect)) {
		conn_close(c);
		return NULL;
	}
	return c;
}

/* Ends the calls past their deadline, as etcd ends a request its leader does not answer in
 * time (a paused or cut-off leader keeps the connection open). */
static void on_sweep(uv_timer_t *t)
{
	struct ms_forward *fw = t->data;
	uint64_t now = uv_now(fw->loop);
	struct fw_req *late = NULL, *r, *next;

	/* unlinked first: the callbacks may make calls on these connections */
	for (struct fw_conn *c = fw->conns; c; c = c->next) {
		for (r = c->reqs; r; r = next) {
			next = r->next;
			if (!r->deadline_ms || r->deadline_ms > now)
				continue;
			if (r->stream_id > 0) {
				nghttp2_session_set_stream_user_data(c->h2, r->stream_id, NULL);
				nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id,
							  NGHTTP2_CANCEL);
			}
			req_unlink(r);
			r->next = late;
			late = r;
		}
	}
	for (struct fw_conn *c = fw->conns, *cn; c; c = cn) {
		cn = c->next; /* a failed flush unlinks c; it is freed later, from the loop */
		if (c->connected)
			conn_flush(c);
	}
	for (r = late; r; r = next) {
		next = r->next;
		req_answer(r, MS_GRPC_UNAVAILABLE, MS_ERR_REQUEST_TIMEOUT);
	}
}

int ms_forward_new(uv_loop_t *loop, struct ms_forward **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->loop = loop;
	uv_timer_init(loop, &(*out)->sweep);
	(*out)->sweep.data = *out;
	return 0;
}

void ms_forward_set_tls(struct ms_forward *fw, struct ms_tls_ctx *tls)
{
	fw->tls = tls;
}

void ms_forward_set_timeout(struct ms_forward *fw, uint64_t timeout_ms)
{
	fw->timeout_ms = timeout_ms;
	if (timeout_ms)
		uv_timer_start(&fw->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	else
		uv_timer_stop(&fw->sweep);
}

int ms_forward_unary(struct ms_forward *fw, const char *target, uint32_t method,
		     const struct ms_forward_cred *cred, const uint8_t *msg, size_t len,
		     ms_forward_done_fn done, void *arg)
{
	const struct ms_forward_cred none = { 0 };
	struct fw_conn *c;
	struct fw_req *r;
	uint8_t hdr[GRPC_FRAME_HDR];

	if (fw->stopping || len > UINT32_MAX)
		return -ECANCELED;
	c = conn_get(fw, target);
	if (!c)
		return -EHOSTUNREACH;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	grpc_frame_header(hdr, (uint32_t)len);
	if (!cred)
		cred = &none;
	r->token = cred->token ? strdup(cred->token) : NULL;
	r->user = cred->user ? strdup(cred->user) : NULL;
	r->proof = cred->proof ? strdup(cred->proof) : NULL;
	if ((cred->token && !r->token) || (cred->user && !r->user) ||
	    (cred->proof && !r->proof) || ms_buf_append(&r->body, hdr, sizeof(hdr)) ||
	    ms_buf_append(&r->body, msg, len)) {
		req_free(r);
		return -ENOMEM;
	}
	r->method = method;
	r->done = done;
	r->arg = arg;
	r->deadline_ms = fw->timeout_ms ? uv_now(fw->loop) + fw->timeout_ms : 0;
	req_link(c, r);
	if (!c->connected)
		return 0; /* submitted once connected */
	if (req_submit(c, r)) {
		req_unlink(r);
		req_free(r);
		return -EIO;
	}
	/* a call made from an answer's callback goes out when that read is done */
	if (!c->in_recv)
		conn_flush(c);
	return 0;
}

void ms_forward_stop(struct ms_forward *fw)
{
	if (!fw || fw->stopping)
		return;
	fw->stopping = true;
	while (fw->conns)
		conn_close(fw->conns);
	uv_close((uv_handle_t *)&fw->sweep, NULL);
}

void ms_forward_free(struct ms_forward *fw)
{
	free(fw);
}
