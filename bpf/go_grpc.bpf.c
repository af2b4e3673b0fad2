// SPDX-License-Identifier: GPL-2.0
/* gRPC subsystem for Go targets (grpc-go servers): calls by method and code, in-flight, in grpc.bpf.c's maps. */
#include "go_common.bpf.h"

/* Field offsets of this build (agent/go_offsets.c), set before load. */
const volatile __u32 off_stream_method = 0;  /* transport.Stream.method (string) */
const volatile __u32 off_status_proto = 0;   /* internal/status.Status.s (*spb.Status) */
const volatile __u32 off_proto_code = 0;     /* spb.Status.Code (int32) */

/* The maps grpc.bpf.c has, same names and layouts: the collector reads either object. */
#include "grpc_maps.bpf.h"

/* The seed under which each method of go_method_tab has a slot of its own (the agent's). */
const volatile __u64 method_seed = 0;

/* Method names at their slots (ms_go_method_slot), filled by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MS_GO_METHOD_SLOTS);
	__type(key, __u32);
	__type(value, struct ms_go_method_slot);
} go_method_tab SEC(".maps");

/*
 * A call from handleStream to the WriteStatus that ends it, by its goroutine (both run on
 * the one serveStreams starts for the stream): t_ns its begin, aux its method. Sets for
 * --go-max-calls calls (16384 by default), MS_GO_CALLS_SPILL more in the spill map, whose
 * entries of calls never seen ending age out.
 */
GO_GTAB_DEFINE(go_calls, MS_GO_CALLS_DEFAULT_BITS, MS_GO_CALLS_SPILL);

/* Per build (the WriteStatus site's cookie has the index): where the functions whose
 * WriteStatus is a call's own status are, relative to the probed instruction. Filled by
 * the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MS_GO_CALLER_BUILDS);
	__type(key, __u32);
	__type(value, struct ms_go_callers);
} go_status_callers SEC(".maps");

/* Scratch for the method name (too big for the BPF stack next to the rest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ms_go_method_key);
} go_method_buf SEC(".maps");

/* Method id of the stream's method string; false when the string fails a sanity check. */
static __always_inline bool stream_method(__u64 stream, __u32 *method)
{
	struct ms_go_method_slot *m;
	struct ms_go_method_key *k;
	struct { __u64 ptr, len; } s;
	__u32 zero = 0, at;
	const __u64 *w;

	if (bpf_probe_read_user(&s, sizeof(s), (void *)(stream + off_stream_method))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return false;
	}
	if (s.len < 2 || s.len > MS_GO_METHOD_SANE_LEN) {
		go_sanity_fail(MS_GO_SANITY_METHOD_LEN);
		return false;
	}
	*method = MS_METHOD_UNKNOWN;
	if (s.len >= MS_GO_METHOD_MAX)
		return true; /* a path no table entry is that long */
	k = bpf_map_lookup_elem(&go_method_buf, &zero);
	if (!k)
		return false;
	__builtin_memset(k->name, 0, sizeof(k->name));
	if (bpf_probe_read_user(k->name, s.len & (MS_GO_METHOD_MAX - 1), (void *)s.ptr)) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return false;
	}
	if (k->name[0] != '/') {
		go_sanity_fail(MS_GO_SANITY_METHOD_SLASH);
		return false;
	}
	w = (const __u64 *)k->name;
	at = ms_go_method_slot(w, method_seed);
	m = bpf_map_lookup_elem(&go_method_tab, &at);
	if (!m)
		return true;
	for (int i = 0; i < MS_GO_METHOD_WORDS; i++) {
		if (m->name[i] != w[i])
			return true;
	}
	if (m->id < MS_METHOD_COUNT)
		*method = m->id;
	return true;
}

static __always_inline void inflight_add(__u32 tgid, __u32 method, __s64 d)
{
	struct ms_proc_method k = { .tgid = tgid, .method = method };
	__s64 *v = bpf_map_lookup_elem(&grpc_inflight, &k);

	if (v) {
		__sync_fetch_and_add(v, d);
		return;
	}
	if (bpf_map_update_elem(&grpc_inflight, &k, &d, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&grpc_inflight, &k); /* another CPU added it first */
		if (v)
			__sync_fetch_and_add(v, d);
		else
			table_full();
	}
}

