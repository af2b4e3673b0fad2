/* Maintenance.MoveLeader: leadership handed to a chosen voting member, answered once it leads. */
#include "api/move_leader.h"

#include <errno.h>
#include <stdlib.h>

#include "api/reply.h"
#include "maintenance.pb-c.h"

/* etcd's words (etcdserver/api/v3rpc/rpctypes); the timeout is etcd's own error, which its
 * gRPC layer sends as Unknown. */
#define ERR_BAD_TRANSFEREE "etcdserver: bad leader transferee"
#define ERR_TRANSFER_TIMEOUT "etcdserver: request timed out, leader transfer took too long"
/* How often the leader is looked at while a transfer runs (etcd: every tick). */
#define MOVE_POLL_MS 10

struct move_ctx {
	struct kv_service *kv;
	uv_loop_t *loop;
};

struct move_call {
	uv_timer_t timer;
	struct grpc_call *call;
	struct move_ctx *ctx;
	uint64_t target;
	uint64_t deadline;
};

static void reply_ok(struct grpc_call *call, struct kv_service *kv)
{
	Etcdserverpb__MoveLeaderResponse resp = ETCDSERVERPB__MOVE_LEADER_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	resp.header = api_header(&a, kv, ms_mvcc_rev(kv->mvcc));
	api_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void move_done(struct move_call *mc)
{
	grpc_call_unref(mc->call);
	uv_close((uv_handle_t *)&mc->timer, on_timer_closed);
}

/* From the loop: the target leads (OK), time ran out, or the client left. */
static void on_poll(uv_timer_t *t)
{
	struct move_call *mc = t->data;
	struct kv_service *kv = mc->ctx->kv;

	if (grpc_call_cancelled(mc->call)) {
		move_done(mc);
	} else if (ms_raft_leader_id(kv->raft) == mc->target) {
		reply_ok(mc->call, kv);
		move_done(mc);
	} else if (uv_now(mc->ctx->loop) >= mc->deadline) {
		grpc_call_finish(mc->call, MS_GRPC_UNKNOWN, ERR_TRANSFER_TIMEOUT);
		move_done(mc);
	}
}

/* Watches the leader until the target leads; the call stays open (a reference) meanwhile. */
static void move_wait(struct grpc_call *call, struct move_ctx *ctx, uint64_t target)
{
	struct move_call *mc = calloc(1, sizeof(*mc));

	if (!mc) {
		grpc_call_fault(call, "out of memory for a leader transfer");
		return;
	}
	mc->call = call;
	mc->ctx = ctx;
	mc->target = target;
	mc->deadline = uv_now(ctx->loop) + ms_raft_request_timeout_ms(ctx->kv->raft);
	grpc_call_ref(call);
	uv_timer_init(ctx->loop, &mc->timer);
	mc->timer.data = mc;
	uv_timer_start(&mc->timer, on_poll, MOVE_POLL_MS, MOVE_POLL_MS);
}

static void move_leader(struct grpc_call *call, const uint8_t *msg, size_t len, void *arg)
{
	struct move_ctx *ctx = arg;
	struct kv_service *kv = ctx->kv;
	Etcdserverpb__MoveLeaderRequest *req =
		etcdserverpb__move_leader_request__unpack(NULL, len, msg);
	uint64_t target;
	int err;

	if (!req) {
		api_bad_request(call);
		return;
	}
	target = req->targetid;
	etcdserverpb__move_leader_request__free_unpacked(req, NULL);
	/* as etcd: only the leader takes it; moving to itself is done at once */
	if (kv->raft && ms_raft_leader_id(kv->raft) != kv->member_id) {
		grpc_call_finish(call, MS_GRPC_FAILED_PRECONDITION, MS_ERR_NOT_LEADER);
		return;
	}
	if (target == kv->member_id) {
		reply_ok(call, kv);
		return;
	}
	err = kv->raft ? ms_raft_move_leader(kv->raft, target) : -ENOENT;
	if (err == -ENOENT)
		grpc_call_finish(call, MS_GRPC_FAILED_PRECONDITION, ERR_BAD_TRANSFEREE);
	else if (err == -EPERM)
		grpc_call_finish(call, MS_GRPC_FAILED_PRECONDITION, MS_ERR_NOT_LEADER);
	else if (err && err != -EBUSY) /* a transfer under way: wait for its outcome too */
		grpc_call_fault(call, "cannot start a leader transfer");
	else
		move_wait(call, ctx, target);
}

void move_leader_register(struct ms_server *srv, struct kv_service *kv, uv_loop_t *loop)
{
	static struct move_ctx ctx;

	ctx = (struct move_ctx){ .kv = kv, .loop = loop };
	ms_server_handle(srv, MS_METHOD_MAINT_MOVE_LEADER, move_leader, &ctx);
}
