// SPDX-License-Identifier: GPL-2.0
/* mvcc subsystem: current revision per raft node, compactions. */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_NODES);
	__type(key, __u64);
	__type(value, __s64);
} mvcc_revision SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} mvcc_compactions SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(mvcc_revision_set, __u64 node_id, __s64 rev)
{
	probe_hit(ctx);
	gauge_set(&mvcc_revision, &node_id, (__u64)rev);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mvcc_compact, __u64 node_id, __s64 rev)
{
	__u32 zero = 0;
	__u64 *v;

	probe_hit(ctx);
	v = bpf_map_lookup_elem(&mvcc_compactions, &zero);
	if (v)
		count_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
