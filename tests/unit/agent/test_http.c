/* Unit tests for http: a real server on 127.0.0.1 (ephemeral port) spoken to over raw TCP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "http.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char body_prom[] = "# TYPE m counter\nm{a=\"b\"} 1\n";
static const char body_om[] = "# TYPE m counter\nm_total{a=\"b\"} 1\n# EOF\n";

/* What the fake callbacks answer, and what they saw. */
struct fake {
	bool healthy;
	bool fail_metrics;
	size_t big; /* if set, the metrics body is this many bytes */
	int calls;
	enum expo_format last_fmt;
};

static int fake_metrics(enum expo_format fmt, struct expo_buf *out, void *arg)
{
	struct fake *f = arg;

	f->calls++;
	f->last_fmt = fmt;
	if (f->fail_metrics)
		return -EIO;
	if (f->big) {
		for (size_t i = 0; i < f->big / 16; i++)
			if (expo_buf_printf(out, "m{i=\"%08zx\"} 1\n", i))
				return -ENOMEM;
		return 0;
	}
	return expo_buf_printf(out, "%s", fmt == EXPO_OPENMETRICS ? body_om : body_prom);
}

static bool fake_health(char *why, size_t len, void *arg)
{
	struct fake *f = arg;

	if (!f->healthy)
		snprintf(why, len, "probe grpc_request_end detached");
	return f->healthy;
}

struct fixture {
	struct fake fake;
	struct http_server *srv;
	uint16_t port;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct http_handlers h = { .metrics = fake_metrics, .health = fake_health };

	if (!fx)
		return -1;
	fx->fake.healthy = true;
	h.arg = &fx->fake;
	if (http_server_new("127.0.0.1:0", &h, &fx->srv)) {
		free(fx);
		return -1;
	}
	fx->port = http_server_port(fx->srv);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	http_server_free(fx->srv);
	free(fx);
	return 0;
}

static int connect_port(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	/* A server that stops answering fails the test instead of hanging it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads until EOF; returns the malloc'ed bytes and their count. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	assert_non_null(buf);
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (cap - n < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	assert_int_equal(r, 0);
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct response {
	int status;
	char *raw;
	char *headers; /* points into raw: "Name: value\r\n..." */
	char *body;
	size_t body_len;
};

static void response_free(struct response *r)
{
	free(r->raw);
}

/* Sends `method path` with extra header lines and Connection: close; parses the answer. */
static struct response request(uint16_t port, const char *method, const char *path,
			       const char *extra)
{
	struct response r = { 0 };
	char req[1024], *end;
	size_t len;
	int fd = connect_port(port);

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n",
		 method, path, extra ? extra : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	r.raw = read_all(fd, &len);
	close(fd);
	assert_int_equal(sscanf(r.raw, "HTTP/1.1 %d ", &r.status), 1);
	end = strstr(r.raw, "\r\n\r\n");
	assert_non_null(end);
	r.headers = strstr(r.raw, "\r\n") + 2;
	end[2] = '\0'; /* headers end with their last "\r\n" */
	r.body = end + 4;
	r.body_len = len - (size_t)(r.body - r.raw);
	return r;
}

/* The value of header `name`, copied into out; NULL if absent. */
static const char *header(const struct response *r, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);

	for (const char *p = r->headers; *p; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, len, "%.*s", (int)(e - v), v);
			return out;
		}
	}
	return NULL;
}

static void assert_header(const struct response *r, const char *name, const char *want)
{
	char v[256];

	if (!want) {
		assert_null(header(r, name, v, sizeof(v)));
		return;
	}
	assert_non_null(header(r, name, v, sizeof(v)));
	assert_string_equal(v, want);
}

static void test_routes(void **state)
{
	static const struct {
		const char *method, *path;
		int status;
		const char *ctype, *allow;
	} cases[] = {
		{ "GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", NULL },
		{ "GET", "/metrics?x=1", 200, "text/plain; version=0.0.4; charset=utf-8", NULL },
		{ "GET", "/health", 200, "text/plain; charset=utf-8", NULL },
		{ "GET", "/", 200, "text/html; charset=utf-8", NULL },
		{ "GET", "/nope", 404, "text/plain; charset=utf-8", NULL },
		{ "GET", "/metrics/", 404, "text/plain; charset=utf-8", NULL },
		{ "POST", "/nope", 404, "text/plain; charset=utf-8", NULL },
		{ "POST", "/metrics", 405, "text/plain; charset=utf-8", "GET, HEAD" },
		{ "PUT", "/health", 405, "text/plain; charset=utf-8", "GET, HEAD" },
		{ "DELETE", "/", 405, "text/plain; charset=utf-8", "GET, HEAD" },
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < LEN(cases); i++) {
		struct response r = request(fx->port, cases[i].method, cases[i].path, NULL);

		assert_int_equal(r.status, cases[i].status);
		assert_header(&r, "Content-Type", cases[i].ctype);
		assert_header(&r, "Allow", cases[i].allow);
		if (cases[i].status == 404)
			assert_string_equal(r.body, "not found\n");
		if (cases[i].status == 405)
			assert_string_equal(r.body, "method not allowed\n");
		response_free(&r);
	}
	/* Only the two GET /metrics requests reached the callback. */
	assert_int_equal(fx->fake.calls, 2);
}

