/* Collector: turns the loaded subsystems' BPF maps into metric families on each scrape. */
#include "collect.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binwatch.h"
#include "collect_priv.h"
#include "go_collect.h"

static size_t max_scratch_words(void)
{
	size_t a = (size_t)MS_NODE_SLOTS * MS_GRPC_SERIES * HIST_WORDS;
	size_t b = (size_t)MS_NODE_SLOTS * MS_STORAGE_TOTAL_SERIES;
	size_t c = 2 * (size_t)MS_INFLIGHT_MAX; /* keys and values of grpc_inflight */

	a = a > b ? a : b;
	return a > c ? a : c;
}

int collector_new(struct loader *l, const char *version, const char *revision,
		  struct collector **out)
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
	c->revision = revision;
	pthread_mutex_init(&c->lock, NULL);
	b = loader_bounds(l, &c->nr_bounds);
	for (uint32_t i = 0; i < c->nr_bounds; i++)
		c->bounds_s[i] = (double)b[i] / 1e9;
	err = mapread_new(&c->reader);
	if (err)
		goto cleanup;
	c->reg = expo_registry_new();
	c->scratch = calloc(max_scratch_words(), sizeof(uint64_t));
	c->counts = calloc((size_t)MS_NODE_SLOTS * MS_GRPC_SERIES, sizeof(uint64_t));
	if (!c->reg || !c->scratch || !c->counts) {
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

void collector_set_target_pid(struct collector *c, int pid)
{
	c->target_pid = pid > 0 ? pid : 0;
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
	free(c->counts);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void collect_read_failed(struct collector *c)
{
	c->map_read_errors++;
}

int collect_read_map(struct collector *c, enum subsys_id sub, const char *name, uint32_t nr,
		     uint32_t words)
{
	struct bpf_object *obj = loader_object(c->loader, sub);
	int fd, err;

	fd = obj ? bpf_object__find_map_fd_by_name(obj, name) : -ENOENT;
	err = fd < 0 ? fd : mapread_percpu_sum(c->reader, fd, nr, words, c->scratch);
	if (err)
		collect_read_failed(c);
	return err;
}

int collect_read_members(struct collector *c)
{
	struct bpf_object *obj = loader_object(c->loader, SUBSYS_MEMBER);
	int err;

	err = obj ? members_read(bpf_object__find_map_fd_by_name(obj, "proc_node"),
				 bpf_object__find_map_fd_by_name(obj, "node_slots"), &c->members)
		  : -ENOENT;
	if (err) {
		memset(&c->members, 0, sizeof(c->members));
		collect_read_failed(c);
	}
	return err;
}

/* Agent self-metrics: probes, BPF program stats, read errors, build info. */
static void collect_self(struct collector *c, double scrape_s)
{
	struct expo_family *att, *nop, *hits, *recs, *faults, *drops, *runs, *rtime, *errs, *dur;
	struct expo_family *info, *unattr, *foreign, *filtered;
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
	unattr = expo_family_add(c->reg, "metastore_agent_unattributed_total",
				 "Probe hits dropped: the process is no known member (no status yet, not running the probed executable, or past the node table).",
				 EXPO_COUNTER);
	foreign = expo_family_add(c->reg, "metastore_agent_foreign_process_total",
				  "Member status reports ignored: the process does not run the probed executable (it mapped the file itself).",
				  EXPO_COUNTER);
	filtered = expo_family_add(c->reg, "metastore_agent_filtered_process_total",
				   "Member status reports ignored: the process is outside --target-uid / --target-cgroup.",
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
		bool hits_ok = obj && collect_read_map(c, id, "probe_hits", MS_MAX_PROBES, 1) == 0;

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
		if (collect_read_map(c, id, "probe_records", MS_MAX_PROBES, 1) == 0) {
			for (size_t i = 0; i < d->nr_probes; i++) {
				struct expo_label l[] = { { "subsystem", d->name },
							  { "function", d->probes[i].func } };

				if (d->probes[i].semaphore)
					expo_series_add_u64(recs, l, 2,
							    v[subsys_probe_index(id, i)]);
			}
		}
		if (collect_read_map(c, id, "record_faults", 1, 1) == 0) {
			struct expo_label l[] = { { "subsystem", d->name } };

			expo_series_add_u64(faults, l, 1, v[0]);
		}
		if (collect_read_map(c, id, "table_full_drops", 1, 1) == 0) {
			struct expo_label l[] = { { "subsystem", d->name } };

			expo_series_add_u64(drops, l, 1, v[0]);
		}
		if (collect_read_map(c, id, "unattributed", 1, 1) == 0) {
			struct expo_label l[] = { { "subsystem", d->name } };

			expo_series_add_u64(unattr, l, 1, v[0]);
		}
		if (id == SUBSYS_MEMBER && collect_read_map(c, id, "exe_filtered", 1, 1) == 0)
			expo_series_add_u64(foreign, NULL, 0, v[0]);
		if (id == SUBSYS_MEMBER && collect_read_map(c, id, "target_filtered", 1, 1) == 0)
			expo_series_add_u64(filtered, NULL, 0, v[0]);
		struct bpf_program *p;
		bpf_object__for_each_program(p, obj) {
			struct bpf_prog_info pi;
			uint32_t len = sizeof(pi);
			struct expo_label l[] = { { "subsystem", d->name },
						  { "program", bpf_program__name(p) } };

			memset(&pi, 0, sizeof(pi));
			if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &pi, &len)) {
				collect_read_failed(c);
				continue;
			}
			expo_series_add_u64(runs, l, 2, pi.run_cnt);
			expo_series_add_value(rtime, l, 2, (double)pi.run_time_ns / 1e9);
		}
	}
	expo_series_add_u64(errs, NULL, 0, c->map_read_errors);
	expo_series_add_value(dur, NULL, 0, scrape_s);
	{
		struct expo_label l[] = { { "version", c->version }, { "revision", c->revision } };

		expo_series_add_value(info, l, 2, 1);
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
	collect_read_members(c);
	collect_store(c);
	if (go_collect_sanity(c->reg, c->reader, c->loader))
		collect_read_failed(c);
	collect_binwatch(c);
	collect_self(c, now_s() - t0);
	err = expo_render(c->reg, fmt, out);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* With --pid: that process is a member that reports (a Go etcd: that lives). With --binary: every member seen
 * is up (one that exited is named until a process of it is back). */
static bool members_healthy(struct collector *c, char *why, size_t len)
{
	const struct members_view *m = &c->members;
	int s;

	if (collect_read_members(c)) {
		snprintf(why, len, "cannot read the process table");
		return false;
	}
	if (c->target_pid) {
		s = members_slot_of(m, (uint32_t)c->target_pid);
		if (s < 0 && kill(c->target_pid, 0) && errno == ESRCH) {
			snprintf(why, len, "pid %d exited", c->target_pid);
			return false;
		}
		/* a Go etcd joins the table at its first read, write or apply: alive is enough */
		if (s < 0 && loader_go_target(c->loader))
			return true;
		if (s < 0)
			snprintf(why, len, "pid %d has not reported its member status yet", c->target_pid);
		else if (!m->up[s])
			snprintf(why, len, "pid %d (member %s) stopped reporting", c->target_pid,
				 m->name[s]);
		return s >= 0 && m->up[s];
	}
	for (s = 0; s < (int)m->nr_slots; s++) {
		if (m->known[s] && !m->up[s]) {
			snprintf(why, len, "member %s is down (its process exited or stopped reporting)",
				 m->name[s]);
			return false;
		}
	}
	return true;
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
		if (ok && collect_read_map(c, id, "probe_hits", MS_MAX_PROBES, 1)) {
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
	/* the agent's own trouble first, then the members' */
	if (ok)
		ok = members_healthy(c, why, len);
	pthread_mutex_unlock(&c->lock);
	return ok;
}
