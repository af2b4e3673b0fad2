/* Applying alarms (etcd's alarm store) and the writes a raised NOSPACE alarm refuses. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "apply/apply.h"

static bool ops_write(Etcdserverpb__RequestOp **ops, size_t n);

/* etcd's isTxnReadonly, negated: any put or delete, in either branch, at any depth. */
static bool txn_writes(const Etcdserverpb__TxnRequest *t)
{
	return ops_write(t->success, t->n_success) || ops_write(t->failure, t->n_failure);
}

static bool ops_write(Etcdserverpb__RequestOp **ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (ops[i]->request_case) {
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
			return true;
		case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
			if (txn_writes(ops[i]->request_txn))
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

bool ms_apply_capped(const Metastore__Entry *e)
{
	switch (e->op_case) {
	case METASTORE__ENTRY__OP_PUT:
	case METASTORE__ENTRY__OP_LEASE_GRANT:
		return true;
	case METASTORE__ENTRY__OP_TXN:
		return txn_writes(e->txn);
	default:
		return false; /* reads, deletes, compaction, revokes and alarms go on */
	}
}

void ms_apply_alarm(struct ms_applier *ap, const Etcdserverpb__AlarmRequest *r,
		    struct ms_apply_res *res)
{
	Etcdserverpb__AlarmResponse *resp = kv_pb_alloc(&res->arena, sizeof(*resp));
	Etcdserverpb__AlarmMember *m = kv_pb_alloc(&res->arena, sizeof(*m));
	Etcdserverpb__AlarmMember **list = kv_pb_alloc(&res->arena, sizeof(*list));
	enum ms_alarm_type type = (enum ms_alarm_type)r->alarm;
	int changed;

	if (!resp || !m || !list || !ap->alarms) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	etcdserverpb__alarm_response__init(resp);
	etcdserverpb__alarm_member__init(m);
	switch (r->action) {
	case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE:
		changed = ms_alarms_activate(ap->alarms, r->memberid, type);
		break;
	case ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE:
		changed = ms_alarms_deactivate(ap->alarms, r->memberid, type);
		break;
	default:
		changed = -EINVAL; /* GET is served by each member, never proposed */
		break;
	}
	if (changed < 0 && changed != -EINVAL) {
		ms_apply_res_fail(res, MS_GRPC_INTERNAL, NULL);
		return;
	}
	/* as etcd: the alarm that changed, none when nothing did (or the type is unknown) */
	if (changed == 1) {
		m->memberid = r->memberid;
		m->alarm = r->alarm;
		list[0] = m;
		resp->alarms = list;
		resp->n_alarms = 1;
	}
	resp->header = kv_pb_rev_header(&res->arena, ms_mvcc_rev(ap->mvcc));
	ms_apply_res_ok(res, &resp->base, resp->header);
}
