/* Unit tests for forwarding (rpc/forward.c, forward_relay.c, the applied-index trailer of
 * grpc_call.c): a "leader" and a "follower" server and a client forwarder on one loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc.pb-c.h"
#include "rpc/forward.h"
#include "rpc/server.h"

#define LEADER_APPLIED 42

struct fixture {
	uv_loop_t loop;
	struct ms_server *leader, *follower;
	struct ms_forward *fwd;    /* the follower's forwarder to the leader */
	struct ms_forward *client; /* stands in for a client of the follower */
	char leader_addr[32], follower_addr[32];
	/* what the leader's handler saw */
	char token[32], fwd_user[32], fwd_proof[32];
	bool forwarded;
	unsigned leader_calls;
	/* the follower's wait hook: the one wait it was asked for */
	uint64_t wait_index;
	void (*wait_cb)(void *arg, int status);
	void *wait_arg;
	int wait_rv; /* what the hook returns */
};

/* What a done callback got. */
struct answer {
	bool done;
	uint32_t status;
	char message[128];
	uint64_t applied_index;
	int64_t count; /* of the RangeResponse in the answer, -1 if none */
};

static uint64_t leader_applied(void *arg)
{
	(void)arg;
	return LEADER_APPLIED;
}

/* The leader's Range: records the call's headers, answers count = 7. */
static void h_leader_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct fixture *f = ctx;
	Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;

	(void)msg, (void)len;
	f->leader_calls++;
	f->forwarded = call->forwarded;
	snprintf(f->token, sizeof(f->token), "%s", call->token ? call->token : "");
	snprintf(f->fwd_user, sizeof(f->fwd_user), "%s", call->fwd_user ? call->fwd_user : "-");
	snprintf(f->fwd_proof, sizeof(f->fwd_proof), "%s", call->fwd_proof ? call->fwd_proof : "-");
	resp.count = 7;
	assert_int_equal(grpc_call_send(call, &resp.base), 0);
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

/* The leader's Put: refused, to see a status with a message relayed. */
static void h_leader_put(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	grpc_call_finish(call, MS_GRPC_FAILED_PRECONDITION, "etcdserver: nope 100%");
}

/* The leader's Txn: never answered (a paused leader); the call is let go at teardown. */
static struct grpc_call *held;

static void h_leader_hold(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	grpc_call_ref(call);
	held = call;
}

/* The follower forwards everything it gets to the leader. */
static void h_follower(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct fixture *f = ctx;

	const struct ms_forward_cred cred = { .token = call->token };

	assert_int_equal(ms_forward_call(f->fwd, f->leader_addr, call, &cred, msg, len), 0);
}

static int follower_wait(void *ctx, uint64_t index, void (*cb)(void *arg, int status), void *arg)
{
	struct fixture *f = ctx;

	f->wait_index = index;
	if (f->wait_rv == 0) {
		f->wait_cb = cb;
		f->wait_arg = arg;
	}
	return f->wait_rv;
}

static void on_done(void *arg, const struct ms_forward_reply *r)
{
	struct answer *a = arg;
	Etcdserverpb__RangeResponse *resp = NULL;

	a->done = true;
	a->status = r->status;
	snprintf(a->message, sizeof(a->message), "%s", r->message ? r->message : "");
	a->applied_index = r->applied_index;
	a->count = -1;
	if (r->framed_len > 5)
		resp = etcdserverpb__range_response__unpack(NULL, r->framed_len - 5, r->framed + 5);
	if (resp)
		a->count = resp->count;
	etcdserverpb__range_response__free_unpacked(resp, NULL);
}

