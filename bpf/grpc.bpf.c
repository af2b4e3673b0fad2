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

static __always_inline void method_count(void *map, __u32 method)
{
	__u32 m = clamp_method(method);
	__u64 *v = bpf_map_lookup_elem(map, &m);

	if (v)
		count_add(v, 1);
}

static __always_inline void call_begin(const struct ms_probe_rec *r)
{
	struct ms_pending p = { .start_ns = r->t_ns, .method = clamp_method(r->a) };
	struct ms_req_key key;

	pending_key(&key, r->id);
	if (bpf_map_update_elem(&grpc_pending, &key, &p, BPF_NOEXIST)) {
		pending_dropped();
		return;
	}
	inflight_add(p.method, 1);
}

static __always_inline void call_end(const struct ms_probe_rec *r)
{
	__u32 method = clamp_method(r->a), code = r->b, idx;
	struct ms_req_key key;
	struct ms_pending *p;
	struct ms_hist *h;
	__u64 delta;

	pending_key(&key, r->id);
	p = bpf_map_lookup_elem(&grpc_pending, &key);
	/* A call that began before the probes were attached is neither timed nor counted. */
	if (!p)
		return;
	delta = span_ns(p->start_ns, r->t_ns);
	/* The gauge moves back by what begin added to it. */
	inflight_add(p->method, -1);
	bpf_map_delete_elem(&grpc_pending, &key);

	if (code >= MS_GRPC_CODE_COUNT)
		code = MS_GRPC_UNKNOWN;
	idx = method * MS_GRPC_CODE_COUNT + code;
	h = bpf_map_lookup_elem(&grpc_hist, &idx);
	if (h)
		hist_observe(h, delta);
}

static long grpc_record(__u32 i, void *batch)
{
	struct ms_probe_rec r;

	if (batch_read(&r, batch, i))
		return 1;
	switch (r.kind) {
	case MS_REC_GRPC_BEGIN:
		call_begin(&r);
		break;
	case MS_REC_GRPC_END:
		call_end(&r);
		break;
	case MS_REC_GRPC_PANIC:
		method_count(&grpc_panics, r.a);
		break;
	case MS_REC_GRPC_RATE_LIMITED:
		method_count(&grpc_rate_limited_hits, r.a);
		break;
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(grpc_batch, const struct ms_probe_rec *recs, __u32 n)
{
	struct ms_batch b = { .recs = recs };

	bpf_loop(batch_begin(ctx, n), grpc_record, &b, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
