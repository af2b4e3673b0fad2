/* Record buffers of the batch probe and the gRPC begin counts of the batch being filled. */
#include "probe/trace.h"

#include <stdbool.h>
#include <string.h>

struct ms_probe_batch ms_trace_batch;
int ms_trace_begun_any;
uint64_t ms_trace_read_ns;
uint32_t ms_trace_ends_from;
/* per buffer: 1 + the slot of its gauge record in this batch, 0 if none */
static uint32_t gauge_slot[MS_BATCH_BUFS];

int ms_trace_pending_any(void)
{
	bool any = ms_trace_begun_any != 0;

	for (unsigned b = 0; b < MS_BATCH_BUFS; b++)
		any |= ms_trace_batch.n[b] != 0;
	return any;
}

void ms_trace_prefault(void)
{
	/* volatile: every page written once, not a memset the compiler may drop for a zeroed
	 * global */
	volatile uint8_t *p = (volatile uint8_t *)&ms_trace_batch;

	for (size_t off = 0; off < sizeof(ms_trace_batch); off += 64)
		p[off] = p[off];
}

void ms_trace_stamp_ends_now(void)
{
	struct ms_probe_rec *r = ms_trace_batch.rec[MS_BATCH_GRPC];
	uint32_t n = ms_trace_batch.n[MS_BATCH_GRPC];
	uint64_t now;

	if (!ms_trace_ends_from)
		return;
	now = ms_trace_now();
	for (uint32_t i = ms_trace_ends_from - 1; i < n; i++) {
		if (r[i].kind == MS_REC_GRPC_END && !r[i].t_ns)
			r[i].t_ns = now;
	}
	ms_trace_ends_from = 0;
}

void ms_trace_flush(void)
{
	ms_trace_stamp_ends();
	if (!ms_trace_pending_any())
		return;
	ms_probe_batch(&ms_trace_batch);
	for (unsigned b = 0; b < MS_BATCH_BUFS; b++)
		ms_trace_batch.n[b] = gauge_slot[b] = 0;
	if (ms_trace_begun_any)
		memset(ms_trace_batch.grpc_begun, 0, sizeof(ms_trace_batch.grpc_begun));
	ms_trace_begun_any = 0;
	/* every event from now on is later than this: the next batch's window starts here */
	ms_trace_batch.window_ns = ms_trace_now();
}

void ms_trace_add(unsigned buf, uint16_t kind, uint64_t id, uint64_t t_ns, uint64_t val, uint16_t a,
		  uint16_t b, uint16_t c)
{
	if (buf < MS_BATCH_BUFS)
		ms_trace_fill(ms_trace_slot(buf), kind, id, t_ns, val, a, b, c);
}

void ms_trace_gauge(unsigned buf, uint16_t kind, uint64_t id, uint64_t val)
{
	struct ms_probe_rec *r;

	if (buf >= MS_BATCH_BUFS)
		return;
	r = gauge_slot[buf] ? &ms_trace_batch.rec[buf][gauge_slot[buf] - 1] : NULL;
	if (r && r->kind == kind && r->id == id) {
		r->val = val;
		return;
	}
	ms_trace_add(buf, kind, id, 0, val, 0, 0, 0);
	gauge_slot[buf] = ms_trace_batch.n[buf];
}

uint32_t ms_trace_pending(unsigned buf)
{
	return buf < MS_BATCH_BUFS ? ms_trace_batch.n[buf] : 0;
}

const struct ms_probe_rec *ms_trace_peek(unsigned buf)
{
	return buf < MS_BATCH_BUFS ? ms_trace_batch.rec[buf] : NULL;
}

