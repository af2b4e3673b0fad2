/* Start-up integrity: libraft 0.15's snapshots (meta checksum, LZ4 frame) and metadata files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/integrity.h"
#include "raft/integrity_priv.h"
#include "store/buf.h"

/* ---- snapshots ------------------------------------------------------------------------ */

/* xxHash32 (the LZ4 frame's checksums), seed 0. */
static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t xxh32(const uint8_t *p, size_t len)
{
	const uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u,
		       p4 = 668265263u, p5 = 374761393u;
	const uint8_t *end = p + len;
	uint32_t h;

	if (len >= 16) {
		uint32_t v[4] = { p1 + p2, p2, 0, 0u - p1 };

		for (; end - p >= 16; p += 16)
			for (int i = 0; i < 4; i++)
				v[i] = rotl32(v[i] + ms_integ_get32(p + 4 * i) * p2, 13) * p1;
		h = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) + rotl32(v[3], 18);
	} else {
		h = p5;
	}
	h += (uint32_t)len;
	for (; end - p >= 4; p += 4)
		h = rotl32(h + ms_integ_get32(p) * p3, 17) * p4;
	for (; p < end; p++)
		h = rotl32(h + *p * p5, 11) * p1;
	h ^= h >> 15;
	h *= p2;
	h ^= h >> 13;
	h *= p3;
	h ^= h >> 16;
	return h;
}

/* A length of 15 in a token goes on in bytes that add up until one is not 255. */
static int lz4_length(const uint8_t **p, const uint8_t *end, size_t *len)
{
	uint8_t c;

	if (*len != 15)
		return 0;
	do {
		if (*p >= end)
			return -1;
		c = *(*p)++;
		*len += c;
	} while (c == 255);
	return 0;
}

/* Decodes one LZ4 block (sequences of literals and back-references into everything
 * decoded so far, blocks may be linked) onto o. 0, -EUCLEAN (malformed) or -ENOMEM. */
static int lz4_block(const uint8_t *p, size_t n, struct ms_buf *o)
{
	const uint8_t *end = p + n;

	while (p < end) {
		size_t lit = *p >> 4, mlen = *p & 15, offset;

		p++;
		if (lz4_length(&p, end, &lit))
			return -EUCLEAN;
		if ((size_t)(end - p) < lit)
			return -EUCLEAN;
		if (ms_buf_append(o, p, lit))
			return -ENOMEM;
		p += lit;
		if (p == end)
			return 0; /* the last sequence has literals only */
		if (end - p < 2)
			return -EUCLEAN;
		offset = (size_t)p[0] | (size_t)p[1] << 8;
		p += 2;
		if (lz4_length(&p, end, &mlen))
			return -EUCLEAN;
		mlen += 4;
		if (!offset || offset > o->len)
			return -EUCLEAN;
		if (ms_buf_append(o, NULL, mlen))
			return -ENOMEM;
		/* byte by byte: a match may overlap what it copies */
		for (size_t at = o->len - mlen; at < o->len; at++)
			o->data[at] = o->data[at - offset];
	}
	return -EUCLEAN;
}

/* Verifies an LZ4 frame (libraft's compressed snapshot) down to its content checksum.
 * 0, -EUCLEAN with why, or -ENOMEM. */
static int check_lz4_frame(const uint8_t *b, size_t len, char *why, size_t whylen)
{
	struct ms_buf o = { 0 };
	size_t off = 4, desc;
	uint8_t flg, bd;
	bool block_sum, content_sum, has_size;
	uint64_t content_size = 0;
	int e = -EUCLEAN;

	if (len < 7) {
		snprintf(why, whylen, "cut short at byte %zu", len);
		return -EUCLEAN;
	}
	flg = b[4];
	bd = b[5];
	block_sum = flg & 0x10;
	has_size = flg & 0x08;
	content_sum = flg & 0x04;
	desc = 2 + (has_size ? 8 : 0) + ((flg & 1) ? 4 : 0);
	if ((flg >> 6) != 1 || (flg & 2) || (bd & 0x8f) || ((bd >> 4) & 7) < 4) {
		snprintf(why, whylen, "bad LZ4 frame descriptor");
		return -EUCLEAN;
	}
	if (len < off + desc + 1) {
		snprintf(why, whylen, "cut short at byte %zu", len);
		return -EUCLEAN;
	}
	if (has_size)
		content_size = ms_integ_get64(b + 6);
	if (((xxh32(b + off, desc) >> 8) & 0xff) != b[off + desc]) {
		snprintf(why, whylen, "checksum mismatch in the LZ4 frame descriptor");
		return -EUCLEAN;
	}
	off += desc + 1;
	for (;;) {
		uint32_t bsize, raw;

		if (len - off < 4) {
			snprintf(why, whylen, "cut short at byte %zu", len);
			goto cleanup;
		}
		raw = ms_integ_get32(b + off);
		off += 4;
		if (raw == 0)
			break;
		bsize = raw & 0x7fffffffu;
		if (len - off < bsize + (block_sum ? 4u : 0u)) {
			snprintf(why, whylen, "cut short at byte %zu", len);
			goto cleanup;
		}
		if (block_sum && xxh32(b + off, bsize) != ms_integ_get32(b + off + bsize)) {
			snprintf(why, whylen, "checksum mismatch in the LZ4 block at byte %zu",
				 off - 4);
			goto cleanup;
		}
		if (raw & 0x80000000u) {
			if (ms_buf_append(&o, b + off, bsize)) {
				e = -ENOMEM;
				goto cleanup;
			}
		} else {
			e = lz4_block(b + off, bsize, &o);
			if (e) {
				snprintf(why, whylen, "undecodable LZ4 block at byte %zu", off - 4);
				goto cleanup;
			}
			e = -EUCLEAN;
		}
		off += bsize + (block_sum ? 4 : 0);
	}
	if (content_sum) {
		if (len - off < 4) {
			snprintf(why, whylen, "cut short at byte %zu", len);
			goto cleanup;
		}
		if (xxh32(o.data ? o.data : (const uint8_t *)"", o.len) != ms_integ_get32(b + off)) {
			snprintf(why, whylen, "content checksum mismatch");
			goto cleanup;
		}
		off += 4;
	}
	if (has_size && content_size != o.len) {
		snprintf(why, whylen, "holds %zu bytes, its frame says %" PRIu64, o.len,
			 content_size);
		goto cleanup;
	}
	if (off != len) {
		snprintf(why, whylen, "%zu stray bytes after the LZ4 frame", len - off);
		goto cleanup;
	}
	e = 0;
cleanup:
	ms_buf_free(&o);
	return e;
}

