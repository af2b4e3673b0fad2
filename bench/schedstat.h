/* A process's CPU time from schedstat: the run time of all its threads. */
#ifndef BENCH_SCHEDSTAT_H
#define BENCH_SCHEDSTAT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Calls fn(tid, ctx) for each thread of process `pid` (its /proc/PID/task entries); stops at
 * the first non-zero return. Returns 0, that return, or -errno when the task list cannot be
 * read.
 */
int bench_each_task(pid_t pid, int (*fn)(const char *tid, void *ctx), void *ctx);

/*
 * The run time of every live thread of `pid` summed, ns (the first field of
 * /proc/PID/task/TID/schedstat: time on a CPU, steal time excluded where the kernel accounts
 * for it). A thread that exits between the listing and its read counts 0. Returns 0 and the
 * sum in *ns, or -errno when the process's task list cannot be read.
 */
int bench_schedstat_ns(pid_t pid, uint64_t *ns);

#endif /* BENCH_SCHEDSTAT_H */
