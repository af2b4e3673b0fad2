/* HTTP connection guard: which connection to drop when slow clients crowd the agent. */
#ifndef AGENT_HTTP_GUARD_H
#define AGENT_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The connections of the HTTP server, each either waiting for a complete request (from
 * when it opened, or since its last response) or being served. When more than `soft` are
 * open, each new connection costs the one that has waited longest for its request, if it
 * has waited at least `min_age` seconds; when the new connection takes the last slot, the
 * longest-waiting one goes whatever its age (or, if all others are being served, the new
 * one), so that a server limited to `nr_slots` never stops accepting. Slow or idle clients
 * (slowloris) are pushed out by new ones instead of keeping scrapes out. Not thread-safe.
 */
struct http_guard;

/* One slot per connection the server may hold; `soft` < `nr_slots`. Returns NULL on ENOMEM. */
struct http_guard *http_guard_new(size_t nr_slots, size_t soft, double min_age);

/* Frees; NULL is allowed. */
void http_guard_free(struct http_guard *g);

/*
 * Records a new connection on socket `fd` at time `now` (seconds, monotonic). Returns its
 * slot (>= 0), or -ENOSPC if every slot is taken. *victim gets the fd of a connection to
 * shut down now (possibly `fd` itself; its slot stays taken until http_guard_close), or -1.
 */
int http_guard_open(struct http_guard *g, int fd, double now, int *victim);

/* Slot `slot` has a complete request: it is being served, not waiting. */
void http_guard_busy(struct http_guard *g, int slot);

/* Slot `slot` finished a response at `now`: waiting for its next request from now on. */
void http_guard_idle(struct http_guard *g, int slot, double now);

/* Slot `slot` closed: free again. */
void http_guard_close(struct http_guard *g, int slot);

/* Connections shut down by the guard so far. */
unsigned long http_guard_evicted(const struct http_guard *g);

#endif /* AGENT_HTTP_GUARD_H */
