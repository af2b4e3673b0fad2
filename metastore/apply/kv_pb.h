/* Building etcd protobuf messages from store data: allocation arena, kvs, ranges, errors. */
#ifndef MS_APPLY_KV_PB_H
#define MS_APPLY_KV_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_methods.h"
#include "store/mvcc.h"
#include "rpc.pb-c.h"

/* etcd's error texts: clients (clientv3, etcdctl) match on them. */
#define ERR_EMPTY_KEY "etcdserver: key is not provided"
#define ERR_COMPACTED "etcdserver: mvcc: required revision has been compacted"
#define ERR_FUTURE_REV "etcdserver: mvcc: required revision is a future revision"
#define ERR_TOO_MANY_OPS "etcdserver: too many operations in txn request"
#define ERR_DUPLICATE_KEY "etcdserver: duplicate key given in txn request"
#define ERR_TOO_LARGE "etcdserver: request is too large"
#define ERR_VALUE_PROVIDED "etcdserver: value is provided"
#define ERR_LEASE_PROVIDED "etcdserver: lease is provided"
#define ERR_KEY_NOT_FOUND "etcdserver: key not found"
#define ERR_LEASE_NOT_FOUND "etcdserver: requested lease not found"

struct kv_pb_blk;

/* Everything one response (or one decoded entry) needs; freed in one go after packing.
 * Zero-initialise it. A failed allocation sets `failed`, so builders can go on and check
 * once at the end. Pieces are carved from blocks, so a response costs a few mallocs, not
 * one per field. */
struct kv_pb_arena {
	struct kv_pb_blk *blks; /* newest first */
	size_t left;            /* free bytes at the end of the newest block */
	bool failed;
};

/* A gRPC status for a request error; msg NULL means an internal fault. */
struct kv_pb_err {
	uint32_t code;
	const char *msg;
};

/* Zeroed allocation owned by the arena, or NULL (and a->failed). */
void *kv_pb_alloc(struct kv_pb_arena *a, size_t size);

/* Frees everything the arena owns (a can be reused after, as if zeroed). */
void kv_pb_arena_free(struct kv_pb_arena *a);

/* A protobuf-c allocator drawing on a (its free does nothing: kv_pb_arena_free frees all),
 * for unpacking a message whose pieces live as long as the arena. */
ProtobufCAllocator kv_pb_allocator(struct kv_pb_arena *a);

/* The gRPC status for an mvcc error code. */
struct kv_pb_err kv_pb_mvcc_err(int err);

/* A response header carrying only revision `rev` (the member fields are the api layer's). */
Etcdserverpb__ResponseHeader *kv_pb_rev_header(struct kv_pb_arena *a, int64_t rev);

/* A KeyValue borrowing the kv's bytes (pack before the store changes). */
Mvccpb__KeyValue *kv_pb_kv(struct kv_pb_arena *a, const struct ms_kv *kv);

/* Fills *p with kv, pointing at its bytes (valid while kv's are). */
void kv_pb_kv_fill(Mvccpb__KeyValue *p, const struct ms_kv *kv);

/* A KeyValue owning copies of the kv's bytes (for results a later write may move). */
Mvccpb__KeyValue *kv_pb_kv_copy(struct kv_pb_arena *a, const struct ms_kv *kv);

/* An array of n KeyValue pointers (n may be 0). */
Mvccpb__KeyValue **kv_pb_kvs(struct kv_pb_arena *a, const struct ms_kv *kvs, size_t n);

/* Converts a RangeRequest into the store's range request (borrowing its bytes). */
void kv_pb_range_req(const Etcdserverpb__RangeRequest *r, struct ms_range_req *q);

/* Fills kvs, count and more of a RangeResponse from a result. */
void kv_pb_range_resp(struct kv_pb_arena *a, Etcdserverpb__RangeResponse *resp,
		      const struct ms_range_res *res);

/* Orders two byte strings as the store orders keys (memcmp, then length). */
int kv_pb_bin_cmp(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b);

#endif /* MS_APPLY_KV_PB_H */
