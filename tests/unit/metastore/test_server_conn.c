/* Unit tests for the gRPC transport's connection bounds (server.c): the connection limit,
 * the handshake and idle deadlines, buffered request bytes, and a stream's writable callback. */
#include "server_fixture.h"

static int setup_one_conn(void **state)
{
	return setup_n(state, 1);
}

/* At the limit with every connection running a call, a new one is closed at once and the
 * busy one goes on. */
static void test_connection_limit(void **state)
{
	struct fixture *f = *state;
	struct client extra;
	uint8_t buf[] = { 0, 0, 0, 0, 0 }, x;
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	ssize_t n = -1;

	while (!pending)
		pump(f, NULL, 5);
	client_open(&extra, ms_server_port(f->srv));
	for (int i = 0; i < 200 && n != 0; i++) {
		pump(f, NULL, 5);
		n = recv(extra.fd, &x, 1, 0);
	}
	assert_int_equal(n, 0);
	assert_int_equal(ms_server_connections(f->srv), 1);
	assert_int_equal(grpc_call_send(pending, &resp.base), 0);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	client_close(&extra);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A raw TCP connection to the server that has sent `n` bytes of `data`. */
static int raw_open(struct fixture *f, const char *data, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ms_server_port(f->srv)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (n)
		assert_int_equal(send(fd, data, n, MSG_NOSIGNAL), (ssize_t)n);
	return fd;
}

/* Whether the server has closed fd (EOF or reset); reads and drops what it sent before. */
static bool raw_closed(int fd)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Runs the server until fd is closed or `ms` pass; returns the ms it took (or -1). */
static long until_closed(struct fixture *f, int fd, int ms)
{
	long t0 = now_ms();

	while (now_ms() - t0 < ms) {
		pump(f, NULL, 5);
		if (raw_closed(fd))
			return now_ms() - t0;
	}
	return -1;
}

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SETTINGS_EMPTY "\0\0\0\4\0\0\0\0\0"

static int setup_handshake(void **state)
{
	return setup_opts(state, 8, 300, 0);
}

/* --handshake-timeout 300: a connection without the preface and a first SETTINGS frame is
 * closed 300-400 ms after it opened (a sweep every 50 ms); one that sent both is not. */
static void test_handshake_deadline(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *data;
		size_t len;
		bool closed;
	} cases[] = {
		{ "", 0, true },
		{ PREFACE, 12, true },                /* half the preface */
		{ PREFACE, 24, true },                /* no SETTINGS */
		{ PREFACE SETTINGS_EMPTY, 33, false },
		{ "GET / HTTP/1.1\r\n\r\n", 18, true }, /* not HTTP/2: nghttp2 refuses at once */
	};
	int fd[sizeof(cases) / sizeof(cases[0])];
	long t0 = now_ms(), took;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fd[i] = raw_open(f, cases[i].data, cases[i].len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].closed)
			continue;
		took = until_closed(f, fd[i], 1000);
		if (took < 0 || (i < 3 && (now_ms() - t0 < 300 || now_ms() - t0 > 400)))
			fail_msg("case %zu: closed after %ld ms (in %ld)", i, now_ms() - t0, took);
	}
	pump(f, NULL, 300);
	assert_false(raw_closed(fd[3]));
	assert_int_equal(ms_server_connections(f->srv), 2); /* fd[3] and the fixture's client */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		close(fd[i]);
}

static int setup_idle(void **state)
{
	return setup_opts(state, 8, 0, 300);
}

/* --idle-timeout 300: a connection whose last call ended gets GOAWAY(NO_ERROR) and is
 * closed 300-400 ms later; one with a call still open is not, however long it waits. */
