/* Go targets: probe sites from .gopclntab, offsets, and the go_* BPF objects in the subsystems' places. */
#include "go_target.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "go_grpc.skel.h"
#include "go_lease.skel.h"
#include "go_member.skel.h"
#include "go_mvcc.skel.h"
#include "go_raft.skel.h"
#include "go_methods.h"
#include "go_offsets.h"
#include "go_sites.h"
#include "go_storage.skel.h"
#include "go_watch.skel.h"
#include "gopclntab.h"
#include "uprobe_multi.h"
#include "ms_go.h"
#include "ms_maps.h"
#include "ms_methods.h"

#define GRPC_PKG "google.golang.org/grpc"
#define ETCD_PKG "go.etcd.io/etcd"

/* Where a program goes: a prologue's stack-check jbe, a direct call, the first
 * instruction after it the kernel emulates (the callee has returned; go_site_after_call),
 * or that after the timer's call that follows the callee's (go_site_timed). */
enum site_kind { SITE_STACK, SITE_CALL, SITE_AFTER, SITE_TIMED };

struct probe_def {
	enum subsys_id sub;
	const char *prog;
	enum site_kind kind;
	const char *func;
	const char *callee; /* SITE_CALL, SITE_AFTER, SITE_TIMED */
	const char *timer;  /* SITE_TIMED */
};

static const struct probe_def defs[] = {
	/* the member id on the raft tick (every heartbeat interval, 100 ms by default, idle or
	 * not): no per-request or per-batch site */
	{ SUBSYS_MEMBER, "go_member_tick", SITE_STACK, ETCD_PKG "/etcdserver.(*raftNode).tick",
	  NULL, NULL },
	{ SUBSYS_GRPC, "go_grpc_begin", SITE_STACK, GRPC_PKG ".(*Server).handleStream", NULL, NULL },
	/* the end of every call: the status its server wrote (see go_grpc.bpf.c) */
	{ SUBSYS_GRPC, "go_grpc_status", SITE_STACK,
	  GRPC_PKG "/internal/transport.(*http2Server).WriteStatus", NULL, NULL },
	/* one site per fsync, where etcd has its duration (`took`) and the error */
	{ SUBSYS_STORAGE, "go_wal_fsync", SITE_TIMED, ETCD_PKG "/wal.(*WAL).sync",
	  ETCD_PKG "/pkg/fileutil.Fdatasync", "time.Since" },
	{ SUBSYS_STORAGE, "go_bolt_commit_begin", SITE_CALL,
	  ETCD_PKG "/mvcc/backend.(*batchTx).commit", "go.etcd.io/bbolt.(*Tx).Commit", NULL },
	{ SUBSYS_STORAGE, "go_bolt_commit_end", SITE_AFTER,
	  ETCD_PKG "/mvcc/backend.(*batchTx).commit", "go.etcd.io/bbolt.(*Tx).Commit", NULL },
	/* the revision sampled on the raft tick, not per write */
	{ SUBSYS_MVCC, "go_mvcc_tick", SITE_STACK, ETCD_PKG "/etcdserver.(*raftNode).tick",
	  NULL, NULL },
	{ SUBSYS_MVCC, "go_mvcc_compacted", SITE_AFTER, ETCD_PKG "/mvcc.(*store).compact.func1",
	  ETCD_PKG "/mvcc.(*store).scheduleCompaction", NULL },
	/* the applied index sampled on the raft tick, not per apply batch */
	{ SUBSYS_RAFT, "go_raft_tick", SITE_STACK, ETCD_PKG "/etcdserver.(*raftNode).tick", NULL, NULL },
	{ SUBSYS_LEASE, "go_lease_grant", SITE_CALL, ETCD_PKG "/lease.(*lessor).Grant",
	  "runtime.mapassign_fast64", NULL },
	{ SUBSYS_LEASE, "go_lease_revoke", SITE_CALL, ETCD_PKG "/lease.(*lessor).Revoke",
	  "runtime.mapdelete_fast64", NULL },
	{ SUBSYS_LEASE, "go_lease_renew", SITE_CALL, ETCD_PKG "/lease.(*lessor).Renew",
	  ETCD_PKG "/lease.(*LeaseExpiredNotifier).RegisterOrUpdate", NULL },
	{ SUBSYS_LEASE, "go_lease_expiring", SITE_CALL,
	  ETCD_PKG "/etcdserver.(*EtcdServer).revokeExpiredLeases.func1.1.1",
	  ETCD_PKG "/etcdserver.(*EtcdServer).LeaseRevoke", NULL },
	{ SUBSYS_WATCH, "go_watch_send", SITE_STACK,
	  ETCD_PKG "/etcdserver/etcdserverpb.(*watchWatchServer).Send", NULL, NULL },
	{ SUBSYS_WATCH, "go_watch_create", SITE_STACK, ETCD_PKG "/mvcc.(*watchableStore).watch",
	  NULL, NULL },
	{ SUBSYS_WATCH, "go_watch_cancel", SITE_STACK,
	  ETCD_PKG "/mvcc.(*watchableStore).cancelWatcher", NULL, NULL },
};

