/* TLS sessions on memory buffers (OpenSSL): the caller moves the bytes; client and peer ports. */
#ifndef MS_TLS_H
#define MS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* etcd's TLS flags of one port (client: --cert-file ..., peer: --peer-cert-file ...). */
struct ms_tls_cfg {
	const char *cert_file;  /* presented as server and as client */
	const char *key_file;
	const char *ca_file;    /* CAs that sign the other side; NULL: the system's CAs */
	bool client_cert_auth;  /* incoming connections need a verified certificate */
	const char *flag_prefix; /* names the flags in errors: "peer-" (NULL) or "" */
	bool alpn_h2;           /* offer (client) / require if offered (server) ALPN "h2" */
};

struct ms_tls_ctx;
struct ms_tls;

/* Loads the certificate, key and CAs. Returns 0 with *out (free with ms_tls_ctx_free), or
 * -EINVAL / -ENOMEM with a one-line reason (naming the flag) in err. */
int ms_tls_ctx_new(const struct ms_tls_cfg *cfg, struct ms_tls_ctx **out,
			char *err, size_t errlen);

/* Frees a context; NULL is allowed. Sessions made from it must be freed first. */
void ms_tls_ctx_free(struct ms_tls_ctx *c);

/* A session on one connection: the accepting side (server) or the connecting one, which
 * verifies that the server's certificate names `peer_ip`. Returns 0 with *out, or -ENOMEM /
 * -EINVAL. */
int ms_tls_new(struct ms_tls_ctx *c, bool server, const char *peer_ip,
		    struct ms_tls **out);

/* Frees a session; NULL is allowed. */
void ms_tls_free(struct ms_tls *s);

/* Hands the session bytes received from the network. 0 or -ENOMEM. */
int ms_tls_feed(struct ms_tls *s, const void *p, size_t len);

/* Advances the handshake: 0 once it is done, -EAGAIN while it needs more input (after
 * sending what ms_tls_out_take gives), -EPROTO with the reason in why when it failed. */
int ms_tls_handshake(struct ms_tls *s, char *why, size_t whylen);

/* Decrypted bytes into buf: their count, -EAGAIN when none are complete yet, 0 when the
 * peer closed the session, -EPROTO with the reason in why. */
ssize_t ms_tls_read(struct ms_tls *s, void *buf, size_t len, char *why, size_t whylen);

/* Encrypts all of p (after the handshake). 0, or -EPROTO with the reason in why. */
int ms_tls_write(struct ms_tls *s, const void *p, size_t len, char *why, size_t whylen);

/* The common name of the certificate the other side presented and the handshake verified:
 * 0 with it in buf, -ENOENT when there is none (or it does not fit). */
int ms_tls_peer_cn(struct ms_tls *s, char *buf, size_t len);

/* Whether the first bytes of a connection (at least 1) can start a TLS handshake record. */
bool ms_tls_looks_like_tls(const void *p, size_t len);

/* Bytes waiting to go to the network, and taking up to len of them into buf (returns how
 * many). */
size_t ms_tls_out_pending(struct ms_tls *s);
size_t ms_tls_out_take(struct ms_tls *s, void *buf, size_t len);

#endif /* MS_TLS_H */
