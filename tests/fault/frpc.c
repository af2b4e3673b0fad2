/* Fault suite: blocking etcd gRPC calls with a deadline over one HTTP/2 connection. */
#include "frpc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

void frpc_init(struct frpc_conn *c, const char *host, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
}

void frpc_close(struct frpc_conn *c)
{
	h2c_close(c->h2);
	c->h2 = NULL;
}

static void on_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
		    size_t len)
{
	struct frpc_conn *c = conn_user;

	(void)call_user;
	c->done = true;
	c->status = grpc_status;
	free(c->body);
	c->body = NULL;
	c->len = 0;
	if (grpc_status == 0 && body && len) {
		c->body = malloc(len);
		if (c->body) {
			memcpy(c->body, body, len);
			c->len = len;
		}
	}
}

int frpc_connect(struct frpc_conn *c, int timeout_ms, h2c_done_fn done, void *user)
{
	if (c->h2)
		return 0;
	return h2c_connect_ms(&c->h2, c->host, c->port, done == NULL, done ? done : on_done,
			      user ? user : c, timeout_ms);
}

int frpc_call(struct frpc_conn *c, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, ProtobufCMessage **out)
{
	uint64_t deadline = fault_now() + (uint64_t)timeout_ms * 1000000ULL;
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t stack[512], *buf = n <= sizeof(stack) ? stack : malloc(n);
	int err;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(req, buf);
	err = frpc_connect(c, timeout_ms, NULL, NULL);
	if (err)
		goto cleanup;
	c->done = false;
	err = h2c_call_submit(c->h2, path, buf, n, NULL);
	while (!err && !c->done) {
		uint64_t now = fault_now();

		if (now >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		err = h2c_poll(c->h2, (int)((deadline - now) / 1000000ULL) + 1);
	}
	if (err) {
		frpc_close(c);
		goto cleanup;
	}
	if (c->status != 0) {
		err = c->status > 0 ? c->status : -ECONNRESET;
		if (c->status < 0)
			frpc_close(c);
		goto cleanup;
	}
	if (c->len < 5) {
		err = -EBADMSG;
		goto cleanup;
	}
	*out = protobuf_c_message_unpack(resp_desc, NULL, c->len - 5, c->body + 5);
	err = *out ? 0 : -EBADMSG;
cleanup:
	if (buf != stack)
		free(buf);
	return err;
}

int frpc_call_to(const char *host, uint16_t port, const char *path, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, int retry_ms,
		 ProtobufCMessage **out)
{
	uint64_t deadline = fault_now() + (uint64_t)retry_ms * 1000000ULL;
	struct frpc_conn c;
	int err;

	frpc_init(&c, host, port);
	for (;;) {
		err = frpc_call(&c, path, req, resp_desc, timeout_ms, out);
		if (!err || fault_now() >= deadline)
			break;
		poll(NULL, 0, 200); /* pacing between attempts */
	}
	frpc_close(&c);
	return err;
}
