/* Helpers shared by the BPF objects: histogram bucketing, batch walks, probe hits. */
#ifndef MS_COMMON_BPF_H
#define MS_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
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

/* Updates lost because a per-process table (keyed by tgid) was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} table_full_drops SEC(".maps");

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
 * tgid -> what that store process last said in its member status (ms_proc), or what a Go
 * etcd's member object read from it (its member id). One map for all objects: the agent
 * loads the member object (member.bpf.c or go_member.bpf.c) first and gives its map to the
 * others. Only the member object writes it, and only for processes of an allowed
 * executable, so a process not in it is no member: its events are not counted anywhere.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct ms_proc);
} proc_node SEC(".maps");

/* Probe hits from processes that are no known member (not yet reported, filtered out, or
 * over the node table): their events are dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unattributed SEC(".maps");

/*
 * Uprobe programs can be preempted (they run under migrate_disable, not preempt_disable), so
 * two tasks on one CPU may interleave on the same per-CPU slot: updates are atomic adds.
 */
static __always_inline void count_add(__u64 *p, __u64 v)
{
	__sync_fetch_and_add(p, v);
}

/* Adds n to counter `idx` of a u64 array map (an index out of the map does nothing). */
static __always_inline void slot_add(void *map, __u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		count_add(v, n);
}

static __always_inline void probe_hit(void *ctx)
{
	slot_add(&probe_hits, (__u32)bpf_get_attach_cookie(ctx), 1);
}

static __always_inline void record_fault(void)
{
	slot_add(&record_faults, 0, 1);
}

/*
 * Opens buffer `buf` of batch `b` (in the store's memory): counts the hit and the records.
 * Returns how many records to read (at most a full buffer; 0 after a fault).
 */
static __always_inline __u32 batch_open(void *ctx, const struct ms_probe_batch *b, __u32 buf)
{
	__u32 n;

	probe_hit(ctx);
	if (buf >= MS_BATCH_BUFS)
		return 0;
	if (bpf_probe_read_user(&n, sizeof(n), &b->n[buf])) {
		record_fault();
		return 0;
	}
	if (n > MS_PROBE_BATCH_MAX)
		n = MS_PROBE_BATCH_MAX;
	if (n)
		slot_add(&probe_records, (__u32)bpf_get_attach_cookie(ctx), n);
	return n;
}

/*
 * A copy of one buffer's records, made with one read of the store's memory instead of one
 * read per record (each read is a helper call and a user-memory access: most of a record's
 * cost). Per CPU; `busy` keeps a second walk on the same CPU (uprobe programs can be
 * preempted) off a copy in use: that walk reads record by record instead.
 */
#define MS_AGG_SERIES 8

/*
 * A batch's observations summed per series before they reach the shared maps: a batch holds
 * a millisecond of calls, mostly of a few series (method and code, operation and engine), so
 * a histogram series takes one atomic add per bucket it touched per batch instead of three
 * per record. Series past MS_AGG_SERIES in one batch go to the map directly. Lives in the
 * scratch, so its `busy` flag keeps it to one walk at a time; empty between walks.
 */
struct ms_agg {
	__u32 n_hist;
	__u32 n_count;
	__u32 hist_idx[MS_AGG_SERIES];
	__u32 count_idx[MS_AGG_SERIES];
	__u64 count[MS_AGG_SERIES];
	struct ms_hist hist[MS_AGG_SERIES];
};

struct ms_scratch {
	__u32 busy;
	__u32 pad;
	struct ms_probe_rec rec[MS_PROBE_BATCH_MAX];
	struct ms_agg agg;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ms_scratch);
} batch_scratch SEC(".maps");

/* Copies records [0, n) of `recs` into this CPU's scratch. Returns 1 when the scratch holds
 * them (release it with scratch_put), 0 when the walk must read each record itself. */
static __always_inline __u32 scratch_fill(const struct ms_probe_rec *recs, __u32 n)
{
	__u32 k = 0;
	struct ms_scratch *s = bpf_map_lookup_elem(&batch_scratch, &k);

	if (!s || n > MS_PROBE_BATCH_MAX || __sync_lock_test_and_set(&s->busy, 1))
		return 0;
	if (bpf_probe_read_user(s->rec, n * sizeof(struct ms_probe_rec), recs)) {
		__sync_lock_test_and_set(&s->busy, 0);
		return 0;
	}
	return 1;
}

