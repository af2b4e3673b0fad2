/* Little-endian fixed-width encoding for snapshots and raft entries (bounds-checked reads). */
#ifndef MS_CODEC_H
#define MS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/buf.h"

/* Writes v as 8 little-endian bytes at p. */
static inline void ms_le64_write(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The 8 little-endian bytes at p. */
static inline uint64_t ms_le64_read(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Appends v as 8 little-endian bytes. Returns 0 or -ENOMEM. */
static inline int ms_put_u64(struct ms_buf *b, uint64_t v)
{
	uint8_t x[8];

	ms_le64_write(x, v);
	return ms_buf_append(b, x, sizeof(x));
}

/* Appends a length-prefixed byte string. Returns 0 or -ENOMEM. */
static inline int ms_put_bytes(struct ms_buf *b, const void *p, size_t n)
{
	int err = ms_put_u64(b, n);

	return err ? err : n ? ms_buf_append(b, p, n) : 0;
}

/* A cursor over encoded bytes; any read past the end sets `bad` and yields zeroes. */
struct ms_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline uint64_t ms_get_u64(struct ms_reader *r)
{
	uint64_t v;

	if (r->left < 8) {
		r->bad = true;
		r->left = 0;
		return 0;
	}
	v = ms_le64_read(r->p);
	r->p += 8;
	r->left -= 8;
	return v;
}

/* A length-prefixed byte string, pointing into the input; NULL with *n 0 when bad. */
static inline const uint8_t *ms_get_bytes(struct ms_reader *r, size_t *n)
{
	uint64_t len = ms_get_u64(r);
	const uint8_t *p = r->p;

	if (r->bad || len > r->left) {
		r->bad = true;
		r->left = 0;
		*n = 0;
		return NULL;
	}
	r->p += len;
	r->left -= len;
	*n = (size_t)len;
	return p;
}

#endif /* MS_CODEC_H */