static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64], pb[] = { 0, 0, 0, 0, 0 };
	struct body_src b = range_body(buf, 1);
	struct body_src bp = { .p = pb, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	int fd = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	long t0, took;
	struct client cl2;
	uint8_t rb[65536];
	ssize_t n;

	pump(f, &r->closed, 0);
	t0 = now_ms();
	assert_int_equal(r->grpc_status, 0);
	/* a second client keeps a call open: never idle */
	client_open(&cl2, ms_server_port(f->srv));
	request(&cl2, "POST", "/etcdserverpb.KV/Put", "application/grpc", &bp);
	while (!pending) {
		assert_int_equal(nghttp2_session_send(cl2.h2), 0);
		pump(f, NULL, 5);
	}
	while (!f->cl.eof && now_ms() - t0 < 1000)
		pump(f, NULL, 5);
	if (!f->cl.eof || now_ms() - t0 < 300 || now_ms() - t0 > 400)
		fail_msg("idle client closed after %ld ms", now_ms() - t0);
	assert_int_equal(nghttp2_session_want_read(f->cl.h2), 0); /* it had a GOAWAY */
	took = until_closed(f, fd, 1000);
	assert_true(took >= 0);
	for (t0 = now_ms(); now_ms() - t0 < 500;) {
		pump(f, NULL, 5);
		while ((n = recv(cl2.fd, rb, sizeof(rb), MSG_DONTWAIT)) > 0)
			assert_int_equal(nghttp2_session_mem_recv(cl2.h2, rb, (size_t)n), n);
		assert_int_not_equal(n, 0);
		assert_int_equal(nghttp2_session_send(cl2.h2), 0);
	}
	assert_int_equal(ms_server_connections(f->srv), 1);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	client_close(&cl2);
}

static int setup_two_conns(void **state)
{
	return setup_opts(state, 2, 0, 0);
}

/* At --max-connections 2, a new connection takes the place of the oldest one still in its
 * handshake, else of the one idle longest, so silent clients cannot lock others out. */
static void test_limit_evicts(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	struct body_src b = range_body(buf, 1);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	int silent, silent2, idle_a, idle_b;

	pump(f, &r->closed, 0); /* the fixture's client: handshaken, idle */
	silent = raw_open(f, "", 0);
	pump(f, NULL, 20);
	assert_int_equal(ms_server_connections(f->srv), 2);
	/* a second silent one replaces the first, not the idle client */
	silent2 = raw_open(f, "", 0);
	assert_true(until_closed(f, silent, 1000) >= 0);
	assert_false(raw_closed(silent2));
	assert_false(f->cl.eof);
	assert_int_equal(ms_server_connections(f->srv), 2);
	/* a handshaken one replaces the silent one */
	idle_a = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	assert_true(until_closed(f, silent2, 1000) >= 0);
	pump(f, NULL, 20);
	/* now both are idle: a new one replaces the one idle longest (the fixture's client) */
	idle_b = raw_open(f, PREFACE SETTINGS_EMPTY, 33);
	for (long t0 = now_ms(); !f->cl.eof && now_ms() - t0 < 1000;)
		pump(f, NULL, 5);
	assert_true(f->cl.eof);
	pump(f, NULL, 20);
	assert_false(raw_closed(idle_a));
	assert_false(raw_closed(idle_b));
	assert_int_equal(ms_server_connections(f->srv), 2);
	close(silent);
	close(silent2);
	close(idle_a);
	close(idle_b);
}

static int setup_pending_cap(void **state)
{
	int rc;

	conn_pending_cap = 10000;
	rc = setup_opts(state, 8, 0, 0);
	conn_pending_cap = 0;
	return rc;
}

/* Request bodies still arriving count against the connection's bound together: with 10000
 * bytes allowed, two unfinished 4000-byte bodies fit, a third does not (RESOURCE_EXHAUSTED,
 * the others untouched); once the first two end they are served, and their bytes are free
 * again for a new call. */
static void test_conn_pending_bytes(void **state)
{
	struct fixture *f = *state;
	static uint8_t body[4000];
	struct body_src open_b[3], fin;
	struct resp *r[3], *again;
	uint8_t rb[64];
	struct body_src b = range_body(rb, 1);

	for (int i = 0; i < 3; i++) {
		open_b[i] = (struct body_src){ .p = body, .len = sizeof(body) };
		r[i] = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc",
			       &open_b[i]);
	}
	/* answered while its body is open: the stream stays half-open, so wait for the status */
	for (long t0 = now_ms(); r[2]->grpc_status < 0 && now_ms() - t0 < 5000;)
		pump(f, NULL, 5);
	assert_int_equal(r[2]->grpc_status, MS_GRPC_RESOURCE_EXHAUSTED);
	assert_string_equal(r[2]->grpc_message,
			    "grpc: connection buffers 12000 request bytes, the most allowed is 10000");
	assert_false(r[0]->closed);
	assert_false(r[1]->closed);
	/* the two bodies end without another byte: zeros, a 0-byte message and trailing bytes,
	 * so both end as malformed, and their bytes are released */
	for (int i = 0; i < 2; i++) {
		fin = (struct body_src){ .p = body, .len = 0, .end_stream = true };
		assert_int_equal(nghttp2_submit_data(f->cl.h2, NGHTTP2_FLAG_END_STREAM, r[i]->id,
						     &(nghttp2_data_provider){ .source.ptr = &fin,
									       .read_callback = c_body }),
				 0);
		pump(f, &r[i]->closed, 0);
		assert_int_equal(r[i]->grpc_status, MS_GRPC_INTERNAL);
	}
	again = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	pump(f, &again->closed, 0);
	assert_int_equal(again->grpc_status, 0);
}