static void test_metrics_body(void **state)
{
	struct fixture *fx = *state;
	struct response r = request(fx->port, "GET", "/metrics", NULL);
	char len[32];

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, body_prom);
	assert_int_equal(r.body_len, strlen(body_prom));
	snprintf(len, sizeof(len), "%zu", strlen(body_prom));
	assert_header(&r, "Content-Length", len);
	assert_header(&r, "Content-Encoding", NULL);
	assert_int_equal(fx->fake.last_fmt, EXPO_PROMETHEUS);
	response_free(&r);

	/* HEAD: same headers, no body. */
	r = request(fx->port, "HEAD", "/metrics", NULL);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	assert_header(&r, "Content-Length", len);
	assert_int_equal(r.body_len, 0);
	response_free(&r);
}

static void test_openmetrics(void **state)
{
	struct fixture *fx = *state;
	/* What Prometheus 2.42 sends. */
	struct response r = request(
		fx->port, "GET", "/metrics",
		"Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n");

	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8");
	assert_string_equal(r.body, body_om);
	assert_int_equal(fx->fake.last_fmt, EXPO_OPENMETRICS);
	response_free(&r);
}

static char *gunzip(const char *in, size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = 1 << 20;
	char *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

static void test_gzip(void **state)
{
	struct fixture *fx = *state;
	struct expo_buf plain = { 0 };
	struct response r;
	size_t n;
	char *unz;

	fx->fake.big = 64 * 1024;
	r = request(fx->port, "GET", "/metrics", "Accept-Encoding: gzip, deflate\r\n");
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Encoding", "gzip");
	assert_header(&r, "Vary", "Accept, Accept-Encoding");
	/* The same callback output, compressed. */
	assert_int_equal(fake_metrics(EXPO_PROMETHEUS, &plain, &fx->fake), 0);
	assert_true(r.body_len < plain.len / 4);
	unz = gunzip(r.body, r.body_len, &n);
	assert_int_equal(n, plain.len);
	assert_memory_equal(unz, plain.data, n);
	free(unz);
	response_free(&r);

	r = request(fx->port, "GET", "/metrics", "Accept-Encoding: gzip;q=0, identity\r\n");
	assert_header(&r, "Content-Encoding", NULL);
	assert_int_equal(r.body_len, plain.len);
	assert_memory_equal(r.body, plain.data, plain.len);
	response_free(&r);
	expo_buf_free(&plain);
}

static void test_health_and_index(void **state)
{
	struct fixture *fx = *state;
	struct response r = request(fx->port, "GET", "/health", NULL);

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	response_free(&r);

	fx->fake.healthy = false;
	r = request(fx->port, "GET", "/health", NULL);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "unhealthy: probe grpc_request_end detached\n");
	response_free(&r);

	r = request(fx->port, "GET", "/", NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<a href=\"/metrics\">"));
	assert_non_null(strstr(r.body, "<a href=\"/health\">"));
	response_free(&r);
}

static void test_metrics_failure(void **state)
{
	struct fixture *fx = *state;
	struct response r;

	fx->fake.fail_metrics = true;
	r = request(fx->port, "GET", "/metrics", NULL);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "cannot render metrics\n");
	response_free(&r);
}

/* At HTTP_MAX_CONNECTIONS open connections that never finish their request, a new one is
 * still served at once: the ones that waited longest are pushed out (closed by the server),
 * the newest stay. */
static void test_connection_limit(void **state)
{
	static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct fixture *fx = *state;
	struct timeval short_wait = { .tv_usec = 300 * 1000 };
	int held[HTTP_MAX_CONNECTIONS], extra;
	char *answer, c;
	size_t len;

	for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++) {
		held[i] = connect_port(fx->port);
		/* A partial request keeps the connection open on the server side. */
		assert_int_equal(write(held[i], "GET", 3), 3);
	}
	usleep(100 * 1000);
	extra = connect_port(fx->port);
	assert_int_equal(write(extra, req, strlen(req)), (ssize_t)strlen(req));
	answer = read_all(extra, &len);
	assert_memory_equal(answer, "HTTP/1.1 200 ", 13);
	free(answer);
	close(extra);
	/* The two oldest went (one for the last slot, one for `extra`): EOF or reset. */
	for (int i = 0; i < 2; i++) {
		ssize_t r = read(held[i], &c, 1);

		assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
	}
	/* The newest is still open, waiting for the rest of its request. */
	setsockopt(held[HTTP_MAX_CONNECTIONS - 1], SOL_SOCKET, SO_RCVTIMEO, &short_wait,
		   sizeof(short_wait));
	errno = 0;
	assert_int_equal(read(held[HTTP_MAX_CONNECTIONS - 1], &c, 1), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++)
		close(held[i]);
}

