// SPDX-License-Identifier: GPL-2.0
/* raft subsystem for Go etcd: applied index per member, in raft.bpf.c's maps. */
#include "go_common.bpf.h"

const volatile __u32 off_server_raft = 0;   /* etcdserver.EtcdServer.r (raftNode, by value) */
const volatile __u32 off_applied_index = 0; /* etcdserver.EtcdServer.appliedIndex (uint64) */

/* raft_commit_hist stays empty for the collector: a Go etcd's propose-to-commit time is not
 * measured. */
#include "raft_maps.bpf.h"

/* (*raftNode).tick, RAX = &s.r: the EtcdServer's applied index (what applyAll sets
 * etcd_server_proposals_applied_total to), sampled every tick of the raft clock instead of
 * a hit per apply batch: the gauge is at most one heartbeat interval behind. */
SEC("uprobe")
int BPF_KPROBE(go_raft_tick)
{
	__u64 server = ctx->ax - off_server_raft, index;
	__u32 slot;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (current_slot(&slot))
		return 0;
	if (bpf_probe_read_user(&index, sizeof(index), (void *)(server + off_applied_index))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	gauge_set(&raft_applied, slot, index);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
