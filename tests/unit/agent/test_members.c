/* Unit tests for members: the view of which process is which member, and the member BPF
 * program (status, leader changes, node table bound, executable filter; needs root). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "expo.h"
#include "loader.h"
#include "mapread.h"
#include "members.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define S_NS 1000000000ull

/* The probe functions the member and mvcc subsystems attach to, as probes.c compiles them. */
#define PROBE_ASM(name)                                                                    \
	".globl " #name "\n.type " #name ",@function\n" #name ":\n"                         \
	".byte 0x0f,0x1f,0x44,0x00,0x00\nret\n.size " #name ", .-" #name "\n"
__asm__(".text\n" PROBE_ASM(ms_probe_raft_status) PROBE_ASM(ms_probe_batch));
__attribute__((section(".probes"), used)) volatile uint16_t ms_probe_batch_semaphore;

static char self[4096];

/* One line per known slot, then one per live process: the whole view as text. */
static char *view_text(const struct members_view *v)
{
	struct expo_buf b = { 0 };

	assert_int_equal(expo_buf_printf(&b, "slots %u\n", v->nr_slots), 0);
	for (uint32_t s = 0; s < v->nr_slots; s++) {
		if (!v->known[s])
			continue;
		assert_int_equal(expo_buf_printf(&b, "%u %s %s", s, v->name[s],
						 v->up[s] ? "up" : "down"), 0);
		if (v->up[s])
			assert_int_equal(expo_buf_printf(&b, " term %" PRIu64 " leader %" PRIx64 "%s pid %u",
							 v->term[s], v->leader[s],
							 v->is_leader[s] ? " (self)" : "", v->pid[s]), 0);
		for (uint32_t i = 0; v->up[s] && v->has_limits[s] && i < MS_LIMIT_COUNT; i++)
			assert_int_equal(expo_buf_printf(&b, "%s%" PRIu64, i ? "," : " limits ",
							 v->limits[s][i]), 0);
		assert_int_equal(expo_buf_printf(&b, "\n"), 0);
	}
	for (uint32_t i = 0; i < v->nr_procs; i++)
		assert_int_equal(expo_buf_printf(&b, "tgid %u slot %u\n", v->tgid[i], v->tgid_slot[i]), 0);
	return b.data;
}

#define PROC(t, nd, tm, ld, seen, sl, al)                                                  \
	{ .tgid = t, .p = { .node = nd, .term = tm, .leader = ld, .seen_ns = seen, .slot = sl }, \
	  .alive = al }

static void test_build(void **state)
{
	static const struct members_slot slots3[] = { { 0xa, 0 }, { 0xb, 1 }, { 0xc, 2 } };
	static const struct members_slot gap[] = { { 0xa, 0 }, { 0xd, 3 }, { 0xe, 9 } };
	static const struct {
		struct members_proc procs[4];
		uint32_t nr_procs;
		const struct members_slot *slots;
		uint32_t nr_slots;
		const char *want;
	} cases[] = {
		/* nothing seen yet */
		{ { { 0 } }, 0, NULL, 0, "slots 0\n" },
		/* three members on one host, b leads; c exited; a's loop stopped 3 s ago */
		{ { PROC(100, 0xa, 4, 0xb, 7 * S_NS, 0, true), PROC(200, 0xb, 4, 0xb, 10 * S_NS, 1, true),
		    PROC(300, 0xc, 3, 0xa, 10 * S_NS, 2, false) },
		  3, slots3, 3,
		  "slots 3\n0 a down\n1 b up term 4 leader b (self) pid 200\n2 c down\n"
		  "tgid 100 slot 0\ntgid 200 slot 1\n" },
		/* a restarted member: the old process (stale) and the new one; the fresh one counts */
		{ { PROC(100, 0xa, 2, 0xa, 5 * S_NS, 0, true), PROC(101, 0xa, 3, 0, 10 * S_NS, 0, true) },
		  2, slots3, 1, "slots 1\n0 a up term 3 leader 0 pid 101\ntgid 100 slot 0\ntgid 101 slot 0\n" },
		/* a slot gap (a taken slot never reported) and an out-of-range slot */
		{ { PROC(100, 0xd, 1, 0xd, 10 * S_NS, 3, true), PROC(101, 0xe, 1, 0, 10 * S_NS, 9, true) },
		  2, gap, 3, "slots 4\n0 a down\n3 d up term 1 leader d (self) pid 100\ntgid 100 slot 3\n" },
		/* a status newer than the clock read (another CPU) is fresh */
		{ { PROC(100, 0xa, 1, 0xa, 11 * S_NS, 0, true) }, 1, slots3, 1,
		  "slots 1\n0 a up term 1 leader a (self) pid 100\ntgid 100 slot 0\n" },
		/* a Go etcd (no status probe) last seen 9 s ago is up while it lives, never the
		 * leader (its term and leader are unknown); one that exited is down */
		{ { { .tgid = 100, .p = { .node = 0xa, .seen_ns = 1 * S_NS, .slot = 0, .no_status = 1 },
		      .alive = true },
		    { .tgid = 200, .p = { .node = 0xb, .seen_ns = 10 * S_NS, .slot = 1, .no_status = 1 },
		      .alive = false } },
		  2, slots3, 2, "slots 2\n0 a up term 0 leader 0 pid 100\n1 b down\ntgid 100 slot 0\n" },
	};

	(void)state;
	for (size_t i = 0; i < LEN(cases); i++) {
		static struct members_view v;
		char *got;

		members_build(cases[i].procs, cases[i].nr_procs, cases[i].slots, cases[i].nr_slots,
			      10 * S_NS, &v);
		got = view_text(&v);
		assert_string_equal(got, cases[i].want);
		assert_int_equal(members_slot_of(&v, 100), strstr(cases[i].want, "tgid 100 slot ") ?
				 (int)(strstr(cases[i].want, "tgid 100 slot ")[14] - '0') : -1);
		free(got);
	}
}

