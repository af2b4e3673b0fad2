/* Collector: turns the loaded subsystems' BPF maps into metric families on each scrape. */
#include "collect.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binwatch.h"
#include "mapread.h"
#include "series.h"
#include "ms_maps.h"

#define HIST_WORDS (sizeof(struct ms_hist) / sizeof(uint64_t))

struct collector {
	struct loader *loader;
	const char *version;
	struct mapread *reader;
	struct expo_registry *reg;
	pthread_mutex_t lock;
	uint64_t map_read_errors;
	double bounds_s[MS_MAX_BUCKETS];
	uint32_t nr_bounds;
	uint64_t *scratch; /* summed map values, sized for the largest map */
	struct binwatch *watch; /* --binary: re-attaches a replaced file; NULL otherwise */
};

#define STORAGE_LABEL_(id, name) name,
static const char *const storage_op_names[] = { MS_STORAGE_OPS(STORAGE_LABEL_) };
static const char *const storage_kind_names[] = { MS_STORAGE_KINDS(STORAGE_LABEL_) };
static const char *const storage_status_names[] = { MS_STORAGE_STATUSES(STORAGE_LABEL_) };
#undef STORAGE_LABEL_

static size_t max_scratch_words(void)
{
	size_t a = (size_t)MS_GRPC_SERIES * HIST_WORDS;
	size_t b = (size_t)MS_STORAGE_SERIES * HIST_WORDS;
	size_t c = 2 * (size_t)MS_INFLIGHT_MAX; /* keys and values of grpc_inflight */

	a = a > b ? a : b;
	return a > c ? a : c;
}

int collector_new(struct loader *l, const char *version, struct collector **out)
{
	struct collector *c;
	const uint64_t *b;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loader = l;
	c->version = version;
	pthread_mutex_init(&c->lock, NULL);
	b = loader_bounds(l, &c->nr_bounds);
	for (uint32_t i = 0; i < c->nr_bounds; i++)
		c->bounds_s[i] = (double)b[i] / 1e9;
	err = mapread_new(&c->reader);
	if (err)
		goto cleanup;
	c->reg = expo_registry_new();
	c->scratch = calloc(max_scratch_words(), sizeof(uint64_t));
	if (!c->reg || !c->scratch) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = c;
	return 0;
cleanup:
	collector_free(c);
	return err;
}

void collector_set_binwatch(struct collector *c, struct binwatch *w)
{
	c->watch = w;
}

/* Re-attachments to a replaced --binary file, when it is watched. */
static void collect_binwatch(struct collector *c)
{
	struct binwatch_stats st;
	struct expo_family *f;

	if (!c->watch)
		return;
	binwatch_poll(c->watch, &st);
	f = expo_family_add(c->reg, "metastore_agent_binary_reattach_total",
			    "Times the probes were attached to a new file at the --binary path.",
			    EXPO_COUNTER);
	expo_series_add_u64(f, NULL, 0, st.reattached);
	f = expo_family_add(c->reg, "metastore_agent_binary_reattach_errors_total",
			    "New files at the --binary path that could not be attached.",
			    EXPO_COUNTER);
	expo_series_add_u64(f, NULL, 0, st.failures);
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	expo_registry_free(c->reg);
	mapread_free(c->reader);
	free(c->scratch);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void read_failed(struct collector *c)
{
	c->map_read_errors++;
}

/* Reads a whole per-CPU array of `sub` into c->scratch; counts a failure. */
static int read_map(struct collector *c, enum subsys_id sub, const char *name, uint32_t nr,
		    uint32_t words)
{
	struct bpf_object *obj = loader_object(c->loader, sub);
	int fd, err;

	fd = obj ? bpf_object__find_map_fd_by_name(obj, name) : -ENOENT;
	err = fd < 0 ? fd : mapread_percpu_sum(c->reader, fd, nr, words, c->scratch);
	if (err)
		read_failed(c);
	return err;
}

static void add_hist(struct expo_family *f, const struct expo_label *labels, size_t n,
		     const struct collector *c, const uint64_t *h)
{
	const struct ms_hist *mh = (const struct ms_hist *)h;

	expo_series_add_hist(f, labels, n, c->bounds_s, c->nr_bounds, (const uint64_t *)mh->bucket,
			     c->nr_bounds + 1, (double)mh->sum_ns / 1e9, mh->count);
}

static bool process_alive(uint32_t tgid)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/%u", tgid);
	return access(proc, F_OK) == 0;
}

