/* The replicated membership table: members (id, name, peer and client address, learner),
 * removed ids, the changes the log carries, and their encoding. */
#ifndef MS_MEMBERS_H
#define MS_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raftnode.h"
#include "store/buf.h"
#include "store/codec.h"

/* Members at once (libraft has no limit; the agent's node table has 8 slots). */
#define MS_MEMBERS_MAX 16
/* Removed ids remembered so that they are never used again, nor let in. */
#define MS_MEMBERS_MAX_REMOVED 1024

struct ms_members {
	struct ms_raft_peer v[MS_MEMBERS_MAX];
	size_t n;
	uint64_t removed[MS_MEMBERS_MAX_REMOVED];
	size_t n_removed;
};

/* What a membership entry of the log does (the op of struct ms_member_change). */
enum ms_member_op {
	MS_MEMBER_ADD = 1,     /* id, address, learner: a member not started yet */
	MS_MEMBER_REMOVE = 2,  /* id */
	MS_MEMBER_UPDATE = 3,  /* id, address: new peer address */
	MS_MEMBER_PROMOTE = 4, /* id: a learner becomes a voter */
	MS_MEMBER_PUBLISH = 5, /* id, name, client: what a started member tells about itself */
};

struct ms_member_change {
	unsigned op;
	uint64_t id;
	bool learner;
	char address[128];
	char name[64];
	char client[64];
};

/* Fills m with the n members of seed (at most MS_MEMBERS_MAX) and no removed id. */
void ms_members_init(struct ms_members *m, const struct ms_raft_peer *seed, size_t n);

/* The member with `id`, or NULL (borrowed from m). */
struct ms_raft_peer *ms_members_find(const struct ms_members *m, uint64_t id);

/* The member whose peer address is `address`, or NULL. */
struct ms_raft_peer *ms_members_by_address(const struct ms_members *m, const char *address);

/* Whether `id` was a member and was removed. */
bool ms_members_was_removed(const struct ms_members *m, uint64_t id);

/* Members that started (published their name), and voters (not learners). */
size_t ms_members_started(const struct ms_members *m);
size_t ms_members_voters(const struct ms_members *m);

/*
 * Applies one change, the same way on every member (deterministic; replaying a change
 * applied already leaves the table as it was). Returns 0, 1 (an add of the member as it is
 * already: nothing changed), -ENOENT (no such member, or a
 * removed id to add), -EEXIST (the id or address is a member's already), -ENOSPC (table
 * full) or -EINVAL (unknown op, a promote of a voter).
 */
int ms_members_apply(struct ms_members *m, const struct ms_member_change *c);

/* A change as the body of a raft entry. 0 or -ENOMEM. */
int ms_member_change_encode(const struct ms_member_change *c, struct ms_buf *out);

/* Reads a change encoded by ms_member_change_encode. 0 or -EINVAL (truncated, oversized). */
int ms_member_change_decode(const uint8_t *p, size_t len, struct ms_member_change *c);

/* Appends the whole table (versioned) to out. 0 or -ENOMEM. */
int ms_members_encode(const struct ms_members *m, struct ms_buf *out);

/* Replaces m with a table encoded by ms_members_encode, read from r (m unchanged on
 * failure). 0 or -EINVAL. */
int ms_members_decode(struct ms_members *m, struct ms_reader *r);

/*
 * "http(s)://IPv4:PORT" (an optional trailing '/') of len bytes into "IPv4:PORT" in out;
 * *https tells the scheme. 0 or -EINVAL.
 */
int ms_members_parse_url(const char *url, size_t len, char *out, size_t outlen, bool *https);

#endif /* MS_MEMBERS_H */
