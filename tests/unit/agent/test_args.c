/* Unit tests for args: command-line parsing, its error messages, and the help texts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"
#include "buckets.h"
#include "subsys.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGV 10
#define G (1u << SUBSYS_GRPC)
#define CN (1u << SUBSYS_CONN)
#define ST (1u << SUBSYS_STORAGE)
#define M (1u << SUBSYS_MVCC)
#define W (1u << SUBSYS_WATCH)
#define L (1u << SUBSYS_LEASE)
#define AU (1u << SUBSYS_AUTH)
#define RA (1u << SUBSYS_RAFT)

/* Parses a NULL-terminated argument list (argv[0] is added). */
static int parse(const char *const *args, struct agent_args *a, char *err, size_t len)
{
	char *argv[MAX_ARGV + 1] = { "metastore-agent" };
	int argc = 1;

	while (args[argc - 1]) {
		assert_true(argc < MAX_ARGV);
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	return agent_args_parse(argc, argv, a, err, len);
}

static void test_valid(void **state)
{
	static const struct {
		const char *args[MAX_ARGV];
		const char *binary;
		int pid;
		uint32_t probes;
		const char *probes_text;
		const char *listen;
		bool bpf_stats, help, version, list_probes;
	} cases[] = {
#define ALL G | CN | ST | M | W | L | AU | RA, "grpc,conn,storage,mvcc,watch,lease,auth,raft"
#define DEF "127.0.0.1:9464"
		{ { "--binary", "./metastore" }, "./metastore", 0, ALL, DEF, .bpf_stats = false },
		{ { "--binary=./ms" }, "./ms", 0, ALL, DEF, .bpf_stats = false },
		{ { "--pid", "1234", "--probes", "storage,grpc" }, NULL, 1234, G | ST, "grpc,storage",
		  DEF, .bpf_stats = false },
		{ { "--pid=4194304", "--probes=mvcc" }, NULL, 4194304, M, "mvcc", DEF,
		  .bpf_stats = false },
		{ { "--binary", "/x", "--listen", "0.0.0.0:0", "--bpf-stats" }, "/x", 0, ALL,
		  "0.0.0.0:0", .bpf_stats = true },
		{ { "--listen", "[::1]:65535", "--pid", "7" }, NULL, 7, ALL, "[::1]:65535",
		  .bpf_stats = false },
		{ { "--probes", "grpc", "--probes", "all", "--pid", "1" }, NULL, 1, ALL, DEF,
		  .bpf_stats = false },
		/* flags take true/false on the command line as in the file and the environment */
		{ { "--pid", "1", "--bpf-stats=false" }, NULL, 1, ALL, DEF, .bpf_stats = false },
		{ { "--pid", "1", "--bpf-stats", "false" }, NULL, 1, ALL, DEF, .bpf_stats = false },
		{ { "--bpf-stats", "true", "--pid", "1" }, NULL, 1, ALL, DEF, .bpf_stats = true },
		{ { "--bpf-stats=yes", "--bpf-stats", "off", "--pid", "1" }, NULL, 1, ALL, DEF,
		  .bpf_stats = false },
		{ { "--bpf-stats", "--pid", "1" }, NULL, 1, ALL, DEF, .bpf_stats = true },
		{ { "--help=true" }, NULL, 0, ALL, DEF, .help = true },
		/* --help, --version and --list-probes need no target and win over a bad combination. */
		{ { "--help" }, NULL, 0, ALL, DEF, .help = true },
		{ { "-h", "--binary", "/x", "--pid", "3" }, "/x", 3, ALL, DEF, .help = true },
		{ { "--version" }, NULL, 0, ALL, DEF, .version = true },
		{ { "--list-probes" }, NULL, 0, ALL, DEF, .list_probes = true },
#undef ALL
#undef DEF
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		struct agent_args a;
		char err[256] = "";
		uint64_t def[MS_MAX_BUCKETS];
		uint32_t ndef = buckets_default(def, MS_MAX_BUCKETS);

		assert_int_equal(parse(cases[i].args, &a, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		if (cases[i].binary)
			assert_string_equal(a.binary, cases[i].binary);
		else
			assert_null(a.binary);
		assert_int_equal(a.pid, cases[i].pid);
		assert_int_equal(a.probes, cases[i].probes);
		assert_string_equal(a.probes_text, cases[i].probes_text);
		assert_string_equal(a.listen, cases[i].listen);
		assert_int_equal(a.bpf_stats, cases[i].bpf_stats);
		assert_int_equal(a.help, cases[i].help);
		assert_int_equal(a.version, cases[i].version);
		assert_int_equal(a.list_probes, cases[i].list_probes);
		assert_false(a.verbose);
		assert_int_equal(a.nr_bounds, ndef);
		assert_memory_equal(a.bounds_ns, def, ndef * sizeof(def[0]));
	}
}

static void test_buckets_option(void **state)
{
	static const char *const args[] = { "--pid", "1", "--buckets", "0.0001, 0.002,1.5", NULL };
	static const uint64_t want[] = { 100000, 2000000, 1500000000 };
	struct agent_args a;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(args, &a, err, sizeof(err)), 0);
	assert_int_equal(a.nr_bounds, LEN(want));
	assert_memory_equal(a.bounds_ns, want, sizeof(want));
}

static void test_go_max_calls(void **state)
{
	static const struct {
		const char *v;
		uint32_t want;
	} cases[] = { { NULL, 0 }, { "1", 1 }, { "4", 4 }, { "5000", 5000 }, { "1048576", 1048576 } };

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		const char *args[] = { "--pid", "1", cases[i].v ? "--go-max-calls" : NULL, cases[i].v,
				       NULL };
		struct agent_args a;
		char err[256] = "";

		assert_int_equal(parse(args, &a, err, sizeof(err)), 0);
		assert_int_equal(a.go_max_calls, cases[i].want);
	}
}

static void test_invalid(void **state)
{
	static const struct {
		const char *args[MAX_ARGV];
		const char *msg;
	} cases[] = {
		{ { NULL }, "one of --binary or --pid is required" },
		{ { "--probes", "grpc" }, "one of --binary or --pid is required" },
		{ { "--binary", "/x", "--pid", "5" }, "--binary and --pid are exclusive" },
		{ { "--pid", "abc" }, "--pid: invalid process id 'abc'" },
		{ { "--pid", "0" }, "--pid: invalid process id '0'" },
		{ { "--pid", "-5" }, "--pid: invalid process id '-5'" },
		{ { "--pid", "+5" }, "--pid: invalid process id '+5'" },
		{ { "--pid", "12x" }, "--pid: invalid process id '12x'" },
		{ { "--pid=" }, "--pid: invalid process id ''" },
		{ { "--pid", "4194305" }, "--pid: invalid process id '4194305'" },
		{ { "--pid", "99999999999999999999" }, "--pid: invalid process id '99999999999999999999'" },
		{ { "--pid" }, "--pid: missing value" },
		{ { "--binary" }, "--binary: missing value" },
		{ { "--binary", "--pid", "5" }, "--binary: missing value" },
		{ { "--binary=" }, "--binary: empty path" },
		{ { "--bogus" }, "unknown option --bogus" },
		{ { "--bogus=1" }, "unknown option --bogus" },
		{ { "--pi", "5" }, "unknown option --pi" },
		{ { "-p", "5" }, "unexpected argument '-p'" },
		{ { "metastore" }, "unexpected argument 'metastore'" },
		{ { "--help=maybe" }, "--help: expects true or false, not 'maybe'" },
		{ { "--bpf-stats=2", "--pid", "1" }, "--bpf-stats: expects true or false, not '2'" },
		{ { "--bpf-stats=", "--pid", "1" }, "--bpf-stats: expects true or false, not ''" },
		/* a word that is no boolean after a flag is an argument of its own */
		{ { "--pid", "1", "--bpf-stats", "maybe" }, "unexpected argument 'maybe'" },
		{ { "--pid", "1", "--target-uid", "no-such-user-x" },
		  "--target-uid: no such user 'no-such-user-x'" },
		{ { "--pid", "1", "--target-uid=" }, "--target-uid: no such user ''" },
		{ { "--pid", "1", "--target-uid=99999999999" }, "--target-uid: invalid uid '99999999999'" },
		{ { "--pid", "1", "--target-cgroup=" }, "--target-cgroup: empty path" },
		{ { "--pid", "1", "--btf=" }, "--btf: empty path" },
		{ { "--pid", "1", "--go-max-calls=0" }, "--go-max-calls: '0' is not a count of 1 to 1048576" },
		{ { "--pid", "1", "--go-max-calls", "1048577" },
		  "--go-max-calls: '1048577' is not a count of 1 to 1048576" },
		{ { "--pid", "1", "--go-max-calls=+8" }, "--go-max-calls: '+8' is not a count of 1 to 1048576" },
		{ { "--pid", "1", "--go-max-calls=" }, "--go-max-calls: '' is not a count of 1 to 1048576" },
		{ { "--pid", "1", "--metrics-path=/" },
		  "--metrics-path: '/' is not a path like /metrics (not / or /health)" },
		{ { "--pid", "1", "--metrics-path=/health" },
		  "--metrics-path: '/health' is not a path like /metrics (not / or /health)" },
		{ { "--pid", "1", "--metrics-path", "stats" },
		  "--metrics-path: 'stats' is not a path like /metrics (not / or /health)" },
		{ { "--pid", "1", "--metrics-path=/a\"b" },
		  "--metrics-path: '/a\"b' is not a path like /metrics (not / or /health)" },
		{ { "--pid", "1", "--metrics-path=/a?b" },
		  "--metrics-path: '/a?b' is not a path like /metrics (not / or /health)" },
		{ { "--pid", "1", "--probes", "grpc,bogus" }, "--probes: unknown subsystem 'bogus'" },
		{ { "--pid", "1", "--probes", "GRPC" }, "--probes: unknown subsystem 'GRPC'" },
		{ { "--pid", "1", "--probes", "grpc," }, "--probes: empty subsystem name in 'grpc,'" },
		{ { "--pid", "1", "--probes=" }, "--probes: empty subsystem name in ''" },
		{ { "--pid", "1", "--listen", "1.2.3.4:99999" },
		  "--listen: invalid address '1.2.3.4:99999': port out of range 0-65535" },
		{ { "--pid", "1", "--listen", "nohost" },
		  "--listen: invalid address 'nohost': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--listen", "localhost:9464" },
		  "--listen: invalid address 'localhost:9464': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--listen", "1.2.3.4:" },
		  "--listen: invalid address '1.2.3.4:': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--listen", ":9464" },
		  "--listen: invalid address ':9464': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--listen", "1.2.3.4:-1" },
		  "--listen: invalid address '1.2.3.4:-1': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--listen", "::1:80" },
		  "--listen: invalid address '::1:80': want IP:PORT or [IPv6]:PORT" },
		{ { "--pid", "1", "--buckets", "0.5,0.1" },
		  "--buckets: bounds must increase: '0.1' after '0.5'" },
		{ { "--pid", "1", "--buckets", "fast" }, "--buckets: 'fast' is not a number of seconds" },
		{ { "--pid", "1", "--buckets", "" }, "--buckets: empty bucket list" },
		{ { "--pid", "1", "--buckets", "-1" }, "--buckets: '-1' is not positive" },
		{ { "--pid", "1", "--buckets", "nan" }, "--buckets: 'nan' is not finite" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		struct agent_args a;
		char err[256] = "";

		assert_int_equal(parse(cases[i].args, &a, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
}

static void test_split_listen(void **state)
{
	static const struct {
		const char *in;
		int err;
		const char *host;
		uint16_t port;
	} cases[] = {
		{ "127.0.0.1:9464", 0, "127.0.0.1", 9464 },
		{ "0.0.0.0:0", 0, "0.0.0.0", 0 },
		{ "[::1]:80", 0, "::1", 80 },
		{ "[::]:65535", 0, "::", 65535 },
		{ "1.2.3.4:65536", -ERANGE, NULL, 0 },
		{ "1.2.3.4:000000080", 0, "1.2.3.4", 80 },
		{ "1.2.3.4: 80", -EINVAL, NULL, 0 },
		{ "1.2.3.4:+80", -EINVAL, NULL, 0 },
		{ "1.2.3:80", -EINVAL, NULL, 0 },
		{ "[::1]80", -EINVAL, NULL, 0 },
		{ "[::1:80", -EINVAL, NULL, 0 },
		{ "[1.2.3.4]:80", -EINVAL, NULL, 0 },
		{ "", -EINVAL, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		char host[64] = "";
		uint16_t port = 1;

		assert_int_equal(agent_args_split_listen(cases[i].in, host, sizeof(host), &port),
				 cases[i].err);
		if (!cases[i].err) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

/* Captures what `fn` writes to a FILE. The caller frees the result. */
static char *capture(void (*fn)(FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The expected --list-probes text, built from the subsystem table. */
static char *expected_list(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);

		if (id)
			fputc('\n', f);
		fprintf(f, "%s: %s\n", d->name, d->summary);
		for (size_t i = 0; i < d->nr_probes; i++)
			fprintf(f, "  %s%s\n", i ? "         " : "probes:  ", d->probes[i].func);
		for (size_t i = 0; d->metrics[i]; i++)
			fprintf(f, "  %s%s\n", i ? "         " : "metrics: ", d->metrics[i]);
	}
	fclose(f);
	return text;
}

static void test_list_probes(void **state)
{
	char *got = capture(agent_args_list_probes), *want = expected_list();

	(void)state;
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_help(void **state)
{
	static const char head[] =
		"usage: metastore-agent (--binary PATH | --pid PID) [options]\n\n"
		"Attaches eBPF uprobes to a metastore and serves its metrics in the Prometheus\n"
		"text format on /metrics (also /health and /). Needs kernel BTF and CAP_BPF,\n"
		"CAP_PERFMON, CAP_SYS_ADMIN and CAP_SETPCAP (root has them).\n\n"
		"options:\n"
		"  --binary PATH            probe every process running this metastore executable\n"
		"  --pid PID                probe one running metastore process\n"
		"  --probes LIST            subsystems to probe, comma-separated, or all (default all)\n"
		"  --listen ADDR:PORT       HTTP listen address (default 127.0.0.1:9464)\n"
		"  --metrics-path PATH      where the metrics are served (default /metrics)\n"
		"  --web-config PATH        TLS and basic auth for HTTP (tls_server_config, basic_auth_users)\n"
		"  --buckets LIST           latency bucket bounds in seconds, increasing\n"
		"  --bpf-stats              turn on kernel.bpf_stats_enabled for BPF run-time metrics\n"
		"  --user USER              after attaching, run as USER (all capabilities are dropped anyway)\n"
		"  --target-uid UID         count only store processes of this uid (or user name)\n"
		"  --target-cgroup PATH     count only store processes in this cgroup v2\n"
		"  --target-pidns PATH      count only store processes in this pid namespace (/proc/PID/ns/pid)\n"
		"  --btf PATH               kernel BTF file (default /sys/kernel/btf/vmlinux)\n"
		"  --go-max-calls N         Go targets: calls in flight kept in the fast table (default 16384)\n"
		"  --go-perf-event-links    Go targets: perf-event uprobes even where the kernel has uprobe_multi\n"
		"  --config PATH            YAML file of settings; environment and command line win\n"
		"  --log-level LEVEL        error, warn, info (default) or debug\n"
		"  --log-format FORMAT      text (default) or json: one object per line\n"
		"  --verbose                print libbpf messages\n"
		"  --check                  check the settings, kernel and target binary; attach nothing\n"
		"  --list-probes            list subsystems, their probe functions and metrics\n"
		"  --version                print the version\n"
		"  --help                   this text (also -h)\n\n"
		"default buckets (seconds): ";
	char *got = capture(agent_args_help), *list = expected_list(), *p;
	uint64_t def[MS_MAX_BUCKETS];
	uint32_t n = buckets_default(def, MS_MAX_BUCKETS);
	char *bounds_line = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&bounds_line, &blen);

	(void)state;
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%g", i ? "," : "", (double)def[i] / 1e9);
	fprintf(f, "\n\nsubsystems (--probes):\n");
	fclose(f);
	assert_memory_equal(got, head, strlen(head));
	p = got + strlen(head);
	assert_memory_equal(p, bounds_line, strlen(bounds_line));
	p += strlen(bounds_line);
	assert_string_equal(p, list);
	/* The default set is the documented one. */
	assert_non_null(strstr(got, "default buckets (seconds): 5e-06,1e-05,"));
	assert_non_null(strstr(got, ",2.5,5,10\n"));
	free(bounds_line);
	free(list);
	free(got);
}

/* --target-uid takes a uid or a user name; --target-cgroup a path (resolved at start). */
static void test_targets(void **state)
{
	static const struct {
		const char *args[MAX_ARGV];
		bool has_uid;
		uint32_t uid;
		const char *cgroup;
	} cases[] = {
		{ { "--pid", "1" }, false, 0, NULL },
		{ { "--pid", "1", "--target-uid", "0" }, true, 0, NULL },
		{ { "--pid", "1", "--target-uid=65534" }, true, 65534, NULL },
		{ { "--pid", "1", "--target-uid=root" }, true, 0, NULL },
		{ { "--pid", "1", "--target-cgroup", "/system.slice/metastore.service" }, false, 0,
		  "/system.slice/metastore.service" },
	};
	struct agent_args m;
	char merr[256] = "";

	/* and --metrics-path, default and set */
	assert_int_equal(parse((const char *[]){ "--pid", "1", NULL }, &m, merr, sizeof(merr)), 0);
	assert_string_equal(m.metrics_path, "/metrics");
	agent_args_release(&m);
	assert_int_equal(parse((const char *[]){ "--pid", "1", "--metrics-path", "/prom/metrics", NULL },
			       &m, merr, sizeof(merr)), 0);
	assert_string_equal(m.metrics_path, "/prom/metrics");
	agent_args_release(&m);

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		struct agent_args a;
		char err[256] = "";

		assert_int_equal(parse(cases[i].args, &a, err, sizeof(err)), 0);
		assert_int_equal(a.has_target_uid, cases[i].has_uid);
		assert_int_equal(a.target_uid, cases[i].uid);
		if (cases[i].cgroup)
			assert_string_equal(a.target_cgroup, cases[i].cgroup);
		else
			assert_null(a.target_cgroup);
		agent_args_release(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_buckets_option),
		cmocka_unit_test(test_go_max_calls),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_split_listen),
		cmocka_unit_test(test_list_probes),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
