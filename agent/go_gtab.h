/* A Go target's goroutine tables from user space: how full they are, and the entries of exited processes freed. */
#ifndef AGENT_GO_GTAB_H
#define AGENT_GO_GTAB_H

#include <stdint.h>

/* What one go_gtab_reap pass saw and did. */
struct go_gtab_usage {
	uint64_t held;    /* slots of live processes in the sets */
	uint64_t spilled; /* the spill counter after the pass */
	uint64_t reaped;  /* entries of exited processes freed by this pass (sets and spill) */
};

/* Whether process tgid runs; go_gtab_reap's default is /proc/TGID. */
typedef int (*go_gtab_alive_fn)(uint32_t tgid);

/*
 * One pass over a goroutine table (bpf/go_common.bpf.h): `sets_fd` its BPF_F_MMAPABLE array
 * of nr_sets struct ms_go_gset, `spill_fd` its LRU hash of spill_max entries, `spilled_fd`
 * its BPF_F_MMAPABLE one-entry counter. A process that exits with calls or commits in
 * flight never frees their entries, so the pass frees them, as the programs do (the
 * process id first, then the goroutine word, atomically: a program claiming a free slot on
 * another CPU meanwhile is safe), and deletes its spill entries, taking them off the
 * counter. `alive` NULL: /proc.
 * Returns 0 with *out filled, or -errno (a map that cannot be mapped or read).
 */
int go_gtab_reap(int sets_fd, uint32_t nr_sets, int spill_fd, uint32_t spill_max, int spilled_fd,
		 go_gtab_alive_fn alive, struct go_gtab_usage *out);

#endif
