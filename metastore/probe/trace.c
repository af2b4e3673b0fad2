/* Record buffers of the batch probe, handed over once per event-loop iteration. */
#include "probe/trace.h"

#include <stdbool.h>

static struct ms_probe_batch batch;
/* per buffer: 1 + the slot of its gauge record in this batch, 0 if none */
static uint32_t gauge_slot[MS_BATCH_BUFS];

void ms_trace_flush(void)
{
	bool any = false;

	for (unsigned b = 0; b < MS_BATCH_BUFS; b++)
		any |= batch.n[b] != 0;
	if (!any)
		return;
	ms_probe_batch(&batch);
	for (unsigned b = 0; b < MS_BATCH_BUFS; b++)
		batch.n[b] = gauge_slot[b] = 0;
}

void ms_trace_add(unsigned buf, uint16_t kind, uint64_t id, uint64_t t_ns, uint64_t val, uint16_t a,
		  uint16_t b, uint16_t c)
{
	if (buf >= MS_BATCH_BUFS)
		return;
	if (batch.n[buf] == MS_PROBE_BATCH_MAX)
		ms_trace_flush();
	batch.rec[buf][batch.n[buf]++] = (struct ms_probe_rec){ .id = id, .t_ns = t_ns, .val = val,
								.kind = kind, .a = a, .b = b,
								.c = c };
}

void ms_trace_gauge(unsigned buf, uint16_t kind, uint64_t id, uint64_t val)
{
	struct ms_probe_rec *r;

	if (buf >= MS_BATCH_BUFS)
		return;
	r = gauge_slot[buf] ? &batch.rec[buf][gauge_slot[buf] - 1] : NULL;
	if (r && r->kind == kind && r->id == id) {
		r->val = val;
		return;
	}
	ms_trace_add(buf, kind, id, 0, val, 0, 0, 0);
	gauge_slot[buf] = batch.n[buf];
}

uint32_t ms_trace_pending(unsigned buf)
{
	return buf < MS_BATCH_BUFS ? batch.n[buf] : 0;
}

const struct ms_probe_rec *ms_trace_peek(unsigned buf)
{
	return buf < MS_BATCH_BUFS ? batch.rec[buf] : NULL;
}

