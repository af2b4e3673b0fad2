/* etcdserverpb.Lease service: grant, revoke, keep-alive stream, time-to-live, list, expiry. */
#include "api/lease_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/propose.h"
#include "api/quota.h"
#include "api/reply.h"
#include "api/lease_forward.h"
#include "rpc.pb-c.h"

/* How often expiry is checked when no lease is due sooner (ms). */
#define LEASE_TICK_MS 500
#define LEASE_EXPIRE_BATCH 64
/* A proposed expiry not applied after this long is proposed again (ms). */
#define LEASE_RETRY_MS 1000
/* etcd gives leases an election timeout of slack on a leader change (ms). */
#define LEASE_PROMOTE_EXTRA_MS 1000

struct lease_service {
	struct kv_service *kv;
	uv_timer_t timer;
};


static int64_t now_ms(const struct lease_service *ls)
{
	return (int64_t)uv_now(ls->timer.loop);
}

/*
 * Expiry is the leader's: with raft it proposes each expiry, which every node applies in
 * log order (apply/apply_lease.c); followers only keep their timer going.
 */
static void on_tick(uv_timer_t *h)
{
	struct lease_service *ls = h->data;
	struct ms_raft *rn = ls->kv->raft;
	int64_t ids[LEASE_EXPIRE_BATCH], next;
	size_t n;

	if (!ms_raft_is_leader(rn))
		goto rearm;
	do {
		n = ms_lease_expired(ls->kv->leases, now_ms(ls), ids, LEASE_EXPIRE_BATCH);
		for (size_t i = 0; i < n; i++) {
			Metastore__Entry e = METASTORE__ENTRY__INIT;
			Metastore__LeaseExpire x = METASTORE__LEASE_EXPIRE__INIT;

			x.id = ids[i];
			e.op_case = METASTORE__ENTRY__OP_LEASE_EXPIRE;
			e.lease_expire = &x;
			api_propose_internal(ls->kv, &e);
			/* not again until that entry had time to apply (or failed: retried then) */
			if (rn)
				ms_lease_postpone(ls->kv->leases, ids[i],
						  now_ms(ls) + LEASE_RETRY_MS);
		}
	} while (n == LEASE_EXPIRE_BATCH);
rearm:
	next = ms_lease_next_deadline(ls->kv->leases) - now_ms(ls);
	uv_timer_start(&ls->timer, on_tick,
		       next < 1 ? 1 : next < LEASE_TICK_MS ? (uint64_t)next : LEASE_TICK_MS, 0);
}

/* After a grant applied (maybe inside a libraft callback): the timer may sleep longer than
 * the new lease lives, so it fires from the loop at once, where proposing is allowed. */
static void on_granted(void *arg)
{
	struct lease_service *ls = arg;

	if (!uv_is_closing((uv_handle_t *)&ls->timer))
		uv_timer_start(&ls->timer, on_tick, 0, 0);
}

void lease_service_bind(struct lease_service *ls, struct ms_applier *ap)
{
	ap->lease_granted = on_granted;
	ap->lease_arg = ls;
}

/* A new leader restarts every lease's clock: keep-alives went to the old leader. */
static void on_leader(void *arg)
{
	struct lease_service *ls = arg;

	ms_lease_promote(ls->kv->leases, now_ms(ls), LEASE_PROMOTE_EXTRA_MS);
	on_tick(&ls->timer);
}

int lease_service_new(uv_loop_t *loop, struct kv_service *kv, struct lease_service **out)
{
	struct lease_service *ls;

	*out = NULL;
	if (!kv->leases)
		return -EINVAL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->kv = kv;
	uv_timer_init(loop, &ls->timer);
	ls->timer.data = ls;
	uv_timer_start(&ls->timer, on_tick, LEASE_TICK_MS, 0);
	*out = ls;
	return 0;
}

void lease_service_stop(struct lease_service *ls)
{
	if (!ls)
		return;
	uv_timer_stop(&ls->timer);
	uv_close((uv_handle_t *)&ls->timer, NULL);
}

