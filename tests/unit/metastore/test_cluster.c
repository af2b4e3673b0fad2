/* Unit tests for --initial-cluster parsing and member ids (metastore/cmd/cluster.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cluster.h"

struct case_ {
	const char *initial, *self;
	const char *want; /* "name@address ..." of the members, or the error message */
	int rc;
};

static const struct case_ cases[] = {
	{ NULL, "default", "default@127.0.0.1:0", 0 },
	{ "n1=http://127.0.0.1:2380", "n1", "n1@127.0.0.1:2380", 0 },
	{ "a=http://127.0.0.1:1,b=http://127.0.0.2:2/,c=http://10.0.0.3:3", "b",
	  "a@127.0.0.1:1 b@127.0.0.2:2 c@10.0.0.3:3", 0 },
	{ "n1=http://127.0.0.1:2380", "n2", "--initial-cluster has no member named 'n2' (--name)", -22 },
	{ "n1=https://127.0.0.1:2380", "n1", "n1@127.0.0.1:2380", 0 },
	{ "n1=https://127.0.0.1:2380,n2=http://127.0.0.1:2480", "n1",
	  "--initial-cluster: mixes http:// and https:// peer URLs", -22 },
	{ "n1=ftp://127.0.0.1:2380", "n1",
	  "--initial-cluster: 'n1=ftp://127.0.0.1:2380' is not name=http(s)://IPv4:PORT", -22 },
	{ "n1=http://localhost:2380", "n1",
	  "--initial-cluster: 'n1=http://localhost:2380' is not name=http(s)://IPv4:PORT", -22 },
	{ "n1=http://127.0.0.1:99999", "n1",
	  "--initial-cluster: 'n1=http://127.0.0.1:99999' is not name=http(s)://IPv4:PORT", -22 },
	{ "=http://127.0.0.1:1", "n1", "--initial-cluster: '=http://127.0.0.1:1' is not name=http(s)://IPv4:PORT", -22 },
	{ "n1=http://127.0.0.1:1,n1=http://127.0.0.1:2", "n1", "--initial-cluster: member 'n1' twice", -22 },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_cluster c;
		char err[256] = "", got[512] = "";
		size_t off = 0;
		int rc = ms_cluster_parse(cases[i].initial, cases[i].self, &c, err, sizeof(err));

		assert_int_equal(rc, cases[i].rc);
		if (rc) {
			assert_string_equal(err, cases[i].want);
			continue;
		}
		for (size_t m = 0; m < c.n; m++) {
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s@%s", m ? " " : "",
						c.members[m].name, c.members[m].address);
			assert_int_equal(c.members[m].id, ms_cluster_id_of("member:", c.members[m].name));
		}
		assert_string_equal(got, cases[i].want);
		assert_int_equal(c.self_id, ms_cluster_id_of("member:", cases[i].self));
		assert_int_not_equal(c.cluster_id, 0);
	}
}

/* Every member derives the same cluster id from the same --initial-cluster. */
static void test_same_cluster_id(void **state)
{
	const char *ic = "n1=http://127.0.0.1:1,n2=http://127.0.0.1:2,n3=http://127.0.0.1:3";
	struct ms_cluster a, b;
	char err[128];

	(void)state;
	assert_int_equal(ms_cluster_parse(ic, "n1", &a, err, sizeof(err)), 0);
	assert_int_equal(ms_cluster_parse(ic, "n3", &b, err, sizeof(err)), 0);
	assert_int_equal(a.cluster_id, b.cluster_id);
	assert_int_not_equal(a.self_id, b.self_id);
}

/* The peer flags against the cluster: advertise = own entry, one scheme, TLS files with https. */
static void test_check_peers(void **state)
{
#define plain "n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2480"
#define tls "n1=https://127.0.0.1:2380,n2=https://127.0.0.1:2480"
	static const struct {
		const char *initial;
		const char *argv[10];
		const char *err; /* NULL: accepted */
	} cases[] = {
		{ plain, { "m" }, NULL },
		{ plain, { "m", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
			   "--listen-peer-urls", "http://127.0.0.2:2380" }, NULL },
		{ plain, { "m", "--initial-advertise-peer-urls", "http://127.0.0.1:2480" },
		  "--initial-advertise-peer-urls http://127.0.0.1:2480 is not this member's URL in --initial-cluster" },
		{ plain, { "m", "--initial-advertise-peer-urls", "https://127.0.0.1:2380" },
		  "--initial-advertise-peer-urls https://127.0.0.1:2380 is not this member's URL in --initial-cluster" },
		{ plain, { "m", "--listen-peer-urls", "https://127.0.0.1:2380" },
		  "--listen-peer-urls is https:// but the peer URLs are http://" },
		{ plain, { "m", "--peer-client-cert-auth" },
		  "the peer TLS flags need https:// peer URLs in --initial-cluster" },
		{ plain, { "m", "--peer-trusted-ca-file", "ca.crt" },
		  "the peer TLS flags need https:// peer URLs in --initial-cluster" },
		{ tls, { "m", "--peer-cert-file", "a.crt", "--peer-key-file", "a.key" }, NULL },
		{ tls, { "m", "--peer-cert-file", "a.crt", "--peer-key-file", "a.key",
			 "--listen-peer-urls", "http://127.0.0.1:2380" },
		  "--listen-peer-urls is http:// but the peer URLs are https://" },
		{ tls, { "m", "--peer-cert-file", "a.crt" },
		  "https:// peer URLs need --peer-cert-file and --peer-key-file" },
		{ tls, { "m" }, "https:// peer URLs need --peer-cert-file and --peer-key-file" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_cluster c;
		struct ms_args a;
		char err[256] = "";
		int argc = 0;

		while (argc < 10 && cases[i].argv[argc])
			argc++;
		assert_int_equal(ms_args_parse(argc, (char **)cases[i].argv, &a, err, sizeof(err)), 0);
		assert_int_equal(ms_cluster_parse(cases[i].initial, "n1", &c, err, sizeof(err)), 0);
		assert_int_equal(ms_cluster_check_peers(&c, &a, err, sizeof(err)),
				 cases[i].err ? -22 : 0);
		if (cases[i].err)
			assert_string_equal(err, cases[i].err);
	}
#undef plain
#undef tls
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_same_cluster_id),
		cmocka_unit_test(test_check_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
