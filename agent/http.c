/* HTTP front end of the agent (libmicrohttpd): /metrics, /health, / and errors for the rest. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "args.h"
#include "http_guard.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_handlers h;
	char metrics_path[HTTP_MAX_PATH + 1];
	char index[640]; /* the / page, naming metrics_path */
	uint16_t port;
	atomic_uint scrapes; /* /metrics responses queued and not yet completed */
	pthread_mutex_t guard_lock;
	struct http_guard *guard; /* which connection makes room for a new one */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The connection's guard slot, kept as its socket context (slot + 1; 0: none). */
static int guard_slot(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? (int)(intptr_t)ci->socket_context - 1 : -1;
}

/* MHD_OPTION_NOTIFY_CONNECTION: every connection is in the guard from open to close; when
 * one opens, the guard may pick a slow one to shut down (MHD then closes it). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;

	pthread_mutex_lock(&s->guard_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		int victim = -1, slot = -1;

		if (ci)
			slot = http_guard_open(s->guard, ci->connect_fd, now_s(), &victim);
		*socket_ctx = (void *)(intptr_t)(slot + 1);
		if (victim >= 0)
			shutdown(victim, SHUT_RDWR);
		else if (slot < 0 && ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_guard_close(s->guard, (int)(intptr_t)*socket_ctx - 1);
		*socket_ctx = NULL;
	}
	pthread_mutex_unlock(&s->guard_lock);
}

/* The index page; %s twice: the metrics path (checked to hold no markup characters). */
static const char index_fmt[] =
	"<!DOCTYPE html>\n<html><head><title>metastore-agent</title></head><body>\n"
	"<h1>metastore-agent</h1>\n<ul>\n"
	"<li><a href=\"%s\">%s</a> &mdash; Prometheus metrics</li>\n"
	"<li><a href=\"/health\">/health</a> &mdash; probes attached and maps readable</li>\n"
	"</ul>\n</body></html>\n";

/*
 * Walks a comma-separated header value ("a;q=0.5, b") and returns the q-value (1 if absent)
 * of the first item whose name equals `name` (case-insensitive, parameters other than q
 * ignored), or -1 if none does.
 */
static double header_q(const char *value, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = value;

	while (p && *p) {
		const char *item_end = p + strcspn(p, ","), *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strcspn(p, ";, \t");
		if ((size_t)(e - p) == nlen && strncasecmp(p, name, nlen) == 0) {
			double q = 1;

			/* Parameters: ";version=1.0.0;q=0.5" */
			for (const char *a = e; a < item_end; a++) {
				if (*a != ';')
					continue;
				a++;
				while (*a == ' ' || *a == '\t')
					a++;
				if ((a[0] == 'q' || a[0] == 'Q') && a[1] == '=')
					q = strtod(a + 2, NULL);
			}
			return q;
		}
		p = *item_end ? item_end + 1 : NULL;
	}
	return -1;
}

enum expo_format http_negotiate_format(const char *accept)
{
	double om, text;

	if (!accept)
		return EXPO_PROMETHEUS;
	om = header_q(accept, "application/openmetrics-text");
	text = header_q(accept, "text/plain");
	/* OpenMetrics only when asked for and not ranked below the classic format. */
	return om > 0 && om >= text ? EXPO_OPENMETRICS : EXPO_PROMETHEUS;
}

bool http_accepts_gzip(const char *ae)
{
	double q;

	if (!ae)
		return false;
	q = header_q(ae, "gzip");
	if (q < 0)
		q = header_q(ae, "x-gzip");
	if (q < 0)
		q = header_q(ae, "*");
	return q > 0;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned int status, const char *ctype,
				 const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* gzip-compresses in into *out (malloc'ed). Returns 0 or -ENOMEM / -EIO. */
static int gzip_buf(const char *in, size_t len, char **out, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = compressBound(len) + 32;
	char *buf = malloc(cap);
	int err = -EIO;

	if (!buf)
		return -ENOMEM;
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
	/* level 1: a 10,000-label-set scrape deflates in ~65 ms instead of ~207 ms at the
	 * default level (docs/BENCHMARKS.md), for a somewhat larger body */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto cleanup;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		goto cleanup;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	*out = buf;
	return 0;
cleanup:
	free(buf);
	return err;
}

/* Takes one of the HTTP_MAX_SCRAPES scrape slots; false if all are taken. */
static bool scrape_slot_take(struct http_server *s)
{
	if (atomic_fetch_add(&s->scrapes, 1) < HTTP_MAX_SCRAPES)
		return true;
	atomic_fetch_sub(&s->scrapes, 1);
	return false;
}

/* MHD_OPTION_NOTIFY_COMPLETED: a request whose context holds a scrape slot gives it back. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;

	(void)toe;
	pthread_mutex_lock(&s->guard_lock);
	http_guard_idle(s->guard, guard_slot(c), now_s());
	pthread_mutex_unlock(&s->guard_lock);
	if (*req_ctx == &s->scrapes)
		atomic_fetch_sub(&s->scrapes, 1);
	*req_ctx = NULL;
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	enum expo_format fmt = http_negotiate_format(accept);
	struct expo_buf b = { 0 };
	struct MHD_Response *r;
	bool gz = http_accepts_gzip(ae);
	enum MHD_Result ret;
	char *body;
	size_t len;

	if (s->h.metrics(fmt, &b, s->h.arg)) {
		expo_buf_free(&b);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
				 "cannot render metrics\n");
	}
	body = b.data;
	len = b.len;
	if (gz && gzip_buf(b.data, b.len, &body, &len) == 0)
		expo_buf_free(&b);
	else
		gz = false;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				fmt == EXPO_OPENMETRICS
					? "application/openmetrics-text; version=1.0.0; charset=utf-8"
					: "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * MHD_OPTION_UNESCAPE_CALLBACK: percent-decoding as libmicrohttpd does it, except that a
 * decoded NUL ("%00") empties the string: "/%00/etc/passwd" must not route as "/", nor
 * "/metrics%00x" as "/metrics". An empty path is unknown (404).
 */
static size_t unescape_url(void *cls, struct MHD_Connection *c, char *uri)
{
	size_t n = MHD_http_unescape(uri);

	(void)cls;
	(void)c;
	if (memchr(uri, '\0', n)) {
		uri[0] = '\0';
		return 0;
	}
	return n;
}

/* The request's basic auth credentials are those of a configured user. */
static bool authorized(struct http_server *s, struct MHD_Connection *c)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = user && pass && s->h.authorize(user, pass, s->h.arg);

	MHD_free(user);
	MHD_free(pass);
	return ok;
}

/* 401 with the challenge (WWW-Authenticate: Basic realm="metastore-agent"). */
static enum MHD_Result deny(struct MHD_Connection *c)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(c, "metastore-agent", r);
	MHD_destroy_response(r);
	return ret;
}

