/* HTTP connection guard: evicts the longest-waiting connection when too many are open. */
#include "http_guard.h"

#include <errno.h>
#include <stdlib.h>

struct guard_slot {
	int fd;
	bool used;
	bool waiting;       /* no complete request yet (or since the last response) */
	double since;       /* when it started waiting */
};

struct http_guard {
	size_t nr_slots, soft, used;
	double min_age;
	unsigned long evicted;
	struct guard_slot slots[];
};

struct http_guard *http_guard_new(size_t nr_slots, size_t soft, double min_age)
{
	struct http_guard *g;

	if (!nr_slots || soft >= nr_slots)
		return NULL;
	g = calloc(1, sizeof(*g) + nr_slots * sizeof(g->slots[0]));
	if (!g)
		return NULL;
	g->nr_slots = nr_slots;
	g->soft = soft;
	g->min_age = min_age;
	return g;
}

void http_guard_free(struct http_guard *g)
{
	free(g);
}

/* The waiting connection (other than `self`) that has waited longest, at least min_age. */
static int oldest_waiting(const struct http_guard *g, int self, double now, double min_age)
{
	int best = -1;

	for (size_t i = 0; i < g->nr_slots; i++) {
		const struct guard_slot *s = &g->slots[i];

		if (!s->used || !s->waiting || (int)i == self || now - s->since < min_age)
			continue;
		if (best < 0 || s->since < g->slots[best].since)
			best = (int)i;
	}
	return best;
}

int http_guard_open(struct http_guard *g, int fd, double now, int *victim)
{
	int slot = -1, old;

	*victim = -1;
	for (size_t i = 0; i < g->nr_slots && slot < 0; i++)
		if (!g->slots[i].used)
			slot = (int)i;
	if (slot < 0)
		return -ENOSPC;
	g->slots[slot] = (struct guard_slot){ .fd = fd, .used = true, .waiting = true, .since = now };
	g->used++;
	if (g->used <= g->soft)
		return slot;
	/* The last slot: somebody goes at once, so that the server never stops accepting. */
	old = oldest_waiting(g, slot, now, g->used == g->nr_slots ? -1 : g->min_age);
	if (old < 0 && g->used == g->nr_slots)
		old = slot; /* everybody else is being served: the newcomer goes */
	if (old >= 0) {
		/* Shut down, not yet closed: it is never picked twice. */
		g->slots[old].waiting = false;
		*victim = g->slots[old].fd;
		g->evicted++;
	}
	return slot;
}

void http_guard_busy(struct http_guard *g, int slot)
{
	if (slot >= 0 && (size_t)slot < g->nr_slots)
		g->slots[slot].waiting = false;
}

void http_guard_idle(struct http_guard *g, int slot, double now)
{
	if (slot >= 0 && (size_t)slot < g->nr_slots && g->slots[slot].used) {
		g->slots[slot].waiting = true;
		g->slots[slot].since = now;
	}
}

void http_guard_close(struct http_guard *g, int slot)
{
	if (slot < 0 || (size_t)slot >= g->nr_slots || !g->slots[slot].used)
		return;
	g->slots[slot].used = false;
	g->used--;
}

unsigned long http_guard_evicted(const struct http_guard *g)
{
	return g->evicted;
}
