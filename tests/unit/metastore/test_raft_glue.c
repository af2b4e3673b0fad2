/* Unit tests for the raft node (metastore/raft/) on libraft's deterministic fixture: proposals,
 * barrier reads, leadership loss in the middle of both, not-leader answers and forwarding,
 * a started follower's readiness. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft/fixture.h>

#include "raft/member_change.h"
#include "probe/trace.h"
#include "raft/raftnode_priv.h"
#include "store/codec.h"

#define N 3

/* --- the gRPC side, recorded ------------------------------------------------------------ */

static grpc_unary_fn routed_fn[GRPC_METHOD_COUNT];
static void *routed_ctx[GRPC_METHOD_COUNT];

void ms_server_handle(struct ms_server *s, enum ms_method m, grpc_unary_fn fn, void *ctx)
{
	(void)s;
	routed_fn[m] = fn;
	routed_ctx[m] = ctx;
}

void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message)
{
	if (call->finished)
		return;
	call->finished = true;
	call->code = code;
	call->message = message ? strdup(message) : NULL;
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	grpc_call_finish(call, MS_GRPC_INTERNAL, what);
}

void grpc_call_ref(struct grpc_call *call)
{
	call->refs++;
}

void grpc_call_unref(struct grpc_call *call)
{
	assert_true(call->refs > 0);
	call->refs--;
}

/* A held call run again: through the handler the test names (a follower's propose path). */
static grpc_unary_fn redispatch_fn;
static void *redispatch_ctx;
static int redispatches;

void grpc_call_redispatch(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	redispatches++;
	if (!call->finished && !call->gone)
		redispatch_fn(call, msg, len, redispatch_ctx);
}

bool grpc_call_cancelled(const struct grpc_call *call)
{
	return call->gone;
}

int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len)
{
	if (call->finished)
		return -EINVAL;
	assert_int_equal(ms_buf_append(&call->out, framed, len), 0);
	return 0;
}

/* --- the cluster ----------------------------------------------------------------------- */

struct member {
	struct ms_raft *rn;
	int applied;         /* store entries applied */
	uint8_t last[64];    /* body of the last one */
	size_t last_len;
	int leader_calls;    /* ms_raft_on_leader callbacks */
};

static struct raft_fixture fx;
static struct member mb[N];
static struct ms_raft_peer peers[N];

static struct raft *attach(void *arg, struct raft_fsm *fsm)
{
	struct raft_fixture *f = arg;

	if (raft_fixture_grow(f, fsm))
		return NULL;
	return raft_fixture_get(f, raft_fixture_n(f) - 1);
}

/* Each member's apply: counts entries; the result's revision is that count. */
static int apply_count(void *arg, const uint8_t *entry, size_t len, struct ms_apply_res *res)
{
	struct member *m = arg;

	m->applied++;
	m->last_len = len < sizeof(m->last) ? len : sizeof(m->last);
	memcpy(m->last, entry, m->last_len);
	res->code = MS_GRPC_OK;
	res->revision = m->applied;
	return 0;
}

static void on_leader(void *arg)
{
	((struct member *)arg)->leader_calls++;
}

static int snap_none(void *arg, struct ms_buf *out)
{
	(void)arg;
	return ms_buf_append(out, "x", 1);
}

static int restore_none(void *arg, const uint8_t *data, size_t len)
{
	(void)arg, (void)data, (void)len;
	return 0;
}

