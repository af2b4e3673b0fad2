/* Store families: every series that comes from store processes, labelled with its member (node). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collect_priv.h"
#include "series.h"

#define STORAGE_LABEL_(id, name) name,
static const char *const storage_op_names[] = { MS_STORAGE_OPS(STORAGE_LABEL_) };
static const char *const storage_kind_names[] = { MS_STORAGE_KINDS(STORAGE_LABEL_) };
static const char *const storage_status_names[] = { MS_STORAGE_STATUSES(STORAGE_LABEL_) };
#undef STORAGE_LABEL_

#define LEASE_LABEL_(id, name) name,
static const char *const lease_op_names[] = { MS_LEASE_OPS(LEASE_LABEL_) };
static const char *const lease_status_names[] = { MS_LEASE_STATUSES(LEASE_LABEL_) };
#undef LEASE_LABEL_

#define AUTH_LABEL_(id, name) name,
static const char *const auth_authn_names[] = { MS_AUTH_AUTHN_RESULTS(AUTH_LABEL_) };
static const char *const auth_authz_names[] = { MS_AUTH_AUTHZ_RESULTS(AUTH_LABEL_) };
#undef AUTH_LABEL_

static const char *const watch_types[] = { "PUT", "DELETE" };

#define LIMIT_LABEL_(id, name) name,
static const char *const limit_names[] = { MS_PROBE_LIMITS(LIMIT_LABEL_) };
#undef LIMIT_LABEL_

/* Counters of a member stay while the agent lives (a restarted member counts on); gauges
 * are shown only while it is up: a value of a process that is gone is no current value. */
static bool known(const struct collector *c, uint32_t s)
{
	return s < c->members.nr_slots && c->members.known[s];
}

static bool up(const struct collector *c, uint32_t s)
{
	return known(c, s) && c->members.up[s];
}

