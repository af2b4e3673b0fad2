/* A look at one top-level field of an encoded protobuf message without decoding the rest. */
#include "rpc/pb_scan.h"

#include <errno.h>

/* Reads a varint at *p (< end), advancing *p. Returns 0 or -EBADMSG. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return -EBADMSG;
		b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

int ms_pb_scan_varint(const uint8_t *msg, size_t len, uint32_t field, uint64_t *value)
{
	const uint8_t *p = msg, *end = msg + len;
	int found = 0;

	while (p < end) {
		uint64_t key, v;

		if (read_varint(&p, end, &key) || (key >> 3) == 0)
			return -EBADMSG;
		switch (key & 7) {
		case 0: /* varint */
			if (read_varint(&p, end, &v))
				return -EBADMSG;
			if ((key >> 3) == field) {
				*value = v;
				found = 1;
			}
			break;
		case 1: /* 64-bit */
			if (end - p < 8)
				return -EBADMSG;
			p += 8;
			break;
		case 2: /* length-delimited */
			if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -EBADMSG;
			p += v;
			break;
		case 5: /* 32-bit */
			if (end - p < 4)
				return -EBADMSG;
			p += 4;
			break;
		default: /* groups (3, 4) are not used by proto3; 6 and 7 do not exist */
			return -EBADMSG;
		}
	}
	return found;
}
