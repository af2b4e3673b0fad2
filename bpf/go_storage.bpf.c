// SPDX-License-Identifier: GPL-2.0
/* storage subsystem for Go etcd: WAL fsyncs and bbolt backend commits, in storage.bpf.c's maps. */
#include "go_common.bpf.h"

#include "storage_maps.bpf.h"

/* (Goroutine, operation) -> time of the call instruction (t_ns), until the instruction
 * after it: the backend commit's (a WAL fsync needs none: go_wal_fsync). Few goroutines
 * commit: 64 sets, 4096 more in the spill map. */
GO_GTAB_DEFINE(go_storage_start, MS_GO_STORAGE_BITS, MS_GO_STORAGE_SPILL);

/* At the call: the callee has not run yet. */
static __always_inline void op_begin(struct pt_regs *ctx, __u32 op)
{
	struct go_gtab t = GO_GTAB(go_storage_start);
	struct ms_go_gkey k = go_gkey(ctx, op);
	struct ms_go_gslot *s;
	bool spilled;

	probe_hit(ctx);
	s = go_gtab_find(&t, &k, &spilled); /* one a call whose end was not seen left */
	if (!s)
		s = go_gtab_claim(&t, &k, &spilled);
	if (!s) {
		go_sanity_fail(MS_GO_SANITY_TABLE_FULL);
		return;
	}
	s->t_ns = bpf_ktime_get_ns();
}

/* A word at `slot1`(%rsp) (slot + 1, from the site's data), or RAX when slot1 is 0: the
 * callee's error (an interface whose first word, its type, is nil for no error) or a
 * duration. */
static __always_inline int frame_word(struct pt_regs *ctx, __u32 slot1, __u64 *w)
{
	*w = ctx->ax;
	if (slot1 && bpf_probe_read_user(w, sizeof(*w), (void *)(ctx->sp + slot1 - 1))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return -1;
	}
	return 0;
}

/* One operation of `dur_ns` whose result's first word is `err`, for the calling member. */
static __always_inline void op_observe(__u32 op, __u32 kind, __u64 dur_ns, __u64 err)
{
	__u32 status = err ? MS_STORAGE_STATUS_ERROR : MS_STORAGE_STATUS_OK;
	__u32 idx = op * MS_STORAGE_KIND_COUNT + kind, hidx, slot;
	struct ms_hist *h;

	if (idx >= MS_STORAGE_SERIES || current_slot(&slot))
		return;
	hidx = slot * MS_STORAGE_SERIES + idx;
	h = bpf_map_lookup_elem(&storage_hist, &hidx);
	if (h)
		hist_observe(h, dur_ns);
	slot_add(&storage_total, slot * MS_STORAGE_TOTAL_SERIES + idx * MS_STORAGE_STATUS_COUNT + status,
		 1);
}

/* At the first emulated instruction after the call (go_site_after_call): the callee
 * returned, nothing on the way changed its result. An unreadable result is not counted. */
static __always_inline void op_end(struct pt_regs *ctx, __u32 op, __u32 kind)
{
	struct go_gtab t = GO_GTAB(go_storage_start);
	struct ms_go_gkey k = go_gkey(ctx, op);
	struct ms_go_gslot *s;
	__u64 t0, err;
	bool spilled;

	probe_hit(ctx);
	s = go_gtab_find(&t, &k, &spilled);
	if (!s)
		return; /* the call began before the agent attached */
	t0 = s->t_ns;
	go_gtab_release(&t, &k, s, spilled);
	if (frame_word(ctx, go_site_data(ctx), &err))
		return;
	op_observe(op, kind, span_ns(t0, bpf_ktime_get_ns()), err);
}

/*
 * wal.(*WAL).sync, `err := fileutil.Fdatasync(...); took := time.Since(start)`: the first
 * emulated instruction after the time.Since call (go_site_timed), one hit per fsync, with
 * the duration etcd observes itself. The site's data: the error's stack slot + 1 (low 16
 * bits), the duration's + 1 (high 16, 0: in RAX).
 */
SEC("uprobe")
int BPF_KPROBE(go_wal_fsync)
{
	__u32 data = go_site_data(ctx);
	__u64 err, took;

	probe_hit(ctx);
	if (!(data & 0xffff) || frame_word(ctx, data & 0xffff, &err) ||
	    frame_word(ctx, data >> 16, &took))
		return 0;
	op_observe(MS_STORAGE_OP_FSYNC, MS_STORAGE_WAL, (__s64)took > 0 ? took : 0, err);
	return 0;
}

/* backend.(*batchTx).commit: call bbolt.(*Tx).Commit, and the first emulated instruction
 * after it. */
SEC("uprobe")
int BPF_KPROBE(go_bolt_commit_begin)
{
	op_begin(ctx, MS_STORAGE_OP_COMMIT);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_bolt_commit_end)
{
	op_end(ctx, MS_STORAGE_OP_COMMIT, MS_STORAGE_BBOLT);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
