/* Agent command line: parsing into a settings struct, and the --help / --list-probes texts. */
#ifndef AGENT_ARGS_H
#define AGENT_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ms_maps.h"

#define AGENT_DEFAULT_LISTEN "127.0.0.1:9464"

struct agent_args {
	const char *binary;     /* --binary PATH (points into argv) */
	int pid;                /* --pid PID, 0 if not given */
	uint32_t probes;        /* --probes, as 1u << enum subsys_id */
	char probes_text[128];  /* the selected subsystems, "grpc,storage,mvcc" */
	const char *listen;     /* --listen ADDR:PORT */
	const char *metrics_path; /* --metrics-path PATH (default /metrics) */
	const char *web_config; /* --web-config PATH: TLS and basic auth (exporters' format) */
	uint64_t bounds_ns[MS_MAX_BUCKETS];
	uint32_t nr_bounds;
	const char *user;       /* --user USER: run as USER after attaching */
	bool has_target_uid;    /* --target-uid UID|USER: only processes of that real uid count */
	uint32_t target_uid;
	const char *target_cgroup; /* --target-cgroup PATH: only processes in that cgroup v2 */
	const char *target_pidns;  /* --target-pidns PATH: only processes in that pid namespace */
	const char *btf;        /* --btf PATH: kernel BTF (vmlinux) for kernels without /sys/kernel/btf */
	uint32_t go_max_calls;  /* --go-max-calls N: a Go target's table of calls in flight; 0: default */
	bool go_perf_event;     /* --go-perf-event-links: no uprobe_multi links for a Go target */
	bool bpf_stats;   /* --bpf-stats: turn on kernel.bpf_stats_enabled */
	bool verbose;     /* --verbose: libbpf messages */
	bool help, version, list_probes;
	bool check;       /* --check: validate settings and the target, attach nothing */
	int log_level;    /* --log-level: an enum log_level (default info) */
	bool log_json;    /* --log-format json: one JSON object per line */
	/* private: where --binary / --pid came from, and copies of non-argv values */
	int binary_src, pid_src;
#define ARGS_MAX_OWNED 16
	char *owned[ARGS_MAX_OWNED];
	size_t nr_owned;
};

/*
 * Settings come from, lowest to highest: defaults, the YAML file of --config PATH (or
 * METASTORE_AGENT_CONFIG; keys are option names), METASTORE_AGENT_<OPTION> environment
 * variables (e.g. METASTORE_AGENT_LISTEN, METASTORE_AGENT_BPF_STATS=true), then argv. A
 * --binary or --pid from a higher source replaces the other one from a lower source.
 * Release with agent_args_release().
 *
 * Parses argv (options as "--name value" or "--name=value"; a separate value must not
 * start with "--"; -h is --help). Defaults: probes all, listen AGENT_DEFAULT_LISTEN,
 * buckets buckets_default(). Exactly one of --binary / --pid is required unless --help,
 * --version or --list-probes is given. Returns 0, or -EINVAL with a one-line message in
 * err (e.g. "--pid: invalid process id 'abc'"). Never prints; pointers in *a point into argv.
 */
int agent_args_parse(int argc, char **argv, struct agent_args *a, char *err, size_t errlen);

/* Frees the copies agent_args_parse made of configuration and environment values. */
void agent_args_release(struct agent_args *a);

/* Writes the --help text: usage, options, each subsystem with its functions and metrics. */
void agent_args_help(FILE *out);

/* Writes the --list-probes text: one block per subsystem. */
void agent_args_list_probes(FILE *out);

/* Splits "IP:PORT" ("[IPv6]:PORT" too; numeric addresses only) into host and port; port 0
 * allowed. Returns 0, -ERANGE for a port above 65535, or -EINVAL for anything else
 * malformed. host must hold at least 64 bytes. */
int agent_args_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *port);

#endif /* AGENT_ARGS_H */
