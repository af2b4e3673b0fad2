/* Benchmark load generator: etcd benchmark workloads over gRPC, with latency percentiles. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "h2client.h"
#include "lg_opts.h"
#include "lg_phase_ctl.h"
#include "lg_phases.h"
#include "lg_stats.h"
#include "lg_verify.h"
#include "lg_watch.h"
#include "rpc.pb-c.h"

#define PATH_PUT "/etcdserverpb.KV/Put"
#define PATH_RANGE "/etcdserverpb.KV/Range"
#define PATH_TXN "/etcdserverpb.KV/Txn"
#define PATH_GRANT "/etcdserverpb.Lease/LeaseGrant"
#define PATH_KEEPALIVE "/etcdserverpb.Lease/LeaseKeepAlive"
/* etcd's benchmark grants its keep-alive leases with this TTL (seconds). */
#define LEASE_TTL 100
#define MAX_TXN_OPS 128

enum lg_phase { PHASE_PRELOAD, PHASE_LOAD };
enum lg_kind { K_PUT, K_RANGE, K_TXN, K_GRANT, K_KEEPALIVE };

struct lg_run {
	const struct lg_opts *o;
	enum lg_phase phase;
	uint64_t t_measure, t_end; /* monotonic ns; t_end 0 in requests mode */
	atomic_uint_fast64_t remaining; /* requests mode: measured calls left to start */
	atomic_uint_fast64_t next_key;  /* preload: next key to put */
	atomic_uint_fast64_t finished;  /* calls finished by every worker (lg_phases reads it) */
	uint8_t *value;
};

struct lg_worker;

/* One of a connection's --streams call slots: slot i always keeps lease i alive. */
struct lg_call {
	struct lg_worker *w;
	uint64_t start;
	enum lg_kind kind;
	unsigned msgs;  /* streaming answers received */
	bool msg_ok;    /* each of them checked out */
	int64_t lease;  /* lease-keepalive: this slot's lease (0 until granted) */
};

struct lg_worker {
	pthread_t th;
	struct lg_run *run;
	struct h2c_conn *conn;
	uint64_t rng;
	uint8_t *msg;
	struct lg_call *calls;
	unsigned *free_slots, n_free;
	struct lg_lat lat;
	uint64_t ok, errors, measured_errors, last_done;
	int err;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static bool call_verify(struct lg_call *c, const struct lg_opts *o, int grpc_status,
			const uint8_t *body, size_t len)
{
	if (grpc_status != 0)
		return false;
	switch (c->kind) {
	case K_KEEPALIVE:
		return c->msgs == 1 && c->msg_ok;
	case K_GRANT:
		return lg_verify_grant(body, len, LEASE_TTL, &c->lease);
	default:
		break;
	}
	if (len < 5)
		return false;
	if (!o->verify)
		return true;
	return c->kind == K_PUT	  ? lg_verify_put(body, len)
	       : c->kind == K_TXN ? lg_verify_txn_put(body, len, o->txn_ops)
				  : lg_verify_range(body, len, o->value_size);
}

/* A finished call: measured when it started inside the window and ended before its end. */
static void on_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
		    size_t body_len)
{
	struct lg_worker *w = conn_user;
	struct lg_call *c = call_user;
	struct lg_run *r = w->run;
	uint64_t now = lg_now_ns();
	bool measured = r->phase == PHASE_LOAD && c->start >= r->t_measure &&
			(!r->t_end || now <= r->t_end);
	bool ok = call_verify(c, r->o, grpc_status, body, body_len);

	w->free_slots[w->n_free++] = (unsigned)(c - w->calls);
	atomic_fetch_add_explicit(&r->finished, 1, memory_order_relaxed);
	if (!ok)
		w->errors++;
	if (!measured)
		return;
	w->last_done = now;
	if (!ok) {
		w->measured_errors++;
		return;
	}
	w->ok++;
	if (lg_lat_add(&w->lat, now - c->start) && !w->err)
		w->err = -ENOMEM;
}

