/* The member objects' maps and their one way in: which process is which member (store and Go). */
#ifndef MS_MEMBER_BPF_H
#define MS_MEMBER_BPF_H

#include "common.bpf.h"

/* Executables whose processes count; filled by the agent before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_MAX_EXES);
	__type(key, struct ms_exe_key);
	__type(value, __u8);
} exe_allowed SEC(".maps");

/* node id -> its slot (< MS_NODE_SLOTS); never removed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u64);
	__type(value, __u32);
} node_slots SEC(".maps");

/* Leader changes each member saw, by slot (a new non-zero leader after another one). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} leader_changes SEC(".maps");

/* The last non-zero leader each member reported (any of its processes), by slot: a restarted
 * member that finds the leader it knew counts no change, one that finds another counts one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} slot_leader SEC(".maps");

/* --target-uid / --target-cgroup (entry 0; zero: no filter). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ms_member_filter);
} member_filter SEC(".maps");

/* Status reports dropped because the process is outside --target-uid / --target-cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} target_filtered SEC(".maps");

/* Status reports dropped because the process runs no allowed executable. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exe_filtered SEC(".maps");

/* slot -> the node that holds it: a slot is taken by the first insert of its key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MS_NODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} slot_owner SEC(".maps");

/* True when the calling process runs an allowed executable: a process that maps the probed
 * file (anyone may read it) and calls its probe functions runs its own executable. */
static __always_inline bool exe_ok(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ms_exe_key k = {};
	struct inode *ino;
	dev_t dev;

	ino = BPF_CORE_READ(t, mm, exe_file, f_inode);
	if (!ino)
		return false;
	dev = BPF_CORE_READ(ino, i_sb, s_dev);
	k.dev = dev;
	k.ino = BPF_CORE_READ(ino, i_ino);
	return bpf_map_lookup_elem(&exe_allowed, &k) != NULL;
}

/* True when the calling process is of the --target-uid, in the --target-pidns and in the
 * --target-cgroup, those that are set. */
static __always_inline bool target_ok(void)
{
	__u32 zero = 0;
	struct ms_member_filter *f = bpf_map_lookup_elem(&member_filter, &zero);

	if (!f)
		return false;
	if (f->has_uid && (__u32)bpf_get_current_uid_gid() != f->uid)
		return false;
	if (f->pidns_ino) {
		struct bpf_pidns_info ns;

		/* fails unless the calling task is in that pid namespace */
		if (bpf_get_ns_current_pid_tgid(f->pidns_dev, f->pidns_ino, &ns, sizeof(ns)))
			return false;
	}
	return !f->cgroup || bpf_get_current_cgroup_id() == f->cgroup;
}

/* The slot of `node`, given on first sight. Returns 0, or -1 (counted) when all are taken. */
static __always_inline int slot_of(__u64 node, __u32 *slot)
{
	__u32 *s = bpf_map_lookup_elem(&node_slots, &node);

	if (s) {
		*slot = *s;
		return 0;
	}
	for (__u32 i = 0; i < MS_NODE_SLOTS; i++) {
		if (bpf_map_update_elem(&slot_owner, &i, &node, BPF_NOEXIST))
			continue; /* taken */
		if (bpf_map_update_elem(&node_slots, &node, &i, BPF_NOEXIST)) {
			/* another CPU gave this node a slot first (slot i stays unused) */
			s = bpf_map_lookup_elem(&node_slots, &node);
			if (!s)
				return -1;
			i = *s;
		}
		*slot = i;
		return 0;
	}
	table_full();
	return -1;
}

/* Member `slot` reports `leader` (0: none): a non-zero one other than the last is a change. */
static __always_inline void leader_seen(__u32 slot, __u64 leader)
{
	__u64 *known = bpf_map_lookup_elem(&slot_leader, &slot);

	if (!known || !leader)
		return;
	if (*known && leader != *known)
		slot_add(&leader_changes, slot, 1);
	*known = leader;
}

/*
 * A status from the calling process: it is member `node`, at `term`, knowing `leader` (0:
 * none), with its limits at `limits` (NULL: none to read). A process is checked (executable,
 * filter, a free slot) on its first report only; later ones refresh what it said.
 * `no_status`: the process has no status probe (a Go etcd): its term and leader are unknown
 * and it is up while it lives.
 */
static __always_inline void member_report(__u64 node, __u64 term, __u64 leader,
					  const struct ms_probe_limits *limits, __u32 no_status)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ms_proc *p, fresh = {};
	__u32 slot;

	p = bpf_map_lookup_elem(&proc_node, &tgid);
	if (p && p->node == node && p->start_ns == process_start_ns()) {
		leader_seen(p->slot, leader);
		p->leader = leader;
		p->term = term;
		p->seen_ns = bpf_ktime_get_ns();
		return;
	}
	/* first report of this process (or it claims another node, or it is another process
	 * with a reused pid: start over) */
	if (!exe_ok()) {
		slot_add(&exe_filtered, 0, 1);
		return;
	}
	if (!target_ok()) {
		slot_add(&target_filtered, 0, 1);
		return;
	}
	if (slot_of(node, &slot))
		return;
	fresh.node = node;
	fresh.term = term;
	fresh.leader = leader;
	fresh.seen_ns = bpf_ktime_get_ns();
	fresh.slot = slot;
	fresh.start_ns = process_start_ns();
	fresh.no_status = no_status;
	/* configured once at start-up: read when the process becomes a member */
	fresh.has_limits = limits && !bpf_probe_read_user(&fresh.limits, sizeof(fresh.limits), limits);
	if (bpf_map_update_elem(&proc_node, &tgid, &fresh, BPF_ANY))
		table_full();
	leader_seen(slot, leader);
}

#endif /* MS_MEMBER_BPF_H */
