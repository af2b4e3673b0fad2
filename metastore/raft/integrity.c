/* Start-up integrity: libraft 0.15's segments, snapshots and metadata verified before it
 * opens them (it would set a corrupt segment aside and start without it), and member.id. */
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
#include "store/buf.h"

/* libraft 0.15's on-disk format (its src/uv_segment.c, uv_snapshot.c, uv_metadata.c): every
 * file starts with format version 1, integers are little-endian. */
#define DISK_FORMAT 1
/* it refuses batches claiming more entries than an 8 MiB segment of 32-byte ones holds */
#define MAX_BATCH_ENTRIES ((8u << 20) / 32)
#define METADATA_SIZE 32 /* format, version, term, voted_for: u64 each */
#define SNAP_META_HEADER 32 /* format, crc, configuration index, configuration length */
#define SNAP_META_MAX_CONF (1u << 20)
#define ENTRY_TYPE_MAX 3 /* RAFT_COMMAND 1, RAFT_BARRIER 2, RAFT_CHANGE 3 */
#define LZ4_FRAME_MAGIC 0x184D2204u

struct seg {
	bool open;
	uint64_t first, end; /* closed: from the name */
	uint64_t counter;    /* open: open-COUNTER */
	char name[256];
};

struct snap {
	uint64_t term, index, ts;
	bool has_data;
	char name[256]; /* the .meta file */
};

struct listing {
	struct seg *segs;
	size_t n_segs;
	struct snap *snaps;
	size_t n_snaps;
	bool meta_file[2];       /* metadata1, metadata2 present */
	char set_aside[256];     /* first corrupt-* file found */
};

/* ---- little helpers ------------------------------------------------------------------ */

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* libraft's CRC32: polynomial 0x04C11DB7 fed most significant bit first, no reflection,
 * no final xor; the running value is the seed of the next call. */
static uint32_t crc32_msb(const uint8_t *p, size_t n, uint32_t crc)
{
	static uint32_t table[256];
	static bool ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i << 24;

			for (int k = 0; k < 8; k++)
				c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
			table[i] = c;
		}
		ready = true;
	}
	while (n--)
		crc = (crc << 8) ^ table[((crc >> 24) ^ *p++) & 0xff];
	return crc;
}

/* Reads a whole file; -errno on failure. *out is the caller's to free. */
static int read_all(const char *dir, const char *name, uint8_t **out, size_t *len)
{
	char path[4096];
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			goto cleanup;
		}
		got += (size_t)r;
	}
	*out = buf;
	*len = got;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

/* read_all with the one-line message "cannot read WHAT dir/name: reason" on failure. */
static int read_named(const char *dir, const char *name, const char *what, uint8_t **out,
		      size_t *len, char *err, size_t errlen)
{
	int e = read_all(dir, name, out, len);

	if (e)
		snprintf(err, errlen, "cannot read %s %s/%s: %s", what, dir, name, strerror(-e));
	return e;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Replaces dir/name with text: a temporary file, fsync'd, renamed over it, the dir fsync'd.
 * 0 or -errno. */
static int write_atomic(const char *dir, const char *name, const char *text, size_t len)
{
	char tmp[4096], path[4096];
	int fd, dfd, e = 0;
	size_t done = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (!e && fsync(fd))
		e = -errno;
	if (close(fd) && !e)
		e = -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e) {
		unlink(tmp);
		return e;
	}
	/* the rename itself must survive a crash */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd))
		e = -errno;
	close(dfd);
	return e;
}

/* ---- the listing ---------------------------------------------------------------------- */

static bool parse_u64(const char **s, uint64_t *v, size_t digits)
{
	const char *p = *s;
	uint64_t x = 0;
	size_t n = 0;

	while (*p >= '0' && *p <= '9' && (!digits || n < digits)) {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*p++ - '0');
		n++;
	}
	if (!n || (digits && n != digits))
		return false;
	*s = p;
	*v = x;
	return true;
}

/* "%016llu-%016llu", as libraft names a closed segment. */
static bool parse_closed(const char *name, uint64_t *first, uint64_t *end)
{
	const char *p = name;

	return parse_u64(&p, first, 16) && *p++ == '-' && parse_u64(&p, end, 16) && !*p;
}

/* "open-%llu", an open segment. */
static bool parse_open(const char *name, uint64_t *counter)
{
	const char *p = name + 5;

	return !strncmp(name, "open-", 5) && parse_u64(&p, counter, 0) && !*p;
}

