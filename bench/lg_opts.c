/* Benchmark load generator: command-line options. */
#include "lg_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: loadgen [options]\n"
	"\n"
	"Drives an etcd v3 gRPC endpoint over cleartext HTTP/2 with one of the workloads of\n"
	"etcd's benchmark tool and prints throughput, latency percentiles and the count of\n"
	"non-OK responses. --conns x --streams calls are in flight at a time.\n"
	"\n"
	"  --endpoint IP:PORT   server (default 127.0.0.1:2379)\n"
	"  --conns N            HTTP/2 connections, one thread each but in watch-latency\n"
	"                       (default 4)\n"
	"  --streams N          concurrent calls per connection (default 16)\n"
	"  --duration S         measured seconds (default 5)\n"
	"  --requests N         measure N requests instead of a duration\n"
	"  --warmup S           seconds of load before measuring (default 1)\n"
	"  --workload W         put | get (range) | mixed | txn-put | lease-keepalive |\n"
	"                       watch-latency (default put):\n"
	"                         put: Put of a random key; get: Range of one random key\n"
	"                         (every key put first); mixed: gets and puts;\n"
	"                         txn-put: Txn of --txn-ops puts; lease-keepalive: each\n"
	"                         stream grants a lease (TTL 100 s) first, then each call is\n"
	"                         one LeaseKeepAlive stream with one request and one answer\n"
	"                         (clientv3's KeepAliveOnce); watch-latency: --conns x\n"
	"                         --streams Watch streams of --watchers watchers each on one\n"
	"                         key, one more connection puts that key, one put at a time,\n"
	"                         one thread serving every connection (at most 63 --conns);\n"
	"                         latency: from sending a put to receiving its event, per\n"
	"                         watcher; req/s counts events\n"
	"  --txn-ops N          txn-put: puts per transaction (default 1)\n"
	"  --watchers N         watch-latency: watchers per stream (default 1)\n"
	"  --put-rate R         watch-latency: puts per second; 0 (default): the next put as\n"
	"                       soon as every watcher got the previous one's event\n"
	"  --get-percent P      share of gets in mixed (default 90)\n"
	"  --keys N             key space size (default 10000; get/mixed put each key first)\n"
	"  --value-size B       value bytes of each put (default 256)\n"
	"  --key-prefix S       key prefix (default bench/)\n"
	"  --serializable       serializable gets (default: linearizable, as etcdctl)\n"
	"  --verify             decode every response: a put or txn has a revision (a txn\n"
	"                       succeeded with one put answer per put), a get finds its key\n"
	"                       with a value of --value-size bytes, a keep-alive names its\n"
	"                       lease with a TTL > 0 (else: non-OK); watch-latency always\n"
	"                       checks that each watcher gets every put's event once, in\n"
	"                       order, with its key and value\n"
	"  --phase-pid PID      with --phase-sem: while measuring, switch the batch probe of\n"
	"                       the store PID (an agent attached) off and on in phases of\n"
	"                       --phase-ms, writing the semaphore as detaching would; print\n"
	"                       each phase's calls and the store's CPU time (schedstat)\n"
	"  --phase-sem ADDR     the address of ms_probe_batch_semaphore in PID (hex)\n"
	"  --phase-ctl SOCKET   instead of --phase-sem, for a target with no semaphore (a Go\n"
	"                       etcd): a probe switcher (build/bench/go_toggle) listening on\n"
	"                       the Unix socket SOCKET detaches and re-attaches the agent's\n"
	"                       uprobes on each switch; a phase starts once the switch is\n"
	"                       answered (its time is in no phase); each phase line also\n"
	"                       has the uprobe hits counted in it and the switch's ns\n"
	"  --phase-ms MS        phase length (default 20)\n"
	"  --window-pid PID     while measuring, print the calls finished and the CPU time of\n"
	"                       process PID (schedstat) in each window of --window-ms that\n"
	"                       starts on a multiple of its length on CLOCK_MONOTONIC, so two\n"
	"                       load generators started together have the same windows\n"
	"                       (\"window: W calls=N cpu_ns=N\"; nothing is switched)\n"
	"  --window-ms MS       window length (default 1000)\n"
	"  --help               this text\n";

static const char *const workload_names[] = {
	[LG_PUT] = "put",
	[LG_GET] = "get",
	[LG_MIXED] = "mixed",
	[LG_TXN_PUT] = "txn-put",
	[LG_LEASE_KEEPALIVE] = "lease-keepalive",
	[LG_WATCH_LATENCY] = "watch-latency",
};

const char *lg_workload_name(enum lg_workload w)
{
	return (unsigned)w < sizeof(workload_names) / sizeof(workload_names[0]) ? workload_names[w]
										   : "?";
}

