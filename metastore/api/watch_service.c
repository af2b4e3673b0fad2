/* etcdserverpb.Watch service: watch streams, watchers over key ranges, events from the log. */
#include "api/watch_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/reply.h"
#include "api/watch_pack.h"
#include "probe/trace.h"
#include "rpc.pb-c.h"

/* Events sent per WatchResponse at most, and bytes of events beyond which a response ends at
 * the next revision (one revision's events always go together, up to WATCH_BATCH). */
#define WATCH_BATCH 256
#define WATCH_RESP_BYTES (32u * 1024)
/* Log events one watcher scans per step, so that a narrow watcher far behind on a busy log
 * takes its turn like the others instead of holding the loop. */
#define WATCH_SCAN_STEP (4 * WATCH_BATCH)
/*
 * The send buffer of a stream, as etcd's watchable store bounds a stream's channel: once
 * this many response bytes wait on the call (the client reads slower than events come),
 * every watcher of the stream stops where it is (its log position) and the stream resumes,
 * from the log, when the client has taken half of them. Memory per stream is this plus one
 * response, however many events the client missed.
 */
#define WATCH_STREAM_BUF (128u * 1024)
#define WATCH_STREAM_RESUME (WATCH_STREAM_BUF / 2)
/* Watch id etcd uses for responses that belong to no watcher (progress). */
#define WATCH_ID_NONE (-1)
/* Request bytes a stream may send before its member is ready (they wait, in order); beyond,
 * the stream ends as a call would at the request timeout. */
#define WATCH_HELD_MAX (256u * 1024)
#define ERR_COMPACTED "etcdserver: mvcc: required revision has been compacted"

struct watcher {
	int64_t id;
	uint8_t *key, *end; /* owned copies; end_len 0: the single key */
	size_t key_len, end_len;
	int64_t min_rev;    /* events below this revision are not for this watcher */
	uint64_t pos;       /* event log position of the next unseen event */
	bool prev_kv, no_put, no_delete;
	struct watcher *next;
};

struct watch_stream {
	struct watch_hub *hub;
	struct grpc_call *call;
	int64_t next_id;
	struct watcher *watchers;
	bool blocked; /* send buffer full: producing again when the call drains */
	/* requests that came before this member was ready (ms_raft_ready), each a 4-byte
	 * length and the message: a watch from "now" created then would start from the state
	 * the member had replayed so far and report what it applies next as new */
	struct ms_buf held;
	struct watch_stream *next, *prev;
};

struct watch_hub {
	struct kv_service *kv;
	struct watch_stream *streams;
	size_t nwatchers;
	watch_permit_fn permit; /* NULL: every create is allowed */
	void *permit_ctx;
	bool (*ready)(void *ctx); /* NULL: always */
	void *ready_ctx;
	size_t max_watchers; /* creates beyond are refused; 0: no limit */
	struct watch_pack *pack; /* events packed once for all their watchers */
	struct ms_buf events, frame; /* one response being built (reused) */
};

struct watch_hub *watch_hub_new(struct kv_service *kv)
{
	struct watch_hub *hub = calloc(1, sizeof(*hub));

	if (!hub)
		return NULL;
	hub->kv = kv;
	hub->pack = watch_pack_new();
	if (!hub->pack) {
		free(hub);
		return NULL;
	}
	return hub;
}

void watch_hub_free(struct watch_hub *hub)
{
	if (!hub)
		return;
	watch_pack_free(hub->pack);
	ms_buf_free(&hub->events);
	ms_buf_free(&hub->frame);
	free(hub);
}

void watch_hub_set_permit(struct watch_hub *hub, watch_permit_fn fn, void *ctx)
{
	hub->permit = fn;
	hub->permit_ctx = ctx;
}

void watch_hub_set_limit(struct watch_hub *hub, size_t max_watchers)
{
	hub->max_watchers = max_watchers;
}

size_t watch_hub_watchers(const struct watch_hub *hub)
{
	return hub->nwatchers;
}

static void watcher_free(struct watcher *w)
{
	free(w->key);
	free(w->end);
	free(w);
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al > bl) - (al < bl);
}

/* etcd's range convention: no end = one key; end "\0" = every key >= key. */
static bool watcher_covers(const struct watcher *w, const struct ms_kv *kv)
{
	int c = bytes_cmp(kv->key, kv->key_len, w->key, w->key_len);

	if (w->end_len == 0)
		return c == 0;
	if (c < 0)
		return false;
	return (w->end_len == 1 && w->end[0] == 0) ||
	       bytes_cmp(kv->key, kv->key_len, w->end, w->end_len) < 0;
}

