/* Writes from the edge: a validated, authorized request becomes a raft entry, answered at apply. */
#ifndef MS_API_PROPOSE_H
#define MS_API_PROPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "api/kv_service.h"
#include "rpc/grpc.h"
#include "raft_entry.pb-c.h"

/*
 * Proposes entry `e` for `call`: the caller set the op (borrowing its request); the header
 * (format, the caller's user and the auth revision the authorizer checked it at) is filled
 * here. The call is answered from the result once this member applied the entry, or with
 * UNAVAILABLE when leadership is lost first. A follower forwards the call (`msg`/`len`, the
 * client's request) to the leader instead. Without raft the entry applies at once. `e` is
 * only read during the call.
 */
void api_propose(struct kv_service *svc, struct grpc_call *call, Metastore__Entry *e,
		 const uint8_t *msg, size_t len);

/*
 * Proposes an entry of the store's own (a lease expiry): no call waits for it. Without raft
 * it applies at once. Returns 0, -EPERM (not the leader) or -ENOMEM.
 */
int api_propose_internal(struct kv_service *svc, Metastore__Entry *e);

/* The applier of svc (svc->applier, or *tmp filled from svc's fields). */
struct ms_applier *api_applier(struct kv_service *svc, struct ms_applier *tmp);

#endif /* MS_API_PROPOSE_H */
