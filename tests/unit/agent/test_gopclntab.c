/* Unit tests for gopclntab: Go function tables against the symbol table, and on Debian's etcd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "elf_sym.h"
#include "gopclntab.h"

#ifndef GO_TEST_DIR
#error "GO_TEST_DIR: the folder of the Go test programs (tests/unit/agent/go/go.mk)"
#endif

/* Debian bookworm's etcd-server 3.4.23-4+b4 (no .symtab, no DWARF). */
#define ETCD_PATH "/usr/bin/etcd"
#define ETCD_TEXT_SCN 0x4022e0ull

/* Every function of the table is also in the binary's .symtab at the same address, and
 * the table is sorted with each function ending where the next begins. */
static void check_against_symtab(const char *path, uint64_t *text_start)
{
	struct gopclntab *t;
	struct elf_syms *es;
	struct elf_sym_info sym;
	struct gopclntab_func f, prev = { 0 };
	uint32_t matched = 0, elided = 0;
	char abi0[512];

	assert_int_equal(gopclntab_open(path, &t), 0);
	assert_int_equal(elf_syms_open(path, &es), 0);
	assert_false(elf_syms_stripped(es));
	assert_int_equal(gopclntab_format(t), 118);
	assert_true(gopclntab_count(t) > 1000);
	for (uint32_t i = 0; i < gopclntab_count(t); i++) {
		assert_int_equal(gopclntab_func_at(t, i, &f), 0);
		assert_true(f.entry < f.end);
		if (i)
			assert_true(prev.end == f.entry);
		prev = f;
		/* An assembly function is NAME.abi0 in the symbol table; one with an ABIInternal
		 * wrapper shares its table name with the wrapper. */
		snprintf(abi0, sizeof(abi0), "%s.abi0", f.name);
		if ((elf_syms_lookup(es, f.name, &sym) == 0 && sym.addr == f.entry) ||
		    (elf_syms_lookup(es, abi0, &sym) == 0 && sym.addr == f.entry))
			matched++;
		else if (strncmp(f.name, "type..eq.", 9) == 0 && strstr(f.name, "[...]"))
			elided++; /* the table elides array lengths in generated equality names */
		else
			print_message("%s at %#lx: not in .symtab there\n", f.name,
				      (unsigned long)f.entry);
	}
	assert_int_equal(matched + elided, gopclntab_count(t));
	assert_true(elided < 8);
	assert_int_equal(gopclntab_lookup(t, "runtime.reflectcall", &f), -ENOTUNIQ);
	assert_int_equal(elf_syms_lookup(es, "runtime.text", &sym), 0);
	assert_int_equal(gopclntab_text_start(t), sym.addr);
	*text_start = gopclntab_text_start(t);

	for (size_t i = 0; i < 4; i++) {
		static const char *const names[] = { "main.probeSmall", "main.probeMedium",
						     "main.probeLarge", "main.probeLeaf" };
		uint64_t off;

		assert_int_equal(gopclntab_lookup(t, names[i], &f), 0);
		assert_int_equal(elf_syms_lookup(es, names[i], &sym), 0);
		assert_int_equal(f.entry, sym.addr);
		assert_int_equal(gopclntab_file_offset(t, f.entry, &off), 0);
		assert_int_equal(off, sym.offset);
	}
	assert_int_equal(gopclntab_lookup(t, "main.noSuchFunction", &f), -ENOENT);
	elf_syms_free(es);
	gopclntab_free(t);
}

static void test_internal_link(void **state)
{
	uint64_t text_start;

	(void)state;
	check_against_symtab(GO_TEST_DIR "/target_internal", &text_start);
}

/* The external linker puts C start-up code first: the Go text starts past .text. */
static void test_external_link(void **state)
{
	uint64_t text_start;

	(void)state;
	check_against_symtab(GO_TEST_DIR "/target_external", &text_start);
	assert_true(text_start > 0);
}

