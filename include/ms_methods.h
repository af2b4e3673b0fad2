/* gRPC method and status-code ids shared by metastore (dispatch), bpf/ (map index) and agent (labels). */
#ifndef MS_METHODS_H
#define MS_METHODS_H

/*
 * Method ids are part of the probe contract (see ms_probes.h): they index BPF maps and are
 * passed as the `method` argument of the gRPC probes. Append only; never renumber.
 * Id 0 is any path the server does not implement; its label is "unknown" so that a client
 * sending random paths cannot grow the label set.
 */
#define MS_GRPC_METHODS(X)                                                         \
	X(UNKNOWN, "unknown")                                                      \
	X(KV_RANGE, "/etcdserverpb.KV/Range")                                      \
	X(KV_PUT, "/etcdserverpb.KV/Put")                                          \
	X(KV_DELETE_RANGE, "/etcdserverpb.KV/DeleteRange")                         \
	X(KV_TXN, "/etcdserverpb.KV/Txn")                                          \
	X(KV_COMPACT, "/etcdserverpb.KV/Compact")                                  \
	X(WATCH_WATCH, "/etcdserverpb.Watch/Watch")                                \
	X(LEASE_GRANT, "/etcdserverpb.Lease/LeaseGrant")                           \
	X(LEASE_REVOKE, "/etcdserverpb.Lease/LeaseRevoke")                         \
	X(LEASE_KEEP_ALIVE, "/etcdserverpb.Lease/LeaseKeepAlive")                  \
	X(LEASE_TIME_TO_LIVE, "/etcdserverpb.Lease/LeaseTimeToLive")               \
	X(LEASE_LEASES, "/etcdserverpb.Lease/LeaseLeases")                         \
	X(CLUSTER_MEMBER_ADD, "/etcdserverpb.Cluster/MemberAdd")                   \
	X(CLUSTER_MEMBER_REMOVE, "/etcdserverpb.Cluster/MemberRemove")             \
	X(CLUSTER_MEMBER_UPDATE, "/etcdserverpb.Cluster/MemberUpdate")             \
	X(CLUSTER_MEMBER_LIST, "/etcdserverpb.Cluster/MemberList")                 \
	X(CLUSTER_MEMBER_PROMOTE, "/etcdserverpb.Cluster/MemberPromote")           \
	X(MAINT_ALARM, "/etcdserverpb.Maintenance/Alarm")                          \
	X(MAINT_STATUS, "/etcdserverpb.Maintenance/Status")                        \
	X(MAINT_DEFRAGMENT, "/etcdserverpb.Maintenance/Defragment")                \
	X(MAINT_HASH, "/etcdserverpb.Maintenance/Hash")                            \
	X(MAINT_HASH_KV, "/etcdserverpb.Maintenance/HashKV")                       \
	X(MAINT_SNAPSHOT, "/etcdserverpb.Maintenance/Snapshot")                    \
	X(MAINT_MOVE_LEADER, "/etcdserverpb.Maintenance/MoveLeader")               \
	X(AUTH_ENABLE, "/etcdserverpb.Auth/AuthEnable")                            \
	X(AUTH_DISABLE, "/etcdserverpb.Auth/AuthDisable")                          \
	X(AUTH_AUTHENTICATE, "/etcdserverpb.Auth/Authenticate")                    \
	X(AUTH_USER_ADD, "/etcdserverpb.Auth/UserAdd")                             \
	X(AUTH_USER_GET, "/etcdserverpb.Auth/UserGet")                             \
	X(AUTH_USER_LIST, "/etcdserverpb.Auth/UserList")                           \
	X(AUTH_USER_DELETE, "/etcdserverpb.Auth/UserDelete")                       \
	X(AUTH_USER_CHANGE_PASSWORD, "/etcdserverpb.Auth/UserChangePassword")      \
	X(AUTH_USER_GRANT_ROLE, "/etcdserverpb.Auth/UserGrantRole")                \
	X(AUTH_USER_REVOKE_ROLE, "/etcdserverpb.Auth/UserRevokeRole")              \
	X(AUTH_ROLE_ADD, "/etcdserverpb.Auth/RoleAdd")                             \
	X(AUTH_ROLE_GET, "/etcdserverpb.Auth/RoleGet")                             \
	X(AUTH_ROLE_LIST, "/etcdserverpb.Auth/RoleList")                           \
	X(AUTH_ROLE_DELETE, "/etcdserverpb.Auth/RoleDelete")                       \
	X(AUTH_ROLE_GRANT_PERMISSION, "/etcdserverpb.Auth/RoleGrantPermission")    \
	X(AUTH_ROLE_REVOKE_PERMISSION, "/etcdserverpb.Auth/RoleRevokePermission")

