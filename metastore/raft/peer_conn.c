/* One raft peer connection: TLS and the raft handshake, then handed to libraft (plain TCP) or
 * pumped between the network and a socketpair libraft reads and writes (TLS). */
#include "raft/transport_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A write in flight, with its bytes. */
struct conn_wr {
	uv_write_t req;
	struct ms_peer_conn *c;
	bool handoff; /* plain outgoing: the handshake is out, libraft gets the stream */
	bool close_after; /* the answer to a members query: the connection ends with it */
	char data[];
};

static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static bool in_handshake(const struct ms_peer_conn *c)
{
	return c->state != MS_PC_PUMP && c->state != MS_PC_CLOSING;
}

static void conn_log(struct ms_peer_conn *c, const char *why)
{
	char line[640];

	if (c->outgoing)
		snprintf(line, sizeof(line), "peer connection to %s failed: %s", c->remote, why);
	else
		snprintf(line, sizeof(line), "refused peer connection from %s: %s", c->remote, why);
	ms_peer_transport_log(c->t, line);
}

static void conn_unlink(struct ms_peer_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* A handle of c closed; with the last one c goes, answering a connect still waiting. */
static void on_handle_closed(uv_handle_t *h)
{
	struct ms_peer_conn *c = h->data;
	struct ms_peer_transport *t = c->t;
	struct raft_uv_connect *req = c->req;
	raft_uv_connect_cb cb = c->cb;

	if (h == (uv_handle_t *)c->tcp) {
		raft_free(c->tcp);
		c->tcp = NULL;
	}
	if (--c->handles)
		return;
	conn_unlink(c);
	ms_tls_free(c->tls);
	free(c);
	if (req)
		cb(req, NULL, t->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
	ms_peer_transport_maybe_closed(t);
}

void ms_peer_conn_close(struct ms_peer_conn *c, const char *why)
{
	if (c->state == MS_PC_CLOSING)
		return;
	if (why)
		conn_log(c, why);
	c->state = MS_PC_CLOSING;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	if (c->tcp)
		uv_close((uv_handle_t *)c->tcp, on_handle_closed);
	if (c->app_open)
		uv_close((uv_handle_t *)&c->app, on_handle_closed);
}

static void on_deadline(uv_timer_t *timer)
{
	struct ms_peer_conn *c = timer->data;

	ms_peer_conn_close(c, c->outgoing ? NULL : "no handshake within the deadline");
}

static void on_written(uv_write_t *req, int status);

/* Queues w (n bytes) on stream; reading the other side stops while too much is queued.
 * Returns 0, or -1 with c closing. */
static int conn_send(struct ms_peer_conn *c, uv_stream_t *s, struct conn_wr *w, size_t n)
{
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);

	w->c = c;
	if (uv_write(&w->req, s, &b, 1, on_written)) {
		free(w);
		ms_peer_conn_close(c, in_handshake(c) ? "cannot write" : NULL);
		return -1;
	}
	if (s == (uv_stream_t *)c->tcp && c->app_open && !c->app_paused &&
	    uv_stream_get_write_queue_size(s) > MS_PEER_QUEUE_MAX) {
		uv_read_stop((uv_stream_t *)&c->app);
		c->app_paused = true;
	}
	if (s == (uv_stream_t *)&c->app && !c->net_paused &&
	    uv_stream_get_write_queue_size(s) > MS_PEER_QUEUE_MAX) {
		uv_read_stop((uv_stream_t *)c->tcp);
		c->net_paused = true;
	}
	return 0;
}

/* Sends what TLS has for the network. 0, or -1 with c closing. */
static int flush_tls(struct ms_peer_conn *c)
{
	size_t n = ms_tls_out_pending(c->tls);
	struct conn_wr *w;

	if (!n || !c->tcp || c->state == MS_PC_CLOSING)
		return 0;
	w = malloc(sizeof(*w) + n);
	if (!w) {
		ms_peer_conn_close(c, NULL);
		return -1;
	}
	w->handoff = false;
	w->close_after = c->answered;
	return conn_send(c, (uv_stream_t *)c->tcp, w, ms_tls_out_take(c->tls, w->data, n));
}

static int send_copy(struct ms_peer_conn *c, uv_stream_t *s, const void *p, size_t n,
		     bool handoff)
{
	struct conn_wr *w = malloc(sizeof(*w) + n);

	if (!w) {
		ms_peer_conn_close(c, NULL);
		return -1;
	}
	memcpy(w->data, p, n);
	w->handoff = handoff;
	w->close_after = c->answered;
	return conn_send(c, s, w, n);
}

static const uint8_t *own_key(const struct ms_peer_transport *t)
{
	return t->opts.fwd_keys ? ms_fwd_keys_own(t->opts.fwd_keys) : NULL;
}

/* Plain TCP: libraft gets the connection itself, as from its own transport. */
static void handoff_plain(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	uv_tcp_t *tcp = c->tcp;
	struct raft_uv_connect *req = c->req;

	uv_read_stop((uv_stream_t *)tcp);
	c->tcp = NULL;
	c->handles--;
	c->req = NULL;
	ms_peer_conn_close(c, NULL); /* the timer; c lives until it closed */
	if (c->outgoing)
		c->cb(req, (uv_stream_t *)tcp, 0);
	else
		t->accept_cb(t->iface, c->hs.id, c->hs.address, (uv_stream_t *)tcp);
}

static void alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ms_peer_conn *c = h->data;

	(void)suggested;
	b->base = c->t->rbuf;
	b->len = sizeof(c->t->rbuf);
	/* plain: not a byte past the handshake, the rest is libraft's to read */
	if (!c->tls && h == (uv_handle_t *)c->tcp)
		b->len = ms_peer_hs_need(&c->hs);
}

