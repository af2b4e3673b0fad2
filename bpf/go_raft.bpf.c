// SPDX-License-Identifier: GPL-2.0
/* raft subsystem for Go etcd: applied index per member, in raft.bpf.c's maps. */
#include "go_common.bpf.h"

/* raft_commit_hist stays empty for the collector: a Go etcd's propose-to-commit time is not
 * measured. */
#include "raft_maps.bpf.h"

/* wait.(*timeList).Trigger(tl, deadline): applyAll's applyWait.Trigger(ep.appliedi) after
 * the batch was applied, its only caller; RBX = the applied index (what etcd sets
 * etcd_server_proposals_applied_total to just before). */
SEC("uprobe")
int BPF_KPROBE(go_raft_applied)
{
	__u64 index = ctx->bx;
	__u32 slot;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		gauge_set(&raft_applied, slot, index);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
