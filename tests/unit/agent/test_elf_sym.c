/* Unit tests for elf_sym: symbol lookup, nop5 detection, stripped and non-ELF files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "elf_sym.h"

/* Two functions with known first bytes: one starts with the 5-byte NOP, one does not. */
__asm__(".text\n"
	".globl elf_test_nop5_fn\n.type elf_test_nop5_fn,@function\n"
	"elf_test_nop5_fn:\n.byte 0x0f,0x1f,0x44,0x00,0x00\nret\n"
	".size elf_test_nop5_fn, .-elf_test_nop5_fn\n"
	".globl elf_test_plain_fn\n.type elf_test_plain_fn,@function\n"
	"elf_test_plain_fn:\n.byte 0x90,0x90,0x90,0x90,0x90\nret\n"
	".size elf_test_plain_fn, .-elf_test_plain_fn\n");

static char self_path[4096];
/* Data objects with known contents: read-only, writable, and with no file contents (.bss). */
const uint32_t elf_test_const = 0x00020001;
uint32_t elf_test_data = 0x12345678;
uint32_t elf_test_bss;

static void test_read_u32(void **state)
{
	static const struct {
		const char *name;
		int err;
		uint32_t val;
	} cases[] = {
		{ "elf_test_const", 0, 0x00020001 },
		{ "elf_test_data", 0, 0x12345678 },
		{ "elf_test_bss", -ENOENT, 0 },
		{ "elf_test_nop5_fn", -ENOENT, 0 }, /* a function, not an object */
		{ "elf_test_no_such_object", -ENOENT, 0 },
	};
	struct elf_syms *es;

	(void)state;
	elf_test_data++; /* the file keeps the initial value */
	assert_int_equal(elf_syms_open(self_path, &es), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t v = 0;

		assert_int_equal(elf_syms_read_u32(es, cases[i].name, &v), cases[i].err);
		assert_int_equal(v, cases[i].val);
	}
	elf_syms_free(es);
}

static void test_lookup_table(void **state)
{
	static const struct {
		const char *name;
		int err;
		bool nop5;
	} cases[] = {
		{ "elf_test_nop5_fn", 0, true },
		{ "elf_test_plain_fn", 0, false },
		{ "elf_test_no_such_fn", -ENOENT, false },
		{ "self_path", -ENOENT, false }, /* an object, not a function */
	};
	struct elf_syms *es;

	(void)state;
	assert_int_equal(elf_syms_open(self_path, &es), 0);
	assert_false(elf_syms_stripped(es));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elf_sym_info info = { 0 };
		int err = elf_syms_lookup(es, cases[i].name, &info);

		assert_int_equal(err, cases[i].err);
		if (!err) {
			assert_true(info.addr != 0);
			assert_int_equal(info.nop5, cases[i].nop5);
		}
	}
	elf_syms_free(es);
}

static void test_open_errors(void **state)
{
	char tmpl[] = "/tmp/elf_sym_test.XXXXXX";
	char cmd[8300];
	struct elf_syms *es = (void *)1;
	int fd;

	(void)state;
	assert_int_equal(elf_syms_open("/nonexistent/binary", &es), -ENOENT);
	assert_null(es);

	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(elf_syms_open(tmpl, &es), -ENOEXEC);

	/* A stripped copy of this very binary has no .symtab, and .dynsym lacks our functions. */
	snprintf(cmd, sizeof(cmd), "strip -o %s %s", tmpl, self_path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(elf_syms_open(tmpl, &es), 0);
	{
		struct elf_sym_info info;

		assert_true(elf_syms_stripped(es));
		assert_int_equal(elf_syms_lookup(es, "elf_test_nop5_fn", &info), -ENOENT);
	}
	elf_syms_free(es);
	unlink(tmpl);
	elf_syms_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_table),
		cmocka_unit_test(test_read_u32),
		cmocka_unit_test(test_open_errors),
	};
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	if (n <= 0)
		return 1;
	self_path[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}
