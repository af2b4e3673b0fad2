// SPDX-License-Identifier: GPL-2.0
/* raft subsystem: applied index and propose-to-commit latency per member (node slot). */
#include "common.bpf.h"

#include "raft_maps.bpf.h"

/* A commit record of an entry proposed on this node carries its propose time; a batch's
 * commits are summed in its aggregate (one add per bucket touched, as the gRPC walk). */
static long raft_record(__u32 i, void *ctx)
{
	struct ms_batch *w = ctx;
	struct ms_probe_rec buf;
	const struct ms_probe_rec *r;
	struct ms_agg *agg;

	r = batch_rec(&buf, w->recs, w->copied, i, &agg);
	if (!r)
		return 1;
	/* a commit with no propose time was proposed elsewhere: only the proposer times it */
	if (r->kind == MS_REC_RAFT_COMMIT && r->val)
		agg_hist(agg, &raft_commit_hist, w->slot, span_ns(r->val, r->t_ns));
	else if (r->kind == MS_REC_RAFT_APPLY)
		gauge_set(&raft_applied, w->slot, r->val);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(raft_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_RAFT, raft_record, &raft_commit_hist, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
