/* Waits for this member's applied index to reach a given entry (read-your-writes on a follower). */
#ifndef MS_RAFT_WAIT_H
#define MS_RAFT_WAIT_H

#include <stddef.h>
#include <stdint.h>

/* status: 0 (the index is applied), -ETIMEDOUT (deadline passed), or the cancel status. */
typedef void (*ms_raft_wait_cb)(void *arg, int status);

struct ms_raft_wait {
	uint64_t index;
	uint64_t deadline_ms;
	ms_raft_wait_cb cb;
	void *arg;
	struct ms_raft_wait *next;
};

/* Waits in index order (registration order among equal indexes). Zeroed = empty. */
struct ms_raft_waits {
	struct ms_raft_wait *head;
	size_t n;
};

/* Registers cb(arg, status) to run once from ms_raft_waits_run or _cancel. Returns 0 or
 * -ENOMEM (nothing registered). */
int ms_raft_waits_add(struct ms_raft_waits *w, uint64_t index, uint64_t deadline_ms,
		      ms_raft_wait_cb cb, void *arg);

/* Ends every wait whose index is <= applied with status 0, then every wait whose deadline is
 * <= now_ms with -ETIMEDOUT, each callback once, lower indexes first. Callbacks may add
 * waits (those wait for the next run). Returns how many callbacks ran. */
size_t ms_raft_waits_run(struct ms_raft_waits *w, uint64_t applied, uint64_t now_ms);

/* Ends every wait with `status` (e.g. -ECANCELED at shutdown). Returns how many ran. */
size_t ms_raft_waits_cancel(struct ms_raft_waits *w, int status);

/* The lowest index waited for, or 0 when nothing waits. */
uint64_t ms_raft_waits_min(const struct ms_raft_waits *w);

#endif /* MS_RAFT_WAIT_H */