static int map_fd(struct loader *l, enum subsys_id id, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(loader_object(l, id), name);

	assert_true(fd >= 0);
	return fd;
}

static uint64_t percpu_at(struct loader *l, enum subsys_id id, const char *map, uint32_t nr,
			  uint32_t idx)
{
	uint64_t out[MS_NODE_SLOTS * 8] = { 0 };
	struct mapread *r;

	assert_true(nr <= LEN(out));
	assert_int_equal(mapread_new(&r), 0);
	assert_int_equal(mapread_percpu_sum(r, map_fd(l, id, map), nr, 1, out), 0);
	mapread_free(r);
	return out[idx];
}

static struct members_view *read_view(struct loader *l)
{
	static struct members_view v;

	assert_int_equal(members_read(map_fd(l, SUBSYS_MEMBER, "proc_node"),
				      map_fd(l, SUBSYS_MEMBER, "node_slots"), &v), 0);
	return &v;
}

/* Status reports of this process as the store makes them; then the view and counters. */
static void test_bpf_member(void **state)
{
	static const struct ms_probe_rec rev = { .id = 0xa, .val = 5, .kind = MS_REC_MVCC_REVISION };
	struct loader_opts o = { .binary = self, .pid = getpid(), .subsys_mask = 1u << SUBSYS_MVCC };
	static struct ms_probe_batch b;
	struct ms_probe_limits lim = { .max_connections = 1024, .rate_limit_milli = 500,
				       .rate_burst_milli = 50, .max_watches = 7 };
	struct loader *l = NULL;
	uint32_t tgid = (uint32_t)getpid();
	char eb[256], *got, want[256];

	(void)state;
	if (loader_new(&o, &l, eb, sizeof(eb)))
		fail_msg("loader_new: %s", eb);
	/* a batch before the first status: no member yet, dropped and counted */
	b.n[MS_BATCH_MVCC] = 1;
	b.rec[MS_BATCH_MVCC][0] = rev;
	ms_probe_batch(&b);
	assert_int_equal(percpu_at(l, SUBSYS_MVCC, "unattributed", 1, 0), 1);
	assert_int_equal(percpu_at(l, SUBSYS_MVCC, "mvcc_compactions", 1, 0), 0);

	/* leader a, none, b (one change), none, b again (none), a (a second change) */
	ms_probe_raft_status(0xa, 1, 0xa, &lim);
	ms_probe_raft_status(0xa, 2, 0, NULL);
	ms_probe_raft_status(0xa, 2, 0xb, NULL);
	ms_probe_raft_status(0xa, 3, 0, NULL);
	ms_probe_raft_status(0xa, 3, 0xb, NULL);
	ms_probe_raft_status(0xa, 4, 0xa, NULL);
	assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "leader_changes", MS_NODE_SLOTS, 0), 2);
	got = view_text(read_view(l));
	/* the limits are read once, when the process becomes a member */
	snprintf(want, sizeof(want),
		 "slots 1\n0 a up term 4 leader a (self) pid %u limits 1024,500,50,0,7\ntgid %u slot 0\n",
		 tgid, tgid);
	assert_string_equal(got, want);
	free(got);
	ms_probe_batch(&b);
	assert_int_equal(percpu_at(l, SUBSYS_MVCC, "unattributed", 1, 0), 1);
	/* the entry of another process that had this pid (another start time): not this member
	 * until this process reports itself */
	{
		int fd = map_fd(l, SUBSYS_MEMBER, "proc_node");
		struct ms_proc p;

		assert_int_equal(bpf_map_lookup_elem(fd, &tgid, &p), 0);
		p.start_ns ^= 1;
		assert_int_equal(bpf_map_update_elem(fd, &tgid, &p, BPF_EXIST), 0);
		ms_probe_batch(&b);
		assert_int_equal(percpu_at(l, SUBSYS_MVCC, "unattributed", 1, 0), 2);
		ms_probe_raft_status(0xa, 4, 0xa, NULL);
		ms_probe_batch(&b);
		assert_int_equal(percpu_at(l, SUBSYS_MVCC, "unattributed", 1, 0), 2);
		assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "leader_changes", MS_NODE_SLOTS, 0), 2);
	}

	/* one process claiming node after node: 8 slots, then each new node is counted */
	for (uint64_t n = 0xb; n < 0xb + MS_NODE_SLOTS + 2; n++)
		ms_probe_raft_status(n, 1, 0, NULL);
	assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "table_full_drops", 1, 0), 3);
	got = view_text(read_view(l));
	assert_non_null(strstr(got, "slots 8\n0 a down\n1 b down\n"));
	assert_non_null(strstr(got, "7 11 up"));
	free(got);

	/* a process that does not run an allowed executable is no member */
	{
		struct ms_exe_key k = { 0 };
		int fd = map_fd(l, SUBSYS_MEMBER, "exe_allowed");

		assert_int_equal(bpf_map_get_next_key(fd, NULL, &k), 0);
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
		assert_int_equal(bpf_map_delete_elem(map_fd(l, SUBSYS_MEMBER, "proc_node"), &tgid), 0);
		ms_probe_raft_status(0xa, 5, 0xa, NULL);
		assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "exe_filtered", 1, 0), 1);
		assert_int_equal(read_view(l)->nr_procs, 0);
		assert_int_equal(bpf_map_update_elem(fd, &k, &(uint8_t){ 1 }, BPF_ANY), 0);
	}
	/* --target-uid of another uid, then --target-cgroup of another cgroup: filtered */
	{
		struct ms_member_filter f = { .has_uid = 1, .uid = getuid() + 1 };
		struct stat ns;
		int fd = map_fd(l, SUBSYS_MEMBER, "member_filter");
		uint32_t zero = 0;

		assert_int_equal(bpf_map_update_elem(fd, &zero, &f, BPF_ANY), 0);
		ms_probe_raft_status(0xa, 5, 0xa, NULL);
		f = (struct ms_member_filter){ .has_uid = 1, .uid = getuid(), .cgroup = ~0ull };
		assert_int_equal(bpf_map_update_elem(fd, &zero, &f, BPF_ANY), 0);
		ms_probe_raft_status(0xa, 5, 0xa, NULL);
		assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "target_filtered", 1, 0), 2);
		assert_int_equal(read_view(l)->nr_procs, 0);
		/* another pid namespace (its own with another inode): filtered */
		assert_int_equal(stat("/proc/self/ns/pid", &ns), 0);
		f = (struct ms_member_filter){ .pidns_dev = ((uint64_t)major(ns.st_dev) << 20) | minor(ns.st_dev),
					       .pidns_ino = ns.st_ino + 1 };
		assert_int_equal(bpf_map_update_elem(fd, &zero, &f, BPF_ANY), 0);
		ms_probe_raft_status(0xa, 5, 0xa, NULL);
		assert_int_equal(percpu_at(l, SUBSYS_MEMBER, "target_filtered", 1, 0), 3);
		/* its own uid and pid namespace, any cgroup: a member again */
		f = (struct ms_member_filter){ .has_uid = 1, .uid = getuid(), .pidns_dev = f.pidns_dev,
					       .pidns_ino = ns.st_ino };
		assert_int_equal(bpf_map_update_elem(fd, &zero, &f, BPF_ANY), 0);
		ms_probe_raft_status(0xa, 5, 0xa, NULL);
		assert_int_equal(read_view(l)->nr_procs, 1);
	}
	loader_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_bpf_member),
	};
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return 1;
	self[n] = '\0';
	if (geteuid() != 0) {
		fprintf(stderr, "test_members: needs root to load BPF programs\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