static const char *node(const struct collector *c, uint32_t s)
{
	return c->members.name[s];
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

/* The slot of process `tgid`; -1 when it is no live member, and then its entry `key` goes
 * from map `fd` if the process exited (what it had open is gone with it). */
static int slot_or_forget(struct collector *c, uint32_t tgid, int fd, const void *key)
{
	int s = members_slot_of(&c->members, tgid);

	if (s < 0 && !process_alive(tgid))
		bpf_map_delete_elem(fd, key);
	return s;
}

/* Sums a tgid -> u32 gauge map per member slot into sum[]. Returns 0 or -EIO (counted). */
static int sum_per_slot(struct collector *c, enum subsys_id id, const char *map,
			uint64_t sum[MS_NODE_SLOTS])
{
	static uint32_t tgids[MS_MAX_PROCS], vals[MS_MAX_PROCS]; /* under the collector lock */
	int fd = bpf_object__find_map_fd_by_name(loader_object(c->loader, id), map);
	uint32_t n;

	memset(sum, 0, sizeof(uint64_t) * MS_NODE_SLOTS);
	if (mapread_hash(fd, sizeof(tgids[0]), sizeof(vals[0]), MS_MAX_PROCS, tgids, vals, &n)) {
		collect_read_failed(c);
		return -EIO;
	}
	for (uint32_t i = 0; i < n; i++) {
		int s = slot_or_forget(c, tgids[i], fd, &tgids[i]);

		if (s >= 0)
			sum[s] += vals[i];
	}
	return 0;
}

/* In-flight calls per member and method into sum[]; forgets exited processes' entries and
 * first-seen times. Returns 0 or -EIO. */
static int sum_inflight(struct collector *c, int64_t sum[MS_NODE_SLOTS][MS_METHOD_COUNT])
{
	struct bpf_object *obj = loader_object(c->loader, SUBSYS_GRPC);
	struct ms_proc_method *keys = (struct ms_proc_method *)c->scratch;
	int64_t *vals = (int64_t *)(c->scratch + MS_INFLIGHT_MAX);
	uint32_t *tgids = (uint32_t *)c->scratch, n;
	int fd = bpf_object__find_map_fd_by_name(obj, "grpc_inflight");
	int since_fd = bpf_object__find_map_fd_by_name(obj, "grpc_since");
	uint64_t *since = c->scratch + MS_INFLIGHT_MAX;

	memset(sum, 0, sizeof(int64_t) * MS_NODE_SLOTS * MS_METHOD_COUNT);
	if (mapread_hash(fd, sizeof(*keys), sizeof(*vals), MS_INFLIGHT_MAX, keys, vals, &n))
		return -EIO;
	for (uint32_t i = 0; i < n; i++) {
		int s = slot_or_forget(c, keys[i].tgid, fd, &keys[i]);

		if (s >= 0 && keys[i].method < MS_METHOD_COUNT)
			sum[s][keys[i].method] += vals[i];
	}
	if (mapread_hash(since_fd, sizeof(*tgids), sizeof(*since), MS_MAX_PROCS, tgids, since, &n))
		return -EIO;
	for (uint32_t i = 0; i < n; i++)
		slot_or_forget(c, tgids[i], since_fd, &tgids[i]);
	return 0;
}

static void collect_grpc(struct collector *c)
{
	static int64_t inflight_sum[MS_NODE_SLOTS][MS_METHOD_COUNT];
	struct expo_family *dur, *total, *inflight, *panics, *limited;
	uint32_t nr = c->members.nr_slots;
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
	if (!nr)
		return;
	if (collect_read_map(c, SUBSYS_GRPC, "grpc_hist", nr * MS_GRPC_SERIES, HIST_WORDS) == 0) {
		for (uint32_t s = 0; s < nr; s++) {
			uint64_t *counts = c->counts + (size_t)s * MS_GRPC_SERIES;

			if (!known(c, s))
				continue;
			for (uint32_t i = 0; i < MS_GRPC_SERIES; i++) {
				const uint64_t *h = v + ((size_t)s * MS_GRPC_SERIES + i) * HIST_WORDS;
				struct expo_label l[] = {
					{ "node", node(c, s) },
					{ "method", ms_method_name(i / MS_GRPC_CODE_COUNT) },
					{ "code", ms_grpc_code_name(i % MS_GRPC_CODE_COUNT) },
				};

				counts[i] = ((const struct ms_hist *)h)->count;
				/* histograms once seen: 24 series each; the counter has every code */
				if (counts[i])
					add_hist(dur, l, 3, c, h);
			}
			series_request_total(total, node(c, s), counts);
		}
	}
	if (sum_inflight(c, inflight_sum) == 0) {
		for (uint32_t s = 0; s < nr; s++) {
			/* every served method of a live member, so dashboards see 0, not no data */
			for (uint32_t m = 1; m < MS_METHOD_COUNT && up(c, s); m++) {
				struct expo_label l[] = { { "node", node(c, s) },
							  { "method", ms_method_name(m) } };

				expo_series_add_value(inflight, l, 2, (double)inflight_sum[s][m]);
			}
		}
	} else {
		collect_read_failed(c);
	}
	/* a Go etcd has no site for either: not measured, so no zeros that look measured */
	if (loader_go_target(c->loader))
		return;
	if (collect_read_map(c, SUBSYS_GRPC, "grpc_panics", nr * MS_METHOD_COUNT, 1) == 0) {
		for (uint32_t s = 0; s < nr; s++)
			if (known(c, s))
				series_per_method(panics, node(c, s), v + (size_t)s * MS_METHOD_COUNT);
	}
	if (collect_read_map(c, SUBSYS_GRPC, "grpc_rate_limited_hits", nr * MS_METHOD_COUNT, 1) == 0) {
		for (uint32_t s = 0; s < nr; s++)
			if (known(c, s))
				series_per_method(limited, node(c, s), v + (size_t)s * MS_METHOD_COUNT);
	}
}

/* A gauge summed per member from a per-process map: live members only. */
static void add_active(struct collector *c, enum subsys_id id, const char *map,
		       struct expo_family *f)
{
	uint64_t sum[MS_NODE_SLOTS];

	if (sum_per_slot(c, id, map, sum))
		return;
	for (uint32_t s = 0; s < c->members.nr_slots; s++) {
		struct expo_label l[] = { { "node", node(c, s) } };

		if (up(c, s))
			expo_series_add_u64(f, l, 1, sum[s]);
	}
}

/* A counter of one value per member slot. */
static void add_per_slot(struct collector *c, enum subsys_id id, const char *map,
			 struct expo_family *f)
{
	if (!c->members.nr_slots ||
	    collect_read_map(c, id, map, c->members.nr_slots, 1))
		return;
	for (uint32_t s = 0; s < c->members.nr_slots; s++) {
		struct expo_label l[] = { { "node", node(c, s) } };

		if (known(c, s))
			expo_series_add_u64(f, l, 1, c->scratch[s]);
	}
}

/* Counters with one enumerated label, `nr` values per member slot. */
static void add_enum(struct collector *c, enum subsys_id id, const char *map,
		     struct expo_family *f, const char *label, const char *const *names, uint32_t nr)
{
	if (!c->members.nr_slots || collect_read_map(c, id, map, c->members.nr_slots * nr, 1))
		return;
	for (uint32_t s = 0; s < c->members.nr_slots; s++)
		if (known(c, s))
			series_enum(f, node(c, s), label, names, nr, c->scratch + (size_t)s * nr);
}

static void collect_conn(struct collector *c)
{
	if (!loader_object(c->loader, SUBSYS_CONN))
		return;
	add_active(c, SUBSYS_CONN, "conn_active",
		   expo_family_add(c->reg, "grpc_server_active_connections",
				   "Open client connections of the member.", EXPO_GAUGE));
	add_per_slot(c, SUBSYS_CONN, "conn_rejected",
		     expo_family_add(c->reg, "grpc_server_connections_rejected_total",
				     "Connections closed at once because --max-connections were open.",
				     EXPO_COUNTER));
}

static void collect_watch(struct collector *c)
{
	if (!loader_object(c->loader, SUBSYS_WATCH))
		return;
	add_active(c, SUBSYS_WATCH, "watch_active",
		   expo_family_add(c->reg, "watch_active_total", "Open watchers of the member.",
				   EXPO_GAUGE));
	add_enum(c, SUBSYS_WATCH, "watch_events",
		 expo_family_add(c->reg, "watch_events_sent_total", "Events sent to watchers, by type.",
				 EXPO_COUNTER),
		 "type", watch_types, 2);
}

static void collect_lease(struct collector *c)
{
	const uint32_t per = MS_LEASE_OP_COUNT * MS_LEASE_STATUS_COUNT;
	struct expo_family *ops;

	if (!loader_object(c->loader, SUBSYS_LEASE))
		return;
	add_active(c, SUBSYS_LEASE, "lease_active",
		   expo_family_add(c->reg, "lease_active_total", "Leases held by the member.",
				   EXPO_GAUGE));
	ops = expo_family_add(c->reg, "lease_operations_total",
			      "Lease operations, by operation and result.", EXPO_COUNTER);
	if (!c->members.nr_slots ||
	    collect_read_map(c, SUBSYS_LEASE, "lease_ops", c->members.nr_slots * per, 1))
		return;
	for (uint32_t s = 0; s < c->members.nr_slots; s++) {
		for (uint32_t i = 0; i < per && known(c, s); i++) {
			struct expo_label l[] = {
				{ "node", node(c, s) },
				{ "operation", lease_op_names[i / MS_LEASE_STATUS_COUNT] },
				{ "status", lease_status_names[i % MS_LEASE_STATUS_COUNT] },
			};

			/* every known pair, at 0 until it counts: a first failure is an increase */
			expo_series_add_u64(ops, l, 3, c->scratch[(size_t)s * per + i]);
		}
	}
}

static void collect_auth(struct collector *c)
{
	if (!loader_object(c->loader, SUBSYS_AUTH))
		return;
	add_enum(c, SUBSYS_AUTH, "auth_authn",
		 expo_family_add(c->reg, "auth_authentication_total",
				 "Authenticate requests, by result.", EXPO_COUNTER),
		 "result", auth_authn_names, MS_AUTH_AUTHN_COUNT);
	add_enum(c, SUBSYS_AUTH, "auth_authz",
		 expo_family_add(c->reg, "auth_authorization_total",
				 "Permission checks made while auth is enabled, by result.",
				 EXPO_COUNTER),
		 "result", auth_authz_names, MS_AUTH_AUTHZ_COUNT);
}

/* Whether a target of this kind reports operation `op` on engine `kind` with `status`: the
 * store's in-memory engine (its operations, never "error"), a Go etcd's backend commits and
 * WAL fsyncs ("ok" or "error"). Only those triples are exported at 0 before they count. */
static bool storage_triple_known(bool go, uint32_t op, uint32_t kind, uint32_t status)
{
	if (go)
		return ((op == MS_STORAGE_OP_COMMIT && kind == MS_STORAGE_BBOLT) ||
			(op == MS_STORAGE_OP_FSYNC && kind == MS_STORAGE_WAL)) &&
		       (status == MS_STORAGE_STATUS_OK || status == MS_STORAGE_STATUS_ERROR);
	return kind == MS_STORAGE_MEMORY && op != MS_STORAGE_OP_COMMIT &&
	       op != MS_STORAGE_OP_FSYNC && status != MS_STORAGE_STATUS_ERROR;
}

static void collect_storage(struct collector *c)
{
	bool go = loader_go_target(c->loader) != NULL;
	struct expo_family *dur, *total;
	uint32_t nr = c->members.nr_slots;
	uint64_t *v = c->scratch;

	if (!loader_object(c->loader, SUBSYS_STORAGE))
		return;
	dur = expo_family_add(c->reg, "storage_operation_duration_seconds",
			      "Latency of key-value engine operations.", EXPO_HISTOGRAM);
	total = expo_family_add(c->reg, "storage_operation_total",
				"Key-value engine operations, by result.", EXPO_COUNTER);
	if (!nr)
		return;
	if (collect_read_map(c, SUBSYS_STORAGE, "storage_hist", nr * MS_STORAGE_SERIES,
			     HIST_WORDS) == 0) {
		for (uint32_t s = 0; s < nr; s++) {
			for (uint32_t i = 0; i < MS_STORAGE_SERIES && known(c, s); i++) {
				const uint64_t *h = v + ((size_t)s * MS_STORAGE_SERIES + i) * HIST_WORDS;
				struct expo_label l[] = {
					{ "node", node(c, s) },
					{ "operation", storage_op_names[i / MS_STORAGE_KIND_COUNT] },
					{ "storage", storage_kind_names[i % MS_STORAGE_KIND_COUNT] },
				};

				if (((const struct ms_hist *)h)->count)
					add_hist(dur, l, 3, c, h);
			}
		}
	}
	if (collect_read_map(c, SUBSYS_STORAGE, "storage_total", nr * MS_STORAGE_TOTAL_SERIES, 1))
		return;
	for (uint32_t s = 0; s < nr; s++) {
		for (uint32_t i = 0; i < MS_STORAGE_TOTAL_SERIES && known(c, s); i++) {
			uint32_t k = i / MS_STORAGE_STATUS_COUNT;
			struct expo_label l[] = {
				{ "node", node(c, s) },
				{ "operation", storage_op_names[k / MS_STORAGE_KIND_COUNT] },
				{ "storage", storage_kind_names[k % MS_STORAGE_KIND_COUNT] },
				{ "status", storage_status_names[i % MS_STORAGE_STATUS_COUNT] },
			};

			uint64_t n = v[(size_t)s * MS_STORAGE_TOTAL_SERIES + i];

			/* every known triple at 0 until it counts (a first failure is an increase) */
			if (n || storage_triple_known(go, k / MS_STORAGE_KIND_COUNT,
						      k % MS_STORAGE_KIND_COUNT,
						      i % MS_STORAGE_STATUS_COUNT))
				expo_series_add_u64(total, l, 4, n);
		}
	}
}

/* A gauge of one value per member slot in a plain (not per-CPU) array: live members. */
static void add_gauge_slots(struct collector *c, enum subsys_id id, const char *map,
			    struct expo_family *f, bool is_signed)
{
	int fd = bpf_object__find_map_fd_by_name(loader_object(c->loader, id), map);

	for (uint32_t s = 0; s < c->members.nr_slots; s++) {
		struct expo_label l[] = { { "node", node(c, s) } };
		uint64_t val;

		if (!up(c, s))
			continue;
		if (bpf_map_lookup_elem(fd, &s, &val)) {
			collect_read_failed(c);
			return;
		}
		if (is_signed)
			expo_series_add_value(f, l, 1, (double)(int64_t)val);
		else
			expo_series_add_u64(f, l, 1, val);
	}
}

static void collect_mvcc(struct collector *c)
{
	if (!loader_object(c->loader, SUBSYS_MVCC))
		return;
	add_gauge_slots(c, SUBSYS_MVCC, "mvcc_revision",
			expo_family_add(c->reg, "mvcc_current_revision",
					"Current MVCC revision of the member.", EXPO_GAUGE),
			true);
	add_per_slot(c, SUBSYS_MVCC, "mvcc_compactions",
		     expo_family_add(c->reg, "mvcc_compaction_total",
				     "Completed MVCC compactions.", EXPO_COUNTER));
}

static void collect_raft(struct collector *c)
{
	struct expo_family *commit;
	uint32_t nr = c->members.nr_slots;

	if (!loader_object(c->loader, SUBSYS_RAFT))
		return;
	add_gauge_slots(c, SUBSYS_RAFT, "raft_applied",
			expo_family_add(c->reg, "raft_applied_index",
					"Last raft log index the member applied.", EXPO_GAUGE),
			false);
	commit = expo_family_add(c->reg, "raft_commit_duration_seconds",
				 "Time from a leader's proposal of an entry to its commit, per node.",
				 EXPO_HISTOGRAM);
	if (!nr || collect_read_map(c, SUBSYS_RAFT, "raft_commit_hist", nr, HIST_WORDS))
		return;
	for (uint32_t s = 0; s < nr; s++) {
		const uint64_t *h = c->scratch + (size_t)s * HIST_WORDS;
		struct expo_label l[] = { { "node", node(c, s) } };

		/* only a member that proposed times entries */
		if (known(c, s) && ((const struct ms_hist *)h)->count)
			add_hist(commit, l, 1, c, h);
	}
}

/* Liveness and leadership of every member this agent has seen. A Go etcd has no status
 * probe: its liveness is its process's; leadership, term and limits are not exported (not
 * measured, so not faked). */
static void collect_member(struct collector *c)
{
	struct expo_family *upf, *leader, *term, *limit;
	const struct members_view *m = &c->members;
	bool go = loader_go_target(c->loader) != NULL;

	upf = expo_family_add(c->reg, "metastore_up",
			      go ? "1 while a process of the member runs, 0 once it exited."
				 : "1 while a process of the member runs and reports (every 20 ms), 0 once it exited or stopped reporting for 2 s.",
			      EXPO_GAUGE);
	if (go) {
		for (uint32_t s = 0; s < m->nr_slots; s++) {
			struct expo_label l[] = { { "node", node(c, s) } };

			if (known(c, s))
				expo_series_add_value(upf, l, 1, m->up[s]);
		}
		return;
	}
	leader = expo_family_add(c->reg, "raft_is_leader", "1 if the member is the raft leader.",
				 EXPO_GAUGE);
	term = expo_family_add(c->reg, "raft_term", "Current raft term of the member.", EXPO_GAUGE);
	for (uint32_t s = 0; s < m->nr_slots; s++) {
		struct expo_label l[] = { { "node", node(c, s) } };

		if (!known(c, s))
			continue;
		expo_series_add_value(upf, l, 1, m->up[s]);
		if (!m->up[s])
			continue;
		expo_series_add_value(leader, l, 1, m->is_leader[s]);
		expo_series_add_u64(term, l, 1, m->term[s]);
	}
	limit = expo_family_add(c->reg, "metastore_limit",
				"A limit the member runs with (its flag of the same name; 0: none).",
				EXPO_GAUGE);
	for (uint32_t s = 0; s < m->nr_slots; s++) {
		for (uint32_t i = 0; i < MS_LIMIT_COUNT && up(c, s) && m->has_limits[s]; i++) {
			struct expo_label l[] = { { "node", node(c, s) }, { "limit", limit_names[i] } };

			uint64_t v = m->limits[s][i];

			/* the rates travel in thousandths: --rate-limit may be below one per second */
			if (i == MS_LIMIT_RATE_LIMIT || i == MS_LIMIT_RATE_BURST)
				expo_series_add_value(limit, l, 2, (double)v / 1000);
			else
				expo_series_add_u64(limit, l, 2, v);
		}
	}
	add_per_slot(c, SUBSYS_MEMBER, "leader_changes",
		     expo_family_add(c->reg, "raft_leader_changes_total",
				     "Leader changes the member saw (a new leader after another one).",
				     EXPO_COUNTER));
}

void collect_store(struct collector *c)
{
	collect_member(c);
	collect_grpc(c);
	collect_conn(c);
	collect_storage(c);
	collect_mvcc(c);
	collect_watch(c);
	collect_lease(c);
	collect_auth(c);
	collect_raft(c);
}
