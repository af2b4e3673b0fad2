/* Fault suite: the end of a run: heal, settle, and every check on what the clients saw. */
#include "fverify.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcheck.h"
#include "fcluster.h"
#include "frpc.h"
#include "fwgl.h"
#include "fwork.h"
#include "rpc.pb-c.h"

#define PATH_RANGE "/etcdserverpb.KV/Range"
#define MS (1000000ULL)
#define WGL_MAX_STEPS 20000000ULL
/* Reading back a long run's whole history (hundreds of thousands of events) takes a while. */
#define HISTORY_MS 120000

static void report(void *user, const char *line)
{
	fault_anomaly(user, "%s", line);
}

/* Range over FAULT_PREFIX on member i (serializable or not), within timeout_ms. */
static int prefix_range(struct fault_run *r, int i, bool serializable, bool count_only,
			int timeout_ms, Etcdserverpb__RangeResponse **out)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;

	req.key.data = (uint8_t *)FAULT_PREFIX;
	req.key.len = strlen(FAULT_PREFIX);
	req.range_end.data = (uint8_t *)"fault0";
	req.range_end.len = 6;
	req.serializable = serializable;
	req.count_only = count_only;
	atomic_fetch_add(&r->ops, 1);
	return frpc_call_to(r->cl->m[i].host, r->cl->m[i].cport, PATH_RANGE, &req.base,
			    &etcdserverpb__range_response__descriptor, timeout_ms, 0,
			    (ProtobufCMessage **)out);
}

/* The leader's current revision, then every member caught up with it (30 s). Returns the
 * revision, or 0 when the leader did not answer. */
static int64_t converge(struct fault_run *r, int leader)
{
	Etcdserverpb__RangeResponse *resp;
	uint64_t deadline = fault_now() + 30000 * MS;
	int64_t rev = 0, seen[FAULT_MEMBERS] = { 0 };

	while (!rev && fault_now() < deadline) {
		if (prefix_range(r, leader, false, true, 2000, &resp) == 0) {
			rev = resp->header ? resp->header->revision : 0;
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		}
	}
	if (!rev) {
		fault_anomaly(r, "the leader %s answered no linearizable read for 30 s after healing",
			      r->cl->m[leader].name);
		return 0;
	}
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		while (seen[i] < rev && fault_now() < deadline) {
			if (prefix_range(r, i, true, true, 2000, &resp) == 0) {
				seen[i] = resp->header ? resp->header->revision : 0;
				protobuf_c_message_free_unpacked(&resp->base, NULL);
			}
			if (seen[i] < rev)
				poll(NULL, 0, 100); /* pacing of the polls */
		}
		if (seen[i] < rev)
			fault_anomaly(r, "%s at revision %" PRId64 " 30 s after healing; the leader "
				      "is at %" PRId64, r->cl->m[i].name, seen[i], rev);
	}
	fault_log(r, "settled at revision %" PRId64, rev);
	return rev;
}

/* Every acknowledged put on every member (serializable reads of the whole prefix). */
static void check_members(struct fault_run *r)
{
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		Etcdserverpb__RangeResponse *resp;
		struct fchk_kv *kvs;
		int err = prefix_range(r, i, true, false, HISTORY_MS, &resp);

		if (err) {
			fault_anomaly(r, "%s: the final serializable read failed (%d)",
				      r->cl->m[i].name, err);
			continue;
		}
		kvs = calloc(resp->n_kvs + 1, sizeof(*kvs));
		for (size_t k = 0; kvs && k < resp->n_kvs; k++) {
			const Mvccpb__KeyValue *kv = resp->kvs[k];

			snprintf(kvs[k].key, sizeof(kvs[k].key), "%.*s", (int)kv->key.len,
				 (const char *)kv->key.data);
			kvs[k].rev = kv->mod_revision;
			kvs[k].value_id = fwork_value(kv->value.data, kv->value.len);
		}
		if (kvs) {
			fchk_sort_kvs(kvs, resp->n_kvs);
			pthread_mutex_lock(&r->mu);
			fchk_acked(r->puts.v, r->puts.n, kvs, resp->n_kvs, r->cl->m[i].name, report,
				   r);
			pthread_mutex_unlock(&r->mu);
			fault_log(r, "%s holds %zu keys", r->cl->m[i].name, resp->n_kvs);
		}
		free(kvs);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
}

