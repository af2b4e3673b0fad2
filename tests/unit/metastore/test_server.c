/* Unit tests for the gRPC transport (server.c, grpc_call.c): an nghttp2 client in the same
 * process talks to the server over 127.0.0.1; test handlers stand in for the services. */
#include "server_fixture.h"

/* Status of every kind of bad request, each answered Trailers-Only (one HEADERS block). */
static void test_statuses_table(void **state)
{
	struct fixture *f = *state;
	static const uint8_t compressed[] = { 1, 0, 0, 0, 1, 0x0a };
	static const uint8_t huge[] = { 0, 0, 0, 0x10, 0x01 }; /* declares 4097 bytes */
	static const uint8_t two[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t cut[] = { 0, 0, 0, 0, 9, 0x0a };
	static const struct {
		const char *method, *path, *ctype;
		const uint8_t *body;
		size_t len;
		int http, grpc;
		const char *msg;
	} cases[] = {
		{ "POST", "/etcdserverpb.Nope/Get", "application/grpc", two, 5, 200, 12,
		  "unknown service etcdserverpb.Nope" },
		{ "POST", "/etcdserverpb.KV/Nope", "application/grpc", two, 5, 200, 12,
		  "unknown method Nope for service etcdserverpb.KV" },
		{ "POST", "/etcdserverpb.Lease/LeaseGrant", "application/grpc", two, 5, 200, 12,
		  "unknown service etcdserverpb.Lease" },
		{ "POST", "/nonsense", "application/grpc", two, 5, 200, 12,
		  "malformed method name: \"/nonsense\"" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", compressed, sizeof(compressed),
		  200, 12, "grpc: compressed messages are not supported" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", huge, sizeof(huge), 200, 8,
		  "grpc: received message larger than max (4097 vs. 4096)" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", two, sizeof(two), 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", cut, sizeof(cut), 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/Range", "application/grpc", NULL, 0, 200, 13,
		  "grpc: error unmarshalling request: not exactly one message" },
		{ "POST", "/etcdserverpb.KV/DeleteRange", "application/grpc", two, 5, 200, 13,
		  "internal error: handler returned without a status" },
		{ "POST", "/etcdserverpb.KV/Range", "text/plain", two, 5, 415, -1, "" },
		{ "GET", "/etcdserverpb.KV/Range", "application/grpc", NULL, 0, 405, -1, "" },
	};
	struct body_src b[sizeof(cases) / sizeof(cases[0])];
	struct resp *r[sizeof(cases) / sizeof(cases[0])];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++) {
		b[i] = (struct body_src){ .p = cases[i].body, .len = cases[i].len, .end_stream = true };
		r[i] = request(&f->cl, cases[i].method, cases[i].path, cases[i].ctype,
			       cases[i].body ? &b[i] : NULL);
	}
	pump(f, &r[n - 1]->closed, 0);
	for (size_t i = 0; i < n; i++) {
		pump(f, &r[i]->closed, 0);
		if (r[i]->http_status != cases[i].http || r[i]->grpc_status != cases[i].grpc ||
		    strcmp(r[i]->grpc_message, cases[i].msg) || r[i]->header_blocks != 1 ||
		    r[i]->body_len)
			fail_msg("case %zu (%s): got %d/%d '%s' in %d header blocks, %zu body bytes",
				 i, cases[i].path, r[i]->http_status, r[i]->grpc_status,
				 r[i]->grpc_message, r[i]->header_blocks, r[i]->body_len);
	}
}

/* A response far larger than the client's 64 KiB window arrives whole: data is deferred and
 * resumed as WINDOW_UPDATEs come in. */