/* The functions whose WriteStatus is the status of the call itself (as opposed to one a
 * stream's SendMsg or RecvMsg wrote after a failed send or receive): grpc-go 1.33's
 * server.go writes the final status only there. */
static const char *const status_callers[MS_GO_CALLER_RANGES] = {
	GRPC_PKG ".(*Server).processUnaryRPC",
	GRPC_PKG ".(*Server).processStreamingRPC",
	GRPC_PKG ".(*Server).handleStream",
};

#define NR_DEFS (sizeof(defs) / sizeof(defs[0]))

struct go_target {
	struct gopclntab *tab;
	struct go_offsets off;
	const char *off_source;
	struct go_site sites[NR_DEFS];
	uint32_t data[NR_DEFS];         /* per site, to the program in its cookie's high half */
	struct ms_go_callers callers;   /* status_callers around the WriteStatus site */
	uint32_t checked; /* subsystems whose sites were found */
	const char *btf;  /* --btf for the objects (borrowed; NULL: the kernel's own) */
	int multi; /* uprobe_multi links: 1 yes, 0 no (perf-event uprobes), -1 not probed yet */
	uint32_t call_bits;   /* 2^call_bits sets in the gRPC calls' table (--go-max-calls) */
	uint64_t method_seed; /* go_methods_build's, for the gRPC object */
	struct ms_go_method_slot methods[MS_GO_METHOD_SLOTS];
};

int go_target_open(const char *binary, struct go_target **out, char *eb, size_t el)
{
	struct go_target *gt;
	char why[512];
	int err;

	*out = NULL;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return -ENOMEM;
	gt->multi = -1;
	gt->call_bits = MS_GO_CALLS_DEFAULT_BITS;
	err = go_methods_build(gt->methods, &gt->method_seed);
	if (err) {
		snprintf(eb, el, "no seed separates the gRPC method names in %d slots",
			 MS_GO_METHOD_SLOTS);
		free(gt);
		return err;
	}
	err = gopclntab_open(binary, &gt->tab);
	if (err == -ENODATA || err == -ENOEXEC || err == -ENOENT || err == -EACCES) {
		free(gt); /* not Go (or not readable): the ELF checks say why */
		return 0;
	}
	if (err) {
		snprintf(eb, el, "%s: Go function table not readable (%s; Go 1.18+ is supported)",
			 binary, strerror(-err));
		goto cleanup;
	}
	err = go_offsets_resolve(binary, gt->tab, &gt->off, &gt->off_source, why, sizeof(why));
	if (err) {
		snprintf(eb, el, "%s", why);
		goto cleanup;
	}
	*out = gt;
	return 0;
cleanup:
	go_target_free(gt);
	return err;
}

void go_target_free(struct go_target *gt)
{
	if (!gt)
		return;
	gopclntab_free(gt->tab);
	free(gt);
}

void go_target_set_btf(struct go_target *gt, const char *btf)
{
	gt->btf = btf;
}

void go_target_set_max_calls(struct go_target *gt, uint32_t max_calls)
{
	uint32_t bits = 0;

	while (bits < MS_GO_CALLS_MAX_BITS && ((uint32_t)MS_GO_GTAB_WAYS << bits) < max_calls)
		bits++;
	gt->call_bits = bits;
}

void go_target_set_perf_event(struct go_target *gt)
{
	gt->multi = 0; /* decided: probe_multi does not run */
}

