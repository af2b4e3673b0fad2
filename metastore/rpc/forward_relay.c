/* Relaying a forwarded client call: the leader's answer goes to the client once this member
 * applied what the leader had applied when it answered (read-your-writes on a follower). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/forward_priv.h"

/* A client call whose answer came back and may wait for this member's apply. */
struct relay {
	struct grpc_call *call; /* referenced until the answer is relayed */
	struct ms_forward *fw;
	uint32_t status;
	char *message;
	struct ms_buf resp;
};

static void relay_free(struct relay *rl)
{
	grpc_call_unref(rl->call);
	ms_buf_free(&rl->resp);
	free(rl->message);
	free(rl);
}

static void relay_send(struct relay *rl)
{
	struct grpc_call *call = rl->call;

	if (rl->resp.len && grpc_call_send_framed(call, rl->resp.data, rl->resp.len) == -ENOMEM)
		grpc_call_fault(call, "out of memory relaying a response");
	grpc_call_finish(call, rl->status, rl->message);
	relay_free(rl);
}

static void on_applied(void *arg, int status)
{
	struct relay *rl = arg;

	if (status) {
		/* the answer may say done what this member does not show yet: no answer */
		grpc_call_finish(rl->call, MS_GRPC_UNAVAILABLE,
				 status == -ETIMEDOUT ? MS_ERR_REQUEST_TIMEOUT :
							MS_ERR_FORWARD_STOPPED);
		relay_free(rl);
		return;
	}
	relay_send(rl);
}

static void on_answer(void *arg, const struct ms_forward_reply *reply)
{
	struct relay *rl = arg;
	struct ms_forward *fw = rl->fw;
	int rv = 1;

	rl->status = reply->status;
	if ((reply->message && !(rl->message = strdup(reply->message))) ||
	    ms_buf_append(&rl->resp, reply->framed, reply->framed_len)) {
		grpc_call_fault(rl->call, "out of memory relaying a response");
		relay_free(rl);
		return;
	}
	if (reply->applied_index && fw->wait_fn && !grpc_call_cancelled(rl->call))
		rv = fw->wait_fn(fw->wait_ctx, reply->applied_index, on_applied, rl);
	if (rv == 1) {
		relay_send(rl);
	} else if (rv == -ECANCELED) {
		on_applied(rl, rv);
	} else if (rv < 0) {
		grpc_call_fault(rl->call, "out of memory waiting to relay a response");
		relay_free(rl);
	}
}

void ms_forward_set_wait(struct ms_forward *fw, ms_forward_wait_fn fn, void *ctx)
{
	fw->wait_fn = fn;
	fw->wait_ctx = ctx;
}

int ms_forward_call(struct ms_forward *fw, const char *target, struct grpc_call *call,
		    const struct ms_forward_cred *cred, const uint8_t *msg, size_t len)
{
	struct relay *rl = calloc(1, sizeof(*rl));
	int rv;

	if (!rl)
		return -ENOMEM;
	rl->call = call;
	rl->fw = fw;
	grpc_call_ref(call);
	rv = ms_forward_unary(fw, target, call->method, cred, msg, len, on_answer, rl);
	if (rv)
		relay_free(rl);
	return rv;
}
