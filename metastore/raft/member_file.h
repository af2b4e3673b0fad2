/* The data dir's copy of the member table (DATA/members): what a restart starts from. */
#ifndef MS_MEMBER_FILE_H
#define MS_MEMBER_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/members.h"

#define MS_MEMBERS_FILE "members"

/* What the file holds besides the table. */
struct ms_member_file {
	uint64_t self_id;    /* this member's id */
	uint64_t cluster_id;
	bool joined;         /* it joined a running cluster: never bootstrapped */
};

/* Replaces DATA/members with f and m (a temporary file, fsync'd, renamed). 0 or -errno. */
int ms_member_file_write(const char *data_dir, const struct ms_member_file *f,
			 const struct ms_members *m);

/* Reads DATA/members into f and m. 0, -ENOENT (no file: a data dir of an older version, or
 * a new one), -EUCLEAN (it does not decode) or another -errno. */
int ms_member_file_read(const char *data_dir, struct ms_member_file *f, struct ms_members *m);

#endif /* MS_MEMBER_FILE_H */