void lease_service_free(struct lease_service *ls)
{
	free(ls);
}

static void lease_grant(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	Etcdserverpb__LeaseGrantRequest *req = etcdserverpb__lease_grant_request__unpack(NULL, len, msg);
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	Metastore__LeaseGrant g = METASTORE__LEASE_GRANT__INIT;

	if (!req) {
		api_bad_request(call);
		return;
	}
	g.request = req;
	g.max_leases = ls->kv->max_leases;
	e.op_case = METASTORE__ENTRY__OP_LEASE_GRANT;
	e.lease_grant = &g;
	if (!api_quota_refuse(ls->kv, call, MS_MVCC_REV_BYTES))
		api_propose(ls->kv, call, &e, msg, len);
	etcdserverpb__lease_grant_request__free_unpacked(req, NULL);
}

static void lease_revoke(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	Etcdserverpb__LeaseRevokeRequest *req = etcdserverpb__lease_revoke_request__unpack(NULL, len, msg);
	Metastore__Entry e = METASTORE__ENTRY__INIT;

	if (!req) {
		api_bad_request(call);
		return;
	}
	e.op_case = METASTORE__ENTRY__OP_LEASE_REVOKE;
	e.lease_revoke = req;
	api_propose(ls->kv, call, &e, msg, len);
	etcdserverpb__lease_revoke_request__free_unpacked(req, NULL);
}

static void lease_time_to_live(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	Etcdserverpb__LeaseTimeToLiveRequest *req =
		etcdserverpb__lease_time_to_live_request__unpack(NULL, len, msg);
	Etcdserverpb__LeaseTimeToLiveResponse resp = ETCDSERVERPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
	struct ms_lease_keys keys = { 0 };
	struct kv_pb_arena a = { 0 };

	if (!req) {
		api_bad_request(call);
		return;
	}
	resp.id = req->id;
	/* etcd answers an unknown lease with TTL -1, not an error. */
	if (ms_lease_ttl(ls->kv->leases, req->id, now_ms(ls), &resp.grantedttl, &resp.ttl)) {
		resp.ttl = -1;
		resp.grantedttl = 0;
	} else if (req->keys && ms_lease_keys(ls->kv->leases, req->id, &keys) == 0 && keys.n) {
		resp.keys = kv_pb_alloc(&a, keys.n * sizeof(*resp.keys));
		for (size_t i = 0; resp.keys && i < keys.n; i++)
			resp.keys[i] = (ProtobufCBinaryData){ keys.v[i].len, keys.v[i].key };
		resp.n_keys = resp.keys ? keys.n : 0;
	}
	resp.header = api_header(&a, ls->kv, ms_mvcc_rev(ls->kv->mvcc));
	api_reply(call, &a, &resp.base);
	ms_lease_keys_release(&keys);
	kv_pb_arena_free(&a);
	etcdserverpb__lease_time_to_live_request__free_unpacked(req, NULL);
}

static void lease_leases(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	Etcdserverpb__LeaseLeasesResponse resp = ETCDSERVERPB__LEASE_LEASES_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	int64_t *ids = NULL;
	size_t n = 0;

	(void)msg;
	(void)len;
	if (ms_lease_list(ls->kv->leases, &ids, &n)) {
		grpc_call_fault(call, "out of memory listing leases");
		return;
	}
	resp.leases = kv_pb_alloc(&a, n * sizeof(*resp.leases));
	for (size_t i = 0; resp.leases && i < n; i++) {
		resp.leases[i] = kv_pb_alloc(&a, sizeof(*resp.leases[i]));
		if (!resp.leases[i])
			break;
		etcdserverpb__lease_status__init(resp.leases[i]);
		resp.leases[i]->id = ids[i];
	}
	resp.n_leases = n;
	resp.header = api_header(&a, ls->kv, ms_mvcc_rev(ls->kv->mvcc));
	api_reply(call, &a, &resp.base);
	free(ids);
	kv_pb_arena_free(&a);
}