/* A producer of FLOW_MSGS responses of FLOW_MSG_BYTES that stops once FLOW_BUF bytes wait
 * on the call and goes on from the writable callback, as the watch service does. */
#define FLOW_MSGS 256
#define FLOW_MSG_BYTES 4096
#define FLOW_BUF (64 * 1024)

static int flow_sent, flow_writable;
static size_t flow_max_pending;

static void flow_produce(struct grpc_call *call)
{
	static char reason[FLOW_MSG_BYTES];
	Etcdserverpb__WatchResponse resp = ETCDSERVERPB__WATCH_RESPONSE__INIT;

	memset(reason, 'r', sizeof(reason) - 1);
	resp.cancel_reason = reason;
	while (flow_sent < FLOW_MSGS) {
		if (grpc_call_pending_bytes(call) >= FLOW_BUF) {
			grpc_call_notify_writable(call, FLOW_BUF / 2);
			return;
		}
		resp.watch_id = flow_sent++;
		assert_int_equal(grpc_call_send(call, &resp.base), 0);
		if (grpc_call_pending_bytes(call) > flow_max_pending)
			flow_max_pending = grpc_call_pending_bytes(call);
	}
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void flow_open(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	flow_produce(call);
}

static void flow_writable_cb(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	flow_writable++;
	flow_produce(call);
}

static void flow_message(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)call, (void)msg, (void)len, (void)ctx;
}

/* 1 MiB through a 64 KiB client window: the producer never has more than its buffer plus one
 * message waiting, is called back as the client takes data, and every message arrives once,
 * in order. */
static void test_stream_writable(void **state)
{
	static const struct grpc_stream_ops ops = { .open = flow_open, .message = flow_message,
						    .writable = flow_writable_cb };
	struct fixture *f = *state;
	struct resp *r;
	size_t off = 0;
	int n = 0;

	flow_sent = flow_writable = 0;
	flow_max_pending = 0;
	ms_server_handle_stream(f->srv, MS_METHOD_LEASE_KEEP_ALIVE, &ops, NULL);
	r = request(&f->cl, "POST", "/etcdserverpb.Lease/LeaseKeepAlive", "application/grpc", NULL);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(flow_sent, FLOW_MSGS);
	assert_true(flow_writable >= (FLOW_MSGS * FLOW_MSG_BYTES) / FLOW_BUF - 1);
	assert_true(flow_max_pending < FLOW_BUF + FLOW_MSG_BYTES + 64);
	while (off + 5 <= r->body_len) {
		size_t len = (size_t)r->body[off + 1] << 24 | (size_t)r->body[off + 2] << 16 |
			     (size_t)r->body[off + 3] << 8 | r->body[off + 4];
		Etcdserverpb__WatchResponse *w =
			etcdserverpb__watch_response__unpack(NULL, len, r->body + off + 5);

		assert_non_null(w);
		assert_int_equal(w->watch_id, n);
		etcdserverpb__watch_response__free_unpacked(w, NULL);
		off += 5 + len;
		n++;
	}
	assert_int_equal(off, r->body_len);
	assert_int_equal(n, FLOW_MSGS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connection_limit, setup_one_conn, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_deadline, setup_handshake, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup_idle, teardown),
		cmocka_unit_test_setup_teardown(test_limit_evicts, setup_two_conns, teardown),
		cmocka_unit_test_setup_teardown(test_stream_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_pending_bytes, setup_pending_cap, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
