/* gRPC calls over HTTP/2: message framing, status, and the call API the services use. */
#ifndef MS_GRPC_H
#define MS_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "ms_methods.h"
#include "store/buf.h"

/* Length-prefixed message header: 1 byte compressed flag, 4 bytes big-endian length. */
#define GRPC_FRAME_HDR 5

/* Methods members call on each other (a follower forwarding a keep-alive to the leader).
 * They are not in the probe contract's table (include/ms_methods.h, whose ids the BPF
 * programs walk): their ids follow it, and their probes report MS_METHOD_UNKNOWN. */
enum grpc_internal_method {
	GRPC_METHOD_LEASE_RENEW = MS_METHOD_COUNT, /* /metastorepb.Internal/LeaseRenew */
	GRPC_METHOD_MEMBER_PUBLISH,                /* /metastorepb.Internal/MemberPublish */
	GRPC_METHOD_READ_INDEX,                    /* /metastorepb.Internal/ReadIndex */
	GRPC_METHOD_COUNT
};

/* The :path of method id `id` (etcd's or internal), "unknown" for others; static storage. */
const char *grpc_method_path(uint32_t id);

/* The method id (etcd's or internal) of a :path, or MS_METHOD_UNKNOWN. */
uint32_t grpc_method_lookup(const char *path, size_t len);

/* The id the probes get for method `id`: internal methods are not in their table. */
static inline uint32_t grpc_probe_method(uint32_t id)
{
	return id < MS_METHOD_COUNT ? id : MS_METHOD_UNKNOWN;
}


struct ms_conn;

/* One gRPC call = one HTTP/2 stream. Owned by its connection while the stream lives; a
 * handler that finishes later holds a reference (grpc_call_ref) so the call outlives it. */
struct grpc_call {
	uint64_t id;          /* per-process request id of the probe contract */
	uint64_t trace_t0;    /* begin time for the batch probe's end record (trace.h), or 0 */
	uint32_t method;      /* enum ms_method */
	int32_t stream_id;
	struct ms_conn *conn; /* NULL once the stream is gone */
	struct ms_buf in;   /* request body (framed messages) */
	struct ms_buf out;  /* framed response messages not yet taken by HTTP/2 */
	size_t out_off;
	uint32_t code;        /* grpc-status, valid once finished */
	char *message;        /* grpc-message (raw, not yet percent-encoded) */
	unsigned refs;        /* the stream's own reference + grpc_call_ref */
	bool headers_sent;    /* response HEADERS submitted */
	bool finished;        /* status set: trailers submitted or pending */
	bool trailers_sent;
	bool ended;           /* ms_probe_grpc_request_end called */
	bool streaming;       /* routed to grpc_stream_ops */
	bool running;         /* its handler has it: a whole unary request, or an open stream */
	bool writable_due;    /* pending bytes fell below writable_below: tell the service */
	size_t writable_below; /* armed by grpc_call_notify_writable; 0: not armed */
	bool gone;            /* stream reset or closed, connection lost: nothing more is sent */
	void *user;           /* per-call state of a streaming service */
	char *token;          /* the `token` request header (etcd auth), NULL if none */
	char *auth_user;      /* the user the authorizer resolved the token to, NULL if none */
	uint64_t auth_rev;    /* the auth revision the authorizer checked the call at */
	bool forwarded;       /* sent by a member forwarding it (MS_HDR_FORWARDED) */
	char *fwd_user;       /* MS_HDR_FORWARDED_USER as sent (unchecked), NULL if none */
	char *fwd_proof;      /* MS_HDR_FORWARDED_PROOF as sent (unchecked), NULL if none */
	uint64_t applied_index; /* of a forwarded call: the server's when it finished */
	struct grpc_call *next;
};

/* A unary handler: `msg` is the one request message (valid during the call only). It ends
 * the call with grpc_call_finish (after grpc_call_send for a response) before returning,
 * or takes a reference with grpc_call_ref and finishes later from the event loop. Returning
 * with neither is a failed invariant: the call ends with INTERNAL through the fault path. */
typedef void (*grpc_unary_fn)(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);

/*
 * A streaming method (client, server or bidirectional stream). Response headers go out when
 * the call opens; every complete request message is handed to `message` as it arrives.
 * The call ends with grpc_call_finish (trailers follow the queued responses); `closed` runs
 * exactly once when the stream is gone for any reason (finished, reset, connection lost),
 * and the call pointer is invalid after it returns.
 */
