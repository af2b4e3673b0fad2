/* gRPC calls on HTTP/2 streams: request headers and body, dispatch, responses, status, probes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/trace.h"
#include "rpc/server_conn.h"

/* Set while parsing request headers, before the call is accepted. */
struct call_hdrs {
	bool post;
	bool grpc_ct;
	bool have_path;
	size_t path_len;
	char path[GRPC_PATH_MAX];
};

static uint64_t req_seq;

static struct call_hdrs *hdrs_of(struct grpc_call *call)
{
	return (struct call_hdrs *)(call + 1);
}

/* --- lifecycle ----------------------------------------------------------------------- */

static void call_end_probe(struct grpc_call *call)
{
	if (call->ended || !call->id)
		return;
	call->ended = true;
	ms_trace_grpc_end(call->id, grpc_probe_method(call->method), call->code, call->trace_t0);
}

/* Releases the request bytes the call buffers, and their share of the connection's bound. */
static void call_in_drop(struct grpc_call *call)
{
	if (call->conn)
		call->conn->in_bytes -= call->in.len;
	ms_buf_free(&call->in);
}

void grpc_call_ref(struct grpc_call *call)
{
	call->refs++;
}

void grpc_call_unref(struct grpc_call *call)
{
	if (!call || --call->refs)
		return;
	ms_buf_free(&call->in);
	ms_buf_free(&call->out);
	free(call->message);
	free(call->token);
	free(call->fwd_user);
	free(call->fwd_proof);
	free(call->auth_user);
	free(call);
}

bool grpc_call_cancelled(const struct grpc_call *call)
{
	return call->gone;
}

size_t grpc_call_pending_bytes(const struct grpc_call *call)
{
	return call->out.len - call->out_off;
}

/* Sets the call's writable callback due if its pending bytes are below the armed mark. */
static bool call_check_writable(struct grpc_call *call)
{
	if (!call->writable_below || grpc_call_pending_bytes(call) >= call->writable_below)
		return false;
	call->writable_below = 0;
	call->writable_due = true;
	call->conn->writable_due = true;
	return true;
}

void grpc_call_notify_writable(struct grpc_call *call, size_t below)
{
	if (call->gone || call->finished || !below)
		return;
	call->writable_below = below;
	if (call_check_writable(call))
		ms_conn_schedule_flush(call->conn);
}

void grpc_call_run_writable(struct ms_conn *c)
{
	struct ms_server *s = c->srv;

	if (!c->writable_due)
		return;
	c->writable_due = false;
	/* a callback only queues output: the list of calls does not change under it */
	for (struct grpc_call *call = c->calls; call; call = call->next) {
		if (!call->writable_due)
			continue;
		call->writable_due = false;
		if (!call->gone && !call->finished && call->streaming &&
		    s->streams[call->method].writable)
			s->streams[call->method].writable(call, s->ctx[call->method]);
	}
}

void grpc_call_detach(struct grpc_call *call)
{
	struct ms_conn *c = call->conn;
	struct ms_server *s = c->srv;

	if (call->gone)
		return;
	call->gone = true;
	if (!call->ended) {
		/* Reset or closed before its trailers were queued. */
		call->code = MS_GRPC_CANCELLED;
		call_end_probe(call);
	}
	if (call->streaming && s->streams[call->method].closed)
		s->streams[call->method].closed(call, s->ctx[call->method]);
	call_in_drop(call);
	ms_buf_free(&call->out);
	call->out_off = 0;
	for (struct grpc_call **p = &c->calls; *p; p = &(*p)->next) {
		if (*p == call) {
			*p = call->next;
			break;
		}
	}
	/* idle from now on if it was the last one (grpc-go's MaxConnectionIdle) */
	if (!c->calls)
		c->idle_since_ms = uv_now(s->loop);
	call->conn = NULL;
	call->next = NULL;
	grpc_call_unref(call);
}

/* --- responses ----------------------------------------------------------------------- */

/* Appends the applied-index trailer of a forwarded call to nv; returns the new count. */
static size_t add_applied_index(const struct grpc_call *call, nghttp2_nv *nv, size_t n,
				char *num, size_t numlen)
{
	if (!call->forwarded || !call->applied_index)
		return n;
	nv[n] = (nghttp2_nv){ (uint8_t *)MS_HDR_APPLIED_INDEX, (uint8_t *)num,
			      sizeof(MS_HDR_APPLIED_INDEX) - 1,
			      (size_t)snprintf(num, numlen, "%llu",
					       (unsigned long long)call->applied_index),
			      NGHTTP2_NV_FLAG_NONE };
	return n + 1;
}

