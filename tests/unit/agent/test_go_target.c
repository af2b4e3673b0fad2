/* Unit tests for go_target: recognising a Go binary, its sites and refusals, before anything loads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "go_target.h"

#ifndef GO_TEST_DIR
#error "GO_TEST_DIR: the folder of the Go test programs (tests/unit/agent/go/go.mk)"
#endif

#define ETCD_PATH "/usr/bin/etcd"

static void test_not_go(void **state)
{
	struct go_target *gt = (void *)1;
	char self[4096], err[256] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	/* a C binary, a missing file: not Go, the ELF checks report them */
	assert_int_equal(go_target_open(self, &gt, err, sizeof(err)), 0);
	assert_null(gt);
	assert_int_equal(go_target_open("/nonexistent", &gt, err, sizeof(err)), 0);
	assert_null(gt);
	go_target_free(NULL);
}

/* A Go program that is not etcd: DWARF without etcd's types. */
static void test_other_go_program(void **state)
{
	struct go_target *gt = (void *)1;
	char err[512] = "";

	(void)state;
	assert_int_equal(go_target_open(GO_TEST_DIR "/target_external", &gt, err, sizeof(err)),
			 -ENOENT);
	assert_null(gt);
	assert_non_null(strstr(err, "DWARF has no field google.golang.org/grpc/internal/"
				    "transport.Stream.method"));
}

#define E "go.etcd.io/etcd/"
#define G "google.golang.org/grpc"
static const struct {
	enum subsys_id sub;
	const char *func, *kind, *kernel;
} sites[] = {
	{ SUBSYS_MEMBER, E "etcdserver.(*raftNode).tick", "stack_check_jbe", "emulated" },
	{ SUBSYS_GRPC, G ".(*Server).handleStream", "stack_check_jbe", "emulated" },
	{ SUBSYS_GRPC, G "/internal/transport.(*http2Server).WriteStatus", "stack_check_jbe",
	  "emulated" },
	{ SUBSYS_STORAGE, E "wal.(*WAL).sync", "after_timer_call", "emulated" }, /* jle */
	{ SUBSYS_STORAGE, E "mvcc/backend.(*batchTx).commit", "call", "emulated" },
	{ SUBSYS_STORAGE, E "mvcc/backend.(*batchTx).commit", "after_call", "nop5" },
	{ SUBSYS_MVCC, E "etcdserver.(*raftNode).tick", "stack_check_jbe", "emulated" },
	{ SUBSYS_MVCC, E "mvcc.(*store).compact.func1", "after_call", "emulated" }, /* je */
	{ SUBSYS_RAFT, E "etcdserver.(*raftNode).tick", "stack_check_jbe", "emulated" },
	{ SUBSYS_LEASE, E "lease.(*lessor).Grant", "call", "emulated" },
	{ SUBSYS_LEASE, E "lease.(*lessor).Revoke", "call", "emulated" },
	{ SUBSYS_LEASE, E "lease.(*lessor).Renew", "call", "emulated" },
	{ SUBSYS_LEASE, E "etcdserver.(*EtcdServer).revokeExpiredLeases.func1.1.1", "call",
	  "emulated" },
	{ SUBSYS_WATCH, E "etcdserver/etcdserverpb.(*watchWatchServer).Send", "stack_check_jbe",
	  "emulated" },
	{ SUBSYS_WATCH, E "mvcc.(*watchableStore).watch", "stack_check_jbe", "emulated" },
	{ SUBSYS_WATCH, E "mvcc.(*watchableStore).cancelWatcher", "stack_check_jbe", "emulated" },
};
#undef E
#undef G

/* Debian's etcd as a target (the test fails, saying why, where it is missing). */
static struct go_target *open_etcd(void)
{
	struct go_target *gt;
	char err[512] = "";

	if (access(ETCD_PATH, R_OK) != 0)
		fail_msg("needs Debian's etcd at %s (etcd-server, in the Makefile's DEB_PKGS)", ETCD_PATH);
	assert_int_equal(go_target_open(ETCD_PATH, &gt, err, sizeof(err)), 0);
	assert_non_null(gt);
	return gt;
}

static void test_etcd(void **state)
{
	struct go_target *gt = open_etcd();
	char err[512] = "";

	(void)state;
	assert_non_null(strstr(go_target_offsets_source(gt), "etcd 3.4.23"));
	assert_int_equal(go_target_check(gt, GO_TARGET_SUBSYS, err, sizeof(err)), 0);
	/* every site, in order, and how the kernel handles it: none is single-stepped */
	for (size_t i = 0;; i++) {
		struct go_target_site s;

		if (go_target_site_at(gt, i, &s)) {
			assert_int_equal(i, sizeof(sites) / sizeof(sites[0]));
			break;
		}
		assert_true(i < sizeof(sites) / sizeof(sites[0]));
		assert_int_equal(s.sub, sites[i].sub);
		assert_string_equal(s.func, sites[i].func);
		assert_string_equal(s.kind, sites[i].kind);
		assert_string_equal(s.kernel, sites[i].kernel);
	}
	assert_int_equal(go_target_check(gt, 1u << SUBSYS_AUTH, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "subsystem auth is not available for Go targets "
				 "(they have grpc, storage, mvcc, raft, lease and watch)");
	go_target_free(gt);
}

/* The calls' table: whole sets of 4, a power of two of them, at most 2^18. */
static void test_max_calls(void **state)
{
	static const struct {
		uint32_t max_calls, slots;
	} cases[] = {
		{ 1, 4 }, { 4, 4 }, { 5, 8 }, { 9, 16 }, { 16384, 16384 }, { 16385, 32768 },
		{ 1048576, 1048576 }, { 1048577, 1048576 }, { UINT32_MAX, 1048576 },
	};
	struct go_target *gt = open_etcd();

	(void)state;
	assert_int_equal(go_target_call_slots(gt), 16384); /* the default */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		go_target_set_max_calls(gt, cases[i].max_calls);
		assert_int_equal(go_target_call_slots(gt), cases[i].slots);
	}
	go_target_free(gt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_go),
		cmocka_unit_test(test_other_go_program),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_max_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
