/* The gRPC subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_GRPC_MAPS_BPF_H
#define MS_GRPC_MAPS_BPF_H

/*
 * Per store process: the window start (window_ns) of the first batch this program saw from
 * it. A batch is seen whole or not at all and counts the calls begun in its window, whose
 * begin times are later than its window start, so every call that began after that time had
 * its begin counted, and none before it did: a call is counted (timed, and taken out of the
 * in-flight gauge) iff its begin time is later. The agent forgets processes that exited.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} grpc_since SEC(".maps");

/* (process, method) -> calls begun and not yet ended; the agent sums live processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_INFLIGHT_MAX);
	__type(key, struct ms_proc_method);
	__type(value, __s64);
} grpc_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_GRPC_SERIES);
	__type(key, __u32);
	__type(value, struct ms_hist);
} grpc_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_panics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_METHOD_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} grpc_rate_limited_hits SEC(".maps");

#endif /* MS_GRPC_MAPS_BPF_H */