static int setup(void **state)
{
	static const struct ms_raft_state_ops st = { .snapshot = snap_none,
						     .restore = restore_none };
	struct raft_configuration conf;
	char err[128];

	(void)state;
	memset(mb, 0, sizeof(mb));
	memset(routed_fn, 0, sizeof(routed_fn));
	memset(&fx, 0, sizeof(fx));
	assert_int_equal(raft_fixture_initialize(&fx), 0);
	for (unsigned i = 0; i < N; i++) {
		peers[i] = (struct ms_raft_peer){ .id = i + 1 };
		snprintf(peers[i].name, sizeof(peers[i].name), "n%u", i + 1);
		snprintf(peers[i].address, sizeof(peers[i].address), "%u", i + 1);
	}
	for (unsigned i = 0; i < N; i++) {
		char client[32];
		struct ms_raft_opts o = { .node_id = i + 1, .dir = "", .peers = peers,
					  .n_peers = N, .client_addr = client };

		snprintf(client, sizeof(client), "127.0.0.1:%u", 1000 + i + 1);
		assert_int_equal(ms_raft_new_attached(uv_default_loop(), &o, &st, attach, &fx,
						      &mb[i].rn, err, sizeof(err)), 0);
		ms_raft_set_apply(mb[i].rn, apply_count, &mb[i]);
		ms_raft_on_leader(mb[i].rn, on_leader, &mb[i]);
	}
	assert_int_equal(raft_fixture_configuration(&fx, N, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&fx, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&fx), 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(ms_raft_start(mb[i].rn, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < N; i++)
		ms_raft_stop(mb[i].rn);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* the node handles close */
	raft_fixture_close(&fx);
	for (unsigned i = 0; i < N; i++)
		ms_raft_free(mb[i].rn);
	return 0;
}

/* Runs the loop's ready work (the deferred barrier kick), then lets every node look. */
static void settle(void)
{
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	for (unsigned i = 0; i < N; i++)
		ms_raft_poll(mb[i].rn);
}

static void elect(unsigned i)
{
	raft_fixture_elect(&fx, i);
	settle();
}

/* Steps the fixture until every member applied up to the leader's last index. */
static void replicate(void)
{
	raft_index last = raft_last_index(raft_fixture_get(&fx, raft_fixture_leader_index(&fx)));

	assert_true(raft_fixture_step_until_applied(&fx, N, last, 5000));
	settle();
}

struct outcome {
	int calls;
	int status;
	int64_t revision;
};

static void on_done(void *arg, int status, const struct ms_apply_res *res)
{
	struct outcome *o = arg;

	o->calls++;
	o->status = status;
	o->revision = res ? res->revision : -1;
}

static void free_call(struct grpc_call *c)
{
	free(c->message);
	ms_buf_free(&c->out);
	memset(c, 0, sizeof(*c));
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_propose_applies_everywhere(void **state)
{
	struct outcome o = { 0 };

	(void)state;
	elect(0);
	replicate(); /* the leader's client address */
	assert_int_equal(ms_raft_propose(mb[0].rn, (const uint8_t *)"put-1", 5, on_done, &o), 0);
	assert_int_equal(o.calls, 0); /* not before it commits */
	replicate();
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.revision, 1);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(mb[i].applied, 1);
		assert_int_equal(mb[i].last_len, 5);
		assert_memory_equal(mb[i].last, "put-1", 5);
	}
}

/* The batch probe's commit records: only the proposer writes them, one per entry it proposed,
 * in log order, each carrying its propose time and a commit time no earlier. */
static void test_commit_records(void **state)
{
	struct outcome o[3] = { { 0 } };
	const struct ms_probe_rec *r;
	uint64_t proposed[3], last = 0;
	uint32_t n, commits = 0;

	(void)state;
	elect(0);
	replicate();
	ms_probe_batch_semaphore = 1;
	ms_trace_flush();
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ms_raft_propose(mb[0].rn, (const uint8_t *)"put", 3, on_done, &o[i]),
				 0);
		proposed[i] = mb[0].rn->pending_tail->proposed_ns;
		assert_true(proposed[i] != 0);
	}
	replicate();
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(o[i].calls, 1);
	r = ms_trace_peek(MS_BATCH_RAFT);
	n = ms_trace_pending(MS_BATCH_RAFT);
	for (uint32_t i = 0; i < n; i++) {
		if (r[i].kind != MS_REC_RAFT_COMMIT)
			continue;
		assert_true(commits < 3);
		assert_int_equal(r[i].id, 1); /* the leader's node id: the followers write none */
		assert_int_equal(r[i].val, proposed[commits]);
		assert_true(r[i].t_ns >= r[i].val && r[i].t_ns >= last);
		last = r[i].t_ns;
		commits++;
	}
	assert_int_equal(commits, 3);
	ms_probe_batch_semaphore = 0;
	ms_trace_flush();
}

/* A commit time is read once per commit index the member learns: entries applied under one
 * index share it; a new index, or a propose later than the time held, reads the clock again;
 * nothing is read for an entry proposed elsewhere or while the batch probe is detached. */
static void test_commit_time(void **state)
{
	struct ms_raft *rn;
	uint64_t t1, t2, t3, ci;

	(void)state;
	elect(0);
	replicate();
	rn = mb[0].rn;
	ci = rn->raft->commit_index;
	assert_int_equal(ms_raft_commit_time(rn, 5), 0); /* detached */
	ms_probe_batch_semaphore = 1;
	assert_int_equal(ms_raft_commit_time(rn, 0), 0); /* proposed elsewhere */
	t1 = ms_raft_commit_time(rn, 5);
	assert_true(t1 >= 5);
	assert_int_equal(ms_raft_commit_time(rn, 5), t1); /* the same index: the same time */
	assert_int_equal(rn->commit_seen_index, ci);
	rn->raft->commit_index = ci + 1; /* the member learns a new commit index */
	t2 = ms_raft_commit_time(rn, 5);
	assert_true(t2 > t1);
	assert_int_equal(rn->commit_seen_index, ci + 1);
	t3 = ms_raft_commit_time(rn, t2 + 1); /* proposed after the time held */
	assert_true(t3 > t2);
	assert_int_equal(ms_raft_commit_time(rn, 5), t3);
	rn->raft->commit_index = ci;
	ms_probe_batch_semaphore = 0;
	ms_trace_flush();
}

