/* Benchmark load generator: etcd v3 KV Put/Range load over gRPC, with latency percentiles. */
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
#include "lg_stats.h"
#include "lg_verify.h"
#include "rpc.pb-c.h"

#define PATH_PUT "/etcdserverpb.KV/Put"
#define PATH_RANGE "/etcdserverpb.KV/Range"
/* Calls still running this long after the end of the load make the run fail. */
#define DRAIN_NS (10ULL * 1000000000ULL)

enum lg_phase { PHASE_PRELOAD, PHASE_LOAD };

struct lg_run {
	const struct lg_opts *o;
	enum lg_phase phase;
	uint64_t t_measure, t_end; /* monotonic ns; t_end 0 in requests mode */
	atomic_uint_fast64_t remaining; /* requests mode: measured calls left to start */
	atomic_uint_fast64_t next_key;  /* preload: next key to put */
	uint8_t *value;
};

struct lg_worker {
	pthread_t th;
	struct lg_run *run;
	struct h2c_conn *conn;
	uint64_t rng;
	uint8_t *msg;
	size_t msg_cap;
	struct lg_lat lat;
	uint64_t ok, errors, measured_errors, last_done, finished;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* A call's start time in ns with bit 0 replaced by "is a put", as the call's user pointer. */
static void *call_tag(uint64_t start, bool put)
{
	return (void *)(uintptr_t)((start & ~1ULL) | put);
}

/* A finished call: measured when it started inside the window and ended before its end. */
static void on_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
		    size_t body_len)
{
	struct lg_worker *w = conn_user;
	struct lg_run *r = w->run;
	uint64_t tag = (uint64_t)(uintptr_t)call_user, start = tag & ~1ULL, now = now_ns();
	bool measured = r->phase == PHASE_LOAD && start >= r->t_measure &&
			(!r->t_end || now <= r->t_end);
	bool ok = grpc_status == 0 && body_len >= 5;

	if (ok && r->o->verify)
		ok = lg_verify_response(tag & 1, body, body_len, r->o->value_size);

	w->finished++;
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
	if (lg_lat_add(&w->lat, now - start) && !w->err)
		w->err = -ENOMEM;
}

/* Packs one Put or Range request for key number k into w->msg; returns its length. */
static size_t pack_call(struct lg_worker *w, bool put, uint64_t k)
{
	const struct lg_opts *o = w->run->o;
	char key[96];
	int klen = snprintf(key, sizeof(key), "%s%08" PRIu64, o->prefix, k);

	if (put) {
		Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;

		req.key.data = (uint8_t *)key;
		req.key.len = (size_t)klen;
		req.value.data = w->run->value;
		req.value.len = o->value_size;
		return etcdserverpb__put_request__pack(&req, w->msg);
	}
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;

	req.key.data = (uint8_t *)key;
	req.key.len = (size_t)klen;
	req.serializable = o->serializable;
	return etcdserverpb__range_request__pack(&req, w->msg);
}

/* Starts one more call if the phase wants one. Returns 1 started, 0 none, -errno. */
static int submit_next(struct lg_worker *w, uint64_t now)
{
	struct lg_run *r = w->run;
	const struct lg_opts *o = r->o;
	bool put;
	uint64_t k;
	size_t len;
	int rv;

	if (r->phase == PHASE_PRELOAD) {
		k = atomic_fetch_add(&r->next_key, 1);
		if (k >= o->keys)
			return 0;
		put = true;
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
		put = o->workload == LG_PUT ||
		      (o->workload == LG_MIXED && rng_next(&w->rng) % 100 >= o->get_percent);
	}
	len = pack_call(w, put, k);
	rv = h2c_call_submit(w->conn, put ? PATH_PUT : PATH_RANGE, w->msg, len,
			     call_tag(now_ns(), put));
	return rv ? rv : 1;
}

