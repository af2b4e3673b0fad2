// SPDX-License-Identifier: GPL-2.0
/* Benchmark probes: the cheapest possible uprobe body, one per-CPU hit count per attachment. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Slots indexed by the attachment's BPF cookie, so one map serves every probe kind. */
#define BENCH_SLOTS 8

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BENCH_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} bench_hits SEC(".maps");

static __always_inline void hit(void *ctx)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *v = bpf_map_lookup_elem(&bench_hits, &idx);

	/* Per-CPU slot, but uprobe programs are preemptible: keep the add atomic like bpf/. */
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("uprobe")
int BPF_KPROBE(bench_entry)
{
	hit(ctx);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(bench_return)
{
	hit(ctx);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
