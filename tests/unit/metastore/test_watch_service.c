/* Unit tests for the Watch service's backpressure and its wait for a ready member: real
 * requests through the stream ops, a recording transport whose client reads only when the
 * test drains it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/watch_service.h"
#include "rpc.pb-c.h"

/* The service's bounds (watch_service.c): 128 KiB waiting per stream, resumed below half;
 * a response adds at most one event beyond 32 KiB. */
#define STREAM_BUF (128 * 1024)
#define RESUME_BELOW (STREAM_BUF / 2)
#define VALUE_BYTES 10240
/* Bytes that may wait: the buffer, then one response of whole revisions of `ops` events. */
#define MAX_PENDING(ops) ((size_t)(STREAM_BUF + 32 * 1024 + (ops) * (VALUE_BYTES + 64) + 256))

/* --- the transport, recorded ----------------------------------------------------------- */

static struct grpc_stream_ops ops;
static void *ops_ctx;
static size_t armed; /* the mark of the last grpc_call_notify_writable, 0 once run */
static int faults;

int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t hdr[GRPC_FRAME_HDR];

	if (call->finished)
		return -EINVAL;
	grpc_frame_header(hdr, (uint32_t)n);
	assert_int_equal(ms_buf_append(&call->out, hdr, sizeof(hdr)), 0);
	assert_int_equal(ms_buf_append(&call->out, NULL, n), 0);
	protobuf_c_message_pack(m, call->out.data + call->out.len - n);
	return 0;
}

int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len)
{
	if (call->finished)
		return -EINVAL;
	assert_int_equal(ms_buf_append(&call->out, framed, len), 0);
	return 0;
}

size_t grpc_call_pending_bytes(const struct grpc_call *call)
{
	return call->out.len - call->out_off;
}

void grpc_call_notify_writable(struct grpc_call *call, size_t below)
{
	/* the service arms only when its buffer is full */
	assert_true(grpc_call_pending_bytes(call) >= below);
	armed = below;
}

void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message)
{
	(void)message;
	call->finished = true;
	call->code = code;
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	(void)what;
	faults++;
	grpc_call_finish(call, MS_GRPC_INTERNAL, NULL);
}

void ms_server_handle_stream(struct ms_server *s, enum ms_method m,
			     const struct grpc_stream_ops *o, void *ctx)
{
	(void)s;
	assert_int_equal(m, MS_METHOD_WATCH_WATCH);
	ops = *o;
	ops_ctx = ctx;
}

#include "call_stubs.h"

/* --- the client ------------------------------------------------------------------------ */

struct seen {
	int per_rev;           /* events in each revision */
	int64_t events[4];     /* per watcher, by watch id */
	int64_t last_rev[4];   /* the revision each watcher got last */
	int in_rev[4];         /* events of last_rev it got */
	int64_t compacted[4];  /* compact_revision of its cancel, 0 if none */
	int created;
	size_t max_pending;
};

/* Takes everything queued (as a client that reads), checking each event is the next one. */
static void drain(struct grpc_call *call, struct seen *s)
{
	if (grpc_call_pending_bytes(call) > s->max_pending)
		s->max_pending = grpc_call_pending_bytes(call);
	while (call->out.len - call->out_off >= GRPC_FRAME_HDR) {
		const uint8_t *p = call->out.data + call->out_off;
		size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
		Etcdserverpb__WatchResponse *r =
			etcdserverpb__watch_response__unpack(NULL, n, p + GRPC_FRAME_HDR);

		assert_non_null(r);
		assert_true(r->watch_id >= 0 && r->watch_id < 4);
		s->created += r->created;
		if (r->canceled)
			s->compacted[r->watch_id] = r->compact_revision;
		for (size_t i = 0; i < r->n_events; i++) {
			int64_t rev = r->events[i]->kv->mod_revision, w = r->watch_id;

			if (rev == s->last_rev[w]) {
				/* a revision's events come in one response */
				assert_true(i > 0);
				s->in_rev[w]++;
			} else {
				/* the next revision, once the last one was whole */
				assert_int_equal(rev, s->last_rev[w] + 1);
				assert_int_equal(s->in_rev[w], s->per_rev);
				s->last_rev[w] = rev;
				s->in_rev[w] = 1;
			}
			s->events[w]++;
		}
		etcdserverpb__watch_response__free_unpacked(r, NULL);
		call->out_off += GRPC_FRAME_HDR + n;
	}
	assert_int_equal(call->out_off, call->out.len);
	/* what the transport does once the bytes are out: the service may go on */
	if (armed) {
		armed = 0;
		ops.writable(call, ops_ctx);
	}
}