#define MS_METHOD_ENUM_(id, path) MS_METHOD_##id,
enum ms_method {
	MS_GRPC_METHODS(MS_METHOD_ENUM_)
	MS_METHOD_COUNT
};
#undef MS_METHOD_ENUM_

/* gRPC status codes (grpc/status.h numbering); the `code` argument of the gRPC probes. */
#define MS_GRPC_CODES(X)                                                           \
	X(OK, 0, "OK")                                                             \
	X(CANCELLED, 1, "Canceled")                                                \
	X(UNKNOWN, 2, "Unknown")                                                   \
	X(INVALID_ARGUMENT, 3, "InvalidArgument")                                  \
	X(DEADLINE_EXCEEDED, 4, "DeadlineExceeded")                                \
	X(NOT_FOUND, 5, "NotFound")                                                \
	X(ALREADY_EXISTS, 6, "AlreadyExists")                                      \
	X(PERMISSION_DENIED, 7, "PermissionDenied")                                \
	X(RESOURCE_EXHAUSTED, 8, "ResourceExhausted")                              \
	X(FAILED_PRECONDITION, 9, "FailedPrecondition")                            \
	X(ABORTED, 10, "Aborted")                                                  \
	X(OUT_OF_RANGE, 11, "OutOfRange")                                          \
	X(UNIMPLEMENTED, 12, "Unimplemented")                                      \
	X(INTERNAL, 13, "Internal")                                                \
	X(UNAVAILABLE, 14, "Unavailable")                                          \
	X(DATA_LOSS, 15, "DataLoss")                                               \
	X(UNAUTHENTICATED, 16, "Unauthenticated")

#define MS_GRPC_CODE_ENUM_(id, num, name) MS_GRPC_##id = num,
enum ms_grpc_code {
	MS_GRPC_CODES(MS_GRPC_CODE_ENUM_)
	MS_GRPC_CODE_COUNT
};
#undef MS_GRPC_CODE_ENUM_

#ifndef __bpf__
#include <stddef.h>
#include <string.h>

/* Label text of a method id ("unknown" for out-of-range ids); static storage. */
static inline const char *ms_method_name(unsigned int id)
{
#define MS_METHOD_NAME_(id, path) path,
	static const char *const names[] = { MS_GRPC_METHODS(MS_METHOD_NAME_) };
#undef MS_METHOD_NAME_
	return id < MS_METHOD_COUNT ? names[id] : names[0];
}

/* Method id of a gRPC :path, or MS_METHOD_UNKNOWN. */
static inline unsigned int ms_method_lookup(const char *path, size_t len)
{
	for (unsigned int i = 1; i < MS_METHOD_COUNT; i++) {
		const char *n = ms_method_name(i);
		if (strlen(n) == len && memcmp(n, path, len) == 0)
			return i;
	}
	return MS_METHOD_UNKNOWN;
}

/* Status name used as the `code` label (grpc-go's codes.Code.String()); static storage. */
static inline const char *ms_grpc_code_name(unsigned int code)
{
#define MS_GRPC_CODE_NAME_(id, num, name) [num] = name,
	static const char *const names[] = { MS_GRPC_CODES(MS_GRPC_CODE_NAME_) };
#undef MS_GRPC_CODE_NAME_
	return code < MS_GRPC_CODE_COUNT ? names[code] : "Unknown";
}
#endif /* !__bpf__ */

#endif /* MS_METHODS_H */
