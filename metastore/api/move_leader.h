/* Maintenance.MoveLeader: leadership handed to a chosen voting member, answered once it leads. */
#ifndef MS_API_MOVE_LEADER_H
#define MS_API_MOVE_LEADER_H

#include <uv.h>

#include "api/kv_service.h"
#include "rpc/server.h"

/* Routes Maintenance.MoveLeader of `srv` over the KV service (borrowed; its raft node may
 * be NULL for a member without raft), polling the leader on `loop`. */
void move_leader_register(struct ms_server *srv, struct kv_service *kv, uv_loop_t *loop);

#endif /* MS_API_MOVE_LEADER_H */