/* Sends one create of the /w/ prefix; returns the message's size. */
static size_t send_create(struct grpc_call *call, int64_t start_rev)
{
	Etcdserverpb__WatchRequest w = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	uint8_t buf[64];
	size_t n;

	w.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	w.create_request = &cr;
	cr.key.data = (uint8_t *)"/w/";
	cr.key.len = 3;
	cr.range_end.data = (uint8_t *)"/w0";
	cr.range_end.len = 3;
	cr.start_revision = start_rev;
	n = protobuf_c_message_pack(&w.base, buf);
	ops.message(call, buf, n, ops_ctx);
	return n;
}

/* --- tests ----------------------------------------------------------------------------- */

/* n writes of `ops` puts each: plain puts for 1, else transactions. */
static void write_n(struct ms_mvcc *mvcc, struct watch_hub *hub, int n, int ops)
{
	static uint8_t value[VALUE_BYTES];
	char key[32];

	for (int i = 0; i < n; i++) {
		struct ms_mvcc_txn *t = ops > 1 ? ms_mvcc_txn_begin(mvcc) : NULL;

		for (int j = 0; j < ops; j++) {
			snprintf(key, sizeof(key), "/w/%06d.%d", i, j);
			if (t)
				assert_int_equal(ms_mvcc_txn_put(t, (uint8_t *)key, strlen(key), value,
								 sizeof(value), 0, NULL, NULL),
						 0);
			else
				assert_int_equal(ms_mvcc_put(mvcc, (uint8_t *)key, strlen(key), value,
							     sizeof(value), 0, NULL, NULL, NULL),
						 0);
		}
		if (t)
			assert_true(ms_mvcc_txn_end(t) > 0);
		watch_hub_notify(hub);
	}
}

/*
 * A client that reads nothing while puts land (live watchers) or while its watchers start
 * from revision 1 over a long history: at no point more than one stream buffer plus one
 * response waits; once it reads, every watcher gets every event once, in order. Compacted
 * behind: the events already queued, then a cancel with the compaction revision.
 */
