/* Go-target metrics: failed sanity checks (wrong offsets show up here) and where each probe sits. */
#include "go_collect.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

#include "expo.h"
#include "go_gtab.h"
#include "go_target.h"
#include "loader.h"
#include "mapread.h"
#include "ms_go.h"

#define GO_SANITY_NAME_(id, name) name,
static const char *const sanity_names[MS_GO_SANITY_COUNT] = { MS_GO_SANITY(GO_SANITY_NAME_) };
#undef GO_SANITY_NAME_

/* One series per probe site, with how the kernel handles a hit there (its cost class). */
static void collect_sites(struct expo_registry *reg, const struct go_target *gt)
{
	struct expo_family *f;
	struct go_target_site s;

	f = expo_family_add(reg, "metastore_agent_go_probe_site",
			    "Probe sites in the Go target, by the Go function they are in, the "
			    "site (stack_check_jbe, call, after_call) and how the kernel handles a "
			    "hit (nop5: about 0.5 us; emulated: about 1 us; single_step: about 12 us).",
			    EXPO_GAUGE);
	for (size_t i = 0; f && go_target_site_at(gt, i, &s) == 0; i++) {
		struct expo_label lb[] = { { "subsystem", subsys_get(s.sub)->name },
					   { "function", s.func },
					   { "site", s.kind },
					   { "kernel", s.kernel } };

		expo_series_add_u64(f, lb, 4, 1);
	}
}

/* The goroutine tables' sizes, use and what spilled out of them (bpf/go_common.bpf.h): a
 * table that spills costs a hash-map update per call, and --go-max-calls makes it bigger.
 * Each scrape also frees the entries exited processes left (go_gtab_reap). */
static int collect_tables(struct expo_registry *reg, const struct loader *l)
{
	static const struct {
		enum subsys_id sub;
		const char *table, *sets, *spill, *spilled;
	} tabs[] = {
		{ SUBSYS_GRPC, "calls", "go_calls_sets", "go_calls_spill", "go_calls_spilled" },
		{ SUBSYS_STORAGE, "storage", "go_storage_start_sets", "go_storage_start_spill",
		  "go_storage_start_spilled" },
	};
	struct expo_family *slots = NULL, *held = NULL, *spilled = NULL;
	int err = 0;

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		struct bpf_object *obj = loader_object(l, tabs[i].sub);
		struct bpf_map *sets = obj ? bpf_object__find_map_by_name(obj, tabs[i].sets) : NULL;
		struct bpf_map *spill = obj ? bpf_object__find_map_by_name(obj, tabs[i].spill) : NULL;
		int spilled_fd = obj ? bpf_object__find_map_fd_by_name(obj, tabs[i].spilled) : -1;
		struct expo_label lb[] = { { "table", tabs[i].table } };
		struct go_gtab_usage u;

		if (!sets || !spill || spilled_fd < 0)
			continue;
		if (!slots) {
			slots = expo_family_add(reg, "metastore_agent_go_table_slots",
						"Slots of a Go target's goroutine table (calls in "
						"flight, backend commits): what it holds without "
						"spilling (--go-max-calls sizes the calls' table).",
						EXPO_GAUGE);
			held = expo_family_add(reg, "metastore_agent_go_table_held",
					       "Slots of a Go target's goroutine table held now by "
					       "running processes (those of exited ones are freed "
					       "at each scrape).",
					       EXPO_GAUGE);
			spilled = expo_family_add(reg, "metastore_agent_go_table_spilled",
						  "Entries of a Go target's goroutine table in its "
						  "spill hash map now (their set was full; entries "
						  "the map evicted when full stay counted).",
						  EXPO_GAUGE);
		}
		if (go_gtab_reap(bpf_map__fd(sets), bpf_map__max_entries(sets), bpf_map__fd(spill),
				 bpf_map__max_entries(spill), spilled_fd, NULL, &u)) {
			err = -EIO;
			continue;
		}
		if (slots)
			expo_series_add_u64(slots, lb, 1,
					    (uint64_t)MS_GO_GTAB_WAYS * bpf_map__max_entries(sets));
		if (held)
			expo_series_add_u64(held, lb, 1, u.held);
		if (spilled)
			expo_series_add_u64(spilled, lb, 1, u.spilled);
	}
	return err;
}

int go_collect_sanity(struct expo_registry *reg, struct mapread *r, const struct loader *l)
{
	const struct go_target *gt = loader_go_target(l);
	struct expo_family *f = NULL;
	uint64_t v[MS_GO_SANITY_COUNT];
	int err = 0;

	if (!gt)
		return 0;
	collect_sites(reg, gt);
	err = collect_tables(reg, l);
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		struct bpf_object *obj = loader_object(l, id);
		int fd = obj ? bpf_object__find_map_fd_by_name(obj, "go_sanity") : -ENOENT;

		if (fd < 0)
			continue; /* not selected, or not a Go target's object */
		if (!f)
			f = expo_family_add(reg, "metastore_agent_go_sanity_failures_total",
					    "Go-target probe hits dropped by a sanity check "
					    "(a method not starting with '/', a length or status "
					    "code out of bounds, an unreadable field).",
					    EXPO_COUNTER);
		if (mapread_percpu_sum(r, fd, MS_GO_SANITY_COUNT, 1, v)) {
			err = -EIO;
			continue;
		}
		for (int i = 0; i < MS_GO_SANITY_COUNT && f; i++) {
			struct expo_label lb[] = { { "subsystem", subsys_get(id)->name },
						   { "check", sanity_names[i] } };

			expo_series_add_u64(f, lb, 2, v[i]);
		}
	}
	return err;
}
