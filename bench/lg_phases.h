/* Load generator: the store's batch probe (or a Go target's uprobes) switched off and on in short interleaved phases, with the target's CPU per call in each. */
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
	bool on;         /* the semaphore held its attached value (the uprobes were attached) */
	uint64_t calls;  /* calls finished by the load generator during the phase */
	uint64_t cpu_ns; /* the store's CPU time during the phase (all threads) */
	uint64_t hits;      /* switcher only: uprobe hits its BPF objects counted in the phase */
	uint64_t switch_ns; /* switcher only: the switch before the phase, sent to answered */
};

struct lg_phases;
struct lg_phase_ctl;

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
 * The other switch, for a target with no semaphore (a Go program): each phase detaches or
 * re-attaches the agent's uprobes themselves through the switcher `ctl` (lg_phase_ctl.h),
 * which p owns from here on (also on failure). A "1" first checks that it answers, attached.
 * A phase starts once its switch is answered and lasts `phase_ms`, so the switches' time is
 * in no phase; pairs come ABBA as with the semaphore (see phase_on in lg_phases.c); a
 * pair starts only while it still fits before `seconds` end, so there may be fewer phases
 * than fit in `seconds`. `pid` is the target whose CPU is read. Returns 0 and
 * *out, -EINVAL, -ENOMEM, or lg_phase_ctl_set's error (its line in why).
 */
int lg_phases_new_ctl(struct lg_phases **out, pid_t pid, struct lg_phase_ctl *ctl,
		      unsigned phase_ms, double seconds, char *why, size_t why_len);

/*
 * Windows only, nothing switched: the calls and the CPU time of process `pid` in windows of
 * `window_ms`, aligned to multiples of window_ms on CLOCK_MONOTONIC (so the windows of two
 * load generators with one length cover the same time), as many as fit in `seconds` after
 * the first boundary. For an A/B of two processes loaded at once. Returns 0 and *out
 * (lg_phases_free), or -EINVAL (a bad pid, length, or fewer than 2 windows' time), -ENOMEM.
 */
int lg_phases_new_windows(struct lg_phases **out, pid_t pid, unsigned window_ms, double seconds);

/*
 * Starts the phase thread: from monotonic time `t_start` on, phases in pairs (pair k: off
 * then on for even k, on then off for odd k, also with a switcher), each closed by reading `calls` (the load
 * generator's finished calls, updated by its workers) and the store's schedstat. `calls`
 * must outlive lg_phases_join. Returns 0 or -errno.
 */
int lg_phases_start(struct lg_phases *p, const atomic_uint_fast64_t *calls, uint64_t t_start);

/* Waits for the phase thread to finish its phases and writes the attached value back (with
 * a switcher: switches back on). Returns 0, or the first -errno the thread met (schedstat,
 * semaphore or switcher; lg_phases_error says more). */
int lg_phases_join(struct lg_phases *p);

/* What the first error was, one line ("" when none); valid until lg_phases_free. */
const char *lg_phases_error(const struct lg_phases *p);

/* The finished phases, in order; *n their count. Valid until lg_phases_free. */
const struct lg_probe_phase *lg_phases_get(const struct lg_phases *p, size_t *n);

/* Prints one "phase: i on=0|1 calls=N cpu_ns=N" line per finished phase to f (with a
 * switcher followed by " hits=N switch_ns=N"; windows: "window: W calls=N cpu_ns=N", W the
 * window's number, its start on CLOCK_MONOTONIC / its length). */
void lg_phases_print(const struct lg_phases *p, FILE *f);

/* Writes the attached value back (if the thread did not) and frees p. Accepts NULL. */
void lg_phases_free(struct lg_phases *p);

#endif /* BENCH_LG_PHASES_H */
