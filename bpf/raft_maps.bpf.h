/* The raft subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_RAFT_MAPS_BPF_H
#define MS_RAFT_MAPS_BPF_H

/* slot -> last applied index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} raft_applied SEC(".maps");

/* slot -> propose-to-commit latency of the entries that member proposed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, struct ms_hist);
} raft_commit_hist SEC(".maps");

#endif /* MS_RAFT_MAPS_BPF_H */