/*
 * grpc.(*Server).handleStream(s, t ServerTransport, stream *Stream, trInfo): RDI = stream.
 * Its goroutine runs one handleStream and exits; an entry still there from an earlier call
 * on a reused goroutine is a call that ended with no status written (its client went away
 * while the server read the request, or the response could not be sent): it leaves the
 * in-flight gauge and is not counted, as etcd's interceptor never saw the first kind and
 * counts the second with its handler's code, which no site here sees.
 */
SEC("uprobe")
int BPF_KPROBE(go_grpc_begin)
{
	struct go_gtab t = GO_GTAB(go_calls);
	struct ms_go_gkey k = go_gkey(ctx, 0);
	struct ms_go_gslot *c;
	bool spilled;
	__u32 method;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	c = go_gtab_find(&t, &k, &spilled);
	if (c) /* the entry a call with no status left: replaced, or dropped below */
		inflight_add(k.tgid, c->aux < MS_METHOD_COUNT ? c->aux : MS_METHOD_UNKNOWN, -1);
	if (!stream_method(ctx->di, &method)) {
		if (c)
			go_gtab_release(&t, &k, c, spilled);
		return 0;
	}
	if (!c)
		c = go_gtab_claim(&t, &k, &spilled);
	if (!c) {
		go_sanity_fail(MS_GO_SANITY_TABLE_FULL);
		return 0;
	}
	c->t_ns = bpf_ktime_get_ns();
	c->aux = (__u16)method;
	inflight_add(k.tgid, method, 1);
	return 0;
}

/* True when the return address at the top of the stack is in one of the functions whose
 * WriteStatus is the call's own status (processUnaryRPC, processStreamingRPC, handleStream),
 * not one that a stream's SendMsg or RecvMsg wrote after a failed send or receive: the
 * handler's status, which etcd's interceptor counts, comes after those. */
static __always_inline bool status_is_final(struct pt_regs *ctx)
{
	__u32 idx = go_site_data(ctx);
	struct ms_go_callers *cl = bpf_map_lookup_elem(&go_status_callers, &idx);
	__u64 ra;
	__s64 d;

	if (!cl)
		return false;
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)ctx->sp)) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return false;
	}
	d = (__s64)(ra - ctx->ip);
	for (int i = 0; i < MS_GO_CALLER_RANGES; i++) {
		if (d >= cl->lo[i] && d < cl->hi[i])
			return true;
	}
	return false;
}

/*
 * transport.(*http2Server).WriteStatus(t, s *Stream, st *status.Status): RBX = s, RCX = st.
 * On the goroutine of a call's handleStream, from one of the functions of status_is_final,
 * it is the call's one status (a unary call writes one; a stream's handler status is the
 * last of its stream): the call ends here, one hit for its end and its code.
 */
SEC("uprobe")
int BPF_KPROBE(go_grpc_status)
{
	struct go_gtab t = GO_GTAB(go_calls);
	struct ms_go_gkey k = go_gkey(ctx, 0);
	__u64 st = ctx->cx, proto = 0, start;
	__u32 method, idx, slot;
	struct ms_go_gslot *c;
	struct ms_hist *h;
	__s32 code = 0;
	bool spilled;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	c = go_gtab_find(&t, &k, &spilled);
	if (!c)
		return 0; /* a stream's send or receive goroutine, or a call older than the agent */
	if (!status_is_final(ctx))
		return 0;
	method = c->aux < MS_METHOD_COUNT ? c->aux : MS_METHOD_UNKNOWN;
	start = c->t_ns;
	go_gtab_release(&t, &k, c, spilled);
	inflight_add(k.tgid, method, -1);
	/* a nil *Status or a nil proto is OK, as status.(*Status).Code() says */
	if (st && bpf_probe_read_user(&proto, sizeof(proto), (void *)(st + off_status_proto))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	if (proto && bpf_probe_read_user(&code, sizeof(code), (void *)(proto + off_proto_code))) {
		go_sanity_fail(MS_GO_SANITY_READ_FAULT);
		return 0;
	}
	if (code < 0 || code >= MS_GRPC_CODE_COUNT) {
		go_sanity_fail(MS_GO_SANITY_STATUS_CODE);
		code = MS_GRPC_UNKNOWN;
	}
	/* a member from its first raft tick or apply batch (go_member.bpf.c) */
	if (current_slot(&slot))
		return 0;
	idx = slot * MS_GRPC_SERIES + method * MS_GRPC_CODE_COUNT + (__u32)code;
	h = bpf_map_lookup_elem(&grpc_hist, &idx);
	if (h)
		hist_observe(h, span_ns(start, bpf_ktime_get_ns()));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