static void on_app_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ms_peer_conn *c = s->data;
	char why[256];

	if (nread == 0 || c->state == MS_PC_CLOSING)
		return;
	if (nread < 0) { /* libraft closed its end */
		ms_peer_conn_close(c, NULL);
		return;
	}
	if (ms_tls_write(c->tls, buf->base, (size_t)nread, why, sizeof(why))) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	flush_tls(c);
}

/* TLS: libraft gets one end of a socketpair, the pump the other. 0 or -errno. */
static int handoff_tls(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	struct raft_uv_connect *req = c->req;
	uv_os_sock_t fds[2];
	uv_pipe_t *theirs;
	int rv = uv_socketpair(SOCK_STREAM, 0, fds, UV_NONBLOCK_PIPE, UV_NONBLOCK_PIPE);

	if (rv)
		return rv;
	theirs = raft_malloc(sizeof(*theirs));
	if (theirs)
		uv_pipe_init(t->loop, theirs, 0);
	if (!theirs || uv_pipe_open(theirs, fds[1])) {
		close(fds[0]);
		close(fds[1]);
		if (theirs)
			uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		return -ENOMEM;
	}
	uv_pipe_init(t->loop, &c->app, 0);
	c->app.data = c;
	c->app_open = true;
	c->handles++;
	if (uv_pipe_open(&c->app, fds[0])) {
		close(fds[0]);
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free); /* closes fds[1] */
		return -EIO;
	}
	uv_timer_stop(&c->timer);
	c->state = MS_PC_PUMP;
	uv_read_start((uv_stream_t *)&c->app, alloc_buf, on_app_read);
	c->req = NULL;
	if (c->outgoing)
		c->cb(req, (uv_stream_t *)theirs, 0);
	else
		t->accept_cb(t->iface, c->hs.id, c->hs.address, (uv_stream_t *)theirs);
	return 0;
}

/* A members query (a member joining the cluster): the answer, then the connection ends. */
static void answer_query(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	char why[256];

	if (!t->info) {
		ms_peer_conn_close(c, "members query before the member list is known");
		return;
	}
	c->answered = true;
	if (!c->tls) {
		send_copy(c, (uv_stream_t *)c->tcp, t->info, t->info_len, false);
		return;
	}
	if (ms_tls_write(c->tls, t->info, t->info_len, why, sizeof(why)))
		ms_peer_conn_close(c, NULL);
	else
		flush_tls(c);
}

/* Who the peer claims to be, against the configuration. 0, or -1 with c closing (or
 * answering a members query). */
