/* Fault suite: watchers that reconnect from their last revision + 1, and the final history read. */
#ifndef FWATCH_H
#define FWATCH_H

#include <pthread.h>
#include <stdatomic.h>

#include "fault.h"
#include "fcheck.h"

struct fwatch {
	struct fault_run *r;
	int id;
	int member;
	uint64_t rng;
	pthread_t th;
	pthread_mutex_t mu; /* guards ev, n, last_rev */
	struct fchk_kv *ev;
	size_t n, cap;
	int64_t last_rev;
	int64_t upto;	    /* history read: done once last_rev reaches it */
	atomic_bool catch_up; /* end of run: move on from a member that sends nothing */
	bool ended;	    /* the current stream ended */
	bool failed;	    /* the current stream was canceled or sent garbage */
	uint64_t last_event;
	int sessions;
};

/* Starts watcher id (a thread) watching FAULT_PREFIX from revision 1; it ends when
 * r->stop_streams is set. Returns 0 or -errno. */
int fwatch_start(struct fwatch *w, struct fault_run *r, int id);

/* The last revision watcher w has seen. */
int64_t fwatch_rev(struct fwatch *w);

/* Joins the thread (after r->stop_streams); its events stay in w->ev (freed by
 * fwatch_free). */
void fwatch_join(struct fwatch *w);

/* Frees the events. */
void fwatch_free(struct fwatch *w);

/* Reads the whole history of FAULT_PREFIX up to revision upto with a watch from
 * revision 1, starting on member, within timeout_ms. *out (caller frees) gets the
 * events with rev <= upto. Returns 0, or -ETIMEDOUT with what it read in *out. */
int fwatch_history(struct fault_run *r, int member, int64_t upto, int timeout_ms,
		   struct fchk_kv **out, size_t *n);

#endif /* FWATCH_H */
