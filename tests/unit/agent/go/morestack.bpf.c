// SPDX-License-Identifier: GPL-2.0
/* Test probes for test_go_morestack: hits on a stack-check jbe, all of them and those go_stack_grows() keeps. */
#include "go_common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} morestack_hits SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(morestack_probe)
{
	__u32 all = 0, kept = 1;

	slot_add(&morestack_hits, all, 1);
	if (!go_stack_grows(ctx))
		slot_add(&morestack_hits, kept, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
