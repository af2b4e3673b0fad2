// SPDX-License-Identifier: GPL-2.0
/* raft subsystem: applied index and propose-to-commit latency per member (node slot). */
#include "common.bpf.h"

#include "raft_maps.bpf.h"

/* A commit record of an entry proposed on this node carries its propose time. */
static __always_inline void committed(__u32 slot, const struct ms_probe_rec *r)
{
	struct ms_hist *h;

	if (!r->val)
		return; /* proposed elsewhere: only the proposer times an entry */
	h = bpf_map_lookup_elem(&raft_commit_hist, &slot);
	if (h)
		hist_observe(h, span_ns(r->val, r->t_ns));
}

static long raft_record(__u32 i, void *ctx)
{
	struct ms_batch *w = ctx;
	struct ms_probe_rec r;

	if (batch_read(&r, w, i))
		return 1;
	if (r.kind == MS_REC_RAFT_COMMIT)
		committed(w->slot, &r);
	else if (r.kind == MS_REC_RAFT_APPLY)
		gauge_set(&raft_applied, w->slot, r.val);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_RAFT, raft_record);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
