/* Event log of the MVCC store: every change in revision order, for watchers. */
#include "store/eventlog.h"
#include "store/mvcc_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Revision `idx` (absolute) of key k; k is NULL once a compaction removed that revision. */
struct event {
	struct ms_key *k;
	uint64_t idx;
	int64_t rev;
};

struct ms_eventlog {
	struct event *ev; /* revision order */
	size_t n, cap;
	uint64_t base; /* position of ev[0] */
};

struct ms_eventlog *ms_eventlog_new(void)
{
	return calloc(1, sizeof(struct ms_eventlog));
}

void ms_eventlog_free(struct ms_eventlog *l)
{
	if (!l)
		return;
	free(l->ev);
	free(l);
}

int ms_eventlog_reserve(struct ms_eventlog *l, size_t n)
{
	size_t cap = l->cap ? l->cap : 64;
	struct event *ev;

	if (l->n + n <= l->cap)
		return 0;
	while (cap < l->n + n)
		cap *= 2;
	ev = realloc(l->ev, cap * sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	l->ev = ev;
	l->cap = cap;
	return 0;
}

void ms_eventlog_push(struct ms_eventlog *l, struct ms_key *k, int64_t rev)
{
	l->ev[l->n++] = (struct event){ k, k->dropped + k->n - 1, rev };
}

void ms_eventlog_compact(struct ms_eventlog *l, int64_t rev)
{
	size_t cut = 0;

	while (cut < l->n && l->ev[cut].rev < rev)
		cut++;
	/* events at `rev` keep their positions even when dead, so later positions hold */
	for (size_t i = cut; i < l->n && l->ev[i].rev == rev; i++) {
		struct event *e = &l->ev[i];
		size_t at;

		if (!e->k)
			continue;
		at = (size_t)(e->idx - e->k->dropped);
		if (e->k->revs[at].version == 0 ||
		    (at + 1 < e->k->n && e->k->revs[at + 1].mod_rev <= rev))
			e->k = NULL;
	}
	/* an empty log has no array: even a zero-length memmove from NULL + 0 is undefined */
	if (cut) {
		l->n -= cut;
		memmove(l->ev, l->ev + cut, l->n * sizeof(*l->ev));
		l->base += cut;
	}
	/* a long log cut down gives its memory back; failure just keeps it */
	if (l->cap > 1024 && l->n <= l->cap / 4) {
		struct event *ev = realloc(l->ev, l->cap / 2 * sizeof(*ev));

		if (ev) {
			l->ev = ev;
			l->cap /= 2;
		}
	}
}

uint64_t ms_eventlog_seek(const struct ms_eventlog *l, int64_t rev)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->ev[mid].rev < rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return l->base + lo;
}


int64_t ms_eventlog_read(const struct ms_eventlog *l, uint64_t *pos, struct ms_event *out,
			 size_t max)
{
	size_t i, n = 0;

	if (*pos < l->base)
		return -MS_MVCC_ECOMPACTED;
	for (i = (size_t)(*pos - l->base); i < l->n && n < max; i++) {
		const struct event *e = &l->ev[i];
		const struct ms_key_rev *revs, *r;
		size_t at;

		if (!e->k)
			continue;
		revs = e->k->revs;
		at = (size_t)(e->idx - e->k->dropped);
		r = &revs[at];
		out[n].is_delete = r->version == 0;
		ms_kv_fill(&out[n].kv, e->k, r, true);
		/* like etcd's watch, prev is the key at the revision before this one, so every
		 * change a transaction made to one key has the same prev */
		while (at > 0 && revs[at - 1].mod_rev == r->mod_rev)
			at--;
		out[n].has_prev = at > 0 && revs[at - 1].version != 0;
		if (out[n].has_prev)
			ms_kv_fill(&out[n].prev, e->k, &revs[at - 1], true);
		else
			memset(&out[n].prev, 0, sizeof(out[n].prev));
		n++;
	}
	*pos = l->base + i;
	return (int64_t)n;
}

int ms_eventlog_dump(const struct ms_eventlog *l, struct ms_buf *out)
{
	int err = ms_put_u64(out, l->base);

	if (!err)
		err = ms_put_u64(out, l->n);
	for (size_t i = 0; !err && i < l->n; i++) {
		const struct event *e = &l->ev[i];

		/* a dead event (k NULL) keeps its place: later positions must not shift */
		err = e->k ? ms_put_bytes(out, ms_key_bytes(e->k), e->k->key_len)
			   : ms_put_bytes(out, NULL, 0);
		if (!err)
			err = ms_put_u64(out, e->idx);
		if (!err)
			err = ms_put_u64(out, (uint64_t)e->rev);
	}
	return err;
}

int ms_eventlog_load(struct ms_eventlog *l, const struct ms_keyindex *ix, struct ms_reader *r)
{
	uint64_t base = ms_get_u64(r), n = ms_get_u64(r);
	int err;

	if (r->bad || n > r->left / 24)
		return -EINVAL;
	err = ms_eventlog_reserve(l, (size_t)n);
	if (err)
		return err;
	l->base = base;
	for (uint64_t i = 0; i < n; i++) {
		size_t klen;
		const uint8_t *key = ms_get_bytes(r, &klen);
		struct event e = { .idx = ms_get_u64(r) };

		e.rev = (int64_t)ms_get_u64(r);
		if (r->bad)
			return -EINVAL;
		if (klen) {
			e.k = ms_keyindex_find(ix, key, klen);
			/* an event names a revision its key still holds */
			if (!e.k || e.idx < e.k->dropped || e.idx - e.k->dropped >= e.k->n)
				return -EINVAL;
		}
		l->ev[l->n++] = e;
	}
	return 0;
}
