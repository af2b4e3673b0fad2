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

enum site { S_BASE, S_JBE, S_CALL, S_NOP1_BASE, S_NOP1, S_NOP5_BASE, S_NOP5, S_ENTRY, S_AFTER,
	    S_COUNT };

static const struct {
	const char *name;
	const char *loop;  /* probe_loop's loop */
	enum site base;    /* the same loop unprobed */
} sites[S_COUNT] = {
	[S_BASE] = { "(a) Go loop, no probe (baseline of b, c, f, g)", "go", S_BASE },
	[S_JBE] = { "(b) stack-check jbe (emulated): member, grpc, mvcc and raft tick, watch sites; "
		    "a jcc as the WAL fsync's jle", "go", S_BASE },
	[S_CALL] = { "(c) call instruction (emulated): the backend commit's begin, lease sites", "go",
		     S_BASE },
	[S_NOP1_BASE] = { "(d0) nop loop, no probe (baseline of d)", "nop1", S_NOP1_BASE },
	[S_NOP1] = { "(d) 1-byte nop (emulated; no agent site)", "nop1", S_NOP1_BASE },
	[S_NOP5_BASE] = { "(e0) nop5 loop, no probe (baseline of e)", "nop5", S_NOP5_BASE },
	[S_NOP5] = { "(e) 5-byte nop (optimized trampoline): the backend commit's end", "nop5",
		     S_NOP5_BASE },
	[S_ENTRY] = { "(f) function entry: cmp 0x10(%r14),%rsp (int3 + single step; no agent site)",
		      "go", S_BASE },
	[S_AFTER] = { "(g) return address of a call (int3 + single step; no agent site)", "go",
		      S_BASE },
};

#define ROUNDS 5
#define CALLS 200000

/* Runs loop `loop` of the Go program for `n` iterations; returns its ns per iteration, or
 * a negative value. */
static double run_loop(const char *prog, const char *loop, long n)
{
	char cmd[4200], line[64] = "";
	double ns = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %ld %s", prog, n, loop);
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

/* The file offset of the nop at offset 5 of the assembly loop `func` (nops_amd64.s), after
 * checking it is the nop `want` of `len` bytes. */
static int nop_site(const struct gopclntab *t, const char *func, const uint8_t *want, size_t len,
		    uint64_t *off)
{
	struct gopclntab_func f;
	uint8_t code[8];

	if (gopclntab_lookup(t, func, &f) || gopclntab_read_code(t, f.entry + 5, code, len) ||
	    memcmp(code, want, len) != 0)
		return -ENOEXEC;
	return gopclntab_file_offset(t, f.entry + 5, off);
}

int main(int argc, char **argv)
{
	static const uint8_t nop1[] = { 0x90 }, nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	struct probe_cost_bpf *skel = NULL;
	struct gopclntab_func fn;
	struct go_call_site cs;
	struct gopclntab *t = NULL;
	struct go_site jbe;
	uint64_t off[S_COUNT] = { 0 };
	double ns[S_COUNT][ROUNDS];
	char err[256] = "";
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s GO_PROBE_LOOP_BINARY\n", argv[0]);
		return 2;
	}
	if (gopclntab_open(argv[1], &t) || gopclntab_lookup(t, "main.work", &fn) ||
	    gopclntab_file_offset(t, fn.entry, &off[S_ENTRY]) ||
	    go_site_stack_check(t, "main.work", &jbe, err, sizeof(err)) ||
	    go_site_calls(t, "main.loop", "main.work", &cs, 1, err, sizeof(err)) ||
	    nop_site(t, "main.nop1Loop", nop1, sizeof(nop1), &off[S_NOP1]) ||
	    nop_site(t, "main.nop5Loop", nop5, sizeof(nop5), &off[S_NOP5])) {
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

			if ((int)sites[s].base != s) {
				link = bpf_program__attach_uprobe_opts(skel->progs.bench_entry, -1,
								       argv[1], off[s], &uo);
				if (!link) {
					fprintf(stderr, "cannot attach at %#llx: %s\n",
						(unsigned long long)off[s], strerror(errno));
					goto cleanup;
				}
			}
			ns[s][r] = run_loop(argv[1], sites[s].loop, CALLS);
			bpf_link__destroy(link);
			if (ns[s][r] < 0) {
				fprintf(stderr, "%s failed\n", argv[1]);
				goto cleanup;
			}
		}
	}
	printf("| Go probe site (one hit per iteration, %d iterations, median of %d) | ns per iteration | added ns per hit |\n",
	       CALLS, ROUNDS);
	printf("|---|---|---|\n");
	for (int s = 0; s < S_COUNT; s++)
		qsort(ns[s], ROUNDS, sizeof(double), cmp_double);
	for (int s = 0; s < S_COUNT; s++) {
		double med = ns[s][ROUNDS / 2], base = ns[sites[s].base][ROUNDS / 2];

		if ((int)sites[s].base == s)
			printf("| %s | %.1f | |\n", sites[s].name, med);
		else
			printf("| %s | %.1f | %.0f |\n", sites[s].name, med, med - base);
	}
	rc = 0;
cleanup:
	probe_cost_bpf__destroy(skel);
	gopclntab_free(t);
	return rc;
}
