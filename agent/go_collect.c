/* Go-target metrics: failed sanity checks (wrong offsets show up here) and where each probe sits. */
#include "go_collect.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

#include "expo.h"
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

/* The goroutine tables' sizes and what spilled out of them (bpf/go_common.bpf.h): a table
 * that spills costs a hash-map update per call, and --go-max-calls makes it bigger. */
static int collect_tables(struct expo_registry *reg, const struct go_target *gt,
			  const struct loader *l)
{
	static const struct {
		enum subsys_id sub;
		const char *table, *map;
	} tabs[] = {
		{ SUBSYS_GRPC, "calls", "go_calls_spilled" },
		{ SUBSYS_STORAGE, "storage", "go_storage_start_spilled" },
	};
	struct expo_family *slots = NULL, *spilled = NULL;
	int err = 0;

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		struct bpf_object *obj = loader_object(l, tabs[i].sub);
		int fd = obj ? bpf_object__find_map_fd_by_name(obj, tabs[i].map) : -ENOENT;
		struct expo_label lb[] = { { "table", tabs[i].table } };
		uint32_t zero = 0;
		uint64_t n;

		if (fd < 0)
			continue;
		if (!slots) {
			slots = expo_family_add(reg, "metastore_agent_go_table_slots",
						"Slots of a Go target's goroutine table (calls in "
						"flight, backend commits): what it holds without "
						"spilling (--go-max-calls sizes the calls' table).",
						EXPO_GAUGE);
			spilled = expo_family_add(reg, "metastore_agent_go_table_spilled",
						  "Entries of a Go target's goroutine table in its "
						  "spill hash map now (their set was full; entries "
						  "the map evicted when full stay counted).",
						  EXPO_GAUGE);
		}
		if (bpf_map_lookup_elem(fd, &zero, &n)) {
			err = -EIO;
			continue;
		}
		if (slots)
			expo_series_add_u64(slots, lb, 1,
					    tabs[i].sub == SUBSYS_GRPC ? go_target_call_slots(gt) :
					    (uint64_t)MS_GO_GTAB_WAYS << MS_GO_STORAGE_BITS);
		if (spilled)
			expo_series_add_u64(spilled, lb, 1, n);
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
	err = collect_tables(reg, gt, l);
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
