/* Start-up integrity of the data dir: its owner (member.id) and libraft's files, checked
 * before libraft opens them. */
#ifndef MS_INTEGRITY_H
#define MS_INTEGRITY_H

#include <stddef.h>
#include <stdint.h>

/* The file in the data dir that records which member owns it. */
#define MS_INTEGRITY_MEMBER_FILE "member.id"
/* The file in the raft dir (libraft ignores it) recording the last entry known committed
 * and on disk at the last clean stop. */
#define MS_INTEGRITY_COMMIT_FILE "committed"

/*
 * Checks that data dir `data_dir` (must exist) belongs to member `name` with `member_id` of
 * cluster `cluster_id`. The first start records them in DATA/member.id (written to a
 * temporary file, fsync'd, renamed, the dir fsync'd); later starts compare. Returns 0, or
 * -EPERM (another member's or cluster's dir), -EUCLEAN (member.id unreadable as written)
 * or another -errno, with a one-line reason in err (no trailing "refusing to start").
 */
int ms_integrity_member(const char *data_dir, const char *name, uint64_t member_id,
			uint64_t cluster_id, char *err, size_t errlen);

/*
 * Verifies libraft's files in raft dir `dir` as libraft 0.15 would load them, without
 * changing anything: every closed segment (format, both CRC32s of every batch, the entry
 * count its name promises), their continuity from the newest snapshot on, every snapshot
 * (.meta checksum, the data's LZ4 content checksum or zlib stream), metadata1/metadata2,
 * and no segment set aside as corrupt-* by an earlier start. An open segment may end in a
 * partly written batch (kill -9, power loss): that is what libraft drops when it loads it,
 * and is reported in `note` (one line, "" if nothing is dropped) rather than refused.
 * The log and snapshots must reach the entry the last clean stop recorded (see
 * ms_integrity_record_stop), so a missing newest segment is refused as well.
 * `members` (n_members ids) are the ones a vote may have gone to. Files are named in
 * messages as dir/name. Returns 0, -EUCLEAN (corrupt), -ENOENT (a file or range missing),
 * or another -errno (unreadable) with a one-line reason in err.
 */
int ms_integrity_check_raft(const char *dir, const uint64_t *members, size_t n_members,
			    char *note, size_t notelen, char *err, size_t errlen);

/*
 * Records in dir/committed, once libraft has closed dir after a clean stop, the lower of
 * `commit_index` and the last entry its closed segments and snapshots hold: a later start
 * refuses a log that ends before it. Returns 0 or -errno with a one-line reason in err.
 */
int ms_integrity_record_stop(const char *dir, uint64_t commit_index, char *err, size_t errlen);

#endif /* MS_INTEGRITY_H */
