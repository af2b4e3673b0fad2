/* The backend quota at the edge (etcd's quotaKVServer): writes that would pass it raise NOSPACE. */
#include "api/quota.h"

#include "api/propose.h"
#include "apply/apply.h"
#include "raft/raftnode.h"

size_t api_quota_put_cost(const Etcdserverpb__PutRequest *r)
{
	return r->key.len + r->value.len + MS_MVCC_REV_BYTES;
}

static size_t ops_cost(Etcdserverpb__RequestOp **ops, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++) {
		if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
			c += api_quota_put_cost(ops[i]->request_put);
		else if (ops[i]->request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN)
			c += api_quota_txn_cost(ops[i]->request_txn);
	}
	return c;
}

size_t api_quota_txn_cost(const Etcdserverpb__TxnRequest *t)
{
	size_t s = ops_cost(t->success, t->n_success), f = ops_cost(t->failure, t->n_failure);

	return s > f ? s : f;
}

bool api_quota_refuse(struct kv_service *svc, struct grpc_call *call, size_t cost)
{
	if (svc->disk_nospace) {
		grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, ERR_NO_SPACE);
		return true;
	}
	/* a follower cannot propose the alarm: the leader it forwards to checks and raises it */
	if (svc->quota_bytes <= 0 || !ms_raft_is_leader(svc->raft) ||
	    ms_mvcc_size(svc->mvcc) + cost <= (size_t)svc->quota_bytes)
		return false;
	if (svc->alarms && !ms_alarms_any(svc->alarms, MS_ALARM_NOSPACE)) {
		Metastore__Entry e = METASTORE__ENTRY__INIT;
		Etcdserverpb__AlarmRequest a = ETCDSERVERPB__ALARM_REQUEST__INIT;

		a.action = ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE;
		a.memberid = svc->member_id;
		a.alarm = ETCDSERVERPB__ALARM_TYPE__NOSPACE;
		e.op_case = METASTORE__ENTRY__OP_ALARM;
		e.alarm = &a;
		api_propose_internal(svc, &e);
	}
	grpc_call_finish(call, MS_GRPC_RESOURCE_EXHAUSTED, ERR_NO_SPACE);
	return true;
}
