/* etcdserverpb.KV service: Range, Put, DeleteRange, Compact over the MVCC store (Txn: kv_txn.c). */
#include "api/kv_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/kv_pb.h"
#include "rpc/pb_scan.h"

void kv_service_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Etcdserverpb__RangeRequest *req = etcdserverpb__range_request__unpack(NULL, len, msg);
	Etcdserverpb__RangeResponse resp = ETCDSERVERPB__RANGE_RESPONSE__INIT;
	struct ms_range_res res = { 0 };
	struct ms_range_req q;
	struct kv_pb_arena a = { 0 };
	int err;

	if (!req) {
		kv_pb_bad_request(call);
		return;
	}
	if (req->key.len == 0) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY);
		goto cleanup;
	}
	kv_pb_range_req(req, &q);
	err = ms_mvcc_range(svc->mvcc, &q, &res);
	if (err) {
		kv_pb_fail(call, kv_pb_mvcc_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc, res.rev);
	kv_pb_range_resp(&a, &resp, &res);
	kv_pb_reply(call, &a, &resp.base);
cleanup:
	ms_range_res_release(&res);
	kv_pb_arena_free(&a);
	etcdserverpb__range_request__free_unpacked(req, NULL);
}

/* Resolves ignore_value / ignore_lease against the key's current state. */
static struct kv_pb_err put_resolve(struct kv_service *svc, const Etcdserverpb__PutRequest *r,
				 const uint8_t **val, size_t *val_len, int64_t *lease)
{
	struct ms_kv cur;

	*val = r->value.data;
	*val_len = r->value.len;
	*lease = r->lease;
	if (r->key.len == 0)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY };
	if (r->ignore_value && r->value.len)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_VALUE_PROVIDED };
	if (r->ignore_lease && r->lease)
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_LEASE_PROVIDED };
	if (!r->ignore_value && !r->ignore_lease)
		return (struct kv_pb_err){ MS_GRPC_OK, NULL };
	if (!ms_mvcc_get(svc->mvcc, r->key.data, r->key.len, &cur))
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_KEY_NOT_FOUND };
	if (r->ignore_value) {
		*val = cur.value;
		*val_len = cur.value_len;
	}
	if (r->ignore_lease)
		*lease = cur.lease;
	return (struct kv_pb_err){ MS_GRPC_OK, NULL };
}

void kv_service_put(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Etcdserverpb__PutRequest *req;
	Etcdserverpb__PutResponse resp = ETCDSERVERPB__PUT_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	struct ms_kv prev;
	struct kv_pb_err e;
	const uint8_t *val;
	size_t val_len;
	int64_t lease, rev;
	bool had_prev = false;
	uint8_t *copy = NULL;
	int err;

	if (len > svc->max_request_bytes) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	req = etcdserverpb__put_request__unpack(NULL, len, msg);
	if (!req) {
		kv_pb_bad_request(call);
		return;
	}
	e = put_resolve(svc, req, &val, &val_len, &lease);
	if (e.code == MS_GRPC_OK)
		e = kv_pb_lease_check(svc, lease);
	if (e.code != MS_GRPC_OK) {
		kv_pb_fail(call, e);
		goto cleanup;
	}
	if (req->ignore_value && val_len) {
		/* The current value lives in the store, which the put is about to change. */
		copy = malloc(val_len);
		if (!copy) {
			grpc_call_fault(call, "out of memory");
			goto cleanup;
		}
		memcpy(copy, val, val_len);
		val = copy;
	}
	err = ms_mvcc_put(svc->mvcc, req->key.data, req->key.len, val, val_len, lease,
			  req->prev_kv ? &prev : NULL, &had_prev, &rev);
	if (err) {
		kv_pb_fail(call, kv_pb_mvcc_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc, rev);
	if (req->prev_kv && had_prev)
		resp.prev_kv = kv_pb_kv(&a, &prev);
	kv_pb_reply(call, &a, &resp.base);
	kv_pb_lease_put(svc, req->key.data, req->key.len, lease);
	kv_pb_changed(svc);
cleanup:
	free(copy);
	kv_pb_arena_free(&a);
	etcdserverpb__put_request__free_unpacked(req, NULL);
}

void kv_service_delete_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Etcdserverpb__DeleteRangeRequest *req =
		etcdserverpb__delete_range_request__unpack(NULL, len, msg);
	Etcdserverpb__DeleteRangeResponse resp = ETCDSERVERPB__DELETE_RANGE_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	struct ms_kv *prevs = NULL;
	int64_t deleted = 0, rev;
	int err;

	if (len > svc->max_request_bytes) {
		/* etcd refuses any write whose raft entry would exceed --max-request-bytes. */
		etcdserverpb__delete_range_request__free_unpacked(req, NULL);
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_TOO_LARGE);
		return;
	}
	if (!req) {
		kv_pb_bad_request(call);
		return;
	}
	if (req->key.len == 0) {
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY);
		goto cleanup;
	}
	err = ms_mvcc_delete(svc->mvcc, req->key.data, req->key.len, req->range_end.data,
			     req->range_end.len, &deleted,
			     /* the deleted keys also leave their leases */
			     req->prev_kv || svc->leases ? &prevs : NULL, &rev);
	if (err) {
		kv_pb_fail(call, kv_pb_mvcc_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc, rev);
	resp.deleted = deleted;
	if (req->prev_kv && prevs && deleted) {
		resp.prev_kvs = kv_pb_kvs(&a, prevs, (size_t)deleted);
		resp.n_prev_kvs = resp.prev_kvs ? (size_t)deleted : 0;
	}
	kv_pb_reply(call, &a, &resp.base);
	if (prevs)
		kv_pb_lease_deleted(svc, prevs, (size_t)deleted);
	if (deleted)
		kv_pb_changed(svc);
cleanup:
	free(prevs);
	kv_pb_arena_free(&a);
	etcdserverpb__delete_range_request__free_unpacked(req, NULL);
}

void kv_service_compact(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct kv_service *svc = ctx;
	Etcdserverpb__CompactionRequest *req = etcdserverpb__compaction_request__unpack(NULL, len, msg);
	Etcdserverpb__CompactionResponse resp = ETCDSERVERPB__COMPACTION_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	int err;

	if (!req) {
		kv_pb_bad_request(call);
		return;
	}
	err = ms_mvcc_compact(svc->mvcc, req->revision);
	if (err) {
		kv_pb_fail(call, kv_pb_mvcc_err(err));
		goto cleanup;
	}
	resp.header = kv_pb_header(&a, svc, ms_mvcc_rev(svc->mvcc));
	kv_pb_reply(call, &a, &resp.base);
	kv_pb_changed(svc);
cleanup:
	kv_pb_arena_free(&a);
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
	/* writes (and txns, which may write) go through the log; reads are linearizable */
	ms_raft_route_read(svc->raft, srv, MS_METHOD_KV_RANGE, kv_service_range, svc,
			   range_serializable);
	ms_raft_route_write(svc->raft, srv, MS_METHOD_KV_PUT, kv_service_put, svc);
	ms_raft_route_write(svc->raft, srv, MS_METHOD_KV_DELETE_RANGE, kv_service_delete_range, svc);
	ms_raft_route_write(svc->raft, srv, MS_METHOD_KV_TXN, kv_service_txn, svc);
	ms_raft_route_write(svc->raft, srv, MS_METHOD_KV_COMPACT, kv_service_compact, svc);
}
