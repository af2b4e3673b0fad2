/* Forwarder internals shared by the HTTP/2 client (forward.c) and the call relay (forward_relay.c). */
#ifndef MS_FORWARD_PRIV_H
#define MS_FORWARD_PRIV_H

#include <stdbool.h>

#include "rpc/forward.h"

struct fw_conn;

struct ms_forward {
	uv_loop_t *loop;
	struct fw_conn *conns;
	bool stopping;
	uint64_t timeout_ms; /* of every call; 0: none */
	uv_timer_t sweep;    /* ends the calls past their deadline */
	ms_forward_wait_fn wait_fn; /* NULL: relay at once */
	void *wait_ctx;
	struct ms_tls_ctx *tls; /* for https:// targets (borrowed); NULL: none */
};

#endif /* MS_FORWARD_PRIV_H */
