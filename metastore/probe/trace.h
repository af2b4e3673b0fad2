/* Probe-contract events: the direct probe, plus a record for the batch probe while it is attached. */
#ifndef MS_TRACE_H
#define MS_TRACE_H

#include <stdint.h>
#include <time.h>

#include "ms_probes.h"
#include "probe/clock.h"

/* The batch being filled (trace.c): the inline helpers below write into it. */
extern struct ms_probe_batch ms_trace_batch;
/* Non-zero while ms_trace_batch holds a begin count but maybe no record. */
extern int ms_trace_begun_any;
/*
 * A timestamp costs about as much as the rest of a call's tracing (an rdtsc is ~20 ns on a
 * VM), so a gRPC call takes none of its own: its begin is the time its connection's read
 * callback started (taken once per callback, however many calls that read brought), its end
 * the time of the first write to a client after its trailers were queued (once per write, for
 * every call ended before it). ms_trace_read_ns is that read time inside a read callback
 * while the batch probe is attached, else 0; ms_trace_ends_from is 1 + the index of the first
 * END record in the gRPC buffer still waiting for its end time, or 0 when none waits.
 */
extern uint64_t ms_trace_read_ns;
extern uint32_t ms_trace_ends_from;

/*
 * Appends a record to buffer `buf` (MS_BATCH_*), first handing every buffer to the batch
 * probe when that one is full. Loop thread only: the buffers are not locked.
 */
void ms_trace_add(unsigned buf, uint16_t kind, uint64_t id, uint64_t t_ns, uint64_t val, uint16_t a,
		  uint16_t b, uint16_t c);

/*
 * A gauge record: replaces the value of the buffer's last record of this kind and id when
 * there is one since the last hand-over, else appends like ms_trace_add.
 */
void ms_trace_gauge(unsigned buf, uint16_t kind, uint64_t id, uint64_t val);

/* Hands the buffers to the batch probe (one call, if any holds a record) and empties them;
 * END records still waiting get their end time first. */
void ms_trace_flush(void);

/* Writes every page of the batch once (keeping its contents). A BPF program cannot fault a
 * page in: its read of a batch page the store never wrote (a counter of a method not yet
 * called, say) fails, and the batch is lost. Called once before the loop runs. */
void ms_trace_prefault(void);

/* Gives the END records waiting for an end time the time now (ms_trace_stamp_ends). */
void ms_trace_stamp_ends_now(void);

/* Whether anything waits for a hand-over. */
int ms_trace_pending_any(void);

/* Records in buffer `buf` not yet handed to the probe (for tests). */
uint32_t ms_trace_pending(unsigned buf);

/* The records of buffer `buf` not yet handed over (ms_trace_pending of them); owned by the
 * buffer, valid until the next add or flush. NULL for a bad buffer. */
const struct ms_probe_rec *ms_trace_peek(unsigned buf);


/*
 * The next free record of buffer `buf` (MS_BATCH_*, a constant at every call site), first
 * handing every buffer over when that one is full; the caller fills every field. Inline:
 * an event costs a few stores, not a call.
 */
static inline struct ms_probe_rec *ms_trace_slot(unsigned buf)
{
	if (ms_trace_batch.n[buf] == MS_PROBE_BATCH_MAX)
		ms_trace_flush();
	return &ms_trace_batch.rec[buf][ms_trace_batch.n[buf]++];
}

/* Fills record r (one store per field: no temporary copy). */
static inline void ms_trace_fill(struct ms_probe_rec *r, uint16_t kind, uint64_t id, uint64_t t_ns,
				 uint64_t val, uint16_t a, uint16_t b, uint16_t c)
{
	r->id = id;
	r->t_ns = t_ns;
	r->val = val;
	r->kind = kind;
	r->a = a;
	r->b = b;
	r->c = c;
}

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns() (read through the TSC while the
 * kernel keeps time with it: probe/clock.h). */
static inline uint64_t ms_trace_now(void)
{
	return ms_clock_now();
}

/* The semaphore changes under the store's feet (the kernel writes it), hence a load through
 * a volatile object each time. */
#define MS_TRACE_ON() (__builtin_expect(ms_probe_batch_semaphore != 0, 0))

/* A connection's read callback starts / returns: the calls it begins are timed from here. */
static inline void ms_trace_read_begin(void)
{
	ms_trace_read_ns = MS_TRACE_ON() ? ms_trace_now() : 0;
}

static inline void ms_trace_read_end(void)
{
	ms_trace_read_ns = 0;
}

/* Output to a client was written (or the loop is about to wait): every call ended before
 * now has its end time. Cheap when none waits. */
static inline void ms_trace_stamp_ends(void)
{
	if (__builtin_expect(ms_trace_ends_from != 0, 0))
		ms_trace_stamp_ends_now();
}

/*
 * gRPC calls: a begin is a count in the batch, not a record; the begin time stays with the
 * call (0 while the batch probe is not attached) and goes into its one end record, so the
 * probe times a call without matching records. The begin time is kept above the window's
 * start, so the probe can tell in which window a call began (ms_probes.h).
 */
static inline uint64_t ms_trace_grpc_begin(uint64_t req_id, uint32_t method)
{
	uint64_t t0;

	ms_probe_grpc_request_begin(req_id, method);
	if (!MS_TRACE_ON())
		return 0;
	t0 = ms_trace_read_ns ? ms_trace_read_ns : ms_trace_now();
	if (t0 <= ms_trace_batch.window_ns)
		t0 = ms_trace_batch.window_ns + 1;
	ms_trace_batch.grpc_begun[method < MS_METHOD_COUNT ? method : MS_METHOD_UNKNOWN]++;
	ms_trace_begun_any = 1;
	return t0;
}

