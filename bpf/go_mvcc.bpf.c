// SPDX-License-Identifier: GPL-2.0
/* mvcc subsystem for Go etcd: current revision per member and compactions, in mvcc.bpf.c's maps. */
#include "go_common.bpf.h"

const volatile __u32 off_server_raft = 0;  /* etcdserver.EtcdServer.r (raftNode, by value) */
const volatile __u32 off_server_kv = 0;    /* etcdserver.EtcdServer.kv (an interface) */
const volatile __u32 off_wstore_store = 0; /* mvcc.watchableStore.store (*store, embedded) */
const volatile __u32 off_current_rev = 0;  /* mvcc.store.currentRev (int64) */

#include "mvcc_maps.bpf.h"

/*
 * (*raftNode).tick, RAX = &s.r: the store's revision (s.kv is mvcc.New's *watchableStore,
 * the interface's data word), sampled every tick of the raft clock instead of a hit per
 * write: the gauge is at most one heartbeat interval behind the last write.
 */
SEC("uprobe")
int BPF_KPROBE(go_mvcc_tick)
{
	__u64 server = ctx->ax - off_server_raft, kv, store;
	__s64 rev;
	__u32 slot;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (current_slot(&slot))
		return 0;
	if (bpf_probe_read_user(&kv, sizeof(kv), (void *)(server + off_server_kv + 8)) ||
	    !kv || bpf_probe_read_user(&store, sizeof(store), (void *)(kv + off_wstore_store)) ||
	    !store || bpf_probe_read_user(&rev, sizeof(rev), (void *)(store + off_current_rev)) ||
	    rev < 0) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	gauge_set(&mvcc_revision, slot, (__u64)rev);
	return 0;
}

/* After the return from (*store).scheduleCompaction in the compaction job: a compaction ran
 * (what etcd_debugging_mvcc_db_compaction_total_duration_milliseconds observes). */
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
