/* Raft routing of gRPC calls: writes proposed and answered at apply, batched linearizable reads,
 * leadership transfer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "probe/trace.h"
#include "raft/raftnode_priv.h"

struct ms_proposal *ms_raft_pending_find(struct ms_raft *rn, uint64_t seq)
{
	for (struct ms_proposal *p = rn->pending; p; p = p->next)
		if (p->seq == seq)
			return p;
	return NULL;
}

static void pending_unlink(struct ms_raft *rn, struct ms_proposal *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		rn->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		rn->pending_tail = p->prev;
}

/* Where the client should go instead, as etcd words it. */
static const char *not_leader_reason(const struct ms_raft *rn)
{
	return ms_raft_leader_id(rn) ? MS_ERR_NOT_LEADER : MS_ERR_NO_LEADER;
}

static void on_applied(struct raft_apply *req, int status, void *result)
{
	struct ms_proposal *p = req->data;

	(void)result;
	/* a storage failure is the operator's to know: said once per kind of failure */
	if (status && status != RAFT_SHUTDOWN && status != RAFT_LEADERSHIPLOST &&
	    status != RAFT_NOTLEADER)
		ms_raft_report_io(p->rn, status);
	/* failed before it applied: the entry may or may not commit later */
	if (p->done)
		p->done(p->done_arg, status == RAFT_SHUTDOWN ? -ESHUTDOWN :
				     status == RAFT_NOSPACE ? -ENOSPC :
				     status == RAFT_IOERR ? -EIO : -EAGAIN, NULL);
	pending_unlink(p->rn, p);
	free(p);
}

int ms_raft_propose_kind(struct ms_raft *rn, unsigned kind, const void *body, size_t len,
			 ms_raft_done_fn done, void *arg)
{
	const uint8_t *msg = body;
	struct ms_proposal *p;
	struct raft_buffer buf;
	size_t pad;
	int rv;

	if (!rn->started || rn->stopping || raft_state(rn->raft) != RAFT_LEADER)
		return -EPERM;
	p = calloc(1, sizeof(*p));
	/* libraft's on-disk batches need entries padded to 8 bytes: an unpadded one reads
	 * back as corrupt after a restart. The pad length rides in the header. */
	pad = (8 - (MS_RAFT_ENTRY_HDR + len) % 8) % 8;
	buf.len = MS_RAFT_ENTRY_HDR + len + pad;
	buf.base = raft_malloc(buf.len);
	if (!p || !buf.base) {
		rv = -ENOMEM;
		goto fail;
	}
	ms_le64_write(buf.base, (uint64_t)pad << 48 | (uint64_t)kind << 32 | MS_RAFT_ENTRY_MAGIC);
	ms_le64_write((uint8_t *)buf.base + 8, rn->opts.node_id);
	ms_le64_write((uint8_t *)buf.base + 16, rn->seq + 1);
	if (len)
		memcpy((uint8_t *)buf.base + MS_RAFT_ENTRY_HDR, msg, len);
	memset((uint8_t *)buf.base + MS_RAFT_ENTRY_HDR + len, 0, pad);
	p->rn = rn;
	p->seq = ++rn->seq;
	p->done = done;
	p->done_arg = arg;
	p->req.data = p;
	rv = raft_apply(rn->raft, &p->req, &buf, 1, on_applied);
	if (rv) {
		rv = rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST ? -EPERM : -ENOMEM;
		goto fail;
	}
	p->proposed_ns = ms_trace_raft_propose(rn->opts.node_id, p->req.index);
	p->prev = rn->pending_tail;
	if (rn->pending_tail)
		rn->pending_tail->next = p;
	else
		rn->pending = p;
	rn->pending_tail = p;
	return 0;
fail:
	raft_free(buf.base);
	free(p);
	return rv;
}

int ms_raft_propose(struct ms_raft *rn, const uint8_t *entry, size_t len, ms_raft_done_fn done,
		    void *arg)
{
	return ms_raft_propose_kind(rn, MS_RAFT_KIND_STORE, entry, len, done, arg);
}

