/* Keep-alive streams on a follower: each keep-alive is renewed by the leader (as etcd's
 * follower forwards it), one at a time, and its answer is sent on the client's stream. */
#include "api/lease_forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* etcd's follower throttles its retries to the leader by this much (ms); a keep-alive at
 * the leader is checked as often for a change of leader. */
#define TICK_MS 50

struct ka_msg {
	struct ka_msg *next;
	size_t len;
	uint8_t data[];
};

/* One keep-alive stream's forwarding state (call->user). */
struct ka_stream {
	struct grpc_call *call; /* referenced while this lives */
	struct lease_forward_env env;
	struct ka_msg *head, **tail;
	uint64_t deadline_ms; /* of the head request */
	uv_timer_t tick;      /* retries, and the watch on the leader of a sent request */
	unsigned gen;         /* of the sent request whose answer counts */
	unsigned outstanding; /* sent requests not answered yet (stale ones included) */
	uint64_t sent_to;     /* the leader the counted request went to */
	bool inflight;        /* the head request is at the leader */
	bool retrying;        /* the head request waits for the next tick */
	bool half_closed;     /* finish once the queue is empty */
	bool closed;          /* the stream is gone */
};

/* A sent request: its answer counts only while its generation is the stream's. */
struct ka_sent {
	struct ka_stream *ka;
	unsigned gen;
};

static void on_timer_closed(uv_handle_t *h)
{
	struct ka_stream *ka = h->data;

	grpc_call_unref(ka->call);
	free(ka);
}

/* Frees the state once the stream is gone and no answer can arrive any more. */
static void maybe_free(struct ka_stream *ka)
{
	if (!ka->closed || ka->outstanding)
		return;
	while (ka->head) {
		struct ka_msg *m = ka->head;

		ka->head = m->next;
		free(m);
	}
	uv_close((uv_handle_t *)&ka->tick, on_timer_closed);
}

static void pop(struct ka_stream *ka)
{
	struct ka_msg *m = ka->head;

	ka->head = m->next;
	if (!ka->head)
		ka->tail = &ka->head;
	free(m);
	ka->deadline_ms = uv_now(ka->env.loop) + ms_raft_request_timeout_ms(ka->env.rn);
}

static void end_stream(struct ka_stream *ka, uint32_t code, const char *why)
{
	grpc_call_finish(ka->call, code, why);
	while (ka->head)
		pop(ka);
}

static void pump(struct ka_stream *ka);

/* A request at a leader that is no longer the one (paused, cut off, deposed) is sent again
 * to the new one; its old answer no longer counts. Renewing twice does no harm. */
static void on_tick(uv_timer_t *t)
{
	struct ka_stream *ka = t->data;

	if (ka->inflight && ms_raft_leader_id(ka->env.rn) != ka->sent_to) {
		ka->gen++;
		ka->inflight = false;
	}
	ka->retrying = false;
	if (!ka->inflight)
		pump(ka);
	if (!ka->inflight && !ka->retrying)
		uv_timer_stop(t);
}

static void tick_start(struct ka_stream *ka)
{
	if (!uv_is_active((uv_handle_t *)&ka->tick))
		uv_timer_start(&ka->tick, on_tick, TICK_MS, TICK_MS);
}

/* The head request found no leader to take it: again soon, or give up as etcd does. */
static void retry_later(struct ka_stream *ka)
{
	if (uv_now(ka->env.loop) >= ka->deadline_ms) {
		end_stream(ka, MS_GRPC_UNAVAILABLE, ms_raft_leader_id(ka->env.rn) ?
							 MS_ERR_REQUEST_TIMEOUT : MS_ERR_NO_LEADER);
		return;
	}
	ka->retrying = true;
	tick_start(ka);
}