/* Linearizability of every register, each on its own. */
static void check_registers(struct fault_run *r)
{
	const struct fwgl_op *all = r->regs.v;
	struct fwgl_op *ops = calloc(r->regs.n + 1, sizeof(*ops));
	char why[512], key[32];
	int regs = 0;

	for (size_t i = 0; i < r->regs.n; i++)
		if (all[i].reg >= regs)
			regs = all[i].reg + 1;
	for (int reg = 0; ops && reg < regs; reg++) {
		size_t n = 0, maybe = 0;
		int rv;

		for (size_t i = 0; i < r->regs.n; i++)
			if (all[i].reg == reg) {
				ops[n++] = all[i];
				maybe += all[i].maybe;
			}
		for (size_t i = 0; i < n; i++) {
			ops[i].call -= r->t0;
			ops[i].ret -= r->t0;
		}
		if (n == 0)
			continue;
		fwork_register_key(reg, key, sizeof(key));
		rv = fwgl_check(ops, n, WGL_MAX_STEPS, why, sizeof(why));
		if (rv == 1)
			fault_log(r, "register %s: %zu ops (%zu maybe) linearizable", key, n, maybe);

		else
			fault_anomaly(r, "register %s: %zu ops (%zu maybe) %s: %s", key, n, maybe,
				      rv == 0 ? "not linearizable" : "not checked", why);
	}
	free(ops);
}

/* The watchers against the history ref, once they caught up with rev (30 s). */
static void check_watchers(struct fault_run *r, struct fwatch *w, int nw, int64_t rev,
			   const struct fchk_kv *ref, size_t nref)
{
	uint64_t deadline = fault_now() + HISTORY_MS * MS;
	char who[32];

	for (int i = 0; i < nw; i++)
		atomic_store(&w[i].catch_up, true);
	for (int i = 0; i < nw; i++)
		while (fwatch_rev(&w[i]) < rev && fault_now() < deadline)
			poll(NULL, 0, 100); /* pacing of the polls */
	atomic_store(&r->stop_streams, true);
	for (int i = 0; i < nw; i++) {
		fwatch_join(&w[i]);
		while (w[i].n && w[i].ev[w[i].n - 1].rev > rev)
			w[i].n--;
		snprintf(who, sizeof(who), "watcher %d", w[i].id);
		if (ref)
			fchk_events(w[i].ev, w[i].n, ref, nref, who, report, r);
		fault_log(r, "%s: %zu events over %d streams", who, w[i].n, w[i].sessions);
		fwatch_free(&w[i]);
	}
}

void fverify_all(struct fault_run *r, struct fnem *n, struct flease *l, struct fwatch *w,
		 int nw)
{
	struct fchk_kv *ref = NULL;
	size_t nref = 0;
	int64_t rev;
	int leader = fnem_settle(n, 30000);

	if (leader < 0) {
		fault_anomaly(r, "no leader within 30 s of the final heal");
		goto cleanup;
	}
	converge(r, leader);
	flease_check_kept(l);
	check_members(r);
	fault_log(r, "waiting for the abandoned leases (%zu) to be resolved", l->n_gone);
	flease_join_abandoner(l);
	leader = fnem_settle(n, 30000);
	rev = leader < 0 ? 0 : converge(r, leader);
	if (rev && fwatch_history(r, leader, rev, HISTORY_MS, &ref, &nref)) {
		fault_anomaly(r, "history: a watch from revision 1 got %zu events, not up to "
			      "revision %" PRId64 ", in %d s", nref, rev, HISTORY_MS / 1000);
		free(ref);
		ref = NULL;
	}
	if (ref) {
		fault_log(r, "history: %zu events up to revision %" PRId64, nref, rev);
		pthread_mutex_lock(&r->mu);
		fchk_acked_in_history(r->puts.v, r->puts.n, ref, nref, report, r);
		pthread_mutex_unlock(&r->mu);
	}
	check_watchers(r, w, nw, rev, ref, nref);
cleanup:
	atomic_store(&r->stop_streams, true);
	flease_join_keeper(l);
	fchk_revs(r->revs.v, r->revs.n, report, r);
	check_registers(r);
	free(ref);
}
