/* etcdserverpb.Cluster: MemberList, MemberAdd, MemberRemove, MemberUpdate, MemberPromote. */
#ifndef MS_CLUSTER_SERVICE_H
#define MS_CLUSTER_SERVICE_H

#include <stdbool.h>

#include "api/kv_service.h"
#include "rpc/server.h"

struct cluster_service;

/* The Cluster service of member `name` serving clients at `client_url` (both copied) over
 * the KV service (borrowed; its raft node publishes through it). Peer URLs are https://
 * with `peer_https`; `strict` is etcd's --strict-reconfig-check. Returns 0 with *out, or
 * -ENOMEM. */
int cluster_service_new(struct kv_service *kv, const char *name, const char *client_url,
			bool peer_https, bool strict, struct cluster_service **out);

/* Frees the service; NULL is allowed. */
void cluster_service_free(struct cluster_service *cs);

/* Routes the Cluster methods of `srv` (and the members' internal MemberPublish). */
void cluster_service_register(struct cluster_service *cs, struct ms_server *srv);

#endif /* MS_CLUSTER_SERVICE_H */
