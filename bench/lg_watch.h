/* Benchmark load generator: the watch-latency workload (put-to-event latency per watcher). */
#ifndef BENCH_LG_WATCH_H
#define BENCH_LG_WATCH_H

#include "lg_opts.h"
#include "lg_stats.h"

/*
 * Opens o->conns connections with o->streams Watch streams each and o->watchers watchers
 * per stream, all on one key, then puts that key from one more connection, one put at a
 * time, until the measured window ends: each put waits for its answer and for every
 * watcher's event (as etcd 3.4's benchmark does), paced at o->put_rate puts/s when that is
 * > 0. Each event must name the key, carry the put's value and come once, in put order,
 * to each watcher. res gets the event latencies (from sending the put to receiving the
 * event), the put latencies, and counts (a wrong event counts as an error). Returns 0 or
 * -errno (-ETIMEDOUT when an event did not come within 10 s).
 */
int lg_watch_run(const struct lg_opts *o, struct lg_result *res);

#endif /* BENCH_LG_WATCH_H */
