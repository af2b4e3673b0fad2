/* etcdserverpb.KV service: Range, Put, DeleteRange, Compact over the MVCC store (Txn: kv_txn.c). */
#include "api/kv_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/propose.h"
#include "api/quota.h"
#include "api/reply.h"
#include "rpc/pb_scan.h"

void kv_service_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	/* The request and the response share one arena. */
	struct kv_pb_arena a = { 0 };
	ProtobufCAllocator alloc = kv_pb_allocator(&a);
	Etcdserverpb__RangeRequest *req = etcdserverpb__range_request__unpack(&alloc, len, msg);
	Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;
	struct ms_range_res res = { 0 };
	struct ms_range_req q;
	int err;

	if (!req) {
		kv_pb_arena_free(&a);
		api_bad_request(call);
		return;
	}
	if (req->key.len == 0) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY);
		goto cleanup;
	}
	kv_pb_range_req(req, &q);
	err = ms_mvcc_range(svc->mvcc, &q, &res);
	if (err) {
		api_fail(call, kv_pb_mvcc_err(err));
		goto cleanup;
	}
	resp.header = api_header(&a, svc, res.rev);
	kv_pb_range_resp(&a, &resp, &res);
	api_reply(call, &a, &resp.base);
cleanup:
	ms_range_res_release(&res);
	kv_pb_arena_free(&a);
}

/* The checks etcd makes before proposing a Put (v3rpc checkPutRequest). */
static struct kv_pb_err put_valid(const Etcdserverpb__PutRequest *r)
{
	if (r->key.len == 0)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY };
	if (r->ignore_value && r->value.len)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_VALUE_PROVIDED };
	if (r->ignore_lease && r->lease)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_LEASE_PROVIDED };
	return (struct kv_pb_err){ MS_GRPC_OK, NULL };
}

void kv_service_put(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	struct kv_pb_arena a = { 0 };
	ProtobufCAllocator alloc = kv_pb_allocator(&a);
	Etcdserverpb__PutRequest *req;
	struct kv_pb_err err;

	if (len > svc->max_request_bytes) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	req = etcdserverpb__put_request__unpack(&alloc, len, msg);
	if (!req) {
		kv_pb_arena_free(&a);
		api_bad_request(call);
		return;
	}
	err = put_valid(req);
	if (err.code != MS_GRPC_OK) {
		api_fail(call, err);
	} else if (!api_quota_refuse(svc, call, api_quota_put_cost(req))) {
		e.op_case = METASTORE__ENTRY__OP_PUT;
		e.put = req;
		api_propose(svc, call, &e, msg, len);
	}
	kv_pb_arena_free(&a);
}

void kv_service_delete_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	Etcdserverpb__DeleteRangeRequest *req;

	if (len > svc->max_request_bytes) {
		/* etcd refuses any write whose raft entry would exceed --max-request-bytes. */
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	req = etcdserverpb__delete_range_request__unpack(NULL, len, msg);
	if (!req) {
		api_bad_request(call);
		return;
	}
	if (req->key.len == 0) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY);
	} else {
		e.op_case = METASTORE__ENTRY__OP_DELETE_RANGE;
		e.delete_range = req;
		api_propose(svc, call, &e, msg, len);
	}
	etcdserverpb__delete_range_request__free_unpacked(req, NULL);
}

void kv_service_compact(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	Etcdserverpb__CompactionRequest *req = etcdserverpb__compaction_request__unpack(NULL, len, msg);

	if (!req) {
		api_bad_request(call);
		return;
	}
	e.op_case = METASTORE__ENTRY__OP_COMPACTION;
	e.compaction = req;
	api_propose(svc, call, &e, msg, len);
	etcdserverpb__compaction_request__free_unpacked(req, NULL);
}

/* Range with serializable set reads this member's state without asking the leader. Only
 * that field is looked at: the handler decodes the whole request once. */
static bool range_serializable(const uint8_t *msg, size_t len)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
		&etcdserverpb__range_request__descriptor, "serializable");
	uint64_t v = 0;

	return f && ms_pb_scan_varint(msg, len, f->id, &v) == 1 && v != 0;
}

void kv_service_register(struct kv_service *svc, struct ms_server *srv)
{
	if (!svc->raft) {
		ms_server_handle(srv, MS_METHOD_KV_RANGE, kv_service_range, svc);
		ms_server_handle(srv, MS_METHOD_KV_PUT, kv_service_put, svc);
		ms_server_handle(srv, MS_METHOD_KV_DELETE_RANGE, kv_service_delete_range, svc);
		ms_server_handle(srv, MS_METHOD_KV_TXN, kv_service_txn, svc);
		ms_server_handle(srv, MS_METHOD_KV_COMPACT, kv_service_compact, svc);
		return;
	}
	/* writes (and txns, which may write) are proposed by their handlers; reads are
	 * linearizable */
	ms_raft_route_read(svc->raft, srv, MS_METHOD_KV_RANGE, kv_service_range, svc,
			   range_serializable);
	ms_server_handle(srv, MS_METHOD_KV_PUT, kv_service_put, svc);
	ms_server_handle(srv, MS_METHOD_KV_DELETE_RANGE, kv_service_delete_range, svc);
	ms_server_handle(srv, MS_METHOD_KV_TXN, kv_service_txn, svc);
	ms_server_handle(srv, MS_METHOD_KV_COMPACT, kv_service_compact, svc);
}