/*
 * In-flight calls per method, summed over live store processes, into sum[]. A process that
 * died never ends its calls: its entries go, and with them what it had in flight; so does
 * its first-seen time (grpc_since). Returns 0 or -EIO.
 */
static int sum_inflight(struct collector *c, int64_t sum[MS_METHOD_COUNT])
{
	struct bpf_object *obj = loader_object(c->loader, SUBSYS_GRPC);
	struct ms_proc_method *keys = (struct ms_proc_method *)c->scratch;
	int64_t *vals = (int64_t *)(c->scratch + MS_INFLIGHT_MAX);
	uint32_t *tgids = (uint32_t *)c->scratch, n, last_tgid = 0;
	int fd = bpf_object__find_map_fd_by_name(obj, "grpc_inflight");
	int since_fd = bpf_object__find_map_fd_by_name(obj, "grpc_since");
	uint64_t *since = c->scratch + MS_INFLIGHT_MAX;
	bool last_alive = true;

	memset(sum, 0, sizeof(int64_t) * MS_METHOD_COUNT);
	if (mapread_hash(fd, sizeof(*keys), sizeof(*vals), MS_INFLIGHT_MAX, keys, vals, &n))
		return -EIO;
	for (uint32_t i = 0; i < n; i++) {
		if (keys[i].tgid != last_tgid || i == 0) {
			last_tgid = keys[i].tgid;
			last_alive = process_alive(last_tgid);
		}
		if (!last_alive)
			bpf_map_delete_elem(fd, &keys[i]);
		else if (keys[i].method < MS_METHOD_COUNT)
			sum[keys[i].method] += vals[i];
	}
	if (mapread_hash(since_fd, sizeof(*tgids), sizeof(*since), MS_MAX_PROCS, tgids, since, &n))
		return -EIO;
	for (uint32_t i = 0; i < n; i++) {
		if (!process_alive(tgids[i]))
			bpf_map_delete_elem(since_fd, &tgids[i]);
	}
	return 0;
}

static void collect_grpc(struct collector *c)
{
	struct expo_family *dur, *total, *inflight, *panics, *limited;
	int64_t inflight_sum[MS_METHOD_COUNT];
	uint64_t *v = c->scratch;

	if (!loader_object(c->loader, SUBSYS_GRPC))
		return;
	dur = expo_family_add(c->reg, "grpc_server_request_duration_seconds",
			      "Latency of gRPC calls from request headers to trailers.",
			      EXPO_HISTOGRAM);
	total = expo_family_add(c->reg, "grpc_server_request_total",
				"gRPC calls completed, by method and status code.", EXPO_COUNTER);
	inflight = expo_family_add(c->reg, "grpc_server_in_flight_requests",
				   "gRPC calls begun and not yet completed.", EXPO_GAUGE);
	panics = expo_family_add(c->reg, "grpc_server_panic_total",
				 "gRPC calls ended by the internal-fault recovery path.", EXPO_COUNTER);
	limited = expo_family_add(c->reg, "grpc_server_rate_limit_hits_total",
				  "gRPC calls refused by the server's rate limit.", EXPO_COUNTER);

	if (read_map(c, SUBSYS_GRPC, "grpc_hist", MS_GRPC_SERIES, HIST_WORDS) == 0) {
		uint64_t counts[MS_GRPC_SERIES];

		for (uint32_t i = 0; i < MS_GRPC_SERIES; i++) {
			const uint64_t *h = v + (size_t)i * HIST_WORDS;
			struct expo_label l[] = { { "method", ms_method_name(i / MS_GRPC_CODE_COUNT) },
						  { "code", ms_grpc_code_name(i % MS_GRPC_CODE_COUNT) } };

			counts[i] = ((const struct ms_hist *)h)->count;
			/* histograms only once seen: 24 series each, the counter has every code */
			if (counts[i])
				add_hist(dur, l, 2, c, h);
		}
		series_request_total(total, NULL, counts);
	}
	if (sum_inflight(c, inflight_sum) == 0) {
		/* Every served method, so dashboards see 0 rather than no data. */
		for (uint32_t m = 1; m < MS_METHOD_COUNT; m++) {
			struct expo_label l[] = { { "method", ms_method_name(m) } };

			expo_series_add_value(inflight, l, 1, (double)inflight_sum[m]);
		}
	} else {
		read_failed(c);
	}
	if (read_map(c, SUBSYS_GRPC, "grpc_panics", MS_METHOD_COUNT, 1) == 0)
		series_per_method(panics, NULL, v);
	if (read_map(c, SUBSYS_GRPC, "grpc_rate_limited_hits", MS_METHOD_COUNT, 1) == 0)
		series_per_method(limited, NULL, v);
}

