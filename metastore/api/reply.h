/* Answering gRPC calls of the etcd services: response headers, replies, errors, apply results. */
#ifndef MS_API_REPLY_H
#define MS_API_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply/apply.h"
#include "apply/kv_pb.h"
#include "rpc/grpc.h"
#include "api/kv_service.h"

/* A response header at revision `rev`, with this member's ids and raft term. */
Etcdserverpb__ResponseHeader *api_header(struct kv_pb_arena *a, const struct kv_service *svc,
					 int64_t rev);

/* Fills the member fields of `h` (cluster, member, raft term); NULL is allowed. */
void api_header_fill(Etcdserverpb__ResponseHeader *h, const struct kv_service *svc);

/* Sends `m` and finishes OK, or ends the call through the fault path. */
void api_reply(struct grpc_call *call, struct kv_pb_arena *a, const ProtobufCMessage *m);

/* Finishes the call with e (the fault path when e.msg is NULL). */
void api_fail(struct grpc_call *call, struct kv_pb_err e);

/* Finishes the call for a request that is not valid protobuf. */
void api_bad_request(struct grpc_call *call);

/* Answers `call` from an apply result: its response with this member's header fields, or
 * its error. The result stays the caller's. */
void api_reply_result(struct grpc_call *call, const struct kv_service *svc,
		      const struct ms_apply_res *res);

#endif /* MS_API_REPLY_H */
