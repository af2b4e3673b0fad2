// SPDX-License-Identifier: GPL-2.0
/* storage subsystem: key-value engine operation latency and totals by status. */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PENDING);
	__type(key, struct ms_req_key);
	__type(value, __u64);
} storage_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_STORAGE_SERIES);
	__type(key, __u32);
	__type(value, struct ms_hist);
} storage_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_STORAGE_TOTAL_SERIES);
	__type(key, __u32);
	__type(value, __u64);
} storage_total SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(storage_begin, __u64 op_id, __u32 op, __u32 kind)
{
	struct ms_req_key key;
	__u64 now = bpf_ktime_get_ns();

	probe_hit(ctx);
	pending_key(&key, op_id);
	if (bpf_map_update_elem(&storage_pending, &key, &now, BPF_NOEXIST))
		pending_dropped();
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(storage_end, __u64 op_id, __u32 op, __u32 kind, __u32 status)
{
	struct ms_req_key key;
	struct ms_hist *h;
	__u64 *start, *total, delta;
	__u32 idx;

	probe_hit(ctx);
	pending_key(&key, op_id);
	start = bpf_map_lookup_elem(&storage_pending, &key);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&storage_pending, &key);

	/* Out-of-contract values are dropped rather than folded into a real label. */
	if (op >= MS_STORAGE_OP_COUNT || kind >= MS_STORAGE_KIND_COUNT ||
	    status >= MS_STORAGE_STATUS_COUNT)
		return 0;
	idx = op * MS_STORAGE_KIND_COUNT + kind;
	h = bpf_map_lookup_elem(&storage_hist, &idx);
	if (h)
		hist_observe(h, delta);
	idx = idx * MS_STORAGE_STATUS_COUNT + status;
	total = bpf_map_lookup_elem(&storage_total, &idx);
	if (total)
		count_add(total, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