/* "snapshot-TERM-INDEX-TIMESTAMP" followed by `suffix`. */
static bool parse_snapshot(const char *name, const char *suffix, struct snap *s)
{
	const char *p = name;

	if (strncmp(p, "snapshot-", 9))
		return false;
	p += 9;
	return parse_u64(&p, &s->term, 0) && *p++ == '-' && parse_u64(&p, &s->index, 0) &&
	       *p++ == '-' && parse_u64(&p, &s->ts, 0) && !strcmp(p, suffix);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->open != y->open)
		return x->open ? 1 : -1;
	if (x->open)
		return x->counter < y->counter ? -1 : x->counter > y->counter;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Oldest first, as libraft orders snapshots: by term, then index, then timestamp. */
static int snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;

	if (x->term != y->term)
		return x->term < y->term ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int list_dir(const char *dir, struct listing *l)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct seg sg = { 0 };
		struct snap sn = { 0 };

		if (!strcmp(name, "metadata1") || !strcmp(name, "metadata2")) {
			l->meta_file[name[8] - '1'] = true;
		} else if (!strncmp(name, "corrupt-", 8)) {
			if (!l->set_aside[0])
				snprintf(l->set_aside, sizeof(l->set_aside), "%s", name);
		} else if (strlen(name) < sizeof(sg.name) &&
			   (parse_closed(name, &sg.first, &sg.end) ||
			    (sg.open = parse_open(name, &sg.counter)))) {
			struct seg *n = realloc(l->segs, (l->n_segs + 1) * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto cleanup;
			}
			snprintf(sg.name, sizeof(sg.name), "%s", de->d_name);
			l->segs = n;
			l->segs[l->n_segs++] = sg;
		} else if (strlen(name) < sizeof(sn.name) && parse_snapshot(name, ".meta", &sn)) {
			struct snap *n = realloc(l->snaps, (l->n_snaps + 1) * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto cleanup;
			}
			snprintf(sn.name, sizeof(sn.name), "%s", name);
			l->snaps = n;
			l->snaps[l->n_snaps++] = sn;
		}
	}
	if (l->n_segs)
		qsort(l->segs, l->n_segs, sizeof(*l->segs), seg_cmp);
	/* libraft only counts a snapshot whose data file exists and is not empty */
	for (size_t i = 0; i < l->n_snaps; i++) {
		char path[4096];
		struct stat st;
		size_t k = strlen(l->snaps[i].name) - 5;

		snprintf(path, sizeof(path), "%s/%.*s", dir, (int)k, l->snaps[i].name);
		l->snaps[i].has_data = !stat(path, &st) && st.st_size > 0;
	}
	if (l->n_snaps)
		qsort(l->snaps, l->n_snaps, sizeof(*l->snaps), snap_cmp);
cleanup:
	closedir(d);
	return err;
}

/* ---- segments ------------------------------------------------------------------------- */

struct batch {
	uint64_t n;        /* entries */
	size_t size;       /* bytes, checksums included */
	uint64_t max_term;
};

/*
 * Checks the batch at `off` of a segment (b, len): two CRC32s (header, data), then the
 * header (entry count, then term, type and size of each entry), then the data, each entry
 * padded to 8 bytes. `first` is the index of its first entry (for messages). Returns 0, or
 * -1 with the reason in why.
 */
static int check_batch(const uint8_t *b, size_t len, size_t off, uint64_t first,
		       struct batch *out, char *why, size_t whylen)
{
	size_t hdr, data = 0, at;
	uint64_t n;

	if (len - off < 16) {
		snprintf(why, whylen, "cut short at byte %zu", len);
		return -1;
	}
	n = get64(b + off + 8);
	if (n == 0) {
		snprintf(why, whylen, "the batch at byte %zu has no entries", off);
		return -1;
	}
	if (n > MAX_BATCH_ENTRIES) {
		snprintf(why, whylen, "the batch at byte %zu claims %" PRIu64 " entries", off, n);
		return -1;
	}
	hdr = 8 + 16 * (size_t)n;
	if (len - off - 8 < hdr) {
		snprintf(why, whylen, "cut short at byte %zu", len);
		return -1;
	}
	if (crc32_msb(b + off + 8, hdr, 0) != get32(b + off)) {
		snprintf(why, whylen, "checksum mismatch in the header of the batch at byte %zu",
			 off);
		return -1;
	}
	out->max_term = 0;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = b + off + 16 + 16 * i;
		uint32_t size = get32(e + 12);