/* Sends a response with no events (created, canceled, progress). */
static int send_status(struct watch_stream *st, int64_t id, bool created, bool canceled,
		       int64_t compact_rev, const char *reason)
{
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	int err;

	r.header = api_header(&a, st->hub->kv, ms_mvcc_rev(st->hub->kv->mvcc));
	r.watch_id = id;
	r.created = created;
	r.canceled = canceled;
	r.compact_revision = compact_rev;
	r.cancel_reason = (char *)(reason ? reason : "");
	err = a.failed ? -ENOMEM : grpc_call_send(st->call, &r.base);
	kv_pb_arena_free(&a);
	return err;
}

/* Bytes an event adds to a response, near enough to bound a response's size. */
static size_t event_bytes(const struct ms_event *ev, bool prev_kv)
{
	size_t n = 48 + ev->kv.key_len + ev->kv.value_len;

	if (prev_kv && ev->has_prev)
		n += 48 + ev->prev.key_len + ev->prev.value_len;
	return n;
}

enum { STEP_DONE, STEP_MORE, STEP_COMPACTED };

/*
 * Sends `w` one response of the next events it has not seen (at most WATCH_BATCH events, and
 * whole revisions up to about WATCH_RESP_BYTES), advancing its log position past what was
 * sent or filtered out.
 * Returns STEP_DONE when it has caught up, STEP_MORE when events may remain,
 * STEP_COMPACTED when its position was compacted away, or -errno.
 */
static int watcher_step(struct watch_stream *st, struct watcher *w)
{
	struct watch_hub *hub = st->hub;
	struct ms_mvcc *mvcc = hub->kv->mvcc;
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	uint32_t puts = 0, dels = 0;
	size_t k = 0, bytes = 0, scanned = 0;
	int64_t n = 0, last_rev = 0;
	int err = 0;

	hub->events.len = 0;
	while (k < WATCH_BATCH) {
		uint64_t at = w->pos;
		struct ms_event ev;

		n = ms_mvcc_events(mvcc, &w->pos, &ev, 1);
		if (n <= 0)
			break;
		/* the soft bounds end a response only between revisions: like etcd, the events of
		 * one transaction go out together (up to WATCH_BATCH of them) */
		if ((scanned >= WATCH_SCAN_STEP ||
		     (k && bytes + event_bytes(&ev, w->prev_kv) > WATCH_RESP_BYTES)) &&
		    (!k || ev.kv.mod_rev != last_rev)) {
			w->pos = at; /* the next response starts with it */
			break;
		}
		scanned++;
		if (ev.kv.mod_rev < w->min_rev || !watcher_covers(w, &ev.kv) ||
		    (ev.is_delete ? w->no_delete : w->no_put))
			continue;
		bytes += event_bytes(&ev, w->prev_kv);
		last_rev = ev.kv.mod_rev;
		/* packed now (the kv bytes stay valid until the next write), or taken from the
		 * cache where another watcher packed the same event */
		err = watch_pack_event(hub->pack, at, &ev, w->prev_kv && ev.has_prev, &hub->events);
		if (err)
			return err;
		ev.is_delete ? dels++ : puts++;
		k++;
	}
	if (n == -MS_MVCC_ECOMPACTED && !k)
		return STEP_COMPACTED;
	if (k) {
		r.header = api_header(&a, hub->kv, ms_mvcc_rev(mvcc));
		r.watch_id = w->id;
		err = a.failed ? -ENOMEM : watch_pack_response(&r, &hub->events, &hub->frame);
		if (!err)
			err = grpc_call_send_framed(st->call, hub->frame.data, hub->frame.len);
		if (!err)
			ms_trace_watch_events(w->id, puts, dels);
	}
	kv_pb_arena_free(&a);
	if (err)
		return err;
	if (n < 0 && n != -MS_MVCC_ECOMPACTED)
		return (int)n;
	return n == 0 ? STEP_DONE : STEP_MORE;
}

static void watcher_unlink(struct watch_stream *st, struct watcher **link)
{
	struct watcher *w = *link;

	*link = w->next;
	st->hub->nwatchers--;
	ms_probe_watch_cancel(w->id, (uint32_t)st->hub->nwatchers);
	watcher_free(w);
}

