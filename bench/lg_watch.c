/* Benchmark load generator: the watch-latency workload (put-to-event latency per watcher). */
#include "lg_watch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2client.h"
#include "lg_verify.h"
#include "rpc.pb-c.h"

#define PATH_WATCH "/etcdserverpb.Watch/Watch"
#define PATH_PUT "/etcdserverpb.KV/Put"
#define MAX_PUTS (1u << 20)
#define SETUP_NS (10ULL * 1000000000ULL)

struct wl_run;

struct wl_watcher {
	int64_t watch_id;
	uint64_t next_seq; /* the put whose event comes next */
};

struct wl_stream {
	struct wl_conn *wc;
	struct wl_watcher *w;
	unsigned n_created;
};

struct wl_conn {
	struct wl_run *run;
	struct h2c_conn *conn;
	struct wl_stream *streams;
	struct lg_lat lat;
	uint64_t events, measured;
	int err;
};

struct wl_run {
	const struct lg_opts *o;
	char key[96];
	size_t key_len;
	uint8_t *value; /* scratch for building and checking values */
	uint64_t t_measure, t_end;
	uint64_t *put_start; /* per put: when it was sent (ns) */
	bool stop;
	unsigned watchers; /* in all */
	uint64_t events;   /* accepted events, all watchers */
	uint64_t bad;      /* wrong events */
	bool lost;         /* a watch stream ended */
	/* The putter's connection's one call. */
	bool put_done, put_ok;
	/* every connection, the watch connections first: one thread polls them all */
	struct h2c_conn *all[H2C_POLL_MAX];
	unsigned n_all;
};

/* The value of put number seq: its number in the first 8 bytes, then the usual filler. */
static void value_of(uint8_t *v, size_t n, uint64_t seq)
{
	lg_fill_value(v, n);
	for (unsigned i = 0; i < 8 && i < n; i++)
		v[i] = (uint8_t)(seq >> (8 * i));
}

static uint64_t seq_of(const uint8_t *v)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < 8; i++)
		s |= (uint64_t)v[i] << (8 * i);
	return s;
}

static void note(struct wl_run *r, bool good)
{
	if (good)
		r->events++;
	else
		r->bad++;
}

/* One event for watcher w: must be the PUT of the key with the value of the put it waits for. */
static bool event_ok(struct wl_run *r, struct wl_watcher *w, const Mvccpb__Event *ev,
		     uint8_t *scratch)
{
	const struct lg_opts *o = r->o;
	const Mvccpb__KeyValue *kv = ev->kv;

	if (ev->type != MVCCPB__EVENT__EVENT_TYPE__PUT || !kv || kv->key.len != r->key_len ||
	    memcmp(kv->key.data, r->key, r->key_len) || kv->value.len != o->value_size ||
	    seq_of(kv->value.data) != w->next_seq || kv->mod_revision <= 0)
		return false;
	value_of(scratch, o->value_size, w->next_seq);
	return memcmp(scratch, kv->value.data, o->value_size) == 0;
}

static struct wl_watcher *watcher_of(struct wl_stream *s, unsigned per, int64_t id)
{
	for (unsigned i = 0; i < s->n_created && i < per; i++)
		if (s->w[i].watch_id == id)
			return &s->w[i];
	return NULL;
}

static void on_watch_msg(void *conn_user, void *call_user, const uint8_t *msg, size_t len)
{
	struct wl_conn *wc = conn_user;
	struct wl_stream *s = call_user;
	struct wl_run *r = wc->run;
	uint64_t now = lg_now_ns();
	Etcdserverpb__WatchResponse *resp = etcdserverpb__watch_response__unpack(NULL, len, msg);
	struct wl_watcher *w;
	uint8_t scratch[r->o->value_size + 1];

	if (!resp || resp->canceled) {
		note(r, false);
		goto cleanup;
	}
	if (resp->created) {
		if (s->n_created < r->o->watchers)
			s->w[s->n_created++].watch_id = resp->watch_id;
		else
			note(r, false);
		goto cleanup;
	}
	w = watcher_of(s, r->o->watchers, resp->watch_id);
	for (size_t i = 0; i < resp->n_events; i++) {
		uint64_t start;
		bool good = w && event_ok(r, w, resp->events[i], scratch);

		if (good) {
			start = r->put_start[w->next_seq];
			w->next_seq++;
			wc->events++;
			if (start >= r->t_measure && start < r->t_end) {
				wc->measured++;
				if (lg_lat_add(&wc->lat, now - start) && !wc->err)
					wc->err = -ENOMEM;
			}
		}
		note(r, good);
	}
cleanup:
	etcdserverpb__watch_response__free_unpacked(resp, NULL);
}

