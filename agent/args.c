/* Agent command line: parsing into a settings struct, and the --help / --list-probes texts. */
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "buckets.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "args_priv.h"
#include "ms_cli.h"
#include "ms_go.h"
#include "subsys.h"

enum opt_id { OPT_BINARY, OPT_PID, OPT_PROBES, OPT_LISTEN, OPT_BUCKETS, OPT_BPF_STATS,
	      OPT_USER, OPT_TARGET_UID, OPT_TARGET_CGROUP, OPT_TARGET_PIDNS, OPT_BTF,
	      OPT_GO_MAX_CALLS, OPT_GO_PERF_EVENT, OPT_CONFIG, OPT_VERBOSE,
	      OPT_LOG_LEVEL, OPT_LOG_FORMAT, OPT_METRICS_PATH, OPT_WEB_CONFIG, OPT_CHECK, OPT_HELP,
	      OPT_VERSION, OPT_LIST_PROBES };

const struct ms_cli_opt agent_options[] = {
	{ "binary", OPT_BINARY, "PATH", "probe every process running this metastore executable" },
	{ "pid", OPT_PID, "PID", "probe one running metastore process" },
	{ "probes", OPT_PROBES, "LIST", "subsystems to probe, comma-separated, or all (default all)" },
	{ "listen", OPT_LISTEN, "ADDR:PORT", "HTTP listen address (default " AGENT_DEFAULT_LISTEN ")" },
	{ "metrics-path", OPT_METRICS_PATH, "PATH", "where the metrics are served (default /metrics)" },
	{ "web-config", OPT_WEB_CONFIG, "PATH", "TLS and basic auth for HTTP (tls_server_config, basic_auth_users)" },
	{ "buckets", OPT_BUCKETS, "LIST", "latency bucket bounds in seconds, increasing" },
	{ "bpf-stats", OPT_BPF_STATS, NULL, "turn on kernel.bpf_stats_enabled for BPF run-time metrics" },
	{ "user", OPT_USER, "USER", "after attaching, run as USER (all capabilities are dropped anyway)" },
	{ "target-uid", OPT_TARGET_UID, "UID", "count only store processes of this uid (or user name)" },
	{ "target-cgroup", OPT_TARGET_CGROUP, "PATH", "count only store processes in this cgroup v2" },
	{ "target-pidns", OPT_TARGET_PIDNS, "PATH", "count only store processes in this pid namespace (/proc/PID/ns/pid)" },
	{ "btf", OPT_BTF, "PATH", "kernel BTF file (default /sys/kernel/btf/vmlinux)" },
	{ "go-max-calls", OPT_GO_MAX_CALLS, "N", "Go targets: calls in flight kept in the fast table (default 16384)" },
	{ "go-perf-event-links", OPT_GO_PERF_EVENT, NULL, "Go targets: perf-event uprobes even where the kernel has uprobe_multi" },
	{ "config", OPT_CONFIG, "PATH", "YAML file of settings; environment and command line win" },
	{ "log-level", OPT_LOG_LEVEL, "LEVEL", "error, warn, info (default) or debug" },
	{ "log-format", OPT_LOG_FORMAT, "FORMAT", "text (default) or json: one object per line" },
	{ "verbose", OPT_VERBOSE, NULL, "print libbpf messages" },
	{ "check", OPT_CHECK, NULL, "check the settings, kernel and target binary; attach nothing" },
	{ "list-probes", OPT_LIST_PROBES, NULL, "list subsystems, their probe functions and metrics" },
	{ "version", OPT_VERSION, NULL, "print the version" },
	{ "help", OPT_HELP, NULL, "this text (also -h)" },
};

const size_t agent_nr_options = sizeof(agent_options) / sizeof(agent_options[0]);


static int set_probes(struct agent_args *a, const char *v, char *err, size_t len)
{
	const char *bad;
	size_t bad_len, o = 0;

	if (subsys_parse_list(v, &a->probes, &bad, &bad_len)) {
		if (bad_len)
			snprintf(err, len, "--probes: unknown subsystem '%.*s'", (int)bad_len, bad);
		else
			snprintf(err, len, "--probes: empty subsystem name in '%s'", v);
		return -EINVAL;
	}
	a->probes_text[0] = '\0';
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const char *name = subsys_get(id)->name;

		if (!(a->probes & (1u << id)) || o + strlen(name) + 2 > sizeof(a->probes_text))
			continue;
		o += (size_t)snprintf(a->probes_text + o, sizeof(a->probes_text) - o, "%s%s",
				      o ? "," : "", name);
	}
	return 0;
}

