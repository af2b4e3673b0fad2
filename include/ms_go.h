/* What the Go-target BPF programs (bpf/go_*.bpf.c) and the agent share: keys, limits, sanity checks. */
#ifndef MS_GO_H
#define MS_GO_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Method names up to this many bytes are matched against the method table; longer ones
 * count as "unknown" (etcd's longest is 39). */
#define MS_GO_METHOD_MAX 64

/* A method string longer than this is not a gRPC path: the offsets are wrong. */
#define MS_GO_METHOD_SANE_LEN 4096

/* Key of the method-id map the agent fills: the name, zero padded. */
struct ms_go_method_key {
	char name[MS_GO_METHOD_MAX];
};

/* Sanity checks the BPF programs count when they fail (a failed call is not counted). */
#define MS_GO_SANITY(X)                                                            \
	X(METHOD_LEN, "method_length")                                             \
	X(METHOD_SLASH, "method_slash")                                            \
	X(STATUS_CODE, "status_code")                                              \
	X(READ_FAULT, "read_fault")                                                \
	X(TABLE_FULL, "table_full")                                                \
	X(EVENT_COUNT, "event_count")                                              \
	X(EVENT_TYPE, "event_type")

#define MS_GO_SANITY_ENUM_(id, name) MS_GO_SANITY_##id,
enum ms_go_sanity {
	MS_GO_SANITY(MS_GO_SANITY_ENUM_)
	MS_GO_SANITY_COUNT
};
#undef MS_GO_SANITY_ENUM_

/* The functions whose WriteStatus ends a call, and how many builds' worth of them the
 * gRPC object holds (one entry per distinct build attached; copies share theirs). */
#define MS_GO_CALLER_RANGES 3
#define MS_GO_CALLER_BUILDS 64

/* Entry of go_status_callers: each caller's code [lo, hi) relative to the probed WriteStatus
 * instruction (a return address minus the probe's address falls in one of them). All zero:
 * a free entry. */
struct ms_go_callers {
	__s64 lo[MS_GO_CALLER_RANGES];
	__s64 hi[MS_GO_CALLER_RANGES];
};

/* A call or operation in progress on one goroutine of one process. */
struct ms_go_gkey {
	__u32 tgid;
	__u32 site; /* which begin/end pair */
	__u64 g;    /* the goroutine (R14) */
};

/* The status last written on one stream of one process. */
struct ms_go_skey {
	__u32 tgid;
	__u32 pad;
	__u64 stream;
};

#endif /* MS_GO_H */
