/* TLS on the gRPC server's connections: the socket's bytes through an OpenSSL session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/server_conn.h"
#include "rpc/tls.h"

/* What a plain-text gRPC client gets on a TLS port: every call ends with this. */
#define PLAINTEXT_WHY "metastore: this port serves TLS only: connect with https:// and TLS"
#define H2_PREFACE "PRI * HTTP/2.0"

const char *grpc_call_tls_cn(const struct grpc_call *call)
{
	return call->conn ? call->conn->tls_cn : NULL;
}

int ms_conn_tls_start(struct ms_conn *c)
{
	return ms_tls_new(c->srv->opts.tls, true, NULL, &c->tls);
}

void ms_conn_tls_free(struct ms_conn *c)
{
	ms_tls_free(c->tls);
	c->tls = NULL;
	free(c->tls_cn);
	c->tls_cn = NULL;
}

/* The handshake failed: its alert goes out (the client learns why), then the connection
 * closes: here when the socket took it at once, else from ms_conn_flush once it is written. */
static void tls_failed(struct ms_conn *c, const char *why)
{
	struct ms_server *s = c->srv;
	struct ms_buf out = { 0 };

	s->n_tls_failed++;
	snprintf(s->tls_why, sizeof(s->tls_why), "%s", why);
	ms_conn_guard_log(s);
	c->tls_dead = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (ms_conn_tls_seal(c, &out) || !out.len || ms_conn_write_raw(c, out.data, out.len) ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
		ms_conn_close(c);
}

/* Plain text on a TLS port. A gRPC client is served plain HTTP/2 that ends each of its calls
 * with PLAINTEXT_WHY, so that it reports why; anything else is closed. */
static void plaintext(struct ms_conn *c, const uint8_t *p, size_t len)
{
	struct ms_server *s = c->srv;
	size_t n = len < sizeof(H2_PREFACE) - 1 ? len : sizeof(H2_PREFACE) - 1;

	s->n_plaintext++;
	ms_conn_guard_log(s);
	ms_tls_free(c->tls);
	c->tls = NULL;
	if (memcmp(p, H2_PREFACE, n) != 0) {
		ms_conn_close(c);
		return;
	}
	c->refuse_why = PLAINTEXT_WHY;
	if (ms_conn_h2_recv(c, p, len) < 0) {
		ms_conn_close(c);
		return;
	}
	ms_conn_flush(c);
}

/* Hands every complete decrypted record to nghttp2. 0, or -1 when the connection must end. */
static int tls_pump(struct ms_conn *c)
{
	struct ms_server *s = c->srv;
	char why[256];

	for (;;) {
		ssize_t n = ms_tls_read(c->tls, s->tbuf, sizeof(s->tbuf), why, sizeof(why));

		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1; /* closed by the client, or a broken record */
		if (ms_conn_h2_recv(c, (const uint8_t *)s->tbuf, (size_t)n) < 0 || c->closing)
			return -1;
	}
}

void ms_conn_tls_recv(struct ms_conn *c, const uint8_t *p, size_t len)
{
	char why[256] = "", cn[256];
	int rc;

	if (c->tls_dead)
		return;
	if (!c->tls_seen) {
		c->tls_seen = true;
		if (!ms_tls_looks_like_tls(p, len)) {
			plaintext(c, p, len);
			return;
		}
	}
	if (ms_tls_feed(c->tls, p, len)) {
		ms_conn_close(c);
		return;
	}
	if (!c->tls_ready) {
		rc = ms_tls_handshake(c->tls, why, sizeof(why));
		if (rc == -EAGAIN) {
			ms_conn_flush(c);
			return;
		}
		if (rc) {
			tls_failed(c, why);
			return;
		}
		c->tls_ready = true;
		if (ms_tls_peer_cn(c->tls, cn, sizeof(cn)) == 0)
			c->tls_cn = strdup(cn);
	}
	if (tls_pump(c)) {
		ms_conn_close(c);
		return;
	}
	ms_conn_flush(c);
}

int ms_conn_tls_seal(struct ms_conn *c, struct ms_buf *out)
{
	size_t n;
	char why[256];
	uint8_t *wire;

	if (out->len && ms_tls_write(c->tls, out->data, out->len, why, sizeof(why)))
		return -EPROTO;
	ms_buf_free(out);
	n = ms_tls_out_pending(c->tls);
	if (!n)
		return 0;
	wire = malloc(n);
	if (!wire)
		return -ENOMEM;
	n = ms_tls_out_take(c->tls, wire, n);
	out->data = wire;
	out->len = out->cap = n;
	return 0;
}
