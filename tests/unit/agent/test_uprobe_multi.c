/* Unit tests for uprobe_multi: the link-create attr layout and fill, and the parallel close. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uprobe_multi.h"

/* The byte offsets the kernel's uapi gives link_create and its uprobe_multi member. */
static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct uprobe_multi_attr, prog_fd), 0);
	assert_int_equal(offsetof(struct uprobe_multi_attr, target_fd), 4);
	assert_int_equal(offsetof(struct uprobe_multi_attr, attach_type), 8);
	assert_int_equal(offsetof(struct uprobe_multi_attr, link_flags), 12);
	assert_int_equal(offsetof(struct uprobe_multi_attr, path), 16);
	assert_int_equal(offsetof(struct uprobe_multi_attr, offsets), 24);
	assert_int_equal(offsetof(struct uprobe_multi_attr, ref_ctr_offsets), 32);
	assert_int_equal(offsetof(struct uprobe_multi_attr, cookies), 40);
	assert_int_equal(offsetof(struct uprobe_multi_attr, cnt), 48);
	assert_int_equal(offsetof(struct uprobe_multi_attr, flags), 52);
	assert_int_equal(offsetof(struct uprobe_multi_attr, pid), 56);
	assert_int_equal(sizeof(struct uprobe_multi_attr), 64);
	assert_int_equal(UPROBE_MULTI_ATTACH_TYPE, 48);
}

static void test_fill_table(void **state)
{
	static const uint64_t offs[2] = { 0x1000, 0x2040 };
	static const uint64_t refs[2] = { 0x30, 0x38 };
	static const uint64_t cookies[2] = { 7, 1ull << 32 | 9 };
	static const char path[] = "/usr/bin/etcd";
	static const struct {
		int prog_fd;
		const char *path;
		const uint64_t *offs, *refs, *cookies;
		uint32_t cnt;
		int pid;
		int err;
		uint32_t want_pid;
	} cases[] = {
		{ 5, path, offs, NULL, cookies, 2, -1, 0, 0 },
		{ 5, path, offs, refs, cookies, 2, 0, 0, 0 },
		{ 9, path, offs, NULL, NULL, 1, 4321, 0, 4321 },
		{ 5, path, offs, NULL, NULL, 0, -1, -EINVAL, 0 },
		{ -1, path, offs, NULL, NULL, 1, -1, -EINVAL, 0 },
		{ 5, NULL, offs, NULL, NULL, 1, -1, -EINVAL, 0 },
		{ 5, path, NULL, NULL, NULL, 1, -1, -EINVAL, 0 },
		{ 5, path, offs, NULL, NULL, 1, -2, -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uprobe_multi_attr a, zero;
		int err;

		memset(&a, 0xa5, sizeof(a));
		memset(&zero, 0, sizeof(zero));
		err = uprobe_multi_fill(&a, cases[i].prog_fd, cases[i].path, cases[i].offs,
					cases[i].refs, cases[i].cookies, cases[i].cnt, cases[i].pid);
		assert_int_equal(err, cases[i].err);
		if (err) {
			assert_memory_equal(&a, &zero, sizeof(a));
			continue;
		}
		assert_int_equal(a.prog_fd, cases[i].prog_fd);
		assert_int_equal(a.target_fd, 0);
		assert_int_equal(a.attach_type, 48);
		assert_int_equal(a.link_flags, 0);
		assert_ptr_equal((void *)(uintptr_t)a.path, cases[i].path);
		assert_ptr_equal((void *)(uintptr_t)a.offsets, cases[i].offs);
		assert_ptr_equal((void *)(uintptr_t)a.ref_ctr_offsets, cases[i].refs);
		assert_ptr_equal((void *)(uintptr_t)a.cookies, cases[i].cookies);
		assert_int_equal(a.cnt, cases[i].cnt);
		assert_int_equal(a.flags, 0);
		assert_int_equal(a.pid, cases[i].want_pid);
		assert_int_equal(a.pad, 0);
	}
}

/* Every fd closed (fcntl then fails with EBADF) and set to -1, for counts below, at and
 * past the number of closer threads. */
static void test_close_all(void **state)
{
	static const size_t counts[] = { 0, 1, 5, UPROBE_MULTI_CLOSERS, UPROBE_MULTI_CLOSERS + 7 };

	(void)state;
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		int fds[UPROBE_MULTI_CLOSERS + 7], copy[UPROBE_MULTI_CLOSERS + 7];

		for (size_t i = 0; i < counts[c]; i++) {
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			assert_true(fds[i] >= 0);
			copy[i] = fds[i];
		}
		uprobe_multi_close_all(fds, counts[c]);
		for (size_t i = 0; i < counts[c]; i++) {
			assert_int_equal(fds[i], -1);
			assert_int_equal(fcntl(copy[i], F_GETFD), -1);
			assert_int_equal(errno, EBADF);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_fill_table),
		cmocka_unit_test(test_close_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
