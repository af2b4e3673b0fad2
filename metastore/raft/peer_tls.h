/* TLS for raft peer connections (OpenSSL on memory buffers: the caller moves the bytes). */
#ifndef MS_PEER_TLS_H
#define MS_PEER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* etcd's peer TLS flags. */
struct ms_peer_tls_cfg {
	const char *cert_file;  /* --peer-cert-file: presented as server and as client */
	const char *key_file;   /* --peer-key-file */
	const char *ca_file;    /* --peer-trusted-ca-file; NULL: the system's CAs */
	bool client_cert_auth;  /* --peer-client-cert-auth: incoming peers need a verified cert */
};

struct ms_peer_tls_ctx;
struct ms_peer_tls;

/* Loads the certificate, key and CAs. Returns 0 with *out (free with ms_peer_tls_ctx_free), or
 * -EINVAL / -ENOMEM with a one-line reason in err. */
int ms_peer_tls_ctx_new(const struct ms_peer_tls_cfg *cfg, struct ms_peer_tls_ctx **out,
			char *err, size_t errlen);

/* Frees a context; NULL is allowed. Sessions made from it must be freed first. */
void ms_peer_tls_ctx_free(struct ms_peer_tls_ctx *c);

/* A session on one connection: the accepting side (server) or the connecting one, which
 * verifies that the server's certificate names `peer_ip`. Returns 0 with *out, or -ENOMEM /
 * -EINVAL. */
int ms_peer_tls_new(struct ms_peer_tls_ctx *c, bool server, const char *peer_ip,
		    struct ms_peer_tls **out);

/* Frees a session; NULL is allowed. */
void ms_peer_tls_free(struct ms_peer_tls *s);

/* Hands the session bytes received from the network. 0 or -ENOMEM. */
int ms_peer_tls_feed(struct ms_peer_tls *s, const void *p, size_t len);

/* Advances the handshake: 0 once it is done, -EAGAIN while it needs more input (after
 * sending what ms_peer_tls_out_take gives), -EPROTO with the reason in why when it failed. */
int ms_peer_tls_handshake(struct ms_peer_tls *s, char *why, size_t whylen);

/* Decrypted bytes into buf: their count, -EAGAIN when none are complete yet, 0 when the
 * peer closed the session, -EPROTO with the reason in why. */
ssize_t ms_peer_tls_read(struct ms_peer_tls *s, void *buf, size_t len, char *why, size_t whylen);

/* Encrypts all of p (after the handshake). 0, or -EPROTO with the reason in why. */
int ms_peer_tls_write(struct ms_peer_tls *s, const void *p, size_t len, char *why, size_t whylen);

/* Bytes waiting to go to the network, and taking up to len of them into buf (returns how
 * many). */
size_t ms_peer_tls_out_pending(struct ms_peer_tls *s);
size_t ms_peer_tls_out_take(struct ms_peer_tls *s, void *buf, size_t len);

#endif /* MS_PEER_TLS_H */
