// SPDX-License-Identifier: GPL-2.0
/* lease subsystem: active leases per store process, lease operations by result. */
#include "common.bpf.h"

#include "lease_maps.bpf.h"

SEC("uprobe")
int BPF_KPROBE(lease_op, __u32 op, __s64 lease_id, __u32 status)
{
	__u32 slot;

	probe_hit(ctx);
	/* Out-of-contract values are dropped rather than folded into a real label. */
	if (op >= MS_LEASE_OP_COUNT || status >= MS_LEASE_STATUS_COUNT || current_slot(&slot))
		return 0;
	slot_add(&lease_ops, slot * MS_LEASE_SERIES + op * MS_LEASE_STATUS_COUNT + status, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lease_active_set, __u32 count)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, slot;

	probe_hit(ctx);
	if (current_slot(&slot) == 0)
		bpf_map_update_elem(&lease_active, &tgid, &count, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
