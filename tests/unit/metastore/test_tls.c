/* Unit tests for peer TLS (metastore/rpc/tls.c): two sessions in memory with certificates
 * a throwaway CA (made with the openssl command) signs; who is accepted, who refused and why. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "peer_certs.h"
#include "rpc/tls.h"

static struct ms_tls_ctx *ctx_alpn(const char *who, bool cert_auth, bool alpn)
{
	char crt[32], key[32];
	struct ms_tls_cfg cfg;
	struct ms_tls_ctx *c;
	char err[256];

	snprintf(crt, sizeof(crt), "%s.crt", who);
	snprintf(key, sizeof(key), "%s.key", who);
	cfg = (struct ms_tls_cfg){ .cert_file = path(crt), .key_file = path(key),
				   .ca_file = path("ca.crt"), .client_cert_auth = cert_auth,
				   .flag_prefix = alpn ? "" : NULL, .alpn_h2 = alpn };
	assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), 0);
	return c;
}

static struct ms_tls_ctx *ctx_of(const char *who, bool cert_auth)
{
	return ctx_alpn(who, cert_auth, false);
}

/* Moves bytes between the two sessions until both handshakes end. Returns the server's and
 * the client's results (0, or -EPROTO with their reasons). */
static void run_handshake(struct ms_tls *srv, struct ms_tls *cli, int *rs, int *rc, char *ws,
			  char *wc)
{
	uint8_t buf[65536];

	*rs = *rc = -EAGAIN;
	for (int round = 0; round < 20 && (*rs == -EAGAIN || *rc == -EAGAIN); round++) {
		size_t n;

		if (*rc == -EAGAIN)
			*rc = ms_tls_handshake(cli, wc, 256);
		while ((n = ms_tls_out_take(cli, buf, sizeof(buf))))
			assert_int_equal(ms_tls_feed(srv, buf, n), 0);
		if (*rs == -EAGAIN)
			*rs = ms_tls_handshake(srv, ws, 256);
		while ((n = ms_tls_out_take(srv, buf, sizeof(buf))))
			assert_int_equal(ms_tls_feed(cli, buf, n), 0);
	}
}

/* Bytes written on one side come out of the other, exactly. */
static void roundtrip(struct ms_tls *from, struct ms_tls *to, const char *msg)
{
	uint8_t buf[4096];
	char got[64], why[256];
	size_t n;
	ssize_t r;

	assert_int_equal(ms_tls_write(from, msg, strlen(msg), why, sizeof(why)), 0);
	while ((n = ms_tls_out_take(from, buf, sizeof(buf))))
		assert_int_equal(ms_tls_feed(to, buf, n), 0);
	r = ms_tls_read(to, got, sizeof(got), why, sizeof(why));
	assert_int_equal(r, (ssize_t)strlen(msg));
	assert_memory_equal(got, msg, strlen(msg));
	assert_int_equal(ms_tls_read(to, got, sizeof(got), why, sizeof(why)), -EAGAIN);
}

