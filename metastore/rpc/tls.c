/* TLS sessions on memory buffers (OpenSSL): the caller moves the bytes; client and peer ports. */
#include "rpc/tls.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct ms_tls_ctx {
	SSL_CTX *server, *client;
};

struct ms_tls {
	SSL *ssl;
	BIO *in, *out; /* network bytes in, network bytes to send */
};

/* The oldest error OpenSSL queued (the cause), then an empty queue. */
static void ssl_reason(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (!e) {
		snprintf(why, whylen, "%s", what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s: %s", what, buf);
	ERR_clear_error();
}

static const char *prefix_of(const struct ms_tls_cfg *cfg)
{
	return cfg->flag_prefix ? cfg->flag_prefix : "peer-";
}

static const unsigned char alpn_h2[] = { 2, 'h', '2' };

/* ALPN on the server: "h2" when the client offers it; a client that offers only other
 * protocols is refused (gRPC runs on HTTP/2 only), one that offers none is served. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl, (void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof(alpn_h2), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* One side's context: the member's certificate and key, the CAs that sign its peers. */
static SSL_CTX *side_new(const struct ms_tls_cfg *cfg, bool server, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	int verify = SSL_VERIFY_PEER;
	const char *pfx = prefix_of(cfg);
	char what[320];

	if (!ctx) {
		ssl_reason(err, errlen, "TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		snprintf(what, sizeof(what), "--%scert-file %s", pfx, cfg->cert_file);
		goto fail;
	}
	/* this also checks that the key is the certificate's */
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof(what), "--%skey-file %s", pfx, cfg->key_file);
		goto fail;
	}
	if (cfg->ca_file ? SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1 :
			   SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(what, sizeof(what), "--%strusted-ca-file %s", pfx,
			 cfg->ca_file ? cfg->ca_file : "(the system's)");
		goto fail;
	}
	/* a server asks for client certificates only with --(peer-)client-cert-auth (etcd) */
	if (server)
		verify = cfg->client_cert_auth ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT :
						 SSL_VERIFY_NONE;
	SSL_CTX_set_verify(ctx, verify, NULL);
	if (cfg->alpn_h2 && server)
		SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	/* 0 is success here, unlike the rest of OpenSSL */
	if (cfg->alpn_h2 && !server && SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2))) {
		snprintf(what, sizeof(what), "ALPN");
		goto fail;
	}
	return ctx;
fail:
	ssl_reason(err, errlen, what);
	SSL_CTX_free(ctx);
	return NULL;
}

int ms_tls_ctx_new(const struct ms_tls_cfg *cfg, struct ms_tls_ctx **out,
			char *err, size_t errlen)
{
	struct ms_tls_ctx *c;

	*out = NULL;
	if (!cfg->cert_file || !cfg->key_file) {
		const char *pfx = prefix_of(cfg);

		snprintf(err, errlen, "%s TLS needs --%scert-file and --%skey-file",
			 *pfx ? "peer" : "client", pfx, pfx);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ERR_clear_error();
	c->server = side_new(cfg, true, err, errlen);
	if (c->server)
		c->client = side_new(cfg, false, err, errlen);
	if (!c->client) {
		ms_tls_ctx_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void ms_tls_ctx_free(struct ms_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->server);
	SSL_CTX_free(c->client);
	free(c);
}

int ms_tls_new(struct ms_tls_ctx *c, bool server, const char *peer_ip,
		    struct ms_tls **out)
{
	struct ms_tls *s = calloc(1, sizeof(*s));
	int e = -ENOMEM;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->ssl = SSL_new(server ? c->server : c->client);
	if (!s->ssl)
		goto cleanup;
	s->in = BIO_new(BIO_s_mem());
	s->out = BIO_new(BIO_s_mem());
	if (!s->in || !s->out) {
		BIO_free(s->in);
		BIO_free(s->out);
		goto cleanup;
	}
	SSL_set_bio(s->ssl, s->in, s->out); /* the session owns both from here */
	if (server) {
		SSL_set_accept_state(s->ssl);
	} else {
		/* as etcd dials a peer URL: the server's certificate must carry its IP */
		e = -EINVAL;
		if (!peer_ip || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), peer_ip) != 1)
			goto cleanup;
		SSL_set_connect_state(s->ssl);
	}
	*out = s;
	return 0;
cleanup:
	SSL_free(s->ssl);
	free(s);
	ERR_clear_error();
	return e;
}

void ms_tls_free(struct ms_tls *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	free(s);
}

int ms_tls_feed(struct ms_tls *s, const void *p, size_t len)
{
	return BIO_write(s->in, p, (int)len) == (int)len ? 0 : -ENOMEM;
}

/* Why a call on the session failed: the certificate check, else OpenSSL's queue. */
static int session_failed(struct ms_tls *s, int rc, const char *what, char *why, size_t whylen)
{
	int e = SSL_get_error(s->ssl, rc);
	long v = SSL_get_verify_result(s->ssl);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (v != X509_V_OK) {
		snprintf(why, whylen, "%s: certificate: %s", what,
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
	} else {
		ssl_reason(why, whylen, what);
	}
	return -EPROTO;
}

int ms_tls_handshake(struct ms_tls *s, char *why, size_t whylen)
{
	int rc = SSL_do_handshake(s->ssl);

	if (rc == 1)
		return 0;
	rc = session_failed(s, rc, "TLS handshake", why, whylen);
	return rc ? rc : -EPROTO; /* a close in the middle of the handshake is a failure */
}

ssize_t ms_tls_read(struct ms_tls *s, void *buf, size_t len, char *why, size_t whylen)
{
	int rc = SSL_read(s->ssl, buf, (int)len);

	if (rc > 0)
		return rc;
	return session_failed(s, rc, "TLS", why, whylen);
}

int ms_tls_write(struct ms_tls *s, const void *p, size_t len, char *why, size_t whylen)
{
	int rc;

	if (!len)
		return 0;
	/* memory BIOs take everything: one call writes all of it */
	rc = SSL_write(s->ssl, p, (int)len);
	if (rc == (int)len)
		return 0;
	if (session_failed(s, rc, "TLS", why, whylen) != -EPROTO)
		snprintf(why, whylen, "TLS: session closed or stalled on a write");
	return -EPROTO;
}

int ms_tls_peer_cn(struct ms_tls *s, char *buf, size_t len)
{
	X509 *x = SSL_get0_peer_certificate(s->ssl);
	int n;

	if (!x || SSL_get_verify_result(s->ssl) != X509_V_OK)
		return -ENOENT;
	/* its length first: OpenSSL cuts a long one silently */
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, NULL, 0);
	if (n <= 0 || (size_t)n >= len ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)len) != n ||
	    strlen(buf) != (size_t)n) {
		buf[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

bool ms_tls_looks_like_tls(const void *p, size_t len)
{
	/* a TLS record of type handshake (22) starts every ClientHello */
	return len > 0 && ((const uint8_t *)p)[0] == 22;
}

size_t ms_tls_out_pending(struct ms_tls *s)
{
	return BIO_ctrl_pending(s->out);
}

size_t ms_tls_out_take(struct ms_tls *s, void *buf, size_t len)
{
	int n = BIO_read(s->out, buf, (int)len);

	return n > 0 ? (size_t)n : 0;
}