static int check_peer(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	char why[512];

	if (c->hs.id == MS_PEER_QUERY_ID && strcmp(c->hs.address, MS_PEER_QUERY_MEMBERS) == 0) {
		uv_read_stop((uv_stream_t *)c->tcp);
		answer_query(c);
		return -1;
	}
	if (ms_peer_hs_check(t->members, t->n_members, t->self, c->hs.id, c->hs.address, why,
			     sizeof(why))) {
		ms_peer_conn_close(c, why);
		return -1;
	}
	if (t->closing) {
		ms_peer_conn_close(c, NULL);
		return -1;
	}
	/* only a member's handshake (with peer TLS, over an authenticated connection) gives
	 * the key its forwarded calls are proven with */
	if (c->hs.key && t->opts.fwd_keys &&
	    ms_fwd_keys_learn(t->opts.fwd_keys, c->hs.id, c->hs.key)) {
		ms_peer_conn_close(c, NULL);
		return -1;
	}
	return 0;
}

/* Decrypted bytes from the peer: the handshake, then libraft's. 0, or -1 with c closing. */
static int deliver(struct ms_peer_conn *c, const char *p, size_t n)
{
	char why[256];

	if (c->state == MS_PC_HS) {
		ssize_t used = ms_peer_hs_feed(&c->hs, p, n, why, sizeof(why));

		if (used < 0) {
			ms_peer_conn_close(c, why);
			return -1;
		}
		if (ms_peer_hs_need(&c->hs))
			return 0;
		if (check_peer(c))
			return -1;
		if (handoff_tls(c)) {
			ms_peer_conn_close(c, "cannot make a socketpair");
			return -1;
		}
		p += used;
		n -= (size_t)used;
	}
	if (c->state != MS_PC_PUMP)
		return -1;
	return n ? send_copy(c, (uv_stream_t *)&c->app, p, n, false) : 0;
}

/* Our handshake, inside TLS, then libraft's stream. 0, or -1 with c closing. */
static int tls_connected(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	uint8_t hs[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
	ssize_t n = ms_peer_hs_encode(t->self, t->self_addr, own_key(t), hs, sizeof(hs));
	char why[256];

	if (n < 0 || ms_tls_write(c->tls, hs, (size_t)n, why, sizeof(why)) || flush_tls(c) ||
	    handoff_tls(c)) {
		ms_peer_conn_close(c, NULL);
		return -1;
	}
	return 0;
}

/* New bytes reached the TLS session: handshake, then what it decrypts. */
static void tls_progress(struct ms_peer_conn *c)
{
	struct ms_peer_transport *t = c->t;
	char why[256];

	if (c->state == MS_PC_TLS) {
		int rc = ms_tls_handshake(c->tls, why, sizeof(why));

		if (flush_tls(c) || rc == -EAGAIN)
			return;
		if (rc) {
			ms_peer_conn_close(c, why);
			return;
		}
		if (c->outgoing ? tls_connected(c) : 0)
			return;
		if (!c->outgoing)
			c->state = MS_PC_HS;
	}
	while (c->state == MS_PC_HS || c->state == MS_PC_PUMP) {
		ssize_t n = ms_tls_read(c->tls, t->pbuf, sizeof(t->pbuf), why, sizeof(why));

		if (n == -EAGAIN)
			break;
		/* a TLS failure is worth a line even after the handshake: with TLS 1.3 a peer
		 * refuses this member's certificate only then */
		if (n <= 0) {
			const char *eof = in_handshake(c) ? "closed during the handshake" : NULL;

			ms_peer_conn_close(c, n ? why : eof);
			return;
		}
		if (deliver(c, t->pbuf, (size_t)n))
			return;
	}
	flush_tls(c);
}

static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ms_peer_conn *c = s->data;
	char why[256];
	ssize_t used;

	if (nread == 0 || c->state == MS_PC_CLOSING)
		return;
	if (nread < 0) {
		ms_peer_conn_close(c, !in_handshake(c) || c->outgoing ? NULL :
				   nread == UV_EOF ? "closed during the handshake" :
						     uv_strerror((int)nread));
		return;
	}
	if (c->tls) {
		if (ms_tls_feed(c->tls, buf->base, (size_t)nread))
			ms_peer_conn_close(c, NULL);
		else
			tls_progress(c);
		return;
	}
	used = ms_peer_hs_feed(&c->hs, buf->base, (size_t)nread, why, sizeof(why));
	if (used < 0) {
		ms_peer_conn_close(c, why);
		return;
	}
	if (!ms_peer_hs_need(&c->hs) && !check_peer(c))
		handoff_plain(c);
}