/* --target-uid: digits are a uid, anything else a user name. */
static int set_target_uid(struct agent_args *a, const char *v, char *err, size_t len)
{
	struct passwd *pw;
	char *end;
	unsigned long uid;

	if (*v && strspn(v, "0123456789") == strlen(v)) {
		errno = 0;
		uid = strtoul(v, &end, 10);
		if (errno || uid > UINT32_MAX - 1) {
			snprintf(err, len, "--target-uid: invalid uid '%s'", v);
			return -EINVAL;
		}
		a->target_uid = (uint32_t)uid;
	} else if (*v && (pw = getpwnam(v))) {
		a->target_uid = (uint32_t)pw->pw_uid;
	} else {
		snprintf(err, len, "--target-uid: no such user '%s'", v);
		return -EINVAL;
	}
	a->has_target_uid = true;
	return 0;
}

static int apply(struct agent_args *a, enum opt_id id, const char *v, char *err, size_t len)
{
	char host[64], reason[160], *end;
	uint16_t port;
	long pid, n;
	int e;

	switch (id) {
	case OPT_BINARY:
		if (!*v) {
			snprintf(err, len, "--binary: empty path");
			return -EINVAL;
		}
		a->binary = v;
		return 0;
	case OPT_PID:
		errno = 0;
		pid = strtol(v, &end, 10);
		/* Digits only (no "+5", " 5"); 4194304 is the kernel's PID_MAX_LIMIT. */
		if (!*v || *end || errno || strspn(v, "0123456789") != strlen(v) || pid <= 0 ||
		    pid > 4194304) {
			snprintf(err, len, "--pid: invalid process id '%s'", v);
			return -EINVAL;
		}
		a->pid = (int)pid;
		return 0;
	case OPT_PROBES:
		return set_probes(a, v, err, len);
	case OPT_LISTEN:
		e = agent_args_split_listen(v, host, sizeof(host), &port);
		if (e) {
			snprintf(err, len, "--listen: invalid address '%s': %s", v,
				 e == -ERANGE ? "port out of range 0-65535"
					      : "want IP:PORT or [IPv6]:PORT");
			return -EINVAL;
		}
		a->listen = v;
		return 0;
	case OPT_BUCKETS:
		if (buckets_parse(v, a->bounds_ns, MS_MAX_BUCKETS, &a->nr_bounds, reason,
				  sizeof(reason))) {
			snprintf(err, len, "--buckets: %s", reason);
			return -EINVAL;
		}
		return 0;
	case OPT_BPF_STATS:
		a->bpf_stats = v == NULL; /* a flag: NULL is on (see set_flag) */
		return 0;
	case OPT_USER:
		if (!*v) {
			snprintf(err, len, "--user: empty name");
			return -EINVAL;
		}
		a->user = v;
		return 0;
	case OPT_TARGET_UID:
		return set_target_uid(a, v, err, len);
	case OPT_TARGET_CGROUP:
		if (!*v) {
			snprintf(err, len, "--target-cgroup: empty path");
			return -EINVAL;
		}
		a->target_cgroup = v;
		return 0;
	case OPT_TARGET_PIDNS:
		if (!*v) {
			snprintf(err, len, "--target-pidns: empty path");
			return -EINVAL;
		}
		a->target_pidns = v;
		return 0;
	case OPT_BTF:
		if (!*v) {
			snprintf(err, len, "--btf: empty path");
			return -EINVAL;
		}
		a->btf = v;
		return 0;
	case OPT_GO_MAX_CALLS:
		errno = 0;
		n = strtol(v, &end, 10);
		if (!*v || *end || errno || strspn(v, "0123456789") != strlen(v) || n < 1 ||
		    n > (long)MS_GO_GTAB_WAYS << MS_GO_CALLS_MAX_BITS) {
			snprintf(err, len, "--go-max-calls: '%s' is not a count of 1 to %ld", v,
				 (long)MS_GO_GTAB_WAYS << MS_GO_CALLS_MAX_BITS);
			return -EINVAL;
		}
		a->go_max_calls = (uint32_t)n;
		return 0;
	case OPT_GO_PERF_EVENT:
		a->go_perf_event = v == NULL;
		return 0;
	case OPT_CONFIG:
		/* Read before everything else by agent_args_parse. */
		return 0;
	case OPT_VERBOSE:
		a->verbose = v == NULL;
		return 0;
	case OPT_LOG_LEVEL: {
		enum log_level lv;

		if (log_parse_level(v, &lv)) {
			snprintf(err, len, "--log-level: '%s' is not error, warn, info or debug", v);
			return -EINVAL;
		}
		a->log_level = (int)lv;
		return 0;
	}
	case OPT_LOG_FORMAT:
		if (strcmp(v, "text") && strcmp(v, "json")) {
			snprintf(err, len, "--log-format: '%s' is not text or json", v);
			return -EINVAL;
		}
		a->log_json = !strcmp(v, "json");
		return 0;
	case OPT_METRICS_PATH:
		if (!http_metrics_path_ok(v)) {
			snprintf(err, len, "--metrics-path: '%s' is not a path like /metrics (not / or /health)", v);
			return -EINVAL;
		}
		a->metrics_path = v;
		return 0;
	case OPT_WEB_CONFIG:
		if (!*v) {
			snprintf(err, len, "--web-config: empty path");
			return -EINVAL;
		}
		a->web_config = v;
		return 0;
	case OPT_CHECK:
		a->check = v == NULL;
		return 0;
	case OPT_HELP:
		a->help = v == NULL;
		return 0;
	case OPT_VERSION:
		a->version = v == NULL;
		return 0;
	case OPT_LIST_PROBES:
		a->list_probes = v == NULL;
		return 0;
	}
	return -EINVAL;
}

