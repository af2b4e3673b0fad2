/* Subsystem table: which probe-contract functions each subsystem attaches to. */
#include "subsys.h"

#include <errno.h>
#include <string.h>

/* The per-request events (calls, engine operations, revisions, raft commits, permission
 * checks, watch events sent) come through the batch probe, shared by the subsystems: about
 * one hit per 4 ms of activity, whichever of them are attached. */
static const struct subsys_probe grpc_probes[] = {
	{ "ms_probe_batch", "grpc_batch", "ms_probe_batch_semaphore" },
};
static const char *const grpc_metrics[] = {
	"grpc_server_request_duration_seconds", "grpc_server_request_total",
	"grpc_server_in_flight_requests", "grpc_server_panic_total",
	"grpc_server_rate_limit_hits_total", NULL,
};

static const struct subsys_probe conn_probes[] = {
	{ "ms_probe_conn_open", "conn_open", NULL },
	{ "ms_probe_conn_close", "conn_close", NULL },
	{ "ms_probe_conn_reject", "conn_reject", NULL },
};
static const char *const conn_metrics[] = {
	"grpc_server_active_connections", "grpc_server_connections_rejected_total", NULL,
};

static const struct subsys_probe storage_probes[] = {
	{ "ms_probe_batch", "storage_batch", "ms_probe_batch_semaphore" },
};
static const char *const storage_metrics[] = {
	"storage_operation_duration_seconds", "storage_operation_total", NULL,
};

static const struct subsys_probe mvcc_probes[] = {
	{ "ms_probe_batch", "mvcc_batch", "ms_probe_batch_semaphore" },
};
static const char *const mvcc_metrics[] = {
	"mvcc_current_revision", "mvcc_compaction_total", NULL,
};

static const struct subsys_probe watch_probes[] = {
	{ "ms_probe_watch_create", "watch_create", NULL },
	{ "ms_probe_watch_cancel", "watch_cancel", NULL },
	{ "ms_probe_batch", "watch_batch", "ms_probe_batch_semaphore" },
};
static const char *const watch_metrics[] = {
	"watch_active_total", "watch_events_sent_total", NULL,
};

static const struct subsys_probe lease_probes[] = {
	{ "ms_probe_lease_op", "lease_op", NULL },
	{ "ms_probe_lease_active", "lease_active_set", NULL },
};
static const char *const lease_metrics[] = {
	"lease_active_total", "lease_operations_total", NULL,
};

static const struct subsys_probe auth_probes[] = {
	{ "ms_probe_batch", "auth_batch", "ms_probe_batch_semaphore" },
};
static const char *const auth_metrics[] = {
	"auth_authentication_total", "auth_authorization_total", NULL,
};

static const struct subsys_probe raft_probes[] = {
	{ "ms_probe_batch", "raft_batch", "ms_probe_batch_semaphore" },
};
static const char *const raft_metrics[] = {
	"raft_applied_index", "raft_commit_duration_seconds", NULL,
};

static const struct subsys_probe member_probes[] = {
	{ "ms_probe_raft_status", "member_status", NULL },
};
static const char *const member_metrics[] = {
	"metastore_up", "raft_is_leader", "raft_term", "raft_leader_changes_total", "metastore_limit",
	NULL,
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct subsys_desc subsystems[SUBSYS_COUNT] = {
	[SUBSYS_GRPC] = { "grpc", "gRPC calls: latency, totals by method and code, in-flight, panics",
			  grpc_probes, ARRAY_LEN(grpc_probes), grpc_metrics },
	[SUBSYS_CONN] = { "conn", "open client connections", conn_probes, ARRAY_LEN(conn_probes),
			  conn_metrics },
	[SUBSYS_STORAGE] = { "storage", "key-value engine operations: latency and totals by status",
			     storage_probes, ARRAY_LEN(storage_probes), storage_metrics },
	[SUBSYS_WATCH] = { "watch", "open watchers and the events sent to them",
			   watch_probes, ARRAY_LEN(watch_probes), watch_metrics },
	[SUBSYS_LEASE] = { "lease", "active leases and lease operations by result",
			   lease_probes, ARRAY_LEN(lease_probes), lease_metrics },
	[SUBSYS_MVCC] = { "mvcc", "current revision per node and compactions",
			  mvcc_probes, ARRAY_LEN(mvcc_probes), mvcc_metrics },
	[SUBSYS_AUTH] = { "auth", "authentications and permission checks by result",
			  auth_probes, ARRAY_LEN(auth_probes), auth_metrics },
	[SUBSYS_RAFT] = { "raft", "applied index per node, propose-to-commit latency per node",
			  raft_probes, ARRAY_LEN(raft_probes), raft_metrics },
	[SUBSYS_MEMBER] = { "member",
			    "always attached: which process is which member (the node label), "
			    "liveness, leader, term",
			    member_probes, ARRAY_LEN(member_probes), member_metrics },
};

const struct subsys_desc *subsys_get(enum subsys_id id)
{
	return &subsystems[id];
}

int subsys_parse_list(const char *list, uint32_t *mask, const char **bad, size_t *bad_len)
{
	uint32_t m = 0;
	const char *p = list;

	*bad = list;
	*bad_len = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		uint32_t bit = 0;

		if (len == 3 && strncmp(p, "all", 3) == 0)
			bit = SUBSYS_ALL_MASK;
		for (int i = 0; i < SUBSYS_COUNT && !bit; i++) {
			if (strlen(subsystems[i].name) == len && strncmp(p, subsystems[i].name, len) == 0)
				bit = 1u << i;
		}
		if (!bit) {
			*bad = p;
			*bad_len = len;
			return -EINVAL;
		}
		m |= bit;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

uint32_t subsys_probe_index(enum subsys_id id, size_t probe)
{
	uint32_t idx = 0;

	for (int i = 0; i < (int)id; i++)
		idx += subsystems[i].nr_probes;
	return idx + (uint32_t)probe;
}

uint32_t subsys_total_probes(void)
{
	return subsys_probe_index(SUBSYS_COUNT, 0);
}