static void on_written(uv_write_t *req, int status)
{
	struct conn_wr *w = (struct conn_wr *)req;
	struct ms_peer_conn *c = w->c;
	bool handoff = w->handoff, w_close = w->close_after;

	free(w);
	if (c->state == MS_PC_CLOSING)
		return;
	if (status < 0) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	if (handoff) {
		handoff_plain(c);
		return;
	}
	if (w_close) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	if (c->app_paused && uv_stream_get_write_queue_size((uv_stream_t *)c->tcp) <=
				     MS_PEER_QUEUE_MAX / 2) {
		uv_read_start((uv_stream_t *)&c->app, alloc_buf, on_app_read);
		c->app_paused = false;
	}
	if (c->net_paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->app) <=
				     MS_PEER_QUEUE_MAX / 2) {
		uv_read_start((uv_stream_t *)c->tcp, alloc_buf, on_net_read);
		c->net_paused = false;
	}
}

struct ms_peer_conn *ms_peer_conn_new(struct ms_peer_transport *t, bool outgoing)
{
	struct ms_peer_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->tcp = raft_malloc(sizeof(*c->tcp));
	if (!c || !c->tcp) {
		free(c);
		return NULL;
	}
	c->t = t;
	c->outgoing = outgoing;
	uv_tcp_init(t->loop, c->tcp);
	c->tcp->data = c;
	uv_timer_init(t->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	ms_peer_hs_init(&c->hs);
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	uv_timer_start(&c->timer, on_deadline, MS_PEER_HANDSHAKE_MS, 0);
	return c;
}

void ms_peer_conn_read(struct ms_peer_conn *c)
{
	uv_read_start((uv_stream_t *)c->tcp, alloc_buf, on_net_read);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct ms_peer_conn *c = req->data;
	struct ms_peer_transport *t = c->t;
	uint8_t hs[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
	ssize_t n;

	if (c->state == MS_PC_CLOSING)
		return;
	if (status < 0 || t->closing) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	if (!t->tls) {
		n = ms_peer_hs_encode(t->self, t->self_addr, own_key(t), hs, sizeof(hs));
		c->state = MS_PC_HS;
		if (n < 0)
			ms_peer_conn_close(c, NULL);
		else
			send_copy(c, (uv_stream_t *)c->tcp, hs, (size_t)n, true);
		return;
	}
	if (ms_tls_new(t->tls, false, c->peer_ip, &c->tls)) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	c->state = MS_PC_TLS;
	uv_read_start((uv_stream_t *)c->tcp, alloc_buf, on_net_read);
	tls_progress(c); /* the client speaks first */
}

int ms_peer_conn_connect(struct ms_peer_transport *t, struct raft_uv_connect *req, uint64_t id,
			 const char *address, raft_uv_connect_cb cb)
{
	struct sockaddr_in sa;
	struct ms_peer_conn *c;

	if (ms_peer_parse_addr(address, &sa)) {
		snprintf(t->iface->errmsg, sizeof(t->iface->errmsg),
			 "peer address '%s' is not IPv4:PORT", address);
		return RAFT_NOCONNECTION;
	}
	c = ms_peer_conn_new(t, true);
	if (!c)
		return RAFT_NOMEM;
	c->peer_id = id;
	snprintf(c->remote, sizeof(c->remote), "%s", address);
	uv_ip4_name(&sa, c->peer_ip, sizeof(c->peer_ip));
	c->connect.data = c;
	c->state = MS_PC_TCP;
	if (uv_tcp_connect(&c->connect, c->tcp, (const struct sockaddr *)&sa, on_connected)) {
		ms_peer_conn_close(c, NULL);
		snprintf(t->iface->errmsg, sizeof(t->iface->errmsg), "cannot connect to %s",
			 address);
		return RAFT_NOCONNECTION;
	}
	c->req = req;
	c->cb = cb;
	return 0;
}
