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

static long mvcc_record(__u32 i, void *batch)
{
	struct ms_probe_rec r;

	if (batch_read(&r, ((struct ms_batch *)batch)->recs, i))
		return 1;
	if (r.kind == MS_REC_MVCC_REVISION)
		gauge_set(&mvcc_revision, &r.id, r.val);
	else if (r.kind == MS_REC_MVCC_COMPACT)
		slot_add(&mvcc_compactions, 0, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mvcc_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_MVCC, mvcc_record);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
