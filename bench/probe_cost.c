/* Benchmark: nanoseconds per uprobe hit for each probe kind the agent can use, side by side. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buckets.h"
#include "loader.h"
#include "mapread.h"
#include "ms_maps.h"
#include "probe_cost.skel.h"
#include "probe/clock.h"

/*
 * The probed functions are written in assembly so their first instruction is exactly the
 * one each probe kind needs, whatever the compiler flags: a 5-byte NOP (the probe contract's
 * entry, the kernel's optimized path), `push %rbp` (the usual gcc prologue) and
 * `mov %rdi,%rax` (an ordinary instruction). The batch probe of the probe contract is
 * emitted the same way metastore/probe/probes.c compiles it, with its semaphore, so the agent's
 * own loader and BPF programs attach to this binary.
 */
#define NOP5_FN(name)                                                                      \
	".globl " #name "\n.type " #name ",@function\n" #name ":\n"                         \
	".byte 0x0f,0x1f,0x44,0x00,0x00\nret\n.size " #name ", .-" #name "\n"
__asm__(".text\n" NOP5_FN(bench_fn_bare) NOP5_FN(bench_fn_nop5) NOP5_FN(bench_fn_ret)
		NOP5_FN(ms_probe_batch) NOP5_FN(ms_probe_raft_status)
	".globl bench_fn_push\n.type bench_fn_push,@function\nbench_fn_push:\n"
	"push %rbp\nmov %rsp,%rbp\npop %rbp\nret\n.size bench_fn_push, .-bench_fn_push\n"
	".globl bench_fn_mov\n.type bench_fn_mov,@function\nbench_fn_mov:\n"
	"mov %rdi,%rax\nret\n.size bench_fn_mov, .-bench_fn_mov\n");

void bench_fn_bare(void);
void bench_fn_nop5(void);
void bench_fn_ret(void);
void bench_fn_push(void);
void bench_fn_mov(void);

struct ms_probe_limits ms_probe_limits_info;

/* Where the kernel finds the batch probe's reference counter: see metastore/probe/probes.c. */
__attribute__((section(".probes"), used)) volatile uint16_t ms_probe_batch_semaphore;

enum kind { K_BASE, K_NOP5, K_PUSH, K_MOV, K_RET, K_AGENT1, K_AGENT8, K_AGENT32, K_AGENT128, K_COUNT };

struct kind_desc {
	const char *name;
	const char *site; /* first instruction of the probed function */
	void (*fn)(void); /* NULL: gRPC calls through the agent's grpc batch probe */
	unsigned batch;   /* agent: calls per batch (one hit); else 0 (one hit per call) */
};

static const struct kind_desc kinds[K_COUNT] = {
	[K_BASE] = { "(a) no probe (baseline)", "nop5", bench_fn_bare, 0 },
	[K_NOP5] = { "(b) entry uprobe on nop5 (optimized)", "nop5", bench_fn_nop5, 0 },
	[K_PUSH] = { "(c) entry uprobe on push %rbp (int3)", "push %rbp", bench_fn_push, 0 },
	[K_MOV] = { "(c') entry uprobe on mov %rdi,%rax (int3)", "mov", bench_fn_mov, 0 },
	[K_RET] = { "(d) uretprobe on nop5 function", "nop5", bench_fn_ret, 0 },
	[K_AGENT1] = { "(e1) agent grpc batch, 1 call per batch", "nop5", NULL, 1 },
	[K_AGENT8] = { "(e8) agent grpc batch, 8 calls per batch", "nop5", NULL, 8 },
	[K_AGENT32] = { "(e32) agent grpc batch, 32 calls per batch", "nop5", NULL, 32 },
	[K_AGENT128] = { "(e128) agent grpc batch, 128 calls per batch", "nop5", NULL, 128 },
};

/* Probe hits per call of kind k: 0 for the baseline, 1/batch for the agent. */
static double hits_per_call(enum kind k)
{
	if (k == K_BASE)
		return 0;
	return kinds[k].batch ? 1.0 / kinds[k].batch : 1.0;
}