static void test_cases(void **state)
{
	static const struct {
		const char *server, *client;
		bool cert_auth;
		const char *peer_ip;                /* the IP the client dials */
		const char *srv_why, *cli_why;      /* NULL: that side succeeds */
	} cases[] = {
		{ "n1", "n1", true, "127.0.0.1", NULL, NULL },
		{ "n1", "n1", false, "127.0.0.1", NULL, NULL },
		/* a client certificate of another CA: refused with --peer-client-cert-auth only */
		{ "n1", "rogue", true, "127.0.0.1",
		  "TLS handshake: certificate: unable to get local issuer certificate", "" },
		{ "n1", "rogue", false, "127.0.0.1", NULL, "" },
		/* the client checks the server's certificate: its CA, then its IP */
		{ "rogue", "n1", true, "127.0.0.1", "",
		  "TLS handshake: certificate: unable to get local issuer certificate" },
		{ "n1", "n1", true, "127.0.0.2", "", "TLS handshake: certificate: IP address mismatch" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_tls_ctx *cs = ctx_of(cases[i].server, cases[i].cert_auth);
		struct ms_tls_ctx *cc = ctx_of(cases[i].client, false);
		struct ms_tls *srv, *cli;
		char ws[256] = "", wc[256] = "";
		int rs, rc;

		assert_int_equal(ms_tls_new(cs, true, NULL, &srv), 0);
		assert_int_equal(ms_tls_new(cc, false, cases[i].peer_ip, &cli), 0);
		run_handshake(srv, cli, &rs, &rc, ws, wc);
		if (cases[i].cli_why && *cases[i].cli_why) {
			assert_int_equal(rc, -EPROTO);
			assert_string_equal(wc, cases[i].cli_why);
		} else if (!cases[i].cli_why) {
			assert_int_equal(rc, 0);
		}
		if (cases[i].srv_why && *cases[i].srv_why) {
			assert_int_equal(rs, -EPROTO);
			assert_string_equal(ws, cases[i].srv_why);
		} else if (!cases[i].srv_why) {
			assert_int_equal(rs, 0);
		}
		if (!cases[i].srv_why && !cases[i].cli_why) {
			roundtrip(cli, srv, "raft handshake and messages");
			roundtrip(srv, cli, "and back");
		}
		ms_tls_free(srv);
		ms_tls_free(cli);
		ms_tls_ctx_free(cs);
		ms_tls_ctx_free(cc);
	}
}

/* Files that do not load: one line naming the flag and the file, then OpenSSL's reason. */
static void test_ctx_errors(void **state)
{
	static const struct {
		const char *cert, *key, *ca;
		const char *flag, *file; /* the file the message names */
		const char *reason;
	} cases[] = {
		{ NULL, "n1.key", "ca.crt", NULL, NULL, NULL },
		{ "n1.crt", NULL, "ca.crt", NULL, NULL, NULL },
		{ "missing.crt", "n1.key", "ca.crt", "--peer-cert-file", "missing.crt",
		  "error:80000002:system library::No such file or directory" },
		{ "ext", "n1.key", "ca.crt", "--peer-cert-file", "ext",
		  "error:0480006C:PEM routines::no start line" },
		{ "n1.crt", "missing.key", "ca.crt", "--peer-key-file", "missing.key",
		  "error:80000002:system library::No such file or directory" },
		{ "n1.crt", "rogue.key", "ca.crt", "--peer-key-file", "rogue.key",
		  "error:05800074:x509 certificate routines::key values mismatch" },
		{ "n1.crt", "n1.key", "missing.crt", "--peer-trusted-ca-file", "missing.crt",
		  "error:80000002:system library::No such file or directory" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_tls_cfg cfg = { .cert_file = cases[i].cert ? path(cases[i].cert) : NULL,
					  .key_file = cases[i].key ? path(cases[i].key) : NULL,
					  .ca_file = path(cases[i].ca) };
		struct ms_tls_ctx *c = (struct ms_tls_ctx *)1;
		char err[256] = "", want[256];

		if (cases[i].flag)
			snprintf(want, sizeof(want), "%s %s: %s", cases[i].flag, path(cases[i].file),
				 cases[i].reason);
		else
			snprintf(want, sizeof(want), "peer TLS needs --peer-cert-file and --peer-key-file");
		assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), -EINVAL);
		assert_null(c);
		assert_string_equal(err, want);
	}
}

/* The client port's way: ALPN h2 offered and taken (or not offered: still served); the CN
 * of a client certificate only once it was verified (--client-cert-auth). */
