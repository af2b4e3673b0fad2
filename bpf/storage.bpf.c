// SPDX-License-Identifier: GPL-2.0
/* storage subsystem: key-value engine operation latency and totals by status. */
#include "common.bpf.h"

#include "storage_maps.bpf.h"

/* One record is one whole operation: begin time, end time, op, engine, status. */
static long storage_record(__u32 i, void *batch)
{
	struct ms_batch *w = batch;
	struct ms_probe_rec buf;
	const struct ms_probe_rec *r;
	struct ms_agg *agg;
	__u32 idx;

	r = batch_rec(&buf, w->recs, w->copied, i, &agg);
	if (!r)
		return 1;
	/* Out-of-contract values are dropped rather than folded into a real label. */
	if (r->kind != MS_REC_STORAGE_OP || r->a >= MS_STORAGE_OP_COUNT ||
	    r->b >= MS_STORAGE_KIND_COUNT || r->c >= MS_STORAGE_STATUS_COUNT)
		return 0;
	idx = (__u32)r->a * MS_STORAGE_KIND_COUNT + r->b;
	agg_hist(agg, &storage_hist, w->slot * MS_STORAGE_SERIES + idx, span_ns(r->t_ns, r->val));
	agg_count(agg, &storage_total,
		  w->slot * MS_STORAGE_TOTAL_SERIES + idx * MS_STORAGE_STATUS_COUNT + r->c);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(storage_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_STORAGE, storage_record, &storage_hist, &storage_total);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