/*
 * Sends the stream's watchers what they have not seen, a response per watcher in turn,
 * until all have caught up or the send buffer is full; then the stream waits for the call
 * to drain (watchers keep their log positions, so nothing is lost or sent twice). A watcher
 * whose position was compacted away is canceled with the compaction revision, as etcd does.
 */
static void stream_pump(struct watch_stream *st)
{
	bool more = true;

	while (more && !st->blocked && !st->call->finished) {
		struct watcher **link = &st->watchers;

		more = false;
		while (*link) {
			struct watcher *w = *link;
			int rc;

			if (grpc_call_pending_bytes(st->call) >= WATCH_STREAM_BUF) {
				st->blocked = true;
				grpc_call_notify_writable(st->call, WATCH_STREAM_RESUME);
				return;
			}
			rc = watcher_step(st, w);
			if (rc < 0) {
				grpc_call_fault(st->call, "cannot send watch events");
				return;
			}
			if (rc == STEP_COMPACTED) {
				int64_t id = w->id;

				watcher_unlink(st, link);
				send_status(st, id, false, true,
					    ms_mvcc_compact_rev(st->hub->kv->mvcc), ERR_COMPACTED);
				continue;
			}
			more |= rc == STEP_MORE;
			link = &w->next;
		}
	}
}

static struct watcher *watcher_find(struct watch_stream *st, int64_t id, struct watcher ***link)
{
	struct watcher **p;

	for (p = &st->watchers; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

static void watch_create(struct watch_stream *st, const Etcdserverpb__WatchCreateRequest *req)
{
	struct ms_mvcc *mvcc = st->hub->kv->mvcc;
	struct watcher *w;
	int64_t id = req->watch_id, start = req->start_revision;
	int err;

	if (st->hub->permit && !st->hub->permit(st->call, req->key.data, req->key.len,
						req->range_end.data, req->range_end.len,
						st->hub->permit_ctx)) {
		send_status(st, WATCH_ID_NONE, true, true, 0, "etcdserver: permission denied");
		return;
	}
	if (st->hub->max_watchers && st->hub->nwatchers >= st->hub->max_watchers) {
		send_status(st, WATCH_ID_NONE, true, true, 0, ERR_TOO_MANY_WATCHES);
		return;
	}
	/* etcd: a requested id that is taken is refused; 0 (unset) lets the server choose. */
	if (id != 0 && watcher_find(st, id, NULL)) {
		send_status(st, id, false, true, 0, "etcdserver: duplicate watch ID provided");
		return;
	}
	if (id == 0)
		while (watcher_find(st, st->next_id, NULL))
			st->next_id++;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->key = malloc(req->key.len ? req->key.len : 1)) ||
	    !(w->end = malloc(req->range_end.len ? req->range_end.len : 1))) {
		if (w)
			watcher_free(w);
		grpc_call_fault(st->call, "out of memory creating a watcher");
		return;
	}
	w->id = id ? id : st->next_id++;
	if (req->key.len)
		memcpy(w->key, req->key.data, req->key.len);
	w->key_len = req->key.len;
	if (req->range_end.len)
		memcpy(w->end, req->range_end.data, req->range_end.len);
	w->end_len = req->range_end.len;
	w->prev_kv = req->prev_kv;
	for (size_t i = 0; i < req->n_filters; i++) {
		w->no_put |= req->filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT;
		w->no_delete |= req->filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE;
	}
	/* No start revision: from the next one. A future one: nothing before it. */
	w->min_rev = start > 0 ? start : ms_mvcc_rev(mvcc) + 1;
	err = ms_mvcc_event_seek(mvcc, w->min_rev, &w->pos);
	send_status(st, w->id, true, false, 0, NULL);
	if (err == -MS_MVCC_ECOMPACTED) {
		/* History is gone: etcd creates, then cancels with the compaction revision. */
		send_status(st, w->id, false, true, ms_mvcc_compact_rev(mvcc), ERR_COMPACTED);
		watcher_free(w);
		return;
	}
	w->next = st->watchers;
	st->watchers = w;
	st->hub->nwatchers++;
	ms_probe_watch_create(w->id, (uint32_t)st->hub->nwatchers);
	/* history from an old revision goes out as the client takes it, not all at once */
	stream_pump(st);
}

static void watch_cancel(struct watch_stream *st, int64_t id)
{
	struct watcher **link, *w = watcher_find(st, id, &link);

	/* Like etcd, an unknown id gets no answer. */
	if (!w)
		return;
	watcher_unlink(st, link);
	send_status(st, id, false, true, 0, NULL);
}

