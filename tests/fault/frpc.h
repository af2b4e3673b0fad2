/* Fault suite: blocking etcd gRPC calls with a deadline over one HTTP/2 connection. */
#ifndef FRPC_H
#define FRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "h2client.h"

#define FRPC_UNAVAILABLE 14

/* One connection to one member; reconnects on the next call after an error. */
struct frpc_conn {
	struct h2c_conn *h2;
	char host[32];
	uint16_t port;
	bool done;
	int status;
	uint8_t *body;
	size_t len;
};

/* Points c at host:port (not connected yet). */
void frpc_init(struct frpc_conn *c, const char *host, uint16_t port);

/* Drops the connection (the next call reconnects). */
void frpc_close(struct frpc_conn *c);

/*
 * One unary call: packs req, waits up to timeout_ms, unpacks the answer as resp_desc into
 * *out (the caller frees it with protobuf_c_message_free_unpacked). Returns 0, the gRPC
 * status (> 0) the server answered, or -errno (-ETIMEDOUT, connection errors, -EBADMSG for
 * an undecodable answer). Any error other than a gRPC status closes the connection.
 */
int frpc_call(struct frpc_conn *c, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, ProtobufCMessage **out);

/* frpc_call on a connection of its own to host:port, repeated after a failure (200 ms
 * apart) until retry_ms have passed (0: once); the connection is closed at the end.
 * Returns the last frpc_call result. */
int frpc_call_to(const char *host, uint16_t port, const char *path, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, int retry_ms,
		 ProtobufCMessage **out);

/* Connects c if needed with a timeout. Returns 0 or -errno. */
int frpc_connect(struct frpc_conn *c, int timeout_ms, h2c_done_fn done, void *user);

#endif /* FRPC_H */