static const char *fwd_target;
static int fwd_calls;

static const char *fwd_token, *fwd_user;

static int forwarder(void *ctx, const char *leader_addr, struct grpc_call *call,
		     const struct ms_forward_cred *cred, const uint8_t *msg, size_t len)
{
	(void)ctx, (void)msg, (void)len;
	fwd_calls++;
	fwd_token = cred->token;
	fwd_user = cred->user;
	fwd_target = leader_addr;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
	return 0;
}

/* What a follower's propose path does with a call: ms_raft_not_leader. */
static void follower_call(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	ms_raft_not_leader(ctx, call, msg, len);
}

/* A follower with a forwarder holds a call while there is no leader: "no leader" once its
 * wait ends (the request timeout: 5 s with the fixture's election timeout of 0), "server
 * stopped" when the member stops first. */
static void test_follower_holds_for_a_leader(void **state)
{
	struct grpc_call call = { .method = MS_METHOD_KV_PUT };
	struct grpc_call call2 = { .method = MS_METHOD_KV_PUT };
	struct timespec t0, t;
	long ms = 0;

	(void)state;
	fwd_calls = 0;
	ms_raft_set_forwarder(mb[1].rn, forwarder, NULL);
	redispatch_fn = follower_call;
	redispatch_ctx = mb[1].rn;
	redispatches = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ms_raft_not_leader(mb[1].rn, &call, (const uint8_t *)"x", 1);
	assert_false(call.finished);
	while (!call.finished && ms < 8000) {
		usleep(10000);
		settle();
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	if (!call.finished)
		fail_msg("the held call did not end within 8 s");
	assert_in_range(ms, 4900, 8000); /* held for its whole wait, not ended early */
	assert_int_equal(call.code, MS_GRPC_UNAVAILABLE);
	assert_string_equal(call.message, MS_ERR_NO_LEADER);
	assert_int_equal(call.refs, 0);
	assert_int_equal(redispatches, 0);
	assert_int_equal(fwd_calls, 0);
	free_call(&call);
	ms_raft_not_leader(mb[2].rn, &call2, (const uint8_t *)"x", 1); /* no forwarder: at once */
	assert_string_equal(call2.message, MS_ERR_NO_LEADER);
	free_call(&call2);
	ms_raft_set_forwarder(mb[2].rn, forwarder, NULL);
	ms_raft_not_leader(mb[2].rn, &call2, (const uint8_t *)"x", 1);
	assert_false(call2.finished);
	ms_raft_stop(mb[2].rn);
	assert_int_equal(call2.code, MS_GRPC_UNAVAILABLE);
	assert_string_equal(call2.message, MS_ERR_STOPPED);
	assert_int_equal(call2.refs, 0);
	free_call(&call2);
}

static void test_follower_refuses_and_forwards(void **state)
{
	struct grpc_call call = { .method = MS_METHOD_KV_PUT };
	struct outcome o = { 0 };

	(void)state;
	fwd_calls = 0;
	/* no leader yet */
	assert_int_equal(ms_raft_propose(mb[1].rn, (const uint8_t *)"x", 1, on_done, &o), -EPERM);
	ms_raft_not_leader(mb[1].rn, &call, (const uint8_t *)"x", 1);
	assert_int_equal(call.code, MS_GRPC_UNAVAILABLE);
	assert_string_equal(call.message, MS_ERR_NO_LEADER);
	free_call(&call);
	elect(0);
	assert_int_equal(ms_raft_propose(mb[1].rn, (const uint8_t *)"x", 1, on_done, &o), -EPERM);
	/* a leader whose client address is not applied yet: the call is held, then handed to
	 * the leader once its address applied */
	ms_raft_set_forwarder(mb[1].rn, forwarder, NULL);
	redispatch_fn = follower_call;
	redispatch_ctx = mb[1].rn;
	redispatches = 0;
	ms_raft_not_leader(mb[1].rn, &call, (const uint8_t *)"x", 1);
	settle();
	assert_false(call.finished);
	assert_int_equal(call.refs, 1);
	assert_int_equal(fwd_calls, 0);
	replicate();
	assert_int_equal(redispatches, 1);
	assert_int_equal(fwd_calls, 1);
	assert_int_equal(call.code, MS_GRPC_OK);
	assert_int_equal(call.refs, 0);
	free_call(&call);
	/* from now on the address is known: the follower hands calls over at once */
	call.token = "t-1";
	ms_raft_not_leader(mb[1].rn, &call, (const uint8_t *)"x", 1);
	assert_int_equal(fwd_calls, 2);
	assert_string_equal(fwd_target, "127.0.0.1:1001");
	assert_string_equal(fwd_token, "t-1"); /* the client's token goes with it */
	assert_null(fwd_user);
	assert_int_equal(call.code, MS_GRPC_OK);
	call.token = NULL;
	free_call(&call);
	/* a user this member authenticated, on a node without forwarding keys (a fixture's
	 * libraft): no proof can be made, so no user is asserted */
	call.auth_user = "cn-user";
	ms_raft_not_leader(mb[1].rn, &call, (const uint8_t *)"x", 1);
	assert_int_equal(fwd_calls, 3);
	assert_null(fwd_token);
	assert_null(fwd_user);
	call.auth_user = NULL;
	free_call(&call);
	assert_int_equal(o.calls, 0);
}

static int reads_served;

static void read_fn(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	reads_served++;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

/* A read on the leader's route (registered on member i only). */
static void read_on(unsigned i, struct grpc_call *call)
{
	ms_raft_route_read(mb[i].rn, NULL, MS_METHOD_KV_RANGE, read_fn, NULL, NULL);
	call->method = MS_METHOD_KV_RANGE;
	routed_fn[MS_METHOD_KV_RANGE](call, (const uint8_t *)"r", 1,
				      routed_ctx[MS_METHOD_KV_RANGE]);
}

static void test_barrier_reads(void **state)
{
	/* static: a failed assertion leaves them queued until teardown ends them */
	static struct grpc_call a, b, c;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	reads_served = 0;
	elect(0);
	replicate();
	read_on(0, &a); /* its barrier starts */
	read_on(0, &b); /* waits: a barrier is in flight */
	read_on(0, &c);
	assert_int_equal(reads_served, 0);
	assert_int_equal(a.refs, 1);
	assert_true(raft_fixture_step_until_applied(&fx, 0, raft_last_index(mb[0].rn->raft),
						    5000));
	assert_int_equal(reads_served, 1);
	assert_int_equal(a.code, MS_GRPC_OK);
	assert_int_equal(a.refs, 0);
	/* the next barrier is not started from inside libraft's barrier callback (libraft
	 * forbids it there): the loop starts it, for both waiting reads at once */
	assert_false(mb[0].rn->barrier_busy);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	assert_true(mb[0].rn->barrier_busy);
	replicate();
	assert_int_equal(reads_served, 3);
	assert_int_equal(b.code, MS_GRPC_OK);
	assert_int_equal(c.code, MS_GRPC_OK);
	assert_int_equal(b.refs, 0);
	assert_int_equal(c.refs, 0);
	free_call(&a);
	free_call(&b);
	free_call(&c);
}

/* The one unary call a member made to its leader (ms_raft_call_leader), answered later. */
static struct {
	int calls;
	uint32_t method;
	size_t len;
	ms_forward_done_fn done;
	void *arg;
} asked;

static int unary_recorder(void *ctx, const char *leader_addr, uint32_t method,
			  const struct ms_forward_cred *cred, const uint8_t *msg, size_t len,
			  ms_forward_done_fn done, void *arg)
{
	(void)ctx, (void)leader_addr, (void)cred, (void)msg;
	asked.calls++;
	asked.method = method;
	asked.len = len;
	asked.done = done;
	asked.arg = arg;
	return 0;
}

static bool always_serializable(const uint8_t *msg, size_t len)
{
	(void)msg, (void)len;
	return true;
}

static int applied_when_served; /* mb[1]'s store entries applied when its read ran */

static void local_read_fn(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	reads_served++;
	applied_when_served = mb[1].applied;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

/* A follower that started serves a serializable read only once it applied the leader's
 * applied index it asked for (ReadIndex): before, the read is held, then run again. A failed
 * question is asked again after a pause. The leader is ready once it leads. */
static void test_follower_ready(void **state)
{
	static struct grpc_call r; /* static: held until teardown if an assertion fails */
	struct ms_forward_reply failed = { .status = MS_GRPC_UNAVAILABLE };
	struct ms_forward_reply answer = { .status = MS_GRPC_OK };
	struct outcome o = { 0 };

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&asked, 0, sizeof(asked));
	reads_served = 0;
	applied_when_served = -1;
	ms_raft_set_unary_forwarder(mb[1].rn, unary_recorder, NULL);
	assert_false(ms_raft_ready(mb[1].rn));
	settle(); /* no leader known: nobody to ask */
	assert_int_equal(asked.calls, 0);
	elect(0);
	replicate(); /* the leader's client address */
	assert_true(ms_raft_ready(mb[0].rn));
	assert_false(ms_raft_ready(mb[1].rn));
	assert_int_equal(asked.calls, 1);
	assert_int_equal(asked.method, GRPC_METHOD_READ_INDEX);
	assert_int_equal(asked.len, 0);
	settle(); /* one question at a time */
	assert_int_equal(asked.calls, 1);
	/* a failed question: asked again once READY_RETRY_MS passed, not before */
	asked.done(asked.arg, &failed);
	settle();
	assert_int_equal(asked.calls, 1);
	usleep(120 * 1000);
	settle();
	assert_int_equal(asked.calls, 2);
	/* the leader has applied an entry the follower has not */
	assert_int_equal(ms_raft_propose(mb[0].rn, (const uint8_t *)"put-1", 5, on_done, &o), 0);
	assert_true(raft_fixture_step_until_applied(&fx, 0, raft_last_index(mb[0].rn->raft),
						    5000));
	assert_int_equal(mb[0].applied, 1);
	ms_raft_route_read(mb[1].rn, NULL, MS_METHOD_KV_RANGE, local_read_fn, NULL,
			   always_serializable);
	redispatch_fn = routed_fn[MS_METHOD_KV_RANGE];
	redispatch_ctx = routed_ctx[MS_METHOD_KV_RANGE];
	redispatches = 0;
	r.method = MS_METHOD_KV_RANGE;
	routed_fn[MS_METHOD_KV_RANGE](&r, (const uint8_t *)"r", 1, routed_ctx[MS_METHOD_KV_RANGE]);
	assert_false(r.finished);
	assert_int_equal(r.refs, 1);
	answer.applied_index = raft_last_applied(mb[0].rn->raft);
	asked.done(asked.arg, &answer);
	settle();
	assert_false(ms_raft_ready(mb[1].rn));
	assert_false(r.finished);
	assert_int_equal(redispatches, 0);
	replicate();
	assert_true(ms_raft_ready(mb[1].rn));
	assert_int_equal(redispatches, 1);
	assert_int_equal(reads_served, 1);
	assert_int_equal(applied_when_served, 1);
	assert_int_equal(r.code, MS_GRPC_OK);
	assert_int_equal(r.refs, 0);
	free_call(&r);
	/* from now on local reads run at once; nothing more is asked */
	routed_fn[MS_METHOD_KV_RANGE](&r, (const uint8_t *)"r", 1, routed_ctx[MS_METHOD_KV_RANGE]);
	assert_int_equal(r.code, MS_GRPC_OK);
	assert_int_equal(reads_served, 2);
	assert_int_equal(redispatches, 1);
	assert_int_equal(asked.calls, 2);
	free_call(&r);
}

/* The leader answers ReadIndex after a barrier of its term, with one empty message (the
 * forwarded call's trailer carries its applied index); a follower forwards it. */
static void test_read_index_answer(void **state)
{
	static struct grpc_call q, f;
	static const uint8_t empty[GRPC_FRAME_HDR];

	(void)state;
	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	fwd_calls = 0;
	elect(0);
	replicate();
	ms_raft_serve_read_index(mb[0].rn, NULL);
	q.method = GRPC_METHOD_READ_INDEX;
	routed_fn[GRPC_METHOD_READ_INDEX](&q, NULL, 0, routed_ctx[GRPC_METHOD_READ_INDEX]);
	assert_false(q.finished); /* its barrier is in flight */
	replicate();
	assert_true(q.finished);
	assert_int_equal(q.code, MS_GRPC_OK);
	assert_int_equal(q.out.len, sizeof(empty));
	assert_memory_equal(q.out.data, empty, sizeof(empty));
	assert_int_equal(q.refs, 0);
	free_call(&q);
	ms_raft_set_forwarder(mb[2].rn, forwarder, NULL);
	ms_raft_serve_read_index(mb[2].rn, NULL);
	f.method = GRPC_METHOD_READ_INDEX;
	routed_fn[GRPC_METHOD_READ_INDEX](&f, NULL, 0, routed_ctx[GRPC_METHOD_READ_INDEX]);
	assert_int_equal(fwd_calls, 1);
	assert_string_equal(fwd_target, "127.0.0.1:1001");
	assert_int_equal(f.code, MS_GRPC_OK);
	free_call(&f);
}

static void test_leader_lost_mid_barrier(void **state)
{
	static struct grpc_call a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	reads_served = 0;
	elect(0);
	replicate();
	read_on(0, &a); /* its barrier is in flight */
	read_on(0, &b); /* waits for the next one */
	raft_fixture_depose(&fx);
	settle();
	settle();
	assert_int_equal(reads_served, 0);
	assert_true(a.finished);
	assert_true(b.finished);
	assert_int_equal(a.code, MS_GRPC_UNAVAILABLE);
	assert_int_equal(b.code, MS_GRPC_UNAVAILABLE);
	assert_string_equal(a.message, MS_ERR_LEADER_CHANGED);
	assert_int_equal(a.refs, 0);
	assert_int_equal(b.refs, 0);
	free_call(&a);
	free_call(&b);
}

static void test_proposal_lost_on_leader_change(void **state)
{
	struct outcome o = { 0 };

	(void)state;
	elect(0);
	replicate();
	assert_int_equal(ms_raft_propose(mb[0].rn, (const uint8_t *)"lost?", 5, on_done, &o), 0);
	raft_fixture_depose(&fx);
	settle();
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, -EAGAIN);
	/* the entry may still commit under the next leader: nobody is told twice */
	elect(1);
	replicate();
	assert_int_equal(o.calls, 1);
	assert_int_equal(mb[0].applied, mb[1].applied);
}

static void test_on_leader_callbacks(void **state)
{
	(void)state;
	elect(0);
	assert_int_equal(mb[0].leader_calls, 1);
	assert_int_equal(mb[1].leader_calls, 0);
	settle();
	assert_int_equal(mb[0].leader_calls, 1); /* once per term it leads */
	raft_fixture_depose(&fx);
	settle();
	elect(2);
	/* once it applied every entry its log held when elected (a barrier commits them) */
	replicate();
	assert_int_equal(mb[2].leader_calls, 1);
	assert_true(ms_raft_is_leader(mb[2].rn));
	assert_int_equal(mb[0].leader_calls, 1);
	assert_int_equal(mb[1].leader_calls, 0);
}

static void stale_cb(struct raft_apply *req, int status, void *result)
{
	(void)status, (void)result;
	free(req);
}

/* An entry of an earlier life of member 1 carrying the sequence number its next proposal
 * takes, committed just before that proposal: the proposal gets its own result. */
static void test_stale_sequence_not_matched(void **state)
{
	struct raft_apply *req = calloc(1, sizeof(*req));
	struct raft_buffer buf = { .len = MS_RAFT_ENTRY_HDR + 8 };
	struct outcome o = { 0 };

	(void)state;
	assert_non_null(req);
	elect(0);
	replicate();
	buf.base = raft_malloc(buf.len);
	assert_non_null(buf.base);
	ms_le64_write(buf.base, (uint64_t)3 << 48 | (uint64_t)MS_RAFT_KIND_STORE << 32 |
					 MS_RAFT_ENTRY_MAGIC);
	ms_le64_write((uint8_t *)buf.base + 8, 1);
	ms_le64_write((uint8_t *)buf.base + 16, mb[0].rn->seq + 1);
	memcpy((uint8_t *)buf.base + MS_RAFT_ENTRY_HDR, "stale\0\0\0", 8);
	assert_int_equal(raft_apply(mb[0].rn->raft, req, &buf, 1, stale_cb), 0);
	assert_int_equal(ms_raft_propose(mb[0].rn, (const uint8_t *)"fresh", 5, on_done, &o), 0);
	replicate();
	assert_int_equal(mb[0].applied, 2);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.revision, 2); /* the fresh entry's result, not the stale one's */
	assert_memory_equal(mb[1].last, "fresh", 5);
}