		if (e[8] < 1 || e[8] > ENTRY_TYPE_MAX) {
			snprintf(why, whylen, "entry %" PRIu64 " has unknown type %u", first + i,
				 e[8]);
			return -1;
		}
		/* libraft writes only 8-byte multiples and reads the data as if unpadded */
		if (size % 8) {
			snprintf(why, whylen, "entry %" PRIu64 " has a size not a multiple of 8",
				 first + i);
			return -1;
		}
		if (get64(e) > out->max_term)
			out->max_term = get64(e);
		data += size;
	}
	at = off + 8 + hdr;
	if (len - at < data) {
		snprintf(why, whylen, "cut short at byte %zu (entries %" PRIu64 "-%" PRIu64 ")",
			 len, first, first + n - 1);
		return -1;
	}
	if (crc32_msb(b + at, data, 0) != get32(b + off + 4)) {
		snprintf(why, whylen,
			 "checksum mismatch in the batch at byte %zu (entries %" PRIu64 "-%" PRIu64
			 ")",
			 off, first, first + n - 1);
		return -1;
	}
	out->n = n;
	out->size = 8 + hdr + data;
	return 0;
}

/* A closed segment must hold exactly the entries its name says, in whole batches. */
static int check_closed(const char *dir, const struct seg *s, uint64_t *max_term, char *err,
			size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0, off = 8;
	uint64_t idx = s->first;
	char why[160] = "";
	int e;

	e = read_named(dir, s->name, "raft log segment", &b, &len, err, errlen);
	if (e)
		return e;
	e = -EUCLEAN;
	if (len == 0) {
		snprintf(why, sizeof(why), "the file is empty");
		goto cleanup;
	}
	if (len < 8) {
		snprintf(why, sizeof(why), "cut short at byte %zu", len);
		goto cleanup;
	}
	if (get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, get64(b));
		goto cleanup;
	}
	while (off < len) {
		struct batch bt;

		if (check_batch(b, len, off, idx, &bt, why, sizeof(why)))
			goto cleanup;
		off += bt.size;
		idx += bt.n;
		if (bt.max_term > *max_term)
			*max_term = bt.max_term;
	}
	if (idx - s->first != s->end - s->first + 1) {
		snprintf(why, sizeof(why), "it holds %" PRIu64 " entries, not %" PRIu64,
			 idx - s->first, s->end - s->first + 1);
		goto cleanup;
	}
	e = 0;
cleanup:
	if (e)
		snprintf(err, errlen,
			 "raft log segment %s/%s (entries %" PRIu64 "-%" PRIu64 ") is corrupt: %s",
			 dir, s->name, s->first, s->end, why);
	free(b);
	return e;
}

/* Whether an intact batch starts anywhere (8-byte aligned) at or after `from`. */
static bool intact_batch_after(const uint8_t *b, size_t len, size_t from)
{
	char why[160];
	struct batch bt;

	for (size_t off = (from + 7) & ~(size_t)7; off + 16 <= len; off += 8) {
		uint64_t n = get64(b + off + 8);

		if (n && n <= MAX_BATCH_ENTRIES && !check_batch(b, len, off, 0, &bt, why,
								 sizeof(why)))
			return true;
	}
	return false;
}

/*
 * An open segment is preallocated with zeros and written batch by batch; libraft loads
 * batches up to the first that does not check out and drops the rest. That is a torn last
 * write only if nothing intact follows it: a bad batch followed by an intact one is damage
 * to acknowledged entries. Sets *n (entries kept), *torn_at and *torn_bytes (0: a clean end).
 */
