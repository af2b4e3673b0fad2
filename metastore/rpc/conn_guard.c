/* Connection bounds of the gRPC server: handshake and idle deadlines, room at the limit. */
#include <stdio.h>
#include <sys/resource.h>

#include "rpc/server_conn.h"

/* Descriptors kept for everything that is not a client connection (raft log and peers,
 * snapshots, the loop's own) when RLIMIT_NOFILE bounds the connections. */
#define FD_RESERVE 256
/* One line at most this often about connections closed by the deadlines or the limit. */
#define GUARD_LOG_MS 10000

void ms_conn_handshake_done(struct ms_conn *c)
{
	if (c->handshaken)
		return;
	c->handshaken = true;
	c->idle_since_ms = uv_now(c->srv->loop);
}

/* A call is running once its handler has it (a whole unary request, an opened stream); a
 * request still arriving does not make a connection busy, so a trickling client can be
 * pushed out. */
static bool conn_busy(const struct ms_conn *c)
{
	for (const struct grpc_call *call = c->calls; call; call = call->next)
		if (call->running)
			return true;
	return false;
}

/* The connection a new one may replace at the limit: the oldest still in its handshake,
 * else the one without a running call that has been so longest; NULL if every one is busy. */
static struct ms_conn *conn_victim(struct ms_server *s)
{
	struct ms_conn *c, *idle = NULL;

	for (c = s->conns; c; c = c->next) {
		if (c->closing)
			continue;
		if (!c->handshaken)
			return c;
		if ((!idle || c->idle_since_ms < idle->idle_since_ms) && !conn_busy(c))
			idle = c;
	}
	return idle;
}

/* One line about what the deadlines and the limit closed since the last line, at most one
 * every GUARD_LOG_MS, so that a flood is reported without flooding the log. */
static void guard_log(struct ms_server *s, uint64_t now)
{
	char line[512];
	int n = 0;

	if (!s->n_handshake_timeouts && !s->n_idle_timeouts && !s->n_evicted &&
	    !s->n_plaintext && !s->n_tls_failed)
		return;
	if (s->logged_ms && now - s->logged_ms < GUARD_LOG_MS)
		return;
	if (s->n_handshake_timeouts)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ", %u without %s handshake within %u ms",
			      s->n_handshake_timeouts, s->opts.tls ? "a TLS and HTTP/2" : "an HTTP/2",
			      s->opts.handshake_timeout_ms);
	if (s->n_plaintext)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ", %u that sent plain text to this TLS port", s->n_plaintext);
	if (s->n_tls_failed)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ", %u failed TLS handshakes (last: %s)", s->n_tls_failed, s->tls_why);
	if (s->n_idle_timeouts)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", %u idle for %u ms",
			      s->n_idle_timeouts, s->opts.idle_timeout_ms);
	if (s->n_evicted)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			 ", %u to admit new ones at --max-connections %u", s->n_evicted,
			 s->conn_cap);
	fprintf(stderr, "metastore: closed client connections: %s\n", line + 2);
	s->n_handshake_timeouts = s->n_idle_timeouts = s->n_evicted = 0;
	s->n_plaintext = s->n_tls_failed = 0;
	s->logged_ms = now;
}

static void on_sweep(uv_timer_t *t)
{
	struct ms_server *s = t->data;
	uint64_t now = uv_now(s->loop);
	unsigned hs = s->opts.handshake_timeout_ms, idle = s->opts.idle_timeout_ms;
	struct ms_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		if (!c->handshaken) {
			/* loop times are whole ms, so a difference of hs may be up to 1 ms short
			 * of it: only one past it is surely the whole deadline */
			if (hs && now - c->opened_ms > hs) {
				s->n_handshake_timeouts++;
				ms_conn_close(c);
			}
			continue;
		}
		if (c->calls || !idle || now - c->idle_since_ms <= idle)
			continue;
		if (c->draining) {
			/* the GOAWAY did not get out within a sweep: the client does not read */
			ms_conn_close(c);
			continue;
		}
		/* as grpc-go's MaxConnectionIdle: GOAWAY, then close once it is written */
		s->n_idle_timeouts++;
		c->draining = true;
		if (nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR))
			ms_conn_close(c);
		else
			ms_conn_flush(c);
	}
	guard_log(s, now);
}

void ms_conn_guard_log(struct ms_server *s)
{
	guard_log(s, uv_now(s->loop));
}

/* A sweep often enough that a deadline is met within a tenth of it (50 ms to 1 s). */
static uint64_t sweep_period(const struct ms_server_opts *o)
{
	unsigned t = o->handshake_timeout_ms;
	uint64_t p;

	if (o->idle_timeout_ms && (!t || o->idle_timeout_ms < t))
		t = o->idle_timeout_ms;
	p = t / 10;
	return p < 50 ? 50 : p > 1000 ? 1000 : p;
}

/* Past RLIMIT_NOFILE an accept fails and libuv drops the whole backlog, so the soft limit
 * is raised to fit the connections (as Go's runtime does for etcd), and the connection
 * limit lowered to what fits if the hard limit is too low. */
static unsigned conn_cap_for_fds(unsigned max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + FD_RESERVE;
	unsigned cap;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return max_connections;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= want)
		return max_connections;
	cap = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE)
					   : (unsigned)(rl.rlim_cur / 2);
	fprintf(stderr, "metastore: RLIMIT_NOFILE %llu leaves room for %u of --max-connections %u\n",
		(unsigned long long)rl.rlim_cur, cap, max_connections);
	return cap;
}

bool ms_conn_guard_make_room(struct ms_server *s)
{
	struct ms_conn *c = conn_victim(s);

	if (!c)
		return false;
	s->n_evicted++;
	ms_conn_close(c);
	guard_log(s, uv_now(s->loop));
	return true;
}

void ms_conn_guard_init(struct ms_server *s)
{
	s->conn_cap = conn_cap_for_fds(s->opts.max_connections);
	uv_timer_init(s->loop, &s->sweep);
	s->sweep.data = s;
}

void ms_conn_guard_start(struct ms_server *s)
{
	uint64_t p = sweep_period(&s->opts);

	if (s->opts.handshake_timeout_ms || s->opts.idle_timeout_ms)
		uv_timer_start(&s->sweep, on_sweep, p, p);
}