/* The context of a request whose headers came: it is answered on the next call. */
static char headers_seen;

/* The request announces a body (which the agent never reads). */
static bool has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0")) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	struct http_server *s = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool known = !strcmp(url, s->metrics_path) || !strcmp(url, "/health") || !strcmp(url, "/");
	char why[256], body[300];

	(void)version;
	(void)upload;
	/*
	 * A GET or HEAD without a body is answered on the call after its headers: libmicrohttpd
	 * keeps the connection alive only for a response queued once the request is complete.
	 * Anything else is answered at once and its connection closed: a body is never read.
	 */
	if (!*req_ctx) {
		pthread_mutex_lock(&s->guard_lock);
		http_guard_busy(s->guard, guard_slot(c));
		pthread_mutex_unlock(&s->guard_lock);
		if (get && !has_body(c)) {
			*req_ctx = &headers_seen;
			return MHD_YES;
		}
	} else if (*upload_len) {
		*upload_len = 0;
		return MHD_YES;
	}
	if (s->h.authorize && !authorized(s, c))
		return deny(c);
	if (!known)
		return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
	if (!get)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				 "method not allowed\n");
	if (!strcmp(url, s->metrics_path)) {
		struct MHD_Response *busy;
		enum MHD_Result ret;

		/* The slot is held until the response is sent (on_completed gives it back). */
		if (scrape_slot_take(s)) {
			*req_ctx = &s->scrapes;
			return serve_metrics(s, c);
		}
		busy = MHD_create_response_from_buffer(strlen("too many scrapes\n"),
						       (void *)"too many scrapes\n",
						       MHD_RESPMEM_PERSISTENT);
		if (!busy)
			return MHD_NO;
		MHD_add_response_header(busy, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		MHD_add_response_header(busy, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, busy);
		MHD_destroy_response(busy);
		return ret;
	}
	if (!strcmp(url, "/"))
		return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", s->index);
	if (s->h.health(why, sizeof(why), s->h.arg))
		return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	snprintf(body, sizeof(body), "unhealthy: %s\n", why);
	return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body);
}

int http_server_start(int fd, const struct http_handlers *h, struct http_server **out)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen = sizeof(ss);
	struct http_server *s;
	int err;

	*out = NULL;
	if (!h || !h->metrics || !h->health ||
	    (h->metrics_path && !http_metrics_path_ok(h->metrics_path))) {
		close(fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->h = *h;
	snprintf(s->metrics_path, sizeof(s->metrics_path), "%s", h->metrics_path ? h->metrics_path : "/metrics");
	snprintf(s->index, sizeof(s->index), index_fmt, s->metrics_path, s->metrics_path);
	s->h.metrics_path = s->metrics_path;
	pthread_mutex_init(&s->guard_lock, NULL);
	s->guard = http_guard_new(HTTP_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS - HTTP_GUARD_SPARE,
				  HTTP_GUARD_MIN_AGE_S);
	if (!s->guard) {
		close(fd);
		pthread_mutex_destroy(&s->guard_lock);
		free(s);
		return -ENOMEM;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	errno = 0;
	/* TLS options only with a certificate: MHD refuses them without MHD_USE_TLS */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)h->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)h->tls_key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	bool use_tls = h->tls_cert_pem && h->tls_key_pem;

	s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				     (use_tls ? MHD_USE_TLS : 0), 0, NULL, NULL,
				     on_request, s, MHD_OPTION_ARRAY, use_tls ? tls : tls + 2,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     MHD_OPTION_END);
	if (!s->daemon) {
		err = errno ? -errno : -EIO;
		close(fd);
		http_guard_free(s->guard);
		pthread_mutex_destroy(&s->guard_lock);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

int http_server_new(const char *listen_addr, const struct http_handlers *h,
		    struct http_server **out)
{
	int fd, err;

	*out = NULL;
	if (!h || !h->metrics || !h->health)
		return -EINVAL;
	err = http_listener_open(listen_addr, &fd);
	if (err)
		return err;
	return http_server_start(fd, h, out);
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	http_guard_free(s->guard);
	pthread_mutex_destroy(&s->guard_lock);
	free(s);
}
