// SPDX-License-Identifier: GPL-2.0
/* lease subsystem for Go etcd: grants, revokes, renewals, expiries, active leases, in lease.bpf.c's maps. */
#include "go_common.bpf.h"

const volatile __u32 off_hmap_count = 0; /* runtime.hmap.count */
const volatile __u32 off_revoke_id = 0;  /* etcdserverpb.LeaseRevokeRequest.ID */

#include "lease_maps.bpf.h"

struct go_lease_key {
	__u32 tgid;
	__u32 pad;
	__s64 id;
};

/* Leases this process's expiry loop asked raft to revoke: their revoke is an expiry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_lease_key);
	__type(value, __u8);
} go_expiring SEC(".maps");

static __always_inline void lease_op(__u32 op)
{
	__u32 slot;

	if (current_slot(&slot) == 0)
		slot_add(&lease_ops, slot * MS_LEASE_SERIES + op * MS_LEASE_STATUS_COUNT +
					     MS_LEASE_STATUS_OK, 1);
}

/* The lessor's leaseMap (RBX at a mapassign/mapdelete call): `delta` more leases after it. */
static __always_inline void active_after(__u64 hmap, __s32 delta)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__s64 count;
	__u32 n;

	if (bpf_probe_read_user(&count, sizeof(count), (void *)(hmap + off_hmap_count)) ||
	    count + delta < 0) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return;
	}
	n = (__u32)(count + delta);
	bpf_map_update_elem(&lease_active, &tgid, &n, BPF_ANY);
}

/* lease.(*lessor).Grant: the call inserting the new lease, le.leaseMap[id] = l
 * (mapassign_fast64(type, h = RBX, key)); past every check that refuses a grant. */
SEC("uprobe")
int BPF_KPROBE(go_lease_grant)
{
	probe_hit(ctx);
	lease_op(MS_LEASE_OP_GRANT);
	active_after(ctx->bx, 1);
	return 0;
}

/* lease.(*lessor).Revoke: delete(le.leaseMap, l.ID) (mapdelete_fast64(type, h = RBX,
 * key = RCX)), reached only for a lease that exists. */
SEC("uprobe")
int BPF_KPROBE(go_lease_revoke)
{
	struct go_lease_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .id = ctx->cx };

	probe_hit(ctx);
	if (bpf_map_delete_elem(&go_expiring, &k) == 0)
		lease_op(MS_LEASE_OP_EXPIRE);
	else
		lease_op(MS_LEASE_OP_REVOKE);
	active_after(ctx->bx, -1);
	return 0;
}

/* lease.(*lessor).Renew: the call re-registering the renewed lease's expiry, past every
 * refusal. */
SEC("uprobe")
int BPF_KPROBE(go_lease_renew)
{
	probe_hit(ctx);
	lease_op(MS_LEASE_OP_RENEW);
	return 0;
}

/* etcdserver.(*EtcdServer).revokeExpiredLeases.func1.1.1: the call s.LeaseRevoke(ctx,
 * &pb.LeaseRevokeRequest{ID: lid}) (RDI = the request) for a lease whose TTL ran out. */
SEC("uprobe")
int BPF_KPROBE(go_lease_expiring)
{
	struct go_lease_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
	__u8 one = 1;

	probe_hit(ctx);
	if (bpf_probe_read_user(&k.id, sizeof(k.id), (void *)(ctx->di + off_revoke_id))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	bpf_map_update_elem(&go_expiring, &k, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
