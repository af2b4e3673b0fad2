/* libFuzzer harness for request bodies: gRPC unframing, then every KV handler on one store. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/grpc.h"
#include "api/kv_service.h"
#include "rpc.pb-c.h"

/* The largest message the harness unframes, and how many inputs share one store. */
#define MAX_MESSAGE (1u << 20)
#define STORE_RESET_EVERY 512

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "fuzz_grpc_request: check failed: %s (line %d)\n", #c, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* --- the transport, replaced --------------------------------------------------------- */

static unsigned finishes;

int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	CHECK(!call->finished && call->out.len == 0); /* unary: one response, before status */
	if (ms_buf_append(&call->out, NULL, n))
		return -ENOMEM;
	CHECK(protobuf_c_message_pack(m, call->out.data) == n);
	return 0;
}

void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message)
{
	finishes++;
	CHECK(!call->finished);
	call->finished = true;
	call->code = code;
	call->message = message ? strdup(message) : NULL;
}

void grpc_call_fault(struct grpc_call *call, const char *what)
{
	/* Nothing here runs out of memory, so a fault is a broken invariant in the store. */
	fprintf(stderr, "fuzz_grpc_request: internal fault: %s\n", what);
	abort();
	(void)call;
}

void ms_server_handle(struct ms_server *s, enum ms_method m, grpc_unary_fn fn, void *ctx)
{
	(void)s, (void)m, (void)fn, (void)ctx;
}

/* The raft routing linked in with the services refers to these; the harness has no raft. */
void grpc_call_ref(struct grpc_call *call)
{
	(void)call;
	abort();
}

void grpc_call_unref(struct grpc_call *call)
{
	(void)call;
	abort();
}

bool grpc_call_cancelled(const struct grpc_call *call)
{
	(void)call;
	abort();
}

void grpc_call_redispatch(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)call, (void)msg, (void)len;
	abort();
}

int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len)
{
	(void)call, (void)framed, (void)len;
	abort();
}

/* --- the handlers -------------------------------------------------------------------- */

struct handler {
	grpc_unary_fn fn;
	const ProtobufCMessageDescriptor *resp;
};

static const struct handler handlers[] = {
	{ kv_service_range, &etcdserverpb__range_response__descriptor },
	{ kv_service_put, &etcdserverpb__put_response__descriptor },
	{ kv_service_delete_range, &etcdserverpb__delete_range_response__descriptor },
	{ kv_service_txn, &etcdserverpb__txn_response__descriptor },
	{ kv_service_compact, &etcdserverpb__compaction_response__descriptor },
};

static struct kv_service svc = { .cluster_id = 11, .member_id = 22, .raft_term = 1,
				 .max_request_bytes = 64 * 1024 };
static unsigned runs;

static void run(const struct handler *h, const uint8_t *msg, size_t len)
{
	struct grpc_call call = { .id = runs, .method = 0 };
	int64_t rev = ms_mvcc_rev(svc.mvcc);

	finishes = 0;
	h->fn(&call, msg, len, &svc);
	CHECK(finishes == 1 && call.finished);
	CHECK(call.code < 17);
	if (call.code == MS_GRPC_OK) {
		/* A success carries exactly one response that decodes as its type. */
		ProtobufCMessage *r = protobuf_c_message_unpack(h->resp, NULL, call.out.len,
								  call.out.data);

		CHECK(r);
		protobuf_c_message_free_unpacked(r, NULL);
		CHECK(ms_mvcc_rev(svc.mvcc) >= rev);
	} else {
		CHECK(call.out.len == 0);
		CHECK(call.message && *call.message);
		/* A refused request changes nothing. */
		CHECK(ms_mvcc_rev(svc.mvcc) == rev);
	}
	CHECK(ms_mvcc_compact_rev(svc.mvcc) <= ms_mvcc_rev(svc.mvcc));
	ms_buf_free(&call.out);
	free(call.message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg = NULL;
	size_t len = 0;
	enum grpc_unframe_result r;

	/* A fresh store now and then: the fuzzer's writes would otherwise pile up for hours. */
	if (!svc.mvcc || runs++ % STORE_RESET_EVERY == 0) {
		ms_mvcc_free(svc.mvcc);
		svc.mvcc = ms_mvcc_new(1);
		CHECK(svc.mvcc);
	}
	r = grpc_unframe(data, size, MAX_MESSAGE, &msg, &len);
	switch (r) {
	case GRPC_UNFRAME_OK:
		CHECK(size >= GRPC_FRAME_HDR && msg == data + GRPC_FRAME_HDR &&
		      len == size - GRPC_FRAME_HDR);
		break;
	case GRPC_UNFRAME_EMPTY:
		CHECK(size == 0);
		return 0;
	case GRPC_UNFRAME_TOO_LARGE:
		CHECK(len > MAX_MESSAGE);
		return 0;
	case GRPC_UNFRAME_TRUNCATED:
	case GRPC_UNFRAME_TRAILING:
	case GRPC_UNFRAME_COMPRESSED:
		CHECK(size > 0);
		return 0;
	default:
		CHECK(!"unknown unframe result");
	}
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		run(&handlers[i], msg, len);
	return 0;
}
