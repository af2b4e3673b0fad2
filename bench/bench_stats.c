/* Statistics and counters for the overhead benchmarks: ratio intervals, schedstat, PMU. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "schedstat.h"
#include "stats.h"

#define MAX_ROUNDS 4096
#define MAX_THREADS 256

static void usage(void)
{
	fputs("usage: bench_stats ratio [--seed N] [--resamples N] [--level P] [--target T (--at-most|--at-least)]\n"
	      "         reads one round per line, \"A B\" or \"A B GROUP\" (an integer: rounds of one\n"
	      "         process), and prints the median of A/B and its bootstrap interval (two-stage\n"
	      "         over groups and their rounds when GROUP is given): n= groups= median= lo=\n"
	      "         hi= level= resamples= seed= [verdict=]\n"
	      "       bench_stats schedstat PID   run time of all PID's threads in ns (schedstat)\n"
	      "       bench_stats pmu             whether perf_event_open counts instructions here\n"
	      "       bench_stats instructions PID -- CMD...\n"
	      "         runs CMD while counting the user+kernel instructions of PID's threads;\n"
	      "         prints CMD's output, then instructions=N\n",
	      stderr);
}

static int cmd_ratio(int argc, char **argv)
{
	static double a[MAX_ROUNDS], b[MAX_ROUNDS];
	static long group[MAX_ROUNDS];
	char line[256];
	bool grouped = false;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned resamples = 10000;
	double level = 0.95, target = 0;
	int at_most = -1, rc;
	size_t n = 0;
	struct stats_ratio r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--resamples") && i + 1 < argc)
			resamples = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--level") && i + 1 < argc)
			level = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--target") && i + 1 < argc)
			target = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--at-most"))
			at_most = 1;
		else if (!strcmp(argv[i], "--at-least"))
			at_most = 0;
		else {
			usage();
			return 2;
		}
	}
	while (n < MAX_ROUNDS && fgets(line, sizeof(line), stdin)) {
		int got = sscanf(line, "%lf %lf %ld", &a[n], &b[n], &group[n]);

		if (got < 2)
			break;
		/* all rounds grouped or none: a round without a group is a bad input */
		if (n && grouped != (got == 3)) {
			fprintf(stderr, "bench_stats: round %zu: a group on some rounds only\n", n + 1);
			return 1;
		}
		grouped = got == 3;
		n++;
	}
	rc = stats_ratio_ci_grouped(a, b, grouped ? group : NULL, n, resamples, level, seed, &r);
	if (rc) {
		fprintf(stderr, "bench_stats: %zu rounds read: %s\n", n, strerror(-rc));
		return 1;
	}
	printf("n=%zu groups=%zu median=%.4f lo=%.4f hi=%.4f level=%.2f resamples=%u seed=%" PRIu64,
	       r.n, r.groups, r.median, r.lo, r.hi, r.level, r.resamples, r.seed);
	if (at_most >= 0) {
		const char *v = stats_verdict_name(stats_verdict_of(r.lo, r.hi, target, at_most));

		printf(" verdict=");
		for (; *v; v++)
			putchar(*v == ' ' ? '_' : *v);
	}
	putchar('\n');
	return 0;
}

static int cmd_schedstat(const char *pid)
{
	uint64_t ns;
	int rc = bench_schedstat_ns((pid_t)atoi(pid), &ns);

	if (rc) {
		fprintf(stderr, "bench_stats: /proc/%s/task: %s\n", pid, strerror(-rc));
		return 1;
	}
	printf("%" PRIu64 "\n", ns);
	return 0;
}

/* A hardware instruction counter on thread `tid` (0: this thread), or -1. */
static int open_instructions(pid_t tid)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_HARDWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_HW_INSTRUCTIONS,
		.disabled = 1,
		.inherit = 1,
	};

	return (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, 0);
}

static int cmd_pmu(void)
{
	int fd = open_instructions(0);

	if (fd < 0) {
		printf("pmu=no reason=\"perf_event_open(PERF_COUNT_HW_INSTRUCTIONS): %s\"\n",
		       strerror(errno));
		return 0;
	}
	close(fd);
	printf("pmu=yes\n");
	return 0;
}

struct counters {
	int fds[MAX_THREADS];
	int n;
};

static int open_task_counter(const char *tid, void *ctx)
{
	struct counters *c = ctx;

	if (c->n == MAX_THREADS)
		return 0;
	c->fds[c->n] = open_instructions((pid_t)atoi(tid));
	if (c->fds[c->n] < 0) {
		fprintf(stderr, "bench_stats: perf_event_open(instructions, %s): %s\n", tid,
			strerror(errno));
		return 1;
	}
	c->n++;
	return 0;
}

static int cmd_instructions(const char *pid, char **cmd)
{
	struct counters c = { .n = 0 };
	unsigned long long total = 0, v;
	int rc = 1, st;
	pid_t child;

	rc = bench_each_task((pid_t)atoi(pid), open_task_counter, &c);
	if (rc < 0)
		fprintf(stderr, "bench_stats: /proc/%s/task: %s\n", pid, strerror(-rc));
	if (rc) {
		rc = 1;
		goto cleanup;
	}
	rc = 1;
	for (int i = 0; i < c.n; i++)
		ioctl(c.fds[i], PERF_EVENT_IOC_ENABLE, 0);
	fflush(stdout);
	child = fork();
	if (child == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &st, 0) < 0)
		goto cleanup;
	for (int i = 0; i < c.n; i++) {
		ioctl(c.fds[i], PERF_EVENT_IOC_DISABLE, 0);
		if (read(c.fds[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
			total += v;
	}
	printf("instructions=%llu\n", total);
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
cleanup:
	for (int i = 0; i < c.n; i++)
		close(c.fds[i]);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ratio"))
		return cmd_ratio(argc - 1, argv + 1);
	if (argc == 3 && !strcmp(argv[1], "schedstat"))
		return cmd_schedstat(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "pmu"))
		return cmd_pmu();
	if (argc >= 5 && !strcmp(argv[1], "instructions") && !strcmp(argv[3], "--"))
		return cmd_instructions(argv[2], argv + 4);
	usage();
	return 2;
}
