/* Maintenance.Snapshot: the whole store as one snapshot file (store/snapfile.h), streamed. */
#ifndef MS_API_SNAPSHOT_STREAM_H
#define MS_API_SNAPSHOT_STREAM_H

#include "api/kv_service.h"
#include "rpc/server.h"
#include "store/snapshot.h"

/* Routes Maintenance.Snapshot of `srv`: each call takes the parts (borrowed, alive as long
 * as the server) at the moment its request arrives and streams the file in 32 KiB chunks.
 * `log` (NULL: none) gets one line per snapshot sent. */
void snapshot_stream_register(struct ms_server *srv, struct kv_service *kv,
			      const struct ms_snap_parts *parts,
			      void (*log)(const char *fmt, ...));

/* The whole snapshot file of the parts as they are now into `out` (appended), with the
 * revisions of kv's store and `applied_index`. Returns 0, -EBUSY or -ENOMEM. */
int snapshot_stream_build(const struct ms_snap_parts *parts, uint64_t applied_index,
			  struct ms_buf *out);

#endif /* MS_API_SNAPSHOT_STREAM_H */
