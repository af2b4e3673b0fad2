// SPDX-License-Identifier: GPL-2.0
/* watch subsystem: open watchers per store process, events sent by type. */
#include "common.bpf.h"

#include "watch_maps.bpf.h"

static __always_inline int watch_set_active(void *ctx, __u32 active)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, slot;

	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		bpf_map_update_elem(&watch_active, &tgid, &active, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(watch_create, __s64 watch_id, __u32 active)
{
	return watch_set_active(ctx, active);
}

SEC("uprobe")
int BPF_KPROBE(watch_cancel, __s64 watch_id, __u32 active)
{
	return watch_set_active(ctx, active);
}

static long watch_record(__u32 i, void *ctx)
{
	struct ms_batch *w = ctx;
	struct ms_probe_rec r;

	if (batch_read(&r, w, i))
		return 1;
	if (r.kind != MS_REC_WATCH_EVENTS)
		return 0;
	slot_add(&watch_events, w->slot * 2, r.val >> 32);
	slot_add(&watch_events, w->slot * 2 + 1, r.val & 0xffffffffu);
	return 0;
}

/* Events sent come through the batch probe; opened and closed watchers are rare enough for
 * direct probes. */
SEC("uprobe")
int BPF_KPROBE(watch_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_WATCH, watch_record, NULL, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
