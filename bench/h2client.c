/* gRPC client transport (benchmarks, fault suite): one cleartext HTTP/2 connection driven by nghttp2. */
#include "h2client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define H2C_OUT_CAP (64 * 1024)
#define H2C_IN_CAP (64 * 1024)
#define H2C_WINDOW (16 * 1024 * 1024)

struct h2c_call {
	struct h2c_call *prev, *next;
	void *user;
	uint8_t *req;
	size_t req_len, req_off;
	int http_status;
	int grpc_status;
	size_t resp_bytes;
	uint8_t *resp; /* the body, when the connection keeps bodies */
	size_t resp_cap;
	bool resp_lost; /* out of memory while keeping it */
	h2c_msg_fn on_msg; /* streaming call: each gRPC message as it arrives */
	bool send_open;    /* streaming call: more request messages may follow */
	int32_t stream_id;
};

struct h2c_conn {
	int fd;
	nghttp2_session *h2;
	h2c_done_fn done;
	void *user;
	bool keep_body;
	char authority[64];
	struct h2c_call *calls; /* in flight, doubly linked */
	size_t in_flight;
	uint8_t out[H2C_OUT_CAP];
	size_t out_len, out_off;
	uint8_t in[H2C_IN_CAP];
};

static void call_finish(struct h2c_conn *c, struct h2c_call *call, int status)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	c->in_flight--;
	c->done(c->user, call->user, call->resp_lost ? -1 : status, call->resp, call->resp_bytes);
	free(call->resp);
	free(call->req);
	free(call);
}

static int parse_int(const uint8_t *v, size_t len)
{
	int n = 0;

	if (!len || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct h2c_call *call = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);

	(void)flags;
	(void)user;
	if (!call || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		call->http_status = parse_int(value, valuelen);
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		call->grpc_status = parse_int(value, valuelen);
	return 0;
}

/* Hands every complete gRPC message buffered so far to the call's message callback. */
static void deliver_msgs(struct h2c_conn *c, struct h2c_call *call)
{
	size_t off = 0;

	while (call->resp_bytes - off >= 5) {
		const uint8_t *h = call->resp + off;
		size_t n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];

		if (call->resp_bytes - off - 5 < n)
			break;
		call->on_msg(c->user, call->user, h + 5, n);
		off += 5 + n;
	}
	memmove(call->resp, call->resp + off, call->resp_bytes - off);
	call->resp_bytes -= off;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user)
{
	struct h2c_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
	struct h2c_conn *c = user;

	(void)flags;
	if (!call)
		return 0;
	if ((c->keep_body || call->on_msg) && !call->resp_lost) {
		if (call->resp_bytes + len > call->resp_cap) {
			size_t cap = call->resp_cap ? call->resp_cap : 256;
			uint8_t *n;

			while (cap < call->resp_bytes + len)
				cap *= 2;
			n = realloc(call->resp, cap);
			if (!n) {
				call->resp_lost = true;
				call->resp_bytes += len;
				return 0;
			}
			call->resp = n;
			call->resp_cap = cap;
		}
		memcpy(call->resp + call->resp_bytes, data, len);
	}
	call->resp_bytes += len;
	if (call->on_msg && !call->resp_lost)
		deliver_msgs(c, call);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
			   void *user)
{
	struct h2c_conn *c = user;
	struct h2c_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
	int status;

	if (!call)
		return 0;
	status = (error_code == NGHTTP2_NO_ERROR && call->http_status == 200) ? call->grpc_status
									      : -1;
	nghttp2_session_set_stream_user_data(h2, stream_id, NULL);
	call_finish(c, call, status);
	return 0;
}

static ssize_t read_body(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct h2c_call *call = src->ptr;
	size_t n = call->req_len - call->req_off;

	(void)h2;
	(void)stream_id;
	(void)user;
	if (n == 0 && call->send_open)
		return NGHTTP2_ERR_DEFERRED; /* resumed by h2c_stream_send */
	if (n > length)
		n = length;
	memcpy(buf, call->req + call->req_off, n);
	call->req_off += n;
	if (call->req_off == call->req_len && !call->send_open)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int session_new(struct h2c_conn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1024 * 1024 },
	};
	int rv;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	rv = nghttp2_session_client_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (rv)
		return -ENOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, set, sizeof(set) / sizeof(set[0])) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2C_WINDOW))
		return -EPROTO;
	return 0;
}

/* Connects fd to sa, waiting at most timeout_ms (-1: no limit). Returns 0 or -errno. */
static int connect_wait(int fd, const struct sockaddr_in *sa, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0, n;

	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

int h2c_connect_ms(struct h2c_conn **out, const char *host, uint16_t port, bool keep_body,
		   h2c_done_fn done, void *conn_user, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct h2c_conn *c = calloc(1, sizeof(*c));
	int one = 1, err;

	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->done = done;
	c->user = conn_user;
	c->keep_body = keep_body;
	snprintf(c->authority, sizeof(c->authority), "%s:%u", host, port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		err = -EINVAL;
		goto fail;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto fail;
	}
	err = connect_wait(c->fd, &sa, timeout_ms);
	if (err)
		goto fail;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
		err = -errno;
		goto fail;
	}
	err = session_new(c);
	if (err)
		goto fail;
	*out = c;
	return 0;
fail:
	h2c_close(c);
	return err;
}