/* Runs the loop until `a` is answered, or a bounded number of rounds. */
static void run_until(struct fixture *f, const struct answer *a)
{
	for (int i = 0; i < 2000 && !a->done; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void run_rounds(struct fixture *f, int n)
{
	for (int i = 0; i < n; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

static struct ms_server *server(struct fixture *f, char *addr, size_t addrlen)
{
	struct ms_server_opts o = { .host = "127.0.0.1", .max_connections = 8,
				    .max_recv_bytes = 4096 };
	struct ms_server *s;

	assert_int_equal(ms_server_new(&f->loop, &o, &s), 0);
	snprintf(addr, addrlen, "127.0.0.1:%u", ms_server_port(s));
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->leader = server(f, f->leader_addr, sizeof(f->leader_addr));
	f->follower = server(f, f->follower_addr, sizeof(f->follower_addr));
	ms_server_handle(f->leader, MS_METHOD_KV_RANGE, h_leader_range, f);
	ms_server_handle(f->leader, MS_METHOD_KV_PUT, h_leader_put, f);
	ms_server_handle(f->leader, MS_METHOD_KV_TXN, h_leader_hold, f);
	ms_server_set_applied_index(f->leader, leader_applied, NULL);
	ms_server_handle(f->follower, MS_METHOD_KV_RANGE, h_follower, f);
	ms_server_handle(f->follower, MS_METHOD_KV_PUT, h_follower, f);
	assert_int_equal(ms_forward_new(&f->loop, &f->fwd), 0);
	assert_int_equal(ms_forward_new(&f->loop, &f->client), 0);
	ms_forward_set_wait(f->fwd, follower_wait, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (held)
		grpc_call_finish(held, MS_GRPC_OK, NULL);
	grpc_call_unref(held);
	held = NULL;
	ms_forward_stop(f->client);
	ms_forward_stop(f->fwd);
	ms_server_shutdown(f->leader);
	ms_server_shutdown(f->follower);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ms_forward_free(f->client);
	ms_forward_free(f->fwd);
	ms_server_free(f->leader);
	ms_server_free(f->follower);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static const uint8_t range_req[] = { 0x0a, 0x01, 'k' }; /* RangeRequest{key: "k"} */
static const struct ms_forward_cred tok1 = { .token = "tok-1" }, tok2 = { .token = "tok-2" };

/* A forwarded call carries the token and the forwarded mark; the answer carries the
 * leader's applied index at the moment it finished. */
static void test_unary_token_and_applied_index(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_RANGE, &tok1,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_true(a.done);
	assert_int_equal(a.status, MS_GRPC_OK);
	assert_int_equal(a.count, 7);
	assert_int_equal(a.applied_index, LEADER_APPLIED);
	assert_true(f->forwarded);
	assert_string_equal(f->token, "tok-1");
	assert_string_equal(f->fwd_user, "-");
	assert_string_equal(f->fwd_proof, "-");
}

/* Credentials without a token: the user and its proof go as their two headers, no token. */
static void test_unary_user_and_proof(void **state)
{
	static const struct ms_forward_cred cred = { .user = "alice", .proof = "v1:p" };
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_RANGE, &cred,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_int_equal(a.status, MS_GRPC_OK);
	assert_string_equal(f->token, "");
	assert_string_equal(f->fwd_user, "alice");
	assert_string_equal(f->fwd_proof, "v1:p");
}

/* An error status (Trailers-Only) has its message decoded and the index too. */
static void test_unary_error_status(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_PUT, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_int_equal(a.status, MS_GRPC_FAILED_PRECONDITION);
	assert_string_equal(a.message, "etcdserver: nope 100%");
	assert_int_equal(a.applied_index, LEADER_APPLIED);
	assert_int_equal(a.count, -1);
}

/* Nobody listening: UNAVAILABLE "leader unreachable", done runs once. */
static void test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	char addr[32];

	/* a port just closed: the follower's, shut down for this test */
	snprintf(addr, sizeof(addr), "%s", f->follower_addr);
	ms_server_shutdown(f->follower);
	run_rounds(f, 10);
	assert_int_equal(ms_forward_unary(f->fwd, addr, MS_METHOD_KV_RANGE, NULL, range_req,
					  sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_int_equal(a.status, MS_GRPC_UNAVAILABLE);
	assert_string_equal(a.message, MS_ERR_LEADER_UNREACHABLE);
}

/* The follower relays the leader's answer only when its wait for index 42 ends. */
static void test_relay_waits_for_apply(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->client, f->follower_addr, MS_METHOD_KV_RANGE,
					  &tok2, range_req, sizeof(range_req), on_done, &a), 0);
	for (int i = 0; i < 2000 && !f->wait_cb; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_non_null(f->wait_cb);
	assert_int_equal(f->wait_index, LEADER_APPLIED);
	assert_string_equal(f->token, "tok-2"); /* passed on by the follower */
	run_rounds(f, 50);
	assert_false(a.done);
	f->wait_cb(f->wait_arg, 0);
	run_until(f, &a);
	assert_true(a.done);
	assert_int_equal(a.status, MS_GRPC_OK);
	assert_int_equal(a.count, 7);
	assert_int_equal(f->leader_calls, 1);
}

/* A wait that gives up answers "request timed out", not the leader's answer. */
static void test_relay_wait_timeout(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->client, f->follower_addr, MS_METHOD_KV_RANGE, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	for (int i = 0; i < 2000 && !f->wait_cb; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_non_null(f->wait_cb);
	f->wait_cb(f->wait_arg, -ETIMEDOUT);
	run_until(f, &a);
	assert_int_equal(a.status, MS_GRPC_UNAVAILABLE);
	assert_string_equal(a.message, MS_ERR_REQUEST_TIMEOUT);
	assert_int_equal(a.count, -1);
}

/* Applied already (the hook says 1): relayed at once. */
static void test_relay_applied_already(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	f->wait_rv = 1;
	assert_int_equal(ms_forward_unary(f->client, f->follower_addr, MS_METHOD_KV_PUT, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_int_equal(f->wait_index, LEADER_APPLIED);
	assert_int_equal(a.status, MS_GRPC_FAILED_PRECONDITION);
	assert_string_equal(a.message, "etcdserver: nope 100%");
}

/* A leader that never answers: the call ends "request timed out" after the timeout. */
static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	uint64_t t0 = uv_now(&f->loop);

	ms_forward_set_timeout(f->fwd, 300);
	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_TXN, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_true(a.done);
	assert_non_null(held);
	assert_int_equal(a.status, MS_GRPC_UNAVAILABLE);
	assert_string_equal(a.message, MS_ERR_REQUEST_TIMEOUT);
	assert_in_range(uv_now(&f->loop) - t0, 300, 1000);
	/* the connection still serves the next call */
	a = (struct answer){ 0 };
	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_RANGE, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	run_until(f, &a);
	assert_int_equal(a.status, MS_GRPC_OK);
	assert_int_equal(a.count, 7);
}

/* Stopping the forwarder ends what waits for an answer with UNAVAILABLE. */
static void test_stop_ends_calls(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };

	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_RANGE, NULL,
					  range_req, sizeof(range_req), on_done, &a), 0);
	ms_forward_stop(f->fwd);
	assert_true(a.done);
	assert_int_equal(a.status, MS_GRPC_UNAVAILABLE);
	assert_int_equal(ms_forward_unary(f->fwd, f->leader_addr, MS_METHOD_KV_RANGE, NULL,
					  range_req, sizeof(range_req), on_done, &a),
			 -ECANCELED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unary_token_and_applied_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unary_user_and_proof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unary_error_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_waits_for_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_wait_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_applied_already, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_ends_calls, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
