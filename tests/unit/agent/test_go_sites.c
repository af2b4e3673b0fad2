/* Unit tests for go_sites: stack-check branches and call sites in Go programs and Debian's etcd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "elf_sym.h"
#include "go_sites.h"
#include "gopclntab.h"

#ifndef GO_TEST_DIR
#error "GO_TEST_DIR: the folder of the Go test programs (tests/unit/agent/go/go.mk)"
#endif

#define ETCD_PATH "/usr/bin/etcd"
/* Debian bookworm's etcd-server 3.4.23-4+b4: the offsets below were read off its code with
 * objdump at the addresses the table gives. */
#define ETCD_BUILD_ID "1c7d76a9f3bb327ea515919c8180a9a16b51ca91"

/* Where the jbe sits in each prologue form of tests/unit/agent/go/target.go. */
static const struct {
	const char *func;
	uint64_t jbe_off;
} prologues[] = {
	{ "main.probeSmall", 4 },   /* cmp; jbe */
	{ "main.probeMedium", 12 }, /* lea d32; cmp; jbe */
	{ "main.probeLarge", 20 },  /* mov; sub; jb rel32; cmp; jbe */
};

static void check_program(const char *path)
{
	struct go_call_site calls[2];
	struct elf_sym_info sym;
	struct gopclntab *t;
	struct elf_syms *es;
	struct go_site site;
	char err[256] = "";

	assert_int_equal(gopclntab_open(path, &t), 0);
	assert_int_equal(elf_syms_open(path, &es), 0);
	for (size_t i = 0; i < sizeof(prologues) / sizeof(prologues[0]); i++) {
		assert_int_equal(go_site_stack_check(t, prologues[i].func, &site, err, sizeof(err)), 0);
		assert_int_equal(elf_syms_lookup(es, prologues[i].func, &sym), 0);
		assert_int_equal(site.addr, sym.addr + prologues[i].jbe_off);
		assert_int_equal(site.offset, sym.offset + prologues[i].jbe_off);
		assert_int_equal(site.cls, GO_SITE_EMULATED);
	}
	/* A leaf function has no stack check: refused, with the reason. */
	assert_int_equal(go_site_stack_check(t, "main.probeLeaf", &site, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "main.probeLeaf: prologue at 0x"));
	assert_non_null(strstr(err, "is not a Go stack check"));
	assert_int_equal(go_site_stack_check(t, "main.noSuch", &site, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "main.noSuch: no such function");

	/* main.main calls probeSmall once. */
	assert_int_equal(go_site_calls(t, "main.main", "main.probeSmall", calls, 1, err, sizeof(err)),
			 0);
	assert_int_equal(calls[0].call.cls, GO_SITE_EMULATED);
	assert_int_equal(calls[0].after.addr, calls[0].call.addr + 5);
	assert_int_equal(elf_syms_lookup(es, "main.main", &sym), 0);
	assert_true(calls[0].call.addr > sym.addr);
	assert_int_equal(calls[0].call.offset - sym.offset, calls[0].call.addr - sym.addr);
	assert_int_equal(go_site_calls(t, "main.main", "main.probeSmall", calls, 2, err, sizeof(err)),
			 -ENOEXEC);
	assert_string_equal(err, "main.main: 1 calls to main.probeSmall, expected 2");
	assert_int_equal(go_site_calls(t, "main.probeLeaf", "main.probeSmall", calls, 1, err,
				       sizeof(err)), -ENOEXEC);
	elf_syms_free(es);
	gopclntab_free(t);
}

static void test_internal_link(void **state)
{
	(void)state;
	check_program(GO_TEST_DIR "/target_internal");
}

static void test_external_link(void **state)
{
	(void)state;
	check_program(GO_TEST_DIR "/target_external");
}

static void test_etcd(void **state)
{
	static const struct {
		const char *func;
		uint64_t jbe_off;
	} stack_checks[] = {
		{ "google.golang.org/grpc.(*Server).handleStream", 12 },
		{ "google.golang.org/grpc.(*Server).serveStreams.func1.2.1", 4 },
		{ "google.golang.org/grpc/internal/transport.(*http2Server).WriteStatus", 12 },
	};
	static const struct {
		const char *caller, *callee;
		uint64_t call_off;
	} calls[] = {
		{ "go.etcd.io/etcd/wal.(*WAL).sync", "go.etcd.io/etcd/pkg/fileutil.Fdatasync", 0xa1 },
		{ "go.etcd.io/etcd/mvcc/backend.(*batchTx).commit", "go.etcd.io/bbolt.(*Tx).Commit",
		  0x86 },
	};
	/* the first instruction after the call the kernel does not single-step (objdump) */
	static const struct {
		const char *caller, *callee;
		uint64_t site_off;
		enum go_site_class cls;
		int32_t slot;
	} afters[] = {
		/* nop (0x90) after two spills and three loads: the error's type in 0x68(%rsp) */
		{ "go.etcd.io/etcd/wal.(*WAL).sync", "go.etcd.io/etcd/pkg/fileutil.Fdatasync", 0xbf,
		  GO_SITE_EMULATED, 0x68 },
		/* nopl 0x0(%rax,%rax,1) (nop5), RAX untouched on the way */
		{ "go.etcd.io/etcd/mvcc/backend.(*batchTx).commit", "go.etcd.io/bbolt.(*Tx).Commit",
		  0xbb, GO_SITE_NOP5, -1 },
		/* test %al,%al; je */
		{ "go.etcd.io/etcd/mvcc.(*store).compact.func1",
		  "go.etcd.io/etcd/mvcc.(*store).scheduleCompaction", 0xea, GO_SITE_EMULATED, -1 },
	};
	struct gopclntab_func f;
	struct go_after_site as;
	struct go_timed_site ts;
	struct go_call_site cs;
	struct gopclntab *t;
	struct go_site site;
	char err[256];

	(void)state;
	if (access(ETCD_PATH, R_OK) != 0)
		fail_msg("needs Debian's etcd at %s (etcd-server, in the Makefile's DEB_PKGS)", ETCD_PATH);
	assert_int_equal(gopclntab_open(ETCD_PATH, &t), 0);
	if (strcmp(gopclntab_build_id(t), ETCD_BUILD_ID) != 0) {
		gopclntab_free(t);
		/* another etcd build: the offsets below are this one's */
		print_message("%s is not etcd 3.4.23 of Debian bookworm: skipped\n", ETCD_PATH);
		skip();
	}
	for (size_t i = 0; i < sizeof(stack_checks) / sizeof(stack_checks[0]); i++) {
		assert_int_equal(go_site_stack_check(t, stack_checks[i].func, &site, err, sizeof(err)),
				 0);
		assert_int_equal(gopclntab_lookup(t, stack_checks[i].func, &f), 0);
		assert_int_equal(site.addr - f.entry, stack_checks[i].jbe_off);
		assert_int_equal(site.cls, GO_SITE_EMULATED);
	}
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		assert_int_equal(go_site_calls(t, calls[i].caller, calls[i].callee, &cs, 1, err,
					       sizeof(err)), 0);
		assert_int_equal(gopclntab_lookup(t, calls[i].caller, &f), 0);
		assert_int_equal(cs.call.addr - f.entry, calls[i].call_off);
		assert_int_equal(cs.call.cls, GO_SITE_EMULATED);
	}
	for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
		assert_int_equal(go_site_after_call(t, afters[i].caller, afters[i].callee, &as, err,
						    sizeof(err)), 0);
		assert_int_equal(gopclntab_lookup(t, afters[i].caller, &f), 0);
		assert_int_equal(as.site.addr - f.entry, afters[i].site_off);
		assert_int_equal(as.site.cls, afters[i].cls);
		assert_int_equal(as.result_slot, afters[i].slot);
	}
	/* the jle after `took := time.Since(start)`: took in RAX, Fdatasync's error kept in
	 * 0x68(%rsp), past the 24 bytes of time.Since's arguments (its spill area) */
	assert_int_equal(go_site_timed(t, "go.etcd.io/etcd/wal.(*WAL).sync",
				       "go.etcd.io/etcd/pkg/fileutil.Fdatasync", "time.Since", &ts,
				       err, sizeof(err)), 0);
	assert_int_equal(gopclntab_lookup(t, "go.etcd.io/etcd/wal.(*WAL).sync", &f), 0);
	assert_int_equal(ts.site.addr - f.entry, 0xcb);
	assert_int_equal(ts.site.cls, GO_SITE_EMULATED);
	assert_int_equal(ts.result_slot, 0x68);
	assert_int_equal(ts.duration_slot, -1);
	assert_int_equal(gopclntab_lookup(t, "time.Since", &f), 0);
	assert_int_equal(f.args, 24);
	/* backend commit: its time.Since result goes straight into the arithmetic of an inlined
	 * Duration.Seconds, which the walk does not step over: refused, in one line */
	assert_int_equal(go_site_timed(t, "go.etcd.io/etcd/mvcc/backend.(*batchTx).commit",
				       "go.etcd.io/bbolt.(*Tx).Commit", "time.Since", &ts, err,
				       sizeof(err)), -ENOEXEC);
	assert_string_equal(err, "go.etcd.io/etcd/mvcc/backend.(*batchTx).commit: no emulated "
				 "instruction after the call to time.Since at 0x9054ec with its "
				 "result still known");
	gopclntab_free(t);
}

