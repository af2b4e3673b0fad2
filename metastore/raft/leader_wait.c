/* Calls a member holds while it knows no leader to forward them to, or until it is ready, as etcd holds clients until it has one and is ready. */
#include <errno.h>
#include <stdlib.h>

#include "raft/raftnode_priv.h"

uint64_t ms_raft_leader_wait_ms(const struct ms_raft *rn)
{
	return ms_raft_request_timeout_ms(rn);
}

/* Appends w to the held calls. */
static void wait_push(struct ms_raft *rn, struct ms_leader_wait *w)
{
	w->next = NULL;
	if (rn->leader_waits_tail)
		rn->leader_waits_tail->next = w;
	else
		rn->leader_waits = w;
	rn->leader_waits_tail = w;
}

static void wait_free(struct ms_leader_wait *w)
{
	grpc_call_unref(w->call);
	ms_buf_free(&w->msg);
	free(w);
}

int ms_raft_leader_wait_add(struct ms_raft *rn, struct grpc_call *call, const uint8_t *msg,
			    size_t len, bool for_ready)
{
	uint64_t now = uv_now(rn->loop);
	uint64_t deadline = rn->redispatch_deadline ? rn->redispatch_deadline :
				now + ms_raft_leader_wait_ms(rn);
	struct ms_leader_wait *w;

	if (deadline <= now)
		return -ETIMEDOUT;
	w = calloc(1, sizeof(*w));
	if (!w || ms_buf_append(&w->msg, msg, len)) {
		if (w)
			ms_buf_free(&w->msg);
		free(w);
		return -ENOMEM;
	}
	w->call = call;
	w->deadline_ms = deadline;
	w->for_ready = for_ready;
	grpc_call_ref(call);
	wait_push(rn, w);
	return 0;
}

void ms_raft_leader_waits_run(struct ms_raft *rn)
{
	struct ms_leader_wait *w = rn->leader_waits;
	bool led = !rn->stopping && (raft_state(rn->raft) == RAFT_LEADER || ms_raft_leader_client(rn));
	bool ready = !rn->stopping && ms_raft_ready(rn);
	uint64_t now = uv_now(rn->loop);

	if (!w)
		return;
	/* the handlers run with an empty list: one that has to wait again joins a new one */
	rn->leader_waits = rn->leader_waits_tail = NULL;
	while (w) {
		struct ms_leader_wait *next = w->next;
		bool go = w->for_ready ? ready : led;

		if (grpc_call_cancelled(w->call)) {
			wait_free(w);
		} else if (go) {
			rn->redispatch_deadline = w->deadline_ms;
			grpc_call_redispatch(w->call, w->msg.data, w->msg.len);
			rn->redispatch_deadline = 0;
			wait_free(w);
		} else if (w->deadline_ms <= now) {
			grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE,
					 !ms_raft_leader_id(rn) ? MS_ERR_NO_LEADER :
					 w->for_ready ? MS_ERR_REQUEST_TIMEOUT : MS_ERR_NOT_LEADER);
			wait_free(w);
		} else {
			wait_push(rn, w);
		}
		w = next;
	}
}

void ms_raft_leader_waits_fail(struct ms_raft *rn, const char *why)
{
	struct ms_leader_wait *w = rn->leader_waits;

	rn->leader_waits = rn->leader_waits_tail = NULL;
	while (w) {
		struct ms_leader_wait *next = w->next;

		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE, why);
		wait_free(w);
		w = next;
	}
}