static int check_open(const char *dir, const struct seg *s, uint64_t first, uint64_t *n,
		      size_t *torn_at, size_t *torn_bytes, uint64_t *max_term, char *err,
		      size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0, off = 8, last_nz;
	char why[160] = "";
	int e;

	*n = 0;
	*torn_at = *torn_bytes = 0;
	e = read_named(dir, s->name, "raft log segment", &b, &len, err, errlen);
	if (e)
		return e;
	e = 0;
	if (len == 0 || all_zero(b, len))
		goto cleanup; /* allocated, never written: libraft removes it */
	e = -EUCLEAN;
	if (len < 8 || get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64,
			 len < 8 ? 0 : get64(b));
		goto cleanup;
	}
	while (off < len) {
		struct batch bt;

		if (check_batch(b, len, off, first + *n, &bt, why, sizeof(why)))
			break;
		off += bt.size;
		*n += bt.n;
		if (bt.max_term > *max_term)
			*max_term = bt.max_term;
	}
	e = 0;
	if (off >= len || all_zero(b + off, len - off))
		goto cleanup;
	if (intact_batch_after(b, len, off + 8)) {
		e = -EUCLEAN;
		goto cleanup;
	}
	for (last_nz = len; last_nz > off && !b[last_nz - 1]; last_nz--)
		;
	*torn_at = off;
	*torn_bytes = last_nz - off;
