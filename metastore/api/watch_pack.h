/* Watch events packed once for every watcher that sends them, and WatchResponses built from those bytes. */
#ifndef MS_WATCH_PACK_H
#define MS_WATCH_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.pb-c.h"
#include "store/buf.h"
#include "store/mvcc.h"

struct watch_pack;

/* An empty cache. NULL on ENOMEM. */
struct watch_pack *watch_pack_new(void);

/* Frees the cache; NULL is allowed. */
void watch_pack_free(struct watch_pack *p);

/*
 * Appends the event at log position pos to out as one `events` field of a WatchResponse
 * (field 11: tag, length, the packed mvccpb.Event, with prev_kv when with_prev), packing it
 * only when the cache does not hold it already: every watcher of a key sends the same
 * bytes. Returns 0 or -ENOMEM (out unchanged then).
 */
int watch_pack_event(struct watch_pack *p, uint64_t pos, const struct ms_event *ev,
		     bool with_prev, struct ms_buf *out);

/*
 * Replaces out with one gRPC-framed WatchResponse: r (its events left empty) packed, then
 * the events fields of `events` (from watch_pack_event): the bytes protobuf-c would give r
 * holding those events, as events is its last field. Returns 0, -ENOMEM or -EMSGSIZE.
 */
int watch_pack_response(const Etcdserverpb__WatchResponse *r, const struct ms_buf *events,
			struct ms_buf *out);

#endif /* MS_WATCH_PACK_H */
