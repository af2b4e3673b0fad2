/* Raft node: libraft on libuv, the store's state machine (apply, snapshot, restore). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "probe/trace.h"
#include "raft/raftnode_priv.h"

#define POLL_MS 20

const struct ms_raft_route *ms_raft_op_route(const struct ms_raft *rn, unsigned op)
{
	if (op < MS_METHOD_COUNT)
		return rn->routes[op].fn ? &rn->routes[op] : NULL;
	if (op >= MS_RAFT_OP_LEASE_EXPIRE && op < MS_RAFT_OP_LEASE_EXPIRE + MS_RAFT_OP_SLOTS)
		return rn->ops[op - MS_RAFT_OP_LEASE_EXPIRE].fn ?
			       &rn->ops[op - MS_RAFT_OP_LEASE_EXPIRE] : NULL;
	return NULL;
}

#define RN_SNAP_MAGIC 0x31504e53524d4dULL /* "MMRSNP1": member addresses, then the state */

static struct ms_raft_peer *peer_find(struct ms_raft *rn, uint64_t id)
{
	for (size_t i = 0; i < rn->n_peers; i++)
		if (rn->peers[i].id == id)
			return &rn->peers[i];
	return NULL;
}

/* Reads one (member id, client address) pair, as published or snapshotted, into the
 * member's entry; unknown members and oversized addresses are skipped. */
static void read_member_client(struct ms_raft *rn, struct ms_reader *r)
{
	struct ms_raft_peer *m = peer_find(rn, ms_get_u64(r));
	size_t n;
	const uint8_t *addr = ms_get_bytes(r, &n);

	if (m && !r->bad && n < sizeof(m->client)) {
		memcpy(m->client, addr, n);
		m->client[n] = '\0';
	}
}

/* MS_RAFT_OP_MEMBER_ATTR: a member's client address, as etcd publishes member attributes. */
static void apply_member_attr(struct ms_raft *rn, const uint8_t *p, size_t len)
{
	struct ms_reader r = { .p = p, .left = len };

	read_member_client(rn, &r);
}

const char *ms_raft_leader_client(const struct ms_raft *rn)
{
	uint64_t id = ms_raft_leader_id(rn);
	const struct ms_raft_peer *m = id && id != rn->opts.node_id ?
					       peer_find((struct ms_raft *)rn, id) : NULL;

	return m && m->client[0] ? m->client : NULL;
}

/*
 * Applies one committed entry: its handler runs with the client's call when this node
 * proposed it and the call still waits, else with a detached call whose response goes
 * nowhere (grpc_call_finish/send do nothing on a gone call).
 */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct ms_raft *rn = fsm->data;
	const uint8_t *p = buf->base;
	uint64_t index = raft_last_applied(&rn->raft) + 1;
	const struct ms_raft_route *route;
	struct ms_proposal *prop = NULL;
	struct grpc_call detached = { .gone = true, .refs = 1 };
	struct grpc_call *call = &detached;
	bool ours = buf->len >= MS_RAFT_ENTRY_HDR &&
		    (uint32_t)ms_le64_read(p) == MS_RAFT_ENTRY_MAGIC;
	size_t pad;
	unsigned op;

	*result = NULL;
	/* an entry this node proposed: its proposal knows when (for the commit record) */
	if (ours && ms_le64_read(p + 8) == rn->opts.node_id)
		prop = ms_raft_pending_find(rn, ms_le64_read(p + 16));
	ms_trace_raft_commit(rn->opts.node_id, index, prop ? prop->proposed_ns : 0);
	if (!ours)
		goto done; /* not ours: nothing to apply, like an empty entry */
	op = (unsigned)((ms_le64_read(p) >> 32) & 0xffff);
	pad = (size_t)(ms_le64_read(p) >> 48);
	if (pad > buf->len - MS_RAFT_ENTRY_HDR)
		goto done;
	if (op == MS_RAFT_OP_MEMBER_ATTR) {
		apply_member_attr(rn, p + MS_RAFT_ENTRY_HDR, buf->len - MS_RAFT_ENTRY_HDR - pad);
		goto done;
	}
	route = ms_raft_op_route(rn, op);
	if (prop && prop->call)
		call = prop->call;
	if (prop)
		prop->applied = true;
	detached.method = op < MS_METHOD_COUNT ? op : 0;
	if (route)
		route->fn(call, p + MS_RAFT_ENTRY_HDR, buf->len - MS_RAFT_ENTRY_HDR - pad,
			  route->ctx);
	if (call != &detached && !call->finished)
		grpc_call_fault(call, "write applied without a status");
	free(detached.message);