static void test_etcd(void **state)
{
	/* lea -N(%rsp),%r12: a frame of more than 128 bytes, checked through R12 */
	static const uint8_t lea_r12[4] = { 0x4c, 0x8d, 0xa4, 0x24 };
	struct gopclntab_func f;
	struct gopclntab *t;
	uint8_t code[4];

	(void)state;
	if (access(ETCD_PATH, R_OK) != 0)
		fail_msg("needs Debian's etcd at %s (etcd-server, in the Makefile's DEB_PKGS)", ETCD_PATH);
	assert_int_equal(gopclntab_open(ETCD_PATH, &t), 0);
	assert_int_equal(gopclntab_format(t), 118);
	assert_string_equal(gopclntab_build_id(t), "1c7d76a9f3bb327ea515919c8180a9a16b51ca91");
	/* Debian's etcd is externally linked: C code takes the first 0x100 bytes of .text. */
	assert_int_equal(gopclntab_text_start(t), ETCD_TEXT_SCN + 0x100);
	assert_int_equal(gopclntab_lookup(t, "google.golang.org/grpc.(*Server).handleStream", &f), 0);
	assert_int_equal(gopclntab_read_code(t, f.entry, code, sizeof(code)), 0);
	assert_memory_equal(code, lea_r12, sizeof(lea_r12));
	gopclntab_free(t);
}

static void test_open_errors(void **state)
{
	char tmpl[] = "/tmp/gopclntab_test.XXXXXX";
	char self[4096];
	struct gopclntab *t = (void *)1;
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(gopclntab_open("/nonexistent/binary", &t), -ENOENT);
	assert_null(t);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(gopclntab_open(tmpl, &t), -ENOEXEC);
	unlink(tmpl);
	/* This test is C: an ELF with no .gopclntab. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(gopclntab_open(self, &t), -ENODATA);
	/* The Go programs are linked with a GNU build ID only externally. */
	assert_int_equal(gopclntab_open(GO_TEST_DIR "/target_external", &t), 0);
	assert_int_equal(strlen(gopclntab_build_id(t)), 40);
	gopclntab_free(t);
	gopclntab_free(NULL);
}

/* File offset of the .gopclntab section of `path`. */
static long pclntab_offset(const char *path)
{
	char cmd[512];
	long scn = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -SW %s | awk '$2 == \".gopclntab\" { print $5 }'",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%lx", &scn), 1);
	assert_int_equal(pclose(p), 0);
	return scn;
}

/* Writes a copy of `src` with `len` bytes at `off` bytes into its .gopclntab replaced. */
static void corrupt_copy(const char *src, const char *dst, long off, const void *bytes, size_t len)
{
	char cmd[1024];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cp %s %s", src, dst);
	assert_int_equal(system(cmd), 0);
	f = fopen(dst, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, pclntab_offset(dst) + off, SEEK_SET), 0);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
}

/* A table whose header or records point outside it is refused, never read past its end. */
static void test_corrupt_tables(void **state)
{
	static const uint8_t old_magic[4] = { 0xfa, 0xff, 0xff, 0xff };        /* Go 1.16/1.17 */
	static const uint8_t huge[8] = { 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0 }; /* nfunc */
	static const uint8_t far[8] = { 0, 0, 0, 0x40, 0, 0, 0, 0 };           /* pclnOffset */
	static const uint8_t bad_rec[4] = { 0xff, 0xff, 0xff, 0x7f };          /* a funcoff */
	const char *src = GO_TEST_DIR "/target_external";
	char dst[] = "/tmp/gopclntab_corrupt.XXXXXX";
	struct gopclntab_func f;
	struct gopclntab *t;
	uint64_t pcln = 0;
	int fd = mkstemp(dst);
	FILE *in;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	corrupt_copy(src, dst, 0, old_magic, sizeof(old_magic));
	assert_int_equal(gopclntab_open(dst, &t), -EPROTO);
	corrupt_copy(src, dst, 8, huge, sizeof(huge));
	assert_int_equal(gopclntab_open(dst, &t), -EPROTO);
	corrupt_copy(src, dst, 8 + 7 * 8, far, sizeof(far));
	assert_int_equal(gopclntab_open(dst, &t), -EPROTO);
	/* function 3's record offset (the second word of functab entry 3) beyond the table */
	in = fopen(src, "rb");
	assert_non_null(in);
	assert_int_equal(fseek(in, pclntab_offset(src) + 8 + 7 * 8, SEEK_SET), 0);
	assert_int_equal(fread(&pcln, sizeof(pcln), 1, in), 1);
	fclose(in);
	corrupt_copy(src, dst, (long)pcln + 3 * 8 + 4, bad_rec, sizeof(bad_rec));
	assert_int_equal(gopclntab_open(dst, &t), 0);
	assert_int_equal(gopclntab_func_at(t, 2, &f), 0);
	assert_int_equal(gopclntab_func_at(t, 3, &f), -EPROTO);
	assert_int_equal(gopclntab_func_at(t, gopclntab_count(t), &f), -EPROTO);
	gopclntab_free(t);
	unlink(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_internal_link),
		cmocka_unit_test(test_external_link),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_corrupt_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