static char fatal_msg[256];
static int fatal_calls;
static bool fatal_seen[N];

/* (in the store the handler exits; here libraft may try the entry again) */
static void on_fatal(void *arg, const char *fmt, ...)
{
	va_list ap;

	fatal_seen[(struct member *)arg - mb] = true;
	fatal_calls++;
	va_start(ap, fmt);
	vsnprintf(fatal_msg, sizeof(fatal_msg), fmt, ap);
	va_end(ap);
}

/* An entry of the first format (raw gRPC requests) cannot be applied, nor skipped: every
 * member that reaches it says so and applies nothing more. */
static void test_first_format_entry_stops(void **state)
{
	struct raft_apply *req = calloc(1, sizeof(*req));
	struct raft_buffer buf = { .len = MS_RAFT_ENTRY_HDR + 8 };
	char want[256];
	raft_index at;

	(void)state;
	assert_non_null(req);
	fatal_calls = 0;
	for (unsigned i = 0; i < N; i++) {
		fatal_seen[i] = false;
		ms_raft_on_fatal(mb[i].rn, on_fatal, &mb[i]);
	}
	elect(0);
	replicate();
	buf.base = raft_malloc(buf.len);
	assert_non_null(buf.base);
	memset(buf.base, 0, buf.len);
	ms_le64_write(buf.base, (uint64_t)3 << 32 | MS_RAFT_ENTRY_MAGIC_V1); /* a Put, format 1 */
	assert_int_equal(raft_apply(mb[0].rn->raft, req, &buf, 1, stale_cb), 0);
	at = raft_last_index(mb[0].rn->raft);
	raft_fixture_step_until_applied(&fx, N, at, 2000);
	for (unsigned i = 0; i < N; i++)
		assert_true(fatal_seen[i]);
	assert_true(fatal_calls >= N);
	snprintf(want, sizeof(want), "raft log entry %llu has the first entry format (raw gRPC "
		 "requests), which this version cannot apply; refusing to go on",
		 (unsigned long long)at);
	assert_string_equal(fatal_msg, want);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(mb[i].applied, 0);
}