/* Sums the last count each live store process reported in a tgid -> u32 map; forgets
 * processes that exited. Returns 0 or -errno. */
static int sum_per_process(struct collector *c, enum subsys_id id, const char *map, uint64_t *sum)
{
	uint32_t tgids[MS_MAX_PROCS], counts[MS_MAX_PROCS], n;
	int fd = bpf_object__find_map_fd_by_name(loader_object(c->loader, id), map);

	*sum = 0;
	if (mapread_hash(fd, sizeof(tgids[0]), sizeof(counts[0]), MS_MAX_PROCS, tgids, counts, &n)) {
		read_failed(c);
		return -EIO;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (process_alive(tgids[i]))
			*sum += counts[i];
		else /* the process exited: what it had open is gone too */
			bpf_map_delete_elem(fd, &tgids[i]);
	}
	return 0;
}

static void collect_conn(struct collector *c)
{
	struct expo_family *f;
	uint64_t sum;

	if (!loader_object(c->loader, SUBSYS_CONN))
		return;
	f = expo_family_add(c->reg, "grpc_server_active_connections",
			    "Open client connections of the probed store processes.", EXPO_GAUGE);
	if (sum_per_process(c, SUBSYS_CONN, "conn_active", &sum) == 0)
		expo_series_add_u64(f, NULL, 0, sum);
	f = expo_family_add(c->reg, "grpc_server_connections_rejected_total",
			    "Connections closed at once because --max-connections were open.",
			    EXPO_COUNTER);
	if (read_map(c, SUBSYS_CONN, "conn_rejected", 1, 1) == 0)
		expo_series_add_u64(f, NULL, 0, c->scratch[0]);
}

static const char *const watch_types[] = { "PUT", "DELETE" };

static void collect_watch(struct collector *c)
{
	struct expo_family *active, *events;
	uint64_t sum;

	if (!loader_object(c->loader, SUBSYS_WATCH))
		return;
	active = expo_family_add(c->reg, "watch_active_total",
				 "Open watchers of the probed store processes.", EXPO_GAUGE);
	events = expo_family_add(c->reg, "watch_events_sent_total",
				 "Events sent to watchers, by type.", EXPO_COUNTER);
	if (sum_per_process(c, SUBSYS_WATCH, "watch_active", &sum) == 0)
		expo_series_add_u64(active, NULL, 0, sum);
	if (read_map(c, SUBSYS_WATCH, "watch_events", 2, 1) == 0)
		series_enum(events, NULL, "type", watch_types, 2, c->scratch);
}

#define LEASE_LABEL_(id, name) name,
static const char *const lease_op_names[] = { MS_LEASE_OPS(LEASE_LABEL_) };
static const char *const lease_status_names[] = { MS_LEASE_STATUSES(LEASE_LABEL_) };
#undef LEASE_LABEL_

static void collect_lease(struct collector *c)
{
	struct expo_family *active, *ops;
	uint64_t sum;

	if (!loader_object(c->loader, SUBSYS_LEASE))
		return;
	active = expo_family_add(c->reg, "lease_active_total",
				 "Leases held by the probed store processes.", EXPO_GAUGE);
	ops = expo_family_add(c->reg, "lease_operations_total",
			      "Lease operations, by operation and result.", EXPO_COUNTER);
	if (sum_per_process(c, SUBSYS_LEASE, "lease_active", &sum) == 0)
		expo_series_add_u64(active, NULL, 0, sum);
	if (read_map(c, SUBSYS_LEASE, "lease_ops", MS_LEASE_OP_COUNT * MS_LEASE_STATUS_COUNT, 1))
		return;
	for (uint32_t op = 0; op < MS_LEASE_OP_COUNT; op++) {
		for (uint32_t st = 0; st < MS_LEASE_STATUS_COUNT; st++) {
			uint64_t v = c->scratch[op * MS_LEASE_STATUS_COUNT + st];
			struct expo_label l[] = { { "operation", lease_op_names[op] },
						  { "status", lease_status_names[st] } };

			/* every known pair, at 0 until it counts: a first failure is an increase */
			expo_series_add_u64(ops, l, 2, v);
		}
	}
}