/* A keep-alive answer on a call's stream: counted and checked when the call ends. */
static void on_msg(void *conn_user, void *call_user, const uint8_t *msg, size_t len)
{
	struct lg_call *c = call_user;

	(void)conn_user;
	c->msg_ok = (c->msgs++ == 0) && lg_verify_keepalive(msg, len, c->lease);
}

static int key_of(const struct lg_opts *o, uint64_t k, char *key, size_t cap)
{
	return snprintf(key, cap, "%s%08" PRIu64, o->prefix, k);
}

/* Packs the request of call c (key number k) into w->msg; returns its length and sets
 * *path. */
static size_t pack_call(struct lg_worker *w, struct lg_call *c, uint64_t k, const char **path)
{
	const struct lg_opts *o = w->run->o;
	char key[MAX_TXN_OPS][96];
	int klen = key_of(o, k, key[0], sizeof(key[0]));

	switch (c->kind) {
	case K_PUT: {
		Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;

		req.key.data = (uint8_t *)key[0];
		req.key.len = (size_t)klen;
		req.value.data = w->run->value;
		req.value.len = o->value_size;
		*path = PATH_PUT;
		return etcdserverpb__put_request__pack(&req, w->msg);
	}
	case K_TXN: {
		Etcdserverpb__PutRequest puts[MAX_TXN_OPS];
		Etcdserverpb__RequestOp ops[MAX_TXN_OPS], *opp[MAX_TXN_OPS];
		Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;

		for (unsigned i = 0; i < o->txn_ops; i++) {
			/* Consecutive keys, as etcd's tool: a txn may not put one key twice. */
			uint64_t ki = (k + i) % o->keys;

			etcdserverpb__put_request__init(&puts[i]);
			etcdserverpb__request_op__init(&ops[i]);
			puts[i].key.data = (uint8_t *)key[i];
			puts[i].key.len = (size_t)key_of(o, ki, key[i], sizeof(key[i]));
			puts[i].value.data = w->run->value;
			puts[i].value.len = o->value_size;
			ops[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
			ops[i].request_put = &puts[i];
			opp[i] = &ops[i];
		}
		req.n_success = o->txn_ops;
		req.success = opp;
		*path = PATH_TXN;
		return etcdserverpb__txn_request__pack(&req, w->msg);
	}
	case K_GRANT: {
		Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;

		req.ttl = LEASE_TTL;
		*path = PATH_GRANT;
		return etcdserverpb__lease_grant_request__pack(&req, w->msg);
	}
	case K_KEEPALIVE: {
		Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;

		req.id = c->lease;
		*path = PATH_KEEPALIVE;
		return etcdserverpb__lease_keep_alive_request__pack(&req, w->msg);
	}
	case K_RANGE:
		break;
	}
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;

	req.key.data = (uint8_t *)key[0];
	req.key.len = (size_t)klen;
	req.serializable = o->serializable;
	*path = PATH_RANGE;
	return etcdserverpb__range_request__pack(&req, w->msg);
}

/* The kind of the next load call on slot c. */
static enum lg_kind load_kind(struct lg_worker *w)
{
	const struct lg_opts *o = w->run->o;

	switch (o->workload) {
	case LG_GET:
		return K_RANGE;
	case LG_MIXED:
		return rng_next(&w->rng) % 100 >= o->get_percent ? K_PUT : K_RANGE;
	case LG_TXN_PUT:
		return K_TXN;
	case LG_LEASE_KEEPALIVE:
		return K_KEEPALIVE;
	default:
		return K_PUT;
	}
}

/* Starts one more call on a free slot if the phase wants one. Returns 1 started, 0 none,
 * -errno. */
static int submit_next(struct lg_worker *w, uint64_t now)
{
	struct lg_run *r = w->run;
	const struct lg_opts *o = r->o;
	unsigned slot = w->free_slots[w->n_free - 1];
	struct lg_call *c = &w->calls[slot];
	const char *path;
	uint64_t k = 0;
	size_t len;
	int rv;

	if (r->phase == PHASE_PRELOAD && o->workload == LG_LEASE_KEEPALIVE) {
		if (c->lease)
			return 0; /* free slots are granted ones only once all are */
		c->kind = K_GRANT;
	} else if (r->phase == PHASE_PRELOAD) {
		k = atomic_fetch_add(&r->next_key, 1);
		if (k >= o->keys)
			return 0;
		c->kind = K_PUT;
	} else {
		if (r->t_end && now >= r->t_end)
			return 0;
		if (!r->t_end && now >= r->t_measure) {
			uint64_t left = atomic_fetch_sub(&r->remaining, 1);

			/* Zero or wrapped below it: every measured call is started. */
			if (left == 0 || left > (uint64_t)INT64_MAX)
				return 0;
		}
		k = rng_next(&w->rng) % o->keys;
		c->kind = load_kind(w);
	}
	len = pack_call(w, c, k, &path);
	c->msgs = 0;
	c->msg_ok = false;
	c->start = lg_now_ns();
	if (c->kind == K_KEEPALIVE)
		rv = h2c_stream_open(w->conn, path, w->msg, len, false, on_msg, c, NULL);
	else
		rv = h2c_call_submit(w->conn, path, w->msg, len, c);
	if (rv)
		return rv;
	w->n_free--;
	return 1;
}

static void *worker_main(void *arg)
{
	struct lg_worker *w = arg;
	uint64_t deadline = 0;
	bool more = true;

	while (!w->err) {
		uint64_t now = lg_now_ns();

		while (more && w->n_free) {
			int rv = submit_next(w, now);

			if (rv < 0)
				w->err = rv;
			more = rv > 0;
		}
		if (!more && !h2c_in_flight(w->conn))
			break;
		if (!more && !deadline)
			deadline = now + LG_DRAIN_NS;
		if (deadline && now > deadline) {
			fprintf(stderr, "loadgen: %zu calls still running after the load\n",
				h2c_in_flight(w->conn));
			w->err = -ETIMEDOUT;
			break;
		}
		if (!w->err)
			w->err = h2c_poll(w->conn, 100);
	}
	return NULL;
}

/* Runs one phase on every worker's connection and waits for all. Returns 0 or -errno. */
static int run_phase(struct lg_run *r, struct lg_worker *ws, unsigned n, enum lg_phase phase)
{
	int err = 0;

	r->phase = phase;
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i])) {
			for (unsigned j = 0; j < i; j++)
				pthread_join(ws[j].th, NULL);
			return -EAGAIN;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(ws[i].th, NULL);
		if (ws[i].err && !err) {
			fprintf(stderr, "loadgen: connection %u: %s\n", i, strerror(-ws[i].err));
			err = ws[i].err;
		}
	}
	return err;
}

