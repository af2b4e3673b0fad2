/* libraft's transport interface (raft/uv.h) for the store's peers: the listener, connect, close. */
#include "raft/transport_priv.h"

#include "raft/members.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms_peer_parse_addr(const char *addr, struct sockaddr_in *sa)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	char *end;
	long port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return -EINVAL;
	return uv_ip4_addr(host, (int)port, sa) ? -EINVAL : 0;
}

static int tr_init(struct raft_uv_transport *iface, raft_id id, const char *address)
{
	struct ms_peer_transport *t = iface->impl;

	if (id != t->self || strlen(address) >= sizeof(t->self_addr)) {
		snprintf(iface->errmsg, sizeof(iface->errmsg), "transport made for another member");
		return RAFT_INVALID;
	}
	snprintf(t->self_addr, sizeof(t->self_addr), "%s", address);
	return 0;
}

void ms_peer_transport_log(struct ms_peer_transport *t, const char *line)
{
	uint64_t now = uv_now(t->loop);
	char more[96];

	if (!t->opts.log)
		return;
	/* a flood of refused connections must not become a flood of log lines */
	if (now - t->log_window_ms >= 1000) {
		if (t->unlogged) {
			snprintf(more, sizeof(more), "%u more peer connection lines not logged",
				 t->unlogged);
			t->opts.log(t->opts.log_arg, more);
		}
		t->log_window_ms = now;
		t->logged = t->unlogged = 0;
	}
	if (t->logged == MS_PEER_LOG_PER_S) {
		t->unlogged++;
		return;
	}
	t->logged++;
	t->opts.log(t->opts.log_arg, line);
}

/* At MS_PEER_MAX_HANDSHAKES incoming connections in their handshake, closes the oldest. */
static void make_room(struct ms_peer_transport *t)
{
	struct ms_peer_conn *oldest = NULL;
	unsigned n = 0;

	for (struct ms_peer_conn *c = t->conns; c; c = c->next) {
		if (c->outgoing || c->state == MS_PC_PUMP || c->state == MS_PC_CLOSING)
			continue;
		n++;
		oldest = c; /* the list is newest first */
	}
	if (n >= MS_PEER_MAX_HANDSHAKES)
		ms_peer_conn_close(oldest, "pushed out: " MS_PEER_MAX_HANDSHAKES_S
				   " connections in their handshake at once");
}

/* An incoming connection: its TLS session (if any), then the handshake is read. */
static void accept_one(struct ms_peer_transport *t)
{
	struct ms_peer_conn *c;
	struct sockaddr_storage ss = { 0 };
	int len = sizeof(ss);
	char ip[48] = "?";

	make_room(t);
	c = ms_peer_conn_new(t, false);
	if (!c)
		return;
	if (uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)c->tcp)) {
		ms_peer_conn_close(c, NULL);
		return;
	}
	if (!uv_tcp_getpeername(c->tcp, (struct sockaddr *)&ss, &len) && ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
	snprintf(c->remote, sizeof(c->remote), "%s:%u", ip,
		 ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : 0);
	c->state = MS_PC_HS;
	if (t->tls) {
		if (ms_tls_new(t->tls, true, NULL, &c->tls)) {
			ms_peer_conn_close(c, "out of memory");
			return;
		}
		c->state = MS_PC_TLS;
	}
	ms_peer_conn_read(c);
}

static void on_listen(uv_stream_t *server, int status)
{
	struct ms_peer_transport *t = server->data;

	if (status < 0 || t->closing)
		return;
	accept_one(t);
}

/* Binds the peer listener (once). 0 or a RAFT_* error with iface->errmsg set. */
static int start_listener(struct raft_uv_transport *iface)
{
	struct ms_peer_transport *t = iface->impl;
	const char *addr = t->listen_addr[0] ? t->listen_addr : t->self_addr;
	struct sockaddr_in sa;
	int rv;

	if (ms_peer_parse_addr(addr, &sa)) {
		snprintf(iface->errmsg, sizeof(iface->errmsg), "peer address '%s' is not IPv4:PORT",
			 addr);
		return RAFT_INVALID;
	}
	uv_tcp_init(t->loop, &t->listener);
	t->listener.data = t;
	t->listener_open = true;
	rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&sa, 0);
	if (!rv)
		rv = uv_listen((uv_stream_t *)&t->listener, 128, on_listen);
	if (rv) {
		snprintf(iface->errmsg, sizeof(iface->errmsg),
			 "cannot listen on peer address %s: %s", addr, uv_strerror(rv));
		return RAFT_IOERR;
	}
	return 0;
}

static int tr_listen(struct raft_uv_transport *iface, raft_uv_accept_cb cb)
{
	struct ms_peer_transport *t = iface->impl;

	t->accept_cb = cb;
	/* a member alone has no one to hear from: no socket, until a member is added */
	if (t->n_members <= 1)
		return 0;
	return start_listener(iface);
}

