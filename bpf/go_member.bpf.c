// SPDX-License-Identifier: GPL-2.0
/* member subsystem for Go etcd: the process table, with the member id read from the EtcdServer. */
#include "go_common.bpf.h"
#include "member.bpf.h"

const volatile __u32 off_server_id = 0; /* etcdserver.EtcdServer.id (types.ID, uint64) */

/*
 * The stack-check jbe of an (*EtcdServer) method, RAX = s: applyAll (before every batch of
 * entries it applies), processInternalRaftRequestOnce (every write, before it is proposed,
 * so before its WAL fsync), Range and LeaseRenew (reads and keep-alives). So a process is a
 * member before its first counted event. A taken jbe (the stack grows) hits twice: only
 * the hit that goes on counts, as in the other Go objects.
 */
SEC("uprobe")
int BPF_KPROBE(go_member_seen)
{
	__u64 id;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (bpf_probe_read_user(&id, sizeof(id), (void *)(ctx->ax + off_server_id)) || !id) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	member_report(id, 0, 0, NULL, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
