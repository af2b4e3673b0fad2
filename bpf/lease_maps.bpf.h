/* The lease subsystem's maps, defined once for both objects: the collector reads either by these names and layouts. */
#ifndef MS_LEASE_MAPS_BPF_H
#define MS_LEASE_MAPS_BPF_H

/* tgid -> leases held after that process's latest grant/revoke/expiry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u32);
} lease_active SEC(".maps");

/* Operations, indexed by slot * MS_LEASE_SERIES + op * MS_LEASE_STATUS_COUNT + status. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS * MS_LEASE_SERIES);
	__type(key, __u32);
	__type(value, __u64);
} lease_ops SEC(".maps");

#endif /* MS_LEASE_MAPS_BPF_H */
