/* BPF map layouts shared by bpf/ (writer) and agent/ (reader). */
#ifndef MS_MAPS_H
#define MS_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "ms_probes.h"

/* Histogram upper bounds live in each BPF object's rodata; the agent sets them before load. */
#define MS_MAX_BUCKETS 32

/*
 * One histogram series. bucket[i] counts observations <= bound[i] and > bound[i-1]
 * (not cumulative; the agent accumulates); bucket[nr_bounds] counts the rest (+Inf).
 * Values are nanoseconds. Stored per CPU; the agent sums the CPUs.
 */
struct ms_hist {
	__u64 bucket[MS_MAX_BUCKETS + 1];
	__u64 sum_ns;
	__u64 count;
};

/* grpc maps: hist indexed by method * MS_GRPC_CODE_COUNT + code; inflight/panic by method. */
#define MS_GRPC_SERIES (MS_METHOD_COUNT * MS_GRPC_CODE_COUNT)

/* Key of a per-process, per-method value (the in-flight gauge). */
struct ms_proc_method {
	__u32 tgid;
	__u32 method;
};

/* storage maps: hist indexed by op * KIND_COUNT + kind; total by that * STATUS_COUNT + status. */
#define MS_STORAGE_SERIES (MS_STORAGE_OP_COUNT * MS_STORAGE_KIND_COUNT)
#define MS_STORAGE_TOTAL_SERIES (MS_STORAGE_SERIES * MS_STORAGE_STATUS_COUNT)

/* Bound on distinct raft node ids tracked by the mvcc gauges. */
#define MS_MAX_NODES 64

/* Bound on store processes tracked by per-process gauges (conn). */
#define MS_MAX_PROCS 1024

/* Bound on (process, method) pairs of the in-flight gauge. */
#define MS_INFLIGHT_MAX (MS_MAX_PROCS * 8)

/* Per-probe hit counters, indexed by the BPF cookie the agent gives each attachment. */
#define MS_MAX_PROBES 64

#endif /* MS_MAPS_H */