done:
	ms_trace_raft_apply(rn->opts.node_id, index);
	rn->reported_applied = index;
	return 0;
}

/* On the loop: the state's bytes, handed to libraft without a copy (fsm_snapshot_finalize
 * frees them once written). */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct ms_raft *rn = fsm->data;
	struct ms_buf b = { 0 };
	size_t state_at;
	int err = ms_put_u64(&b, RN_SNAP_MAGIC);

	/* the members' client addresses: a member restored from this snapshot never saw the
	 * entries that published them */
	if (!err)
		err = ms_put_u64(&b, rn->n_peers);
	for (size_t i = 0; !err && i < rn->n_peers; i++) {
		err = ms_put_u64(&b, rn->peers[i].id);
		if (!err)
			err = ms_put_bytes(&b, rn->peers[i].client, strlen(rn->peers[i].client));
	}
	state_at = b.len;
	if (!err)
		err = rn->st.snapshot(rn->st.arg, &b);
	/* without libraft's own (worker thread) compression, compress here */
	if (!err && !rn->lib_compress && rn->st.compress) {
		struct ms_buf z = { 0 };

		err = rn->st.compress(b.data + state_at, b.len - state_at, &z);
		b.len = state_at;
		if (!err)
			err = ms_buf_append(&b, z.data, z.len);
		ms_buf_free(&z);
	}
	*bufs = err ? NULL : calloc(1, sizeof(**bufs));
	if (!*bufs) {
		ms_buf_free(&b);
		return err == -EBUSY ? RAFT_BUSY : RAFT_NOMEM;
	}
	(*bufs)[0] = (struct raft_buffer){ .base = b.data, .len = b.len };
	*n_bufs = 1;
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				 unsigned *n_bufs)
{
	(void)fsm;
	for (unsigned i = 0; *bufs && i < *n_bufs; i++)
		free((*bufs)[i].base);
	free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct ms_raft *rn = fsm->data;
	struct ms_reader r = { .p = buf->base, .left = buf->len };
	uint64_t n;
	int err;

	if (ms_get_u64(&r) != RN_SNAP_MAGIC)
		return RAFT_CORRUPT;
	n = ms_get_u64(&r);
	for (uint64_t i = 0; i < n && !r.bad; i++)
		read_member_client(rn, &r);
	if (r.bad)
		return RAFT_CORRUPT;
	err = rn->st.restore(rn->st.arg, r.p, r.left);
	if (err)
		return err == -ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
	raft_free(buf->base); /* ours on success */
	if (rn->restore_fn)
		rn->restore_fn(rn->restore_arg);
	return 0;
}

/* A new leader tells every member where clients reach it, for forwarding. */
static void publish_client_addr(struct ms_raft *rn)
{
	struct ms_buf b = { 0 };
	struct ms_raft_peer *self = peer_find(rn, rn->opts.node_id);

	if (rn->n_peers == 1 || !rn->client_addr[0] ||
	    (self && strcmp(self->client, rn->client_addr) == 0))
		return; /* no one to tell, nothing to tell, or known to all already */
	/* until it applies: a proposal lost to a leader change is made again, once a second */
	if (rn->published_ms && uv_now(rn->loop) - rn->published_ms < 1000)
		return;
	rn->published_ms = uv_now(rn->loop);
	if (!ms_put_u64(&b, rn->opts.node_id) &&
	    !ms_put_bytes(&b, rn->client_addr, strlen(rn->client_addr)))
		ms_raft_propose_op(rn, MS_RAFT_OP_MEMBER_ATTR, b.data, b.len);
	ms_buf_free(&b);
}

