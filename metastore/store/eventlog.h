/* Event log of the MVCC store: every change in revision order, for watchers. */
#ifndef MS_EVENTLOG_H
#define MS_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/buf.h"
#include "store/keyindex.h"
#include "store/mvcc.h"

/*
 * An event names one revision of one key in the key index, by its absolute position in
 * the key's history (ms_key.dropped + index), so it stays valid while the index compacts.
 * Positions in the log are sequence numbers that never shift.
 */
struct ms_eventlog;

/* Creates an empty log. NULL on ENOMEM. */
struct ms_eventlog *ms_eventlog_new(void);

/* Frees the log (not the keys it names); NULL is allowed. */
void ms_eventlog_free(struct ms_eventlog *l);

/* Makes room for `n` more events, so that the next n pushes cannot fail. 0 or -ENOMEM. */
int ms_eventlog_reserve(struct ms_eventlog *l, size_t n);

/* Logs k's newest revision, just appended at revision `rev` (never below the last one
 * logged). Room must have been reserved. */
void ms_eventlog_push(struct ms_eventlog *l, struct ms_key *k, int64_t rev);

/*
 * Drops what a compaction at `rev` removes. Must run BEFORE ms_keyindex_compact(rev): it
 * reads the histories to tell which events at `rev` itself survive (those whose revision
 * is the key's newest at or below `rev` and not a tombstone).
 */
void ms_eventlog_compact(struct ms_eventlog *l, int64_t rev);

/* Position of the first event with revision >= rev (the end of the log if none). */
uint64_t ms_eventlog_seek(const struct ms_eventlog *l, int64_t rev);

/* Copies up to `max` events from *pos on and advances *pos past them. Returns the number
 * copied or -MS_MVCC_ECOMPACTED if *pos was compacted away. */
int64_t ms_eventlog_read(const struct ms_eventlog *l, uint64_t *pos, struct ms_event *out,
			 size_t max);

/* Appends the log (positions, and each event's key and revision) to `out` for a snapshot.
 * Returns 0 or -ENOMEM. */
int ms_eventlog_dump(const struct ms_eventlog *l, struct ms_buf *out);

/* Loads a dumped log into an empty `l`, naming keys of `ix` (already loaded). Returns 0,
 * -EINVAL (malformed or naming a revision ix lacks) or -ENOMEM. */
int ms_eventlog_load(struct ms_eventlog *l, const struct ms_keyindex *ix, struct ms_reader *r);

#endif /* MS_EVENTLOG_H */
