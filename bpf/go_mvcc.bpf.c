// SPDX-License-Identifier: GPL-2.0
/* mvcc subsystem for Go etcd: current revision per member and compactions, in mvcc.bpf.c's maps. */
#include "go_common.bpf.h"

const volatile __u32 off_txn_read = 0;    /* storeTxnWrite.storeTxnRead (embedded) */
const volatile __u32 off_txn_store = 0;   /* storeTxnRead.s (*store) */
const volatile __u32 off_txn_changes = 0; /* storeTxnWrite.changes ([]mvccpb.KeyValue) */
const volatile __u32 off_current_rev = 0; /* store.currentRev (int64) */

#include "mvcc_maps.bpf.h"

/*
 * mvcc.(*storeTxnWrite).End(tw): RAX = tw. End adds one to the store's revision when the
 * txn changed anything; write txns run one at a time (the backend's batch lock), so the
 * revision read here plus that one is the revision End leaves.
 */
SEC("uprobe")
int BPF_KPROBE(go_mvcc_txn_end)
{
	__u64 tw = ctx->ax, store;
	__s64 rev, nchanges;
	__u32 slot;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (current_slot(&slot))
		return 0;
	if (bpf_probe_read_user(&store, sizeof(store), (void *)(tw + off_txn_read + off_txn_store)) ||
	    bpf_probe_read_user(&nchanges, sizeof(nchanges), (void *)(tw + off_txn_changes + 8)) ||
	    bpf_probe_read_user(&rev, sizeof(rev), (void *)(store + off_current_rev))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	if (nchanges)
		rev++;
	gauge_set(&mvcc_revision, slot, (__u64)rev);
	return 0;
}

/* The return from (*store).scheduleCompaction in the compaction job: a compaction ran (what
 * etcd_debugging_mvcc_db_compaction_total_duration_milliseconds observes). */
SEC("uprobe")
int BPF_KPROBE(go_mvcc_compacted)
{
	__u32 slot;

	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		slot_add(&mvcc_compactions, slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
