/* etcdserverpb.Lease service: grant, revoke, keep-alive stream, time-to-live, list, expiry. */
#ifndef MS_LEASE_SERVICE_H
#define MS_LEASE_SERVICE_H

#include <uv.h>

#include "api/kv_service.h"
#include "apply/apply.h"
#include "rpc/server.h"

struct lease_service;

/*
 * Creates the service over the KV service (borrowed; its `leases` must be set) and starts
 * an expiry timer on `loop`: expired leases are revoked and their keys deleted in one
 * revision, as etcd's leader does. Returns 0 with *out, or -errno.
 */
int lease_service_new(uv_loop_t *loop, struct kv_service *kv, struct lease_service **out);

/* Stops the timer; the handle closes through the loop, then lease_service_free. */
void lease_service_stop(struct lease_service *ls);

/* Frees the service after the loop closed its timer; NULL is allowed. */
void lease_service_free(struct lease_service *ls);

/* Routes the five Lease methods of `srv` to the service. */
void lease_service_register(struct lease_service *ls, struct ms_server *srv);

/* Has the applier wake the expiry timer after each grant (before the raft node starts). */
void lease_service_bind(struct lease_service *ls, struct ms_applier *ap);

#endif /* MS_LEASE_SERVICE_H */
