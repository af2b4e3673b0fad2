/* A raft snapshot's state serialized in a forked child, so that the loop does not stop for it. */
#ifndef MS_SNAP_FORK_H
#define MS_SNAP_FORK_H

#include <stdint.h>
#include <sys/types.h>

#include "store/buf.h"

/* One serialization under way: the child and the read end of its pipe. */
struct ms_snap_fork {
	pid_t pid; /* 0: none */
	int fd;
};

/* What serializes the state: fills `out`, returns 0 or -errno (the state ops' snapshot). */
typedef int (*ms_snap_fork_fn)(void *arg, struct ms_buf *out);

/*
 * On the loop: forks a child that runs fn(arg) on its copy-on-write image of this process,
 * the state as it is now, and writes its result to a pipe; the child ends itself, or is
 * killed when this process ends first. Returns 0 (collect the result with
 * ms_snap_fork_collect, exactly once) or -errno (no child: serialize here instead).
 */
int ms_snap_fork_start(struct ms_snap_fork *f, ms_snap_fork_fn fn, void *arg);

/*
 * Any thread: appends what the child serialized to `out` and reaps it. Returns fn's own
 * result (0 or -errno), or -EIO when the child died or wrote less than it said (then `out`
 * keeps its old length). Leaves f with no child.
 */
int ms_snap_fork_collect(struct ms_snap_fork *f, struct ms_buf *out);

/* Ends a child not collected (SIGKILL) and reaps it; nothing when there is none. */
void ms_snap_fork_cancel(struct ms_snap_fork *f);

#endif /* MS_SNAP_FORK_H */