/* Every slot of every connection must hold a granted lease after the preload. */
static int check_leases(const struct lg_opts *o, const struct lg_worker *ws)
{
	for (unsigned i = 0; i < o->conns; i++) {
		for (unsigned s = 0; s < o->streams; s++) {
			if (!ws[i].calls[s].lease) {
				fprintf(stderr, "loadgen: a LeaseGrant (TTL %d) failed\n",
					LEASE_TTL);
				return -EPROTO;
			}
		}
	}
	return 0;
}

/* Sums the workers into res (its latencies merged and sorted). Returns 0 or -ENOMEM. */
static int collect(const struct lg_opts *o, struct lg_worker *ws, const struct lg_run *r,
		   struct lg_result *res)
{
	uint64_t end = r->t_end;

	res->finished = atomic_load(&r->finished);
	for (unsigned i = 0; i < o->conns; i++) {
		res->ok += ws[i].ok;
		res->errors += ws[i].errors;
		res->measured_errors += ws[i].measured_errors;
		if (!r->t_end && ws[i].last_done > end)
			end = ws[i].last_done;
		if (lg_lat_merge(&res->lat, &ws[i].lat))
			return -ENOMEM;
	}
	lg_lat_sort(&res->lat);
	res->secs = end > r->t_measure ? (double)(end - r->t_measure) / 1e9 : 0;
	return 0;
}

