/* Benchmark: nanoseconds per uprobe hit on each kind of Go probe site the agent uses, side by side. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "go_sites.h"
#include "gopclntab.h"
#include "probe_cost.skel.h"

enum site { S_BASE, S_ENTRY, S_JBE, S_CALL, S_AFTER, S_COUNT };

static const char *const site_names[S_COUNT] = {
	[S_BASE] = "(a) no probe (baseline)",
	[S_ENTRY] = "(b) function entry: cmp 0x10(%r14),%rsp (int3 + single step)",
	[S_JBE] = "(c) stack-check jbe (emulated): grpc, mvcc, raft, watch sites",
	[S_CALL] = "(d) call instruction (emulated): storage begin, lease sites",
	[S_AFTER] = "(e) instruction after a call (int3 + single step): storage end, compaction",
};

#define ROUNDS 5
#define CALLS 200000

/* Runs the Go program for `n` calls; returns its ns per call, or a negative value. */
static double run_loop(const char *prog, long n)
{
	char cmd[4200], line[64] = "";
	double ns = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %ld", prog, n);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(line, sizeof(line), p))
		ns = strtod(line, NULL);
	if (pclose(p) != 0)
		return -1;
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct probe_cost_bpf *skel = NULL;
	struct gopclntab_func fn;
	struct go_call_site cs;
	struct gopclntab *t = NULL;
	struct go_site jbe;
	uint64_t off[S_COUNT] = { 0 };
	double ns[S_COUNT][ROUNDS];
	char err[256];
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s GO_PROBE_LOOP_BINARY\n", argv[0]);
		return 2;
	}
	if (gopclntab_open(argv[1], &t) || gopclntab_lookup(t, "main.work", &fn) ||
	    gopclntab_file_offset(t, fn.entry, &off[S_ENTRY]) ||
	    go_site_stack_check(t, "main.work", &jbe, err, sizeof(err)) ||
	    go_site_calls(t, "main.loop", "main.work", &cs, 1, err, sizeof(err))) {
		fprintf(stderr, "%s: probe sites not found: %s\n", argv[1], err);
		goto cleanup;
	}
	off[S_JBE] = jbe.offset;
	off[S_CALL] = cs.call.offset;
	off[S_AFTER] = cs.after.offset;
	skel = probe_cost_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "cannot load the bench BPF object (root and BTF needed)\n");
		goto cleanup;
	}
	/* Rounds rotate through the sites so drift on a shared machine hits all alike. */
	for (int r = 0; r < ROUNDS; r++) {
		for (int s = 0; s < S_COUNT; s++) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = (uint64_t)s);
			struct bpf_link *link = NULL;

			if (s != S_BASE) {
				link = bpf_program__attach_uprobe_opts(skel->progs.bench_entry, -1,
								       argv[1], off[s], &uo);
				if (!link) {
					fprintf(stderr, "cannot attach at %#llx: %s\n",
						(unsigned long long)off[s], strerror(errno));
					goto cleanup;
				}
			}
			ns[s][r] = run_loop(argv[1], CALLS);
			bpf_link__destroy(link);
			if (ns[s][r] < 0) {
				fprintf(stderr, "%s failed\n", argv[1]);
				goto cleanup;
			}
		}
	}
	printf("| Go probe site (one hit per call, %d calls, median of %d) | ns per call | added ns per hit |\n",
	       CALLS, ROUNDS);
	printf("|---|---|---|\n");
	for (int s = 0; s < S_COUNT; s++)
		qsort(ns[s], ROUNDS, sizeof(double), cmp_double);
	for (int s = 0; s < S_COUNT; s++) {
		double med = ns[s][ROUNDS / 2], base = ns[S_BASE][ROUNDS / 2];

		if (s == S_BASE)
			printf("| %s | %.1f | |\n", site_names[s], med);
		else
			printf("| %s | %.1f | %.0f |\n", site_names[s], med, med - base);
	}
	rc = 0;
cleanup:
	probe_cost_bpf__destroy(skel);
	gopclntab_free(t);
	return rc;
}
