/* The snapshot file Maintenance.Snapshot streams and --restore reads (format version 1). */
#ifndef MS_SNAPFILE_H
#define MS_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "store/buf.h"

/*
 * Layout, every integer little-endian:
 *   0   8  magic "MSSNAPF\n"
 *   8   4  format version (MS_SNAPFILE_VERSION)
 *   12  4  header length (MS_SNAPFILE_HDR)
 *   16  8  revision of the store when it was taken
 *   24  8  compact revision
 *   32  8  raft applied index of the member that took it (information only)
 *   40  8  payload length P
 *   48  P  payload: the store's own snapshot (store/snapshot.h, zlib-compressed sections)
 *   ...    zero bytes up to a multiple of 512
 *   end 32 sha256 of every byte before it
 * The trailer is etcd's: etcdctl checks that a saved file's size is 32 past a multiple of 512.
 */
#define MS_SNAPFILE_VERSION 1
#define MS_SNAPFILE_HDR 48
#define MS_SNAPFILE_ALIGN 512
#define MS_SNAPFILE_SHA 32

struct ms_snapfile_hdr {
	int64_t revision;
	int64_t compact_revision;
	uint64_t applied_index;
};

/* Appends the whole file for `payload` (borrowed) to `out`. Returns 0 or -ENOMEM. */
int ms_snapfile_encode(const struct ms_snapfile_hdr *h, const uint8_t *payload, size_t len,
		       struct ms_buf *out);

/*
 * Verifies a whole file: size, checksum, magic, version, lengths, padding. On 0, *h is
 * filled and *payload (pointing into `file`) and *plen give the store's snapshot. Returns
 * -EBADMSG (checksum mismatch), -EPROTONOSUPPORT (another format version) or -EINVAL
 * (anything else); *why then names the reason (static storage).
 */
int ms_snapfile_decode(const uint8_t *file, size_t len, struct ms_snapfile_hdr *h,
		       const uint8_t **payload, size_t *plen, const char **why);

#endif /* MS_SNAPFILE_H */