cleanup:
	if (e)
		snprintf(err, errlen,
			 "raft log open segment %s/%s (entries from %" PRIu64 ") is corrupt: %s",
			 dir, s->name, first, why);
	free(b);
	return e;
}

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
				v[i] = rotl32(v[i] + get32(p + 4 * i) * p2, 13) * p1;
		h = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) + rotl32(v[3], 18);
	} else {
		h = p5;
	}
	h += (uint32_t)len;
	for (; end - p >= 4; p += 4)
		h = rotl32(h + get32(p) * p3, 17) * p4;
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
		content_size = get64(b + 6);
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
		raw = get32(b + off);
		off += 4;
		if (raw == 0)
			break;
		bsize = raw & 0x7fffffffu;
		if (len - off < bsize + (block_sum ? 4u : 0u)) {
			snprintf(why, whylen, "cut short at byte %zu", len);
			goto cleanup;
		}
		if (block_sum && xxh32(b + off, bsize) != get32(b + off + bsize)) {
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
		if (xxh32(o.data ? o.data : (const uint8_t *)"", o.len) != get32(b + off)) {
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
static int check_snapshot(const char *dir, const struct snap *s, char *err, size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0;
	char why[160] = "", data_name[256];
	int e;

	e = read_named(dir, s->name, "raft snapshot metadata", &b, &len, err, errlen);
	if (e)
		return e;
	e = -EUCLEAN;
	if (len < SNAP_META_HEADER) {
		snprintf(why, sizeof(why), "cut short at byte %zu", len);
	} else if (get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, get64(b));
	} else if (get64(b + 24) == 0 || get64(b + 24) > SNAP_META_MAX_CONF) {
		snprintf(why, sizeof(why), "bad configuration length %" PRIu64, get64(b + 24));
	} else if (len != SNAP_META_HEADER + get64(b + 24)) {
		snprintf(why, sizeof(why), "%zu bytes, its header says %" PRIu64, len,
			 SNAP_META_HEADER + get64(b + 24));
	} else if ((uint32_t)get64(b + 8) != crc32_msb(b + 16, len - 16, 0) ||
		   get64(b + 8) >> 32) {
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
	e = read_named(dir, data_name, "raft snapshot", &b, &len, err, errlen);
	if (e)
		return e;
	/* without LZ4 libraft stores the state as the store gave it, with no checksum */
	if (len >= 4 && get32(b) == LZ4_FRAME_MAGIC)
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

struct meta {
	bool present;
	uint64_t version, term, voted_for;
};

/* metadataN holds format, version, term and vote; libraft writes version v to metadata1
 * when v is odd, metadata2 when even, and drops a file shorter than 32 bytes (a torn
 * write). It has no checksum: check what can be checked. */
static int check_metadata(const char *dir, int n, const uint64_t *members, size_t n_members,
			  struct meta *m, char *err, size_t errlen)
{
	char name[24], why[160] = "";
	uint8_t *b = NULL;
	size_t len = 0;
	bool member = false;
	int e;

	snprintf(name, sizeof(name), "metadata%d", n);
	e = read_named(dir, name, "raft metadata", &b, &len, err, errlen);
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
	m->version = get64(b + 8);
	m->term = get64(b + 16);
	m->voted_for = get64(b + 24);
	for (size_t i = 0; i < n_members; i++)
		member |= members[i] == m->voted_for;
	if (get64(b) != DISK_FORMAT)
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, get64(b));
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

/* ---- the whole dir -------------------------------------------------------------------- */

/* The last entry the closed segments and snapshots (with data) hold; 0 if none. */
static uint64_t closed_reach(const struct listing *l)
{
	uint64_t reach = 0;

	for (size_t i = 0; i < l->n_segs; i++)
		if (!l->segs[i].open && l->segs[i].end > reach)
			reach = l->segs[i].end;
	for (size_t i = 0; i < l->n_snaps; i++)
		if (l->snaps[i].has_data && l->snaps[i].index > reach)
			reach = l->snaps[i].index;
	return reach;
}

/* The record of the last clean stop: entries up to it were committed and on disk then, and
 * committed entries only ever leave the log into a snapshot. So the newest closed segment
 * going missing is seen too, which nothing in libraft's files tells. */
static int check_committed(const char *dir, const struct listing *l, uint64_t log_end,
			   char *err, size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0;
	uint64_t committed = 0, reach = closed_reach(l);
	char text[64];
	const char *p = text + 10;
	int e;

	e = read_all(dir, MS_INTEGRITY_COMMIT_FILE, &b, &len);
	if (e == -ENOENT)
		return 0;
	if (e) {
		snprintf(err, errlen, "cannot read %s/%s: %s", dir, MS_INTEGRITY_COMMIT_FILE,
			 strerror(-e));
		return e;
	}
	e = -EUCLEAN;
	if (len < sizeof(text) && !memchr(b, 0, len)) {
		memcpy(text, b, len);
		text[len] = '\0';
		if (!strncmp(text, "committed ", 10) && parse_u64(&p, &committed, 0) &&
		    !strcmp(p, "\n"))
			e = 0;
	}
	free(b);
	if (e) {
		snprintf(err, errlen, "raft dir %s: %s is corrupt", dir, MS_INTEGRITY_COMMIT_FILE);
		return e;
	}
	if (log_end > reach)
		reach = log_end;
	if (reach >= committed)
		return 0;
	snprintf(err, errlen,
		 "raft log entries %" PRIu64 "-%" PRIu64 " are missing: %s/%s says entry %" PRIu64
		 " was committed at the last clean stop, the log and snapshots end at entry %" PRIu64,
		 reach + 1, committed, dir, MS_INTEGRITY_COMMIT_FILE, committed, reach);
	return -ENOENT;
}

int ms_integrity_record_stop(const char *dir, uint64_t commit_index, char *err, size_t errlen)
{
	struct listing l = { 0 };
	uint64_t reach;
	char text[64];
	int n, e;

	e = list_dir(dir, &l);
	if (e) {
		snprintf(err, errlen, "cannot list raft dir %s: %s", dir, strerror(-e));
		goto cleanup;
	}
	reach = closed_reach(&l);
	/* a leader may count a quorum before its own write is on disk: record only both */
	n = snprintf(text, sizeof(text), "committed %" PRIu64 "\n",
		     commit_index < reach ? commit_index : reach);
	e = write_atomic(dir, MS_INTEGRITY_COMMIT_FILE, text, (size_t)n);
	if (e)
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, MS_INTEGRITY_COMMIT_FILE,
			 strerror(-e));
cleanup:
	free(l.segs);
	free(l.snaps);
	return e;
}

int ms_integrity_check_raft(const char *dir, const uint64_t *members, size_t n_members,
			    char *note, size_t notelen, char *err, size_t errlen)
{
	struct listing l = { 0 };
	struct meta md[2] = { { 0 } };
	const struct snap *latest = NULL;
	const struct seg *first_closed = NULL, *prev = NULL;
	uint64_t max_term = 0, next, base;
	int e;

	note[0] = '\0';
	e = list_dir(dir, &l);
	if (e) {
		snprintf(err, errlen, "cannot list raft dir %s: %s", dir, strerror(-e));
		goto cleanup;
	}
	if (l.set_aside[0]) {
		const char *orig = strchr(l.set_aside + 8, '-');
		uint64_t f, t;

		e = -EUCLEAN;
		if (orig && parse_closed(orig + 1, &f, &t))
			snprintf(err, errlen,
				 "raft log segment %s/%s (entries %" PRIu64 "-%" PRIu64
				 ") was set aside as corrupt by an earlier start",
				 dir, l.set_aside, f, t);
		else
			snprintf(err, errlen,
				 "raft log segment %s/%s was set aside as corrupt by an earlier start",
				 dir, l.set_aside);
		goto cleanup;
	}
	for (int i = 0; i < 2; i++) {
		if (!l.meta_file[i])
			continue;
		e = check_metadata(dir, i + 1, members, n_members, &md[i], err, errlen);
		if (e)
			goto cleanup;
	}
	if (md[0].present && md[1].present &&
	    (md[0].version > md[1].version ? md[0].version - md[1].version
					   : md[1].version - md[0].version) != 1) {
		e = -EUCLEAN;
		snprintf(err, errlen,
			 "raft metadata %s/metadata1 and metadata2 are corrupt: versions %" PRIu64
			 " and %" PRIu64 " are not consecutive",
			 dir, md[0].version, md[1].version);
		goto cleanup;
	}
	for (size_t i = 0; i < l.n_snaps; i++) {
		const struct snap *s = &l.snaps[i];

		/* libraft writes the .meta first: a crash before the data file leaves the newest
		 * snapshot without one; an older one without it has lost its data */
		for (size_t k = i + 1; !s->has_data && k < l.n_snaps; k++) {
			if (!l.snaps[k].has_data)
				continue;
			e = -ENOENT;
			snprintf(err, errlen,
				 "raft snapshot %s/%.*s (entries 1-%" PRIu64
				 ") is missing: only its .meta is there",
				 dir, (int)(strlen(s->name) - 5), s->name, s->index);
			goto cleanup;
		}
		if (!s->has_data)
			continue;
		e = check_snapshot(dir, &l.snaps[i], err, errlen);
		if (e)
			goto cleanup;
		latest = &l.snaps[i];
		if (l.snaps[i].term > max_term)
			max_term = l.snaps[i].term;
	}
	for (size_t i = 0; i < l.n_segs && !l.segs[i].open; i++) {
		const struct seg *s = &l.segs[i];

		if (s->end < s->first) {
			e = -EUCLEAN;
			snprintf(err, errlen, "raft log segment %s/%s is corrupt: its name is backwards",
				 dir, s->name);
			goto cleanup;
		}
		if (prev && s->first != prev->end + 1) {
			if (s->first <= prev->end) {
				e = -EUCLEAN;
				snprintf(err, errlen,
					 "raft log segments %s/%s and %s/%s overlap (entries %" PRIu64
					 "-%" PRIu64 ")",
					 dir, prev->name, dir, s->name, s->first,
					 s->end < prev->end ? s->end : prev->end);
			} else {
				e = -ENOENT;
				snprintf(err, errlen,
					 "raft log entries %" PRIu64 "-%" PRIu64
					 " are missing: no segment between %s/%s and %s/%s holds them",
					 prev->end + 1, s->first - 1, dir, prev->name, dir, s->name);
			}
			goto cleanup;
		}
		e = check_closed(dir, s, &max_term, err, errlen);
		if (e)
			goto cleanup;
		if (!first_closed)
			first_closed = s;
		prev = s;
	}
	/* the log must pick up where the newest snapshot ends, or the entries in between are
	 * gone (a snapshot's data file deleted, the oldest segments deleted) */
	base = latest ? latest->index : 0;
	if (first_closed && first_closed->first > base + 1) {
		e = -ENOENT;
		snprintf(err, errlen,
			 "raft log entries %" PRIu64 "-%" PRIu64
			 " are missing: the log starts at %s/%s and %s",
			 base + 1, first_closed->first - 1, dir, first_closed->name,
			 latest ? "the newest snapshot ends before" : "no snapshot holds them");
		goto cleanup;
	}
	next = prev ? prev->end + 1 : base + 1;
	for (size_t i = 0; i < l.n_segs; i++) {
		const struct seg *s = &l.segs[i];
		uint64_t n;
		size_t torn_at, torn_bytes;

		if (!s->open)
			continue;
		e = check_open(dir, s, next, &n, &torn_at, &torn_bytes, &max_term, err, errlen);
		if (e)
			goto cleanup;
		if (note[0] && (n || torn_bytes)) {
			/* libraft would load these right after the torn write, at the wrong index */
			e = -EUCLEAN;
			snprintf(err, errlen,
				 "raft log open segment %s/%s holds entries after a torn write", dir,
				 s->name);
			goto cleanup;
		}
		if (torn_bytes)
			snprintf(note, notelen,
				 "raft log open segment %s/%s ends in a partly written batch at byte "
				 "%zu (%zu bytes, never acknowledged): dropped, recovering to entry "
				 "%" PRIu64,
				 dir, s->name, torn_at, torn_bytes, next + n - 1);
		next += n;
	}
	e = check_committed(dir, &l, next - 1, err, errlen);
	if (e)
		goto cleanup;
	if ((l.n_segs || latest) && !md[0].present && !md[1].present) {
		e = -ENOENT;
		snprintf(err, errlen, "raft metadata %s/metadata1 and metadata2 are missing", dir);
		goto cleanup;
	}
	{
		const struct meta *cur = md[0].version > md[1].version ? &md[0] : &md[1];

		if (cur->present && cur->term < max_term) {
			e = -EUCLEAN;
			snprintf(err, errlen,
				 "raft metadata %s/metadata%d is corrupt: term %" PRIu64
				 " is below the log's term %" PRIu64,
				 dir, cur == &md[0] ? 1 : 2, cur->term, max_term);
			goto cleanup;
		}
	}
	e = 0;
cleanup:
	free(l.segs);
	free(l.snaps);
	return e;
}

/* ---- member.id ------------------------------------------------------------------------ */

struct owner {
	char name[64];
	uint64_t member_id, cluster_id;
};

/* "name N\nmember_id HEX\ncluster_id HEX\n"; -EUCLEAN if it is anything else. */
static int parse_owner(const uint8_t *b, size_t len, struct owner *o)
{
	char text[256], tail;
	unsigned long long m, c;
	int k = 0;

	if (len >= sizeof(text) || memchr(b, 0, len))
		return -EUCLEAN;
	memcpy(text, b, len);
	text[len] = '\0';
	if (sscanf(text, "name %63s\nmember_id %16llx\ncluster_id %16llx%c%n", o->name, &m, &c,
		   &tail, &k) != 4 ||
	    tail != '\n' || (size_t)k != len)
		return -EUCLEAN;
	o->member_id = m;
	o->cluster_id = c;
	return 0;
}

int ms_integrity_member(const char *data_dir, const char *name, uint64_t member_id,
			uint64_t cluster_id, char *err, size_t errlen)
{
	char text[256];
	uint8_t *b = NULL;
	size_t len = 0;
	struct owner o;
	int n, e;

	e = read_all(data_dir, MS_INTEGRITY_MEMBER_FILE, &b, &len);
	if (e == -ENOENT) {
		n = snprintf(text, sizeof(text), "name %s\nmember_id %016" PRIx64
			     "\ncluster_id %016" PRIx64 "\n", name, member_id, cluster_id);
		if (n < 0 || (size_t)n >= sizeof(text) || strlen(name) > 63 ||
		    strpbrk(name, " \t\n")) {
			e = -EINVAL;
			snprintf(err, errlen, "member name %s cannot be recorded in %s/%s", name,
				 data_dir, MS_INTEGRITY_MEMBER_FILE);
			goto cleanup;
		}
		e = write_atomic(data_dir, MS_INTEGRITY_MEMBER_FILE, text, (size_t)n);
		if (e)
			snprintf(err, errlen, "cannot write %s/%s: %s", data_dir,
				 MS_INTEGRITY_MEMBER_FILE, strerror(-e));
		goto cleanup;
	}
	if (e) {
		snprintf(err, errlen, "cannot read %s/%s: %s", data_dir, MS_INTEGRITY_MEMBER_FILE,
			 strerror(-e));
		goto cleanup;
	}
	e = parse_owner(b, len, &o);
	if (e) {
		snprintf(err, errlen, "data dir %s: %s is corrupt", data_dir,
			 MS_INTEGRITY_MEMBER_FILE);
		goto cleanup;
	}
	e = -EPERM;
	if (strcmp(o.name, name) || o.member_id != member_id)
		snprintf(err, errlen, "data dir %s belongs to member %s (id %016" PRIx64 "), not %s",
			 data_dir, o.name, o.member_id, name);
	else if (o.cluster_id != cluster_id)
		snprintf(err, errlen,
			 "data dir %s belongs to member %s (id %016" PRIx64 ") of cluster %016" PRIx64
			 ", not of cluster %016" PRIx64 " (another --initial-cluster)",
			 data_dir, o.name, o.member_id, o.cluster_id, cluster_id);
	else
		e = 0;
cleanup:
	free(b);
	return e;
}
