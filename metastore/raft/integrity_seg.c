/* Start-up integrity: libraft 0.15's closed and open segments, batch by batch. */
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
	n = ms_integ_get64(b + off + 8);
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
	if (ms_integ_crc32_msb(b + off + 8, hdr, 0) != ms_integ_get32(b + off)) {
		snprintf(why, whylen, "checksum mismatch in the header of the batch at byte %zu",
			 off);
		return -1;
	}
	out->max_term = 0;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = b + off + 16 + 16 * i;
		uint32_t size = ms_integ_get32(e + 12);

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
		if (ms_integ_get64(e) > out->max_term)
			out->max_term = ms_integ_get64(e);
		data += size;
	}
	at = off + 8 + hdr;
	if (len - at < data) {
		snprintf(why, whylen, "cut short at byte %zu (entries %" PRIu64 "-%" PRIu64 ")",
			 len, first, first + n - 1);
		return -1;
	}
	if (ms_integ_crc32_msb(b + at, data, 0) != ms_integ_get32(b + off + 4)) {
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
int ms_integ_check_closed(const char *dir, const struct seg *s, uint64_t *max_term, char *err,
			size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0, off = 8;
	uint64_t idx = s->first;
	char why[160] = "";
	int e;

	e = ms_integ_read_named(dir, s->name, "raft log segment", &b, &len, err, errlen);
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
	if (ms_integ_get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64, ms_integ_get64(b));
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
		uint64_t n = ms_integ_get64(b + off + 8);

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
int ms_integ_check_open(const char *dir, const struct seg *s, uint64_t first, uint64_t *n,
		      size_t *torn_at, size_t *torn_bytes, uint64_t *max_term, char *err,
		      size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0, off = 8, last_nz;
	char why[160] = "";
	int e;

	*n = 0;
	*torn_at = *torn_bytes = 0;
	e = ms_integ_read_named(dir, s->name, "raft log segment", &b, &len, err, errlen);
	if (e)
		return e;
	e = 0;
	if (len == 0 || ms_integ_all_zero(b, len))
		goto cleanup; /* allocated, never written: libraft removes it */
	e = -EUCLEAN;
	if (len < 8 || ms_integ_get64(b) != DISK_FORMAT) {
		snprintf(why, sizeof(why), "unknown format version %" PRIu64,
			 len < 8 ? 0 : ms_integ_get64(b));
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
	if (off >= len || ms_integ_all_zero(b + off, len - off))
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