static void test_classify(void **state)
{
	static const struct {
		uint8_t insn[6];
		enum go_site_class cls;
	} cases[] = {
		{ { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, GO_SITE_NOP5 },
		{ { 0x76, 0x2a }, GO_SITE_EMULATED },                         /* jbe rel8 */
		{ { 0x0f, 0x86, 0x7d, 0x03, 0x00, 0x00 }, GO_SITE_EMULATED }, /* jbe rel32 */
		{ { 0xe8, 0x95, 0xaf, 0x94, 0xff }, GO_SITE_EMULATED },       /* call */
		{ { 0x55 }, GO_SITE_EMULATED },                               /* push %rbp */
		{ { 0x41, 0x54 }, GO_SITE_EMULATED },                         /* push %r12 */
		{ { 0x49, 0x3b, 0x66, 0x10 }, GO_SITE_STEPPED },             /* cmp 0x10(%r14),%rsp */
		{ { 0x48, 0x89, 0x44, 0x24, 0x30 }, GO_SITE_STEPPED },       /* mov %rax,0x30(%rsp) */
		{ { 0x0f, 0x1f, 0x00 }, GO_SITE_STEPPED },                   /* nopl (%rax) */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(go_site_classify(cases[i].insn), cases[i].cls);
}

/* The walk from a return address to the first instruction the kernel emulates, and where
 * the callee's RAX is by then. */
static void test_walk(void **state)
{
	static const struct {
		const char *what;
		uint8_t code[56];
		size_t len;
		int at;
		int32_t slot;
	} cases[] = {
		{ "wal.(*WAL).sync: spills, RAX reloaded, 1-byte nop",
		  { 0x48, 0x89, 0x44, 0x24, 0x68, 0x48, 0x89, 0x5c, 0x24, 0x58, 0x48, 0x8b, 0x4c,
		    0x24, 0x70, 0x48, 0x8b, 0x44, 0x24, 0x48, 0x48, 0x8b, 0x5c, 0x24, 0x40, 0x90 },
		  26, 25, 0x68 },
		{ "backend.(*batchTx).commit: disp32 spill, loads, test, add, lea, nopw, nop5",
		  { 0x48, 0x89, 0x44, 0x24, 0x30, 0x48, 0x89, 0x9c, 0x24, 0x68, 0x01, 0x00, 0x00,
		    0x48, 0x8b, 0x8c, 0x24, 0x20, 0x02, 0x00, 0x00, 0x48, 0x8b, 0x71, 0x08, 0x84,
		    0x06, 0x48, 0x83, 0xc6, 0x58, 0x48, 0x8d, 0xbc, 0x24, 0x08, 0x01, 0x00, 0x00,
		    0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00,
		    0x00 },
		  53, 48, -1 },
		{ "test %al,%al; je", { 0x84, 0xc0, 0x74, 0x15 }, 4, 2, -1 },
		{ "wal.(*WAL).sync after time.Since: cmp $0x3b9aca00,%rax; jle",
		  { 0x48, 0x3d, 0x00, 0xca, 0x9a, 0x3b, 0x0f, 0x8e, 0x1e, 0x02, 0x00, 0x00 }, 12, 6,
		  -1 },
		{ "cmp $1,%al; je", { 0x3c, 0x01, 0x74, 0x00 }, 4, 2, -1 },
		{ "the site itself: a call", { 0xe8, 0x00, 0x00, 0x00, 0x00 }, 5, 0, -1 },
		{ "cmp $8,%rbx (group 1, /7); jmp", { 0x48, 0x83, 0xfb, 0x08, 0xeb, 0x00 }, 6, 4, -1 },
		{ "RAX reloaded with no spill", { 0x48, 0x8b, 0x44, 0x24, 0x48, 0x90 }, 6, -1, 0 },
		{ "the spill slot overwritten",
		  { 0x48, 0x89, 0x44, 0x24, 0x30, 0x48, 0x8b, 0x44, 0x24, 0x48, 0x48, 0x89, 0x5c,
		    0x24, 0x34, 0x90 },
		  16, -1, 0 },
		{ "a store not to the frame: mov %rax,0x8(%rcx)", { 0x48, 0x89, 0x41, 0x08, 0x90 },
		  5, -1, 0 },
		{ "a store through R12, not RSP: mov %rax,0x8(%r12)",
		  { 0x49, 0x89, 0x44, 0x24, 0x08, 0x90 }, 6, -1, 0 },
		{ "a store of R12 to the frame: mov %r12,0x8(%rsp)",
		  { 0x4c, 0x89, 0x64, 0x24, 0x08, 0x90 }, 6, 5, -1 },
		{ "RSP written: sub $0x10,%rsp", { 0x48, 0x83, 0xec, 0x10, 0x90 }, 5, -1, 0 },
		{ "add %rax,%rbx: not an instruction the walk knows", { 0x48, 0x01, 0xc3, 0x90 }, 4,
		  -1, 0 },
		{ "more than 16 instructions",
		  { 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48,
		    0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85,
		    0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0,
		    0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x48, 0x85, 0xc0, 0x90 },
		  52, -1, 0 },
		{ "the function ends first", { 0x48, 0x85, 0xc0 }, 3, -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t code[sizeof(cases[i].code) + 8];
		int32_t slot = 12345;
		int at;

		/* int3 past the case's bytes, as read_func pads a function */
		memset(code, 0xcc, sizeof(code));
		memcpy(code, cases[i].code, cases[i].len);
		at = go_site_walk(code, cases[i].len + 5, &slot);
		assert_int_equal(at, cases[i].at);
		if (at >= 0)
			assert_int_equal(slot, cases[i].slot);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_internal_link),
		cmocka_unit_test(test_external_link),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