static void test_client_port(void **state)
{
	static const struct {
		bool cert_auth, client_alpn;
		int cn_rc;
		const char *cn;
	} cases[] = {
		{ true, true, 0, "n2" },
		{ true, false, 0, "n2" },
		{ false, true, -ENOENT, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_tls_ctx *cs = ctx_alpn("n1", cases[i].cert_auth, true);
		struct ms_tls_ctx *cc = ctx_alpn("n2", false, cases[i].client_alpn);
		struct ms_tls *srv, *cli;
		char ws[256] = "", wc[256] = "", cn[64] = "";
		int rs, rc;

		assert_int_equal(ms_tls_new(cs, true, NULL, &srv), 0);
		assert_int_equal(ms_tls_new(cc, false, "127.0.0.1", &cli), 0);
		assert_int_equal(ms_tls_peer_cn(srv, cn, sizeof(cn)), -ENOENT);
		run_handshake(srv, cli, &rs, &rc, ws, wc);
		assert_int_equal(rs, 0);
		assert_int_equal(rc, 0);
		assert_int_equal(ms_tls_peer_cn(srv, cn, sizeof(cn)), cases[i].cn_rc);
		assert_string_equal(cn, cases[i].cn);
		/* the client always verifies the server */
		assert_int_equal(ms_tls_peer_cn(cli, cn, sizeof(cn)), 0);
		assert_string_equal(cn, "n1");
		assert_int_equal(ms_tls_peer_cn(cli, cn, 2), -ENOENT); /* does not fit */
		roundtrip(cli, srv, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
		roundtrip(srv, cli, "settings");
		ms_tls_free(srv);
		ms_tls_free(cli);
		ms_tls_ctx_free(cs);
		ms_tls_ctx_free(cc);
	}
}

/* What the first bytes of a connection on a TLS port say. */
static void test_first_bytes(void **state)
{
	struct ms_tls_ctx *cc = ctx_alpn("n2", false, true);
	struct ms_tls *cli;
	uint8_t hello[4096];
	size_t n;
	char why[256];

	(void)state;
	assert_int_equal(ms_tls_new(cc, false, "127.0.0.1", &cli), 0);
	assert_int_equal(ms_tls_handshake(cli, why, sizeof(why)), -EAGAIN);
	n = ms_tls_out_take(cli, hello, sizeof(hello));
	assert_true(n > 5);
	assert_true(ms_tls_looks_like_tls(hello, n));
	assert_true(ms_tls_looks_like_tls(hello, 1));
	assert_false(ms_tls_looks_like_tls("PRI * HTTP/2.0", 14));
	assert_false(ms_tls_looks_like_tls("GET / HTTP/1.1", 14));
	assert_false(ms_tls_looks_like_tls("", 0));
	ms_tls_free(cli);
	ms_tls_ctx_free(cc);
}

/* The client port's flags are named as etcd names them. */
static void test_client_flag_names(void **state)
{
	char crt[128], key[128], rogue[128], ca[128], missing[128];
	struct ms_tls_cfg cfg = { .key_file = key, .flag_prefix = "" };
	struct ms_tls_ctx *c;
	char err[256], want[256];

	(void)state;
	/* path() keeps only its last four results */
	snprintf(crt, sizeof(crt), "%s", path("n1.crt"));
	snprintf(key, sizeof(key), "%s", path("n1.key"));
	snprintf(rogue, sizeof(rogue), "%s", path("rogue.key"));
	snprintf(ca, sizeof(ca), "%s", path("ca.crt"));
	snprintf(missing, sizeof(missing), "%s", path("missing.crt"));
	assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "client TLS needs --cert-file and --key-file");
	cfg.cert_file = crt;
	cfg.ca_file = missing;
	assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "--trusted-ca-file %s: %s", missing,
		 "error:80000002:system library::No such file or directory");
	assert_string_equal(err, want);
	cfg.ca_file = ca;
	cfg.key_file = rogue;
	assert_int_equal(ms_tls_ctx_new(&cfg, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "--key-file %s: %s", rogue,
		 "error:05800074:x509 certificate routines::key values mismatch");
	assert_string_equal(err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_client_port),
		cmocka_unit_test(test_first_bytes),
		cmocka_unit_test(test_client_flag_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