/* Moves the bytes still pending to the front once most of the buffer has been sent, so a
 * stream that is always partly drained does not grow its buffer without end. */
static void call_out_compact(struct grpc_call *call)
{
	if (call->out_off == 0 || call->out_off < call->out.len / 2)
		return;
	memmove(call->out.data, call->out.data + call->out_off, call->out.len - call->out_off);
	call->out.len -= call->out_off;
	call->out_off = 0;
}

static int submit_trailers(struct grpc_call *call)
{
	char code[12], applied[24];
	char *enc = call->message ? grpc_percent_encode(call->message) : NULL;
	nghttp2_nv nv[3] = {
		{ (uint8_t *)"grpc-status", (uint8_t *)code, 11, 0, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"grpc-message", (uint8_t *)enc, 12, enc ? strlen(enc) : 0,
		  NGHTTP2_NV_FLAG_NONE },
	};
	size_t nnv;
	int rv;

	nv[0].valuelen = (size_t)snprintf(code, sizeof(code), "%u", call->code);
	nnv = add_applied_index(call, nv, enc ? 2 : 1, applied, sizeof(applied));
	rv = nghttp2_submit_trailer(call->conn->h2, call->stream_id, nv, nnv);
	free(enc);
	call->trailers_sent = true;
	call_end_probe(call);
	return rv;
}

/* Hands queued response bytes to nghttp2 as flow control allows; defers when it has none. */
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
	if (n)
		memcpy(buf, call->out.data + call->out_off, n);
	call->out_off += n;
	call_check_writable(call);
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
	char code[12], applied[24];
	char *enc = NULL;
	nghttp2_nv nv[5] = {
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
		nnv = add_applied_index(call, nv, nnv, applied, sizeof(applied));
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

	if (call->gone)
		return -ECANCELED;
	if (call->finished)
		return -EINVAL;
	if (n > UINT32_MAX)
		return -EMSGSIZE;
	grpc_frame_header(hdr, (uint32_t)n);
	call_out_compact(call);
	if (ms_buf_append(&call->out, hdr, sizeof(hdr)) ||
	    ms_buf_append(&call->out, NULL, n))
		return -ENOMEM;
	protobuf_c_message_pack(m, call->out.data + call->out.len - n);
	if (call->headers_sent) {
		nghttp2_session_resume_data(call->conn->h2, call->stream_id);
		ms_conn_schedule_flush(call->conn);
	}
	return 0;
}

int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len)
{
	if (call->gone)
		return -ECANCELED;
	if (call->finished)
		return -EINVAL;
	call_out_compact(call);
	if (ms_buf_append(&call->out, framed, len))
		return -ENOMEM;
	if (call->headers_sent) {
		nghttp2_session_resume_data(call->conn->h2, call->stream_id);
		ms_conn_schedule_flush(call->conn);
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
	/* what the forwarder must have applied before it answers: this call's effects */
	if (call->forwarded && c && c->srv->applied_fn)
		call->applied_index = c->srv->applied_fn(c->srv->applied_arg);
	if (message && *message)
		call->message = strdup(message);
	if (call->gone)
		return; /* ended as CANCELLED when the stream went away */
	if (!call->headers_sent) {
		if (submit_response(call))
			call_end_probe(call);
	} else {
		nghttp2_session_resume_data(c->h2, call->stream_id);
	}
	ms_conn_schedule_flush(c);
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	char msg[160];

	/* Only a call that this fault ends with INTERNAL counts as a panic. */
	if (call->finished || call->gone)
		return;
	ms_trace_grpc_panic(call->id, grpc_probe_method(call->method));
	/* A half-built response must not go out: the call ends with INTERNAL only. */
	call->out.len = call->out_off = 0;
	snprintf(msg, sizeof(msg), "internal error: %s", what);
	grpc_call_finish(call, MS_GRPC_INTERNAL, msg);
}

/* --- requests ------------------------------------------------------------------------ */

/* Asks the server's authorizer about `call`; false when it ended the call. */
static bool call_authorized(struct ms_server *s, struct grpc_call *call, const uint8_t *msg,
			    size_t len)
{
	const char *why = NULL;
	uint32_t code;

	if (!s->authorize)
		return true;
	code = s->authorize(call, msg, len, &why, s->authorize_ctx);
	if (code == MS_GRPC_OK)
		return true;
	grpc_call_finish(call, code, why);
	return false;
}

/* Runs the method's unary handler. `held`: the references on the call before it; a handler
 * that returns with neither a status nor one of its own ends the call through the fault path. */
static void run_handler(struct ms_server *s, struct grpc_call *call, const uint8_t *msg,
			size_t len, unsigned held)
{
	s->handlers[call->method](call, msg, len, s->ctx[call->method]);
	if (!call->finished && call->refs <= held)
		grpc_call_fault(call, "handler returned without a status");
}

void grpc_call_redispatch(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	if (call->finished || call->gone || !call->conn || call->streaming)
		return;
	run_handler(call->conn->srv, call, msg, len, call->refs);
}

/* Runs the unary handler once the whole request body is in. */
static void call_dispatch(struct ms_server *s, struct grpc_call *call)
{
	const uint8_t *msg = NULL;
	size_t len = 0;
	char err[128];

	if (call->finished)
		return;
	switch (grpc_unframe(call->in.data, call->in.len, s->opts.max_recv_bytes, &msg, &len)) {
	case GRPC_UNFRAME_OK:
		if (!call_authorized(s, call, msg, len))
			break;
		call->running = true;
		run_handler(s, call, msg, len, 1); /* the stream's own reference */
		break;
	case GRPC_UNFRAME_TOO_LARGE:
		snprintf(err, sizeof(err), "grpc: received message larger than max (%zu vs. %zu)", len,
			 s->opts.max_recv_bytes);
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
		break;
	case GRPC_UNFRAME_COMPRESSED:
		grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED,
				 "grpc: compressed messages are not supported");
		break;
	case GRPC_UNFRAME_EMPTY:
	case GRPC_UNFRAME_TRUNCATED:
	case GRPC_UNFRAME_TRAILING:
		grpc_call_finish(call, MS_GRPC_INTERNAL,
				 "grpc: error unmarshalling request: not exactly one message");
		break;
	}
	call_in_drop(call);
}