/* A follower passes the call on to the leader when it can, holds it while it knows none
 * (leader_wait.c); else "not leader". */
void ms_raft_not_leader(struct ms_raft *rn, struct grpc_call *call, const uint8_t *msg,
			size_t len)
{
	const char *leader = rn->stopping ? NULL : ms_raft_leader_client(rn);
	struct ms_forward_cred cred;
	char proof[MS_FWD_PROOF_MAX];

	if (!leader && !rn->stopping && rn->forward_fn && raft_state(rn->raft) != RAFT_LEADER &&
	    ms_raft_leader_wait_add(rn, call, msg, len, false) == 0)
		return;
	if (leader && rn->forward_fn) {
		ms_raft_forward_cred(rn, call, call->method, msg, len, &cred, proof);
		if (rn->forward_fn(rn->forward_ctx, leader, call, &cred, msg, len) == 0)
			return;
	}
	grpc_call_finish(call, MS_GRPC_UNAVAILABLE,
			 rn->stopping ? MS_ERR_STOPPED : not_leader_reason(rn));
}

/* --- linearizable reads ----------------------------------------------------------------- */

static void read_wait_free(struct ms_read_wait *w)
{
	grpc_call_unref(w->call);
	ms_buf_free(&w->msg);
	free(w);
}

static void fail_list(struct ms_read_wait *w, const char *why)
{
	while (w) {
		struct ms_read_wait *next = w->next;

		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE, why);
		read_wait_free(w);
		w = next;
	}
}

void ms_raft_fail_reads(struct ms_raft *rn, const char *why)
{
	fail_list(rn->reads, why);
	rn->reads = rn->reads_tail = NULL;
	/* the in-flight batch is ended by its barrier callback */
}

static void barrier_next(struct ms_raft *rn);

static void on_barrier(struct raft_barrier *req, int status)
{
	struct ms_raft *rn = req->data;
	struct ms_read_wait *w = rn->reads_inflight;

	rn->reads_inflight = NULL;
	rn->barrier_busy = false;
	if (status) {
		fail_list(w, status == RAFT_SHUTDOWN ? MS_ERR_STOPPED : MS_ERR_LEADER_CHANGED);
	} else {
		/* everything committed before the reads arrived is applied: serve them */
		while (w) {
			struct ms_read_wait *next = w->next;

			if (!grpc_call_cancelled(w->call)) {
				w->route->fn(w->call, w->msg.data, w->msg.len, w->route->ctx);
				if (!w->call->finished)
					grpc_call_fault(w->call, "read served without a status");
			}
			read_wait_free(w);
			w = next;
		}
	}
	/* libraft is still inside its callback here: the next barrier starts from the loop */
	ms_raft_kick(rn);
}

/* Starts a barrier for the reads queued so far, unless one is in flight. Never called from
 * a libraft callback (raft_barrier from there corrupts libraft's request queue). */
static void barrier_next(struct ms_raft *rn)
{
	int rv;

	if (rn->barrier_busy || !rn->reads)
		return;
	if (rn->stopping || raft_state(rn->raft) != RAFT_LEADER) {
		ms_raft_fail_reads(rn, rn->stopping ? MS_ERR_STOPPED : not_leader_reason(rn));
		return;
	}
	rn->reads_inflight = rn->reads;
	rn->reads = rn->reads_tail = NULL;
	rn->barrier.data = rn;
	rv = raft_barrier(rn->raft, &rn->barrier, on_barrier);
	if (rv) {
		struct ms_read_wait *w = rn->reads_inflight;

		rn->reads_inflight = NULL;
		fail_list(w, not_leader_reason(rn));
		return;
	}
	rn->barrier_busy = true;
}