static void test_large_response_flow_control(void **state)
{
	struct fixture *f = *state;
	const int64_t size = 3 << 20;
	uint8_t buf[64];
	struct body_src b = range_body(buf, size);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b);
	Etcdserverpb__RangeResponse *resp;
	size_t n;

	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(r->header_blocks, 2); /* headers, then trailers */
	assert_true(r->body_len > 5);
	n = (size_t)r->body[1] << 24 | (size_t)r->body[2] << 16 | (size_t)r->body[3] << 8 | r->body[4];
	assert_int_equal(n + 5, r->body_len);
	resp = etcdserverpb__range_response__unpack(NULL, n, r->body + 5);
	assert_non_null(resp);
	assert_int_equal(resp->count, size);
	assert_int_equal(resp->n_kvs, 1);
	assert_int_equal(resp->kvs[0]->value.len, (size_t)size);
	assert_int_equal(resp->kvs[0]->value.data[size - 1], 'v');
	etcdserverpb__range_response__free_unpacked(resp, NULL);
}

/* A half-built response is dropped by the fault path: INTERNAL, nothing else. */
static void test_fault_drops_response(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Txn", "application/grpc", &b);

	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, MS_GRPC_INTERNAL);
	assert_string_equal(r->grpc_message, "internal error: broken invariant");
	assert_int_equal(r->body_len, 0);
}

/* A handler finishes later from the event loop; its stream is still there. */
static void test_async_finish(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	while (!pending)
		pump(f, NULL, 5);
	pump(f, NULL, 20);
	assert_false(r->closed); /* nothing until the handler finishes */
	assert_false(grpc_call_cancelled(pending));
	assert_int_equal(grpc_call_send(pending, &resp.base), 0);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	assert_int_equal(r->body_len, 5); /* an empty PutResponse */
}

/* The client resets the stream while the handler is still working: the call stays valid for
 * the handler, sends fail, finishing does nothing, and the connection serves on. */
static void test_async_after_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 }, rb[64];
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };
	struct body_src b2 = range_body(rb, 3);
	struct resp *r = request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	struct resp *r2;

	while (!pending)
		pump(f, NULL, 5);
	assert_int_equal(nghttp2_submit_rst_stream(f->cl.h2, NGHTTP2_FLAG_NONE, r->id,
						   NGHTTP2_CANCEL), 0);
	for (int i = 0; i < 200 && !grpc_call_cancelled(pending); i++)
		pump(f, NULL, 5);
	assert_true(grpc_call_cancelled(pending));
	assert_int_equal(grpc_call_send(pending, &resp.base), -ECANCELED);
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
	r2 = request(&f->cl, "POST", "/etcdserverpb.KV/Range", "application/grpc", &b2);
	pump(f, &r2->closed, 0);
	assert_int_equal(r2->grpc_status, 0);
}

/* The connection goes away under a pending call. */
static void test_async_after_disconnect(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[] = { 0, 0, 0, 0, 0 };
	struct body_src b = { .p = buf, .len = 5, .end_stream = true };

	request(&f->cl, "POST", "/etcdserverpb.KV/Put", "application/grpc", &b);
	while (!pending)
		pump(f, NULL, 5);
	assert_int_equal(ms_server_connections(f->srv), 1);
	close(f->cl.fd);
	f->cl.fd = -1;
	for (int i = 0; i < 200 && ms_server_connections(f->srv); i++)
		pump(f, NULL, 5);
	assert_int_equal(ms_server_connections(f->srv), 0);
	assert_true(grpc_call_cancelled(pending));
	grpc_call_finish(pending, MS_GRPC_OK, NULL);
	grpc_call_unref(pending);
}

/* A stream gets each message as it arrives, including two in one DATA frame, and ends with
 * OK after the client half-closes; `closed` runs once. */
