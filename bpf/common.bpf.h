/* Helpers shared by the BPF objects: histogram bucketing, pending begin/end pairs, probe hits. */
#ifndef MS_COMMON_BPF_H
#define MS_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ms_maps.h"

/* Bucket upper bounds in ns, set by the agent before load; nr_bounds <= MS_MAX_BUCKETS. */
const volatile __u64 bounds_ns[MS_MAX_BUCKETS] = {};
const volatile __u32 nr_bounds = 0;

/* Hits per attached probe, indexed by the attachment's BPF cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

/* Begin events that found the pending table full, so their pair was not timed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pending_drops SEC(".maps");

/* Records handed to each batch probe, indexed by the attachment's BPF cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u64);
} probe_records SEC(".maps");

/* Records a batch probe could not copy from the store's memory (so could not count). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} record_faults SEC(".maps");

/*
 * Uprobe programs can be preempted (they run under migrate_disable, not preempt_disable), so
 * two tasks on one CPU may interleave on the same per-CPU slot: updates are atomic adds.
 */
static __always_inline void count_add(__u64 *p, __u64 v)
{
	__sync_fetch_and_add(p, v);
}

static __always_inline void probe_hit(void *ctx)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *v;

	if (idx >= MS_MAX_PROBES)
		return;
	v = bpf_map_lookup_elem(&probe_hits, &idx);
	if (v)
		count_add(v, 1);
}

/* Counts the hit and its records; returns how many records to read (at most a full batch). */
static __always_inline __u32 batch_begin(void *ctx, __u32 n)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);
	__u64 *v;

	probe_hit(ctx);
	if (n > MS_PROBE_BATCH_MAX)
		n = MS_PROBE_BATCH_MAX;
	if (idx >= MS_MAX_PROBES)
		return n;
	v = bpf_map_lookup_elem(&probe_records, &idx);
	if (v)
		count_add(v, n);
	return n;
}

/* bpf_loop's context: it must live on the BPF stack. */
struct ms_batch {
	const struct ms_probe_rec *recs; /* in the store's memory */
};

/* Copies record i of a batch; a fault is counted and ends the batch. Returns 0 or -1. */
static __always_inline int batch_read(struct ms_probe_rec *r, const struct ms_batch *b, __u32 i)
{
	__u32 zero = 0;
	__u64 *v;

	if (i < MS_PROBE_BATCH_MAX && bpf_probe_read_user(r, sizeof(*r), b->recs + i) == 0)
		return 0;
	v = bpf_map_lookup_elem(&record_faults, &zero);
	if (v)
		count_add(v, 1);
	return -1;
}

/* Duration between two store timestamps; a clock that went backwards reads as 0. */
static __always_inline __u64 span_ns(__u64 from, __u64 to)
{
	return to > from ? to - from : 0;
}

static __always_inline void pending_dropped(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pending_drops, &zero);

	if (v)
		count_add(v, 1);
}

/* Index of the bucket for a value: the first bound >= v, or nr_bounds for +Inf. */
static __always_inline __u32 hist_bucket(__u64 v)
{
	__u32 i;

	for (i = 0; i < MS_MAX_BUCKETS; i++) {
		if (i >= nr_bounds || v <= bounds_ns[i])
			break;
	}
	return i;
}

static __always_inline void hist_observe(struct ms_hist *h, __u64 v)
{
	__u32 b = hist_bucket(v);

	if (b > MS_MAX_BUCKETS)
		b = MS_MAX_BUCKETS;
	count_add(&h->bucket[b], 1);
	count_add(&h->sum_ns, v);
	count_add(&h->count, 1);
}

/* A gauge in a hash map keyed by u64 (node id): holds the last value reported. */
static __always_inline void gauge_set(void *map, __u64 *key, __u64 val)
{
	__u64 *cur = bpf_map_lookup_elem(map, key);

	if (cur) {
		*cur = val; /* plain store: the latest report wins */
		return;
	}
	bpf_map_update_elem(map, key, &val, BPF_ANY);
}

static __always_inline void pending_key(struct ms_req_key *k, __u64 id)
{
	k->tgid = bpf_get_current_pid_tgid() >> 32;
	k->pad = 0;
	k->id = id;
}

#endif /* MS_COMMON_BPF_H */