struct member_outcome {
	int calls;
	int status;
	uint32_t code;
};

static void on_member_done(void *arg, int status, const struct ms_apply_res *res)
{
	struct member_outcome *o = arg;

	o->calls++;
	o->status = status;
	o->code = res->code;
}

/* The member table of every node has n members, `id` among them or not. */
static void assert_tables(size_t n, uint64_t id, bool present)
{
	for (unsigned i = 0; i < N; i++) {
		size_t got;
		const struct ms_raft_peer *p = ms_raft_peers(mb[i].rn, &got);
		bool found = false;

		assert_int_equal(got, n);
		for (size_t k = 0; k < got; k++)
			found |= p[k].id == id;
		assert_int_equal(found, present);
	}
}

static void test_membership_changes(void **state)
{
	struct ms_member_change add = { .op = MS_MEMBER_ADD, .address = "4", .learner = true };
	struct ms_member_change c;
	struct member_outcome o = { 0 };
	const char *why;
	uint32_t code;

	(void)state;
	elect(0);
	replicate();
	/* a follower does not take it: the caller forwards */
	c = add;
	assert_int_equal(ms_raft_member_change(mb[1].rn, &c, false, on_member_done, &o, &why, &code),
			 -EPERM);
	/* an add gets a fresh id and reaches every member's table once applied */
	assert_int_equal(ms_raft_member_change(mb[0].rn, &add, false, on_member_done, &o, &why,
					       &code), 0);
	assert_true(add.id != 0 && add.id > N);
	assert_int_equal(o.calls, 0);
	replicate();
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_int_equal(o.code, 0);
	assert_tables(N + 1, add.id, true);
	assert_true(ms_members_find(&mb[2].rn->members, add.id)->learner);
	/* etcd's refusals, before anything is proposed */
	static const struct {
		struct ms_member_change c;
		int rc;
		uint32_t code;
		const char *why;
	} refused[] = {
		{ { .op = MS_MEMBER_ADD, .address = "2" }, -EEXIST, MS_GRPC_FAILED_PRECONDITION,
		  MS_ERR_PEER_URL_EXISTS },
		{ { .op = MS_MEMBER_ADD, .address = "5", .learner = true }, -EMLINK,
		  MS_GRPC_FAILED_PRECONDITION, MS_ERR_TOO_MANY_LEARNERS },
		{ { .op = MS_MEMBER_REMOVE, .id = 0x999 }, -ENOENT, MS_GRPC_NOT_FOUND,
		  MS_ERR_MEMBER_NOT_FOUND },
		{ { .op = MS_MEMBER_UPDATE, .id = 0x999, .address = "9" }, -ENOENT, MS_GRPC_NOT_FOUND,
		  MS_ERR_MEMBER_NOT_FOUND },
		{ { .op = MS_MEMBER_UPDATE, .id = 2, .address = "3" }, -EEXIST,
		  MS_GRPC_FAILED_PRECONDITION, MS_ERR_PEER_URL_EXISTS },
		{ { .op = MS_MEMBER_PROMOTE, .id = 2 }, -EINVAL, MS_GRPC_FAILED_PRECONDITION,
		  MS_ERR_NOT_LEARNER },
		/* the fixture never replicates to the added learner: not in sync */
		{ { .op = MS_MEMBER_PROMOTE, .id = 0 }, -EBUSY, MS_GRPC_FAILED_PRECONDITION,
		  MS_ERR_LEARNER_NOT_READY },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		c = refused[i].c;
		if (c.op == MS_MEMBER_PROMOTE && !c.id)
			c.id = add.id;
		assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o,
						       &why, &code), refused[i].rc);
		assert_int_equal(code, refused[i].code);
		assert_string_equal(why, refused[i].why);
	}
	assert_int_equal(o.calls, 1);
	/* an update and a removal apply on every member; the removed member knows it */
	c = (struct ms_member_change){ .op = MS_MEMBER_UPDATE, .id = 2, .address = "22" };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o, &why,
					       &code), 0);
	c = (struct ms_member_change){ .op = MS_MEMBER_REMOVE, .id = 3 };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o, &why,
					       &code), 0);
	replicate();
	assert_int_equal(o.calls, 3);
	assert_int_equal(o.code, 0);
	assert_tables(N, 3, false);
	for (unsigned i = 0; i < N; i++) {
		assert_string_equal(ms_members_find(&mb[i].rn->members, 2)->address, "22");
		assert_int_equal(mb[i].rn->removed_self, i == 2);
		assert_true(ms_members_was_removed(&mb[i].rn->members, 3));
	}
	/* a removed id is never given again, nor let back in */
	c = (struct ms_member_change){ .op = MS_MEMBER_REMOVE, .id = 3 };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o, &why,
					       &code), -ENOENT);
}