/* Each timed run lasts about this long, so every kind gets a comparable sample. */
#define TARGET_NS 20000000.0
#define MAX_ROUNDS 101

struct bench {
	struct probe_cost_bpf *skel;
	struct bpf_link *links[K_COUNT];
	struct loader *agent;
	uint64_t iters[K_COUNT];
	uint64_t calls[K_COUNT]; /* every call made, warm-up included */
	uint64_t next_req;
	double ns[K_COUNT][MAX_ROUNDS];
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * `n` gRPC calls as the store makes them while the batch probe is attached (metastore/probe/
 * trace.h): a begin count and one end record each, with the store's own two timestamps, and
 * one probe hit per `batch` calls. n is a multiple of batch.
 */
static struct ms_probe_batch batch_buf;

static void run_agent(struct bench *b, unsigned batch, uint64_t n)
{
	struct ms_probe_rec *recs = batch_buf.rec[MS_BATCH_GRPC];

	for (uint64_t i = 0; i < n; i += batch) {
		uint32_t nr = 0;

		for (unsigned c = 0; c < batch; c++, b->next_req++) {
			uint64_t t0 = ms_clock_now();

			if (t0 <= batch_buf.window_ns)
				t0 = batch_buf.window_ns + 1;
			batch_buf.grpc_begun[MS_METHOD_KV_PUT]++;
			recs[nr++] = (struct ms_probe_rec){ .kind = MS_REC_GRPC_END,
							    .id = b->next_req, .t_ns = ms_clock_now(),
							    .val = t0, .a = MS_METHOD_KV_PUT,
							    .b = MS_GRPC_OK };
		}
		batch_buf.n[MS_BATCH_GRPC] = nr;
		ms_probe_batch(&batch_buf);
		batch_buf.grpc_begun[MS_METHOD_KV_PUT] = 0;
		batch_buf.window_ns = ms_clock_now();
	}
}

/* Runs `n` calls of kind k; returns ns per call. */
static double run_kind(struct bench *b, enum kind k, uint64_t n)
{
	double t0;

	if (kinds[k].batch)
		n -= n % kinds[k].batch;
	t0 = now_ns();
	if (kinds[k].fn) {
		void (*fn)(void) = kinds[k].fn;

		for (uint64_t i = 0; i < n; i++)
			fn();
	} else {
		run_agent(b, kinds[k].batch, n);
	}
	b->calls[k] += n;
	return (now_ns() - t0) / (double)n;
}

static int attach_one(struct bench *b, enum kind k, struct bpf_program *prog, const char *self,
		      const char *func, int retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .bpf_cookie = k,
		    .retprobe = retprobe != 0);

	b->links[k] = bpf_program__attach_uprobe_opts(prog, getpid(), self, 0, &uo);
	return b->links[k] ? 0 : -errno;
}

static int bench_setup(struct bench *b, const char *self, char *eb, size_t el)
{
	uint64_t bounds[MS_MAX_BUCKETS];
	struct loader_opts lo = { .binary = self, .pid = getpid(), .subsys_mask = 1u << SUBSYS_GRPC,
				  .bounds_ns = bounds };
	struct bpf_program *entry, *ret;
	int err;

	b->skel = probe_cost_bpf__open_and_load();
	if (!b->skel) {
		err = errno ? -errno : -ENOMEM;
		snprintf(eb, el, "cannot load bench BPF object: %s", strerror(-err));
		return err;
	}
	entry = b->skel->progs.bench_entry;
	ret = b->skel->progs.bench_return;
	err = attach_one(b, K_NOP5, entry, self, "bench_fn_nop5", 0);
	if (!err)
		err = attach_one(b, K_PUSH, entry, self, "bench_fn_push", 0);
	if (!err)
		err = attach_one(b, K_MOV, entry, self, "bench_fn_mov", 0);
	if (!err)
		err = attach_one(b, K_RET, ret, self, "bench_fn_ret", 1);
	if (err) {
		snprintf(eb, el, "cannot attach bench uprobes: %s", strerror(-err));
		return err;
	}
	/* The agent exactly as it runs: default buckets, grpc subsystem, this process. */
	lo.nr_bounds = buckets_default(bounds, MS_MAX_BUCKETS);
	return loader_new(&lo, &b->agent, eb, el);
}

