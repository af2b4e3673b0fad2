/* A growable byte buffer: request and response bodies, snapshots, raft entries. */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ms_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Appends len bytes of data (data NULL: reserves them, uninitialized). Returns 0 or -ENOMEM;
 * on failure the buffer is unchanged. */
int ms_buf_append(struct ms_buf *b, const void *data, size_t len);

/* Frees the buffer's memory and zeroes it; a zeroed buffer is allowed. */
void ms_buf_free(struct ms_buf *b);

#endif /* MS_BUF_H */
