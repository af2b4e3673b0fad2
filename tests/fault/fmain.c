/* Fault suite: runs the workloads and the nemesis against a 3-member cluster, then checks. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fcluster.h"
#include "fcheck.h"
#include "flease.h"
#include "fnemesis.h"
#include "fwatch.h"
#include "fwgl.h"
#include "fwork.h"
#include "fverify.h"

#define WRITERS 3
#define REG_CLIENTS 4
#define WATCHERS 2

static struct fcl_cluster cluster;

/* SIGTERM/SIGINT: end the members we started (by pid) before going. */
static void on_signal(int sig)
{
	for (int i = 0; i < FAULT_MEMBERS; i++)
		if (cluster.m[i].pid > 0) {
			kill(cluster.m[i].pid, SIGCONT);
			kill(cluster.m[i].pid, SIGKILL);
		}
	signal(sig, SIG_DFL);
	raise(sig);
}

struct opts {
	enum fcl_kind kind;
	const char *bin, *dir, *netns;
	uint16_t port_base;
	int duration;
	uint64_t seed;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "target", 1, NULL, 't' }, { "bin", 1, NULL, 'b' },	  { "dir", 1, NULL, 'd' },
		{ "netns", 1, NULL, 'n' },  { "port-base", 1, NULL, 'p' }, { "duration", 1, NULL, 'D' },
		{ "seed", 1, NULL, 's' },   { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .kind = FCL_METASTORE, .port_base = 23790, .duration = 120 };
	o->seed = (uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid();
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "etcd") && strcmp(optarg, "metastore"))
				return -EINVAL;
			o->kind = strcmp(optarg, "etcd") ? FCL_METASTORE : FCL_ETCD;
			break;
		case 'b': o->bin = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'n': o->netns = optarg; break;
		case 'p': o->port_base = (uint16_t)atoi(optarg); break;
		case 'D': o->duration = atoi(optarg); break;
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		default: return -EINVAL;
		}
	}
	if (!o->bin || !o->dir || o->duration <= 0 || !o->seed)
		return -EINVAL;
	return 0;
}

/* Starts the clients and the nemesis, waits for the faults to end, stops the writers and
 * verifies. Returns 0, or -errno when a thread could not be started. */
static int run_all(struct fault_run *run, int duration)
{
	static struct fwork_client writers[WRITERS], regs[REG_CLIENTS];
	static struct fwatch watchers[WATCHERS];
	static struct flease leases;
	static struct fnem nem;
	int err = 0;

	if (flease_start(&leases, run, 10000)) {
		fault_anomaly(run, "setup writes (kept leases) not acknowledged in 10 s");
		goto cleanup;
	}
	for (int i = 0; !err && i < WRITERS; i++) {
		fwork_client_init(&writers[i], run, 1 + i);
		err = -pthread_create(&writers[i].th, NULL, fwork_writer, &writers[i]);
	}
	for (int i = 0; !err && i < REG_CLIENTS; i++) {
		fwork_client_init(&regs[i], run, 11 + i);
		err = -pthread_create(&regs[i].th, NULL, fwork_register, &regs[i]);
	}
	for (int i = 0; !err && i < WATCHERS; i++)
		err = fwatch_start(&watchers[i], run, 31 + i);
	if (!err)
		err = fnem_start(&nem, run, duration);
	if (err)
		goto cleanup; /* the process ends; its threads with it */
	fnem_join(&nem);
	fault_log(run, "faults over; stopping the writers");
	atomic_store(&run->stop_work, true);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(writers[i].th, NULL);
	for (int i = 0; i < REG_CLIENTS; i++)
		pthread_join(regs[i].th, NULL);
	fverify_all(run, &nem, &leases, watchers, WATCHERS);
cleanup:
	return err;
}

int main(int argc, char **argv)
{
	static struct fault_run run;
	struct opts o;
	int leader, rc = 2, err;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: fault --target etcd|metastore --bin PATH --dir DIR "
				"[--netns PREFIX] [--port-base N] [--duration S] [--seed N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	run.seed = o.seed;
	run.t0 = fault_now();
	run.cl = &cluster;
	pthread_mutex_init(&run.mu, NULL);
	run.puts.elem = sizeof(struct fault_put);
	run.revs.elem = sizeof(struct fault_rev);
	run.regs.elem = sizeof(struct fwgl_op);
	printf("seed %" PRIu64 "\n", o.seed);
	fault_log(&run, "target %s (%s), %s, faults for %d s", o.kind == FCL_ETCD ? "etcd" : "metastore",
		  o.bin, o.netns ? "members in network namespaces" : "members on 127.0.0.1 (no partitions)",
		  o.duration);
	err = fcl_init(&cluster, &run, o.kind, o.bin, o.dir, o.netns, o.port_base);
	for (int i = 0; !err && i < FAULT_MEMBERS; i++)
		err = fcl_start(&cluster, i);
	if (err) {
		fprintf(stderr, "fault: cannot start the cluster: %s\n", strerror(-err));
		goto cleanup;
	}
	leader = fcl_leader(&cluster, 30000, -1);
	if (leader < 0) {
		fault_anomaly(&run, "no leader within 30 s of starting the cluster");
	} else {
		fault_log(&run, "leader %s", cluster.m[leader].name);
		err = run_all(&run, o.duration);
		if (err) {
			fprintf(stderr, "fault: cannot start a thread: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	rc = -1; /* a complete run: the summary line decides */
cleanup:
	fcl_stop_all(&cluster);
	if (rc < 0) {
		printf("%" PRIu64 " ops, %" PRIu64 " faults, %" PRIu64 " anomalies\n",
		       (uint64_t)atomic_load(&run.ops), (uint64_t)atomic_load(&run.faults),
		       (uint64_t)atomic_load(&run.anomalies));
		rc = atomic_load(&run.anomalies) ? 1 : 0;
	}
	return rc;
}