int h2c_connect(struct h2c_conn **out, const char *host, uint16_t port, bool keep_body,
		h2c_done_fn done, void *conn_user)
{
	return h2c_connect_ms(out, host, port, keep_body, done, conn_user, -1);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

/* Appends one gRPC-framed message to a call's request bytes. Returns 0 or -ENOMEM. */
static int req_append(struct h2c_call *call, const uint8_t *msg, size_t len)
{
	uint8_t *n = realloc(call->req, call->req_len + len + 5);

	if (!n)
		return -ENOMEM;
	call->req = n;
	n += call->req_len;
	n[0] = 0;
	n[1] = (uint8_t)(len >> 24);
	n[2] = (uint8_t)(len >> 16);
	n[3] = (uint8_t)(len >> 8);
	n[4] = (uint8_t)len;
	if (len)
		memcpy(n + 5, msg, len);
	call->req_len += len + 5;
	return 0;
}

static int call_start(struct h2c_conn *c, const char *path, const uint8_t *msg, size_t len,
		      void *call_user, h2c_msg_fn on_msg, bool send_open, int32_t *stream_id)
{
	struct h2c_call *call = calloc(1, sizeof(*call));
	nghttp2_nv nv[] = {
		NV(":method", "POST"),		 NV(":scheme", "http"),
		NV(":path", path),		 NV(":authority", c->authority),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
	};
	nghttp2_data_provider dp;
	int32_t id;

	if (!call)
		return -ENOMEM;
	if (req_append(call, msg, len)) {
		free(call);
		return -ENOMEM;
	}
	call->user = call_user;
	call->grpc_status = -1;
	call->on_msg = on_msg;
	call->send_open = send_open;
	dp.source.ptr = call;
	dp.read_callback = read_body;
	id = nghttp2_submit_request(c->h2, NULL, nv, sizeof(nv) / sizeof(nv[0]), &dp, call);
	if (id < 0) {
		free(call->req);
		free(call);
		return -EPROTO;
	}
	call->stream_id = id;
	if (stream_id)
		*stream_id = id;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->in_flight++;
	return 0;
}

int h2c_call_submit(struct h2c_conn *c, const char *path, const uint8_t *msg, size_t len,
		    void *call_user)
{
	return call_start(c, path, msg, len, call_user, NULL, false, NULL);
}

int h2c_stream_open(struct h2c_conn *c, const char *path, const uint8_t *msg, size_t len,
		    bool send_open, h2c_msg_fn on_msg, void *call_user, int32_t *stream_id)
{
	return call_start(c, path, msg, len, call_user, on_msg, send_open, stream_id);
}

int h2c_stream_send(struct h2c_conn *c, int32_t stream_id, const uint8_t *msg, size_t len)
{
	struct h2c_call *call = c->calls;

	/* The call list, not nghttp2's stream table: a stream exists there only once its
	 * HEADERS went out. */
	while (call && call->stream_id != stream_id)
		call = call->next;
	if (!call || !call->send_open)
		return -ENOENT;
	if (req_append(call, msg, len))
		return -ENOMEM;
	/* Fails harmlessly when the data source is not deferred (it still has bytes). */
	nghttp2_session_resume_data(c->h2, stream_id);
	return 0;
}

/* Writes what nghttp2 has queued until done or the socket is full. Returns 0 or -errno. */
static int conn_flush(struct h2c_conn *c)
{
	for (;;) {
		while (c->out_off == c->out_len && nghttp2_session_want_write(c->h2)) {
			const uint8_t *p;
			ssize_t n = 0;

			c->out_off = c->out_len = 0;
			/* Gather frames into one buffer, so a burst of calls is one write. */
			while (c->out_len < H2C_OUT_CAP / 2 &&
			       (n = nghttp2_session_mem_send(c->h2, &p)) > 0) {
				if ((size_t)n > H2C_OUT_CAP - c->out_len)
					return -EMSGSIZE;
				memcpy(c->out + c->out_len, p, (size_t)n);
				c->out_len += (size_t)n;
			}
			if (n < 0)
				return -EPROTO;
			if (!c->out_len)
				return 0;
		}
		if (c->out_off == c->out_len)
			return 0;
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (w < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
		c->out_off += (size_t)w;
	}
}

/* Reads what the socket holds (revents: poll's answer for it) into the session, then sends
 * what that made the session queue. Returns 0 or -errno. */
static int conn_take(struct h2c_conn *c, short revents)
{
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		for (;;) {
			ssize_t n = read(c->fd, c->in, sizeof(c->in));

			if (n == 0)
				return -ECONNRESET;
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				return -errno;
			}
			if (nghttp2_session_mem_recv(c->h2, c->in, (size_t)n) != n)
				return -EPROTO;
			if ((size_t)n < sizeof(c->in))
				break;
		}
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		return -ECONNRESET;
	return conn_flush(c);
}

int h2c_poll(struct h2c_conn *c, int timeout_ms)
{
	return h2c_poll_many(&c, 1, timeout_ms);
}

int h2c_poll_many(struct h2c_conn *const *cs, unsigned n, int timeout_ms)
{
	struct pollfd pfd[H2C_POLL_MAX];
	int err;

	if (n > H2C_POLL_MAX)
		return -E2BIG;
	for (unsigned i = 0; i < n; i++) {
		err = conn_flush(cs[i]);
		if (err)
			return err;
		pfd[i] = (struct pollfd){ .fd = cs[i]->fd, .events = POLLIN };
		if (cs[i]->out_off < cs[i]->out_len)
			pfd[i].events |= POLLOUT;
	}
	if (poll(pfd, n, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	for (unsigned i = 0; i < n; i++) {
		err = conn_take(cs[i], pfd[i].revents);
		if (err)
			return err;
	}
	return 0;
}

size_t h2c_in_flight(const struct h2c_conn *c)
{
	return c->in_flight;
}

void h2c_close(struct h2c_conn *c)
{
	if (!c)
		return;
	if (c->h2)
		nghttp2_session_del(c->h2);
	c->h2 = NULL;
	while (c->calls)
		call_finish(c, c->calls, -1);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
