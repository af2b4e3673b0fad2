// SPDX-License-Identifier: GPL-2.0
/* mvcc subsystem: current revision and compactions per member (node slot). */
#include "common.bpf.h"

#include "mvcc_maps.bpf.h"

static long mvcc_record(__u32 i, void *batch)
{
	struct ms_batch *w = batch;
	struct ms_probe_rec r;

	if (batch_read(&r, w, i))
		return 1;
	/* the process's member, not the record's id: one process is one member */
	if (r.kind == MS_REC_MVCC_REVISION)
		gauge_set(&mvcc_revision, w->slot, r.val);
	else if (r.kind == MS_REC_MVCC_COMPACT)
		slot_add(&mvcc_compactions, w->slot, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mvcc_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_MVCC, mvcc_record, NULL, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
