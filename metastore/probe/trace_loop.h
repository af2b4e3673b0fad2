/* Hands the batch probe's records over on the event loop, about every 4 ms. */
#ifndef MS_TRACE_LOOP_H
#define MS_TRACE_LOOP_H

#include <uv.h>

/*
 * Flushes the buffers now, then on `loop` about 1 ms after the first event of each batch (a
 * loop timer, armed before the loop waits for I/O, so it also wakes an idle loop). The
 * handles do not keep the loop alive. Returns 0 or a negative libuv error.
 */
int ms_trace_start(uv_loop_t *loop);

/* Flushes and closes what ms_trace_start opened (the loop must run once more to finish
 * the close). Safe without a start. */
void ms_trace_stop(void);

#endif /* MS_TRACE_LOOP_H */