static __always_inline void scratch_put(__u32 copied)
{
	__u32 k = 0;
	struct ms_scratch *s = bpf_map_lookup_elem(&batch_scratch, &k);

	if (copied && s)
		__sync_lock_test_and_set(&s->busy, 0);
}

/* bpf_loop's context for a walk over one buffer (it must live on the BPF stack). */
struct ms_batch {
	const struct ms_probe_rec *recs;
	__u32 copied; /* scratch_fill's result: the records are in this CPU's scratch */
	__u32 slot;   /* the node slot of the process */
};

/*
 * Record i of a buffer without a copy when it is in this CPU's scratch: returns a pointer
 * into the scratch and sets *agg to its aggregate; otherwise reads the record from the store
 * into *buf, returns buf and sets *agg to NULL (observations then go to the maps directly).
 * NULL after counting a fault.
 */
static __always_inline const struct ms_probe_rec *
batch_rec(struct ms_probe_rec *buf, const struct ms_probe_rec *recs, __u32 copied, __u32 i,
	  struct ms_agg **agg)
{
	__u32 k = 0;
	struct ms_scratch *s;

	*agg = NULL;
	if (i >= MS_PROBE_BATCH_MAX)
		goto fault;
	if (copied) {
		s = bpf_map_lookup_elem(&batch_scratch, &k);
		if (!s)
			goto fault;
		*agg = &s->agg;
		return &s->rec[i];
	}
	if (bpf_probe_read_user(buf, sizeof(*buf), recs + i) == 0)
		return buf;
fault:
	record_fault();
	return NULL;
}

/* Copies record i of a buffer, from the scratch when `copied`, else from the store. Returns
 * 0, or -1 after counting a fault. */
static __always_inline int batch_read_rec(struct ms_probe_rec *r, const struct ms_probe_rec *recs,
					  __u32 copied, __u32 i)
{
	struct ms_agg *agg;
	const struct ms_probe_rec *p = batch_rec(r, recs, copied, i, &agg);

	if (!p)
		return -1;
	if (p != r)
		*r = *p;
	return 0;
}

/* Record i of the walk `w` (a struct with `recs` and `copied`) into *r; 0 or -1. */
#define batch_read(r, w, i) batch_read_rec(r, (w)->recs, (w)->copied, i)



/*
 * Runs `cb(i, &walk)` over the n records of `walk` (a struct with `recs`, `copied` and the
 * callback's own fields), from this CPU's scratch when it is free. Observations made through
 * the batch aggregate (agg_hist, agg_count) reach histogram map `hmap` and counter map `cmap`
 * (NULL: none) once the walk is done.
 */
#define BATCH_RUN(walk, n, cb, hmap, cmap)                                                 \
	do {                                                                               \
		(walk).copied = scratch_fill((walk).recs, n);                              \
		bpf_loop(n, cb, &(walk), 0);                                               \
		if ((walk).copied)                                                         \
			agg_flush(hmap, cmap);                                             \
		scratch_put((walk).copied);                                                \
	} while (0)

/* The usual walk: BATCH_RUN over every record of buffer `buf` with a struct ms_batch, for a
 * process that is a known member. */
#define BATCH_WALK(ctx, b, buf, cb, hmap, cmap)                                            \
	do {                                                                               \
		struct ms_batch walk_ = { .recs = (b)->rec[buf] };                         \
		__u32 n_ = batch_open(ctx, b, buf);                                        \
                                                                                           \
		if (n_ && current_slot(&walk_.slot) == 0)                                  \
			BATCH_RUN(walk_, n_, cb, hmap, cmap);                              \
	} while (0)

/* Duration between two store timestamps; a clock that went backwards reads as 0. */
static __always_inline __u64 span_ns(__u64 from, __u64 to)
{
	return to > from ? to - from : 0;
}

static __always_inline void table_full(void)
{
	slot_add(&table_full_drops, 0, 1);
}

/* When the calling process started (its thread group leader's start time, ns since boot). */
static __always_inline __u64 process_start_ns(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return BPF_CORE_READ(t, group_leader, start_time);
}

/* The node slot of the calling process into *slot. Returns 0, or -1 (counted) when the
 * process is no known member. */
static __always_inline int current_slot(__u32 *slot)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ms_proc *p = bpf_map_lookup_elem(&proc_node, &tgid);

	/* a process that got the pid of a member that exited is not that member */
	if (!p || p->slot >= MS_NODE_SLOTS || p->start_ns != process_start_ns()) {
		slot_add(&unattributed, 0, 1);
		return -1;
	}
	*slot = p->slot;
	return 0;
}

