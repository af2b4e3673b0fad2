/* Agent command line: parsing into a settings struct, and the --help / --list-probes texts. */
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buckets.h"
#include "ms_cli.h"
#include "subsys.h"

enum opt_id { OPT_BINARY, OPT_PID, OPT_PROBES, OPT_LISTEN, OPT_BUCKETS, OPT_BPF_STATS,
	      OPT_USER, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_LIST_PROBES };

static const struct ms_cli_opt options[] = {
	{ "binary", OPT_BINARY, "PATH", "probe every process running this metastore executable" },
	{ "pid", OPT_PID, "PID", "probe one running metastore process" },
	{ "probes", OPT_PROBES, "LIST", "subsystems to probe, comma-separated, or all (default all)" },
	{ "listen", OPT_LISTEN, "ADDR:PORT", "HTTP listen address (default " AGENT_DEFAULT_LISTEN ")" },
	{ "buckets", OPT_BUCKETS, "LIST", "latency bucket bounds in seconds, increasing" },
	{ "bpf-stats", OPT_BPF_STATS, NULL, "turn on kernel.bpf_stats_enabled for BPF run-time metrics" },
	{ "user", OPT_USER, "USER", "after attaching, run as USER (all capabilities are dropped anyway)" },
	{ "verbose", OPT_VERBOSE, NULL, "print libbpf messages" },
	{ "list-probes", OPT_LIST_PROBES, NULL, "list subsystems, their probe functions and metrics" },
	{ "version", OPT_VERSION, NULL, "print the version" },
	{ "help", OPT_HELP, NULL, "this text (also -h)" },
};

#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))

int agent_args_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = listen;
	size_t hlen;
	char *end;
	long p;
	unsigned char addr[16];

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= hostlen)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(listen[0] == '[' ? AF_INET6 : AF_INET, host, addr) != 1)
		return -EINVAL;
	/* The port is checked after the address so that a bad port gets its own error. */
	/* Digits only: strtol alone would take "+80", " 80" and "-0". */
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || p > 65535)
		return -ERANGE;
	*port = (uint16_t)p;
	return 0;
}

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

static int apply(struct agent_args *a, enum opt_id id, const char *v, char *err, size_t len)
{
	char host[64], reason[160], *end;
	uint16_t port;
	long pid;
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
		a->bpf_stats = true;
		return 0;
	case OPT_USER:
		if (!*v) {
			snprintf(err, len, "--user: empty name");
			return -EINVAL;
		}
		a->user = v;
		return 0;
	case OPT_VERBOSE:
		a->verbose = true;
		return 0;
	case OPT_HELP:
		a->help = true;
		return 0;
	case OPT_VERSION:
		a->version = true;
		return 0;
	case OPT_LIST_PROBES:
		a->list_probes = true;
		return 0;
	}
	return -EINVAL;
}

int agent_args_parse(int argc, char **argv, struct agent_args *a, char *err, size_t len)
{
	int e;

	memset(a, 0, sizeof(*a));
	a->listen = AGENT_DEFAULT_LISTEN;
	a->nr_bounds = buckets_default(a->bounds_ns, MS_MAX_BUCKETS);
	set_probes(a, "all", err, len);

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		int id;

		if (strcmp(arg, "-h") == 0) {
			a->help = true;
			continue;
		}
		e = ms_cli_next(argc, argv, &i, options, NR_OPTIONS, &id, &val, err, len);
		if (e)
			return e;
		e = apply(a, (enum opt_id)id, val, err, len);
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

void agent_args_list_probes(FILE *out)
{
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);

		fprintf(out, "%s%s: %s\n", id ? "\n" : "", d->name, d->summary);
		/* One name per line, in a column after the "probes:" / "metrics:" label. */
		for (size_t i = 0; i < d->nr_probes; i++)
			fprintf(out, "  %-9s%s\n", i ? "" : "probes:", d->probes[i].func);
		for (size_t i = 0; d->metrics[i]; i++)
			fprintf(out, "  %-9s%s\n", i ? "" : "metrics:", d->metrics[i]);
	}
}

void agent_args_help(FILE *out)
{
	uint64_t b[MS_MAX_BUCKETS];
	uint32_t n = buckets_default(b, MS_MAX_BUCKETS);

	fprintf(out, "usage: metastore-agent (--binary PATH | --pid PID) [options]\n\n"
		     "Attaches eBPF uprobes to a metastore and serves its metrics in the Prometheus\n"
		     "text format on /metrics (also /health and /). Needs root and kernel BTF.\n\n"
		     "options:\n");
	ms_cli_print_options(out, options, NR_OPTIONS);
	fprintf(out, "\ndefault buckets (seconds):");
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, "%s%g", i ? "," : " ", (double)b[i] / 1e9);
	fprintf(out, "\n\nsubsystems (--probes):\n");
	agent_args_list_probes(out);
}
