/* Helpers of the Go-target BPF programs: the morestack double hit, sanity counters, site data, goroutine keys. */
#ifndef MS_GO_COMMON_BPF_H
#define MS_GO_COMMON_BPF_H

#include "common.bpf.h"
#include "ms_go.h"

#define GO_EFLAGS_CF 0x01
#define GO_EFLAGS_ZF 0x40

/* Failed sanity checks, by enum ms_go_sanity. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_GO_SANITY_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} go_sanity SEC(".maps");

static __always_inline void go_sanity_fail(__u32 check)
{
	slot_add(&go_sanity, check, 1);
}

/*
 * The probe sits on the prologue's jbe to runtime.morestack: when it is taken (CF or ZF from
 * the stack-guard compare) the stack grows and the function starts again, hitting the probe
 * a second time. Only the hit that goes on into the body counts.
 */
static __always_inline bool go_stack_grows(struct pt_regs *ctx)
{
	return ctx->flags & (GO_EFLAGS_CF | GO_EFLAGS_ZF);
}

/* What the agent put in the high half of the site's cookie (the low half is the probe index
 * probe_hit counts by): a spill slot, an entry of a per-build table. */
static __always_inline __u32 go_site_data(void *ctx)
{
	return (__u32)(bpf_get_attach_cookie(ctx) >> 32);
}

static __always_inline struct ms_go_gkey go_gkey(struct pt_regs *ctx, __u32 site)
{
	struct ms_go_gkey k = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.site = site,
		.g = ctx->r14, /* Go's ABIInternal keeps the current goroutine in R14 */
	};
	return k;
}

/*
 * A goroutine table (ms_go.h): NAME_sets, an array of 2^BITS sets, and NAME_spill, the LRU
 * hash a key goes to when its set is full, with NAME_spilled counting what went there (while
 * it is 0, a key not in its set is nowhere: no hash lookup on a miss). The agent may size
 * the array to another power of two before load: NAME_mask is then its size - 1.
 */
#define GO_GTAB_DEFINE(name, bits, spill_max)                                            \
	const volatile __u32 name##_mask = (1u << (bits)) - 1;                         \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                      \
		__uint(max_entries, 1u << (bits));                                     \
		__uint(map_flags, BPF_F_MMAPABLE); /* the agent frees exited processes' */ \
		__type(key, __u32);                                                    \
		__type(value, struct ms_go_gset);                                      \
	} name##_sets SEC(".maps");                                                    \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                                   \
		__uint(max_entries, spill_max);                                        \
		__uint(map_flags, BPF_F_NO_COMMON_LRU);                                \
		__type(key, struct ms_go_gkey);                                        \
		__type(value, struct ms_go_gslot);                                     \
	} name##_spill SEC(".maps");                                                   \
	struct {                                                                       \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                      \
		__uint(max_entries, 1);                                                \
		__uint(map_flags, BPF_F_MMAPABLE);                                     \
		__type(key, __u32);                                                    \
		__type(value, __u64);                                                  \
	} name##_spilled SEC(".maps")

/* The maps of one goroutine table, as its helpers take them. */
struct go_gtab {
	void *sets;
	void *spill;
	void *spilled;
	__u32 mask; /* sets - 1 */
};

#define GO_GTAB(name)                                                                    \
	((struct go_gtab){ &name##_sets, &name##_spill, &name##_spilled, name##_mask })

/* The set of key k: a multiplicative hash, since goroutines sit a few hundred bytes apart. */
static __always_inline struct ms_go_gset *go_gtab_set(const struct go_gtab *t,
						      const struct ms_go_gkey *k)
{
	__u64 h = (k->g ^ ((__u64)k->tgid << 32 | k->site)) * 0x9e3779b97f4a7c15ULL;
	__u32 idx = (__u32)(h >> 40) & t->mask;

	return bpf_map_lookup_elem(t->sets, &idx);
}

static __always_inline bool go_gslot_is(const struct ms_go_gslot *s, const struct ms_go_gkey *k)
{
	return s->g == k->g && s->tgid == k->tgid && s->site == k->site;
}

static __always_inline bool go_gtab_spilled(const struct go_gtab *t)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(t->spilled, &zero);

	return n && *n;
}

/* The slot holding k, or NULL; *spilled tells which map it is in (for go_gtab_release). */
static __always_inline struct ms_go_gslot *go_gtab_find(const struct go_gtab *t,
							 const struct ms_go_gkey *k, bool *spilled)
{
	struct ms_go_gset *set = go_gtab_set(t, k);

	*spilled = false;
	if (!set)
		return NULL;
	for (int w = 0; w < MS_GO_GTAB_WAYS; w++) {
		if (go_gslot_is(&set->s[w], k))
			return &set->s[w];
	}
	if (!go_gtab_spilled(t))
		return NULL;
	*spilled = true;
	return bpf_map_lookup_elem(t->spill, k);
}

/*
 * A new slot for k, which the table does not hold (go_gtab_find found nothing): claimed with
 * a compare-and-swap on its goroutine word so that two CPUs never take the same; the set
 * full, one in the spill map. Its t_ns and aux are the caller's to fill. NULL when even the
 * spill map refused it.
 */
static __always_inline struct ms_go_gslot *go_gtab_claim(const struct go_gtab *t,
							  const struct ms_go_gkey *k, bool *spilled)
{
	struct ms_go_gset *set = go_gtab_set(t, k);
	struct ms_go_gslot *s, zero = {};
	__u32 idx0 = 0;
	__u64 *n;

	if (!set)
		return NULL;
	for (int w = 0; w < MS_GO_GTAB_WAYS; w++) {
		s = &set->s[w];
		if (s->g == 0 && __sync_val_compare_and_swap(&s->g, 0, k->g) == 0) {
			s->site = k->site;
			s->tgid = k->tgid; /* last: until now no lookup matches the slot */
			*spilled = false;
			return s;
		}
	}
	zero.g = k->g;
	zero.tgid = k->tgid;
	zero.site = k->site;
	if (bpf_map_update_elem(t->spill, k, &zero, BPF_ANY))
		return NULL;
	n = bpf_map_lookup_elem(t->spilled, &idx0);
	if (n)
		__sync_fetch_and_add(n, 1);
	*spilled = true;
	return bpf_map_lookup_elem(t->spill, k);
}

/* Frees the slot go_gtab_find or go_gtab_claim gave for k (s is not to be used after). */
static __always_inline void go_gtab_release(const struct go_gtab *t, const struct ms_go_gkey *k,
					    struct ms_go_gslot *s, bool spilled)
{
	__u32 zero = 0;
	__u64 *n;

	if (!spilled) {
		s->tgid = 0; /* first: no lookup matches the slot from here on */
		__sync_lock_test_and_set(&s->g, 0);
		return;
	}
	if (bpf_map_delete_elem(t->spill, k))
		return;
	n = bpf_map_lookup_elem(t->spilled, &zero);
	if (n)
		__sync_fetch_and_add(n, -1);
}

#endif /* MS_GO_COMMON_BPF_H */