/* etcd's strict reconfiguration check. On the fixture the leader hears from no member (its
 * contact is sampled only on a libraft transport), and the seed members started (named). */
static void test_strict_reconfig(void **state)
{
	struct member_outcome o = { 0 };
	struct ms_member_change c;
	const char *why;
	uint32_t code;

	(void)state;
	elect(0);
	replicate();
	/* a voter added while the leader hears from no other voter: unhealthy */
	c = (struct ms_member_change){ .op = MS_MEMBER_ADD, .address = "4" };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, true, on_member_done, &o, &why, &code),
			 -EHOSTUNREACH);
	assert_int_equal(code, MS_GRPC_UNAVAILABLE);
	assert_string_equal(why, MS_ERR_UNHEALTHY);
	/* a learner needs no quorum check */
	c = (struct ms_member_change){ .op = MS_MEMBER_ADD, .address = "5", .learner = true };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, true, on_member_done, &o, &why, &code),
			 0);
	/* two voters that never start: then 3 started of 5 voters, and a 6th needs 4 */
	for (int i = 0; i < 2; i++) {
		c = (struct ms_member_change){ .op = MS_MEMBER_ADD };
		snprintf(c.address, sizeof(c.address), "%d", 6 + i);
		assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o,
						       &why, &code), 0);
	}
	replicate();
	assert_int_equal(o.calls, 3);
	c = (struct ms_member_change){ .op = MS_MEMBER_ADD, .address = "8" };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, true, on_member_done, &o, &why, &code),
			 -EAGAIN);
	assert_int_equal(code, MS_GRPC_FAILED_PRECONDITION);
	assert_string_equal(why, MS_ERR_NOT_ENOUGH_STARTED);
	/* removing a started voter leaves 2 started of 4 voters: fewer than a quorum */
	c = (struct ms_member_change){ .op = MS_MEMBER_REMOVE, .id = 2 };
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, true, on_member_done, &o, &why, &code),
			 -EAGAIN);
	assert_string_equal(why, MS_ERR_NOT_ENOUGH_STARTED);
	/* without the check it goes through */
	assert_int_equal(ms_raft_member_change(mb[0].rn, &c, false, on_member_done, &o, &why,
					       &code), 0);
	replicate();
	assert_int_equal(o.calls, 4);
	assert_int_equal(o.code, 0);
}

