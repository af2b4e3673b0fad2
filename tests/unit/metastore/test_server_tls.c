/* Unit tests for TLS on the gRPC server's connections (server_tls.c): a TLS client in memory
 * (rpc/tls.c) over 127.0.0.1 speaks HTTP/2 through it, plain text on the TLS port is refused
 * with a reason, bad certificates and silent handshakes end their connections. */
#include "server_fixture.h"

#include "rpc/tls.h"

/* the certificate helpers' group setup and teardown, under their own names */
#define setup certs_setup
#define teardown certs_teardown
#include "peer_certs.h"
#undef setup
#undef teardown

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SETTINGS_EMPTY "\0\0\0\4\0\0\0\0\0"

static struct ms_tls_ctx *tls_ctx(const char *who, bool cert_auth)
{
	char crt[128], key[128], ca[128], err[256];
	struct ms_tls_cfg cfg = { .cert_file = crt, .key_file = key, .ca_file = ca,
				  .client_cert_auth = cert_auth, .flag_prefix = "", .alpn_h2 = true };
	struct ms_tls_ctx *c;

	snprintf(crt, sizeof(crt), "%s/%s.crt", peer_certs_dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", peer_certs_dir, who);
	snprintf(ca, sizeof(ca), "%s/ca.crt", peer_certs_dir);
	assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), 0);
	return c;
}

static int setup_tls(void **state)
{
	server_tls = tls_ctx("n1", true);
	(void)setup; /* the fixture's plain setup is not used here */
	return setup_opts(state, 8, 300, 0);
}

static int teardown_tls(void **state)
{
	int rc = teardown(state);

	ms_tls_ctx_free(server_tls);
	server_tls = NULL;
	return rc;
}

static int raw_open(struct fixture *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ms_server_port(f->srv)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Sends what the session has for the network, runs the server, feeds what it answered.
 * Returns false once the server closed fd. */
static bool tls_exchange(struct fixture *f, int fd, struct ms_tls *cli)
{
	uint8_t buf[16384];
	size_t n;
	ssize_t r;

	while ((n = ms_tls_out_take(cli, buf, sizeof(buf))))
		if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
			return false;
	pump(f, NULL, 10);
	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
		assert_int_equal(ms_tls_feed(cli, buf, (size_t)r), 0);
	return !(r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
}

/* Connects with the certificate of `who`; returns whether the server took the handshake
 * and answered the HTTP/2 preface with its SETTINGS, decrypted. */
static bool tls_session(struct fixture *f, const char *who)
{
	struct ms_tls_ctx *cc = tls_ctx(who, false);
	struct ms_tls *cli;
	char why[256];
	uint8_t got[64];
	int fd = raw_open(f), rc = -EAGAIN;
	bool open = true, settings = false;

	assert_int_equal(ms_tls_new(cc, false, "127.0.0.1", &cli), 0);
	for (int i = 0; i < 100 && rc == -EAGAIN && open; i++) {
		rc = ms_tls_handshake(cli, why, sizeof(why));
		open = tls_exchange(f, fd, cli);
	}
	if (rc == 0 && open) {
		assert_int_equal(ms_tls_write(cli, PREFACE SETTINGS_EMPTY, 33, why, sizeof(why)), 0);
		for (int i = 0; i < 100 && open && !settings; i++) {
			ssize_t n;

			open = tls_exchange(f, fd, cli);
			n = ms_tls_read(cli, got, sizeof(got), why, sizeof(why));
			/* the server's first frame: its SETTINGS (type 4) */
			settings = n >= 9 && got[3] == 4;
		}
	}
	ms_tls_free(cli);
	ms_tls_ctx_free(cc);
	close(fd);
	return settings;
}

/* A client whose certificate the CA signed gets HTTP/2 through TLS; one of another CA is
 * refused in the handshake (--client-cert-auth). */
static void test_tls_clients(void **state)
{
	struct fixture *f = *state;

	assert_true(tls_session(f, "n2"));
	assert_false(tls_session(f, "rogue"));
	assert_true(tls_session(f, "n2"));
}

/* The fixture's own client speaks plain HTTP/2: its calls end with FailedPrecondition and
 * the reason, and nothing is served. */
static void test_plaintext_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	struct body_src b = range_body(buf, 3);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);

	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, MS_GRPC_FAILED_PRECONDITION);
	assert_string_equal(r->grpc_message,
			    "metastore: this port serves TLS only: connect with https:// and TLS");
	assert_int_equal(r->body_len, 0);
}

/* Bytes that are neither TLS nor HTTP/2 are closed at once; a TLS handshake that stops
 * halfway at the handshake deadline (300 ms), as a connection without HTTP/2 would be. */
static void test_not_tls_and_silent(void **state)
{
	struct fixture *f = *state;
	int junk = raw_open(f), silent = raw_open(f);
	uint8_t x;
	ssize_t n = -1;
	struct timespec t0, t;
	long ms;

	assert_int_equal(send(junk, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL), 18);
	assert_int_equal(send(silent, "\x16\x03\x01", 3, MSG_NOSIGNAL), 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20 && n != 0; i++) {
		pump(f, NULL, 5);
		n = recv(junk, &x, 1, 0);
	}
	assert_int_equal(n, 0);
	n = -1;
	for (int i = 0; i < 200 && n != 0; i++) {
		pump(f, NULL, 5);
		n = recv(silent, &x, 1, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	assert_int_equal(n, 0);
	if (ms < 250 || ms > 500)
		fail_msg("a silent TLS handshake was closed after %ld ms (deadline 300)", ms);
	close(junk);
	close(silent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_clients, setup_tls, teardown_tls),
		cmocka_unit_test_setup_teardown(test_plaintext_refused, setup_tls, teardown_tls),
		cmocka_unit_test_setup_teardown(test_not_tls_and_silent, setup_tls, teardown_tls),
	};

	return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
