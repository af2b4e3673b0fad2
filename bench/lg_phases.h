/* Load generator: the store's batch probe switched off and on in short interleaved phases, with the store's CPU per call in each. */
#ifndef BENCH_LG_PHASES_H
#define BENCH_LG_PHASES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * While an agent is attached, the batch probe's semaphore in the store holds the number of
 * uprobes attached with it as reference counter. Written to 0, the store takes its detached
 * path (no timestamps, no records, no call of the batch function, so no uprobe hit there);
 * written back, its attached one. Flipping it every few milliseconds measures both paths in
 * the same seconds, so the machine's own drift (which moves a CPU per call by tens of percent
 * from one second to the next on a shared VM) weighs on both alike.
 */
struct lg_probe_phase {
	bool on;         /* the semaphore held its attached value */
	uint64_t calls;  /* calls finished by the load generator during the phase */
	uint64_t cpu_ns; /* the store's CPU time during the phase (all threads) */
};

struct lg_phases;

/*
 * Opens the store `pid`'s memory and reads its semaphore at `sem_addr` (the attached value,
 * which must be non-zero: an agent attached). Phases last `phase_ms`, as many as fit in
 * `seconds`. Returns 0 and *out (the caller frees it with lg_phases_free), -ENOENT when the
 * semaphore is 0, -EINVAL for a bad argument, -ENOMEM, or the -errno of opening or reading
 * /proc/PID/mem.
 */
int lg_phases_new(struct lg_phases **out, pid_t pid, uint64_t sem_addr, unsigned phase_ms,
		  double seconds);

/*
 * Starts the phase thread: from monotonic time `t_start` on, phases in pairs (pair k: off
 * then on for even k, on then off for odd k), each closed by reading `calls` (the load
 * generator's finished calls, updated by its workers) and the store's schedstat. `calls`
 * must outlive lg_phases_join. Returns 0 or -errno.
 */
int lg_phases_start(struct lg_phases *p, const atomic_uint_fast64_t *calls, uint64_t t_start);

/* Waits for the phase thread to finish its phases and writes the attached value back.
 * Returns 0, or the first -errno the thread met (schedstat or semaphore). */
int lg_phases_join(struct lg_phases *p);

/* The finished phases, in order; *n their count. Valid until lg_phases_free. */
const struct lg_probe_phase *lg_phases_get(const struct lg_phases *p, size_t *n);

/* Prints one "phase: i on=0|1 calls=N cpu_ns=N" line per finished phase to f. */
void lg_phases_print(const struct lg_phases *p, FILE *f);

/* Writes the attached value back (if the thread did not) and frees p. Accepts NULL. */
void lg_phases_free(struct lg_phases *p);

#endif /* BENCH_LG_PHASES_H */
