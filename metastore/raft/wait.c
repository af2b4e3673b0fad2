/* Waits for this member's applied index: a forwarded call is answered once this member applied
 * what the leader had applied when it answered, so the client's next local read sees it. */
#include <errno.h>
#include <stdlib.h>

#include "raft/raftnode_priv.h"

int ms_raft_waits_add(struct ms_raft_waits *w, uint64_t index, uint64_t deadline_ms,
		      ms_raft_wait_cb cb, void *arg)
{
	struct ms_raft_wait *e = calloc(1, sizeof(*e)), **pp;

	if (!e)
		return -ENOMEM;
	*e = (struct ms_raft_wait){ .index = index, .deadline_ms = deadline_ms, .cb = cb,
				    .arg = arg };
	/* after every wait of the same index: equal indexes complete in arrival order */
	for (pp = &w->head; *pp && (*pp)->index <= index; pp = &(*pp)->next)
		;
	e->next = *pp;
	*pp = e;
	w->n++;
	return 0;
}

/* Moves the waits `take` selects to a list of their own, in order, and returns it: their
 * callbacks run after the registry is consistent again, so a callback may add waits. */
static struct ms_raft_wait *take_if(struct ms_raft_waits *w,
				    bool (*take)(const struct ms_raft_wait *e, uint64_t v),
				    uint64_t v)
{
	struct ms_raft_wait *out = NULL, **tail = &out, **pp = &w->head;

	while (*pp) {
		struct ms_raft_wait *e = *pp;

		if (!take(e, v)) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		e->next = NULL;
		*tail = e;
		tail = &e->next;
		w->n--;
	}
	return out;
}

static size_t run_list(struct ms_raft_wait *e, int status)
{
	size_t n = 0;

	while (e) {
		struct ms_raft_wait *next = e->next;

		e->cb(e->arg, status);
		free(e);
		e = next;
		n++;
	}
	return n;
}

static bool applied_by(const struct ms_raft_wait *e, uint64_t applied)
{
	return e->index <= applied;
}

static bool expired_at(const struct ms_raft_wait *e, uint64_t now_ms)
{
	return e->deadline_ms <= now_ms;
}

static bool any(const struct ms_raft_wait *e, uint64_t v)
{
	(void)e, (void)v;
	return true;
}

size_t ms_raft_waits_run(struct ms_raft_waits *w, uint64_t applied, uint64_t now_ms)
{
	struct ms_raft_wait *done = NULL, *late;

	/* the list is in index order: the ready ones are its head */
	if (w->head && w->head->index <= applied)
		done = take_if(w, applied_by, applied);
	late = take_if(w, expired_at, now_ms);
	return run_list(done, 0) + run_list(late, -ETIMEDOUT);
}

size_t ms_raft_waits_cancel(struct ms_raft_waits *w, int status)
{
	return run_list(take_if(w, any, 0), status);
}

uint64_t ms_raft_waits_min(const struct ms_raft_waits *w)
{
	return w->head ? w->head->index : 0;
}

int ms_raft_wait_applied(struct ms_raft *rn, uint64_t index, ms_raft_wait_cb cb, void *arg)
{
	if (rn->stopping)
		return -ECANCELED;
	if (ms_raft_applied_index(rn) >= index)
		return 1;
	return ms_raft_waits_add(&rn->waits, index,
				 uv_now(rn->loop) + ms_raft_request_timeout_ms(rn), cb, arg);
}