static int parse_workload(const char *s, enum lg_workload *out)
{
	for (unsigned i = 0; i < sizeof(workload_names) / sizeof(workload_names[0]); i++) {
		if (strcmp(s, workload_names[i]) == 0) {
			*out = (enum lg_workload)i;
			return 0;
		}
	}
	if (strcmp(s, "range") == 0) {
		*out = LG_GET;
		return 0;
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	uint64_t v;
	int err = parse_u64(s, min, max, &v);

	if (!err)
		*out = (unsigned)v;
	return err;
}

/* A number in [0, max]. */
static int parse_real(const char *s, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0) || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_endpoint(struct lg_opts *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(o->host) ||
	    parse_u64(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memcpy(o->host, s, (size_t)(colon - s));
	o->host[colon - s] = '\0';
	o->port = (uint16_t)port;
	return 0;
}

static int parse_one(struct lg_opts *o, int c, const char *arg)
{
	int err;

	switch (c) {
	case 'e':
		return parse_endpoint(o, arg);
	case 'c':
		return parse_uint(arg, 1, 1024, &o->conns);
	case 's':
		return parse_uint(arg, 1, 4096, &o->streams);
	case 'd':
		o->requests = 0;
		err = parse_real(arg, 86400, &o->duration_s);
		return err ? err : o->duration_s > 0 ? 0 : -EINVAL;
	case 'n':
		o->duration_s = 0;
		return parse_u64(arg, 1, UINT64_MAX / 2, &o->requests);
	case 'w':
		return parse_real(arg, 86400, &o->warmup_s);
	case 'W':
		return parse_workload(arg, &o->workload);
	case 't':
		return parse_uint(arg, 1, 128, &o->txn_ops);
	case 'a':
		return parse_uint(arg, 1, 1000, &o->watchers);
	case 'r':
		return parse_real(arg, 1e7, &o->put_rate);
	case 'g':
		return parse_uint(arg, 0, 100, &o->get_percent);
	case 'k':
		return parse_uint(arg, 1, 100000000, &o->keys);
	case 'v':
		return parse_uint(arg, 0, 1024 * 1024, &o->value_size);
	case 'p':
		if (strlen(arg) >= sizeof(o->prefix))
			return -EINVAL;
		strcpy(o->prefix, arg);
		return 0;
	case 'S':
		o->serializable = true;
		return 0;
	case 'V':
		o->verify = true;
		return 0;
	case 'P':
		return parse_uint(arg, 1, 1u << 30, (unsigned *)&o->phase_pid);
	case 'A': {
		char *end;

		errno = 0;
		o->phase_sem = strtoull(arg, &end, 16);
		return errno || end == arg || *end || !o->phase_sem ? -EINVAL : 0;
	}
	case 'M':
		return parse_uint(arg, 1, 10000, &o->phase_ms);
	case 'I':
		return parse_uint(arg, 1, 1u << 30, (unsigned *)&o->window_pid);
	case 'N':
		return parse_uint(arg, 1, 60000, &o->window_ms);
	case 'C':
		if (!*arg || strlen(arg) >= sizeof(o->phase_ctl))
			return -EINVAL;
		strcpy(o->phase_ctl, arg);
		return 0;
	default:
		return -EINVAL;
	}
}

int lg_opts_parse(struct lg_opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "conns", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "workload", required_argument, NULL, 'W' },
		{ "get-percent", required_argument, NULL, 'g' },
		{ "keys", required_argument, NULL, 'k' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "key-prefix", required_argument, NULL, 'p' },
		{ "serializable", no_argument, NULL, 'S' },
		{ "verify", no_argument, NULL, 'V' },
		{ "txn-ops", required_argument, NULL, 't' },
		{ "watchers", required_argument, NULL, 'a' },
		{ "put-rate", required_argument, NULL, 'r' },
		{ "phase-pid", required_argument, NULL, 'P' },
		{ "phase-sem", required_argument, NULL, 'A' },
		{ "phase-ms", required_argument, NULL, 'M' },
		{ "phase-ctl", required_argument, NULL, 'C' },
		{ "window-pid", required_argument, NULL, 'I' },
		{ "window-ms", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx, switches;

	memset(o, 0, sizeof(*o));
	strcpy(o->host, "127.0.0.1");
	o->port = 2379;
	o->conns = 4;
	o->streams = 16;
	o->duration_s = 5;
	o->warmup_s = 1;
	o->workload = LG_PUT;
	o->get_percent = 90;
	o->keys = 10000;
	o->value_size = 256;
	o->txn_ops = 1;
	o->watchers = 1;
	strcpy(o->prefix, "bench/");
	o->phase_ms = 20;
	o->window_ms = 1000;
	opterr = 0;
	while ((idx = -1, c = getopt_long(argc, argv, "", longs, &idx)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (c == '?' || parse_one(o, c, optarg)) {
			fprintf(stderr, "loadgen: bad option or value: %s%s%s%s (see --help)\n",
				idx >= 0 ? "--" : "", idx >= 0 ? longs[idx].name : argv[optind - 1],
				optarg ? " " : "", optarg ? optarg : "");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	switches = (o->phase_sem != 0) + (o->phase_ctl[0] != '\0');
	if ((o->phase_pid ? switches != 1 : switches != 0) ||
	    (o->phase_pid && (o->duration_s <= 0 || o->workload == LG_WATCH_LATENCY))) {
		fprintf(stderr, "loadgen: --phase-pid goes with one of --phase-sem and --phase-ctl, "
				"with --duration and a workload other than watch-latency\n");
		return -EINVAL;
	}
	if (o->window_pid && (o->phase_pid || o->duration_s <= 0 ||
			      o->workload == LG_WATCH_LATENCY)) {
		fprintf(stderr, "loadgen: --window-pid goes with --duration, a workload other than "
				"watch-latency and no --phase-pid\n");
		return -EINVAL;
	}
	return 0;
}
