/* HTTP front end of the agent (libmicrohttpd): /metrics, /health, / and errors for the rest. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "args.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_handlers h;
	uint16_t port;
};

static const char index_html[] =
	"<!DOCTYPE html>\n<html><head><title>metastore-agent</title></head><body>\n"
	"<h1>metastore-agent</h1>\n<ul>\n"
	"<li><a href=\"/metrics\">/metrics</a> &mdash; Prometheus metrics</li>\n"
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
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	struct http_server *s = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool known = !strcmp(url, "/metrics") || !strcmp(url, "/health") || !strcmp(url, "/");
	char why[256], body[300];

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req_ctx;
	/* Every answer is queued on the first call: a request body, if any, is never read. */
	if (!known)
		return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
	if (!get)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				 "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(s, c);
	if (!strcmp(url, "/"))
		return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", index_html);
	if (s->h.health(why, sizeof(why), s->h.arg))
		return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	snprintf(body, sizeof(body), "unhealthy: %s\n", why);
	return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body);
}

int http_listener_open(const char *listen_addr, int *fd_out)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;
	char host[64];
	uint16_t port;
	int fd, one = 1, err;

	*fd_out = -1;
	if (!listen_addr || agent_args_split_listen(listen_addr, host, sizeof(host), &port))
		return -EINVAL;
	if (listen_addr[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &a6->sin6_addr);
		sslen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		inet_pton(AF_INET, host, &a4->sin_addr);
		sslen = sizeof(*a4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int http_server_start(int fd, const struct http_handlers *h, struct http_server **out)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen = sizeof(ss);
	struct http_server *s;
	int err;

	*out = NULL;
	if (!h || !h->metrics || !h->health) {
		close(fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->h = *h;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	errno = 0;
	s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
				     on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	if (!s->daemon) {
		err = errno ? -errno : -EIO;
		close(fd);
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
	free(s);
}
