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

#endif /* MS_GO_COMMON_BPF_H */
