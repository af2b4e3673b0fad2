/* The handshake opening every raft peer connection (libraft's wire format), and who may send it. */
#include "raft/peer_hs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/codec.h"

void ms_peer_hs_init(struct ms_peer_hs *h)
{
	memset(h, 0, sizeof(*h));
	h->want = MS_PEER_HS_PREAMBLE;
}

size_t ms_peer_hs_need(const struct ms_peer_hs *h)
{
	return h->want - h->have;
}

/* The preamble is in: checks it and learns how long the address is. */
static int read_preamble(struct ms_peer_hs *h, char *why, size_t whylen)
{
	uint64_t proto = ms_le64_read(h->buf), alen = ms_le64_read(h->buf + 16);

	if (proto != MS_PEER_HS_PROTOCOL) {
		snprintf(why, whylen, "handshake protocol %llu (want %d)",
			 (unsigned long long)proto, MS_PEER_HS_PROTOCOL);
		return -EPROTO;
	}
	if (alen == 0 || alen > MS_PEER_HS_MAX_ADDR) {
		snprintf(why, whylen, "handshake address length %llu (want 1..%d)",
			 (unsigned long long)alen, MS_PEER_HS_MAX_ADDR);
		return -EPROTO;
	}
	h->id = ms_le64_read(h->buf + 8);
	h->want += (size_t)alen;
	return 0;
}

/* The forwarding key after the address's padding, when the field has one. */
static void find_key(struct ms_peer_hs *h)
{
	size_t field = h->want - MS_PEER_HS_PREAMBLE;
	size_t off = (strlen(h->address) + 1 + 7) & ~(size_t)7;
	const uint8_t *p = h->buf + MS_PEER_HS_PREAMBLE + off;

	if (field >= off + MS_PEER_HS_KEY_EXT &&
	    memcmp(p, MS_PEER_HS_KEY_MAGIC, sizeof(MS_PEER_HS_KEY_MAGIC)) == 0)
		h->key = p + 8;
}

ssize_t ms_peer_hs_feed(struct ms_peer_hs *h, const void *p, size_t len, char *why,
			size_t whylen)
{
	size_t used = 0;

	while (used < len && h->have < h->want) {
		size_t n = h->want - h->have;

		if (n > len - used)
			n = len - used;
		memcpy(h->buf + h->have, (const uint8_t *)p + used, n);
		h->have += n;
		used += n;
		if (h->have == MS_PEER_HS_PREAMBLE && h->want == MS_PEER_HS_PREAMBLE &&
		    read_preamble(h, why, whylen))
			return -EPROTO;
	}
	if (h->have == h->want && h->want > MS_PEER_HS_PREAMBLE && !h->address) {
		/* the address must end inside its field: it is used as a C string */
		if (!memchr(h->buf + MS_PEER_HS_PREAMBLE, '\0', h->want - MS_PEER_HS_PREAMBLE)) {
			snprintf(why, whylen, "handshake address without its NUL");
			return -EPROTO;
		}
		h->address = (const char *)h->buf + MS_PEER_HS_PREAMBLE;
		find_key(h);
	}
	return (ssize_t)used;
}

ssize_t ms_peer_hs_encode(uint64_t id, const char *address, const uint8_t *key, uint8_t *out,
			  size_t outlen)
{
	size_t pad = (strlen(address) + 1 + 7) & ~(size_t)7;
	size_t alen = pad + (key ? MS_PEER_HS_KEY_EXT : 0);

	if (alen > MS_PEER_HS_MAX_ADDR || outlen < MS_PEER_HS_PREAMBLE + alen)
		return -ENOSPC;
	memset(out, 0, MS_PEER_HS_PREAMBLE + alen);
	ms_le64_write(out, MS_PEER_HS_PROTOCOL);
	ms_le64_write(out + 8, id);
	ms_le64_write(out + 16, alen);
	memcpy(out + MS_PEER_HS_PREAMBLE, address, strlen(address));
	if (key) {
		memcpy(out + MS_PEER_HS_PREAMBLE + pad, MS_PEER_HS_KEY_MAGIC,
		       sizeof(MS_PEER_HS_KEY_MAGIC));
		memcpy(out + MS_PEER_HS_PREAMBLE + pad + 8, key, MS_PEER_HS_KEY_LEN);
	}
	return (ssize_t)(MS_PEER_HS_PREAMBLE + alen);
}

int ms_peer_hs_check(const struct ms_raft_peer *members, size_t n, uint64_t self, uint64_t id,
		     const char *address, char *why, size_t whylen)
{
	if (id == self) {
		snprintf(why, whylen, "server id %016llx is this member's own",
			 (unsigned long long)id);
		return -EPERM;
	}
	for (size_t i = 0; i < n; i++) {
		if (members[i].id != id)
			continue;
		if (strcmp(members[i].address, address) == 0)
			return 0;
		/* libraft answers and reconnects by this address: a member's id with another
		 * address is someone else */
		snprintf(why, whylen,
			 "server id %016llx claims address '%.128s', member %s is at %s",
			 (unsigned long long)id, address, members[i].name, members[i].address);
		return -EPERM;
	}
	snprintf(why, whylen, "server id %016llx (address '%.128s') is not a member",
		 (unsigned long long)id, address);
	return -EPERM;
}