static void report(const struct lg_opts *o, const struct lg_result *res)
{
	const struct lg_lat *l = &res->lat;
	double rps = res->secs > 0 ? (double)res->ok / res->secs : 0;

	printf("loadgen: %s workload, %u connections x %u streams, %u keys, %u-byte values, "
	       "%s gets%s\n", lg_workload_name(o->workload), o->conns, o->streams, o->keys,
	       o->value_size, o->serializable ? "serializable" : "linearizable",
	       o->verify ? ", responses decoded and checked" : "");
	printf("  measured %.2f s after %.2f s warm-up: %" PRIu64 " OK %s, %.0f per s\n",
	       res->secs, o->warmup_s, res->ok,
	       o->workload == LG_WATCH_LATENCY ? "events" : "calls", rps);
	printf("  latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
	       lg_lat_pct(l, 50) / 1e3, lg_lat_pct(l, 99) / 1e3, lg_lat_pct(l, 99.9) / 1e3,
	       lg_lat_pct(l, 100) / 1e3);
	if (res->puts)
		printf("  %" PRIu64 " puts, put latency p50 %.1f us, p99 %.1f us\n", res->puts,
		       lg_lat_pct(&res->put_lat, 50) / 1e3, lg_lat_pct(&res->put_lat, 99) / 1e3);
	printf("  non-OK responses: %" PRIu64 " (%" PRIu64 " in the measured window)\n",
	       res->errors, res->measured_errors);
	printf("  calls finished in all (preload and warm-up included): %" PRIu64 "\n",
	       res->finished);
	/* One line for scripts. */
	printf("result: workload=%s ok=%" PRIu64 " errors=%" PRIu64 " calls=%" PRIu64
	       " seconds=%.3f rps=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
	       " puts=%" PRIu64 " put_p50_us=%.1f put_p99_us=%.1f\n",
	       lg_workload_name(o->workload), res->ok, res->errors, res->finished, res->secs,
	       rps, lg_lat_pct(l, 50) / 1e3, lg_lat_pct(l, 99) / 1e3, lg_lat_pct(l, 99.9) / 1e3,
	       lg_lat_pct(l, 100) / 1e3, res->puts, lg_lat_pct(&res->put_lat, 50) / 1e3,
	       lg_lat_pct(&res->put_lat, 99) / 1e3);
}

/* The unary and keep-alive workloads: conns threads, each streams calls in flight. */
static int run_calls(const struct lg_opts *o, struct lg_result *res, struct lg_phases *phases)
{
	struct lg_run run = { .o = o };
	struct lg_worker *ws = calloc(o->conns, sizeof(*ws));
	int err = 0;

	run.value = malloc(o->value_size + 1);
	if (!ws || !run.value) {
		err = -ENOMEM;
		goto cleanup;
	}
	lg_fill_value(run.value, o->value_size);
	for (unsigned i = 0; i < o->conns && !err; i++) {
		struct lg_worker *w = &ws[i];

		w->run = &run;
		w->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		w->msg = malloc((size_t)o->txn_ops * (o->value_size + sizeof(o->prefix) + 64));
		w->calls = calloc(o->streams, sizeof(*w->calls));
		w->free_slots = calloc(o->streams, sizeof(*w->free_slots));
		if (!w->msg || !w->calls || !w->free_slots) {
			err = -ENOMEM;
			break;
		}
		for (unsigned s = 0; s < o->streams; s++) {
			w->calls[s].w = w;
			w->free_slots[s] = o->streams - 1 - s;
		}
		w->n_free = o->streams;
		err = h2c_connect(&w->conn, o->host, o->port, true, on_done, w);
		if (err)
			fprintf(stderr, "loadgen: connect %s:%u: %s\n", o->host, o->port,
				strerror(-err));
	}
	if (!err && (o->workload == LG_GET || o->workload == LG_MIXED ||
		     o->workload == LG_LEASE_KEEPALIVE))
		err = run_phase(&run, ws, o->conns, PHASE_PRELOAD);
	if (!err && o->workload == LG_LEASE_KEEPALIVE)
		err = check_leases(o, ws);
	if (err)
		goto cleanup;
	run.t_measure = lg_now_ns() + (uint64_t)(o->warmup_s * 1e9);
	run.t_end = o->duration_s > 0 ? run.t_measure + (uint64_t)(o->duration_s * 1e9) : 0;
	atomic_store(&run.remaining, o->requests);
	if (phases) {
		err = lg_phases_start(phases, &run.finished, run.t_measure);
		if (err)
			goto cleanup;
	}
	err = run_phase(&run, ws, o->conns, PHASE_LOAD);
	if (phases) {
		int perr = lg_phases_join(phases);

		if (perr && !err) {
			fprintf(stderr, "loadgen: phases of process %d: %s\n",
				o->phase_pid ? o->phase_pid : o->window_pid,
				lg_phases_error(phases));
			err = perr;
		}
	}
	if (!err)
		err = collect(o, ws, &run, res);
cleanup:
	for (unsigned i = 0; ws && i < o->conns; i++) {
		h2c_close(ws[i].conn);
		free(ws[i].msg);
		free(ws[i].calls);
		free(ws[i].free_slots);
		lg_lat_free(&ws[i].lat);
	}
	free(ws);
	free(run.value);
	return err;
}