static void test_backpressure_table(void **state)
{
	static const struct {
		int writes_before, writes_after; /* around the creates */
		int ops;        /* puts per write (a transaction if more than one) */
		int64_t start_rev;
		int watchers;
		bool compact;   /* compact at the last revision before the client reads */
		int64_t events; /* per watcher, without compaction */
	} cases[] = {
		{ 0, 1000, 1, 0, 1, false, 1000 },
		{ 0, 1000, 1, 0, 3, false, 1000 },
		{ 1000, 0, 1, 1, 1, false, 1000 },
		{ 1000, 200, 1, 1, 2, false, 1200 },
		{ 0, 1000, 1, 0, 2, true, 0 },
		/* 80 KiB transactions, above the 32 KiB a response ends at: never split */
		{ 0, 100, 8, 0, 2, false, 800 },
		{ 100, 0, 8, 1, 1, false, 800 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_mvcc *mvcc = ms_mvcc_new(1);
		struct kv_service kv = { .mvcc = mvcc, .cluster_id = 7, .member_id = 9, .raft_term = 1 };
		struct watch_hub *hub = watch_hub_new(&kv);
		struct grpc_call call = { .method = MS_METHOD_WATCH_WATCH, .refs = 1,
					  .streaming = true };
		struct seen s = { .per_rev = cases[i].ops };
		int64_t compact_rev = 0;

		assert_non_null(mvcc);
		assert_non_null(hub);
		armed = 0;
		faults = 0;
		watch_hub_register(hub, NULL);
		ops.open(&call, ops_ctx);
		write_n(mvcc, hub, cases[i].writes_before, cases[i].ops);
		for (int w = 0; w < cases[i].watchers; w++) {
			send_create(&call, cases[i].start_rev);
			s.last_rev[w] = 1; /* the first write is revision 2 */
			s.in_rev[w] = cases[i].ops;
		}
		if (grpc_call_pending_bytes(&call) > s.max_pending)
			s.max_pending = grpc_call_pending_bytes(&call);
		write_n(mvcc, hub, cases[i].writes_after, cases[i].ops);
		if (grpc_call_pending_bytes(&call) > s.max_pending)
			s.max_pending = grpc_call_pending_bytes(&call);
		if (cases[i].compact) {
			compact_rev = ms_mvcc_rev(mvcc);
			assert_int_equal(ms_mvcc_compact(mvcc, compact_rev), 0);
		}
		for (int round = 0; round < 100000 && (armed || call.out_off < call.out.len); round++)
			drain(&call, &s);
		if (s.max_pending > MAX_PENDING(cases[i].ops) || faults ||
		    s.created != cases[i].watchers)
			fail_msg("case %zu: %zu bytes waited (bound %zu), %d faults, %d created", i,
				 s.max_pending, MAX_PENDING(cases[i].ops), faults, s.created);
		for (int w = 0; w < cases[i].watchers; w++) {
			if (cases[i].compact) {
				/* some events had left before the compaction; none after it */
				if (s.compacted[w] != compact_rev || s.events[w] >= 1000)
					fail_msg("case %zu watcher %d: %lld events, compacted at %lld",
						 i, w, (long long)s.events[w], (long long)s.compacted[w]);
			} else if (s.events[w] != cases[i].events || s.compacted[w] ||
				   s.in_rev[w] != cases[i].ops) {
				fail_msg("case %zu watcher %d: %lld events, compacted at %lld", i, w,
					 (long long)s.events[w], (long long)s.compacted[w]);
			}
		}
		assert_int_equal(watch_hub_watchers(hub), cases[i].compact ? 0 : cases[i].watchers);
		ops.closed(&call, ops_ctx);
		assert_int_equal(watch_hub_watchers(hub), 0);
		ms_buf_free(&call.out);
		watch_hub_free(hub);
		ms_mvcc_free(mvcc);
	}
}

static bool member_ready;

static bool ready_fn(void *ctx)
{
	(void)ctx;
	return member_ready;
}

/*
 * A create from "now" sent before the member is ready (a restarted member replaying its
 * log) waits: the writes it applies meanwhile are history, not events of that watcher. Once
 * ready (and notified), the create runs: created, then only later writes' events. A create
 * from revision 1 sent meanwhile gets the whole history, in order after the first.
 */
static void test_create_waits_until_ready(void **state)
{
	struct ms_mvcc *mvcc = ms_mvcc_new(1);
	struct kv_service kv = { .mvcc = mvcc, .cluster_id = 7, .member_id = 9, .raft_term = 1 };
	struct watch_hub *hub = watch_hub_new(&kv);
	struct grpc_call call = { .method = MS_METHOD_WATCH_WATCH, .refs = 1, .streaming = true };
	struct seen s = { .per_rev = 1 };

	(void)state;
	assert_non_null(mvcc);
	assert_non_null(hub);
	armed = 0;
	faults = 0;
	member_ready = false;
	watch_hub_set_ready(hub, ready_fn, NULL);
	watch_hub_register(hub, NULL);
	ops.open(&call, ops_ctx);
	write_n(mvcc, hub, 3, 1); /* revisions 2-4: what the member had before it stopped */
	send_create(&call, 0);    /* watcher 0: from now */
	send_create(&call, 1);    /* watcher 1: from revision 1 */
	write_n(mvcc, hub, 5, 1); /* revisions 5-9 replayed: still not ready */
	assert_int_equal(call.out.len, 0);
	assert_int_equal(watch_hub_watchers(hub), 0);
	member_ready = true;
	watch_hub_notify(hub);
	s.last_rev[0] = 9;
	s.in_rev[0] = 1;
	s.last_rev[1] = 1;
	s.in_rev[1] = 1;
	drain(&call, &s);
	assert_int_equal(s.created, 2);
	assert_int_equal(s.events[0], 0);
	assert_int_equal(s.events[1], 8);
	write_n(mvcc, hub, 2, 1); /* revisions 10-11 */
	drain(&call, &s);
	assert_int_equal(s.events[0], 2);
	assert_int_equal(s.last_rev[0], 11);
	assert_int_equal(s.events[1], 10);
	assert_int_equal(faults, 0);
	ops.closed(&call, ops_ctx);
	ms_buf_free(&call.out);
	watch_hub_free(hub);
	ms_mvcc_free(mvcc);
}

/* A stream that sends more than the service holds for a member not ready ends UNAVAILABLE
 * (as a call held past the request timeout), without a fault; closing frees the rest. */
static void test_held_bound(void **state)
{
	struct ms_mvcc *mvcc = ms_mvcc_new(1);
	struct kv_service kv = { .mvcc = mvcc, .cluster_id = 7, .member_id = 9, .raft_term = 1 };
	struct watch_hub *hub = watch_hub_new(&kv);
	struct grpc_call call = { .method = MS_METHOD_WATCH_WATCH, .refs = 1, .streaming = true };
	size_t sent = 0, n = 0;

	(void)state;
	assert_non_null(hub);
	faults = 0;
	member_ready = false;
	watch_hub_set_ready(hub, ready_fn, NULL);
	watch_hub_register(hub, NULL);
	ops.open(&call, ops_ctx);
	/* each create is held with a 4-byte length, up to 256 KiB */
	while (!call.finished && sent < 100000) {
		n = send_create(&call, 0);
		sent++;
	}
	assert_true(call.finished);
	assert_int_equal(call.code, MS_GRPC_UNAVAILABLE);
	assert_int_equal(sent, 256 * 1024 / (n + 4) + 1);
	assert_int_equal(faults, 0);
	ops.closed(&call, ops_ctx);
	assert_int_equal(watch_hub_watchers(hub), 0);
	watch_hub_free(hub);
	ms_mvcc_free(mvcc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backpressure_table),
		cmocka_unit_test(test_create_waits_until_ready),
		cmocka_unit_test(test_held_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
