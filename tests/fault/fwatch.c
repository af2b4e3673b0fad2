/* Fault suite: watchers that reconnect from their last revision + 1, and the final history read. */
#include "fwatch.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcluster.h"
#include "frpc.h"
#include "fwork.h"
#include "rpc.pb-c.h"

#define PATH_WATCH "/etcdserverpb.Watch/Watch"
/* A member that sent nothing for this long while we wait for the end of the history. */
#define STUCK_NS (3ULL * 1000000000ULL)

static int add_event(struct fwatch *w, const Mvccpb__Event *e)
{
	struct fchk_kv *kv;

	if (!e->kv)
		return -EBADMSG;
	pthread_mutex_lock(&w->mu);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		struct fchk_kv *n = realloc(w->ev, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&w->mu);
			return -ENOMEM;
		}
		w->ev = n;
		w->cap = cap;
	}
	kv = &w->ev[w->n++];
	memset(kv, 0, sizeof(*kv));
	snprintf(kv->key, sizeof(kv->key), "%.*s", (int)e->kv->key.len,
		 (const char *)e->kv->key.data);
	kv->rev = e->kv->mod_revision;
	kv->del = e->type == MVCCPB__EVENT__EVENT_TYPE__DELETE;
	kv->value_id = kv->del ? 0 : fwork_value(e->kv->value.data, e->kv->value.len);
	if (kv->rev > w->last_rev)
		w->last_rev = kv->rev;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static void on_msg(void *conn_user, void *call_user, const uint8_t *msg, size_t len)
{
	struct fwatch *w = conn_user;
	Etcdserverpb__WatchResponse *resp = etcdserverpb__watch_response__unpack(NULL, len, msg);

	(void)call_user;
	if (!resp) {
		w->failed = true;
		return;
	}
	if (resp->header)
		fault_term(w->r, resp->header->raft_term);
	if (resp->canceled || resp->compact_revision)
		w->failed = true;
	for (size_t i = 0; i < resp->n_events && !w->failed; i++)
		if (add_event(w, resp->events[i]))
			w->failed = true;
	if (resp->n_events)
		w->last_event = fault_now();
	etcdserverpb__watch_response__free_unpacked(resp, NULL);
}

static void on_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
		    size_t len)
{
	struct fwatch *w = conn_user;

	(void)call_user;
	(void)grpc_status;
	(void)body;
	(void)len;
	w->ended = true;
}

/* One watch stream on member from last_rev + 1, for at most max_ns: until it ends, fails,
 * the run stops, w->upto is reached, or (catching up) the member sends nothing. */
static void session(struct fwatch *w, int member, uint64_t max_ns)
{
	Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	struct fcl_member *m = &w->r->cl->m[member];
	uint64_t end = fault_now() + max_ns;
	struct frpc_conn c;
	uint8_t buf[128];
	size_t len;
	int32_t sid;

	frpc_init(&c, m->host, m->cport);
	w->ended = w->failed = false;
	if (frpc_connect(&c, 1000, on_done, w))
		goto cleanup;
	cr.key.data = (uint8_t *)FAULT_PREFIX;
	cr.key.len = strlen(FAULT_PREFIX);
	cr.range_end.data = (uint8_t *)"fault0"; /* FAULT_PREFIX with its last byte + 1 */
	cr.range_end.len = 6;
	cr.start_revision = fwatch_rev(w) + 1;
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	len = etcdserverpb__watch_request__pack(&req, buf);
	if (h2c_stream_open(c.h2, PATH_WATCH, buf, len, true, on_msg, NULL, &sid))
		goto cleanup;
	w->sessions++;
	w->last_event = fault_now();
	while (!w->ended && !w->failed && !atomic_load(&w->r->stop_streams)) {
		uint64_t now = fault_now();

		if (now >= end || (w->upto && fwatch_rev(w) >= w->upto))
			break;
		if (atomic_load(&w->catch_up) && now - w->last_event > STUCK_NS)
			break;
		if (h2c_poll(c.h2, 100))
			break;
	}
cleanup:
	frpc_close(&c);
}

static void *watch_main(void *arg)
{
	struct fwatch *w = arg;

	while (!atomic_load(&w->r->stop_streams)) {
		/* Move between members every few seconds: every reconnect resumes from
		 * last_rev + 1, which is what this checks, and a stopped or partitioned
		 * member cannot hold the watcher forever. */
		session(w, w->member, (4000 + fault_rand(&w->rng) % 6000) * 1000000ULL);
		w->member = (w->member + 1) % FAULT_MEMBERS;
		if (!atomic_load(&w->r->stop_streams))
			poll(NULL, 0, 50); /* pacing between streams */
	}
	return NULL;
}

int fwatch_start(struct fwatch *w, struct fault_run *r, int id)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->id = id;
	w->member = id % FAULT_MEMBERS;
	w->rng = r->seed * 7919ULL + (uint64_t)id + 1;
	pthread_mutex_init(&w->mu, NULL);
	return -pthread_create(&w->th, NULL, watch_main, w);
}

int64_t fwatch_rev(struct fwatch *w)
{
	int64_t rev;

	pthread_mutex_lock(&w->mu);
	rev = w->last_rev;
	pthread_mutex_unlock(&w->mu);
	return rev;
}

void fwatch_join(struct fwatch *w)
{
	pthread_join(w->th, NULL);
}

void fwatch_free(struct fwatch *w)
{
	free(w->ev);
	w->ev = NULL;
	w->n = w->cap = 0;
}

int fwatch_history(struct fault_run *r, int member, int64_t upto, int timeout_ms,
		   struct fchk_kv **out, size_t *n)
{
	uint64_t deadline = fault_now() + (uint64_t)timeout_ms * 1000000ULL;
	struct fwatch w = { .r = r, .upto = upto, .member = member };

	pthread_mutex_init(&w.mu, NULL);
	atomic_store(&w.catch_up, true);
	while (w.last_rev < upto && fault_now() < deadline) {
		session(&w, w.member, deadline - fault_now());
		if (w.last_rev < upto)
			w.member = (w.member + 1) % FAULT_MEMBERS;
	}
	while (w.n && w.ev[w.n - 1].rev > upto)
		w.n--;
	*out = w.ev;
	*n = w.n;
	return w.last_rev >= upto ? 0 : -ETIMEDOUT;
}