static void bench_teardown(struct bench *b)
{
	loader_free(b->agent);
	for (int k = 0; k < K_COUNT; k++)
		bpf_link__destroy(b->links[k]);
	probe_cost_bpf__destroy(b->skel);
}

/* Sums entries [0, nr) of a per-CPU u64 array over CPUs. */
static int read_sum(int fd, uint32_t nr, uint32_t words, uint64_t *out)
{
	struct mapread *r = NULL;
	int err = fd < 0 ? fd : mapread_new(&r);

	if (!err)
		err = mapread_percpu_sum(r, fd, nr, words, out);
	mapread_free(r);
	return err;
}

/* Hits recorded in the BPF maps for each kind (probe hits per call times calls expected). */
static int read_hits(struct bench *b, uint64_t hits[K_COUNT])
{
	struct bpf_object *gobj = loader_object(b->agent, SUBSYS_GRPC);
	uint64_t slots[8], agent[MS_MAX_PROBES];
	int err;

	err = read_sum(bpf_map__fd(b->skel->maps.bench_hits), 8, 1, slots);
	if (!err)
		err = read_sum(bpf_object__find_map_fd_by_name(gobj, "probe_hits"), MS_MAX_PROBES, 1,
			       agent);
	if (err)
		return err;
	/* the counting program's slots are the kinds before the agent's */
	for (int k = 0; k < K_AGENT1; k++)
		hits[k] = slots[k];
	/* the agent kinds share one probe: their hits are checked together */
	hits[K_AGENT1] = agent[subsys_probe_index(SUBSYS_GRPC, 0)];
	return 0;
}

/* Timed pairs that the agent's histogram recorded: must equal the pairs made. */
static int read_agent_observations(struct bench *b, uint64_t *count)
{
	const size_t words = sizeof(struct ms_hist) / sizeof(uint64_t);
	struct bpf_object *gobj = loader_object(b->agent, SUBSYS_GRPC);
	uint64_t *v = calloc((size_t)MS_GRPC_SERIES * words, sizeof(uint64_t));
	int err;

	if (!v)
		return -ENOMEM;
	err = read_sum(bpf_object__find_map_fd_by_name(gobj, "grpc_hist"), MS_GRPC_SERIES, words, v);
	if (!err)
		*count = ((const struct ms_hist *)(v + (size_t)(MS_METHOD_KV_PUT * MS_GRPC_CODE_COUNT +
								  MS_GRPC_OK) * words))->count;
	free(v);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *lo, double *hi)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	*lo = s[0];
	*hi = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Warm-up (the kernel optimizes a nop5 probe after its first hit) and per-kind calibration. */
static void calibrate(struct bench *b)
{
	for (int k = 0; k < K_COUNT; k++) {
		double ns;

		run_kind(b, k, 200);
		ns = run_kind(b, k, 2000);
		b->iters[k] = (uint64_t)(TARGET_NS / (ns > 0.1 ? ns : 0.1));
		if (b->iters[k] < 1000)
			b->iters[k] = 1000;
		if (b->iters[k] > 50000000)
			b->iters[k] = 50000000;
	}
}

/* Rounds A/B/C/...: every kind once per round, the starting kind rotating each round. */
static void measure(struct bench *b, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < K_COUNT; i++) {
			int k = (r + i) % K_COUNT;

			b->ns[k][r] = run_kind(b, k, b->iters[k]);
		}
	}
}

/* Whether the kernel rewrote a nop5 probe into a trampoline call (the optimized path). */
static int trampoline_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "[uprobes-trampoline]") != NULL;
	if (f)
		fclose(f);
	return found;
}

