/* Unit tests for webconfig and passwd: the exporters' web configuration, bcrypt checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "passwd.h"
#include "webconfig.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
/* bcrypt of "pw", cost 4 */
#define PW_HASH "$2b$04$pvPPC8Xj1Im8./Dc6kkSBexc2LYHVrfn5ZlvhChF14Z7ztIwsfRIq"

static char path[] = "/tmp/test_webconfig.XXXXXX";

static int load_text(const char *text, struct webconfig *c, char *err, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return webconfig_load(path, c, err, len);
}

static void test_valid(void **state)
{
	static const struct {
		const char *text;
		const char *cert, *key;
		size_t users;
		const char *first;
	} cases[] = {
		{ "", "", "", 0, NULL },
		{ "tls_server_config:\n  cert_file: /etc/a.pem\n  key_file: /etc/a.key\n", "/etc/a.pem",
		  "/etc/a.key", 0, NULL },
		{ "basic_auth_users:\n  prometheus: " PW_HASH "\n  other: $2y$04$x\n", "", "", 2,
		  "prometheus" },
		{ "basic_auth_users: {p: '" PW_HASH "'}\ntls_server_config: {cert_file: c, key_file: k}\n",
		  "c", "k", 1, "p" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		struct webconfig c;
		char err[256] = "";

		assert_int_equal(load_text(cases[i].text, &c, err, sizeof(err)), 0);
		assert_string_equal(c.cert_file, cases[i].cert);
		assert_string_equal(c.key_file, cases[i].key);
		assert_int_equal(c.nr_users, cases[i].users);
		if (cases[i].first)
			assert_string_equal(c.users[0].name, cases[i].first);
	}
}

static void test_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "PATH" */
	} cases[] = {
		{ "web: 1\n", ":1: unknown key (tls_server_config, basic_auth_users)" },
		{ "tls_server_config: yes\n", ":1: a section is a mapping" },
		{ "tls_server_config:\n  cert_file: a\n", ": tls_server_config needs both cert_file and key_file" },
		{ "tls_server_config:\n  cert: a\n", ":2: tls_server_config takes cert_file and key_file" },
		{ "basic_auth_users:\n  u: plaintext\n", ":2: a user's value is its bcrypt hash ($2b$...)" },
		{ "basic_auth_users:\n  u: " PW_HASH "\n  u: " PW_HASH "\n", ":3: user listed twice" },
		{ "- a\n", ":1: the file is a mapping" },
		{ "\"unterminated\n", ":2: found unexpected end of stream" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		struct webconfig c;
		char err[256] = "", want[300];

		assert_int_equal(load_text(cases[i].text, &c, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].want);
		assert_string_equal(err, want);
	}
}

static void test_passwd(void **state)
{
	(void)state;
	assert_int_equal(passwd_check(PW_HASH, "pw"), 1);
	assert_int_equal(passwd_check(PW_HASH, "pW"), 0);
	assert_int_equal(passwd_check(PW_HASH, ""), 0);
	assert_int_equal(passwd_check("$2b$04$short", "pw"), 0);
	assert_int_equal(passwd_check("*", "pw"), 0);
	assert_int_equal(passwd_equal("abc", "abc"), 1);
	assert_int_equal(passwd_equal("abc", "abd"), 0);
	assert_int_equal(passwd_equal("abc", "ab"), 0);
	assert_int_equal(passwd_equal("", ""), 1);
}

/* One temporary file for the group, written by each case. */
static int make_file(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int remove_file(void **state)
{
	(void)state;
	return unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_passwd),
	};

	return cmocka_run_group_tests(tests, make_file, remove_file);
}
