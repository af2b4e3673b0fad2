/* Start-up integrity internals shared by raft/integrity*.c: libraft 0.15's on-disk format,
 * the raft dir's listing and the per-file checks; not an API. */
#ifndef MS_INTEGRITY_PRIV_H
#define MS_INTEGRITY_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct meta {
	bool present;
	uint64_t version, term, voted_for;
};

static inline uint64_t ms_integ_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint32_t ms_integ_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* libraft's CRC32: polynomial 0x04C11DB7 fed most significant bit first, no reflection,
 * no final xor; the running value is the seed of the next call. */
uint32_t ms_integ_crc32_msb(const uint8_t *p, size_t n, uint32_t crc);

/* Reads a whole file; -errno on failure. *out is the caller's to free. */
int ms_integ_read_all(const char *dir, const char *name, uint8_t **out, size_t *len);

/* read_all with the one-line message "cannot read WHAT dir/name: reason" on failure. */
int ms_integ_read_named(const char *dir, const char *name, const char *what, uint8_t **out,
		      size_t *len, char *err, size_t errlen);

/* Whether all n bytes are zero (the unwritten tail of a preallocated open segment). */
bool ms_integ_all_zero(const uint8_t *p, size_t n);

/* Replaces dir/name with text: a temporary file, fsync'd, renamed over it, the dir fsync'd.
 * 0 or -errno. */
int ms_integ_write_atomic(const char *dir, const char *name, const char *text, size_t len);

/* Reads `digits` decimal digits (0: as many as there are) at *s into v, moving *s on. */
bool ms_integ_parse_u64(const char **s, uint64_t *v, size_t digits);

/* "%016llu-%016llu", as libraft names a closed segment. */
bool ms_integ_parse_closed(const char *name, uint64_t *first, uint64_t *end);

/* Lists dir into l (segments sorted, snapshots sorted; owned by l, freed by the caller).
 * Returns 0 or -errno. */
int ms_integ_list_dir(const char *dir, struct listing *l);

/* A closed segment must hold exactly the entries its name says, in whole batches. */
int ms_integ_check_closed(const char *dir, const struct seg *s, uint64_t *max_term, char *err,
			size_t errlen);

/*
 * An open segment is preallocated with zeros and written batch by batch; libraft loads
 * batches up to the first that does not check out and drops the rest. That is a torn last
 * write only if nothing intact follows it: a bad batch followed by an intact one is damage
 * to acknowledged entries. Sets *n (entries kept), *torn_at and *torn_bytes (0: a clean end).
 */
int ms_integ_check_open(const char *dir, const struct seg *s, uint64_t first, uint64_t *n,
		      size_t *torn_at, size_t *torn_bytes, uint64_t *max_term, char *err,
		      size_t errlen);

/* The .meta file: format, CRC32 of what follows it, configuration index and length, the
 * encoded configuration. Then the data file, which libraft reads whole. */
int ms_integ_check_snapshot(const char *dir, const struct snap *s, char *err, size_t errlen);

/* metadataN holds format, version, term and vote; libraft writes version v to metadata1
 * when v is odd, metadata2 when even, and drops a file shorter than 32 bytes (a torn
 * write). It has no checksum: check what can be checked. */
int ms_integ_check_metadata(const char *dir, int n, const uint64_t *members, size_t n_members,
			  struct meta *m, char *err, size_t errlen);

#endif /* MS_INTEGRITY_PRIV_H */