/* Where a setting came from; a later source overrides an earlier one. */
enum args_src { SRC_DEFAULT, SRC_CONFIG, SRC_ENV, SRC_ARGV };

static const char *keep(struct agent_args *a, const char *v)
{
	char *c;

	if (a->nr_owned == ARGS_MAX_OWNED || !(c = strdup(v)))
		return NULL;
	a->owned[a->nr_owned++] = c;
	return c;
}

/* A flag's value: 1 for true/yes/1/on, 0 for false/no/0/off, -1 for anything else. */
static int flag_bool(const char *v)
{
	static const char *const on[] = { "true", "yes", "1", "on" };
	static const char *const off[] = { "false", "no", "0", "off" };

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (!strcmp(v, on[i]))
			return 1;
		if (!strcmp(v, off[i]))
			return 0;
	}
	return -1;
}

/* The option of `id`. */
static const struct ms_cli_opt *option_of(enum opt_id id)
{
	const struct ms_cli_opt *o = agent_options;

	while ((enum opt_id)o->id != id)
		o++;
	return o;
}

/* Applies one setting from `src`: values outside argv are copied, flags take a boolean
 * (`v` NULL on the command line is true), and --binary / --pid from a later source replace
 * the other from an earlier one. */
static int apply_from(struct agent_args *a, enum args_src src, enum opt_id id, const char *v,
		      char *err, size_t len)
{
	const struct ms_cli_opt *o = option_of(id);
	int e;

	if (o->arg == NULL && v) {
		int b = flag_bool(v);

		if (b < 0) {
			snprintf(err, len, "--%s: expects true or false, not '%s'", o->name, v);
			return -EINVAL;
		}
		/* off: "false" where apply() wants non-NULL; on: NULL */
		v = b ? NULL : "false";
	} else if (src != SRC_ARGV && !(v = keep(a, v))) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	if (id == OPT_BINARY && a->pid_src < (int)src)
		a->pid = 0;
	if (id == OPT_PID && a->binary_src < (int)src)
		a->binary = NULL;
	e = apply(a, id, v, err, len);
	if (!e && id == OPT_BINARY)
		a->binary_src = (int)src;
	if (!e && id == OPT_PID)
		a->pid_src = (int)src;
	return e;
}

/* Options that only make sense on the command line. */
static bool argv_only(enum opt_id id)
{
	return id == OPT_CONFIG || id == OPT_HELP || id == OPT_VERSION || id == OPT_LIST_PROBES ||
	       id == OPT_CHECK;
}

static int config_entry(const char *key, const char *value, void *arg, char *err, size_t len)
{
	struct agent_args *a = arg;
	char name[64];
	size_t k;

	/* Keys are option names; "bpf_stats" works as well as "bpf-stats". */
	snprintf(name, sizeof(name), "%s", key);
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '-';
	for (k = 0; k < agent_nr_options; k++)
		if (!strcmp(agent_options[k].name, name))
			break;
	if (k == agent_nr_options || argv_only((enum opt_id)agent_options[k].id)) {
		snprintf(err, len, "unknown key '%s'", key);
		return -EINVAL;
	}
	return apply_from(a, SRC_CONFIG, (enum opt_id)agent_options[k].id, value, err, len);
}

/* METASTORE_AGENT_<OPTION>, e.g. METASTORE_AGENT_BPF_STATS for --bpf-stats. */
static void env_name(const char *opt, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "METASTORE_AGENT_");

	for (const char *p = opt; *p && o + 1 < len; p++)
		out[o++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	out[o] = '\0';
}

