// SPDX-License-Identifier: GPL-2.0
/* auth subsystem: Authenticate results and permission-check results, counted in the kernel. */
#include "common.bpf.h"

/* Authenticate calls, indexed by slot * MS_AUTH_AUTHN_COUNT + enum ms_auth_authn_result. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_AUTH_AUTHN_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} auth_authn SEC(".maps");

/* Permission checks, indexed by slot * MS_AUTH_AUTHZ_COUNT + enum ms_auth_authz_result. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_AUTH_AUTHZ_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} auth_authz SEC(".maps");

static long auth_record(__u32 i, void *ctx)
{
	struct ms_batch *w = ctx;
	struct ms_probe_rec r;

	if (batch_read(&r, w, i))
		return 1;
	/* Out-of-contract values are dropped rather than folded into a real label. */
	if (r.kind == MS_REC_AUTH_AUTHENTICATE && r.a < MS_AUTH_AUTHN_COUNT)
		slot_add(&auth_authn, w->slot * MS_AUTH_AUTHN_COUNT + r.a, 1);
	else if (r.kind == MS_REC_AUTH_AUTHORIZE && r.b < MS_AUTH_AUTHZ_COUNT)
		slot_add(&auth_authz, w->slot * MS_AUTH_AUTHZ_COUNT + r.b, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(auth_batch, const struct ms_probe_batch *b)
{
	BATCH_WALK(ctx, b, MS_BATCH_AUTH, auth_record, NULL, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
