/* Leadership transfer (Maintenance.MoveLeader) through libraft's raft_transfer. */
#include <errno.h>
#include <stdlib.h>

#include "raft/raftnode_priv.h"

/* libraft's callback: the request is ours again; what came of it is read from raft_leader,
 * from the loop, by whoever waits (nothing here calls into libraft). */
static void on_transfer(struct raft_transfer *req)
{
	free(req);
}

int ms_raft_move_leader(struct ms_raft *rn, uint64_t target)
{
	struct raft_transfer *req;
	int rv;

	if (rn->raft->state != RAFT_LEADER)
		return -EPERM;
	if (rn->raft->transfer)
		return -EBUSY;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	rv = raft_transfer(rn->raft, req, target, on_transfer);
	if (rv == 0)
		return 0;
	free(req);
	switch (rv) {
	case RAFT_BADID:
	case RAFT_NOTFOUND:
		return -ENOENT;
	case RAFT_NOTLEADER:
		return -EPERM;
	case RAFT_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}