#define AUTH_LABEL_(id, name) name,
static const char *const auth_authn_names[] = { MS_AUTH_AUTHN_RESULTS(AUTH_LABEL_) };
static const char *const auth_authz_names[] = { MS_AUTH_AUTHZ_RESULTS(AUTH_LABEL_) };
#undef AUTH_LABEL_

/* One `result`-labelled counter per value of a per-CPU array of `nr` results. */
static void add_results(struct collector *c, struct expo_family *f, const char *map, uint32_t nr,
			const char *const *names)
{
	if (read_map(c, SUBSYS_AUTH, map, nr, 1) == 0)
		series_enum(f, NULL, "result", names, nr, c->scratch);
}

static void collect_auth(struct collector *c)
{
	struct expo_family *authn, *authz;

	if (!loader_object(c->loader, SUBSYS_AUTH))
		return;
	authn = expo_family_add(c->reg, "auth_authentication_total",
				"Authenticate requests, by result.", EXPO_COUNTER);
	authz = expo_family_add(c->reg, "auth_authorization_total",
				"Permission checks made while auth is enabled, by result.",
				EXPO_COUNTER);
	add_results(c, authn, "auth_authn", MS_AUTH_AUTHN_COUNT, auth_authn_names);
	add_results(c, authz, "auth_authz", MS_AUTH_AUTHZ_COUNT, auth_authz_names);
}

static void collect_storage(struct collector *c)
{
	struct expo_family *dur, *total;
	uint64_t *v = c->scratch;

	if (!loader_object(c->loader, SUBSYS_STORAGE))
		return;
	dur = expo_family_add(c->reg, "storage_operation_duration_seconds",
			      "Latency of key-value engine operations.", EXPO_HISTOGRAM);
	total = expo_family_add(c->reg, "storage_operation_total",
				"Key-value engine operations, by result.", EXPO_COUNTER);

	if (read_map(c, SUBSYS_STORAGE, "storage_hist", MS_STORAGE_SERIES, HIST_WORDS) == 0) {
		for (uint32_t i = 0; i < MS_STORAGE_SERIES; i++) {
			const uint64_t *h = v + (size_t)i * HIST_WORDS;
			struct expo_label l[] = {
				{ "operation", storage_op_names[i / MS_STORAGE_KIND_COUNT] },
				{ "storage", storage_kind_names[i % MS_STORAGE_KIND_COUNT] },
			};

			if (((const struct ms_hist *)h)->count)
				add_hist(dur, l, 2, c, h);
		}
	}
	if (read_map(c, SUBSYS_STORAGE, "storage_total", MS_STORAGE_TOTAL_SERIES, 1) == 0) {
		for (uint32_t i = 0; i < MS_STORAGE_TOTAL_SERIES; i++) {
			uint32_t s = i / MS_STORAGE_STATUS_COUNT;
			struct expo_label l[] = {
				{ "operation", storage_op_names[s / MS_STORAGE_KIND_COUNT] },
				{ "storage", storage_kind_names[s % MS_STORAGE_KIND_COUNT] },
				{ "status", storage_status_names[i % MS_STORAGE_STATUS_COUNT] },
			};

			/* every known triple at 0 until it counts (the first failure is an increase) */
			expo_series_add_u64(total, l, 3, v[i]);
		}
	}
}

static void collect_mvcc(struct collector *c)
{
	struct bpf_object *obj = loader_object(c->loader, SUBSYS_MVCC);
	struct expo_family *rev, *comp;
	uint64_t nodes[MS_MAX_NODES];
	int64_t revs[MS_MAX_NODES];
	uint32_t n;

	if (!obj)
		return;
	rev = expo_family_add(c->reg, "mvcc_current_revision",
			      "Current MVCC revision of the store, per raft node (etcd member id, hex).", EXPO_GAUGE);
	comp = expo_family_add(c->reg, "mvcc_compaction_total", "Completed MVCC compactions.",
			       EXPO_COUNTER);

	if (mapread_hash(bpf_object__find_map_fd_by_name(obj, "mvcc_revision"), sizeof(nodes[0]),
			 sizeof(revs[0]), MS_MAX_NODES, nodes, revs, &n) == 0) {
		for (uint32_t i = 0; i < n; i++) {
			char id[24];
			struct expo_label l[] = { { "node", id } };

			snprintf(id, sizeof(id), "%" PRIx64, nodes[i]);
			expo_series_add_value(rev, l, 1, (double)revs[i]);
		}
	} else {
		read_failed(c);
	}
	if (read_map(c, SUBSYS_MVCC, "mvcc_compactions", 1, 1) == 0)
		expo_series_add_u64(comp, NULL, 0, c->scratch[0]);
}

