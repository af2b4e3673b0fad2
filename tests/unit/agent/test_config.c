/* Unit tests for config (YAML settings file) and its precedence in agent_args_parse. */
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

#include "args.h"
#include "config.h"
#include "subsys.h"

static char path[] = "/tmp/agent_config_test.XXXXXX";

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Collects "key=value;" for every entry. */
static int collect(const char *key, const char *value, void *arg, char *err, size_t len)
{
	char *out = arg;

	if (!strcmp(key, "reject")) {
		snprintf(err, len, "rejected '%s'", value);
		return -EINVAL;
	}
	strcat(out, key);
	strcat(out, "=");
	strcat(out, value);
	strcat(out, ";");
	return 0;
}

static void test_load_table(void **state)
{
	static const struct {
		const char *yaml;
		int rc;
		const char *want; /* entries, or the error text after "PATH:" */
	} cases[] = {
		{ "", 0, "" },
		{ "~\n", 0, "" },
		{ "# only a comment\n", 0, "" },
		{ "a: 1\nb: two words\n", 0, "a=1;b=two words;" },
		{ "list: [x, y, z]\n", 0, "list=x,y,z;" },
		{ "list:\n  - 0.001\n  - 0.5\n", 0, "list=0.001,0.5;" },
		{ "q: \"quoted: yes\"\n", 0, "q=quoted: yes;" },
		{ "a: 1\na: 2\n", -EINVAL, "2: duplicate key" },
		{ "a:\n  b: 1\n", -EINVAL, "2: values are scalars or lists of scalars" },
		{ "- a\n- b\n", -EINVAL, "1: the top level must be a mapping" },
		{ "just text\n", -EINVAL, "1: the top level must be a mapping" },
		{ "a: [x, [y]]\n", -EINVAL, "1: list items must be scalars" },
		{ "a: [x\n", -EINVAL, "2: did not find expected ',' or ']'" },
		{ "ok: 1\nreject: me\n", -EINVAL, "2: rejected 'me'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[512] = "", err[512] = "", want[600];
		int rc;

		write_file(cases[i].yaml);
		rc = config_load(path, collect, got, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err);
		if (!rc) {
			assert_string_equal(got, cases[i].want);
		} else {
			snprintf(want, sizeof(want), "%s:%s", path, cases[i].want);
			assert_string_equal(err, want);
		}
	}
}

static void test_missing_file(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(config_load("/nonexistent/agent.yaml", collect, NULL, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/agent.yaml: No such file or directory");
	/* A directory opens for reading; it is named as such, not as a read error. */
	assert_int_equal(config_load("/", collect, NULL, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "/: Is a directory");
}

static int parse(const char *const *args, struct agent_args *a, char *err, size_t len)
{
	char *argv[16] = { "metastore-agent" };
	int argc = 1;

	while (args[argc - 1])
		argv[argc] = (char *)args[argc - 1], argc++;
	return agent_args_parse(argc, argv, a, err, len);
}

static void test_precedence(void **state)
{
	const char *cfg[] = { "--config", path, NULL };
	const char *cfg_pid[] = { "--config", path, "--pid", "42", NULL };
	const char *cfg_listen[] = { "--config", path, "--listen", "127.0.0.1:3", NULL };
	struct agent_args a;
	char err[256];

	(void)state;
	write_file("binary: /opt/metastore\nprobes: [grpc, mvcc]\nlisten: 127.0.0.1:1\n"
		   "bpf_stats: true\nbuckets: [0.001, 0.01]\n");
	unsetenv("METASTORE_AGENT_LISTEN");
	unsetenv("METASTORE_AGENT_PID");

	/* File alone. */
	assert_int_equal(parse(cfg, &a, err, sizeof(err)), 0);
	assert_string_equal(a.binary, "/opt/metastore");
	assert_int_equal(a.probes, (1u << SUBSYS_GRPC) | (1u << SUBSYS_MVCC));
	assert_string_equal(a.listen, "127.0.0.1:1");
	assert_true(a.bpf_stats);
	assert_int_equal(a.nr_bounds, 2);
	assert_int_equal(a.bounds_ns[1], 10000000);
	agent_args_release(&a);

	/* Environment over the file, command line over both. */
	setenv("METASTORE_AGENT_LISTEN", "127.0.0.1:2", 1);
	assert_int_equal(parse(cfg, &a, err, sizeof(err)), 0);
	assert_string_equal(a.listen, "127.0.0.1:2");
	agent_args_release(&a);
	assert_int_equal(parse(cfg_listen, &a, err, sizeof(err)), 0);
	assert_string_equal(a.listen, "127.0.0.1:3");
	agent_args_release(&a);

	/* --pid on the command line replaces the file's binary instead of clashing with it. */
	assert_int_equal(parse(cfg_pid, &a, err, sizeof(err)), 0);
	assert_null(a.binary);
	assert_int_equal(a.pid, 42);
	agent_args_release(&a);

	/* A bad environment value is named. */
	setenv("METASTORE_AGENT_PID", "x1", 1);
	assert_int_equal(parse(cfg, &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "METASTORE_AGENT_PID: --pid: invalid process id 'x1'");
	agent_args_release(&a);
	unsetenv("METASTORE_AGENT_PID");
	unsetenv("METASTORE_AGENT_LISTEN");

	/* Keys that only make sense on the command line, and bad booleans, are refused. */
	write_file("help: true\n");
	assert_int_equal(parse(cfg, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: unknown key 'help'"));
	agent_args_release(&a);
	write_file("bpf-stats: sometimes\n");
	assert_int_equal(parse(cfg, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: --bpf-stats: expects true or false, not 'sometimes'"));
	agent_args_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_table),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_precedence),
	};
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return 1;
	close(fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