static void test_stream_messages(void **state)
{
	struct fixture *f = *state;
	Etcdserverpb__WatchRequest w = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCancelRequest c = ETCDSERVERPB__WATCH_CANCEL_REQUEST__INIT;
	uint8_t buf[64];
	size_t n1, n2;
	struct body_src b;
	struct resp *r;
	size_t want[2], off = 0;

	w.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST;
	w.cancel_request = &c;
	c.watch_id = 7;
	n1 = frame(buf, &w.base, 0);
	c.watch_id = 300; /* a longer varint: a different size */
	n2 = frame(buf + n1, &w.base, 0);
	want[0] = n1 - 5;
	want[1] = n2 - 5;
	b = (struct body_src){ .p = buf, .len = n1 + n2, .end_stream = true };
	r = request(&f->cl, "POST", "/etcdserverpb.Watch/Watch", "application/grpc", &b);
	pump(f, &r->closed, 0);
	assert_int_equal(r->grpc_status, 0);
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)r->body[off + 4];
		Etcdserverpb__WatchResponse *resp;

		assert_true(off + 5 + n <= r->body_len);
		resp = etcdserverpb__watch_response__unpack(NULL, n, r->body + off + 5);
		assert_non_null(resp);
		assert_int_equal(resp->watch_id, (int64_t)want[i]);
		etcdserverpb__watch_response__free_unpacked(resp, NULL);
		off += 5 + n;
	}
	assert_int_equal(off, r->body_len);
	assert_int_equal(closed_streams, 1);
}

/* The authorizer: refuses calls whose token is "deny"; records what it saw. */
static int authorized, handled;
static char seen_token[32];

static uint32_t authz(struct grpc_call *call, const uint8_t *msg, size_t len, const char **why,
		     void *ctx)
{
	(void)ctx;
	authorized++;
	snprintf(seen_token, sizeof(seen_token), "%s", call->token ? call->token : "(none)");
	/* a unary call comes with its message, a stream opens without one */
	assert_true(call->method == MS_METHOD_WATCH_WATCH ? msg == NULL : msg != NULL && len > 0);
	if (call->token && strcmp(call->token, "deny") == 0) {
		*why = "etcdserver: permission denied";
		return MS_GRPC_PERMISSION_DENIED;
	}
	return MS_GRPC_OK;
}

static void h_count(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	(void)msg, (void)len, (void)ctx;
	handled++;
	grpc_call_finish(call, MS_GRPC_OK, NULL);
}

/* The authorizer runs before a unary handler and before a stream opens, with the call's
 * token header; a refusal is Trailers-Only and the service never sees the call. */
static void test_authorizer(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *path, *token;
		int grpc;
		int handled, closed; /* counters after the case */
		const char *seen;
	} cases[] = {
		{ "/etcdserverpb.KV/Compact", NULL, 0, 1, 0, "(none)" },
		{ "/etcdserverpb.KV/Compact", "tok.1", 0, 2, 0, "tok.1" },
		{ "/etcdserverpb.KV/Compact", "deny", 7, 2, 0, "deny" },
		{ "/etcdserverpb.Watch/Watch", "deny", 7, 2, 0, "deny" },
		{ "/etcdserverpb.Watch/Watch", "tok.2", 0, 2, 1, "tok.2" },
	};
	uint8_t buf[64];
	Etcdserverpb__CompactionRequest c = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	size_t n;

	c.revision = 5;
	n = frame(buf, &c.base, 0);
	ms_server_handle(f->srv, MS_METHOD_KV_COMPACT, h_count, NULL);
	ms_server_set_authorizer(f->srv, authz, NULL);
	authorized = handled = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct body_src b = { .p = buf, .len = n, .end_stream = true };
		bool watch = strstr(cases[i].path, "Watch") != NULL;
		struct resp *r = request_tok(&f->cl, "POST", cases[i].path, "application/grpc",
					     cases[i].token, watch ? NULL : &b);

		/* the Watch stream sends no message: it ends at half-close */
		pump(f, &r->closed, 0);
		if (r->grpc_status != cases[i].grpc || handled != cases[i].handled ||
		    closed_streams != cases[i].closed || strcmp(seen_token, cases[i].seen) ||
		    authorized != (int)i + 1)
			fail_msg("case %zu: status %d handled %d closed %d token %s authorized %d", i,
				 r->grpc_status, handled, closed_streams, seen_token, authorized);
		if (cases[i].grpc == 7 &&
		    (strcmp(r->grpc_message, "etcdserver: permission denied") || r->header_blocks != 1))
			fail_msg("case %zu: '%s' in %d header blocks", i, r->grpc_message,
				 r->header_blocks);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statuses_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_response_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_drops_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_after_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_after_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorizer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
