/* Unit tests for the metastore command line. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/args.h"

#define MAX_ARGV 8

/* Parses argv (NULL-terminated within MAX_ARGV); with `want_err` checks the refusal and its
 * exact message and returns false, else checks success and returns true. */
static bool parse_case(const char *const argv[MAX_ARGV], const char *want_err, struct ms_args *a)
{
	char err[256] = "";
	int argc = 0;
	int rc;

	while (argc < MAX_ARGV && argv[argc])
		argc++;
	rc = ms_args_parse(argc, (char **)argv, a, err, sizeof(err));
	if (want_err) {
		assert_int_equal(rc, -EINVAL);
		assert_string_equal(err, want_err);
		return false;
	}
	assert_int_equal(rc, 0);
	return true;
}

static void test_parse_table(void **state)
{
	static const struct {
		const char *argv[MAX_ARGV];
		const char *err; /* NULL: success */
		const char *host;
		uint16_t port;
		size_t max_req;
		unsigned max_conn;
		const char *name;
	} cases[] = {
		{ { "metastore" }, NULL, "127.0.0.1", 2379, 1572864, 1024, "default" },
		{ { "metastore", "--listen", "127.0.0.1:0" }, NULL, "127.0.0.1", 0, 1572864, 1024, "default" },
		{ { "metastore", "--listen=0.0.0.0:12379", "--name", "n1" }, NULL, "0.0.0.0", 12379,
		  1572864, 1024, "n1" },
		{ { "metastore", "--listen-client-urls", "http://127.0.0.1:22379" }, NULL, "127.0.0.1",
		  22379, 1572864, 1024, "default" },
		{ { "metastore", "--listen-client-urls", "http://127.0.0.1:22379,http://127.0.0.1:1" },
		  NULL, "127.0.0.1", 22379, 1572864, 1024, "default" },
		{ { "metastore", "--max-request-bytes", "4096", "--max-connections", "3" }, NULL,
		  "127.0.0.1", 2379, 4096, 3, "default" },
		{ .argv = { "metastore", "--listen", "nonsense" }, .err = "--listen: invalid address 'nonsense' (want IPv4:PORT)" },
		{ .argv = { "metastore", "--listen", "127.0.0.1:65536" }, .err = "--listen: invalid address '127.0.0.1:65536' (want IPv4:PORT)" },
		{ .argv = { "metastore", "--listen", "localhost:2379" }, .err = "--listen: invalid address 'localhost:2379' (want IPv4:PORT)" },
		{ .argv = { "metastore", "--listen-client-urls", "https://127.0.0.1:1" },
		  .err = "https:// client URLs need --cert-file and --key-file" },
		{ .argv = { "metastore", "--listen-client-urls", "unix://127.0.0.1:1" },
		  .err = "--listen-client-urls: 'unix://127.0.0.1:1' is not an http(s):// URL" },
		{ .argv = { "metastore", "--max-request-bytes", "0" },
		  .err = "--max-request-bytes: '0' is not a size in [1, 67108864]" },
		{ .argv = { "metastore", "--max-request-bytes", "-5" },
		  .err = "--max-request-bytes: '-5' is not a size in [1, 67108864]" },
		{ .argv = { "metastore", "--max-connections", "12x" },
		  .err = "--max-connections: '12x' is not a number in [1, 1000000]" },
		{ .argv = { "metastore", "--name", "" }, .err = "--name: empty name" },
		{ .argv = { "metastore", "--data-dir" }, .err = "--data-dir: missing value" },
		{ .argv = { "metastore", "--bogus" }, .err = "unknown option --bogus" },
		{ .argv = { "metastore", "--help=yes" }, .err = "--help takes no value" },
		{ .argv = { "metastore", "positional" }, .err = "unexpected argument 'positional'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_args a;

		if (!parse_case(cases[i].argv, cases[i].err, &a))
			continue;
		assert_string_equal(a.host, cases[i].host);
		assert_int_equal(a.port, cases[i].port);
		assert_int_equal(a.max_request_bytes, cases[i].max_req);
		assert_int_equal(a.max_connections, cases[i].max_conn);
		assert_string_equal(a.name, cases[i].name);
	}
}

/* --bcrypt-cost and --auth-token-ttl: etcd's defaults (10, 300 s) and bounds. */
static void test_auth_options(void **state)
{
	static const struct {
		const char *argv[MAX_ARGV];
		const char *err; /* NULL: success */
		unsigned cost, ttl_s;
	} cases[] = {
		{ { "metastore" }, NULL, 10, 300 },
		{ { "metastore", "--bcrypt-cost", "4", "--auth-token-ttl=1" }, NULL, 4, 1 },
		{ { "metastore", "--bcrypt-cost=31" }, NULL, 31, 300 },
		{ .argv = { "metastore", "--bcrypt-cost", "3" },
		  .err = "--bcrypt-cost: '3' is not a number in [4, 31]" },
		{ .argv = { "metastore", "--bcrypt-cost", "32" },
		  .err = "--bcrypt-cost: '32' is not a number in [4, 31]" },
		{ .argv = { "metastore", "--auth-token-ttl", "0" },
		  .err = "--auth-token-ttl: '0' is not a number of seconds in [1, 1000000]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_args a;

		if (!parse_case(cases[i].argv, cases[i].err, &a))
			continue;
		assert_int_equal(a.bcrypt_cost, cases[i].cost);
		assert_int_equal(a.auth_token_ttl_s, cases[i].ttl_s);
	}
}

/* --handshake-timeout and --idle-timeout: defaults 10 s and 5 min, 0 turns them off. */
static void test_connection_timeouts(void **state)
{
	static const struct {
		const char *argv[MAX_ARGV];
		const char *err; /* NULL: success */
		unsigned handshake_ms, idle_ms;
	} cases[] = {
		{ { "metastore" }, NULL, 10000, 300000 },
		{ { "metastore", "--handshake-timeout", "250", "--idle-timeout=1500" }, NULL, 250, 1500 },
		{ { "metastore", "--handshake-timeout=0", "--idle-timeout", "0" }, NULL, 0, 0 },
		{ { "metastore", "--idle-timeout", "86400000" }, NULL, 10000, 86400000 },
		{ .argv = { "metastore", "--handshake-timeout", "10s" },
		  .err = "--handshake-timeout: '10s' is not a number of ms in [0, 86400000]" },
		{ .argv = { "metastore", "--idle-timeout", "86400001" },
		  .err = "--idle-timeout: '86400001' is not a number of ms in [0, 86400000]" },
		{ .argv = { "metastore", "--idle-timeout", "-1" },
		  .err = "--idle-timeout: '-1' is not a number of ms in [0, 86400000]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_args a;

		if (!parse_case(cases[i].argv, cases[i].err, &a))
			continue;
		assert_int_equal(a.handshake_timeout_ms, cases[i].handshake_ms);
		assert_int_equal(a.idle_timeout_ms, cases[i].idle_ms);
	}
}

/* etcd's peer flags: URLs (the first of a list, http or https), TLS files, client-cert-auth. */
static void test_peer_options(void **state)
{
	static const struct {
		const char *argv[MAX_ARGV];
		const char *err; /* NULL: success */
		const char *listen, *advertise; /* addresses ("" when not given) */
		bool listen_https, advertise_https, cert_auth;
		const char *cert, *key, *ca;
	} cases[] = {
		{ { "metastore" }, NULL, "", "", false, false, false, NULL, NULL, NULL },
		{ { "metastore", "--listen-peer-urls", "http://127.0.0.1:2380" }, NULL, "127.0.0.1:2380",
		  "", false, false, false, NULL, NULL, NULL },
		{ { "metastore", "--listen-peer-urls=https://127.0.0.1:2380/,http://127.0.0.1:1",
		    "--initial-advertise-peer-urls", "https://10.0.0.1:2380" },
		  NULL, "127.0.0.1:2380", "10.0.0.1:2380", true, true, false, NULL, NULL, NULL },
		{ { "metastore", "--peer-cert-file", "a.crt", "--peer-key-file=a.key",
		    "--peer-trusted-ca-file", "ca.crt", "--peer-client-cert-auth" },
		  NULL, "", "", false, false, true, "a.crt", "a.key", "ca.crt" },
		{ { "metastore", "--peer-client-cert-auth=true" }, NULL, "", "", false, false, true, NULL,
		  NULL, NULL },
		{ { "metastore", "--peer-client-cert-auth", "--peer-client-cert-auth=false" }, NULL, "",
		  "", false, false, false, NULL, NULL, NULL },
		{ .argv = { "metastore", "--listen-peer-urls", "127.0.0.1:2380" },
		  .err = "--listen-peer-urls: '127.0.0.1:2380' is not an http(s)://IPv4:PORT URL" },
		{ .argv = { "metastore", "--listen-peer-urls", "https://localhost:2380" },
		  .err = "--listen-peer-urls: 'https://localhost:2380' is not an http(s)://IPv4:PORT URL" },
		{ .argv = { "metastore", "--initial-advertise-peer-urls", "unix://x:1" },
		  .err = "--initial-advertise-peer-urls: 'unix://x:1' is not an http(s)://IPv4:PORT URL" },
		{ .argv = { "metastore", "--peer-key-file=" }, .err = "--peer-key-file: empty file name" },
		{ .argv = { "metastore", "--peer-client-cert-auth=yes" },
		  .err = "--peer-client-cert-auth takes no value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_args a;

		if (!parse_case(cases[i].argv, cases[i].err, &a))
			continue;
		assert_string_equal(a.listen_peer.addr, cases[i].listen);
		assert_string_equal(a.advertise_peer.addr, cases[i].advertise);
		assert_int_equal(a.listen_peer.https, cases[i].listen_https);
		assert_int_equal(a.advertise_peer.https, cases[i].advertise_https);
		assert_int_equal(a.peer_client_cert_auth, cases[i].cert_auth);
		assert_true(a.peer_cert_file == cases[i].cert ||
			    strcmp(a.peer_cert_file, cases[i].cert) == 0);
		assert_true(a.peer_key_file == cases[i].key || strcmp(a.peer_key_file, cases[i].key) == 0);
		assert_true(a.peer_ca_file == cases[i].ca || strcmp(a.peer_ca_file, cases[i].ca) == 0);
	}
}

static void test_client_tls_options(void **state)
{
	static const struct {
		const char *argv[MAX_ARGV];
		const char *err; /* NULL: success */
		bool https, cert_auth;
		const char *advertise; /* "" when not given */
		const char *cert, *key, *ca;
	} cases[] = {
		{ { "metastore" }, NULL, false, false, "", NULL, NULL, NULL },
		{ { "metastore", "--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "s.crt",
		    "--key-file=s.key" }, NULL, true, false, "", "s.crt", "s.key", NULL },
		{ { "metastore", "--listen-client-urls=https://127.0.0.1:2379/", "--cert-file=s.crt",
		    "--key-file", "s.key", "--trusted-ca-file", "ca.crt", "--client-cert-auth" },
		  NULL, true, true, "", "s.crt", "s.key", "ca.crt" },
		{ { "metastore", "--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "s.crt",
		    "--key-file=s.key", "--advertise-client-urls=https://10.0.0.1:2379,https://x:1" },
		  NULL, true, false, "10.0.0.1:2379", "s.crt", "s.key", NULL },
		{ { "metastore", "--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "s.crt",
		    "--key-file=s.key", "--client-cert-auth=true", "--client-cert-auth=false" },
		  NULL, true, false, "", "s.crt", "s.key", NULL },
		{ { "metastore", "--client-cert-auth", "--client-cert-auth=false" }, NULL, false, false,
		  "", NULL, NULL, NULL },
		/* etcd serves plain text then, ignoring them: refused instead */
		{ .argv = { "metastore", "--cert-file", "s.crt", "--client-cert-auth=true" },
		  .err = "--cert-file, --key-file, --trusted-ca-file and --client-cert-auth need https:// in --listen-client-urls" },
		{ .argv = { "metastore", "--listen-client-urls", "http://127.0.0.1:2379",
			    "--trusted-ca-file", "ca.crt" },
		  .err = "--cert-file, --key-file, --trusted-ca-file and --client-cert-auth need https:// in --listen-client-urls" },
		{ .argv = { "metastore", "--listen-client-urls", "https://127.0.0.1:2379", "--key-file",
			    "s.key" }, .err = "https:// client URLs need --cert-file and --key-file" },
		{ .argv = { "metastore", "--listen-client-urls=https://127.0.0.1:2379",
			    "--cert-file=s.crt", "--key-file", "s.key", "--advertise-client-urls",
			    "http://127.0.0.1:2379" },
		  .err = "--advertise-client-urls: its scheme must be that of --listen-client-urls" },
		{ .argv = { "metastore", "--advertise-client-urls", "localhost:2379" },
		  .err = "--advertise-client-urls: 'localhost:2379' is not an http(s)://IPv4:PORT URL" },
		{ .argv = { "metastore", "--trusted-ca-file=" }, .err = "--trusted-ca-file: empty file name" },
		{ .argv = { "metastore", "--cert-file=x", "--key-file", "" }, .err = "--key-file: empty file name" },
		{ .argv = { "metastore", "--cert-file" }, .err = "--cert-file: missing value" },
		{ .argv = { "metastore", "--client-cert-auth=yes" },
		  .err = "--client-cert-auth takes no value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_args a;

		if (!parse_case(cases[i].argv, cases[i].err, &a))
			continue;
		assert_int_equal(a.client_https, cases[i].https);
		assert_int_equal(a.client_cert_auth, cases[i].cert_auth);
		assert_string_equal(a.advertise_client.addr, cases[i].advertise);
		assert_true(a.cert_file == cases[i].cert || strcmp(a.cert_file, cases[i].cert) == 0);
		assert_true(a.key_file == cases[i].key || strcmp(a.key_file, cases[i].key) == 0);
		assert_true(a.ca_file == cases[i].ca || strcmp(a.ca_file, cases[i].ca) == 0);
		assert_int_equal(a.peer_client_cert_auth, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_auth_options),
		cmocka_unit_test(test_connection_timeouts),
		cmocka_unit_test(test_peer_options),
		cmocka_unit_test(test_client_tls_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
