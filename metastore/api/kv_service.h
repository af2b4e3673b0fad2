/* etcdserverpb.KV service: Range, Put, DeleteRange, Txn, Compact over the MVCC store. */
#ifndef MS_KV_SERVICE_H
#define MS_KV_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "store/alarm.h"
#include "store/auth.h"
#include "store/lease.h"
#include "store/mvcc.h"
#include "raft/raftnode.h"
#include "rpc/server.h"

/* etcd's limit on operations per txn branch (--max-txn-ops default). */
#define KV_MAX_TXN_OPS 128

struct kv_service {
	struct ms_mvcc *mvcc;      /* borrowed */
	uint64_t cluster_id;
	uint64_t member_id;
	uint64_t raft_term;
	size_t max_request_bytes;  /* etcd's --max-request-bytes: larger requests are refused */
	/* Leases keys are attached to (NULL: lease ids are stored but not checked). */
	struct ms_lease_table *leases;
	size_t max_leases; /* grants beyond are refused with RESOURCE_EXHAUSTED; 0: no limit */
	/* Called after every request that may have changed the store (watchers catch up). */
	void (*changed)(void *arg);
	void *changed_arg;
	/* Replication (NULL: a store without raft, as in unit tests: always the leader). */
	struct ms_raft *raft;
	/* The auth state writes are re-checked against at apply (NULL: no auth). */
	struct ms_auth *auth;
	/* The alarms raised (replicated; NULL: none kept) and the backend quota in bytes of
	 * ms_mvcc_size (<= 0: none), checked at the edge of every put, txn and grant. */
	struct ms_alarms *alarms;
	int64_t quota_bytes;
	/* This member's own NOSPACE: its raft log found no room on the disk. Not replicated (no
	 * entry can tell the others); refuses writes here until disarmed. */
	bool disk_nospace;
	/* What applies entries; NULL: one made from the fields above for each entry. */
	struct ms_applier *applier;
};

/* Routes the five KV methods of `srv` to `svc` (borrowed; must outlive the server). */
void kv_service_register(struct kv_service *svc, struct ms_server *srv);

/* The handlers, exposed for tests that drive them without a network. */
void kv_service_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
void kv_service_put(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
void kv_service_delete_range(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
void kv_service_txn(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
void kv_service_compact(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);

#endif /* MS_KV_SERVICE_H */
