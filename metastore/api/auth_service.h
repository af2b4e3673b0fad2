/* etcdserverpb.Auth service (users, roles, enable, authenticate) and per-call authorization. */
#ifndef MS_AUTH_SERVICE_H
#define MS_AUTH_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/auth.h"
#include "apply/authz.h"
#include "api/reply.h"
#include "api/kv_service.h"
#include "rpc/server.h"

struct auth_service {
	struct ms_auth *auth;   /* borrowed */
	struct kv_service *kv;  /* borrowed: response headers, the lease table */
	uv_loop_t *loop;        /* its clock (uv_now) times tokens */
};

/*
 * Routes the 16 Auth methods of `srv` to `svc` and installs the authorizer
 * (auth_service_authorize) on the server. `svc` is borrowed and must outlive the server.
 * With raft (svc->kv->raft), the changes are routed as writes (through the log), the
 * Get/List methods as linearizable reads, Authenticate stays local.
 *
 * Every state-changing handler (AuthEnable/Disable, User*, Role* except the Get/List reads)
 * is a deterministic function of the auth state and the request bytes, so a replicated log
 * may run it on every node. Authenticate checks the password and issues a node-local token;
 * it fires ms_probe_auth_authenticate once.
 */
void auth_service_register(struct auth_service *svc, struct ms_server *srv);

/*
 * The Authenticate handler (node-local, not a replicated mutation): checks the password with
 * bcrypt on the libuv thread pool, so the loop goes on serving meanwhile, then issues a
 * simple token if the user still has that password. Fires ms_probe_auth_authenticate once
 * per call, also for a call the client cancels before the check ends.
 */
void auth_service_authenticate(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);

/* The gRPC status for an ms_auth error (msg NULL: an internal fault such as -ENOMEM). */
struct kv_pb_err auth_service_err(int err);

/*
 * The server's authorizer (ms_authorizer_fn, ctx = the auth_service): while auth is
 * enabled, resolves the call's `token` header to a user and checks what etcd checks for its
 * method: READ on a Range's range, WRITE on a Put's key (and READ with prev_kv, WRITE on the
 * keys of its lease), WRITE on a DeleteRange's range (READ too with prev_kv), every compare
 * (READ) and every op of a Txn, recursively; the root role for Compact, Hash, HashKV,
 * Defragment, Snapshot, MoveLeader, member changes and the Auth admin methods (a user may
 * get itself, change its own password and get a role it holds); WRITE on every key of the
 * lease for LeaseRevoke; a valid user for the other Lease methods (the keep-alive stream
 * when it opens). Watch streams are checked per create (auth_service_watch_permitted).
 * Authenticate, Status, Alarm and MemberList need nothing. Fires ms_probe_auth_authorize
 * once per check made.
 */
uint32_t auth_service_authorize(struct grpc_call *call, const uint8_t *msg, size_t len,
				const char **why, void *ctx);

/* Whether the user of `call` (its token) may watch [key, end) (READ), for a watch create on
 * a Watch stream; true while auth is disabled. Fires ms_probe_auth_authorize while enabled.
 * `ctx` is the auth_service. */
bool auth_service_watch_permitted(struct grpc_call *call, const uint8_t *key, size_t key_len,
				  const uint8_t *end, size_t end_len, void *ctx);

#endif /* MS_AUTH_SERVICE_H */
