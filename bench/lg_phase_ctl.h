/* Load generator: the control channel to a probe switcher (bench/go_toggle.c) that detaches and re-attaches an agent's uprobes on command. */
#ifndef BENCH_LG_PHASE_CTL_H
#define BENCH_LG_PHASE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The protocol, one line each way over a Unix stream socket: the load generator sends "0\n"
 * (detach every uprobe) or "1\n" (attach them again); the switcher answers once the switch
 * is complete, "ok on=0|1 hits_before=N hits_after=N\n" (the probe hits its BPF objects
 * counted just before and just after the switch), or "err REASON\n". A connection that
 * closes leaves the probes attached.
 */
struct lg_phase_ack {
	bool on;
	uint64_t hits_before, hits_after;
};

struct lg_phase_ctl;

/* Longest wait for an answer (and for connecting) in lg_phase_ctl_open's default. */
#define LG_PHASE_CTL_TIMEOUT_MS 10000

/*
 * Connects to the switcher listening on `path`; every later answer must come within
 * `timeout_ms`. Returns 0 and *out (lg_phase_ctl_free), or -errno with one line in why.
 */
int lg_phase_ctl_open(const char *path, unsigned timeout_ms, struct lg_phase_ctl **out,
		      char *why, size_t why_len);

/*
 * Sends "1" or "0" and waits for the answer. Returns 0 with *ack, -ETIMEDOUT when no whole
 * answer came in time, -EPROTO for an "err" or malformed answer or one for the other state,
 * -ECONNRESET when the switcher closed, or another -errno; why then holds what was seen.
 */
int lg_phase_ctl_set(struct lg_phase_ctl *c, bool on, struct lg_phase_ack *ack, char *why,
		     size_t why_len);

/* Parses one answer line (without its newline). Returns 0 with *ack, or -EPROTO. */
int lg_phase_ctl_parse(const char *line, struct lg_phase_ack *ack);

/* Closes the connection (the switcher then attaches again); NULL is allowed. */
void lg_phase_ctl_free(struct lg_phase_ctl *c);

#endif /* BENCH_LG_PHASE_CTL_H */
