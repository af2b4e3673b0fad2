/* The storage subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_STORAGE_MAPS_BPF_H
#define MS_STORAGE_MAPS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_STORAGE_SERIES);
	__type(key, __u32);
	__type(value, struct ms_hist);
} storage_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_STORAGE_TOTAL_SERIES);
	__type(key, __u32);
	__type(value, __u64);
} storage_total SEC(".maps");

#endif /* MS_STORAGE_MAPS_BPF_H */