static void *worker_main(void *arg)
{
	struct lg_worker *w = arg;
	const struct lg_opts *o = w->run->o;
	uint64_t deadline = 0;
	bool more = true;

	while (!w->err) {
		uint64_t now = now_ns();

		while (more && h2c_in_flight(w->conn) < o->streams) {
			int rv = submit_next(w, now);

			if (rv < 0)
				w->err = rv;
			more = rv > 0;
		}
		if (!more && !h2c_in_flight(w->conn))
			break;
		if (!more && !deadline)
			deadline = now + DRAIN_NS;
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

static void report(const struct lg_opts *o, struct lg_worker *ws, struct lg_run *r)
{
	struct lg_lat all = { 0 };
	uint64_t ok = 0, errors = 0, measured_errors = 0, finished = 0, end = r->t_end;
	double secs;

	for (unsigned i = 0; i < o->conns; i++) {
		ok += ws[i].ok;
		errors += ws[i].errors;
		measured_errors += ws[i].measured_errors;
		finished += ws[i].finished;
		if (!r->t_end && ws[i].last_done > end)
			end = ws[i].last_done;
		if (lg_lat_merge(&all, &ws[i].lat))
			fprintf(stderr, "loadgen: out of memory for latencies\n");
	}
	lg_lat_sort(&all);
	secs = end > r->t_measure ? (double)(end - r->t_measure) / 1e9 : 0;
	printf("loadgen: %s workload, %u connections x %u streams, %u keys, %u-byte values, "
	       "%s gets%s\n", lg_workload_name(o->workload), o->conns, o->streams, o->keys,
	       o->value_size, o->serializable ? "serializable" : "linearizable",
	       o->verify ? ", responses decoded and checked" : "");
	printf("  measured %.2f s after %.2f s warm-up: %" PRIu64 " OK calls, %.0f req/s\n", secs,
	       o->warmup_s, ok, secs > 0 ? (double)ok / secs : 0);
	printf("  latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
	       lg_lat_pct(&all, 50) / 1e3, lg_lat_pct(&all, 99) / 1e3,
	       lg_lat_pct(&all, 99.9) / 1e3, lg_lat_pct(&all, 100) / 1e3);
	printf("  non-OK responses: %" PRIu64 " (%" PRIu64 " in the measured window)\n", errors,
	       measured_errors);
	printf("  calls finished in all (preload and warm-up included): %" PRIu64 "\n", finished);
	/* One line for scripts. */
	printf("result: workload=%s ok=%" PRIu64 " errors=%" PRIu64 " calls=%" PRIu64
	       " seconds=%.3f rps=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
	       lg_workload_name(o->workload), ok, errors, finished, secs,
	       secs > 0 ? (double)ok / secs : 0,
	       lg_lat_pct(&all, 50) / 1e3, lg_lat_pct(&all, 99) / 1e3,
	       lg_lat_pct(&all, 99.9) / 1e3, lg_lat_pct(&all, 100) / 1e3);
	lg_lat_free(&all);
}

int main(int argc, char **argv)
{
	struct lg_opts o;
	struct lg_run run = { .o = &o };
	struct lg_worker *ws = NULL;
	int rv = lg_opts_parse(&o, argc, argv), err = 0;
	uint64_t errors = 0;

	if (rv)
		return rv > 0 ? 0 : 2;
	ws = calloc(o.conns, sizeof(*ws));
	run.value = malloc(o.value_size + 1);
	if (!ws || !run.value) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < o.value_size; i++)
		run.value[i] = (uint8_t)('a' + i % 26);
	for (unsigned i = 0; i < o.conns && !err; i++) {
		ws[i].run = &run;
		ws[i].rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		ws[i].msg_cap = o.value_size + sizeof(o.prefix) + 64;
		ws[i].msg = malloc(ws[i].msg_cap);
		err = ws[i].msg ? h2c_connect(&ws[i].conn, o.host, o.port, o.verify, on_done,
					      &ws[i])
				: -ENOMEM;
		if (err)
			fprintf(stderr, "loadgen: connect %s:%u: %s\n", o.host, o.port,
				strerror(-err));
	}
	if (!err && o.workload != LG_PUT)
		err = run_phase(&run, ws, o.conns, PHASE_PRELOAD);
	if (err)
		goto out;
	run.t_measure = now_ns() + (uint64_t)(o.warmup_s * 1e9);
	run.t_end = o.duration_s > 0 ? run.t_measure + (uint64_t)(o.duration_s * 1e9) : 0;
	atomic_store(&run.remaining, o.requests);
	err = run_phase(&run, ws, o.conns, PHASE_LOAD);
	if (!err)
		report(&o, ws, &run);
	for (unsigned i = 0; i < o.conns; i++)
		errors += ws[i].errors;
out:
	for (unsigned i = 0; ws && i < o.conns; i++) {
		h2c_close(ws[i].conn);
		free(ws[i].msg);
		lg_lat_free(&ws[i].lat);
	}
	free(ws);
	free(run.value);
	if (err)
		fprintf(stderr, "loadgen: %s\n", strerror(-err));
	return err ? 1 : errors ? 3 : 0;
}