/* The leader renews a lease and sends its TTL back (0: not found) as one response. */
static void keep_alive_renew(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	Etcdserverpb__LeaseKeepAliveRequest *req =
		etcdserverpb__lease_keep_alive_request__unpack(NULL, len, msg);
	Etcdserverpb__LeaseKeepAliveResponse resp = ETCDSERVERPB__LEASE_KEEP_ALIVE_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	if (!req) {
		grpc_call_finish(call, MS_GRPC_INTERNAL, "grpc: error unmarshalling request");
		return;
	}
	resp.id = req->id;
	if (ms_lease_renew(ls->kv->leases, req->id, now_ms(ls), &resp.ttl))
		resp.ttl = 0;
	resp.header = api_header(&a, ls->kv, ms_mvcc_rev(ls->kv->mvcc));
	if (a.failed || grpc_call_send(call, &resp.base))
		grpc_call_fault(call, "out of memory answering a keep-alive");
	kv_pb_arena_free(&a);
	etcdserverpb__lease_keep_alive_request__free_unpacked(req, NULL);
}

/* LeaseKeepAlive: keep-alives are the leader's (a follower's clock does not decide expiry),
 * so a follower hands them on to the leader, in order (lease_forward.c). */
static void lease_keep_alive(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct lease_service *ls = ctx;
	struct lease_forward_env env = { .loop = ls->timer.loop, .rn = ls->kv->raft,
					 .renew = keep_alive_renew, .renew_ctx = ls };

	if (!call->user && ms_raft_is_leader(ls->kv->raft))
		keep_alive_renew(call, msg, len, ls);
	else
		lease_forward_keep_alive(call, msg, len, &env);
}

/* /metastorepb.Internal/LeaseRenew: one keep-alive a follower forwards, renewed here while
 * this member leads (UNAVAILABLE "not leader" lets the follower find the new one). */
static void lease_renew(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	if (!ms_raft_is_leader(((struct lease_service *)ctx)->kv->raft)) {
		grpc_call_finish(call, MS_GRPC_UNAVAILABLE, MS_ERR_NOT_LEADER);
		return;
	}
	keep_alive_renew(call, msg, len, ctx);
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void keep_alive_half_close(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	if (!lease_forward_half_close(call))
		grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void keep_alive_closed(struct grpc_call *call, void *ctx)
{
	(void)ctx;
	lease_forward_closed(call);
}

void lease_service_register(struct lease_service *ls, struct ms_server *srv)
{
	static const struct grpc_stream_ops keep_alive_ops = {
		.message = lease_keep_alive,
		.half_close = keep_alive_half_close,
		.closed = keep_alive_closed,
	};

	/* grants and revokes are proposed by their handlers */
	ms_server_handle(srv, MS_METHOD_LEASE_GRANT, lease_grant, ls);
	ms_server_handle(srv, MS_METHOD_LEASE_REVOKE, lease_revoke, ls);
	if (ls->kv->raft) {
		ms_raft_on_leader(ls->kv->raft, on_leader, ls);
		/* the leader's table is the one that counts: followers forward, as etcd does */
		ms_raft_route_read(ls->kv->raft, srv, MS_METHOD_LEASE_TIME_TO_LIVE,
				   lease_time_to_live, ls, NULL);
		ms_raft_route_read(ls->kv->raft, srv, MS_METHOD_LEASE_LEASES, lease_leases, ls, NULL);
		ms_server_handle(srv, GRPC_METHOD_LEASE_RENEW, lease_renew, ls);
	} else {
		ms_server_handle(srv, MS_METHOD_LEASE_TIME_TO_LIVE, lease_time_to_live, ls);
		ms_server_handle(srv, MS_METHOD_LEASE_LEASES, lease_leases, ls);
	}
	ms_server_handle_stream(srv, MS_METHOD_LEASE_KEEP_ALIVE, &keep_alive_ops, ls);
}