static void read_call(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct ms_raft_route *route = ctx;
	struct ms_raft *rn = route->rn;
	struct ms_read_wait *w;

	if (rn->members.n == 1 && raft_state(rn->raft) == RAFT_LEADER) {
		/* a single voter that leads has applied all it acknowledged: local is current */
		route->fn(call, msg, len, route->ctx);
		return;
	}
	if (route->serializable && route->serializable(msg, len)) {
		int e;

		if (ms_raft_ready(rn)) {
			route->fn(call, msg, len, route->ctx);
			return;
		}
		/* a member that just started may hold less than it served before it stopped:
		 * local reads wait until it caught up with its cluster (ready.c) */
		e = rn->stopping ? -ECANCELED : ms_raft_leader_wait_add(rn, call, msg, len, true);
		if (e == -ENOMEM)
			grpc_call_fault(call, "out of memory holding a read");
		else if (e)
			grpc_call_finish(call, MS_GRPC_UNAVAILABLE,
					 e == -ECANCELED ? MS_ERR_STOPPED : MS_ERR_REQUEST_TIMEOUT);
		return;
	}
	if (rn->stopping || raft_state(rn->raft) != RAFT_LEADER) {
		ms_raft_not_leader(rn, call, msg, len);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w || ms_buf_append(&w->msg, msg, len)) {
		if (w)
			ms_buf_free(&w->msg);
		free(w);
		grpc_call_fault(call, "out of memory queueing a read");
		return;
	}
	w->call = call;
	w->route = route;
	grpc_call_ref(call);
	if (rn->reads_tail)
		rn->reads_tail->next = w;
	else
		rn->reads = w;
	rn->reads_tail = w;
	barrier_next(rn);
}

void ms_raft_run_deferred(struct ms_raft *rn)
{
	barrier_next(rn);
	ms_raft_waits_run(&rn->waits, ms_raft_applied_index(rn), uv_now(rn->loop));
}

int ms_raft_call_leader(struct ms_raft *rn, uint32_t method, const struct grpc_call *origin,
			const uint8_t *msg, size_t len, ms_forward_done_fn done, void *arg)
{
	struct ms_forward_cred cred;
	char proof[MS_FWD_PROOF_MAX];
	const char *leader;

	if (rn->stopping)
		return -ECANCELED;
	leader = ms_raft_leader_client(rn);
	if (!leader || !rn->unary_fn)
		return -EAGAIN;
	ms_raft_forward_cred(rn, origin, method, msg, len, &cred, proof);
	return rn->unary_fn(rn->unary_ctx, leader, method, &cred, msg, len, done, arg);
}

void ms_raft_route_read(struct ms_raft *rn, struct ms_server *srv, enum ms_method m,
			grpc_unary_fn fn, void *ctx,
			bool (*serializable)(const uint8_t *msg, size_t len))
{
	rn->routes[m] = (struct ms_raft_route){ .fn = fn, .ctx = ctx, .rn = rn,
						.serializable = serializable };
	ms_server_handle(srv, m, read_call, &rn->routes[m]);
}

void ms_raft_serve_read_index(struct ms_raft *rn, struct ms_server *srv)
{
	rn->read_index_route = (struct ms_raft_route){ .fn = ms_raft_read_index_serve, .rn = rn };
	ms_server_handle(srv, GRPC_METHOD_READ_INDEX, read_call, &rn->read_index_route);
}

/* Leadership transfer, libraft's callback: the request is ours again; what came of it is
 * read from raft_leader, from the loop, by whoever waits (nothing here calls into libraft). */
static void on_transfer(struct raft_transfer *req)
{
	free(req);
}

int ms_raft_move_leader(struct ms_raft *rn, uint64_t target)
{
	struct raft_transfer *req;
	int rv;

	if (rn->raft->state != RAFT_LEADER)
		return -EPERM;
	if (rn->raft->transfer)
		return -EBUSY;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	rv = raft_transfer(rn->raft, req, target, on_transfer);
	if (rv == 0)
		return 0;
	free(req);
	switch (rv) {
	case RAFT_BADID:
	case RAFT_NOTFOUND:
		return -ENOENT;
	case RAFT_NOTLEADER:
		return -EPERM;
	case RAFT_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}
