/* Preallocation of raft log segments as written (zeroed) blocks, not unwritten extents. */
#ifndef MS_SEGMENT_FILL_H
#define MS_SEGMENT_FILL_H

#include <sys/types.h>

/*
 * Why: libraft preallocates each log segment with posix_fallocate, which on ext4 and xfs
 * leaves unwritten extents. Every O_DIRECT|O_DSYNC append into such an extent must convert
 * it and commit the journal before it completes, and io_submit with RWF_NOWAIT refuses it
 * (EAGAIN), so libraft hands each append to its thread pool. Writing zeros over the range
 * once, when the segment is prepared (on a libraft worker thread, ahead of use), turns those
 * appends into plain data writes.
 *
 * Allocates [off, off + len) of fd like posix_fallocate, then writes zeros over the part of
 * it past the file's old end (the bytes the file held stay as they were), with direct I/O
 * when it can (no page cache left behind), each write as durable as the fd's own (libraft
 * opens segments O_DSYNC; otherwise it ends with fdatasync). On tmpfs, which has no
 * unwritten extents, only allocates. The fd's status flags are as they were on return.
 * Returns 0 or -errno (-ENOSPC when the file system is full); thread-safe.
 */
int ms_segment_fill(int fd, off_t off, off_t len);

#endif
