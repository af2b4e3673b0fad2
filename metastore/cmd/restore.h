/* --restore: a new member's data dir seeded from a snapshot file, and its load at start. */
#ifndef MS_CMD_RESTORE_H
#define MS_CMD_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/snapshot.h"

/* Where the seed lives in a data dir: the state the member's raft log starts from. */
#define MS_RESTORE_SEED "restore.snap"

/* Verifies `file` and copies it into a new `data_dir` (created; it must not exist or be
 * empty) as its seed, written to a temporary file, fsync'd and renamed. Returns 0, or -1
 * with one line (no newline) in err. */
int ms_restore_prepare(const char *file, const char *data_dir, char *err, size_t errlen);

/* Loads the seed of `data_dir` into the parts, if it has one (before the raft log is
 * replayed on top of it). Returns 1 (loaded; *rev gets its revision), 0 (no seed), or -1
 * with one line in err (unreadable, corrupt). */
int ms_restore_load(const char *data_dir, const struct ms_snap_parts *parts, int64_t now_ms,
		    int64_t *rev, char *err, size_t errlen);

#endif /* MS_CMD_RESTORE_H */
