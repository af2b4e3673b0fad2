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
	"Drives an etcd v3 gRPC endpoint (KV Put / Range over cleartext HTTP/2) and prints\n"
	"throughput, latency percentiles and the count of non-OK responses.\n"
	"\n"
	"  --endpoint IP:PORT   server (default 127.0.0.1:2379)\n"
	"  --conns N            HTTP/2 connections, one thread each (default 4)\n"
	"  --streams N          concurrent calls per connection (default 16)\n"
	"  --duration S         measured seconds (default 5)\n"
	"  --requests N         measure N requests instead of a duration\n"
	"  --warmup S           seconds of load before measuring (default 1)\n"
	"  --workload W         put | get | mixed (default put)\n"
	"  --get-percent P      share of gets in mixed (default 90)\n"
	"  --keys N             key space size (default 10000; get/mixed put each key first)\n"
	"  --value-size B       value bytes of each put (default 256)\n"
	"  --key-prefix S       key prefix (default bench/)\n"
	"  --serializable       serializable gets (default: linearizable, as etcdctl)\n"
	"  --verify             decode every response: a put has a revision, a get finds its\n"
	"                       key with a value of --value-size bytes (else: non-OK)\n"
	"  --help               this text\n";

const char *lg_workload_name(enum lg_workload w)
{
	return w == LG_PUT ? "put" : w == LG_GET ? "get" : "mixed";
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

static int parse_secs(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0) || v > 86400)
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
	uint64_t v = 0;
	int err = 0;

	switch (c) {
	case 'e':
		return parse_endpoint(o, arg);
	case 'c':
		err = parse_u64(arg, 1, 1024, &v);
		o->conns = (unsigned)v;
		return err;
	case 's':
		err = parse_u64(arg, 1, 4096, &v);
		o->streams = (unsigned)v;
		return err;
	case 'd':
		o->requests = 0;
		err = parse_secs(arg, &o->duration_s);
		return err ? err : o->duration_s > 0 ? 0 : -EINVAL;
	case 'n':
		o->duration_s = 0;
		return parse_u64(arg, 1, UINT64_MAX / 2, &o->requests);
	case 'w':
		return parse_secs(arg, &o->warmup_s);
	case 'W':
		if (strcmp(arg, "put") == 0)
			o->workload = LG_PUT;
		else if (strcmp(arg, "get") == 0)
			o->workload = LG_GET;
		else if (strcmp(arg, "mixed") == 0)
			o->workload = LG_MIXED;
		else
			return -EINVAL;
		return 0;
	case 'g':
		err = parse_u64(arg, 0, 100, &v);
		o->get_percent = (unsigned)v;
		return err;
	case 'k':
		err = parse_u64(arg, 1, 100000000, &v);
		o->keys = (unsigned)v;
		return err;
	case 'v':
		err = parse_u64(arg, 0, 1024 * 1024, &v);
		o->value_size = (unsigned)v;
		return err;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx;

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
	strcpy(o->prefix, "bench/");
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
	return 0;
}
