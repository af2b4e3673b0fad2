/* Unit tests for watch events packed once for all their watchers (metastore/api/watch_pack.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/watch_pack.h"
#include "rpc/grpc.h"

static const uint8_t val_a[] = "value-a", val_b[] = "bb", val_prev[] = "previous";

/* One event of a case: its log position, key, revision, put or delete, prev wanted. */
struct ev_case {
	uint64_t pos;
	const char *key;
	int64_t mod_rev;
	bool is_delete, with_prev;
	const uint8_t *value;
	size_t value_len;
};

static struct ms_event make_event(const struct ev_case *c)
{
	struct ms_event ev = { .is_delete = c->is_delete, .has_prev = true };

	ev.kv.key = (const uint8_t *)c->key;
	ev.kv.key_len = strlen(c->key);
	ev.kv.mod_rev = c->mod_rev;
	if (!c->is_delete) {
		ev.kv.value = c->value;
		ev.kv.value_len = c->value_len;
		ev.kv.create_rev = 2;
		ev.kv.version = c->mod_rev - 1;
		ev.kv.lease = 7;
	}
	ev.prev = (struct ms_kv){ .key = ev.kv.key, .key_len = ev.kv.key_len, .value = val_prev,
				  .value_len = sizeof(val_prev) - 1, .create_rev = 2,
				  .mod_rev = c->mod_rev - 1, .version = 1 };
	return ev;
}

static void kv_pb(Mvccpb__KeyValue *p, const struct ms_kv *kv)
{
	mvccpb__key_value__init(p);
	p->key = (ProtobufCBinaryData){ kv->key_len, (uint8_t *)kv->key };
	p->value = (ProtobufCBinaryData){ kv->value_len, (uint8_t *)kv->value };
	p->create_revision = kv->create_rev;
	p->mod_revision = kv->mod_rev;
	p->version = kv->version;
	p->lease = kv->lease;
}

/* A response header's fields. */
struct hdr_case {
	uint64_t cluster_id, member_id, raft_term;
	int64_t revision;
};

static void hdr_fill(Etcdserverpb__ResponseHeader *h, const struct hdr_case *c)
{
	h->cluster_id = c->cluster_id;
	h->member_id = c->member_id;
	h->revision = c->revision;
	h->raft_term = c->raft_term;
}

/* The framed WatchResponse protobuf-c packs with these events in it. */
static size_t reference(const struct ev_case *cs, size_t n, int64_t watch_id,
			const struct hdr_case *hc, uint8_t *out)
{
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Mvccpb__Event e[8], *pe[8];
	Mvccpb__KeyValue kv[8], prev[8];
	struct ms_event ev[8];
	size_t len;

	assert_true(n <= 8);
	hdr_fill(&h, hc);
	r.header = &h;
	r.watch_id = watch_id;
	for (size_t i = 0; i < n; i++) {
		ev[i] = make_event(&cs[i]);
		mvccpb__event__init(&e[i]);
		e[i].type = cs[i].is_delete ? MVCCPB__EVENT__EVENT_TYPE__DELETE
					    : MVCCPB__EVENT__EVENT_TYPE__PUT;
		kv_pb(&kv[i], &ev[i].kv);
		e[i].kv = &kv[i];
		if (cs[i].with_prev) {
			kv_pb(&prev[i], &ev[i].prev);
			e[i].prev_kv = &prev[i];
		}
		pe[i] = &e[i];
	}
	r.events = pe;
	r.n_events = n;
	len = etcdserverpb__watch_response__pack(&r, out + GRPC_FRAME_HDR);
	grpc_frame_header(out, (uint32_t)len);
	return len + GRPC_FRAME_HDR;
}

/* The same through the cache. */
static void built(struct watch_pack *p, const struct ev_case *cs, size_t n, int64_t watch_id,
		  const struct hdr_case *hc, struct ms_buf *events, struct ms_buf *frame)
{
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;

	hdr_fill(&h, hc);
	r.header = &h;
	r.watch_id = watch_id;
	events->len = 0;
	for (size_t i = 0; i < n; i++) {
		struct ms_event ev = make_event(&cs[i]);

		assert_int_equal(watch_pack_event(p, cs[i].pos, &ev, cs[i].with_prev, events), 0);
	}
	assert_int_equal(watch_pack_response(&r, events, frame), 0);
}