/* A call whose begin was not counted (t0 == 0) gets no record, as its begin was not seen.
 * The record's end time is filled at the next write to a client (ms_trace_stamp_ends). */
static inline void ms_trace_grpc_end(uint64_t req_id, uint32_t method, uint32_t code, uint64_t t0)
{
	struct ms_probe_rec *r;

	ms_probe_grpc_request_end(req_id, method, code);
	if (!t0 || !MS_TRACE_ON())
		return;
	r = ms_trace_slot(MS_BATCH_GRPC);
	ms_trace_fill(r, MS_REC_GRPC_END, req_id, 0, t0, (uint16_t)method, (uint16_t)code, 0);
	if (!ms_trace_ends_from)
		ms_trace_ends_from = (uint32_t)(r - ms_trace_batch.rec[MS_BATCH_GRPC]) + 1;
}

static inline void ms_trace_grpc_panic(uint64_t req_id, uint32_t method)
{
	ms_probe_grpc_panic(req_id, method);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_GRPC, MS_REC_GRPC_PANIC, req_id, ms_trace_now(), 0,
			     (uint16_t)method, 0, 0);
}

static inline void ms_trace_grpc_rate_limited(uint64_t req_id, uint32_t method)
{
	ms_probe_grpc_rate_limited(req_id, method);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_GRPC, MS_REC_GRPC_RATE_LIMITED, req_id, ms_trace_now(), 0,
			     (uint16_t)method, 0, 0);
}

/* Storage operations are synchronous: the begin time stays with the caller (0 while the
 * batch probe is not attached) and one record carries the whole operation. */
static inline uint64_t ms_trace_storage_begin(uint64_t op_id, uint32_t op, uint32_t kind)
{
	ms_probe_storage_begin(op_id, op, kind);
#ifdef MS_TRACE_NO_STORAGE_TIMES
	/* a measuring build only (`make bench`): storage operations neither timed nor recorded,
	 * so that the benchmark can tell what timing them costs a call */
	return 0;
#else
	return MS_TRACE_ON() ? ms_trace_now() : 0;
#endif
}

/* An operation that began before the batch probe was attached (t0 == 0) gets no record,
 * as a begin/end pair whose begin was not seen is not timed. */
static inline void ms_trace_storage_end(uint64_t op_id, uint32_t op, uint32_t kind,
					uint32_t status, uint64_t t0)
{
	ms_probe_storage_end(op_id, op, kind, status);
	if (t0 && MS_TRACE_ON())
		ms_trace_fill(ms_trace_slot(MS_BATCH_STORAGE), MS_REC_STORAGE_OP, op_id, t0,
			      ms_trace_now(), (uint16_t)op, (uint16_t)kind, (uint16_t)status);
}

static inline void ms_trace_mvcc_revision(uint64_t node, int64_t rev)
{
	ms_probe_mvcc_revision(node, rev);
	if (MS_TRACE_ON())
		ms_trace_gauge(MS_BATCH_MVCC, MS_REC_MVCC_REVISION, node, (uint64_t)rev);
}

static inline void ms_trace_mvcc_compact(uint64_t node, int64_t rev)
{
	ms_probe_mvcc_compact(node, rev);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_MVCC, MS_REC_MVCC_COMPACT, node, 0, (uint64_t)rev, 0, 0, 0);
}

/* Returns the propose time for the entry's commit record (0 while the batch probe is not
 * attached). */
static inline uint64_t ms_trace_raft_propose(uint64_t node, uint64_t index)
{
	ms_probe_raft_propose(node, index);
	return MS_TRACE_ON() ? ms_trace_now() : 0;
}

/*
 * `proposed_ns`: what ms_trace_raft_propose returned on this node for the entry, else 0;
 * `commit_ns`: when this node learned that the entry is committed (the caller reads the clock
 * once per commit index it learns, not once per entry). Only the proposer times an entry, so
 * one proposed elsewhere, or before the batch probe was attached (0), gets no record.
 */
static inline void ms_trace_raft_commit(uint64_t node, uint64_t index, uint64_t proposed_ns,
					uint64_t commit_ns)
{
	ms_probe_raft_commit(node, index);
	if (proposed_ns && MS_TRACE_ON())
		ms_trace_fill(ms_trace_slot(MS_BATCH_RAFT), MS_REC_RAFT_COMMIT, node, commit_ns,
			      proposed_ns, 0, 0, 0);
}

static inline void ms_trace_raft_apply(uint64_t node, uint64_t index)
{
	ms_probe_raft_apply(node, index);
	if (MS_TRACE_ON())
		ms_trace_gauge(MS_BATCH_RAFT, MS_REC_RAFT_APPLY, node, index);
}

static inline void ms_trace_auth_authenticate(uint32_t result)
{
	ms_probe_auth_authenticate(result);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_AUTH, MS_REC_AUTH_AUTHENTICATE, 0, 0, 0, (uint16_t)result, 0, 0);
}

static inline void ms_trace_auth_authorize(uint64_t req_id, uint32_t method, uint32_t result)
{
	ms_probe_auth_authorize(req_id, method, result);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_AUTH, MS_REC_AUTH_AUTHORIZE, req_id, 0, 0, (uint16_t)method,
			     (uint16_t)result, 0);
}

static inline void ms_trace_watch_events(int64_t watch_id, uint32_t puts, uint32_t deletes)
{
	ms_probe_watch_events(watch_id, puts, deletes);
	if (MS_TRACE_ON())
		ms_trace_add(MS_BATCH_WATCH, MS_REC_WATCH_EVENTS, (uint64_t)watch_id, 0,
			     (uint64_t)puts << 32 | deletes, 0, 0, 0);
}

#endif /* MS_TRACE_H */