struct grpc_stream_ops {
	void (*open)(struct grpc_call *call, void *ctx);
	void (*message)(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
	void (*half_close)(struct grpc_call *call, void *ctx); /* client sent END_STREAM */
	void (*closed)(struct grpc_call *call, void *ctx);
	/* Pending bytes fell below the mark armed with grpc_call_notify_writable (optional). */
	void (*writable)(struct grpc_call *call, void *ctx);
};

/* Packs `m` as one framed response message on `call`; it is sent from the event loop, so
 * this may be called from any callback, for any connection. Returns 0 or -ENOMEM. */
int grpc_call_send(struct grpc_call *call, const ProtobufCMessage *m);

/* Queues response bytes that are already framed (length-prefixed messages relayed from
 * another server). Returns 0, -ECANCELED (stream gone), -EINVAL (finished) or -ENOMEM. */
int grpc_call_send_framed(struct grpc_call *call, const uint8_t *framed, size_t len);

/* Ends the call with `code` and an optional message (copied); sends trailers after any
 * queued responses. Only the first finish of a call counts. */
void grpc_call_finish(struct grpc_call *call, uint32_t code, const char *message);

/* Internal-fault recovery, the one path for a handler's failed invariant or allocation
 * failure: fires the panic probe, drops any queued response and finishes with INTERNAL. */
void grpc_call_fault(struct grpc_call *call, const char *what);

/* Keeps `call` valid after its stream is gone, for work that completes later from the event
 * loop (e.g. a write waiting for raft). Every ref needs one grpc_call_unref. */
void grpc_call_ref(struct grpc_call *call);

/* Drops a reference; the call is freed when its stream is gone and no reference is left. */
void grpc_call_unref(struct grpc_call *call);

/* Runs the unary handler of `call` again with its request `msg`, as its dispatch did: for a
 * call a layer above held back (a follower waiting to learn its leader). The caller holds a
 * reference across. A call that finished or is gone is left alone; a handler that returns
 * with neither a status nor a reference of its own ends the call through the fault path. */
void grpc_call_redispatch(struct grpc_call *call, const uint8_t *msg, size_t len);

/* True once the stream is gone (reset by the client, connection lost, server shut down):
 * sends fail with -ECANCELED and finishes do nothing; the call already ended as CANCELLED
 * unless it had finished before. */
bool grpc_call_cancelled(const struct grpc_call *call);

/* Bytes of responses queued on `call` that HTTP/2 flow control has not let out yet; a
 * streaming service uses it to stop producing for a client that does not read. */
size_t grpc_call_pending_bytes(const struct grpc_call *call);

/* Arms one `writable` callback of the call's stream ops for when its pending bytes fall
 * below `below` (at once, from the event loop, if they already are). The callback runs from
 * the loop, never inside a send; it does not run once the stream is gone or finished. */
void grpc_call_notify_writable(struct grpc_call *call, size_t below);

/* The common name of the verified certificate the call's client presented on a TLS port
 * (with --client-cert-auth), NULL if none or the connection is gone. Valid while the
 * connection is. */
const char *grpc_call_tls_cn(const struct grpc_call *call);

/* --- pure helpers (no I/O) ----------------------------------------------------------- */


enum grpc_unframe_result {
	GRPC_UNFRAME_OK,
	GRPC_UNFRAME_EMPTY,      /* no message at all */
	GRPC_UNFRAME_TRUNCATED,  /* prefix or payload incomplete */
	GRPC_UNFRAME_TRAILING,   /* more bytes after the first message (unary needs one) */
	GRPC_UNFRAME_COMPRESSED, /* compressed flag set: no decompressor */
	GRPC_UNFRAME_TOO_LARGE,  /* declared length above the limit */
};

/* Finds the single message of a unary request body. On GRPC_UNFRAME_OK, *msg and *len point
 * into `body`. *len receives the declared length for GRPC_UNFRAME_TOO_LARGE. */
enum grpc_unframe_result grpc_unframe(const uint8_t *body, size_t body_len, size_t max_len,
				      const uint8_t **msg, size_t *len);

/* Writes the 5-byte prefix for an uncompressed message of `len` bytes. */
void grpc_frame_header(uint8_t hdr[GRPC_FRAME_HDR], uint32_t len);

/* Largest :path kept for error messages; longer paths are cut. */
#define GRPC_PATH_MAX 256

/* Longest `token` request header kept; longer ones are cut (etcd's simple tokens are far
 * shorter, so a cut one matches none). */
#define GRPC_TOKEN_MAX 512

/* The grpc-message of an UNIMPLEMENTED status for `path` (":path" as received), worded as
 * grpc-go words it: "malformed method name: ...", "unknown service S", or "unknown method M
 * for service S" when `service_known`. Writes a NUL-terminated, possibly cut, string. */
void grpc_unimplemented_message(const char *path, size_t len, bool service_known, char *out,
				size_t outlen);

/* Splits a :path into service and method the way grpc-go does (one leading '/' dropped,
 * then cut at the last '/'); the pieces point into `path`. Returns 0, or -EINVAL for a
 * path with no '/' to cut at (a malformed method name). */
int grpc_path_split(const char *path, size_t len, const char **svc, size_t *svc_len,
		    const char **meth, size_t *meth_len);

/* Percent-encodes a grpc-message value per the gRPC HTTP/2 spec (bytes outside 0x20-0x7e
 * and '%'). Returns a malloc'ed string or NULL. */
char *grpc_percent_encode(const char *s);

/* Decodes a received grpc-message value (`len` bytes, not NUL-terminated); malformed
 * escapes are kept as they are. Returns a malloc'ed string or NULL. */
char *grpc_percent_decode(const uint8_t *v, size_t len);

#endif /* MS_GRPC_H */