static int cmp_dbl(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return (a > c) - (a < c);
}

/* ns per timestamp: clock_gettime(CLOCK_MONOTONIC) (tsc 0), or the store's event clock
 * (metastore/probe/clock.h: through the TSC between anchors). Median of `rounds` runs of
 * 200,000 reads. */
static double clock_read_ns(int rounds, int tsc)
{
	double v[MAX_ROUNDS];
	volatile uint64_t sink = 0;

	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();

		for (int i = 0; i < 200000; i++)
			sink += tsc ? ms_clock_now() : mono_ns();
		v[r] = (now_ns() - t0) / 200000;
	}
	(void)sink;
	qsort(v, (size_t)rounds, sizeof(v[0]), cmp_dbl);
	return v[rounds / 2];
}

/*
 * ns a timestamp adds amid memory-bound work: iterations of LOADS_PER_ITER independent
 * random loads from a table far past the caches, with and without one read of the clock
 * (the store's event clock, or clock_gettime when tsc is 0) per iteration; the difference of
 * the medians of `rounds` interleaved runs. A read costs more with loads in flight before
 * it, which a tight loop of reads (clock_read_ns) never has, and a store call's own work
 * does. Returns 0, or -ENOMEM when the table cannot be had.
 */
#define TABLE_WORDS (1u << 22) /* 16 MiB */
#define LOADS_PER_ITER 20
#define AMID_ITERS 200000

static double amid_run(const uint32_t *t, int stamp, int tsc)
{
	volatile uint64_t sink;
	uint64_t acc = 0, x = 1;
	double t0 = now_ns();

	for (int i = 0; i < AMID_ITERS; i++) {
		for (int k = 0; k < LOADS_PER_ITER; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			acc += t[(x >> 20) & (TABLE_WORDS - 1)];
		}
		if (stamp)
			acc += tsc ? ms_clock_now() : mono_ns();
	}
	sink = acc;
	(void)sink;
	return (now_ns() - t0) / AMID_ITERS;
}

static int clock_amid_loads_ns(int rounds, int tsc, double *added)
{
	double with[MAX_ROUNDS], without[MAX_ROUNDS], lo, hi;
	uint32_t *t = malloc(TABLE_WORDS * sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < TABLE_WORDS; i++)
		t[i] = i * 2654435761u;
	for (int r = 0; r < rounds; r++) {
		without[r] = amid_run(t, 0, tsc);
		with[r] = amid_run(t, 1, tsc);
	}
	free(t);
	*added = median(with, rounds, &lo, &hi) - median(without, rounds, &lo, &hi);
	return 0;
}

