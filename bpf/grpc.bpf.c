// SPDX-License-Identifier: GPL-2.0
/* gRPC subsystem: per-call latency by method and code, in-flight calls, handler panics. */
#include "common.bpf.h"

/* Each call whose end has not been seen; the agent reaps those of processes that died. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PENDING);
	__type(key, struct ms_req_key);
	__type(value, struct ms_pending);
} grpc_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_GRPC_SERIES);
	__type(key, __u32);
	__type(value, struct ms_hist);
} grpc_hist SEC(".maps");

/* Per-CPU deltas (+1 at begin, -1 at end, possibly on different CPUs): the sum is the gauge. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __s64);
} grpc_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_panics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_rate_limited_hits SEC(".maps");

static __always_inline __u32 clamp_method(__u32 method)
{
	return method < MS_METHOD_COUNT ? method : MS_METHOD_UNKNOWN;
}

static __always_inline void inflight_add(__u32 method, __s64 d)
{
	__s64 *v = bpf_map_lookup_elem(&grpc_inflight, &method);

	if (v)
		__sync_fetch_and_add(v, d);
}

SEC("uprobe")
int BPF_KPROBE(grpc_request_begin, __u64 req_id, __u32 method)
{
	struct ms_pending p = { .start_ns = bpf_ktime_get_ns(), .method = clamp_method(method) };
	struct ms_req_key key;

	probe_hit(ctx);
	pending_key(&key, req_id);
	if (bpf_map_update_elem(&grpc_pending, &key, &p, BPF_NOEXIST)) {
		pending_dropped();
		return 0;
	}
	inflight_add(p.method, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(grpc_request_end, __u64 req_id, __u32 method, __u32 code)
{
	struct ms_req_key key;
	struct ms_pending *p;
	struct ms_hist *h;
	__u64 delta;
	__u32 idx;

	probe_hit(ctx);
	pending_key(&key, req_id);
	p = bpf_map_lookup_elem(&grpc_pending, &key);
	/* A call that began before the probes were attached is neither timed nor counted. */
	if (!p)
		return 0;
	delta = bpf_ktime_get_ns() - p->start_ns;
	/* The gauge moves back by what begin added to it. */
	inflight_add(p->method, -1);
	bpf_map_delete_elem(&grpc_pending, &key);

	method = clamp_method(method);
	if (code >= MS_GRPC_CODE_COUNT)
		code = MS_GRPC_UNKNOWN;
	idx = method * MS_GRPC_CODE_COUNT + code;
	h = bpf_map_lookup_elem(&grpc_hist, &idx);
	if (h)
		hist_observe(h, delta);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(grpc_panic, __u64 req_id, __u32 method)
{
	__u32 m = clamp_method(method);
	__u64 *v;

	probe_hit(ctx);
	v = bpf_map_lookup_elem(&grpc_panics, &m);
	if (v)
		count_add(v, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(grpc_rate_limited, __u64 req_id, __u32 method)
{
	__u32 m = clamp_method(method);
	__u64 *v;

	probe_hit(ctx);
	v = bpf_map_lookup_elem(&grpc_rate_limited_hits, &m);
	if (v)
		count_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
