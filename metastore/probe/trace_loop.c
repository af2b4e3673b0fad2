/* The batch probe's hand-over on the libuv loop, about every 4 ms (records: trace.c). */
#include "probe/trace_loop.h"

#include <stdbool.h>

#include "probe/trace.h"

/* How long the first event of a batch waits at most for its hand-over, in loop-timer ms.
 * Each hand-over runs every attached batch program once, and most of their cost per hit is
 * fixed (reads of the batch header, the process's member slot, caches the store's own work
 * evicted): 4 ms instead of 1 cut the BPF time per call by about half at 60k calls/s, where
 * buffers of 256 records still fill before the timer. Metrics are scraped every few seconds,
 * so the later hand-over costs nothing a user sees. */
#define MS_TRACE_WINDOW_MS 4

static uv_prepare_t before_poll;
static uv_timer_t window;
static bool started;

static void on_window(uv_timer_t *h)
{
	(void)h;
	ms_trace_flush();
}

/*
 * The prepare phase runs once per loop iteration, before the loop may block for I/O. A uprobe
 * hit costs about as much as a whole in-memory call, so a batch is not handed over here but
 * by the window timer, armed by the first iteration that leaves something pending: one hit
 * per window however many iterations and calls it served, and an idle loop still
 * wakes for it. A full buffer is handed over at once (trace.c).
 */
static void on_prepare(uv_prepare_t *h)
{
	(void)h;
	/* a call that ended with no write after it (its connection closed) */
	ms_trace_stamp_ends();
	if (!uv_is_active((uv_handle_t *)&window) && ms_trace_pending_any())
		uv_timer_start(&window, on_window, MS_TRACE_WINDOW_MS, 0);
}

int ms_trace_start(uv_loop_t *loop)
{
	int e;

	if (started)
		return UV_EBUSY;
	ms_trace_flush();
	ms_trace_prefault();
	e = uv_prepare_init(loop, &before_poll);
	if (e)
		return e;
	e = uv_timer_init(loop, &window);
	if (e) {
		uv_close((uv_handle_t *)&before_poll, NULL);
		return e;
	}
	uv_prepare_start(&before_poll, on_prepare);
	uv_unref((uv_handle_t *)&before_poll);
	uv_unref((uv_handle_t *)&window);
	started = true;
	return 0;
}

void ms_trace_stop(void)
{
	ms_trace_flush();
	if (!started)
		return;
	uv_close((uv_handle_t *)&before_poll, NULL);
	uv_close((uv_handle_t *)&window, NULL);
	started = false;
}