uint32_t go_target_call_slots(const struct go_target *gt)
{
	return (uint32_t)MS_GO_GTAB_WAYS << gt->call_bits;
}

const char *go_target_offsets_source(const struct go_target *gt)
{
	return gt->off_source;
}

/* status_callers' code around the WriteStatus site at `site`, relative to it. */
static int find_callers(struct go_target *gt, uint64_t site, char *eb, size_t el)
{
	for (int i = 0; i < MS_GO_CALLER_RANGES; i++) {
		struct gopclntab_func f;

		if (gopclntab_lookup(gt->tab, status_callers[i], &f)) {
			snprintf(eb, el, "%s: no such function (or two of that name)",
				 status_callers[i]);
			return -ENOENT;
		}
		gt->callers.lo[i] = (int64_t)(f.entry - site);
		gt->callers.hi[i] = (int64_t)(f.end - site);
	}
	return 0;
}

int go_target_check(struct go_target *gt, uint32_t mask, char *eb, size_t el)
{
	int err;

	for (int id = 0; id < SUBSYS_COUNT; id++) {
		if ((mask & (1u << id)) && !(GO_TARGET_SUBSYS & (1u << id))) {
			snprintf(eb, el, "subsystem %s is not available for Go targets "
				 "(they have grpc, storage, mvcc, raft, lease and watch)",
				 subsys_get(id)->name);
			return -EOPNOTSUPP;
		}
	}
	for (size_t i = 0; i < NR_DEFS; i++) {
		const struct probe_def *d = &defs[i];
		struct go_after_site as;
		struct go_call_site cs;

		if (!(mask & (1u << d->sub)))
			continue;
		gt->data[i] = 0;
		if (d->kind == SITE_STACK) {
			err = go_site_stack_check(gt->tab, d->func, &gt->sites[i], eb, el);
			if (!err && strcmp(d->prog, "go_grpc_status") == 0)
				err = find_callers(gt, gt->sites[i].addr, eb, el);
			if (err)
				return err;
			continue;
		}
		if (d->kind == SITE_TIMED) {
			struct go_timed_site ts;

			err = go_site_timed(gt->tab, d->func, d->callee, d->timer, &ts, eb, el);
			if (err)
				return err;
			gt->sites[i] = ts.site;
			/* the error's slot + 1, the duration's + 1 (0: RAX) */
			gt->data[i] = ((uint32_t)ts.result_slot + 1) |
				      (ts.duration_slot < 0 ? 0 : (uint32_t)ts.duration_slot + 1) << 16;
			continue;
		}
		if (d->kind == SITE_AFTER) {
			err = go_site_after_call(gt->tab, d->func, d->callee, &as, eb, el);
			if (err)
				return err;
			gt->sites[i] = as.site;
			/* where the program reads the callee's first result word */
			gt->data[i] = as.result_slot < 0 ? 0 : (uint32_t)as.result_slot + 1;
			continue;
		}
		err = go_site_calls(gt->tab, d->func, d->callee, &cs, 1, eb, el);
		if (err)
			return err;
		gt->sites[i] = cs.call;
	}
	gt->checked = mask;
	return 0;
}

int go_target_site_at(const struct go_target *gt, size_t i, struct go_target_site *out)
{
	static const char *const kinds[] = { [SITE_STACK] = "stack_check_jbe",
					     [SITE_CALL] = "call", [SITE_AFTER] = "after_call",
					     [SITE_TIMED] = "after_timer_call" };
	static const char *const kernel[] = { [GO_SITE_NOP5] = "nop5",
					      [GO_SITE_EMULATED] = "emulated",
					      [GO_SITE_STEPPED] = "single_step" };

	for (size_t d = 0; d < NR_DEFS; d++) {
		if (!(gt->checked & (1u << defs[d].sub)) || i--)
			continue;
		out->sub = defs[d].sub;
		out->func = defs[d].func;
		out->kind = kinds[defs[d].kind];
		out->kernel = kernel[gt->sites[d].cls];
		return 0;
	}
	return -ENOENT;
}

/* A program loaded for uprobe_multi (go_target_attach found the kernel has it) gets one
 * such link: its detach is a close without a perf event; else a perf-event uprobe link. */
