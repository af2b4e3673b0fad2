// SPDX-License-Identifier: GPL-2.0
/* watch subsystem for Go etcd: events sent by type and open watchers, in watch.bpf.c's maps. */
#include "go_common.bpf.h"

const volatile __u32 off_resp_events = 0; /* etcdserverpb.WatchResponse.Events ([]*mvccpb.Event) */
const volatile __u32 off_event_type = 0;  /* mvccpb.Event.Type (int32: PUT 0, DELETE 1) */
const volatile __u32 off_watcher_ch = 0;  /* mvcc.watcher.ch (chan, nil once canceled) */

/* Events in one response beyond this are not read (etcd's responses hold at most a few
 * thousand; sendFragments splits bigger ones). */
#define GO_WATCH_EVENTS_MAX 65536

#include "watch_maps.bpf.h"

/* tgid -> watchers created minus canceled since the agent attached. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __s64);
} go_watch_delta SEC(".maps");

struct go_events_walk {
	__u64 events; /* the []*mvccpb.Event array */
	__u64 put, del;
	bool fault;
};

static long count_event(__u32 i, void *ctx)
{
	struct go_events_walk *w = ctx;
	__u64 ev;
	__s32 type;

	if (bpf_probe_read_user(&ev, sizeof(ev), (void *)(w->events + (__u64)i * 8)) ||
	    bpf_probe_read_user(&type, sizeof(type), (void *)(ev + off_event_type))) {
		w->fault = true;
		return 1;
	}
	if (type == 0)
		w->put++;
	else if (type == 1)
		w->del++;
	else
		go_sanity_fail(MS_GO_SANITY_EVENT_TYPE);
	return 0;
}

/* etcdserverpb.(*watchWatchServer).Send(x, m *WatchResponse): RBX = m, every response the
 * server sends on a Watch stream (its events, fragments included, once each). */
SEC("uprobe")
int BPF_KPROBE(go_watch_send)
{
	struct go_events_walk w = { 0 };
	struct { __u64 ptr, len, cap; } evs;
	__u32 slot;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (bpf_probe_read_user(&evs, sizeof(evs), (void *)(ctx->bx + off_resp_events))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	if (!evs.len)
		return 0;
	if (evs.len > GO_WATCH_EVENTS_MAX || evs.len > evs.cap) {
		go_sanity_fail(MS_GO_SANITY_EVENT_COUNT);
		return 0;
	}
	w.events = evs.ptr;
	bpf_loop((__u32)evs.len, count_event, &w, 0);
	if (w.fault)
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
	if (current_slot(&slot))
		return 0;
	slot_add(&watch_events, slot * 2, w.put);
	slot_add(&watch_events, slot * 2 + 1, w.del);
	return 0;
}

static __always_inline void watchers_move(__s64 d)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, active;
	__s64 *v = bpf_map_lookup_elem(&go_watch_delta, &tgid), now;

	if (!v) {
		__s64 zero = 0;

		bpf_map_update_elem(&go_watch_delta, &tgid, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&go_watch_delta, &tgid);
		if (!v) {
			go_sanity_fail(MS_GO_SANITY_TABLE_FULL);
			return;
		}
	}
	now = __sync_fetch_and_add(v, d) + d;
	active = now > 0 ? (__u32)now : 0; /* cancels of watchers older than the agent */
	bpf_map_update_elem(&watch_active, &tgid, &active, BPF_ANY);
}

/* mvcc.(*watchableStore).watch: every watcher created (etcd's watcherGauge.Inc). */
SEC("uprobe")
int BPF_KPROBE(go_watch_create)
{
	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	watchers_move(1);
	return 0;
}

/* mvcc.(*watchableStore).cancelWatcher(s, wa): RBX = wa; a watcher whose channel is already
 * nil was canceled before and is not counted down again. */
SEC("uprobe")
int BPF_KPROBE(go_watch_cancel)
{
	__u64 ch;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (bpf_probe_read_user(&ch, sizeof(ch), (void *)(ctx->bx + off_watcher_ch))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	if (ch)
		watchers_move(-1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
