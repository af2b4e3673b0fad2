/* gRPC message framing and grpc-message encoding (pure helpers; the transport is server.c). */
#include "grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grpc_buf_append(struct grpc_buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->data, cap);
		if (!n)
			return -ENOMEM;
		b->data = n;
		b->cap = cap;
	}
	if (len && data)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

void grpc_buf_free(struct grpc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

enum grpc_unframe_result grpc_unframe(const uint8_t *body, size_t body_len, size_t max_len,
				      const uint8_t **msg, size_t *len)
{
	uint32_t n;

	if (body_len == 0)
		return GRPC_UNFRAME_EMPTY;
	if (body_len < GRPC_FRAME_HDR)
		return GRPC_UNFRAME_TRUNCATED;
	n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
	*len = n;
	if (body[0] != 0)
		return GRPC_UNFRAME_COMPRESSED;
	if (n > max_len)
		return GRPC_UNFRAME_TOO_LARGE;
	if (body_len - GRPC_FRAME_HDR < n)
		return GRPC_UNFRAME_TRUNCATED;
	if (body_len - GRPC_FRAME_HDR > n)
		return GRPC_UNFRAME_TRAILING;
	*msg = body + GRPC_FRAME_HDR;
	return GRPC_UNFRAME_OK;
}

void grpc_frame_header(uint8_t hdr[GRPC_FRAME_HDR], uint32_t len)
{
	hdr[0] = 0;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

char *grpc_percent_encode(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%')
			o += (size_t)sprintf(out + o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return out;
}