struct resp_case {
	const char *name;
	struct hdr_case hdr;
	int64_t watch_id;
	size_t n;
	struct ev_case ev[4];
};

#define H1 { 0x1122334455667788ULL, 0xfedcba9876543210ULL, 3, 99 }
static const struct resp_case cases[] = {
	{ "one put", H1, 0, 1, { { 10, "k1", 5, false, false, val_a, 7 } } },
	{ "one put, prev_kv", H1, 3, 1, { { 10, "k1", 5, false, true, val_a, 7 } } },
	{ "a delete", H1, 1000000, 1, { { 11, "k1", 6, true, false, NULL, 0 } } },
	{ "a txn's events", H1, 2, 3,
	  { { 12, "a", 7, false, false, val_a, 7 }, { 13, "b", 7, true, true, NULL, 0 },
	    { 14, "c", 7, false, false, val_b, 2 } } },
	/* position 10 + 64 takes slot 10: another key, repacked */
	{ "a slot reused", H1, 5, 1, { { 74, "other", 9, false, false, val_b, 2 } } },
	/* position 10 again, now without prev_kv after the case that had it */
	{ "the first again", H1, 0, 1, { { 10, "k1", 5, false, false, val_a, 7 } } },
	{ "an empty value", H1, 9, 1, { { 15, "e", 8, false, false, val_a, 0 } } },
	/* header fields left out when zero, and at their widest */
	{ "an all-zero header", { 0, 0, 0, 0 }, 0, 1, { { 16, "z", 1, false, false, val_b, 2 } } },
	{ "a wide header", { UINT64_MAX, 1, UINT64_MAX, INT64_MAX }, INT64_MAX, 1,
	  { { 17, "w", 2, false, false, val_b, 2 } } },
	{ "no events", H1, 4, 0, { { 0 } } },
};

static void test_bytes_match_protobuf_c(void **state)
{
	struct watch_pack *p = watch_pack_new();
	struct ms_buf events = { 0 }, frame = { 0 };
	uint8_t want[4096];

	(void)state;
	assert_non_null(p);
	/* each case twice: packed, then from the cache (a second watcher) */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct resp_case *c = &cases[i];
			size_t n = reference(c->ev, c->n, c->watch_id, &c->hdr, want);

			built(p, c->ev, c->n, c->watch_id, &c->hdr, &events, &frame);
			if (frame.len != n || memcmp(frame.data, want, n))
				fail_msg("%s (round %d): %zu bytes, protobuf-c %zu", c->name,
					 round, frame.len, n);
		}
	}
	ms_buf_free(&events);
	ms_buf_free(&frame);
	watch_pack_free(p);
	watch_pack_free(NULL);
}

/* A response with more than a header and an id (created, canceled) is packed by protobuf-c:
 * the same bytes as packing it whole. */
static void test_other_responses(void **state)
{
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	struct ms_buf events = { 0 }, frame = { 0 };
	uint8_t want[512];
	size_t n;

	(void)state;
	h.revision = 12;
	r.header = &h;
	r.watch_id = 6;
	r.canceled = 1;
	r.compact_revision = 11;
	r.cancel_reason = "etcdserver: mvcc: required revision has been compacted";
	n = etcdserverpb__watch_response__pack(&r, want + GRPC_FRAME_HDR);
	grpc_frame_header(want, (uint32_t)n);
	assert_int_equal(watch_pack_response(&r, &events, &frame), 0);
	assert_int_equal(frame.len, n + GRPC_FRAME_HDR);
	assert_memory_equal(frame.data, want, frame.len);
	ms_buf_free(&frame);
}

/* A response that already holds events is refused (they would come twice). */
static void test_response_with_events_refused(void **state)
{
	Etcdserverpb__WatchResponse r = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Mvccpb__Event e = MVCCPB__EVENT__INIT, *pe = &e;
	struct ms_buf events = { 0 }, frame = { 0 };

	(void)state;
	r.events = &pe;
	r.n_events = 1;
	assert_int_equal(watch_pack_response(&r, &events, &frame), -EINVAL);
	ms_buf_free(&frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_match_protobuf_c),
		cmocka_unit_test(test_other_responses),
		cmocka_unit_test(test_response_with_events_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