static int apply_env(struct agent_args *a, char *err, size_t len)
{
	for (size_t k = 0; k < agent_nr_options; k++) {
		char name[64], reason[200];
		const char *v;
		int e;

		if (argv_only((enum opt_id)agent_options[k].id))
			continue;
		env_name(agent_options[k].name, name, sizeof(name));
		v = getenv(name);
		if (!v)
			continue;
		e = apply_from(a, SRC_ENV, (enum opt_id)agent_options[k].id, v, reason, sizeof(reason));
		if (e) {
			snprintf(err, len, "%s: %s", name, reason);
			return e;
		}
	}
	return 0;
}

/* The --config path from argv (last one wins), else METASTORE_AGENT_CONFIG, else NULL.
 * Malformed arguments are left for the real pass to report. */
static const char *find_config(int argc, char **argv)
{
	const char *path = getenv("METASTORE_AGENT_CONFIG");
	char scratch[8];

	for (int i = 1; i < argc; i++) {
		const char *val;
		int id;

		if (ms_cli_next(argc, argv, &i, agent_options, agent_nr_options, &id, &val, scratch,
				sizeof(scratch)) == 0 &&
		    id == OPT_CONFIG)
			path = val;
	}
	return path;
}

/*
 * "--FLAG=VALUE" and "--FLAG true|false" (and the other boolean words) for a flag: flags take
 * true/false on the command line too. Returns 1 with *id and *val (the value; *i past a
 * separate one), or 0 when argv[*i] is no such flag with a value (ms_cli_next reads it).
 */
static int flag_with_value(int argc, char **argv, int *i, int *id, const char **val)
{
	const char *arg = argv[*i], *eq;
	size_t nlen;

	if (strncmp(arg, "--", 2) != 0)
		return 0;
	eq = strchr(arg + 2, '=');
	nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	for (size_t k = 0; k < agent_nr_options; k++) {
		const struct ms_cli_opt *o = &agent_options[k];

		if (o->arg || strlen(o->name) != nlen || strncmp(arg + 2, o->name, nlen))
			continue;
		if (eq)
			*val = eq + 1;
		else if (*i + 1 < argc && flag_bool(argv[*i + 1]) >= 0)
			*val = argv[++*i];
		else
			return 0;
		*id = o->id;
		return 1;
	}
	return 0;
}

static int parse_all(int argc, char **argv, struct agent_args *a, char *err, size_t len)
{
	const char *config;
	int e;

	memset(a, 0, sizeof(*a));
	a->listen = AGENT_DEFAULT_LISTEN;
	a->metrics_path = "/metrics";
	a->log_level = LOG_INFO;
	a->nr_bounds = buckets_default(a->bounds_ns, MS_MAX_BUCKETS);
	set_probes(a, "all", err, len);

	/* Lowest to highest: configuration file, environment, command line. */
	config = find_config(argc, argv);
	if (config && !*config) {
		snprintf(err, len, "--config: empty path");
		return -EINVAL;
	}
	if (config) {
		e = config_load(config, config_entry, a, err, len);
		if (e)
			return e;
	}
	e = apply_env(a, err, len);
	if (e)
		return e;
	for (int i = 1; i < argc; i++) {
		const char *val;
		int id;

		if (strcmp(argv[i], "-h") == 0) {
			a->help = true;
			continue;
		}
		e = flag_with_value(argc, argv, &i, &id, &val);
		if (!e)
			e = ms_cli_next(argc, argv, &i, agent_options, agent_nr_options, &id, &val, err, len);
		else if (e > 0)
			e = 0;
		if (e)
			return e;
		e = apply_from(a, SRC_ARGV, (enum opt_id)id, val, err, len);
		if (e)
			return e;
	}
	if (a->help || a->version || a->list_probes)
		return 0;
	if (a->binary && a->pid) {
		snprintf(err, len, "--binary and --pid are exclusive");
		return -EINVAL;
	}
	if (!a->binary && !a->pid) {
		snprintf(err, len, "one of --binary or --pid is required");
		return -EINVAL;
	}
	return 0;
}

int agent_args_parse(int argc, char **argv, struct agent_args *a, char *err, size_t len)
{
	int e = parse_all(argc, argv, a, err, len);

	/* Messages quote argv, files and the environment: control bytes must not split the line. */
	for (char *p = err; e && len && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return e;
}

void agent_args_release(struct agent_args *a)
{
	for (size_t i = 0; i < a->nr_owned; i++)
		free(a->owned[i]);
	a->nr_owned = 0;
}