static int attach_multi(struct bpf_program *prog, const char *binary, int pid, uint64_t offset,
			uint64_t cookie, struct go_links *gl, char *eb, size_t el)
{
	struct uprobe_multi_attr a;
	int fd = uprobe_multi_fill(&a, bpf_program__fd(prog), binary, &offset, NULL, &cookie, 1,
				   pid);

	if (!fd)
		fd = uprobe_multi_link(&a);
	if (fd < 0) {
		snprintf(eb, el, "cannot attach uprobe_multi %s at offset %#llx of %s: %s",
			 bpf_program__name(prog), (unsigned long long)offset, binary,
			 strerror(-fd));
		return fd;
	}
	gl->fds[gl->nr_fds++] = fd;
	return 0;
}

static int attach_at(struct bpf_object *obj, const char *prog_name, const char *binary, int pid,
		     uint64_t offset, uint64_t cookie, struct go_links *gl, char *eb, size_t el)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, prog_name);
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = cookie);
	struct bpf_link *link;
	int err;

	if (!prog) {
		snprintf(eb, el, "BPF program %s missing", prog_name);
		return -ENOENT;
	}
	if (gl->nr_links + gl->nr_fds >= MS_MAX_PROBES) {
		snprintf(eb, el, "too many probes");
		return -E2BIG;
	}
	if (bpf_program__expected_attach_type(prog) == (enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE)
		return attach_multi(prog, binary, pid, offset, cookie, gl, eb, el);
	link = bpf_program__attach_uprobe_opts(prog, pid, binary, (size_t)offset, &uo);
	if (!link) {
		err = -errno;
		snprintf(eb, el, "cannot attach uprobe %s at offset %#llx of %s: %s", prog_name,
			 (unsigned long long)offset, binary, strerror(-err));
		return err;
	}
	gl->links[gl->nr_links++] = link;
	return 0;
}

/*
 * The entry of the object's go_status_callers table holding gt's caller ranges: the one
 * already filled with them (a copy of the same build) or the first free one. The entry's
 * index goes to the WriteStatus program in its cookie, so each build's processes are
 * checked against their own code.
 */
static int callers_entry(const struct go_target *gt, struct bpf_object *obj, uint32_t *idx,
			 char *eb, size_t el)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "go_status_callers");
	struct ms_go_callers v, zero;

	memset(&zero, 0, sizeof(zero));
	if (!m) {
		snprintf(eb, el, "BPF map go_status_callers missing");
		return -ENOENT;
	}
	for (uint32_t i = 0; i < MS_GO_CALLER_BUILDS; i++) {
		int err = bpf_map__lookup_elem(m, &i, sizeof(i), &v, sizeof(v), 0);

		if (err) {
			snprintf(eb, el, "cannot read go_status_callers: %s", strerror(-err));
			return err;
		}
		if (memcmp(&v, &gt->callers, sizeof(v)) == 0) {
			*idx = i;
			return 0;
		}
		if (memcmp(&v, &zero, sizeof(v)) != 0)
			continue;
		err = bpf_map__update_elem(m, &i, sizeof(i), &gt->callers, sizeof(gt->callers),
					   BPF_ANY);
		if (err) {
			snprintf(eb, el, "cannot fill go_status_callers: %s", strerror(-err));
			return err;
		}
		*idx = i;
		return 0;
	}
	snprintf(eb, el, "more than %d Go builds attached: restart the agent", MS_GO_CALLER_BUILDS);
	return -ENOSPC;
}

/* Every site of subsystem `id` in `binary`, each with its program from `obj`; a site's
 * own data (gt->data, the callers entry) in the high half of its cookie. */
static int attach_sites(const struct go_target *gt, enum subsys_id id, struct bpf_object *obj,
			const char *binary, int pid, uint32_t cookie, struct go_links *gl, char *eb,
			size_t el)
{
	int err = 0;

	for (size_t i = 0; i < NR_DEFS && !err; i++) {
		uint32_t data = gt->data[i];

		if (defs[i].sub != id)
			continue;
		if (strcmp(defs[i].prog, "go_grpc_status") == 0)
			err = callers_entry(gt, obj, &data, eb, el);
		if (!err)
			err = attach_at(obj, defs[i].prog, binary, pid, gt->sites[i].offset,
					cookie | (uint64_t)data << 32, gl, eb, el);
	}
	return err;
}

