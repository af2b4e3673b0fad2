/* Answering gRPC calls of the etcd services: response headers, replies, errors, apply results. */
#include "api/reply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void api_header_fill(Etcdserverpb__ResponseHeader *h, const struct kv_service *svc)
{
	if (!h)
		return;
	h->cluster_id = svc->cluster_id;
	h->member_id = svc->member_id;
	h->raft_term = svc->raft ? ms_raft_term(svc->raft) : svc->raft_term;
}

Etcdserverpb__ResponseHeader *api_header(struct kv_pb_arena *a, const struct kv_service *svc,
					 int64_t rev)
{
	Etcdserverpb__ResponseHeader *h = kv_pb_rev_header(a, rev);

	api_header_fill(h, svc);
	return h;
}

/* Sends `m` and finishes OK, or takes the fault path if something could not be built. */
void api_reply(struct grpc_call *call, struct kv_pb_arena *a, const ProtobufCMessage *m)
{
	if (a->failed)
		grpc_call_fault(call, "out of memory building the response");
	else if (grpc_call_send(call, m))
		grpc_call_fault(call, "out of memory packing the response");
	else
		grpc_call_finish(call, MS_GRPC_OK, NULL);
}

void api_fail(struct grpc_call *call, struct kv_pb_err e)
{
	if (!e.msg)
		grpc_call_fault(call, "storage failure");
	else
		grpc_call_finish(call, e.code, e.msg);
}

void api_bad_request(struct grpc_call *call)
{
	grpc_call_finish(call, MS_GRPC_INTERNAL, "grpc: error unmarshalling request");
}

void api_reply_result(struct grpc_call *call, const struct kv_service *svc,
		      const struct ms_apply_res *res)
{
	if (res->code != MS_GRPC_OK) {
		api_fail(call, (struct kv_pb_err){ res->code, res->msg });
		return;
	}
	if (!res->resp || res->arena.failed) {
		grpc_call_fault(call, "out of memory applying a request");
		return;
	}
	/* the header is shared by every sub-response of a txn: filled once */
	api_header_fill(res->hdr, svc);
	if (grpc_call_send(call, res->resp))
		grpc_call_fault(call, "out of memory packing the response");
	else
		grpc_call_finish(call, MS_GRPC_OK, NULL);
}
