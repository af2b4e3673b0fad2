/* Record buffers of the batch probes, flushed once per event-loop iteration. */
#include "trace.h"

#include <stdbool.h>

struct trace_buf {
	uint32_t n;
	struct ms_probe_rec rec[MS_PROBE_BATCH_MAX];
};

static struct trace_buf bufs[MS_TRACE_COUNT];
static uv_prepare_t before_poll;
static uv_check_t after_poll;
static bool started;

typedef void (*batch_probe_fn)(const struct ms_probe_rec *recs, uint32_t n);

static const batch_probe_fn probes[MS_TRACE_COUNT] = {
	[MS_TRACE_GRPC] = ms_probe_grpc_batch,
	[MS_TRACE_STORAGE] = ms_probe_storage_batch,
	[MS_TRACE_MVCC] = ms_probe_mvcc_batch,
	[MS_TRACE_RAFT] = ms_probe_raft_batch,
};

static void flush_one(enum ms_trace_buf_id b)
{
	struct trace_buf *t = &bufs[b];

	if (!t->n)
		return;
	probes[b](t->rec, t->n);
	t->n = 0;
}

void ms_trace_add(enum ms_trace_buf_id b, uint16_t kind, uint64_t id, uint64_t t_ns, uint64_t val,
		  uint16_t a, uint16_t bb, uint16_t c)
{
	struct trace_buf *t;

	if ((unsigned)b >= MS_TRACE_COUNT)
		return;
	t = &bufs[b];
	if (t->n == MS_PROBE_BATCH_MAX)
		flush_one(b);
	t->rec[t->n++] = (struct ms_probe_rec){ .id = id, .t_ns = t_ns, .val = val, .kind = kind,
						.a = a, .b = bb, .c = c };
}

void ms_trace_flush(void)
{
	for (int b = 0; b < MS_TRACE_COUNT; b++)
		flush_one((enum ms_trace_buf_id)b);
}

uint32_t ms_trace_pending(enum ms_trace_buf_id b)
{
	return (unsigned)b < MS_TRACE_COUNT ? bufs[b].n : 0;
}

const struct ms_probe_rec *ms_trace_peek(enum ms_trace_buf_id b)
{
	return (unsigned)b < MS_TRACE_COUNT ? bufs[b].rec : NULL;
}

static void on_prepare(uv_prepare_t *h)
{
	(void)h;
	ms_trace_flush();
}

static void on_check(uv_check_t *h)
{
	(void)h;
	ms_trace_flush();
}

int ms_trace_start(uv_loop_t *loop)
{
	int e;

	if (started)
		return UV_EBUSY;
	ms_trace_flush();
	e = uv_prepare_init(loop, &before_poll);
	if (e)
		return e;
	e = uv_check_init(loop, &after_poll);
	if (e) {
		uv_close((uv_handle_t *)&before_poll, NULL);
		return e;
	}
	uv_prepare_start(&before_poll, on_prepare);
	uv_check_start(&after_poll, on_check);
	uv_unref((uv_handle_t *)&before_poll);
	uv_unref((uv_handle_t *)&after_poll);
	started = true;
	return 0;
}

void ms_trace_stop(void)
{
	ms_trace_flush();
	if (!started)
		return;
	uv_close((uv_handle_t *)&before_poll, NULL);
	uv_close((uv_handle_t *)&after_poll, NULL);
	started = false;
}