static void collect_raft(struct collector *c)
{
	struct bpf_object *obj = loader_object(c->loader, SUBSYS_RAFT);
	struct expo_family *applied, *commit;
	uint64_t nodes[MS_MAX_NODES], idx[MS_MAX_NODES];
	struct ms_hist hists[MS_MAX_NODES];
	uint32_t n;

	if (!obj)
		return;
	applied = expo_family_add(c->reg, "raft_applied_index",
				  "Last raft log index applied, per raft node (etcd member id, hex).",
				  EXPO_GAUGE);
	commit = expo_family_add(c->reg, "raft_commit_duration_seconds",
				 "Time from a leader's proposal of an entry to its commit, per node.",
				 EXPO_HISTOGRAM);
	if (mapread_hash(bpf_object__find_map_fd_by_name(obj, "raft_applied"), sizeof(nodes[0]),
			 sizeof(idx[0]), MS_MAX_NODES, nodes, idx, &n) == 0) {
		for (uint32_t i = 0; i < n; i++) {
			char id[24];
			struct expo_label l[] = { { "node", id } };

			snprintf(id, sizeof(id), "%" PRIx64, nodes[i]);
			expo_series_add_u64(applied, l, 1, idx[i]);
		}
	} else {
		read_failed(c);
	}
	if (mapread_hash(bpf_object__find_map_fd_by_name(obj, "raft_commit_hist"),
			 sizeof(nodes[0]), sizeof(hists[0]), MS_MAX_NODES, nodes, hists, &n) == 0) {
		for (uint32_t i = 0; i < n; i++) {
			char id[24];
			struct expo_label l[] = { { "node", id } };

			snprintf(id, sizeof(id), "%" PRIx64, nodes[i]);
			add_hist(commit, l, 1, c, (const uint64_t *)&hists[i]);
		}
	} else {
		read_failed(c);
	}
}