static void on_open(struct grpc_call *call, void *ctx)
{
	struct watch_hub *hub = ctx;
	struct watch_stream *st = calloc(1, sizeof(*st));

	if (!st) {
		grpc_call_fault(call, "out of memory opening a watch stream");
		return;
	}
	st->hub = hub;
	st->call = call;
	st->next = hub->streams;
	if (hub->streams)
		hub->streams->prev = st;
	hub->streams = st;
	call->user = st;
}

static void handle_message(struct watch_stream *st, const uint8_t *msg, size_t len)
{
	struct grpc_call *call = st->call;
	Etcdserverpb__WatchRequest *req;

	req = etcdserverpb__watch_request__unpack(NULL, len, msg);
	if (!req) {
		grpc_call_finish(call, MS_GRPC_INTERNAL, "grpc: error unmarshalling request");
		return;
	}
	switch (req->request_union_case) {
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST:
		watch_create(st, req->create_request);
		break;
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST:
		watch_cancel(st, req->cancel_request->watch_id);
		break;
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST:
		send_status(st, WATCH_ID_NONE, false, false, 0, NULL);
		break;
	default:
		break;
	}
	etcdserverpb__watch_request__free_unpacked(req, NULL);
}

/* Whether the member serves watches from its own state yet. */
static bool hub_ready(const struct watch_hub *hub)
{
	return !hub->ready || hub->ready(hub->ready_ctx);
}

/* Keeps a request for when the member is ready. */
static void hold_message(struct watch_stream *st, const uint8_t *msg, size_t len)
{
	uint8_t n[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };

	if (st->held.len + sizeof(n) + len > WATCH_HELD_MAX) {
		grpc_call_finish(st->call, MS_GRPC_UNAVAILABLE, MS_ERR_REQUEST_TIMEOUT);
		return;
	}
	if (ms_buf_append(&st->held, n, sizeof(n)) || ms_buf_append(&st->held, msg, len))
		grpc_call_fault(st->call, "out of memory holding a watch request");
}

/* The member is ready: the held requests run, in the order they came. */
static void run_held(struct watch_stream *st)
{
	struct ms_buf held = st->held;
	size_t off = 0;

	st->held = (struct ms_buf){ 0 };
	while (off + 4 <= held.len && !st->call->finished) {
		const uint8_t *p = held.data + off;
		size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
			     (size_t)p[3] << 24;

		handle_message(st, p + 4, len);
		off += 4 + len;
	}
	ms_buf_free(&held);
}

static void on_message(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct watch_stream *st = call->user;

	(void)ctx;
	if (!st)
		return;
	if (st->held.len || !hub_ready(st->hub))
		hold_message(st, msg, len);
	else
		handle_message(st, msg, len);
}

static void on_half_close(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void on_closed(struct grpc_call *call, void *ctx)
{
	struct watch_stream *st = call->user;
	struct watch_hub *hub = ctx;

	if (!st)
		return;
	while (st->watchers)
		watcher_unlink(st, &st->watchers);
	ms_buf_free(&st->held);
	if (st->prev)
		st->prev->next = st->next;
	else
		hub->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st);
	call->user = NULL;
}

static void on_writable(struct grpc_call *call, void *ctx)
{
	struct watch_stream *st = call->user;

	(void)ctx;
	if (!st)
		return;
	st->blocked = false;
	stream_pump(st);
}

void watch_hub_notify(void *arg)
{
	struct watch_hub *hub = arg;
	bool ready = hub_ready(hub);

	for (struct watch_stream *st = hub->streams; st; st = st->next) {
		if (st->held.len && ready)
			run_held(st);
		/* a blocked stream catches up from the log when it drains, not now */
		if (!st->blocked)
			stream_pump(st);
	}
}

void watch_hub_set_ready(struct watch_hub *hub, bool (*ready)(void *ctx), void *ctx)
{
	hub->ready = ready;
	hub->ready_ctx = ctx;
}

void watch_hub_register(struct watch_hub *hub, struct ms_server *srv)
{
	static const struct grpc_stream_ops ops = {
		.open = on_open,
		.message = on_message,
		.half_close = on_half_close,
		.closed = on_closed,
		.writable = on_writable,
	};

	ms_server_handle_stream(srv, MS_METHOD_WATCH_WATCH, &ops, hub);
}