static int report(struct bench *b, int rounds)
{
	double med[K_COUNT], lo[K_COUNT], hi[K_COUNT];
	uint64_t hits[K_COUNT], observed = 0, agent_calls = 0, agent_hits = 0;
	double amid_tsc, amid_mono;
	int bad = 0, err;

	err = read_hits(b, hits);
	if (!err)
		err = read_agent_observations(b, &observed);
	if (err)
		return err;
	for (int k = 0; k < K_COUNT; k++)
		med[k] = median(b->ns[k], rounds, &lo[k], &hi[k]);

	printf("Median of %d interleaved rounds per kind; each round runs every kind once, "
	       "about %.0f ms each.\n\n", rounds, TARGET_NS / 1e6);
	printf("For (e1)..(e128) a call is one gRPC call as the store reports it with the batch "
	       "probe attached: a begin count and one end record, with two timestamps of the store's event clock, "
	       "handed to `ms_probe_batch` every 1, 8, 32 or 128 calls; the agent's grpc BPF "
	       "program times it into its histogram.\n\n");
	printf("| probe kind | first instruction | calls per round | ns per call (median) "
	       "| min .. max | hits per call | ns per hit | added ns per call vs (a) "
	       "| hits in map | hits expected |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < K_COUNT; k++) {
		double hpc = hits_per_call(k);
		uint64_t want = kinds[k].batch ? b->calls[k] / kinds[k].batch
					       : (k == K_BASE ? 0 : b->calls[k]);

		printf("| %s | `%s` | %" PRIu64 " | %.1f | %.1f .. %.1f | ", kinds[k].name,
		       kinds[k].site, b->iters[k], med[k], lo[k], hi[k]);
		if (k == K_BASE)
			printf("0 | - | - ");
		else
			printf("%.4g | %.1f | %.1f ", hpc, med[k] / hpc, med[k] - med[K_BASE]);
		if (kinds[k].batch) {
			agent_calls += b->calls[k];
			agent_hits += want;
			printf("| %s | %" PRIu64 " |\n", k == K_AGENT1 ? "see below" : "", want);
			continue;
		}
		printf("| %" PRIu64 " | %" PRIu64 " |\n", hits[k], want);
		bad |= hits[k] != want;
	}
	printf("\nThe kernel's optimized-uprobe trampoline (`[uprobes-trampoline]`) %s mapped "
	       "in this process.\n", trampoline_mapped() ? "is" : "is NOT");
	printf("\nA timestamp, what the store takes per timed event while the batch probe is "
	       "attached: %.1f ns through the store's event clock (%s), %.1f ns by "
	       "clock_gettime(CLOCK_MONOTONIC) (medians of %d runs).\n",
	       clock_read_ns(rounds, 1),
	       ms_clock_uses_tsc() ? "the TSC between 1 ms anchors: the kernel's clocksource is tsc"
				   : "clock_gettime: the kernel's clocksource is not tsc",
	       clock_read_ns(rounds, 0), rounds);
	err = clock_amid_loads_ns(rounds, 1, &amid_tsc);
	if (!err)
		err = clock_amid_loads_ns(rounds, 0, &amid_mono);
	if (err)
		return err;
	printf("Amid memory-bound work (%d independent random loads from a 16 MiB table between "
	       "two reads, as in a call's own work) a timestamp adds %.1f ns through the event "
	       "clock and %.1f ns by clock_gettime (medians of %d interleaved runs with and "
	       "without it): a read of the clock costs more with loads in flight before it, which a "
	       "tight loop of reads hides; a call's own work keeps loads in flight too.\n",
	       LOADS_PER_ITER, amid_tsc, amid_mono, rounds);
	printf("\nAgent batch probe hits in its map: %" PRIu64 " of %" PRIu64 " expected "
	       "(the four agent kinds together). Calls timed into "
	       "grpc_server_request_duration_seconds (KV/Put, OK): %" PRIu64 " of %" PRIu64
	       " calls made.\n", hits[K_AGENT1], agent_hits, observed, agent_calls);
	bad |= hits[K_AGENT1] != agent_hits || observed != agent_calls;
	return bad ? -EPROTO : 0;
}

int main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	char self[4096], eb[256] = "";
	int rounds = argc > 1 ? atoi(argv[1]) : 11;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cpu_set_t cpus;
	int err;

	if (!b || n <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: probe_cost [ROUNDS 1..%d] (as root)\n", MAX_ROUNDS);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "probe_cost: needs root to load BPF programs\n");
		return 1;
	}
	self[n] = '\0';
	b->next_req = 1;
	/* One CPU for the whole run: per-CPU noise and migrations do not favour any kind. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	libbpf_set_print(NULL);

	err = bench_setup(b, self, eb, sizeof(eb));
	if (!err) {
		/* the agent counts events of member processes only: this one says it is member 1 */
		ms_probe_raft_status(1, 1, 1, &ms_probe_limits_info);
		calibrate(b);
		measure(b, rounds);
		err = report(b, rounds);
		if (err == -EPROTO)
			snprintf(eb, sizeof(eb), "hit counts in the BPF maps differ from calls made");
		else if (err)
			snprintf(eb, sizeof(eb), "cannot read BPF maps: %s", strerror(-err));
	}
	bench_teardown(b);
	free(b);
	if (err) {
		fprintf(stderr, "probe_cost: %s\n", eb);
		return 1;
	}
	return 0;
}
