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

static __always_inline void proposed(const struct ms_probe_rec *r)
{
	struct ms_req_key k;
	__u64 t = r->t_ns;

	pending_key(&k, r->val);
	if (bpf_map_update_elem(&raft_pending, &k, &t, BPF_ANY))
		pending_dropped();
}

static __always_inline void committed(const struct ms_probe_rec *r)
{
	__u64 node = r->id, *start, delta;
	struct ms_req_key k;
	struct ms_hist *h;

	pending_key(&k, r->val);
	start = bpf_map_lookup_elem(&raft_pending, &k);
	if (!start)
		return; /* proposed elsewhere: only the proposer times an entry */
	delta = span_ns(*start, r->t_ns);
	bpf_map_delete_elem(&raft_pending, &k);
	h = bpf_map_lookup_elem(&raft_commit_hist, &node);
	if (!h) {
		struct ms_hist zero;

		__builtin_memset(&zero, 0, sizeof(zero));
		bpf_map_update_elem(&raft_commit_hist, &node, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&raft_commit_hist, &node);
		if (!h)
			return;
	}
	hist_observe(h, delta);
}

static long raft_record(__u32 i, void *batch)
{
	struct ms_probe_rec r;

	if (batch_read(&r, batch, i))
		return 1;
	switch (r.kind) {
	case MS_REC_RAFT_PROPOSE:
		proposed(&r);
		break;
	case MS_REC_RAFT_COMMIT:
		committed(&r);
		break;
	case MS_REC_RAFT_APPLY:
		gauge_set(&raft_applied, &r.id, r.val);
		break;
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_batch, const struct ms_probe_rec *recs, __u32 n)
{
	struct ms_batch b = { .recs = recs };

	bpf_loop(batch_begin(ctx, n), raft_record, &b, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
