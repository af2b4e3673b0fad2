/* Stand-ins for the call functions that the raft routing linked in with the services refers
 * to, for tests that replace the gRPC transport; no test calls them. Include once, after
 * cmocka.h, in a test that defines the rest of the transport itself. */
#ifndef MS_TEST_CALL_STUBS_H
#define MS_TEST_CALL_STUBS_H

#include "rpc/server.h"

void ms_server_handle(struct ms_server *s, enum ms_method m, grpc_unary_fn fn, void *ctx)
{
	(void)s, (void)m, (void)fn, (void)ctx;
}

void grpc_call_ref(struct grpc_call *call)
{
	(void)call;
	fail();
}

void grpc_call_unref(struct grpc_call *call)
{
	(void)call;
	fail();
}

void grpc_call_redispatch(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)call, (void)msg, (void)len;
	fail();
}

bool grpc_call_cancelled(const struct grpc_call *call)
{
	(void)call;
	fail();
	return false;
}

#endif /* MS_TEST_CALL_STUBS_H */
