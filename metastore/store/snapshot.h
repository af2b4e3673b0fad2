/* Whole-store snapshots for raft: MVCC history, leases, auth and alarms, zlib-compressed. */
#ifndef MS_SNAPSHOT_H
#define MS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "store/alarm.h"
#include "store/buf.h"
#include "store/lease.h"
#include "store/mvcc.h"

/* What a snapshot holds; every part is borrowed. `extra` carries one more opaque section
 * (auth state) when its functions are set. */
struct ms_snap_parts {
	struct ms_mvcc *mvcc;
	struct ms_lease_table *leases;
	int (*extra_dump)(void *arg, struct ms_buf *out);
	int (*extra_load)(void *arg, const uint8_t *data, size_t len);
	void *extra_arg;
	struct ms_alarms *alarms; /* NULL: none kept (an empty section is written) */
};

/* Appends a compressed snapshot of the parts to `out`. Returns 0, -EBUSY or -ENOMEM. */
int ms_snapshot_take(const struct ms_snap_parts *p, struct ms_buf *out);

/* The two halves of ms_snapshot_take: serializing reads the parts (on their thread);
 * compressing touches only the bytes, so it may run on another thread. Each appends to its
 * output and returns 0, -EBUSY or -ENOMEM. */
int ms_snapshot_serialize(const struct ms_snap_parts *p, struct ms_buf *raw);
int ms_snapshot_compress(const uint8_t *raw, size_t raw_len, struct ms_buf *out);

/* Replaces the parts' state with a snapshot; leases expire at now_ms + their TTL (as on a
 * leader change) and their keys are re-attached from the store. Returns 0, -EINVAL
 * (malformed) or -ENOMEM; after a failure past decompression the state is undefined, which
 * the caller treats as fatal. */
int ms_snapshot_restore(const struct ms_snap_parts *p, const uint8_t *data, size_t len,
			int64_t now_ms);

#endif /* MS_SNAPSHOT_H */
