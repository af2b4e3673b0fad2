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

/* grpc maps: hist indexed by slot * MS_GRPC_SERIES + method * MS_GRPC_CODE_COUNT + code;
 * panics and rate-limit hits by slot * MS_METHOD_COUNT + method. */
#define MS_GRPC_SERIES (MS_METHOD_COUNT * MS_GRPC_CODE_COUNT)

/* Key of a per-process, per-method value (the in-flight gauge). */
struct ms_proc_method {
	__u32 tgid;
	__u32 method;
};

/* storage maps: hist indexed by slot * MS_STORAGE_SERIES + op * KIND_COUNT + kind; total by
 * slot * MS_STORAGE_TOTAL_SERIES + (op * KIND_COUNT + kind) * STATUS_COUNT + status. */
#define MS_STORAGE_SERIES (MS_STORAGE_OP_COUNT * MS_STORAGE_KIND_COUNT)
#define MS_STORAGE_TOTAL_SERIES (MS_STORAGE_SERIES * MS_STORAGE_STATUS_COUNT)

/*
 * Members (raft node ids) one agent keeps series for. Every per-member counter is an array
 * of MS_NODE_SLOTS slots, slot-major: a member's slot is given the first time one of its
 * processes reports its status (ms_probe_raft_status) and stays for the agent's lifetime,
 * so a restarted member counts on in the same slot. A node id past the last slot gets none:
 * its events are dropped and counted (table_full_drops of the member object).
 */
#define MS_NODE_SLOTS 8

/* What the member status probe last said in one store process, or what the Go member object
 * read from one Go etcd process (key: its tgid). */
struct ms_proc {
	__u64 node;         /* raft node id (etcd member id) */
	__u64 term;         /* current raft term */
	__u64 leader;       /* leader node id it knows, 0: none */
	__u64 seen_ns;      /* bpf_ktime_get_ns() of that status (CLOCK_MONOTONIC) */
	__u64 start_ns;     /* the process's start time (its leader task's): tells a reused pid */
	__u32 slot;         /* < MS_NODE_SLOTS */
	__u32 has_limits;   /* limits could be read from the process */
	__u32 no_status;    /* a Go etcd (no status probe): term and leader unknown, up while it lives */
	__u32 pad;
	struct ms_probe_limits limits;
};

/* Key of the executables whose processes count (the --binary file and its replacements,
 * or the --pid process's): the kernel's encoding of the device (major << 20 | minor). */
struct ms_exe_key {
	__u64 dev;
	__u64 ino;
};

/* Which processes may be members besides running an allowed executable (--target-uid,
 * --target-cgroup): the member object's filter map, one entry. */
struct ms_member_filter {
	__u32 has_uid;
	__u32 uid;     /* real uid the process must have */
	__u64 cgroup;  /* cgroup v2 id (the directory's inode) it must be in; 0: any */
	__u64 pidns_dev; /* pid namespace it must be in (nsfs device, kernel encoding, and */
	__u64 pidns_ino; /* inode of /proc/PID/ns/pid); ino 0: any */
};

/* lease_ops: per slot, op * MS_LEASE_STATUS_COUNT + status. */
#define MS_LEASE_SERIES (MS_LEASE_OP_COUNT * MS_LEASE_STATUS_COUNT)

/* Bound on executable files in exe_allowed (the first file and its replacements). */
#define MS_MAX_EXES 16

/* Bound on store processes tracked by per-process gauges (conn). */
#define MS_MAX_PROCS 1024

/* Bound on (process, method) pairs of the in-flight gauge. */
#define MS_INFLIGHT_MAX (MS_MAX_PROCS * 8)

/* Per-probe hit counters, indexed by the BPF cookie the agent gives each attachment. */
#define MS_MAX_PROBES 64

#endif /* MS_MAPS_H */