/* Leadership changes have no libraft callback: the node looks every POLL_MS. */
static void on_poll(uv_timer_t *t)
{
	struct ms_raft *rn = t->data;
	bool leader = raft_state(&rn->raft) == RAFT_LEADER;
	uint64_t applied = raft_last_applied(&rn->raft);

	ms_probe_raft_status(rn->opts.node_id, ms_raft_term(rn), ms_raft_leader_id(rn), &ms_probe_limits_info);
	if (leader && !rn->was_leader) {
		rn->published_ms = 0;
		if (rn->leader_fn)
			rn->leader_fn(rn->leader_arg);
	}
	if (leader)
		publish_client_addr(rn);
	if (!leader && rn->was_leader)
		ms_raft_fail_reads(rn, MS_ERR_LEADER_CHANGED);
	rn->was_leader = leader;
	/* barriers, configuration entries and snapshot installs apply without fsm_apply */
	if (applied != rn->reported_applied) {
		rn->reported_applied = applied;
		ms_trace_raft_apply(rn->opts.node_id, applied);
	}
}

int ms_raft_new(uv_loop_t *loop, const struct ms_raft_opts *o, const struct ms_raft_state_ops *st,
		struct ms_raft **out, char *err, size_t errlen)
{
	struct ms_raft *rn;
	const char *self = NULL;
	int rv, e = 0;