static void on_watch_done(void *conn_user, void *call_user, int grpc_status,
			  const uint8_t *body, size_t len)
{
	struct wl_conn *wc = conn_user;

	(void)call_user;
	(void)grpc_status;
	(void)body;
	(void)len;
	if (!wc->run->stop)
		wc->run->lost = true;
}

static void on_put_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
			size_t len)
{
	struct wl_run *r = conn_user;

	(void)call_user;
	r->put_done = true;
	r->put_ok = grpc_status == 0 && lg_verify_put(body, len);
}

/* Opens conn i's streams and sends every create request. Returns 0 or -errno. */
static int conn_open(struct wl_run *r, struct wl_conn *wc)
{
	const struct lg_opts *o = r->o;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
	uint8_t buf[256];
	size_t len;
	int err;

	cr.key.data = (uint8_t *)r->key;
	cr.key.len = r->key_len;
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	len = etcdserverpb__watch_request__pack(&req, buf);
	wc->run = r;
	wc->streams = calloc(o->streams, sizeof(*wc->streams));
	if (!wc->streams)
		return -ENOMEM;
	err = h2c_connect(&wc->conn, o->host, o->port, false, on_watch_done, wc);
	for (unsigned s = 0; !err && s < o->streams; s++) {
		struct wl_stream *st = &wc->streams[s];
		int32_t id;

		st->wc = wc;
		st->w = calloc(o->watchers, sizeof(*st->w));
		if (!st->w)
			return -ENOMEM;
		err = h2c_stream_open(wc->conn, PATH_WATCH, buf, len, true, on_watch_msg, st, &id);
		for (unsigned k = 1; !err && k < o->watchers; k++)
			err = h2c_stream_send(wc->conn, id, buf, len);
	}
	return err;
}

/* Polls every connection until each watcher is created. Returns 0 or -errno. */
static int wait_created(struct wl_run *r, struct wl_conn *wcs)
{
	const struct lg_opts *o = r->o;
	uint64_t deadline = lg_now_ns() + SETUP_NS;

	for (;;) {
		unsigned created = 0;
		int err = h2c_poll_many(r->all, r->n_all, 1);

		if (err)
			return err;
		for (unsigned i = 0; i < o->conns; i++) {
			for (unsigned s = 0; s < o->streams; s++)
				created += wcs[i].streams[s].n_created;
		}
		if (r->bad || r->lost)
			return -EPROTO;
		if (created == r->watchers)
			return 0;
		if (lg_now_ns() > deadline) {
			fprintf(stderr, "loadgen: %u of %u watchers created in 10 s\n", created,
				r->watchers);
			return -ETIMEDOUT;
		}
	}
}

/* The first error a watch connection met (an event it could not record), or 0. */
static int watch_err(const struct wl_run *r, const struct wl_conn *wcs)
{
	for (unsigned i = 0; i < r->o->conns; i++) {
		if (wcs[i].err)
			return wcs[i].err;
	}
	return 0;
}

/* Polls every connection until every watcher got the event of put number seq. Returns 0
 * or -errno. */
static int wait_events(struct wl_run *r, const struct wl_conn *wcs, uint64_t seq)
{
	uint64_t want = (seq + 1) * r->watchers, deadline = lg_now_ns() + LG_DRAIN_NS;
	int err = 0;

	while (!err && r->events < want && !r->bad && !r->lost) {
		err = h2c_poll_many(r->all, r->n_all, 100);
		if (!err)
			err = watch_err(r, wcs);
		if (!err && lg_now_ns() > deadline) {
			fprintf(stderr, "loadgen: %" PRIu64 " of %u events of put %" PRIu64
				" missing after 10 s\n", want - r->events, r->watchers, seq);
			return -ETIMEDOUT;
		}
	}
	if (r->bad)
		fprintf(stderr, "loadgen: %" PRIu64 " watch answers were not the next put's event\n",
			r->bad);
	else if (r->lost)
		fprintf(stderr, "loadgen: a watch stream ended during the load\n");
	return r->bad || r->lost ? -EPROTO : err;
}

/* One put of the key, answered. Returns 0 or -errno. */
static int put_one(struct wl_run *r, struct h2c_conn *pc, uint64_t seq, uint8_t *msg)
{
	const struct lg_opts *o = r->o;
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	size_t len;
	int err;

	value_of(r->value, o->value_size, seq);
	req.key.data = (uint8_t *)r->key;
	req.key.len = r->key_len;
	req.value.data = r->value;
	req.value.len = o->value_size;
	len = etcdserverpb__put_request__pack(&req, msg);
	r->put_done = false;
	r->put_start[seq] = lg_now_ns();
	err = h2c_call_submit(pc, PATH_PUT, msg, len, NULL);
	while (!err && !r->put_done)
		err = h2c_poll_many(r->all, r->n_all, 100);
	if (!err && !r->put_ok)
		err = -EPROTO;
	return err;
}

