/* Unit tests for go_offsets: DWARF field offsets, the build-ID table checked against Debian etcd's code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "go_offsets.h"
#include "gopclntab.h"

#ifndef GO_TEST_DIR
#error "GO_TEST_DIR: the folder of the Go test programs (tests/unit/agent/go/go.mk)"
#endif

#define ETCD_PATH "/usr/bin/etcd"
#define ETCD_BUILD_ID "1c7d76a9f3bb327ea515919c8180a9a16b51ca91"
#define TARGET GO_TEST_DIR "/target_external"

/* main.probeRecord of target.go, and runtime.g, whose stackguard0 every prologue compares
 * RSP with at 0x10(%r14). */
static void test_dwarf_fields(void **state)
{
	static const char *const types[] = { "main.probeRecord", "main.probeRecord",
					     "main.probeRecord", "main.probeRecord",
					     "runtime.g" };
	static const char *const fields[] = { "kind", "seq", "name", "code", "stackguard0" };
	static const uint32_t want[] = { 0, 8, 16, 32, 16 };
	static const char *const bad_types[] = { "main.probeRecord", "main.noSuchType" };
	static const char *const bad_fields[] = { "kind", "x" };
	uint32_t off[5];
	char err[256];

	(void)state;
	assert_int_equal(go_dwarf_field_offsets(TARGET, types, fields, 5, off, err, sizeof(err)), 0);
	assert_memory_equal(off, want, sizeof(want));
	assert_int_equal(go_dwarf_field_offsets(TARGET, bad_types, bad_fields, 2, off, err,
						sizeof(err)), -ENOENT);
	assert_string_equal(err, TARGET ": DWARF has no field main.noSuchType.x");
	/* The program has DWARF but none of etcd's types: refused, naming the first field. */
	assert_int_equal(go_offsets_from_dwarf(TARGET, &(struct go_offsets){ 0 }, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, TARGET ": DWARF has no field "
				     "google.golang.org/grpc/internal/transport.Stream.method");
}

/* A Go binary with neither DWARF nor a known build ID: one line saying both. */
static void test_unknown_build(void **state)
{
	char tmpl[] = "/tmp/go_offsets_test.XXXXXX";
	char cmd[512], err[512], want[512];
	struct go_offsets off;
	struct gopclntab *t;
	const char *source;
	int fd;

	(void)state;
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "strip -o %s %s", tmpl, TARGET);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(gopclntab_open(tmpl, &t), 0);
	assert_int_equal(go_offsets_from_dwarf(tmpl, &off, err, sizeof(err)), -ENODATA);
	assert_int_equal(go_offsets_resolve(tmpl, t, &off, &source, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want),
		 "%s: no DWARF and build ID %s is not in the offsets table "
		 "(tools/go_offsets/gen_etcd_offsets.sh adds a build)",
		 tmpl, gopclntab_build_id(t));
	assert_string_equal(err, want);
	assert_null(go_offsets_known(""));
	gopclntab_free(t);
	unlink(tmpl);
}

/* The displacement of the instruction `prefix` at `off` bytes into function `func`. */
static uint32_t disp_in(const struct gopclntab *t, const char *func, size_t off,
			const uint8_t *prefix, size_t plen, size_t dlen)
{
	struct gopclntab_func f;
	uint8_t code[16] = { 0 };
	uint32_t d = 0;

	assert_int_equal(gopclntab_lookup(t, func, &f), 0);
	assert_int_equal(gopclntab_read_code(t, f.entry + off, code, plen + dlen), 0);
	assert_memory_equal(code, prefix, plen);
	for (size_t i = 0; i < dlen; i++)
		d |= (uint32_t)code[plen + i] << (8 * i);
	return d;
}

