/* The mvcc subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_MVCC_MAPS_BPF_H
#define MS_MVCC_MAPS_BPF_H

/* slot -> the revision its process reported last */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} mvcc_revision SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} mvcc_compactions SEC(".maps");

#endif /* MS_MVCC_MAPS_BPF_H */
