/* Fault suite: history checks on acknowledged revisions, stored keys and watch streams. */
#include "fcheck.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE 320

int fchk_revs(const struct fault_rev *revs, size_t n, fchk_report_fn report, void *user)
{
	int bad = 0, max_client = -1;
	int64_t *last;
	char line[LINE];

	for (size_t i = 0; i < n; i++)
		if (revs[i].client > max_client)
			max_client = revs[i].client;
	last = calloc((size_t)max_client + 2, sizeof(*last));
	if (!last) {
		report(user, "revision check: out of memory");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct fault_rev *r = &revs[i];
		int64_t prev = last[r->client];

		if (r->write ? r->rev <= prev : r->rev < prev) {
			snprintf(line, sizeof(line),
				 "client %d: %s acknowledged at revision %" PRId64
				 " after it had seen revision %" PRId64 " (went backwards)",
				 r->client, r->write ? "write" : "read", r->rev, prev);
			report(user, line);
			bad++;
		}
		if (r->rev > prev)
			last[r->client] = r->rev;
	}
	free(last);
	return bad;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct fchk_kv *)a)->key, ((const struct fchk_kv *)b)->key);
}

void fchk_sort_kvs(struct fchk_kv *kvs, size_t n)
{
	qsort(kvs, n, sizeof(*kvs), cmp_kv);
}

int fchk_acked(const struct fault_put *puts, size_t n, const struct fchk_kv *kvs, size_t nkv,
	       const char *member, fchk_report_fn report, void *user)
{
	char line[LINE];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct fault_put *p = &puts[i];
		struct fchk_kv probe;
		const struct fchk_kv *kv;

		if (p->rev <= 0 || p->transient)
			continue;
		snprintf(probe.key, sizeof(probe.key), "%s", p->key);
		kv = bsearch(&probe, kvs, nkv, sizeof(*kvs), cmp_kv);
		if (!kv)
			snprintf(line, sizeof(line),
				 "%s: acknowledged put %s (revision %" PRId64 ") is missing",
				 member, p->key, p->rev);
		else if (kv->rev != p->rev || kv->value_id != p->value_id)
			snprintf(line, sizeof(line),
				 "%s: acknowledged put %s: expected mod_revision %" PRId64
				 " value %" PRId64 ", seen mod_revision %" PRId64 " value %" PRId64,
				 member, p->key, p->rev, p->value_id, kv->rev, kv->value_id);
		else
			continue;
		report(user, line);
		bad++;
	}
	return bad;
}

static void describe(const struct fchk_kv *e, char *buf, size_t len)
{
	snprintf(buf, len, "rev %" PRId64 " %s %s=%" PRId64, e->rev, e->del ? "DELETE" : "PUT",
		 e->key, e->value_id);
}

static bool same_event(const struct fchk_kv *a, const struct fchk_kv *b)
{
	return a->rev == b->rev && a->del == b->del && a->value_id == b->value_id &&
	       !strcmp(a->key, b->key);
}

int fchk_events(const struct fchk_kv *got, size_t n, const struct fchk_kv *ref, size_t nref,
		const char *who, fchk_report_fn report, void *user)
{
	char line[LINE], a[128], b[128];
	size_t i;

	for (i = 0; i < n && i < nref; i++) {
		if (same_event(&got[i], &ref[i]))
			continue;
		describe(&ref[i], a, sizeof(a));
		describe(&got[i], b, sizeof(b));
		if (i > 0 && got[i].rev < got[i - 1].rev)
			snprintf(line, sizeof(line), "%s: event #%zu went backwards: expected %s, got %s",
				 who, i, a, b);
		else if (i > 0 && same_event(&got[i], &got[i - 1]))
			snprintf(line, sizeof(line), "%s: event #%zu duplicated: expected %s, got %s again",
				 who, i, a, b);
		else if (got[i].rev > ref[i].rev)
			snprintf(line, sizeof(line), "%s: gap at event #%zu: expected %s, got %s", who,
				 i, a, b);
		else
			snprintf(line, sizeof(line), "%s: event #%zu differs: expected %s, got %s", who,
				 i, a, b);
		report(user, line);
		return 1;
	}
	if (n == nref)
		return 0;
	if (n < nref) {
		describe(&ref[n], a, sizeof(a));
		snprintf(line, sizeof(line),
			 "%s: stream ends after %zu of %zu events; first missing: %s", who, n, nref,
			 a);
	} else {
		describe(&got[nref], b, sizeof(b));
		snprintf(line, sizeof(line),
			 "%s: %zu events beyond the %zu committed; first extra: %s", who, n - nref,
			 nref, b);
	}
	report(user, line);
	return 1;
}

static int cmp_rev(const void *key, const void *elem)
{
	int64_t r = *(const int64_t *)key, e = ((const struct fchk_kv *)elem)->rev;

	return r < e ? -1 : r > e;
}

int fchk_acked_in_history(const struct fault_put *puts, size_t n, const struct fchk_kv *ref,
			  size_t nref, fchk_report_fn report, void *user)
{
	char line[LINE], a[128];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct fault_put *p = &puts[i];
		const struct fchk_kv *e;
		bool found = false;

		if (p->rev <= 0)
			continue;
		e = bsearch(&p->rev, ref, nref, sizeof(*ref), cmp_rev);
		/* Several events can share one revision (a transaction, a lease expiry). */
		while (e && e > ref && e[-1].rev == p->rev)
			e--;
		for (const struct fchk_kv *x = e; x && x < ref + nref && x->rev == p->rev; x++)
			found |= !x->del && !strcmp(x->key, p->key) && x->value_id == p->value_id;
		if (found)
			continue;
		if (e)
			describe(e, a, sizeof(a));
		snprintf(line, sizeof(line),
			 "history: acknowledged put %s=%" PRId64 " at revision %" PRId64
			 " is not there; the history holds %s",
			 p->key, p->value_id, p->rev, e ? a : "no event at that revision");
		report(user, line);
		bad++;
	}
	return bad;
}
