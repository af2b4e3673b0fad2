// SPDX-License-Identifier: GPL-2.0
/* raft subsystem: applied index per node, propose-to-commit latency per node. */
#include "common.bpf.h"

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

/* A commit record of an entry proposed on this node carries its propose time. */
static __always_inline void committed(const struct ms_probe_rec *r)
{
	__u64 node = r->id;
	struct ms_hist *h;

	if (!r->val)
		return; /* proposed elsewhere: only the proposer times an entry */
	h = bpf_map_lookup_elem(&raft_commit_hist, &node);
	if (!h) {
		struct ms_hist zero;

		__builtin_memset(&zero, 0, sizeof(zero));
		bpf_map_update_elem(&raft_commit_hist, &node, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&raft_commit_hist, &node);
		if (!h)
			return;
	}
	hist_observe(h, span_ns(r->val, r->t_ns));
}

static long raft_record(__u32 i, void *ctx)
{
	struct ms_probe_rec r;

	if (batch_read(&r, ((struct ms_batch *)ctx)->recs, i))
		return 1;
	if (r.kind == MS_REC_RAFT_COMMIT)
		committed(&r);
	else if (r.kind == MS_REC_RAFT_APPLY)
		gauge_set(&raft_applied, &r.id, r.val);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_RAFT, raft_record);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
