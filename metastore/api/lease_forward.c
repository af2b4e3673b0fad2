/* Keep-alive streams on a follower: each keep-alive is renewed by the leader (as etcd's
 * follower forwards it), one at a time, and its answer is sent on the client's stream. */
#include "api/lease_forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* etcd's follower throttles its retries to the leader by this much (ms). */
#define RETRY_MS 50

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
	uv_timer_t retry;
	bool inflight;    /* the head request is at the leader */
	bool retrying;    /* the retry timer runs */
	bool half_closed; /* finish once the queue is empty */
	bool closed;      /* the stream is gone */
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
	if (!ka->closed || ka->inflight)
		return;
	while (ka->head) {
		struct ka_msg *m = ka->head;

		ka->head = m->next;
		free(m);
	}
	uv_close((uv_handle_t *)&ka->retry, on_timer_closed);
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

static void on_retry(uv_timer_t *t)
{
	struct ka_stream *ka = t->data;

	ka->retrying = false;
	pump(ka);
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
	uv_timer_start(&ka->retry, on_retry, RETRY_MS, 0);
}

static void on_renewed(void *arg, const struct ms_forward_reply *reply)
{
	struct ka_stream *ka = arg;

	ka->inflight = false;
	if (ka->closed || ka->call->finished) {
		maybe_free(ka);
		return;
	}
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
		rv = ms_raft_call_leader(ka->env.rn, GRPC_METHOD_LEASE_RENEW, ka->call->token,
					 m->data, m->len, on_renewed, ka);
		if (rv == 0) {
			ka->inflight = true;
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
	uv_timer_init(env->loop, &ka->retry);
	ka->retry.data = ka;
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
	if (ka->retrying) {
		uv_timer_stop(&ka->retry);
		ka->retrying = false;
	}
	maybe_free(ka);
}
