/* Hands the batch probe's records over once per event-loop iteration (libuv prepare phase). */
#ifndef MS_TRACE_LOOP_H
#define MS_TRACE_LOOP_H

#include <uv.h>

/*
 * Flushes the buffers now, then on `loop` once per iteration, before it waits for I/O, so a
 * record reaches its probe before the loop sleeps. The handle does not keep the loop alive.
 * Returns 0 or a negative libuv error.
 */
int ms_trace_start(uv_loop_t *loop);

/* Flushes and closes what ms_trace_start opened (the loop must run once more to finish
 * the close). Safe without a start. */
void ms_trace_stop(void);

#endif /* MS_TRACE_LOOP_H */
