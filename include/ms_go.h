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

/*
 * The method table: each known method's name at the slot its hash picks (ms_go_method_slot
 * with the seed the agent found, under which no two names share a slot), so a BPF program
 * finds a method with one array read and eight compares instead of a hash-map lookup of a
 * 64-byte key (a helper call, a jhash, a bucket walk).
 */
#define MS_GO_METHOD_SLOTS 512
#define MS_GO_METHOD_WORDS (MS_GO_METHOD_MAX / 8)

struct ms_go_method_slot {
	__u64 name[MS_GO_METHOD_WORDS]; /* the name, zero padded; all zero: a free slot */
	__u32 id;
	__u32 pad;
};

/* The slot of the zero-padded name `w` under `seed`: the same function in BPF and the agent. */
static inline __u32 ms_go_method_slot(const __u64 *w, __u64 seed)
{
	__u64 h = seed;

	for (int i = 0; i < MS_GO_METHOD_WORDS; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return (__u32)(h >> 32) & (MS_GO_METHOD_SLOTS - 1);
}

/*
 * The goroutine tables (bpf/go_common.bpf.h): what goes on from one probe site to a later
 * one on the same goroutine (a call from its begin to its status, a backend commit from its
 * call to the instruction after it), in sets of MS_GO_GTAB_WAYS slots picked by a hash of the key,
 * claimed with a compare-and-swap; a full set spills into an LRU hash. An array read is
 * inlined in the program, a hash-map update takes locks: on this kind of VM the LRU update
 * and delete alone cost ~600 ns a call.
 */
#define MS_GO_GTAB_WAYS 4

/* The gRPC calls' table: 2^bits sets by default (the agent's --go-max-calls picks another
 * power of two, up to MS_GO_CALLS_MAX_BITS), and the spill map's size. */
#define MS_GO_CALLS_DEFAULT_BITS 12
#define MS_GO_CALLS_MAX_BITS 18
#define MS_GO_CALLS_SPILL 65536

/* The backend commits' table: few goroutines commit. */
#define MS_GO_STORAGE_BITS 6
#define MS_GO_STORAGE_SPILL 4096

struct ms_go_gslot {
	__u64 g;      /* the goroutine (R14); 0: a free slot */
	__u32 tgid;   /* 0 until the claim is complete */
	__u16 site;
	__u16 aux;    /* the owner's: a method id */
	__u64 t_ns;   /* the owner's: a begin time */
	__u64 pad;    /* a set of four: two cache lines */
};

struct ms_go_gset {
	struct ms_go_gslot s[MS_GO_GTAB_WAYS];
};

#endif /* MS_GO_H */