/* A raft snapshot carries the member table: a member restored from it has the same one. */
static void test_snapshot_carries_members(void **state)
{
	struct ms_member_change add = { .op = MS_MEMBER_ADD, .address = "7" };
	struct member_outcome o = { 0 };
	struct raft_buffer *bufs = NULL, copy;
	unsigned n = 0;
	const char *why;
	uint32_t code;

	(void)state;
	elect(0);
	replicate();
	assert_int_equal(ms_raft_member_change(mb[0].rn, &add, false, on_member_done, &o, &why,
					       &code), 0);
	replicate();
	assert_int_equal(mb[0].rn->fsm.snapshot(&mb[0].rn->fsm, &bufs, &n), 0);
	assert_int_equal(n, 1);
	copy.len = bufs[0].len;
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, bufs[0].base, copy.len);
	mb[0].rn->fsm.snapshot_finalize(&mb[0].rn->fsm, &bufs, &n);
	/* member 3 forgets the add, then restores the snapshot */
	ms_members_apply(&mb[2].rn->members,
			 &(struct ms_member_change){ .op = MS_MEMBER_REMOVE, .id = add.id });
	assert_null(ms_members_find(&mb[2].rn->members, add.id));
	assert_int_equal(mb[2].rn->fsm.restore(&mb[2].rn->fsm, &copy), 0);
	assert_memory_equal(&mb[2].rn->members, &mb[0].rn->members, sizeof(struct ms_members));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_propose_applies_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_refuses_and_forwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_holds_for_a_leader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_index_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_lost_mid_barrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proposal_lost_on_leader_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_on_leader_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_sequence_not_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_format_entry_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_reconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_carries_members, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
