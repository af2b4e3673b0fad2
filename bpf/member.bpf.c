// SPDX-License-Identifier: GPL-2.0
/* member subsystem: which store process is which member, its term, leader, liveness. */
#include "member.bpf.h"

SEC("uprobe")
int BPF_KPROBE(member_status, __u64 node, __u64 term, __u64 leader,
	       const struct ms_probe_limits *limits)
{
	probe_hit(ctx);
	member_report(node, term, leader, limits, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