/* The method table go_target_open built, into the loaded object's go_method_tab (the
 * slots left free stay zero: no name matches them). */
static int fill_methods(const struct go_target *gt, struct bpf_map *map, char *eb, size_t el)
{
	if (!map) {
		snprintf(eb, el, "BPF map go_method_tab missing");
		return -ENOENT;
	}
	for (uint32_t i = 0; i < MS_GO_METHOD_SLOTS; i++) {
		int err;

		if (!gt->methods[i].name[0])
			continue;
		err = bpf_map__update_elem(map, &i, sizeof(i), &gt->methods[i],
					   sizeof(gt->methods[i]), BPF_ANY);
		if (err) {
			snprintf(eb, el, "cannot fill the method table: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Each object's field offsets, in its own rodata type. */
static void setup_grpc(struct go_grpc_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_stream_method = o->off[GO_OFF_STREAM_METHOD];
	k->rodata->off_status_proto = o->off[GO_OFF_STATUS_PROTO];
	k->rodata->off_proto_code = o->off[GO_OFF_PROTO_STATUS_CODE];
	k->rodata->method_seed = gt->method_seed;
	k->rodata->go_calls_mask = (1u << gt->call_bits) - 1;
}

static void setup_storage(struct go_storage_bpf *k, const struct go_target *gt)
{
	(void)k;
	(void)gt;
}

static void setup_member(struct go_member_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_server_id = o->off[GO_OFF_SERVER_ID];
	k->rodata->off_server_raft = o->off[GO_OFF_SERVER_RAFT_NODE];
}

static void setup_mvcc(struct go_mvcc_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_server_raft = o->off[GO_OFF_SERVER_RAFT_NODE];
	k->rodata->off_server_kv = o->off[GO_OFF_SERVER_KV];
	k->rodata->off_wstore_store = o->off[GO_OFF_WATCHABLE_STORE_STORE];
	k->rodata->off_current_rev = o->off[GO_OFF_STORE_CURRENT_REV];
}

static void setup_raft(struct go_raft_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_server_raft = o->off[GO_OFF_SERVER_RAFT_NODE];
	k->rodata->off_applied_index = o->off[GO_OFF_SERVER_APPLIED_INDEX];
}

static void setup_lease(struct go_lease_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_hmap_count = o->off[GO_OFF_HMAP_COUNT];
	k->rodata->off_revoke_id = o->off[GO_OFF_LEASE_REVOKE_ID];
}

static void setup_watch(struct go_watch_bpf *k, const struct go_target *gt)
{
	const struct go_offsets *o = &gt->off;

	k->rodata->off_resp_events = o->off[GO_OFF_WATCH_RESP_EVENTS];
	k->rodata->off_event_type = o->off[GO_OFF_EVENT_TYPE];
	k->rodata->off_watcher_ch = o->off[GO_OFF_WATCHER_CH];
}

/* Opens an object, sets its buckets and offsets: every skeleton in one shape. */
#define GO_OPEN_FN(name)                                                                  \
	static int open_##name(const struct go_target *gt, const uint64_t *bounds,         \
			       uint32_t nr_bounds, struct go_target_sub *sub)              \
	{                                                                                  \
		LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = gt->btf);        \
		struct go_##name##_bpf *k = go_##name##_bpf__open_opts(&oo);               \
                                                                                           \
		if (!k)                                                                    \
			return errno ? -errno : -ENOMEM;                                   \
		sub->skel = k;                                                             \
		sub->obj = k->obj;                                                         \
		sub->destroy = (void (*)(void *))go_##name##_bpf__destroy;                 \
		memcpy((void *)k->rodata->bounds_ns, bounds, sizeof(bounds[0]) * nr_bounds); \
		k->rodata->nr_bounds = nr_bounds;                                          \
		setup_##name(k, gt);                                                       \
		return 0;                                                                  \
	}

GO_OPEN_FN(member)
GO_OPEN_FN(grpc)
GO_OPEN_FN(storage)
GO_OPEN_FN(mvcc)
GO_OPEN_FN(raft)
GO_OPEN_FN(lease)
GO_OPEN_FN(watch)

static int (*const openers[SUBSYS_COUNT])(const struct go_target *, const uint64_t *, uint32_t,
					   struct go_target_sub *) = {
	[SUBSYS_MEMBER] = open_member,
	[SUBSYS_GRPC] = open_grpc,
	[SUBSYS_STORAGE] = open_storage,
	[SUBSYS_MVCC] = open_mvcc,
	[SUBSYS_RAFT] = open_raft,
	[SUBSYS_LEASE] = open_lease,
	[SUBSYS_WATCH] = open_watch,
};

/* Once per target, before its first object loads: does the kernel make uprobe_multi links
 * (probed on the target's first site, for the agent's own pid only)? 1 or 0; a probe that
 * fails otherwise (e.g. -EPERM) counts as 0: the perf-event links still get their own error. */
static int probe_multi(const struct go_target *gt, const char *binary)
{
	for (size_t d = 0; d < NR_DEFS; d++) {
		if (gt->checked & (1u << defs[d].sub))
			return uprobe_multi_supported(binary, gt->sites[d].offset) == 1;
	}
	return 0;
}

/* uprobe_multi needs the programs loaded with that expected attach type (and a program so
 * loaded cannot take a perf-event link: one mode per loaded object). */
static void set_multi(struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
		bpf_program__set_expected_attach_type(p,
			(enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE);
}

const char *go_target_link_kind(const struct go_target *gt)
{
	return gt->multi > 0 ? "uprobe_multi" : gt->multi == 0 ? "perf_event" : "none";
}

int go_target_attach(struct go_target *gt, enum subsys_id id, const char *binary, int pid,
		     const uint64_t *bounds, uint32_t nr_bounds, uint32_t cookie, int proc_fd,
		     struct go_target_sub *sub, char *eb, size_t el)
{
	const char *name = subsys_get(id)->name;
	int err;

	if (!openers[id]) {
		snprintf(eb, el, "subsystem %s is not available for Go targets", name);
		return -EOPNOTSUPP;
	}
	err = openers[id](gt, bounds, nr_bounds, sub);
	if (err) {
		snprintf(eb, el, "cannot open Go BPF object of subsystem %s: %s", name,
			 strerror(-err));
		return err;
	}
	if (proc_fd >= 0) {
		struct bpf_map *m = bpf_object__find_map_by_name(sub->obj, "proc_node");

		err = m ? bpf_map__reuse_fd(m, proc_fd) : -ENOENT;
		if (err) {
			snprintf(eb, el, "cannot share the process table with subsystem %s: %s",
				 name, strerror(-err));
			return err;
		}
	}
	if (id == SUBSYS_GRPC) {
		err = bpf_map__set_max_entries(((struct go_grpc_bpf *)sub->skel)->maps.go_calls_sets,
					       1u << gt->call_bits);
		if (err) {
			snprintf(eb, el, "cannot size the calls' table of subsystem %s: %s", name,
				 strerror(-err));
			return err;
		}
	}
	if (gt->multi < 0)
		gt->multi = probe_multi(gt, binary);
	if (gt->multi > 0)
		set_multi(sub->obj);
	err = bpf_object__load(sub->obj);
	if (err) {
		snprintf(eb, el, "cannot load Go BPF object of subsystem %s: %s", name,
			 strerror(-err));
		return err;
	}
	if (id == SUBSYS_GRPC) {
		err = fill_methods(gt, bpf_object__find_map_by_name(sub->obj, "go_method_tab"), eb,
				   el);
		if (err)
			return err;
	}
	return attach_sites(gt, id, sub->obj, binary, pid, cookie, &sub->gl, eb, el);
}

int go_target_attach_loaded(const struct go_target *gt, enum subsys_id id,
			    struct bpf_object *obj, const char *binary, int pid, uint32_t cookie,
			    struct go_links *gl, char *eb, size_t el)
{
	if (!(gt->checked & (1u << id))) {
		snprintf(eb, el, "%s: the sites of subsystem %s were not checked", binary,
			 subsys_get(id)->name);
		return -EINVAL;
	}
	return attach_sites(gt, id, obj, binary, pid, cookie, gl, eb, el);
}

bool go_target_same_offsets(const struct go_target *a, const struct go_target *b)
{
	return memcmp(&a->off, &b->off, sizeof(a->off)) == 0;
}