/* Past HTTP_MAX_SCRAPES /metrics responses in progress (clients that do not read a large
 * body), a further scrape gets 503 with Retry-After at once; /health is still served, and
 * scrapes are served again once the slots free. */
static void test_scrape_limit(void **state)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fixture *fx = *state;
	int held[HTTP_MAX_SCRAPES], small = 4096;
	struct response r;

	fx->fake.big = 8 << 20;
	for (int i = 0; i < HTTP_MAX_SCRAPES; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->port) };

		held[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(held[i] >= 0);
		setsockopt(held[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		assert_int_equal(connect(held[i], (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(write(held[i], req, strlen(req)), (ssize_t)strlen(req));
	}
	/* Bounded (20 s): until all the big responses are queued (one render each). */
	for (int i = 0; i < 400 && fx->fake.calls < HTTP_MAX_SCRAPES; i++)
		usleep(50 * 1000);
	assert_int_equal(fx->fake.calls, HTTP_MAX_SCRAPES);
	r = request(fx->port, "GET", "/metrics", NULL);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "too many scrapes\n");
	assert_header(&r, "Retry-After", "1");
	response_free(&r);
	assert_int_equal(fx->fake.calls, HTTP_MAX_SCRAPES);
	r = request(fx->port, "GET", "/health", NULL);
	assert_int_equal(r.status, 200);
	response_free(&r);
	for (int i = 0; i < HTTP_MAX_SCRAPES; i++)
		close(held[i]);
	fx->fake.big = 0;
	/* The aborted responses give their slots back (bounded wait for the server to see it). */
	for (int i = 0; i < 50; i++) {
		r = request(fx->port, "GET", "/metrics", NULL);
		if (r.status == 200)
			break;
		response_free(&r);
		usleep(100 * 1000);
	}
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, body_prom);
	response_free(&r);
}

static void test_new_errors(void **state)
{
	struct fixture *fx = *state;
	struct http_handlers h = { .metrics = fake_metrics, .health = fake_health, .arg = &fx->fake };
	struct http_handlers no_health = { .metrics = fake_metrics };
	static const char *const bad[] = { "nohost", "127.0.0.1", "127.0.0.1:99999", "1.2.3:80",
					   "localhost:80", "[::1]80" };
	struct http_server *s = (struct http_server *)&h;
	char busy[32];

	(void)state;
	for (size_t i = 0; i < LEN(bad); i++) {
		assert_int_equal(http_server_new(bad[i], &h, &s), -EINVAL);
		assert_null(s);
	}
	assert_int_equal(http_server_new("127.0.0.1:0", &no_health, &s), -EINVAL);
	assert_int_equal(http_server_new("127.0.0.1:0", NULL, &s), -EINVAL);
	/* The fixture's port is taken. */
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", fx->port);
	assert_true(http_server_new(busy, &h, &s) < 0);
	assert_null(s);
	http_server_free(NULL);
}

static void test_negotiation(void **state)
{
	static const struct {
		const char *accept;
		enum expo_format want;
	} formats[] = {
		{ NULL, EXPO_PROMETHEUS },
		{ "", EXPO_PROMETHEUS },
		{ "*/*", EXPO_PROMETHEUS },
		{ "text/plain;version=0.0.4", EXPO_PROMETHEUS },
		{ "application/openmetrics-text", EXPO_OPENMETRICS },
		{ "Application/OpenMetrics-Text; version=1.0.0", EXPO_OPENMETRICS },
		{ "text/plain;q=0.5, application/openmetrics-text;version=1.0.0", EXPO_OPENMETRICS },
		{ "application/openmetrics-text;q=0", EXPO_PROMETHEUS },
		{ "application/openmetrics-text;q=0.2,text/plain;q=0.9", EXPO_PROMETHEUS },
		{ "application/openmetrics-textual", EXPO_PROMETHEUS },
	};
	static const struct {
		const char *ae;
		bool want;
	} encodings[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },
		{ "GZIP", true },
		{ "deflate, gzip;q=1.0, *;q=0.5", true },
		{ "br ,  gzip", true },
		{ "x-gzip", true },
		{ "*", true },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "gzip;q=0, *", false },
		{ "deflate", false },
		{ "gzipped", false },
		{ "identity", false },
	};

	(void)state;
	for (size_t i = 0; i < LEN(formats); i++)
		assert_int_equal(http_negotiate_format(formats[i].accept), formats[i].want);
	for (size_t i = 0; i < LEN(encodings); i++) {
		if (http_accepts_gzip(encodings[i].ae) != encodings[i].want)
			fail_msg("Accept-Encoding '%s'", encodings[i].ae);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openmetrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_and_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
