/* Members: which store process is which member (node slot), and which members are up. */
#include "members.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mapread.h"

void members_build(const struct members_proc *procs, uint32_t nr_procs,
		   const struct members_slot *slots, uint32_t nr_slots, uint64_t now_ns,
		   struct members_view *v)
{
	uint64_t best_seen[MS_NODE_SLOTS] = { 0 };

	memset(v, 0, sizeof(*v));
	for (uint32_t i = 0; i < nr_slots; i++) {
		uint32_t s = slots[i].slot;

		if (s >= MS_NODE_SLOTS)
			continue;
		v->known[s] = true;
		snprintf(v->name[s], sizeof(v->name[s]), "%" PRIx64, slots[i].node);
		if (s + 1 > v->nr_slots)
			v->nr_slots = s + 1;
	}
	for (uint32_t i = 0; i < nr_procs; i++) {
		const struct ms_proc *p = &procs[i].p;
		uint32_t s = p->slot;
		bool fresh;

		if (s >= MS_NODE_SLOTS || !v->known[s] || !procs[i].alive)
			continue;
		if (v->nr_procs < MS_MAX_PROCS) {
			v->tgid[v->nr_procs] = procs[i].tgid;
			v->tgid_slot[v->nr_procs++] = s;
		}
		/* a Go etcd reports only when it serves or applies: alive is up */
		fresh = p->no_status || now_ns < p->seen_ns || now_ns - p->seen_ns < MEMBERS_STALE_NS;
		if (!v->pid[s])
			v->pid[s] = procs[i].tgid;
		if (!fresh || p->seen_ns < best_seen[s])
			continue;
		best_seen[s] = p->seen_ns;
		v->up[s] = true;
		v->pid[s] = procs[i].tgid;
		v->term[s] = p->term;
		v->leader[s] = p->leader;
		v->is_leader[s] = !p->no_status && p->leader == p->node;
		v->no_status[s] = p->no_status;
		v->has_limits[s] = p->has_limits;
		memcpy(v->limits[s], &p->limits, sizeof(v->limits[s]));
	}
}

int members_slot_of(const struct members_view *v, uint32_t tgid)
{
	for (uint32_t i = 0; i < v->nr_procs; i++)
		if (v->tgid[i] == tgid)
			return (int)v->tgid_slot[i];
	return -1;
}

static bool alive(uint32_t tgid)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/%u", tgid);
	return access(proc, F_OK) == 0;
}

int members_read(int proc_fd, int slots_fd, struct members_view *v)
{
	/* 100 KiB: not on an HTTP thread's stack; callers serialize (see the header) */
	static uint32_t tgids[MS_MAX_PROCS];
	static struct ms_proc procs[MS_MAX_PROCS];
	struct members_proc *mp = NULL;
	uint64_t nodes[MS_NODE_SLOTS];
	uint32_t slot_vals[MS_NODE_SLOTS], n, ns;
	struct members_slot slots[MS_NODE_SLOTS];
	struct timespec ts;
	int err;

	err = mapread_hash(proc_fd, sizeof(tgids[0]), sizeof(procs[0]), MS_MAX_PROCS, tgids, procs, &n);
	if (!err)
		err = mapread_hash(slots_fd, sizeof(nodes[0]), sizeof(slot_vals[0]), MS_NODE_SLOTS,
				   nodes, slot_vals, &ns);
	if (err)
		return err;
	mp = calloc(n ? n : 1, sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		mp[i] = (struct members_proc){ .tgid = tgids[i], .p = procs[i], .alive = alive(tgids[i]) };
		/* an exited process never reports again; its pid may be reused by another */
		if (!mp[i].alive)
			bpf_map_delete_elem(proc_fd, &tgids[i]);
	}
	for (uint32_t i = 0; i < ns; i++)
		slots[i] = (struct members_slot){ .node = nodes[i], .slot = slot_vals[i] };
	clock_gettime(CLOCK_MONOTONIC, &ts);
	members_build(mp, n, slots, ns, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, v);
	free(mp);
	return 0;
}
