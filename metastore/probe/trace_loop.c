/* The batch probe's per-iteration hand-over on the libuv loop (the records live in trace.c). */
#include "probe/trace_loop.h"

#include <stdbool.h>

#include "probe/trace.h"

static uv_prepare_t before_poll;
static bool started;

static void on_prepare(uv_prepare_t *h)
{
	(void)h;
	ms_trace_flush();
}

/*
 * The prepare phase runs once per loop iteration, right before the loop may block for I/O:
 * records of the iteration's callbacks (and of the previous iteration's I/O) go out in one
 * hit, and none waits while the loop sleeps.
 */
int ms_trace_start(uv_loop_t *loop)
{
	int e;

	if (started)
		return UV_EBUSY;
	ms_trace_flush();
	e = uv_prepare_init(loop, &before_poll);
	if (e)
		return e;
	uv_prepare_start(&before_poll, on_prepare);
	uv_unref((uv_handle_t *)&before_poll);
	started = true;
	return 0;
}

void ms_trace_stop(void)
{
	ms_trace_flush();
	if (!started)
		return;
	uv_close((uv_handle_t *)&before_poll, NULL);
	started = false;
}