	*out = NULL;
	for (size_t i = 0; i < o->n_peers; i++)
		if (o->peers[i].id == o->node_id)
			self = o->peers[i].address;
	if (!self) {
		snprintf(err, errlen, "this member is not in the initial cluster");
		return -EINVAL;
	}
	rn = calloc(1, sizeof(*rn));
	if (!rn)
		goto nomem;
	rn->loop = loop;
	rn->opts = *o;
	rn->st = *st;
	rn->dir = strdup(o->dir);
	rn->peers = calloc(o->n_peers, sizeof(*rn->peers));
	if (!rn->dir || !rn->peers)
		goto nomem;
	memcpy(rn->peers, o->peers, o->n_peers * sizeof(*rn->peers));
	rn->n_peers = o->n_peers;
	rn->opts.peers = rn->peers;
	rn->opts.dir = rn->dir;
	rn->opts.client_addr = NULL;
	if (o->client_addr)
		snprintf(rn->client_addr, sizeof(rn->client_addr), "%s", o->client_addr);
	rn->fsm = (struct raft_fsm){ .version = 2, .data = rn, .apply = fsm_apply,
				     .snapshot = fsm_snapshot, .restore = fsm_restore,
				     .snapshot_finalize = fsm_snapshot_finalize };
	rv = raft_uv_tcp_init(&rn->transport, loop);
	if (rv) {
		snprintf(err, errlen, "raft transport: %s", raft_strerror(rv));
		e = -EIO;
		goto fail_free;
	}
	rv = raft_uv_init(&rn->io, loop, rn->dir, &rn->transport);
	if (rv) {
		snprintf(err, errlen, "raft storage in %s: %s", rn->dir, rn->io.errmsg);
		e = -EIO;
		goto fail_transport;
	}
	/* libraft compresses snapshots (LZ4) on a worker thread while it writes them: the loop
	 * only copies the state out. Without LZ4 the state ops compress (zlib) on the loop. */
	rn->lib_compress = raft_uv_set_snapshot_compression(&rn->io, true) == 0;
	rv = raft_init(&rn->raft, &rn->io, &rn->fsm, o->node_id, self);
	if (rv) {
		snprintf(err, errlen, "raft: %s", raft_strerror(rv));
		e = -EIO;
		goto fail_io;
	}
	raft_set_election_timeout(&rn->raft, o->election_ms);
	raft_set_heartbeat_timeout(&rn->raft, o->heartbeat_ms);
	raft_set_snapshot_threshold(&rn->raft, o->snapshot_threshold);
	raft_set_snapshot_trailing(&rn->raft, o->snapshot_trailing);
	raft_set_pre_vote(&rn->raft, true);
	uv_timer_init(loop, &rn->poll);
	rn->poll.data = rn;
	*out = rn;
	return 0;
fail_io:
	raft_uv_close(&rn->io);
fail_transport:
	raft_uv_tcp_close(&rn->transport);
fail_free:
	free(rn->peers);
	free(rn->dir);
	free(rn);
	return e;
nomem:
	if (rn) {
		free(rn->peers);
		free(rn->dir);
		free(rn);
	}
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int ms_raft_start(struct ms_raft *rn, char *err, size_t errlen)
{
	struct raft_configuration conf;
	int rv = 0;

	raft_configuration_init(&conf);
	for (size_t i = 0; !rv && i < rn->n_peers; i++)
		rv = raft_configuration_add(&conf, rn->peers[i].id, rn->peers[i].address,
					    RAFT_VOTER);
	if (!rv) {
		rv = raft_bootstrap(&rn->raft, &conf);
		if (rv == RAFT_CANTBOOTSTRAP) /* the data dir has a cluster already */
			rv = 0;
	}
	raft_configuration_close(&conf);
	if (rv) {
		snprintf(err, errlen, "raft bootstrap: %s", raft_errmsg(&rn->raft));
		return -EIO;
	}
	rv = raft_start(&rn->raft);
	if (rv) {
		snprintf(err, errlen, "raft start: %s", raft_errmsg(&rn->raft));
		return -EIO;
	}
	rn->started = true;
	uv_timer_start(&rn->poll, on_poll, 0, POLL_MS);
	return 0;
}

void ms_raft_set_forwarder(struct ms_raft *rn, ms_raft_forward_fn fn, void *ctx)
{
	rn->forward_fn = fn;
	rn->forward_ctx = ctx;
}

void ms_raft_on_leader(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->leader_fn = fn;
	rn->leader_arg = arg;
}

void ms_raft_on_restore(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->restore_fn = fn;
	rn->restore_arg = arg;
}

bool ms_raft_is_leader(const struct ms_raft *rn)
{
	return !rn || raft_state((struct raft *)&rn->raft) == RAFT_LEADER;
}

uint64_t ms_raft_node_id(const struct ms_raft *rn)
{
	return rn->opts.node_id;
}

uint64_t ms_raft_leader_id(const struct ms_raft *rn)
{
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader((struct raft *)&rn->raft, &id, &addr);
	return id;
}

uint64_t ms_raft_term(const struct ms_raft *rn)
{
	return rn->raft.current_term;
}

uint64_t ms_raft_applied_index(const struct ms_raft *rn)
{
	return raft_last_applied((struct raft *)&rn->raft);
}

uint64_t ms_raft_commit_index(const struct ms_raft *rn)
{
	return rn->raft.commit_index;
}

const struct ms_raft_peer *ms_raft_peers(const struct ms_raft *rn, size_t *n)
{
	*n = rn->n_peers;
	return rn->peers;
}

static void on_raft_closed(struct raft *r)
{
	struct ms_raft *rn = r->data;

	raft_uv_close(&rn->io);
	raft_uv_tcp_close(&rn->transport);
	rn->closed = true;
}

void ms_raft_stop(struct ms_raft *rn)
{
	if (!rn || rn->stopping)
		return;
	rn->stopping = true;
	ms_raft_fail_reads(rn, MS_ERR_STOPPED);
	uv_timer_stop(&rn->poll);
	uv_close((uv_handle_t *)&rn->poll, NULL);
	rn->raft.data = rn;
	raft_close(&rn->raft, on_raft_closed);
}

void ms_raft_free(struct ms_raft *rn)
{
	if (!rn)
		return;
	free(rn->peers);
	free(rn->dir);
	free(rn);
}
