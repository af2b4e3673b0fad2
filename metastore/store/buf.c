/* A growable byte buffer (doubling capacity). */
#include "store/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ms_buf_append(struct ms_buf *b, const void *data, size_t len)
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

void ms_buf_free(struct ms_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