/* Agent self-metrics: probes, BPF program stats, read errors, build info. */
static void collect_self(struct collector *c, double scrape_s)
{
	struct expo_family *att, *nop, *hits, *recs, *faults, *drops, *runs, *rtime, *errs, *dur;
	struct expo_family *info;
	uint64_t *v = c->scratch;

	att = expo_family_add(c->reg, "metastore_agent_probe_attached",
			      "1 if the probe function is attached, else 0.", EXPO_GAUGE);
	nop = expo_family_add(c->reg, "metastore_agent_probe_nop5",
			      "1 if the probe site is a 5-byte NOP (optimized uprobe path).",
			      EXPO_GAUGE);
	hits = expo_family_add(c->reg, "metastore_agent_probe_hits_total",
			       "Times the probe fired.", EXPO_COUNTER);
	recs = expo_family_add(c->reg, "metastore_agent_probe_records_total",
			       "Event records the batch probe carried (records per hit: over hits).",
			       EXPO_COUNTER);
	faults = expo_family_add(c->reg, "metastore_agent_record_faults_total",
				 "Batch records that could not be read from the store's memory.",
				 EXPO_COUNTER);
	drops = expo_family_add(c->reg, "metastore_agent_table_full_total",
				"Updates lost because a per-process BPF table was full.",
				EXPO_COUNTER);
	runs = expo_family_add(c->reg, "metastore_agent_bpf_prog_run_count_total",
			       "BPF program runs (needs kernel.bpf_stats_enabled=1).", EXPO_COUNTER);
	rtime = expo_family_add(c->reg, "metastore_agent_bpf_prog_run_time_seconds_total",
				"BPF program run time (needs kernel.bpf_stats_enabled=1).",
				EXPO_COUNTER);
	errs = expo_family_add(c->reg, "metastore_agent_map_read_errors_total",
			       "BPF map reads that failed.", EXPO_COUNTER);
	dur = expo_family_add(c->reg, "metastore_agent_scrape_duration_seconds",
			      "Time to read all maps for this scrape.", EXPO_GAUGE);
	info = expo_family_add(c->reg, "metastore_agent_build_info",
			       "Build information; the value is always 1.", EXPO_GAUGE);

	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);
		struct bpf_object *obj = loader_object(c->loader, id);
		bool hits_ok = obj && read_map(c, id, "probe_hits", MS_MAX_PROBES, 1) == 0;

		for (size_t i = 0; i < d->nr_probes; i++) {
			uint32_t idx = subsys_probe_index(id, i);
			const struct loader_probe_state *ps = loader_probe(c->loader, idx);
			struct expo_label l[] = { { "subsystem", d->name },
						  { "function", d->probes[i].func } };

			expo_series_add_value(att, l, 2, ps->attached);
			if (!ps->attached)
				continue;
			expo_series_add_value(nop, l, 2, ps->nop5);
			if (hits_ok)
				expo_series_add_u64(hits, l, 2, v[idx]);
		}
		if (!obj)
			continue;
		/* after the loop above: read_map reuses v */
		if (read_map(c, id, "probe_records", MS_MAX_PROBES, 1) == 0) {
			for (size_t i = 0; i < d->nr_probes; i++) {
				struct expo_label l[] = { { "subsystem", d->name },
							  { "function", d->probes[i].func } };

				if (d->probes[i].semaphore)
					expo_series_add_u64(recs, l, 2,
							    v[subsys_probe_index(id, i)]);
			}
		}
		if (read_map(c, id, "record_faults", 1, 1) == 0) {
			struct expo_label l[] = { { "subsystem", d->name } };

			expo_series_add_u64(faults, l, 1, v[0]);
		}
		if (read_map(c, id, "table_full_drops", 1, 1) == 0) {
			struct expo_label l[] = { { "subsystem", d->name } };

			expo_series_add_u64(drops, l, 1, v[0]);
		}
		struct bpf_program *p;
		bpf_object__for_each_program(p, obj) {
			struct bpf_prog_info pi;
			uint32_t len = sizeof(pi);
			struct expo_label l[] = { { "subsystem", d->name },
						  { "program", bpf_program__name(p) } };

			memset(&pi, 0, sizeof(pi));
			if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &pi, &len)) {
				read_failed(c);
				continue;
			}
			expo_series_add_u64(runs, l, 2, pi.run_cnt);
			expo_series_add_value(rtime, l, 2, (double)pi.run_time_ns / 1e9);
		}
	}
	expo_series_add_u64(errs, NULL, 0, c->map_read_errors);
	expo_series_add_value(dur, NULL, 0, scrape_s);
	{
		struct expo_label l[] = { { "version", c->version } };

		expo_series_add_value(info, l, 1, 1);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int collector_render(struct collector *c, enum expo_format fmt, struct expo_buf *out)
{
	double t0 = now_s();
	int err;

	pthread_mutex_lock(&c->lock);
	expo_registry_reset(c->reg);
	collect_grpc(c);
	collect_conn(c);
	collect_storage(c);
	collect_mvcc(c);
	collect_watch(c);
	collect_lease(c);
	collect_auth(c);
	collect_raft(c);
	collect_binwatch(c);
	collect_self(c, now_s() - t0);
	err = expo_render(c->reg, fmt, out);
	pthread_mutex_unlock(&c->lock);
	return err;
}

bool collector_healthy(struct collector *c, char *why, size_t len)
{
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	for (int id = 0; id < SUBSYS_COUNT && ok; id++) {
		const struct subsys_desc *d = subsys_get(id);

		if (!loader_object(c->loader, id))
			continue;
		for (size_t i = 0; i < d->nr_probes && ok; i++) {
			if (!loader_probe(c->loader, subsys_probe_index(id, i))->attached) {
				snprintf(why, len, "probe %s is not attached", d->probes[i].func);
				ok = false;
			}
		}
		/* Readable now, not just at the last scrape: one small map per subsystem. */
		if (ok && read_map(c, id, "probe_hits", MS_MAX_PROBES, 1)) {
			snprintf(why, len, "cannot read the BPF maps of subsystem %s", d->name);
			ok = false;
		}
	}
	if (ok && c->watch) {
		struct binwatch_stats st;

		binwatch_poll(c->watch, &st);
		if (!st.alive) {
			snprintf(why, len, "the --binary watcher exited");
			ok = false;
		} else if (st.failing) {
			snprintf(why, len, "cannot attach to the replaced binary: %s", st.last_error);
			ok = false;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}
