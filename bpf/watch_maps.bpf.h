/* The watch subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_WATCH_MAPS_BPF_H
#define MS_WATCH_MAPS_BPF_H

/* tgid -> watchers open after that process's latest create/cancel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} watch_active SEC(".maps");

/* Events sent, by slot * 2 + type: 0 PUT, 1 DELETE. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * 2);
	__type(key, __u32);
	__type(value, __u64);
} watch_events SEC(".maps");

#endif /* MS_WATCH_MAPS_BPF_H */