/* --phase-ctl: the switcher connected and answering, attached. Returns 0 or -errno after
 * printing what it saw. */
static int open_switcher(const struct lg_opts *o, struct lg_phases **out)
{
	struct lg_phase_ctl *ctl;
	char why[256];
	int err = lg_phase_ctl_open(o->phase_ctl, LG_PHASE_CTL_TIMEOUT_MS, &ctl, why, sizeof(why));

	if (!err)
		err = lg_phases_new_ctl(out, o->phase_pid, ctl, o->phase_ms, o->duration_s, why,
					sizeof(why));
	if (err)
		fprintf(stderr, "loadgen: probe switcher: %s\n", why);
	return err;
}

int main(int argc, char **argv)
{
	struct lg_opts o;
	struct lg_result res = { 0 };
	struct lg_phases *phases = NULL;
	int rv = lg_opts_parse(&o, argc, argv), err;

	if (rv)
		return rv > 0 ? 0 : 2;
	if (o.phase_ctl[0] && open_switcher(&o, &phases))
		return 2;
	if (o.phase_pid && !o.phase_ctl[0]) {
		err = lg_phases_new(&phases, o.phase_pid, o.phase_sem, o.phase_ms, o.duration_s);
		if (err) {
			fprintf(stderr, "loadgen: the batch probe semaphore of process %d at %#" PRIx64
					": %s\n", o.phase_pid, o.phase_sem,
				err == -ENOENT ? "0, no agent attached" : strerror(-err));
			return 2;
		}
	}
	if (o.window_pid) {
		err = lg_phases_new_windows(&phases, o.window_pid, o.window_ms, o.duration_s);
		if (err) {
			fprintf(stderr, "loadgen: windows of %u ms in %g s: %s\n", o.window_ms,
				o.duration_s, strerror(-err));
			return 2;
		}
	}
	if (o.txn_ops > MAX_TXN_OPS || (o.workload == LG_TXN_PUT && o.txn_ops > o.keys)) {
		fprintf(stderr, "loadgen: --txn-ops must be at most %d and at most --keys\n",
			MAX_TXN_OPS);
		return 2;
	}
	err = o.workload == LG_WATCH_LATENCY ? lg_watch_run(&o, &res) : run_calls(&o, &res, phases);
	if (!err) {
		report(&o, &res);
		if (phases)
			lg_phases_print(phases, stdout);
	}
	else
		fprintf(stderr, "loadgen: %s\n", strerror(-err));
	lg_phases_free(phases);
	lg_lat_free(&res.lat);
	lg_lat_free(&res.put_lat);
	return err ? 1 : res.errors ? 3 : 0;
}
