/* Peer transport internals shared by transport.c (the interface, listener) and peer_conn.c. */
#ifndef MS_TRANSPORT_PRIV_H
#define MS_TRANSPORT_PRIV_H

#include "raft/peer_hs.h"
#include "raft/transport.h"

/* Above this many bytes queued towards one side, the other side is not read any more. */
#define MS_PEER_QUEUE_MAX (4u << 20)
/* Incoming connections in their handshake at once: a new one beyond pushes out the oldest,
 * so a flood of silent connections never keeps a member out for longer than it takes to
 * handshake (a real peer's handshake takes milliseconds). */
#define MS_PEER_MAX_HANDSHAKES 64
#define MS_PEER_MAX_HANDSHAKES_S "64"
/* Log lines a second; beyond, lines are counted and the count logged with the next line. */
#define MS_PEER_LOG_PER_S 20

struct ms_peer_conn;

struct ms_peer_transport {
	struct raft_uv_transport *iface;
	uv_loop_t *loop;
	uint64_t self;
	char self_addr[128];
	struct ms_raft_peer *members; /* MS_MEMBERS_MAX slots */
	size_t n_members;
	uint8_t *info;                /* the answer to a members query, or NULL */
	size_t info_len;
	struct ms_peer_opts opts;
	char listen_addr[128];
	struct ms_tls_ctx *tls; /* NULL: plain TCP */
	uv_tcp_t listener;
	bool listener_open;
	raft_uv_accept_cb accept_cb;
	struct ms_peer_conn *conns; /* every connection not yet handed over or closed */
	bool closing;
	raft_uv_transport_close_cb close_cb;
	uint64_t log_window_ms;     /* start of the current second of logging */
	unsigned logged, unlogged;  /* lines logged and dropped in it */
	char rbuf[65536]; /* read buffer (each read is consumed before the next) */
	char pbuf[16384]; /* decrypted bytes */
};

enum ms_peer_conn_state { MS_PC_TCP, MS_PC_TLS, MS_PC_HS, MS_PC_PUMP, MS_PC_CLOSING };

struct ms_peer_conn {
	struct ms_peer_transport *t;
	struct ms_peer_conn *prev, *next;
	enum ms_peer_conn_state state;
	bool outgoing;
	uv_tcp_t *tcp;      /* raft_malloc'd: plain connections are handed to libraft as is */
	uv_timer_t timer;   /* the handshake deadline */
	uv_pipe_t app;      /* TLS: our end of the socketpair whose other end libraft has */
	bool app_open;
	unsigned handles;   /* open handles; the connection is freed when none is left */
	struct ms_tls *tls;
	struct ms_peer_hs hs; /* incoming: the peer's handshake */
	char remote[64];      /* IP:PORT of the other end, for the log */
	bool net_paused, app_paused;
	bool answered;      /* a members query was answered: close once it is written */
	/* outgoing */
	uv_connect_t connect;
	struct raft_uv_connect *req; /* NULL once answered */
	raft_uv_connect_cb cb;
	uint64_t peer_id;
	char peer_ip[64];
};

/* A connection with its TCP handle (not yet connected) and its handshake deadline running,
 * in the transport's list; NULL: out of memory. */
struct ms_peer_conn *ms_peer_conn_new(struct ms_peer_transport *t, bool outgoing);

/* Starts reading c's TCP connection (TLS records or the plain handshake). */
void ms_peer_conn_read(struct ms_peer_conn *c);

/* Starts a connection to (id, address) for libraft's req; 0 or a RAFT_* error. */
int ms_peer_conn_connect(struct ms_peer_transport *t, struct raft_uv_connect *req, uint64_t id,
			 const char *address, raft_uv_connect_cb cb);

/* Closes c (logged with `why` when it is an incoming peer refused in its handshake). */
void ms_peer_conn_close(struct ms_peer_conn *c, const char *why);

/* Hands the operator one line, within MS_PEER_LOG_PER_S. */
void ms_peer_transport_log(struct ms_peer_transport *t, const char *line);

/* Fires libraft's close callback once the transport is closing and nothing is open. */
void ms_peer_transport_maybe_closed(struct ms_peer_transport *t);

/* Splits "IPv4:PORT" into a socket address. 0 or -EINVAL. */
int ms_peer_parse_addr(const char *addr, struct sockaddr_in *sa);

#endif /* MS_TRANSPORT_PRIV_H */
