// SPDX-License-Identifier: GPL-2.0
/* gRPC subsystem for Go targets (grpc-go servers): calls by method and code, in-flight, in grpc.bpf.c's maps. */
#include "go_common.bpf.h"

/* Field offsets of this build (agent/go_offsets.c), set before load. */
const volatile __u32 off_stream_method = 0;  /* transport.Stream.method (string) */
const volatile __u32 off_status_proto = 0;   /* internal/status.Status.s (*spb.Status) */
const volatile __u32 off_proto_code = 0;     /* spb.Status.Code (int32) */

/* The maps grpc.bpf.c has, same names and layouts: the collector reads either object. */
#include "grpc_maps.bpf.h"

/* Method name -> method id (ms_methods.h), filled by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_METHOD_COUNT);
	__type(key, struct ms_go_method_key);
	__type(value, __u32);
} go_method_ids SEC(".maps");

/* A call from handleStream to the end of its goroutine's deferred closure. */
struct go_call {
	__u64 start_ns;
	__u64 stream;
	__u32 method;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* entries of calls never seen ending age out */
	__uint(max_entries, 65536);
	__type(key, struct ms_go_gkey);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* The status a stream's handler wrote last (a streaming call's SendMsg or RecvMsg may
 * write one before the handler's own, which is the one the call ends with). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* entries of calls never seen ending age out */
	__uint(max_entries, 65536);
	__type(key, struct ms_go_skey);
	__type(value, __u32);
} go_status SEC(".maps");

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
	struct ms_go_method_key *k;
	struct { __u64 ptr, len; } s;
	__u32 zero = 0, *id;

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
	id = bpf_map_lookup_elem(&go_method_ids, k);
	if (id && *id < MS_METHOD_COUNT)
		*method = *id;
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

/* grpc.(*Server).handleStream(s, t ServerTransport, stream *Stream, trInfo): RDI = stream. */
SEC("uprobe")
int BPF_KPROBE(go_grpc_begin)
{
	struct ms_go_gkey k = go_gkey(ctx, 0);
	struct go_call c = { .stream = ctx->di };

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	if (!stream_method(c.stream, &c.method))
		return 0;
	c.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY)) {
		go_sanity_fail(MS_GO_SANITY_TABLE_FULL);
		return 0;
	}
	inflight_add(k.tgid, c.method, 1);
	return 0;
}

/* transport.(*http2Server).WriteStatus(t, s *Stream, st *status.Status): RBX = s, RCX = st. */
SEC("uprobe")
int BPF_KPROBE(go_grpc_status)
{
	struct ms_go_skey k = { .tgid = bpf_get_current_pid_tgid() >> 32, .stream = ctx->bx };
	__u64 st = ctx->cx, proto = 0;
	__s32 code = 0;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
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
	if (bpf_map_update_elem(&go_status, &k, &code, BPF_ANY))
		go_sanity_fail(MS_GO_SANITY_TABLE_FULL);
	return 0;
}

/* grpc.(*Server).serveStreams.func1.2.1: the closure deferred by the goroutine that ran
 * handleStream, run when it returned (or panicked). */
SEC("uprobe")
int BPF_KPROBE(go_grpc_end)
{
	struct ms_go_gkey k = go_gkey(ctx, 0);
	struct ms_go_skey sk = { .tgid = k.tgid };
	struct go_call *c;
	struct ms_hist *h;
	__u32 method, code = MS_GRPC_UNKNOWN, idx, *st, slot;
	__u64 start;

	if (go_stack_grows(ctx))
		return 0;
	probe_hit(ctx);
	c = bpf_map_lookup_elem(&go_calls, &k);
	if (!c)
		return 0; /* began before the agent attached, or failed a check */
	method = c->method < MS_METHOD_COUNT ? c->method : MS_METHOD_UNKNOWN;
	start = c->start_ns;
	sk.stream = c->stream;
	bpf_map_delete_elem(&go_calls, &k);
	st = bpf_map_lookup_elem(&go_status, &sk);
	if (st) {
		code = *st < MS_GRPC_CODE_COUNT ? *st : MS_GRPC_UNKNOWN;
		bpf_map_delete_elem(&go_status, &sk);
	}
	inflight_add(k.tgid, method, -1);
	/* the process became a member by the end of any call that reached the EtcdServer */
	if (current_slot(&slot))
		return 0;
	idx = slot * MS_GRPC_SERIES + method * MS_GRPC_CODE_COUNT + code;
	h = bpf_map_lookup_elem(&grpc_hist, &idx);
	if (h)
		hist_observe(h, span_ns(start, bpf_ktime_get_ns()));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