/* The table's offsets for Debian's etcd are what its own getters load. */
static void test_etcd_table(void **state)
{
	static const uint8_t mov_rax_d32_rax[] = { 0x48, 0x8b, 0x80 }; /* mov d32(%rax),%rax */
	static const uint8_t mov_rax_d8_rcx[] = { 0x48, 0x8b, 0x48 };  /* mov d8(%rax),%rcx */
	static const uint8_t mov_rax_d8_rbx[] = { 0x48, 0x8b, 0x58 };  /* mov d8(%rax),%rbx */
	static const uint8_t mov_0rax_rcx[] = { 0x48, 0x8b, 0x08 };    /* mov (%rax),%rcx */
	static const uint8_t mov_0rcx_eax[] = { 0x8b, 0x01 };          /* mov (%rcx),%eax */
	static const uint8_t mov_rax_d8_rax[] = { 0x48, 0x8b, 0x40 };  /* mov d8(%rax),%rax */
	static const uint8_t mov_rax_d32_rcx[] = { 0x48, 0x8b, 0x88 }; /* mov d32(%rax),%rcx */
	static const uint8_t mov_rax_d32_rbx[] = { 0x48, 0x8b, 0x98 }; /* mov d32(%rax),%rbx */
	static const uint8_t mov_rdx_d8_rcx[] = { 0x48, 0x8b, 0x4a };  /* mov d8(%rdx),%rcx */
	const struct go_offsets_build *b;
	struct go_offsets off;
	struct gopclntab *t;
	const char *source;
	char err[512];

	(void)state;
	b = go_offsets_known(ETCD_BUILD_ID);
	assert_non_null(b);
	if (access(ETCD_PATH, R_OK) != 0)
		fail_msg("needs Debian's etcd at %s (etcd-server, in the Makefile's DEB_PKGS)", ETCD_PATH);
	assert_int_equal(gopclntab_open(ETCD_PATH, &t), 0);
	if (strcmp(gopclntab_build_id(t), ETCD_BUILD_ID) != 0) {
		gopclntab_free(t);
		print_message("%s is not etcd 3.4.23 of Debian bookworm: skipped\n", ETCD_PATH);
		skip();
	}
	assert_int_equal(go_offsets_resolve(ETCD_PATH, t, &off, &source, err, sizeof(err)), 0);
	assert_string_equal(source, b->what);
	assert_memory_equal(&off, &b->offsets, sizeof(off));
	/* func (s *EtcdServer) ID() types.ID { return s.id } */
	assert_int_equal(disp_in(t, "go.etcd.io/etcd/etcdserver.(*EtcdServer).ID", 0,
				 mov_rax_d32_rax, 3, 4), off.off[GO_OFF_SERVER_ID]);
	/* func (s *Stream) Method() string { return s.method }: pointer, then length */
	assert_int_equal(disp_in(t, "google.golang.org/grpc/internal/transport.(*Stream).Method", 0,
				 mov_rax_d8_rcx, 3, 1), off.off[GO_OFF_STREAM_METHOD]);
	assert_int_equal(disp_in(t, "google.golang.org/grpc/internal/transport.(*Stream).Method", 4,
				 mov_rax_d8_rbx, 3, 1), off.off[GO_OFF_STREAM_METHOD] + 8);
	/* func (s *EtcdServer) AppliedIndex() uint64 { return s.getAppliedIndex() } */
	assert_int_equal(disp_in(t, "go.etcd.io/etcd/etcdserver.(*EtcdServer).AppliedIndex", 0,
				 mov_rax_d8_rax, 3, 1), off.off[GO_OFF_SERVER_APPLIED_INDEX]);
	/* func (s *EtcdServer) KV() mvcc.ConsistentWatchableKV { return s.kv }: both words */
	assert_int_equal(disp_in(t, "go.etcd.io/etcd/etcdserver.(*EtcdServer).KV", 0,
				 mov_rax_d32_rcx, 3, 4), off.off[GO_OFF_SERVER_KV]);
	assert_int_equal(disp_in(t, "go.etcd.io/etcd/etcdserver.(*EtcdServer).KV", 7,
				 mov_rax_d32_rbx, 3, 4), off.off[GO_OFF_SERVER_KV] + 8);
	/* s.r.ReportUnreachable(id) loads s.r.Node's type word; (*raftNode).tick loads r.Node's:
	 * the difference is where the raftNode sits in the EtcdServer */
	assert_int_equal(disp_in(t, "go.etcd.io/etcd/etcdserver.(*EtcdServer).ReportUnreachable",
				 0x14, mov_rax_d8_rcx, 3, 1) -
				 disp_in(t, "go.etcd.io/etcd/etcdserver.(*raftNode).tick", 0x3f,
					 mov_rdx_d8_rcx, 3, 1),
			 off.off[GO_OFF_SERVER_RAFT_NODE]);
	/* func (s *Status) Code() codes.Code { ... return codes.Code(s.s.Code) } */
	assert_int_equal(off.off[GO_OFF_STATUS_PROTO], 0);
	assert_int_equal(off.off[GO_OFF_PROTO_STATUS_CODE], 0);
	disp_in(t, "google.golang.org/grpc/internal/status.(*Status).Code", 5, mov_0rax_rcx, 3, 0);
	disp_in(t, "google.golang.org/grpc/internal/status.(*Status).Code", 13, mov_0rcx_eax, 2, 0);
	gopclntab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dwarf_fields),
		cmocka_unit_test(test_unknown_build),
		cmocka_unit_test(test_etcd_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
