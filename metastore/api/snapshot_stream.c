/* Maintenance.Snapshot: the whole store as one snapshot file (store/snapfile.h), streamed. */
#include "api/snapshot_stream.h"

#include <errno.h>
#include <stdlib.h>

#include "api/reply.h"
#include "maintenance.pb-c.h"
#include "store/snapfile.h"

/* etcd's chunk (snapshotSendBufferSize); the stream stops producing past SNAP_STREAM_BUF
 * pending bytes, so a slow client holds the file once, not a copy per chunk. */
#define SNAP_CHUNK (32 * 1024)
#define SNAP_STREAM_BUF (256 * 1024)
#define SNAP_STREAM_RESUME (128 * 1024)

struct snap_ctx {
	struct kv_service *kv;
	const struct ms_snap_parts *parts;
	void (*log)(const char *fmt, ...);
};

struct snap_call {
	struct ms_buf file;
	size_t sent;
	bool started;
};

int snapshot_stream_build(const struct ms_snap_parts *parts, uint64_t applied_index,
			  struct ms_buf *out)
{
	struct ms_buf payload = { 0 };
	struct ms_snapfile_hdr h = { .revision = ms_mvcc_rev(parts->mvcc),
				     .compact_revision = ms_mvcc_compact_rev(parts->mvcc),
				     .applied_index = applied_index };
	int err = ms_snapshot_take(parts, &payload);

	if (!err)
		err = ms_snapfile_encode(&h, payload.data, payload.len, out);
	ms_buf_free(&payload);
	return err;
}

/* Sends chunks until the file is out (then finishes OK) or the client stops reading. */
static void snap_pump(struct grpc_call *call, struct snap_ctx *ctx)
{
	struct snap_call *sc = call->user;

	while (sc->sent < sc->file.len && !call->finished) {
		Etcdserverpb__SnapshotResponse resp = ETCDSERVERPB__SNAPSHOT_RESPONSE__INIT;
		Etcdserverpb__ResponseHeader hdr = ETCDSERVERPB__RESPONSE_HEADER__INIT;
		size_t n = sc->file.len - sc->sent;

		if (grpc_call_pending_bytes(call) >= SNAP_STREAM_BUF) {
			grpc_call_notify_writable(call, SNAP_STREAM_RESUME);
			return;
		}
		if (n > SNAP_CHUNK)
			n = SNAP_CHUNK;
		api_header_fill(&hdr, ctx->kv);
		hdr.revision = ms_mvcc_rev(ctx->kv->mvcc);
		resp.header = &hdr;
		resp.blob.data = sc->file.data + sc->sent;
		resp.blob.len = n;
		sc->sent += n;
		resp.remaining_bytes = sc->file.len - sc->sent;
		if (grpc_call_send(call, &resp.base)) {
			grpc_call_fault(call, "cannot send the snapshot");
			return;
		}
	}
	if (!call->finished)
		grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void snap_open(struct grpc_call *call, void *arg)
{
	(void)arg;
	call->user = calloc(1, sizeof(struct snap_call));
	if (!call->user)
		grpc_call_fault(call, "out of memory for a snapshot");
}

/* The one request: the store is taken here, in one piece, between two applies. */
static void snap_message(struct grpc_call *call, const uint8_t *msg, size_t len, void *arg)
{
	struct snap_ctx *ctx = arg;
	struct snap_call *sc = call->user;
	Etcdserverpb__SnapshotRequest *req;
	int err;

	if (!sc || sc->started)
		return;
	sc->started = true;
	req = etcdserverpb__snapshot_request__unpack(NULL, len, msg);
	if (!req) {
		api_bad_request(call);
		return;
	}
	etcdserverpb__snapshot_request__free_unpacked(req, NULL);
	err = snapshot_stream_build(ctx->parts,
				    ctx->kv->raft ? ms_raft_applied_index(ctx->kv->raft) : 0,
				    &sc->file);
	if (err) {
		grpc_call_fault(call, err == -EBUSY ? "a transaction is open" :
				"out of memory for a snapshot");
		return;
	}
	if (ctx->log)
		ctx->log("sending database snapshot to client: %zu bytes at revision %lld",
			 sc->file.len, (long long)ms_mvcc_rev(ctx->kv->mvcc));
	snap_pump(call, ctx);
}

static void snap_half_close(struct grpc_call *call, void *arg)
{
	struct snap_call *sc = call->user;

	(void)arg;
	/* a client that closes without asking gets an empty, well-formed end */
	if (sc && !sc->started && !call->finished)
		grpc_call_finish(call, MS_GRPC_OK, NULL);
}

static void snap_writable(struct grpc_call *call, void *arg)
{
	if (call->user)
		snap_pump(call, arg);
}

static void snap_closed(struct grpc_call *call, void *arg)
{
	struct snap_call *sc = call->user;

	(void)arg;
	if (sc)
		ms_buf_free(&sc->file);
	free(sc);
	call->user = NULL;
}

void snapshot_stream_register(struct ms_server *srv, struct kv_service *kv,
			      const struct ms_snap_parts *parts,
			      void (*log)(const char *fmt, ...))
{
	static const struct grpc_stream_ops ops = {
		.open = snap_open,
		.message = snap_message,
		.half_close = snap_half_close,
		.closed = snap_closed,
		.writable = snap_writable,
	};
	static struct snap_ctx ctx;

	ctx = (struct snap_ctx){ .kv = kv, .parts = parts, .log = log };
	ms_server_handle_stream(srv, MS_METHOD_MAINT_SNAPSHOT, &ops, &ctx);
}
