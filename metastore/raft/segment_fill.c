/* Log segments preallocated as zeroed, written blocks (segment_fill.h). */
#include "raft/segment_fill.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Zeros written per call: large enough that a 64 MiB segment takes 16 durable writes. */
#define FILL_CHUNK ((size_t)4 << 20)
/* Direct I/O needs offsets, lengths and the buffer aligned to the logical block size;
 * 4096 covers every block size libraft accepts. */
#define FILL_ALIGN 4096u

static int allocate(int fd, off_t off, off_t len)
{
	while (fallocate(fd, 0, off, len) != 0) {
		if (errno == EINTR)
			continue;
		/* a file system without fallocate: the zeros below allocate instead */
		return errno == EOPNOTSUPP ? 0 : -errno;
	}
	return 0;
}

/* pwrite of zeros over [off, off + len); a short direct write would leave the next one
 * misaligned, so it ends the fill as an I/O error. */
static int write_zeros(int fd, const uint8_t *zeros, size_t chunk, off_t off, off_t len,
		       bool direct)
{
	while (len > 0) {
		size_t n = (uint64_t)len < chunk ? (size_t)len : chunk;
		ssize_t w = pwrite(fd, zeros, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0 || (direct && (size_t)w != n))
			return -EIO;
		off += w;
		len -= w;
	}
	return 0;
}

int ms_segment_fill(int fd, off_t off, off_t len)
{
	struct statfs sfs;
	struct stat st;
	uint8_t *zeros = NULL;
	off_t from, end;
	size_t chunk;
	bool direct = false;
	int fl, err;

	if (off < 0 || len <= 0 || off > INT64_MAX - len)
		return -EINVAL;
	if (fstat(fd, &st) != 0)
		return -errno;
	err = allocate(fd, off, len);
	if (err)
		return err;
	/* posix_fallocate leaves the bytes the file held alone: zeros go only past its old
	 * end (what reads as zeros anyway), which for libraft is all of a new segment */
	end = off + len;
	from = off > st.st_size ? off : st.st_size;
	if (from >= end || (fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC))
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	chunk = (uint64_t)(end - from) < FILL_CHUNK
			? ((size_t)(end - from) + FILL_ALIGN - 1) & ~(size_t)(FILL_ALIGN - 1)
			: FILL_CHUNK;
	zeros = aligned_alloc(FILL_ALIGN, chunk);
	if (!zeros)
		return -ENOMEM;
	memset(zeros, 0, chunk);
	/* direct: no page cache left over the range, where it would make the appends'
	 * RWF_NOWAIT direct writes fail with EAGAIN */
	if (from % FILL_ALIGN == 0 && end % FILL_ALIGN == 0)
		direct = (fl & O_DIRECT) || fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	err = write_zeros(fd, zeros, chunk, from, end - from, direct);
	if (!err && (fl & O_DSYNC) != O_DSYNC && fdatasync(fd) != 0)
		err = -errno;
	if (!err && !direct)
		err = -posix_fadvise(fd, from, end - from, POSIX_FADV_DONTNEED);
	if (direct && !(fl & O_DIRECT) && fcntl(fd, F_SETFL, fl) != 0 && !err)
		err = -errno;
	free(zeros);
	return err;
}
