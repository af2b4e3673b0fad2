/* Unit tests for log segment preallocation as written blocks (metastore/raft/segment_fill.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft/segment_fill.h"

/* On the checkout's own file system (cwd): /tmp may be a tmpfs, which has no unwritten
 * extents to turn into written ones. */
static char dir[] = "segment-fill.XXXXXX";

#define MAX_EXTENTS 64

/* Bytes of [0, size) that FIEMAP maps as unwritten (preallocated, not yet written) into
 * *unwritten and as mapped at all into *mapped. */
static void extents_of(int fd, uint64_t size, uint64_t *mapped, uint64_t *unwritten)
{
	struct fiemap *fm = calloc(1, sizeof(*fm) + MAX_EXTENTS * sizeof(struct fiemap_extent));

	assert_non_null(fm);
	fm->fm_start = 0;
	fm->fm_length = size;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = MAX_EXTENTS;
	assert_int_equal(ioctl(fd, FS_IOC_FIEMAP, fm), 0);
	*mapped = *unwritten = 0;
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
		*mapped += fm->fm_extents[i].fe_length;
		if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN)
			*unwritten += fm->fm_extents[i].fe_length;
	}
	free(fm);
}

static void test_fills(void **state)
{
	static const struct {
		const char *name;
		int flags;         /* open flags besides O_RDWR | O_CREAT */
		const char *prior; /* the file's bytes before the call */
		off_t off, len;
		off_t size;        /* the file's size after it */
	} cases[] = {
		/* libraft: a new segment, O_DSYNC, aligned */
		{ "segment", O_DSYNC, "", 0, 1 << 20, 1 << 20 },
		{ "segment, already direct", O_DSYNC | O_DIRECT, "", 0, 256 << 10, 256 << 10 },
		{ "no O_DSYNC: ends with fdatasync", 0, "", 0, 64 << 10, 64 << 10 },
		/* not block-aligned: buffered zeros, page cache dropped */
		{ "unaligned range", O_DSYNC, "", 100, 5000, 5100 },
		/* posix_fallocate keeps what the file held; zeros only past its end */
		{ "prior bytes kept", 0, "hello", 0, 8192, 8192 },
		{ "range inside the file", 0, "0123456789", 2, 4, 10 },
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char path[64], *buf;
		size_t prior = strlen(cases[c].prior);
		uint64_t mapped, unwritten;
		struct stat st;
		int fd, fl;

		print_message("case %s\n", cases[c].name);
		snprintf(path, sizeof(path), "%s/f%zu", dir, c);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, cases[c].prior, prior, 0), (ssize_t)prior);
		close(fd);
		fd = open(path, O_RDWR | cases[c].flags);
		assert_true(fd >= 0);
		fl = fcntl(fd, F_GETFL);

		assert_int_equal(ms_segment_fill(fd, cases[c].off, cases[c].len), 0);
		assert_int_equal(fcntl(fd, F_GETFL), fl);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, cases[c].size);
		extents_of(fd, (uint64_t)st.st_size, &mapped, &unwritten);
		assert_int_equal(unwritten, 0);
		assert_true(mapped >= (uint64_t)st.st_size);
		close(fd);

		/* read back without O_DIRECT: the prior bytes, then zeros */
		buf = malloc((size_t)st.st_size);
		assert_non_null(buf);
		fd = open(path, O_RDONLY);
		assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
		close(fd);
		assert_memory_equal(buf, cases[c].prior, prior);
		for (off_t i = (off_t)prior; i < st.st_size; i++)
			if (buf[i]) {
				print_error("byte %lld is %d, not 0\n", (long long)i, buf[i]);
				fail();
			}
		free(buf);
		unlink(path);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *name;
		bool valid_fd;
		off_t off, len;
		int err;
	} cases[] = {
		{ "zero length", true, 0, 0, -EINVAL },
		{ "negative offset", true, -1, 4096, -EINVAL },
		{ "offset + length overflows", true, INT64_MAX - 10, 4096, -EINVAL },
		{ "closed fd", false, 0, 4096, -EBADF },
	};
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/errors", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		print_message("case %s\n", cases[c].name);
		assert_int_equal(ms_segment_fill(cases[c].valid_fd ? fd : 1000, cases[c].off,
						 cases[c].len),
				 cases[c].err);
	}
	close(fd);
	unlink(path);
}

static int setup(void **state)
{
	struct statfs sfs;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	if (statfs(dir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		/* nothing here would show the difference: say so and fail */
		fprintf(stderr, "test_segment_fill: %s is on a tmpfs, which has no unwritten "
			"extents; run it from a checkout on a disk file system\n", dir);
		rmdir(dir);
		return -1;
	}
	return 0;
}

/* Also after a failed case, which leaves its file behind. */
static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[300];

	(void)state;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
