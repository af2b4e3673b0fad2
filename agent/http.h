/* HTTP front end of the agent (libmicrohttpd): /metrics, /health, / and errors for the rest. */
#ifndef AGENT_HTTP_H
#define AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expo.h"

struct http_server;

struct http_handlers {
	/* Appends the exposition in `fmt` to `out`; returns 0 or -errno (-> 500). */
	int (*metrics)(enum expo_format fmt, struct expo_buf *out, void *arg);
	/* Returns true if healthy; otherwise false with a one-line reason in `why`. */
	bool (*health)(char *why, size_t len, void *arg);
	void *arg;
	/* where the metrics are served (copied): "/" and a path, not "/" or "/health" and at
	 * most HTTP_MAX_PATH bytes; NULL is "/metrics" */
	const char *metrics_path;
	/* TLS: the server's certificate chain and key, PEM (borrowed until http_server_free);
	 * both NULL: plain HTTP */
	const char *tls_cert_pem, *tls_key_pem;
	/* basic auth: true if user and password may in; NULL: no authentication. Every path
	 * asks for it; a request without or with wrong credentials gets 401. */
	bool (*authorize)(const char *user, const char *password, void *arg);
};

#define HTTP_MAX_PATH 128

/* Bounds that keep a scraper from tying the agent up: at most HTTP_MAX_SCRAPES /metrics
 * responses in progress (more get 503 with Retry-After), HTTP_MAX_CONNECTIONS open
 * connections, each closed after HTTP_CONNECTION_TIMEOUT_S without traffic. Past
 * HTTP_MAX_CONNECTIONS - HTTP_GUARD_SPARE open, a new connection pushes out the one that
 * has waited longest (at least HTTP_GUARD_MIN_AGE_S) for its request; at the limit, the
 * longest-waiting one whatever its age (http_guard.h): slow clients never keep scrapes out. */
#define HTTP_MAX_SCRAPES 10
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_GUARD_SPARE 32
#define HTTP_GUARD_MIN_AGE_S 1.0
#define HTTP_CONNECTION_TIMEOUT_S 30
#define HTTP_LISTEN_BACKLOG 256

/*
 * Starts serving on `listen` ("IP:PORT" or "[IPv6]:PORT"; port 0 picks a free port) on a
 * background thread: GET/HEAD /metrics or h->metrics_path (200, or 500 if the callback fails; gzip when
 * accepted), /health (200 "ok" or 503 "unhealthy: <why>"), / (HTML index); 404 for other
 * paths; 405 with "Allow: GET, HEAD" for other methods. At most HTTP_MAX_SCRAPES /metrics
 * responses at once (503 "too many scrapes" beyond), HTTP_MAX_CONNECTIONS connections, idle
 * ones closed after HTTP_CONNECTION_TIMEOUT_S. Both callbacks are
 * required; the handlers are copied and `arg` is borrowed. Returns 0 with *out owned by the
 * caller, -EINVAL for a bad address or handler, or -errno from bind/listen.
 */
int http_server_new(const char *listen, const struct http_handlers *h, struct http_server **out);

/* True when `path` may be the metrics path (see struct http_handlers). */
bool http_metrics_path_ok(const char *path);

/* Binds and listens on `listen` without serving yet, so that the caller can drop its
 * privileges in between. Returns 0 with *fd (owned by the caller), -EINVAL or -errno. */
int http_listener_open(const char *listen, int *fd);

/* The address a listening socket is bound to, as "127.0.0.1:PORT" or "[::1]:PORT" (the
 * port it got for port 0). Returns 0 or -errno. */
int http_listener_name(int fd, char *buf, size_t len);

/* Starts serving on a listening socket from http_listener_open; the fd is owned by the
 * server from here on (closed on failure too). Same routes and returns as http_server_new. */
int http_server_start(int fd, const struct http_handlers *h, struct http_server **out);

/* The bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);

/* Stops serving (waits for running requests) and frees; NULL is allowed. */
void http_server_free(struct http_server *s);

/* The exposition format an Accept header (NULL if absent) asks for: OpenMetrics if
 * application/openmetrics-text has q > 0 and no lower q than text/plain, else 0.0.4. */
enum expo_format http_negotiate_format(const char *accept);

/* True if an Accept-Encoding value (NULL if absent) allows gzip: "gzip", "x-gzip" or "*"
 * (checked in that order; the first one listed decides) with q > 0. */
bool http_accepts_gzip(const char *accept_encoding);

#endif /* AGENT_HTTP_H */
