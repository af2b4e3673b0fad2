/* libFuzzer harness for the raft peer handshake decoder: any bytes, fed in any split, then the
 * member check; what it accepts must be what libraft's encoder would have sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/peer_hs.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

static const struct ms_raft_peer members[] = {
	{ .id = 1, .name = "n1", .address = "127.0.0.1:2380" },
	{ .id = 2, .name = "n2", .address = "127.0.0.1:2480" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_peer_hs h;
	size_t chunk, off = 1, used = 0;
	char why[512];
	ssize_t n = 0;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] : 1; /* the first byte picks how reads split the rest */
	ms_peer_hs_init(&h);
	while (off < size && ms_peer_hs_need(&h)) {
		size_t len = size - off < chunk ? size - off : chunk;

		/* one call may take the preamble and the address: never more than the handshake
		 * (checked once it is complete) */
		n = ms_peer_hs_feed(&h, data + off, len, why, sizeof(why));
		if (n < 0)
			break;
		check((size_t)n <= len, "consumed more than given");
		used += (size_t)n;
		off += len;
	}
	if (n < 0 || ms_peer_hs_need(&h))
		return 0;
	/* complete: the address ends inside its field; one padded as libraft pads it (zeros up
	 * to the next multiple of 8) encodes back to the same bytes */
	check(h.address && strlen(h.address) < h.want - MS_PEER_HS_PREAMBLE, "address unterminated");
	check(used == h.want, "consumed bytes differ from the handshake's length");
	/* a forwarding key lies after the address and its NUL, whole, inside the field */
	check(!h.key || (h.key > (const uint8_t *)h.address + strlen(h.address) &&
			 h.key + MS_PEER_HS_KEY_LEN <= h.buf + h.want), "key outside the field");
	{
		uint8_t again[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
		ssize_t len = ms_peer_hs_encode(h.id, h.address, h.key, again, sizeof(again));
		size_t alen = strlen(h.address);
		size_t i = MS_PEER_HS_PREAMBLE + alen;

		check(len > 0, "an accepted address does not encode");
		while (i < h.want && !h.buf[i])
			i++;
		if (i == h.want && (size_t)len == h.want)
			check(!memcmp(again, h.buf, (size_t)len), "re-encoding differs");
	}
	if (!ms_peer_hs_check(members, 2, 1, h.id, h.address, why, sizeof(why)))
		check(h.id == 2 && !strcmp(h.address, "127.0.0.1:2480"), "accepted a non-member");
	return 0;
}
