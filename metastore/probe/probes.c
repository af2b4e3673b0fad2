/* Probe points of the probe contract (include/ms_probes.h): empty bodies with a nop5 at entry. */
#include "ms_probes.h"

/*
 * This file is compiled with -pg -mfentry -mnop-mcount, which puts a 5-byte NOP as the first
 * instruction of every function here: the kernel turns an entry uprobe on it into a call to
 * a trampoline instead of an int3 trap. noinline + the empty asm keep each function, and
 * each call to it, in the binary even though the body does nothing; the "memory" clobber
 * makes every argument live at the call, so the registers hold what the contract says.
 */
#define MS_PROBE_BODY() __asm__ __volatile__("" ::: "memory")
#define MS_PROBE_FN __attribute__((noinline, used, visibility("default")))

const uint32_t ms_probe_abi_version = (MS_PROBE_ABI_MAJOR << 16) | MS_PROBE_ABI_MINOR;

MS_PROBE_FN void ms_probe_grpc_request_begin(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_grpc_request_end(uint64_t req_id, uint32_t method, uint32_t code)
{
	(void)req_id;
	(void)method;
	(void)code;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_grpc_panic(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_storage_begin(uint64_t op_id, uint32_t op, uint32_t kind)
{
	(void)op_id;
	(void)op;
	(void)kind;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_storage_end(uint64_t op_id, uint32_t op, uint32_t kind, uint32_t status)
{
	(void)op_id;
	(void)op;
	(void)kind;
	(void)status;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_mvcc_revision(uint64_t node_id, int64_t rev)
{
	(void)node_id;
	(void)rev;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_mvcc_compact(uint64_t node_id, int64_t rev)
{
	(void)node_id;
	(void)rev;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_conn_open(uint64_t conn_id, uint32_t active)
{
	(void)conn_id;
	(void)active;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_conn_close(uint64_t conn_id, uint32_t active)
{
	(void)conn_id;
	(void)active;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_watch_create(int64_t watch_id, uint32_t active)
{
	(void)watch_id;
	(void)active;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_watch_cancel(int64_t watch_id, uint32_t active)
{
	(void)watch_id;
	(void)active;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_watch_events(int64_t watch_id, uint32_t puts, uint32_t deletes)
{
	(void)watch_id;
	(void)puts;
	(void)deletes;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_lease_op(uint32_t op, int64_t lease_id, uint32_t status)
{
	(void)op;
	(void)lease_id;
	(void)status;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_lease_active(uint32_t count)
{
	(void)count;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_grpc_rate_limited(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_conn_reject(uint32_t active)
{
	(void)active;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_raft_propose(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_raft_commit(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_raft_apply(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_auth_authenticate(uint32_t result)
{
	(void)result;
	MS_PROBE_BODY();
}

MS_PROBE_FN void ms_probe_auth_authorize(uint64_t req_id, uint32_t method, uint32_t result)
{
	(void)req_id;
	(void)method;
	(void)result;
	MS_PROBE_BODY();
}

struct ms_probe_limits ms_probe_limits_info;

MS_PROBE_FN void ms_probe_raft_status(uint64_t node, uint64_t term, uint64_t leader,
				      const struct ms_probe_limits *limits)
{
	(void)node;
	(void)term;
	(void)leader;
	(void)limits;
	MS_PROBE_BODY();
}

/*
 * The batch probe's semaphore. It lives in a section with file contents (like SystemTap's
 * .probes) because the kernel finds a uprobe's reference counter by its offset in the file:
 * a .bss variable has none.
 */
__attribute__((section(".probes"), used, visibility("default")))
volatile uint16_t ms_probe_batch_semaphore = 0;

MS_PROBE_FN void ms_probe_batch(const struct ms_probe_batch *b)
{
	(void)b;
	MS_PROBE_BODY();
}