static void on_renewed(void *arg, const struct ms_forward_reply *reply)
{
	struct ka_sent *sent = arg;
	struct ka_stream *ka = sent->ka;
	bool stale = sent->gen != ka->gen;

	free(sent);
	ka->outstanding--;
	if (ka->closed) {
		maybe_free(ka);
		return;
	}
	if (stale || ka->call->finished)
		return;
	ka->inflight = false;
	if (reply->status == MS_GRPC_UNAVAILABLE) {
		/* unreachable, or no longer the leader: the next leader renews it */
		retry_later(ka);
		return;
	}
	if (reply->status != MS_GRPC_OK) {
		end_stream(ka, reply->status, reply->message);
		return;
	}
	if (reply->framed_len && grpc_call_send_framed(ka->call, reply->framed,
						       reply->framed_len) == -ENOMEM) {
		grpc_call_fault(ka->call, "out of memory relaying a keep-alive");
		return;
	}
	pop(ka);
	pump(ka);
}

/* Sends request m to the leader as the stream's current generation. Returns 0 or -errno
 * (see ms_raft_call_leader). */
static int send_head(struct ka_stream *ka, const struct ka_msg *m)
{
	struct ka_sent *sent = malloc(sizeof(*sent));
	int rv;

	if (!sent)
		return -ENOMEM;
	*sent = (struct ka_sent){ .ka = ka, .gen = ++ka->gen };
	ka->sent_to = ms_raft_leader_id(ka->env.rn);
	rv = ms_raft_call_leader(ka->env.rn, GRPC_METHOD_LEASE_RENEW, ka->call, m->data,
				 m->len, on_renewed, sent);
	if (rv)
		free(sent);
	else
		ka->outstanding++;
	return rv;
}

/* Serves the queue's head unless it is being served, in request order. */
static void pump(struct ka_stream *ka)
{
	while (ka->head && !ka->inflight && !ka->retrying && !ka->call->finished) {
		struct ka_msg *m = ka->head;
		int rv;

		if (ms_raft_is_leader(ka->env.rn)) {
			ka->env.renew(ka->call, m->data, m->len, ka->env.renew_ctx);
			pop(ka);
			continue;
		}
		rv = send_head(ka, m);
		if (rv == 0) {
			ka->inflight = true;
			tick_start(ka);
		} else if (rv == -ECANCELED) {
			end_stream(ka, MS_GRPC_UNAVAILABLE, MS_ERR_STOPPED);
		} else if (rv == -ENOMEM) {
			grpc_call_fault(ka->call, "out of memory forwarding a keep-alive");
		} else {
			retry_later(ka);
		}
	}
	if (!ka->head && ka->half_closed)
		grpc_call_finish(ka->call, MS_GRPC_OK, NULL);
}

static struct ka_stream *stream_state(struct grpc_call *call, const struct lease_forward_env *env)
{
	struct ka_stream *ka = call->user;

	if (ka)
		return ka;
	ka = calloc(1, sizeof(*ka));
	if (!ka)
		return NULL;
	ka->call = call;
	ka->env = *env;
	ka->tail = &ka->head;
	uv_timer_init(env->loop, &ka->tick);
	ka->tick.data = ka;
	grpc_call_ref(call);
	call->user = ka;
	return ka;
}

int lease_forward_keep_alive(struct grpc_call *call, const uint8_t *msg, size_t len,
			     const struct lease_forward_env *env)
{
	struct ka_stream *ka = stream_state(call, env);
	struct ka_msg *m = ka ? malloc(sizeof(*m) + len) : NULL;

	if (!m) {
		grpc_call_fault(call, "out of memory forwarding a keep-alive");
		return -ENOMEM;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, msg, len);
	if (!ka->head)
		ka->deadline_ms = uv_now(env->loop) + ms_raft_request_timeout_ms(env->rn);
	*ka->tail = m;
	ka->tail = &m->next;
	pump(ka);
	return 0;
}

bool lease_forward_half_close(struct grpc_call *call)
{
	struct ka_stream *ka = call->user;

	if (!ka)
		return false;
	ka->half_closed = true;
	pump(ka);
	return true;
}

void lease_forward_closed(struct grpc_call *call)
{
	struct ka_stream *ka = call->user;

	if (!ka)
		return;
	ka->closed = true;
	ka->retrying = ka->inflight = false;
	uv_timer_stop(&ka->tick);
	maybe_free(ka);
}
