// SPDX-License-Identifier: GPL-2.0
/* gRPC subsystem: per-call latency by method and code, in-flight calls, handler panics. */
#include "common.bpf.h"

#include "grpc_maps.bpf.h"

/* The walk over one batch's gRPC records: in-flight changes add up here, per method (the
 * batch's begin counts, less the ends counted), and reach the map once per batch. */
struct grpc_walk {
	const struct ms_probe_rec *recs;
	__u32 copied; /* as in struct ms_batch */
	__u64 since;
	__u32 slot;
	__s32 delta[MS_METHOD_COUNT];
};

static __always_inline void inflight_move(struct grpc_walk *w, __u32 method, int d)
{
	if (method < MS_METHOD_COUNT)
		w->delta[method] += d;
}

static __always_inline __u32 clamp_method(__u32 method)
{
	return method < MS_METHOD_COUNT ? method : MS_METHOD_UNKNOWN;
}

static __always_inline void call_end(struct grpc_walk *w, const struct ms_probe_rec *r,
				     struct ms_agg *agg)
{
	__u32 method = clamp_method(r->a), code = r->b, idx;

	/* began before this program saw the process (or before records were written) */
	if (!r->val || r->val <= w->since)
		return;
	inflight_move(w, method, -1);
	if (code >= MS_GRPC_CODE_COUNT)
		code = MS_GRPC_UNKNOWN;
	idx = w->slot * MS_GRPC_SERIES + method * MS_GRPC_CODE_COUNT + code;
	agg_hist(agg, &grpc_hist, idx, span_ns(r->val, r->t_ns));
}

static long grpc_record(__u32 i, void *ctx)
{
	struct grpc_walk *w = ctx;
	struct ms_probe_rec buf;
	const struct ms_probe_rec *r;
	struct ms_agg *agg;

	r = batch_rec(&buf, w->recs, w->copied, i, &agg);
	if (!r)
		return 1;
	switch (r->kind) {
	case MS_REC_GRPC_END:
		call_end(w, r, agg);
		break;
	case MS_REC_GRPC_PANIC:
		slot_add(&grpc_panics, w->slot * MS_METHOD_COUNT + clamp_method(r->a), 1);
		break;
	case MS_REC_GRPC_RATE_LIMITED:
		slot_add(&grpc_rate_limited_hits, w->slot * MS_METHOD_COUNT + clamp_method(r->a), 1);
		break;
	}
	return 0;
}

/* The process's first-seen window start; set from its first batch (window start t). */
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
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, n;
	__u64 window;
	__s32 begun = 0;

	if (bpf_probe_read_user(&window, sizeof(window), &b->window_ns) ||
	    bpf_probe_read_user(w.delta, sizeof(w.delta), b->grpc_begun)) {
		probe_hit(ctx);
		record_fault();
		return 0;
	}
	n = batch_open(ctx, b, MS_BATCH_GRPC);
	for (__u32 m = 0; m < MS_METHOD_COUNT; m++)
		begun |= w.delta[m];
	/* a batch may carry begins and no record; the process's first-seen window is set once
	 * it is a known member, so no call of it is half counted */
	if ((!n && !begun) || current_slot(&w.slot))
		return 0;
	w.since = since_of(tgid, window);
	if (n)
		BATCH_RUN(w, n, grpc_record, &grpc_hist, NULL);
	for (__u32 m = 0; m < MS_METHOD_COUNT; m++) {
		if (w.delta[m])
			inflight_apply(tgid, m, w.delta[m]);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
