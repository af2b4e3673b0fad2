// SPDX-License-Identifier: GPL-2.0
/* raft subsystem: applied index per node, propose-to-commit latency per node. */
#include "common.bpf.h"

/* (tgid, log index) of a proposal -> when it was proposed. LRU: a proposal whose leader lost
 * its term never commits under that index, and ages out instead of filling the table. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MS_MAX_PENDING);
	__type(key, struct ms_req_key);
	__type(value, __u64);
} raft_pending SEC(".maps");

/* node id -> last applied index. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_NODES);
	__type(key, __u64);
	__type(value, __u64);
} raft_applied SEC(".maps");

/* node id -> propose-to-commit latency of the entries that node proposed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_NODES);
	__type(key, __u64);
	__type(value, struct ms_hist);
} raft_commit_hist SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(raft_propose, __u64 node, __u64 index)
{
	struct ms_req_key k;
	__u64 now = bpf_ktime_get_ns();

	probe_hit(ctx);
	pending_key(&k, index);
	if (bpf_map_update_elem(&raft_pending, &k, &now, BPF_ANY))
		pending_dropped();
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_commit, __u64 node, __u64 index)
{
	struct ms_req_key k;
	struct ms_hist *h;
	__u64 *start, delta;

	probe_hit(ctx);
	pending_key(&k, index);
	start = bpf_map_lookup_elem(&raft_pending, &k);
	if (!start)
		return 0; /* proposed elsewhere: only the proposer times an entry */
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&raft_pending, &k);
	h = bpf_map_lookup_elem(&raft_commit_hist, &node);
	if (!h) {
		struct ms_hist zero;

		__builtin_memset(&zero, 0, sizeof(zero));
		bpf_map_update_elem(&raft_commit_hist, &node, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&raft_commit_hist, &node);
		if (!h)
			return 0;
	}
	hist_observe(h, delta);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_apply, __u64 node, __u64 index)
{
	probe_hit(ctx);
	gauge_set(&raft_applied, &node, index);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