/* Hands every complete message buffered on a streaming call to its service, in order. */
static void stream_deliver(struct ms_server *s, struct grpc_call *call)
{
	size_t off = 0;

	while (!call->finished && call->in.len - off >= GRPC_FRAME_HDR) {
		const uint8_t *p = call->in.data + off;
		size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
		char err[128];

		if (p[0]) {
			grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED,
					 "grpc: compressed messages are not supported");
			break;
		}
		if (n > s->opts.max_recv_bytes) {
			snprintf(err, sizeof(err),
				 "grpc: received message larger than max (%zu vs. %zu)", n,
				 s->opts.max_recv_bytes);
			grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
			break;
		}
		if (call->in.len - off - GRPC_FRAME_HDR < n)
			break; /* the rest of this message has not arrived yet */
		off += GRPC_FRAME_HDR + n;
		s->streams[call->method].message(call, p + GRPC_FRAME_HDR, n, s->ctx[call->method]);
	}
	if (call->finished) {
		call_in_drop(call);
		return;
	}
	memmove(call->in.data, call->in.data + off, call->in.len - off);
	call->in.len -= off;
	call->conn->in_bytes -= off;
}

/* Whether any routed method belongs to the service of `path` (for grpc-go's wording). */
static bool service_known(const struct ms_server *s, const char *path, size_t len)
{
	const char *svc, *meth, *rsvc, *rmeth;
	size_t svc_len, meth_len, rsvc_len, rmeth_len;

	if (grpc_path_split(path, len, &svc, &svc_len, &meth, &meth_len))
		return false;
	for (unsigned i = 1; i < GRPC_METHOD_COUNT; i++) {
		const char *name = grpc_method_path(i);

		if (!s->handlers[i] && !s->streams[i].message)
			continue;
		if (!grpc_path_split(name, strlen(name), &rsvc, &rsvc_len, &rmeth, &rmeth_len) &&
		    rsvc_len == svc_len && memcmp(rsvc, svc, svc_len) == 0)
			return true;
	}
	return false;
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
	char err[GRPC_PATH_MAX + 64];

	if (!h->post || !h->have_path) {
		reject_http(c, call, "405");
		return;
	}
	if (!h->grpc_ct) {
		reject_http(c, call, "415");
		return;
	}
	call->id = ++req_seq;
	call->trace_t0 = ms_trace_grpc_begin(call->id, grpc_probe_method(call->method));
	if (c->refuse_why) {
		/* a clear answer to a client that does not speak TLS, in a code clients do not
		 * retry (its idle deadline ends the connection) */
		grpc_call_finish(call, MS_GRPC_FAILED_PRECONDITION, c->refuse_why);
		return;
	}
	if (!ms_ratelimit_take(&s->rate, uv_hrtime())) {
		ms_trace_grpc_rate_limited(call->id, grpc_probe_method(call->method));
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, "etcdserver: too many requests");
		return;
	}
	if (s->streams[call->method].message) {
		/* Refused before it opens: Trailers-Only, the service never sees it. */
		if (!call_authorized(s, call, NULL, 0))
			return;
		call->streaming = true;
		call->running = true;
		/* Headers now, so that responses can follow whenever the service has them. */
		if (submit_response(call)) {
			grpc_call_fault(call, "cannot submit response headers");
			return;
		}
		if (s->streams[call->method].open)
			s->streams[call->method].open(call, s->ctx[call->method]);
		return;
	}
	if (!s->handlers[call->method]) {
		grpc_unimplemented_message(h->path, h->path_len,
					   service_known(s, h->path, h->path_len), err, sizeof(err));
		grpc_call_finish(call, MS_GRPC_UNIMPLEMENTED, err);
	}
}