static int tr_connect(struct raft_uv_transport *iface, struct raft_uv_connect *req, raft_id id,
		      const char *address, raft_uv_connect_cb cb)
{
	struct ms_peer_transport *t = iface->impl;

	const struct ms_raft_peer *m = NULL;

	if (t->closing)
		return RAFT_CANCELED;
	for (size_t i = 0; i < t->n_members; i++)
		if (t->members[i].id == id)
			m = &t->members[i];
	/* a removed member is not called; an updated one at its new address */
	if (!m) {
		snprintf(iface->errmsg, sizeof(iface->errmsg), "server id %016llx is not a member",
			 (unsigned long long)id);
		return RAFT_NOCONNECTION;
	}
	(void)address;
	return ms_peer_conn_connect(t, req, id, m->address, cb);
}

void ms_peer_transport_maybe_closed(struct ms_peer_transport *t)
{
	raft_uv_transport_close_cb cb = t->close_cb;

	if (!t->closing || !cb || t->conns || t->listener_open)
		return;
	t->close_cb = NULL;
	cb(t->iface);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct ms_peer_transport *t = h->data;

	t->listener_open = false;
	ms_peer_transport_maybe_closed(t);
}

static void tr_close(struct raft_uv_transport *iface, raft_uv_transport_close_cb cb)
{
	struct ms_peer_transport *t = iface->impl;

	t->closing = true;
	t->close_cb = cb;
	if (t->listener_open && !uv_is_closing((uv_handle_t *)&t->listener))
		uv_close((uv_handle_t *)&t->listener, on_listener_closed);
	/* connections libraft has are libraft's to close; the ones still in their handshake
	 * (and the TLS pumps) are ours */
	for (struct ms_peer_conn *c = t->conns, *next; c; c = next) {
		next = c->next;
		ms_peer_conn_close(c, NULL);
	}
	ms_peer_transport_maybe_closed(t);
}

int ms_peer_transport_init(struct raft_uv_transport *iface, uv_loop_t *loop,
			   const struct ms_raft_peer *members, size_t n, uint64_t self,
			   const struct ms_peer_opts *o, char *err, size_t errlen)
{
	struct ms_peer_transport *t = calloc(1, sizeof(*t));
	int e = -ENOMEM;

	memset(iface, 0, sizeof(*iface));
	if (n > MS_MEMBERS_MAX)
		n = MS_MEMBERS_MAX;
	if (!t || !(t->members = calloc(MS_MEMBERS_MAX, sizeof(*t->members)))) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	t->iface = iface;
	t->loop = loop;
	t->self = self;
	memcpy(t->members, members, n * sizeof(*members));
	t->n_members = n;
	if (o)
		t->opts = *o;
	t->opts.listen_addr = NULL;
	if (o && o->listen_addr)
		snprintf(t->listen_addr, sizeof(t->listen_addr), "%s", o->listen_addr);
	if (t->opts.tls) {
		e = ms_tls_ctx_new(&t->opts.tls_cfg, &t->tls, err, errlen);
		if (e)
			goto cleanup;
	}
	/* the file names are not needed after loading them */
	memset(&t->opts.tls_cfg, 0, sizeof(t->opts.tls_cfg));
	iface->impl = t;
	iface->init = tr_init;
	iface->listen = tr_listen;
	iface->connect = tr_connect;
	iface->close = tr_close;
	return 0;
cleanup:
	if (t)
		free(t->members);
	free(t);
	return e;
}

void ms_peer_transport_free(struct raft_uv_transport *iface)
{
	struct ms_peer_transport *t = iface->impl;

	if (!t)
		return;
	ms_tls_ctx_free(t->tls);
	free(t->members);
	free(t->info);
	free(t);
	iface->impl = NULL;
}

int ms_peer_transport_set_members(struct raft_uv_transport *iface,
				  const struct ms_raft_peer *members, size_t n)
{
	struct ms_peer_transport *t = iface->impl;

	if (!t)
		return 0;
	if (n > MS_MEMBERS_MAX)
		n = MS_MEMBERS_MAX;
	memcpy(t->members, members, n * sizeof(*members));
	t->n_members = n;
	/* a member that was alone listens once it has a peer */
	if (n > 1 && t->accept_cb && !t->listener_open && !t->closing &&
	    start_listener(iface) && t->opts.log)
		t->opts.log(t->opts.log_arg, iface->errmsg);
	return 0;
}

int ms_peer_transport_set_info(struct raft_uv_transport *iface, const void *p, size_t len)
{
	struct ms_peer_transport *t = iface->impl;
	uint8_t *c;

	if (!t)
		return 0;
	c = malloc(len ? len : 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, p, len);
	free(t->info);
	t->info = c;
	t->info_len = len;
	return 0;
}
