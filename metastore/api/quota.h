/* The backend quota at the edge (etcd's quotaKVServer): writes that would pass it raise NOSPACE. */
#ifndef MS_API_QUOTA_H
#define MS_API_QUOTA_H

#include <stdbool.h>
#include <stddef.h>

#include "api/kv_service.h"
#include "rpc/grpc.h"
#include "rpc.pb-c.h"

/* Bytes a Put adds to ms_mvcc_size; a txn's cost is its costlier branch's puts, recursively. */
size_t api_quota_put_cost(const Etcdserverpb__PutRequest *r);
size_t api_quota_txn_cost(const Etcdserverpb__TxnRequest *t);

/*
 * Whether a write costing `cost` bytes fits the quota (svc->quota_bytes, <= 0: none). When it
 * does not, this member's NOSPACE alarm is proposed (once: not while one is raised) and the
 * call is answered RESOURCE_EXHAUSTED "etcdserver: mvcc: database space exceeded", as etcd
 * does; the caller then proposes nothing. While this member's disk is full (svc->disk_nospace)
 * every such write is refused the same way. A follower leaves the check to the leader it
 * forwards the write to. Returns true when the call was answered.
 */
bool api_quota_refuse(struct kv_service *svc, struct grpc_call *call, size_t cost);

#endif /* MS_API_QUOTA_H */
