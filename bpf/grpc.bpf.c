// SPDX-License-Identifier: GPL-2.0
/* gRPC subsystem: per-call latency by method and code, in-flight calls, handler panics. */
#include "common.bpf.h"

/*
 * Per store process: the time of the first gRPC record this program saw from it. Records
 * of one buffer come in event order and a batch is seen whole or not at all, so every call
 * that began at or after that time had its begin record seen, and none before it did: a
 * call is counted (timed, and taken out of the in-flight gauge) iff its begin time is not
 * earlier. The agent forgets processes that exited.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} grpc_since SEC(".maps");

/* (process, method) -> calls begun and not yet ended; the agent sums live processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_INFLIGHT_MAX);
	__type(key, struct ms_proc_method);
	__type(value, __s64);
} grpc_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_GRPC_SERIES);
	__type(key, __u32);
	__type(value, struct ms_hist);
} grpc_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_panics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_rate_limited_hits SEC(".maps");

/* The walk over one batch's gRPC records: in-flight changes add up here, per method, and
 * reach the map once per batch (a batch holds at most 64 records: they fit in an s8);
 * `touched` has bit m set once method m changed. */
struct grpc_walk {
	const struct ms_probe_rec *recs;
	__u64 since;
	__u64 touched;
	__u32 slot;
	__s8 delta[MS_METHOD_COUNT];
};

_Static_assert(MS_METHOD_COUNT <= 64, "touched is a 64-bit mask of methods");

static __always_inline void inflight_move(struct grpc_walk *w, __u32 method, int d)
{
	w->delta[method] += d;
	w->touched |= 1ull << method;
}

static __always_inline __u32 clamp_method(__u32 method)
{
	return method < MS_METHOD_COUNT ? method : MS_METHOD_UNKNOWN;
}

static __always_inline void call_end(struct grpc_walk *w, const struct ms_probe_rec *r)
{
	__u32 method = clamp_method(r->a), code = r->b, idx;
	struct ms_hist *h;

	/* began before this program saw the process (or before records were written) */
	if (!r->val || r->val < w->since)
		return;
	inflight_move(w, method, -1);
	if (code >= MS_GRPC_CODE_COUNT)
		code = MS_GRPC_UNKNOWN;
	idx = w->slot * MS_GRPC_SERIES + method * MS_GRPC_CODE_COUNT + code;
	h = bpf_map_lookup_elem(&grpc_hist, &idx);
	if (h)
		hist_observe(h, span_ns(r->val, r->t_ns));
}

static long grpc_record(__u32 i, void *ctx)
{
	struct grpc_walk *w = ctx;
	struct ms_probe_rec r;

	if (batch_read(&r, w->recs, i))
		return 1;
	switch (r.kind) {
	case MS_REC_GRPC_BEGIN:
		inflight_move(w, clamp_method(r.a), 1);
		break;
	case MS_REC_GRPC_END:
		call_end(w, &r);
		break;
	case MS_REC_GRPC_PANIC:
		slot_add(&grpc_panics, w->slot * MS_METHOD_COUNT + clamp_method(r.a), 1);
		break;
	case MS_REC_GRPC_RATE_LIMITED:
		slot_add(&grpc_rate_limited_hits, w->slot * MS_METHOD_COUNT + clamp_method(r.a), 1);
		break;
	}
	return 0;
}

/* The process's first-seen time; set from its first record (time t) the first time. */
static __always_inline __u64 since_of(__u32 tgid, __u64 t)
{
	__u64 *v = bpf_map_lookup_elem(&grpc_since, &tgid);

	if (v)
		return *v;
	bpf_map_update_elem(&grpc_since, &tgid, &t, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&grpc_since, &tgid);
	return v ? *v : t;
}

/* Adds the batch's net change of method m to this process's in-flight count. */
static __always_inline void inflight_apply(__u32 tgid, __u32 m, __s64 d)
{
	struct ms_proc_method k = { .tgid = tgid, .method = m };
	__s64 *v = bpf_map_lookup_elem(&grpc_inflight, &k);

	if (v) {
		__sync_fetch_and_add(v, d);
		return;
	}
	if (bpf_map_update_elem(&grpc_inflight, &k, &d, BPF_NOEXIST)) {
		/* another CPU added it first */
		v = bpf_map_lookup_elem(&grpc_inflight, &k);
		if (v)
			__sync_fetch_and_add(v, d);
		else
			table_full();
	}
}

SEC("uprobe")
int BPF_KPROBE(grpc_batch, const struct ms_probe_batch *b)
{
	struct grpc_walk w = { .recs = b->rec[MS_BATCH_GRPC] };
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, n = batch_open(ctx, b, MS_BATCH_GRPC);
	struct ms_probe_rec first;

	/* the process's first-seen time is set once it is a known member, so no call of it is
	 * half counted */
	if (!n || current_slot(&w.slot) || batch_read(&first, w.recs, 0))
		return 0;
	w.since = since_of(tgid, first.t_ns);
	bpf_loop(n, grpc_record, &w, 0);
	/* only the methods touched reach the map (a batch touches one or two) */
	for (__u32 m = 0; m < MS_METHOD_COUNT && w.touched; m++) {
		if (!(w.touched & (1ull << m)))
			continue;
		w.touched &= ~(1ull << m);
		if (w.delta[m])
			inflight_apply(tgid, m, w.delta[m]);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