/* --- nghttp2 stream callbacks -------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ms_conn *c = user;
	struct grpc_call *call;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = calloc(1, sizeof(*call) + sizeof(struct call_hdrs));
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	call->refs = 1;
	call->conn = c;
	call->stream_id = f->hd.stream_id;
	call->next = c->calls;
	c->calls = call;
	nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, call);
	return 0;
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
		call->method = grpc_method_lookup((const char *)value, valuelen);
		h->have_path = true;
		h->path_len = valuelen < sizeof(h->path) ? valuelen : sizeof(h->path) - 1;
		memcpy(h->path, value, h->path_len);
	} else if (eq(name, namelen, ":method")) {
		h->post = eq(value, valuelen, "POST");
	} else if (eq(name, namelen, "content-type")) {
		/* application/grpc, application/grpc+proto, application/grpc;... */
		h->grpc_ct = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
			     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (eq(name, namelen, MS_HDR_FORWARDED)) {
		call->forwarded = true;
	} else if (eq(name, namelen, MS_HDR_FORWARDED_USER) && !call->fwd_user) {
		/* kept as sent, bounded: the authorizer checks it against the proof */
		call->fwd_user = strndup((const char *)value,
					 valuelen < GRPC_TOKEN_MAX ? valuelen : GRPC_TOKEN_MAX);
		if (!call->fwd_user)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (eq(name, namelen, MS_HDR_FORWARDED_PROOF) && !call->fwd_proof) {
		call->fwd_proof = strndup((const char *)value,
					  valuelen < GRPC_TOKEN_MAX ? valuelen : GRPC_TOKEN_MAX);
		if (!call->fwd_proof)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if ((eq(name, namelen, "token") || eq(name, namelen, "authorization")) &&
		   !call->token) {
		/* etcd's auth token (gRPC metadata `token`; `authorization` from its gateway).
		 * A longer value is cut: it is no token this server issued either way. */
		call->token = strndup((const char *)value,
				      valuelen < GRPC_TOKEN_MAX ? valuelen : GRPC_TOKEN_MAX);
		if (!call->token)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct ms_conn *c = user;
	struct ms_server *s = c->srv;
	struct grpc_call *call;

	/* nghttp2 takes the preface first, so the first SETTINGS ends the handshake */
	if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
		ms_conn_handshake_done(c);
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	if (!call || call->gone)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		on_request_headers(c, call);
	if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	if (!call->streaming)
		call_dispatch(s, call);
	else if (!call->finished && s->streams[call->method].half_close)
		s->streams[call->method].half_close(call, s->ctx[call->method]);
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user)
{
	struct ms_conn *c = user;
	struct ms_server *s = c->srv;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
	char err[128];

	(void)flags;
	if (!call || call->finished || call->gone)
		return 0;
	/* A unary body is one message: bound it by the largest message plus its prefix. (A
	 * stream's messages are bounded one by one as their prefixes arrive.) */
	if (!call->streaming && call->in.len + len > s->opts.max_recv_bytes + GRPC_FRAME_HDR) {
		snprintf(err, sizeof(err), "grpc: received message larger than max (%zu vs. %zu)",
			 call->in.len + len - GRPC_FRAME_HDR, s->opts.max_recv_bytes);
		call_in_drop(call);
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
		return 0;
	}
	/* Many calls each under the limit must not add up to unbounded memory either. */
	if (c->in_bytes + len > s->conn_in_cap) {
		snprintf(err, sizeof(err),
			 "grpc: connection buffers %zu request bytes, the most allowed is %zu",
			 c->in_bytes + len, s->conn_in_cap);
		call_in_drop(call);
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, err);
		return 0;
	}
	if (ms_buf_append(&call->in, data, len)) {
		grpc_call_fault(call, "out of memory buffering the request");
		return 0;
	}
	c->in_bytes += len;
	if (call->streaming)
		stream_deliver(s, call);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
			   void *user)
{
	struct grpc_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)error_code;
	(void)user;
	if (call)
		grpc_call_detach(call);
	return 0;
}

void grpc_call_set_h2_callbacks(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}
