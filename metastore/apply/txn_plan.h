/* A Txn planned before it writes: the branch each of its txns takes and etcd's checks. */
#ifndef MS_APPLY_TXN_PLAN_H
#define MS_APPLY_TXN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "apply/apply.h"

/* The chosen path: one entry per txn that runs (the outer one first, then nested ones in the
 * order they apply, depth-first), true where its compares held (etcd's txnPath). */
struct ms_txn_plan {
	bool *path; /* malloc'ed */
	size_t n, cap;
};

/*
 * Plans txn r inside the open store txn t, before t writes anything: every compare on the
 * path (nested ones too) is evaluated against the store as it is before the txn, and the ops
 * on the path are checked as etcd checks them before applying any (checkRequests): puts
 * first (an ignore_value/ignore_lease key must be stored, a lease must exist), then ranges
 * (a revision neither compacted nor in the future). Returns 0 with *p filled and
 * refusal->code MS_GRPC_OK; 0 with *refusal set (etcd's code and text) when the txn must be
 * refused, having changed nothing; or -ENOMEM. Release *p with ms_txn_plan_release either way.
 */
int ms_txn_plan_make(const struct ms_applier *ap, struct ms_mvcc_txn *t,
		     const Etcdserverpb__TxnRequest *r, struct ms_txn_plan *p,
		     struct kv_pb_err *refusal);

/* Frees the path; a zeroed plan is allowed. */
void ms_txn_plan_release(struct ms_txn_plan *p);

#endif /* MS_APPLY_TXN_PLAN_H */
