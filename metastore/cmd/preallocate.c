/* The store's posix_fallocate: raft log segments preallocated as written, zeroed blocks. */
#include <fcntl.h>

#include "raft/segment_fill.h"

/*
 * Interposes glibc's posix_fallocate in the store process: the dynamic linker finds the
 * executable's definition first, so libraft's own call lands here (the name is libc's, not
 * a module's, for that reason). libraft is its only caller: it prepares each log segment,
 * and its I/O probe file, with it (why zeros: raft/segment_fill.h). Linked into the store
 * binary only. Returns 0 or an error number, as posix_fallocate does.
 */
int posix_fallocate(int fd, off_t offset, off_t len)
{
	return -ms_segment_fill(fd, offset, len);
}
