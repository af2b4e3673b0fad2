/* The member id of each Go etcd process, for the `node` label: read from the EtcdServer on apply. */
#ifndef MS_GO_NODE_BPF_H
#define MS_GO_NODE_BPF_H

#include "go_common.bpf.h"

const volatile __u32 off_server_id = 0; /* etcdserver.EtcdServer.id (types.ID, uint64) */

/* tgid -> member id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} go_node SEC(".maps");

/* etcdserver.(*EtcdServer).applyAll(s, ep, apply): RAX = s, on the apply goroutine before
 * every batch of entries, so the id is known before anything of the batch is applied. */
SEC("uprobe")
int BPF_KPROBE(go_node_capture)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 id;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (bpf_probe_read_user(&id, sizeof(id), (void *)(ctx->ax + off_server_id)) || !id) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	bpf_map_update_elem(&go_node, &tgid, &id, BPF_ANY);
	return 0;
}

/* The member id of the current process; false before its first apply was seen. */
static __always_inline bool go_node_of(__u64 *node)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *id = bpf_map_lookup_elem(&go_node, &tgid);

	if (!id)
		return false;
	*node = *id;
	return true;
}

#endif /* MS_GO_NODE_BPF_H */
