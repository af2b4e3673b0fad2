/* A started member's readiness: it serves local reads once it has applied what its cluster had committed, as etcd serves clients once its own publish applied. */
#include <errno.h>

#include "raft/raftnode_priv.h"

/* How soon after a question that got no index a follower asks the leader again. */
#define READY_RETRY_MS 100

bool ms_raft_ready(const struct ms_raft *rn)
{
	/* a single voter that leads applied its whole log when it started */
	return !rn || rn->ready || (rn->members.n == 1 && raft_state(rn->raft) == RAFT_LEADER);
}

void ms_raft_read_index_serve(struct grpc_call *call, const uint8_t *msg, size_t len,
			      void *ctx)
{
	static const uint8_t empty[GRPC_FRAME_HDR]; /* one empty message */

	(void)msg;
	(void)len;
	(void)ctx;
	if (grpc_call_send_framed(call, empty, sizeof(empty)) == -ENOMEM) {
		grpc_call_fault(call, "out of memory answering a read index");
		return;
	}
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void on_read_index(void *arg, const struct ms_forward_reply *reply)
{
	struct ms_raft *rn = arg;

	rn->ready_asking = false;
	/* an answer from a member that did not forward (an old one) carries no index: asked
	 * again, as after a failure */
	if (reply->status == MS_GRPC_OK && reply->applied_index)
		rn->ready_index = reply->applied_index;
}

/* From now on local reads are served: what waited for it is told. */
static void become_ready(struct ms_raft *rn)
{
	rn->ready = true;
	if (rn->ready_fn)
		rn->ready_fn(rn->ready_arg);
}

void ms_raft_ready_poll(struct ms_raft *rn, bool leading)
{
	uint64_t now = uv_now(rn->loop);
	static const uint8_t none[1];

	if (rn->ready || rn->stopping)
		return;
	/* a leader serves once it applied every entry its log held when elected (caught_up) */
	if (leading || ms_raft_ready(rn)) {
		become_ready(rn);
		return;
	}
	if (rn->ready_index) {
		if (raft_last_applied(rn->raft) >= rn->ready_index)
			become_ready(rn);
		return;
	}
	if (rn->ready_asking || (rn->ready_asked_ms && now - rn->ready_asked_ms < READY_RETRY_MS))
		return;
	/* the leader answers after a barrier of its term applied: its applied index then is at
	 * least every entry committed before this member asked, so at least all it had applied
	 * before it (re)started */
	if (ms_raft_call_leader(rn, GRPC_METHOD_READ_INDEX, NULL, none, 0, on_read_index, rn))
		return; /* no leader known yet: asked at the next poll */
	rn->ready_asking = true;
	rn->ready_asked_ms = now;
}
