// SPDX-License-Identifier: GPL-2.0
/* conn subsystem: open client connections, as last reported by each store process. */
#include "common.bpf.h"

/* tgid -> open connections after that process's latest open/close event. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} conn_active SEC(".maps");

/* Connections refused over --max-connections, by slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} conn_rejected SEC(".maps");

static __always_inline int conn_event(void *ctx, __u32 active)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, slot;

	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		bpf_map_update_elem(&conn_active, &tgid, &active, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(conn_open, __u64 conn_id, __u32 active)
{
	return conn_event(ctx, active);
}

SEC("uprobe")
int BPF_KPROBE(conn_close, __u64 conn_id, __u32 active)
{
	return conn_event(ctx, active);
}

SEC("uprobe")
int BPF_KPROBE(conn_reject, __u32 active)
{
	__u32 slot;

	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		slot_add(&conn_rejected, slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