/* The .meta file: format, CRC32 of what follows it, configuration index and length, the
 * encoded configuration. Then the data file, which libraft reads whole. */
int ms_integ_check_snapshot(const char *dir, const struct snap *s, char *err, size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0;
	char why[160] = "", data_name[256];
	int e;

	e = ms_integ_read_named(dir, s->name, "raft snapshot metadata", &b, &len, err, errlen);
	if (e)
		return e;
	e = -EUCLEAN;
	if (len < SNAP_META_HEADER) {
		snprintf(why, sizeof(why), "cut short at byte %zu", len);
	} else if (ms_integ_get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, ms_integ_get64(b));
	} else if (ms_integ_get64(b + 24) == 0 || ms_integ_get64(b + 24) > SNAP_META_MAX_CONF) {
		snprintf(why, sizeof(why), "bad configuration length %" PRIu64, ms_integ_get64(b + 24));
	} else if (len != SNAP_META_HEADER + ms_integ_get64(b + 24)) {
		snprintf(why, sizeof(why), "%zu bytes, its header says %" PRIu64, len,
			 SNAP_META_HEADER + ms_integ_get64(b + 24));
	} else if ((uint32_t)ms_integ_get64(b + 8) != ms_integ_crc32_msb(b + 16, len - 16, 0) ||
		   ms_integ_get64(b + 8) >> 32) {
		snprintf(why, sizeof(why), "checksum mismatch");
	} else {
		e = 0;
	}
	free(b);
	b = NULL;
	if (e) {
		snprintf(err, errlen,
			 "raft snapshot metadata %s/%s (snapshot of entries 1-%" PRIu64
			 ") is corrupt: %s",
			 dir, s->name, s->index, why);
		return e;
	}
	snprintf(data_name, sizeof(data_name), "%.*s", (int)(strlen(s->name) - 5), s->name);
	e = ms_integ_read_named(dir, data_name, "raft snapshot", &b, &len, err, errlen);
	if (e)
		return e;
	/* without LZ4 libraft stores the state as the store gave it, with no checksum */
	if (len >= 4 && ms_integ_get32(b) == LZ4_FRAME_MAGIC)
		e = check_lz4_frame(b, len, why, sizeof(why));
	free(b);
	if (e == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (e)
		snprintf(err, errlen,
			 "raft snapshot %s/%s (entries 1-%" PRIu64 ") is corrupt: %s", dir,
			 data_name, s->index, why);
	return e;
}

/* ---- metadata ------------------------------------------------------------------------- */

/* metadataN holds format, version, term and vote; libraft writes version v to metadata1
 * when v is odd, metadata2 when even, and drops a file shorter than 32 bytes (a torn
 * write). It has no checksum: check what can be checked. */
int ms_integ_check_metadata(const char *dir, int n, const uint64_t *members, size_t n_members,
			  struct meta *m, char *err, size_t errlen)
{
	char name[24], why[160] = "";
	uint8_t *b = NULL;
	size_t len = 0;
	bool member = false;
	int e;

	snprintf(name, sizeof(name), "metadata%d", n);
	e = ms_integ_read_named(dir, name, "raft metadata", &b, &len, err, errlen);
	if (e)
		return e;
	e = -EUCLEAN;
	if (len < METADATA_SIZE) {
		e = 0; /* libraft drops it */
		goto cleanup;
	}
	if (len > METADATA_SIZE) {
		snprintf(why, sizeof(why), "%zu bytes, not %d", len, METADATA_SIZE);
		goto cleanup;
	}
	m->version = ms_integ_get64(b + 8);
	m->term = ms_integ_get64(b + 16);
	m->voted_for = ms_integ_get64(b + 24);
	for (size_t i = 0; i < n_members; i++)
		member |= members[i] == m->voted_for;
	if (ms_integ_get64(b) != DISK_FORMAT)
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, ms_integ_get64(b));
	else if (m->version == 0 || (int)(2 - m->version % 2) != n)
		snprintf(why, sizeof(why), "version %" PRIu64 " does not belong in this file",
			 m->version);
	else if (m->voted_for && !member)
		snprintf(why, sizeof(why), "its vote went to %016" PRIx64 ", not a member",
			 m->voted_for);
	else
		e = 0;
	m->present = !e;
cleanup:
	if (e)
		snprintf(err, errlen, "raft metadata %s/%s is corrupt: %s", dir, name, why);
	free(b);
	return e;
}