/* Puts until the window ends. Returns 0 or -errno. */
static int put_loop(struct wl_run *r, struct h2c_conn *pc, const struct wl_conn *wcs,
		    struct lg_result *res)
{
	const struct lg_opts *o = r->o;
	uint8_t *msg = malloc(o->value_size + sizeof(r->key) + 32);
	uint64_t t0 = lg_now_ns(), seq;
	int err = msg ? 0 : -ENOMEM;

	for (seq = 0; !err && seq < MAX_PUTS; seq++) {
		uint64_t start, now = lg_now_ns();

		if (now >= r->t_end || (o->requests && res->puts >= o->requests))
			break;
		if (o->put_rate > 0) {
			uint64_t at = t0 + (uint64_t)((double)seq * 1e9 / o->put_rate);
			struct timespec ts = { .tv_sec = (time_t)(at / 1000000000ULL),
					       .tv_nsec = (long)(at % 1000000000ULL) };

			if (at > now)
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		err = put_one(r, pc, seq, msg);
		start = r->put_start[seq];
		if (!err && start >= r->t_measure && start < r->t_end) {
			res->puts++;
			if (lg_lat_add(&res->put_lat, lg_now_ns() - start))
				err = -ENOMEM;
		}
		if (!err)
			err = wait_events(r, wcs, seq);
	}
	if (!err && o->requests)
		r->t_end = lg_now_ns(); /* the window: until the last measured put's events */
	res->finished += seq;
	free(msg);
	return err;
}

/*
 * One thread serves every connection: it sends a put, then polls the put's connection and
 * the watch connections at once until the answer and every watcher's event are in. So an
 * event and the next put are no hand-off between threads apart (a wake-up of another thread
 * costs tens of microseconds on a VM), and what the client adds to a round stays small.
 */
static int run_all(struct wl_run *r, struct wl_conn *wcs, struct lg_result *res)
{
	const struct lg_opts *o = r->o;
	struct h2c_conn *pc = NULL;
	int err = 0;

	for (unsigned i = 0; !err && i < o->conns; i++) {
		err = conn_open(r, &wcs[i]);
		if (wcs[i].conn)
			r->all[r->n_all++] = wcs[i].conn;
	}
	if (!err)
		err = h2c_connect(&pc, o->host, o->port, true, on_put_done, r);
	if (!err) {
		r->all[r->n_all++] = pc;
		err = wait_created(r, wcs);
	}
	r->t_measure = lg_now_ns() + (uint64_t)(o->warmup_s * 1e9);
	r->t_end = o->duration_s > 0 ? r->t_measure + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	if (!err)
		err = put_loop(r, pc, wcs, res);
	r->stop = true;
	if (!err)
		err = watch_err(r, wcs);
	h2c_close(pc);
	return err;
}

int lg_watch_run(const struct lg_opts *o, struct lg_result *res)
{
	struct wl_run r = { .o = o, .watchers = o->conns * o->streams * o->watchers };
	struct wl_conn *wcs = calloc(o->conns, sizeof(*wcs));
	int err = 0;

	r.key_len = (size_t)snprintf(r.key, sizeof(r.key), "%swatched", o->prefix);
	r.value = malloc(o->value_size + 1);
	r.put_start = calloc(MAX_PUTS, sizeof(*r.put_start));
	if (o->value_size < 8) {
		fprintf(stderr, "loadgen: watch-latency needs --value-size 8 or more\n");
		err = -EINVAL;
	} else if (o->conns + 1 > H2C_POLL_MAX) {
		fprintf(stderr, "loadgen: watch-latency takes at most %u --conns\n",
			H2C_POLL_MAX - 1);
		err = -EINVAL;
	} else if (!wcs || !r.value || !r.put_start) {
		err = -ENOMEM;
	} else {
		err = run_all(&r, wcs, res);
	}
	for (unsigned i = 0; wcs && i < o->conns; i++) {
		if (!err)
			err = lg_lat_merge(&res->lat, &wcs[i].lat);
		res->ok += wcs[i].measured;
		res->finished += wcs[i].events;
		h2c_close(wcs[i].conn);
		for (unsigned s = 0; wcs[i].streams && s < o->streams; s++)
			free(wcs[i].streams[s].w);
		free(wcs[i].streams);
		lg_lat_free(&wcs[i].lat);
	}
	res->errors = res->measured_errors = r.bad;
	res->secs = err ? 0 : (double)(r.t_end - r.t_measure) / 1e9;
	lg_lat_sort(&res->lat);
	lg_lat_sort(&res->put_lat);
	free(wcs);
	free(r.value);
	free(r.put_start);
	return err;
}