/* Index of the bucket for a value: the first bound >= v, or nr_bounds for +Inf. A linear
 * scan: latencies mostly fall in the first buckets, where it stops after a step or two. */
static __always_inline __u32 hist_bucket(__u64 v)
{
	__u32 i;

	for (i = 0; i < MS_MAX_BUCKETS; i++) {
		if (i >= nr_bounds || v <= bounds_ns[i])
			break;
	}
	return i;
}

/* hist_bucket(v), bounded for the verifier: an index into ms_hist.bucket. */
static __always_inline __u32 hist_slot(__u64 v)
{
	__u32 b = hist_bucket(v);

	return b > MS_MAX_BUCKETS ? MS_MAX_BUCKETS : b;
}

static __always_inline void hist_observe(struct ms_hist *h, __u64 v)
{
	__u32 b = hist_slot(v);

	count_add(&h->bucket[b], 1);
	count_add(&h->sum_ns, v);
	count_add(&h->count, 1);
}

/* The slot of series `idx` among the n series of an aggregate table (`idxs`), added when
 * new; MS_AGG_SERIES when the table is full. */
static __always_inline __u32 agg_find(__u32 *idxs, __u32 *n, __u32 idx)
{
	for (__u32 j = 0; j < MS_AGG_SERIES; j++) {
		if (j == *n) {
			idxs[j] = idx;
			*n = j + 1;
			return j;
		}
		if (idxs[j] == idx)
			return j;
	}
	return MS_AGG_SERIES;
}

/* Observes v in series `idx` of histogram map `map`: into the batch's aggregate `agg` when
 * there is one and it has room, else into the map. */
static __always_inline void agg_hist(struct ms_agg *agg, void *map, __u32 idx, __u64 v)
{
	struct ms_hist *h;
	__u32 j = agg ? agg_find(agg->hist_idx, &agg->n_hist, idx) : MS_AGG_SERIES;

	if (j < MS_AGG_SERIES) {
		h = &agg->hist[j];
		h->bucket[hist_slot(v)]++;
		h->sum_ns += v;
		h->count++;
		return;
	}
	h = bpf_map_lookup_elem(map, &idx);
	if (h)
		hist_observe(h, v);
}

/* Adds 1 to counter `idx` of u64 array map `map`, through the aggregate as agg_hist. */
static __always_inline void agg_count(struct ms_agg *agg, void *map, __u32 idx)
{
	__u32 j = agg ? agg_find(agg->count_idx, &agg->n_count, idx) : MS_AGG_SERIES;

	if (j < MS_AGG_SERIES)
		agg->count[j]++;
	else
		slot_add(map, idx, 1);
}

/* Adds the aggregate of this CPU's scratch to histogram map `hmap` and counter map `cmap`
 * (NULL: none) and empties it. Call before scratch_put, only when the walk had the scratch. */
static __always_inline void agg_flush(void *hmap, void *cmap)
{
	__u32 k = 0, n, idx;
	struct ms_scratch *s = bpf_map_lookup_elem(&batch_scratch, &k);
	struct ms_hist *h, *l;

	if (!s)
		return;
	n = s->agg.n_hist;
	for (__u32 j = 0; hmap && j < MS_AGG_SERIES; j++) {
		if (j >= n)
			break;
		l = &s->agg.hist[j];
		idx = s->agg.hist_idx[j];
		h = bpf_map_lookup_elem(hmap, &idx);
		for (__u32 b = 0; b <= MS_MAX_BUCKETS; b++) {
			if (!l->bucket[b])
				continue;
			if (h)
				count_add(&h->bucket[b], l->bucket[b]);
			l->bucket[b] = 0;
		}
		if (h) {
			count_add(&h->sum_ns, l->sum_ns);
			count_add(&h->count, l->count);
		}
		l->sum_ns = 0;
		l->count = 0;
	}
	s->agg.n_hist = 0;
	n = s->agg.n_count;
	for (__u32 j = 0; cmap && j < MS_AGG_SERIES; j++) {
		if (j >= n)
			break;
		slot_add(cmap, s->agg.count_idx[j], s->agg.count[j]);
		s->agg.count[j] = 0;
	}
	s->agg.n_count = 0;
}

/* A gauge in slot `slot` of a u64 array: holds the last value reported (a plain store: the
 * latest report wins). */
static __always_inline void gauge_set(void *map, __u32 slot, __u64 val)
{
	__u64 *cur = bpf_map_lookup_elem(map, &slot);

	if (cur)
		*cur = val;
}


#endif /* MS_COMMON_BPF_H */
