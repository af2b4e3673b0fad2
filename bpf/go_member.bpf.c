// SPDX-License-Identifier: GPL-2.0
/* member subsystem for Go etcd: the process table, with the member id read from the EtcdServer. */
#include "go_common.bpf.h"
#include "member.bpf.h"

const volatile __u32 off_server_id = 0;   /* etcdserver.EtcdServer.id (types.ID, uint64) */
const volatile __u32 off_server_raft = 0; /* etcdserver.EtcdServer.r (raftNode, by value) */

static __always_inline void member_seen(__u64 server)
{
	__u64 id;

	if (bpf_probe_read_user(&id, sizeof(id), (void *)(server + off_server_id)) || !id) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return;
	}
	member_report(id, 0, 0, NULL, 1);
}

/* (*raftNode).tick, RAX = &s.r (the raftNode is a field of the EtcdServer): every tick of the
 * member's raft clock, so a member is known within one heartbeat interval of the attach, idle
 * or not, at no cost per request. A taken jbe (the stack grows) hits twice: only the hit that
 * goes on counts, as in the other Go objects. */
SEC("uprobe")
int BPF_KPROBE(go_member_tick)
{
	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	member_seen(ctx->ax - off_server_raft);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
