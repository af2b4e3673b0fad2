/* Raft node: libraft on libuv, the store's state machine (apply, snapshot, restore). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/codec.h"
#include "probe/trace.h"
#include "raft/raftnode_priv.h"
#include "raft/transport.h"

#define POLL_MS 20

/* Open log segments of 64 MiB, as etcd's WAL files, not libraft's 8: every segment libraft
 * closes ends its writer's AIO context, and io_destroy() holds the loop for an RCU grace
 * period (30 ms measured here), a stall of every call in flight once per segment. */
#define MS_RAFT_SEGMENT_SIZE (64u << 20)
#define RN_SNAP_MAGIC 0x31504e53524d4dULL /* "MMRSNP1": member addresses, then the state */
#define RN_SNAP_MAGIC2 0x32504e53524d4dULL /* "MMRSNP2": the member table, then the state */

static struct ms_raft_peer *peer_find(struct ms_raft *rn, uint64_t id)
{
	return ms_members_find(&rn->members, id);
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

/* MS_RAFT_KIND_MEMBER_ATTR: a member's client address, as etcd publishes member attributes. */
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

/* A store entry: apply/ computes the result on every member; the member that proposed it
 * hands the result to whoever waits for it. */
static void apply_store(struct ms_raft *rn, struct ms_proposal *prop, const uint8_t *body,
			size_t len)
{
	struct ms_apply_res res = { 0 };

	if (rn->apply_fn)
		rn->apply_fn(rn->apply_arg, body, len, &res);
	else
		ms_apply_res_fail(&res, MS_GRPC_INTERNAL, NULL);
	if (prop && prop->done) {
		ms_raft_done_fn done = prop->done;

		prop->done = NULL;
		done(prop->done_arg, 0, &res);
	}
	ms_apply_res_release(&res);
}

/*
 * When this member learned that the entry being applied is committed, for the commit record
 * of an entry it proposed (`proposed_ns`, 0: none; then 0, as while the batch probe is not
 * attached). libraft applies every entry up to the commit index as soon as it moves, so the
 * first apply under a commit index reads the clock and the entries after it share the
 * time: a clock read amid the apply's work costs as much as a cache miss, and their commit
 * was one event. A time older than the entry's propose (the index was learned before the
 * entry was proposed here: libraft applies it later, behind a snapshot) is read again.
 */
uint64_t ms_raft_commit_time(struct ms_raft *rn, uint64_t proposed_ns)
{
	uint64_t ci = rn->raft->commit_index;

	if (!proposed_ns || !MS_TRACE_ON())
		return 0;
	if (ci != rn->commit_seen_index || rn->commit_seen_ns < proposed_ns) {
		rn->commit_seen_index = ci;
		rn->commit_seen_ns = ms_trace_now();
	}
	return rn->commit_seen_ns;
}

/* Applies one committed entry, in log order, on every member (libraft callback). */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct ms_raft *rn = fsm->data;
	const uint8_t *p = buf->base;
	uint64_t index = raft_last_applied(rn->raft) + 1;
	struct ms_proposal *prop = NULL;
	uint64_t proposed_ns;
	bool ours = buf->len >= MS_RAFT_ENTRY_HDR &&
		    (uint32_t)ms_le64_read(p) == MS_RAFT_ENTRY_MAGIC;
	size_t pad, body_len;
	unsigned kind;

	*result = NULL;
	/* An entry this member proposed in this life: the sequence number names it and the
	 * index proves it (an entry of an earlier life of this member, applied late, may carry
	 * a sequence number in use again; answering a call with its result would acknowledge a
	 * write with another write's revision). */
	if (ours && ms_le64_read(p + 8) == rn->opts.node_id)
		prop = ms_raft_pending_find(rn, ms_le64_read(p + 16));
	if (prop && prop->req.index != index)
		prop = NULL;
	proposed_ns = prop ? prop->proposed_ns : 0;
	ms_trace_raft_commit(rn->opts.node_id, index, proposed_ns,
			     ms_raft_commit_time(rn, proposed_ns));
	if (!ours && buf->len >= MS_RAFT_ENTRY_HDR &&
	    (uint32_t)ms_le64_read(p) == MS_RAFT_ENTRY_MAGIC_V1) {
		/* skipping it would serve less than was acknowledged: stop instead */
		if (rn->fatal_fn)
			rn->fatal_fn(rn->fatal_arg, "raft log entry %llu has the first entry format "
				     "(raw gRPC requests), which this version cannot apply; "
				     "refusing to go on", (unsigned long long)index);
		return RAFT_CORRUPT;
	}
	if (!ours)
		goto done; /* not an entry of this store's: nothing to apply */
	kind = (unsigned)((ms_le64_read(p) >> 32) & 0xffff);
	pad = (size_t)(ms_le64_read(p) >> 48);
	if (pad > buf->len - MS_RAFT_ENTRY_HDR)
		goto done;
	body_len = buf->len - MS_RAFT_ENTRY_HDR - pad;
	if (prop) {
		prop->applied = true;
		rn->io_error = 0; /* this member's log took an entry again */
	}
	rn->applying = index;
	if (kind == MS_RAFT_KIND_MEMBER_ATTR)
		apply_member_attr(rn, p + MS_RAFT_ENTRY_HDR, body_len);
	else if (kind == MS_RAFT_KIND_MEMBERSHIP)
		ms_raft_members_apply(rn, prop, p + MS_RAFT_ENTRY_HDR, body_len);
	else if (kind == MS_RAFT_KIND_STORE)
		apply_store(rn, prop, p + MS_RAFT_ENTRY_HDR, body_len);
done:
	ms_trace_raft_apply(rn->opts.node_id, index);
	rn->reported_applied = index;
	/* the waits end from the loop: this is a libraft callback */
	if (rn->waits.head && ms_raft_waits_min(&rn->waits) <= index)
		ms_raft_kick(rn);
	return 0;
}

static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs);
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				 unsigned *n_bufs);

/* A state ops error as libraft's code: -EBUSY is a transient refusal, retried later. */
static int snap_rv(int err)
{
	return err == -EBUSY ? RAFT_BUSY : err == -ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
}

/*
 * On the loop, at the applied index libraft snapshots: the member table (a member restored
 * from this snapshot never saw the entries that added, removed or published the members),
 * then the state, serialized by a forked child (snap_fork.c) while the loop goes on serving:
 * a state of N bytes no longer stops every call for the time it takes to copy them out
 * (about 100 ms at 25 MB here). Where fork fails, the state is serialized here as before.
 */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct ms_raft *rn = fsm->data;
	struct ms_buf b = { 0 };
	int err = ms_put_u64(&b, RN_SNAP_MAGIC2);

	if (!err)
		err = ms_members_encode(&rn->members, &b);
	rn->snap_state_at = b.len;
	if (!err && (!rn->fsm.snapshot_async ||
		     ms_snap_fork_start(&rn->snap_fork, rn->st.snapshot, rn->st.arg) != 0))
		err = rn->st.snapshot(rn->st.arg, &b);
	*bufs = err ? NULL : calloc(1, sizeof(**bufs));
	if (!*bufs) {
		ms_snap_fork_cancel(&rn->snap_fork);
		ms_buf_free(&b);
		return err ? snap_rv(err) : RAFT_NOMEM;
	}
	rn->snap_buf = b;
	(*bufs)[0] = (struct raft_buffer){ .base = b.data, .len = b.len };
	*n_bufs = 1;
	if (rn->fsm.snapshot_async)
		return 0;
	/* an io with no async work (a test fixture's): the rest here, on the loop; libraft
	 * finalizes no snapshot whose `snapshot` failed, so a failure frees here */
	err = fsm_snapshot_async(fsm, bufs, n_bufs);
	if (err)
		fsm_snapshot_finalize(fsm, bufs, n_bufs);
	return err;
}

/* On a worker thread while the loop runs (on the loop for a fixture's io): the child's state
 * appended, and compressed where libraft does not compress. Touches only the snapshot's own
 * fields of rn. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct ms_raft *rn = fsm->data;
	struct ms_buf *b = &rn->snap_buf;
	size_t at = rn->snap_state_at;
	int err = 0;

	if (rn->snap_fork.pid)
		err = ms_snap_fork_collect(&rn->snap_fork, b);
	if (!err && !rn->lib_compress && rn->st.compress) {
		struct ms_buf z = { 0 };

		err = rn->st.compress(b->data + at, b->len - at, &z);
		b->len = at;
		if (!err)
			err = ms_buf_append(b, z.data, z.len);
		ms_buf_free(&z);
	}
	(*bufs)[0] = (struct raft_buffer){ .base = b->data, .len = b->len };
	*n_bufs = 1;
	return err ? snap_rv(err) : 0;
}

/* On the loop, after the snapshot was written or given up (a child not collected is
 * killed). */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				 unsigned *n_bufs)
{
	struct ms_raft *rn = fsm->data;

	ms_snap_fork_cancel(&rn->snap_fork);
	free(*bufs);
	ms_buf_free(&rn->snap_buf);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct ms_raft *rn = fsm->data;
	struct ms_reader r = { .p = buf->base, .left = buf->len };
	uint64_t n, magic = ms_get_u64(&r);
	int err;

	if (magic == RN_SNAP_MAGIC2) {
		if (ms_members_decode(&rn->members, &r))
			return RAFT_CORRUPT;
	} else if (magic == RN_SNAP_MAGIC) {
		/* the first format: the configured members' client addresses only */
		n = ms_get_u64(&r);
		for (uint64_t i = 0; i < n && !r.bad; i++)
			read_member_client(rn, &r);
	} else {
		return RAFT_CORRUPT;
	}
	if (r.bad)
		return RAFT_CORRUPT;
	ms_raft_members_changed(rn);
	err = rn->st.restore(rn->st.arg, r.p, r.left);
	if (err)
		return err == -ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
	raft_free(buf->base); /* ours on success */
	if (rn->restore_fn)
		rn->restore_fn(rn->restore_arg);
	return 0;
}

/* A member tells every member its name and where clients reach it (forwarding, member
 * list), as etcd publishes member attributes: the leader proposes it, a follower asks the
 * leader to (MemberUpdate-like, through ms_raft_member_change). */
static void publish_client_addr(struct ms_raft *rn)
{
	struct ms_buf b = { 0 };
	struct ms_raft_peer *self = peer_find(rn, rn->opts.node_id);
	struct ms_member_change c = { .op = MS_MEMBER_PUBLISH, .id = rn->opts.node_id };

	if (!self || !rn->client_addr[0] || rn->removed_self ||
	    (strcmp(self->client, rn->client_addr) == 0 &&
	     (!rn->name[0] || strcmp(self->name, rn->name) == 0)))
		return; /* nothing to tell, or known to all already */
	/* a lone member tells no one: its table is its own */
	if (rn->members.n == 1 && raft_state(rn->raft) == RAFT_LEADER) {
		snprintf(self->client, sizeof(self->client), "%s", rn->client_addr);
		snprintf(self->name, sizeof(self->name), "%s", rn->name);
		return;
	}
	/* until it applies: a proposal lost to a leader change is made again, once a second */
	if (rn->published_ms && uv_now(rn->loop) - rn->published_ms < 1000)
		return;
	/* without a --name (a test's node) the table's name stays */
	snprintf(c.name, sizeof(c.name), "%s", rn->name[0] ? rn->name : self->name);
	snprintf(c.client, sizeof(c.client), "%s", rn->client_addr);
	if (raft_state(rn->raft) == RAFT_LEADER) {
		rn->published_ms = uv_now(rn->loop);
		if (!ms_member_change_encode(&c, &b))
			ms_raft_propose_kind(rn, MS_RAFT_KIND_MEMBERSHIP, b.data, b.len, NULL, NULL);
	} else if (ms_raft_publish_via_leader(rn, &c)) {
		/* only a send starts the wait: one not sent (the leader's address is not applied
		 * here yet) is tried at the next poll, so a member is known to all as soon as it
		 * can reach the leader, not up to a second later */
		rn->published_ms = uv_now(rn->loop);
	}
	ms_buf_free(&b);
}

static void on_kick(uv_idle_t *h)
{
	struct ms_raft *rn = h->data;

	uv_idle_stop(h);
	rn->kicked = false;
	if (!rn->stopping)
		ms_raft_run_deferred(rn);
}

void ms_raft_kick(struct ms_raft *rn)
{
	if (rn->kicked || rn->stopping)
		return;
	rn->kicked = true;
	uv_idle_start(&rn->kick, on_kick);
}

/* The name of member `id` for log lines ("?" if it is not one). */
static const char *peer_name(struct ms_raft *rn, uint64_t id)
{
	struct ms_raft_peer *m = peer_find(rn, id);

	return m ? m->name : "?";
}

/* One line per change of the leader this member knows, and one when it has had none for an
 * election timeout (a lost quorum, or a partition), as an operator wants them. */
static void log_leadership(struct ms_raft *rn)
{
	uint64_t id = ms_raft_leader_id(rn), now = uv_now(rn->loop);

	if (!rn->log_fn)
		return;
	if (id && id != rn->logged_leader) {
		rn->log_fn(rn->log_arg, "raft: leader is %s (%016llx) at term %llu%s",
			   peer_name(rn, id), (unsigned long long)id,
			   (unsigned long long)rn->raft->current_term,
			   id == rn->opts.node_id ? " (this member)" : "");
		rn->logged_leader = id;
		rn->had_leader = true;
		rn->no_leader_since = 0;
		rn->logged_no_leader = false;
	} else if (!id) {
		if (!rn->no_leader_since)
			rn->no_leader_since = now;
		/* at start an election or two is normal: three timeouts before it is news */
		if (!rn->logged_no_leader &&
		    now - rn->no_leader_since >= rn->opts.election_ms * (rn->had_leader ? 1 : 3)) {
			rn->log_fn(rn->log_arg, "raft: no leader for %llu ms at term %llu: no quorum "
				   "reachable from this member", (unsigned long long)(now - rn->no_leader_since),
				   (unsigned long long)rn->raft->current_term);
			rn->logged_no_leader = true;
			rn->logged_leader = 0;
		}
	}
}

/* Leadership changes have no libraft callback: the node looks every POLL_MS. */
static void on_lead_barrier(struct raft_barrier *req, int status)
{
	struct ms_raft *rn = req->data;

	(void)status; /* the next poll looks at the applied index again */
	rn->lead_barrier_busy = false;
}

/* Whether this leader has applied every entry its log held when it was elected (a barrier
 * of its own term commits them): until then its state (leases, members) lags behind what
 * was acknowledged, so it does not serve as the leader yet. Called while it leads. */
static bool caught_up(struct ms_raft *rn)
{
	if (rn->was_leader)
		return true;
	if (!rn->lead_index)
		rn->lead_index = raft_last_index(rn->raft);
	if (raft_last_applied(rn->raft) >= rn->lead_index)
		return true;
	rn->lead_barrier.data = rn;
	if (!rn->lead_barrier_busy &&
	    raft_barrier(rn->raft, &rn->lead_barrier, on_lead_barrier) == 0)
		rn->lead_barrier_busy = true;
	return false;
}

void ms_raft_poll(struct ms_raft *rn)
{
	bool in_lead = raft_state(rn->raft) == RAFT_LEADER;
	bool leader = in_lead && caught_up(rn);
	uint64_t applied = raft_last_applied(rn->raft);

	if (rn->members.n > 1)
		log_leadership(rn);
	ms_probe_raft_status(rn->opts.node_id, ms_raft_term(rn), ms_raft_leader_id(rn),
			     &ms_probe_limits_info);
	if (leader && !rn->was_leader) {
		rn->published_ms = 0;
		if (rn->leader_fn)
			rn->leader_fn(rn->leader_arg);
	}
	publish_client_addr(rn);
	/* a removed member stops serving once another member leads */
	if (rn->removed_self && !in_lead && !rn->removed_told && rn->removed_fn) {
		rn->removed_told = true;
		rn->removed_fn(rn->removed_arg);
	}
	if (!leader && rn->was_leader)
		ms_raft_fail_reads(rn, MS_ERR_LEADER_CHANGED);
	rn->was_leader = leader;
	if (!in_lead)
		rn->lead_index = 0;
	ms_raft_members_reconcile(rn);
	/* barriers, configuration entries and snapshot installs apply without fsm_apply */
	if (applied != rn->reported_applied) {
		rn->reported_applied = applied;
		ms_trace_raft_apply(rn->opts.node_id, applied);
	}
	/* also the timeouts of waits this member does not catch up with */
	ms_raft_waits_run(&rn->waits, applied, uv_now(rn->loop));
	ms_raft_ready_poll(rn, leader);
	ms_raft_leader_waits_run(rn);
}

static void on_poll(uv_timer_t *t)
{
	ms_raft_poll(t->data);
}

/* The raft node without its libraft instance: option copies, the state machine, the loop's
 * handles. *self gets this member's peer address. */
static int glue_new(uv_loop_t *loop, const struct ms_raft_opts *o,
		    const struct ms_raft_state_ops *st, struct ms_raft **out, const char **self,
		    char *err, size_t errlen)
{
	struct ms_raft *rn;

	*out = NULL;
	*self = NULL;
	rn = calloc(1, sizeof(*rn));
	if (rn)
		rn->dir = strdup(o->dir ? o->dir : "");
	if (!rn || !rn->dir) {
		ms_raft_free(rn);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rn->loop = loop;
	rn->opts = *o;
	rn->st = *st;
	if (o->members)
		rn->members = *o->members;
	else
		ms_members_init(&rn->members, o->peers, o->n_peers);
	if (!ms_members_find(&rn->members, o->node_id)) {
		snprintf(err, errlen, ms_members_was_removed(&rn->members, o->node_id) ?
			 "the member has been permanently removed from the cluster" :
			 "this member is not in the initial cluster");
		ms_raft_free(rn);
		return -EINVAL;
	}
	*self = ms_members_find(&rn->members, o->node_id)->address;
	rn->opts.peers = NULL;
	rn->opts.n_peers = 0;
	rn->opts.members = NULL;
	rn->opts.name = NULL;
	snprintf(rn->name, sizeof(rn->name), "%s", o->name ? o->name : "");
	rn->opts.dir = rn->dir;
	rn->opts.client_addr = NULL;
	if (o->client_addr)
		snprintf(rn->client_addr, sizeof(rn->client_addr), "%s", o->client_addr);
	rn->fsm = (struct raft_fsm){ .version = 2, .data = rn, .apply = fsm_apply,
				     .snapshot = fsm_snapshot, .restore = fsm_restore,
				     .snapshot_finalize = fsm_snapshot_finalize };
	/* sequence numbers start at random, so each life of this member uses others */
	if (getrandom(&rn->seq, sizeof(rn->seq), 0) != (ssize_t)sizeof(rn->seq))
		rn->seq = uv_hrtime();
	rn->seq &= ~(1ULL << 63); /* room to count up */
	uv_timer_init(loop, &rn->poll);
	rn->poll.data = rn;
	uv_idle_init(loop, &rn->kick);
	rn->kick.data = rn;
	*out = rn;
	return 0;
}

/* Closes the loop handles of a node that never started (their close runs on the loop). */
static void glue_close(struct ms_raft *rn)
{
	uv_close((uv_handle_t *)&rn->poll, NULL);
	uv_close((uv_handle_t *)&rn->kick, NULL);
	rn->stopping = rn->closed = true;
}

int ms_raft_new(uv_loop_t *loop, const struct ms_raft_opts *o, const struct ms_raft_state_ops *st,
		struct ms_raft **out, char *err, size_t errlen)
{
	struct ms_peer_opts po = { 0 };
	struct ms_raft *rn;
	const char *self;
	int rv, e = glue_new(loop, o, st, &rn, &self, err, errlen);

	if (e)
		return e;
	rn->raft = &rn->raft_storage;
	/* this process's forwarding key: peers learn it from its handshakes (fwd_proof.h) */
	e = ms_fwd_keys_new(&rn->fwd_keys);
	if (e) {
		snprintf(err, errlen, "%s", e == -EIO ? "no randomness for the forwarding key" :
							"out of memory");
		goto fail_glue;
	}
	if (o->peer)
		po = *o->peer;
	po.fwd_keys = rn->fwd_keys;
	e = ms_peer_transport_init(&rn->transport, loop, rn->members.v, rn->members.n, o->node_id,
				   &po, err, errlen);
	if (e)
		goto fail_glue;
	ms_raft_members_changed(rn);
	rv = raft_uv_init(&rn->io.io, loop, rn->dir, &rn->transport);
	if (rv) {
		snprintf(err, errlen, "raft storage in %s: %s", rn->dir, rn->io.io.errmsg);
		e = -EIO;
		goto fail_transport;
	}
	/* a damaged file stops the start instead of being renamed corrupt-* and skipped
	 * (integrity.c names it before libraft runs) */
	ms_io_once_wrap(&rn->io);
	/* libraft 0.15's raft_uv does async work but says version 1, and raft_init takes an
	 * async snapshot only from an io of version 2: the io says what it has */
	if (rn->io.io.async_work) {
		if (rn->io.io.version < 2)
			rn->io.io.version = 2;
		rn->fsm.version = 3;
		rn->fsm.snapshot_async = fsm_snapshot_async;
	}
	raft_uv_set_auto_recovery(&rn->io.io, false);
	raft_uv_set_segment_size(&rn->io.io, MS_RAFT_SEGMENT_SIZE);
	/* libraft compresses snapshots (LZ4) on a worker thread while it writes them. Without
	 * LZ4 the state ops compress (zlib) in fsm_snapshot_async, on a worker thread too. */
	rn->lib_compress = raft_uv_set_snapshot_compression(&rn->io.io, true) == 0;
	rv = raft_init(rn->raft, &rn->io.io, &rn->fsm, o->node_id, self);
	if (rv) {
		snprintf(err, errlen, "raft: %s", raft_strerror(rv));
		e = -EIO;
		goto fail_io;
	}
	raft_set_election_timeout(rn->raft, o->election_ms);
	raft_set_heartbeat_timeout(rn->raft, o->heartbeat_ms);
	raft_set_snapshot_threshold(rn->raft, o->snapshot_threshold);
	raft_set_snapshot_trailing(rn->raft, o->snapshot_trailing);
	raft_set_pre_vote(rn->raft, true);
	/* libraft waits 30 s for a snapshot install it sent to a member that went away (killed,
	 * restarted) before it sends another: a restarted member would lag that long */
	raft_set_install_snapshot_timeout(rn->raft, 10000);
	rn->storage_live = true;
	*out = rn;
	return 0;
fail_io:
	raft_uv_close(&rn->io.io);
fail_transport:
	ms_peer_transport_free(&rn->transport);
fail_glue:
	/* the handles close on the loop: the caller runs it once more, then frees */
	glue_close(rn);
	*out = rn;
	return e;
}

int ms_raft_new_attached(uv_loop_t *loop, const struct ms_raft_opts *o,
			 const struct ms_raft_state_ops *st,
			 struct raft *(*attach)(void *arg, struct raft_fsm *fsm), void *arg,
			 struct ms_raft **out, char *err, size_t errlen)
{
	struct ms_raft *rn;
	const char *self;
	int e = glue_new(loop, o, st, &rn, &self, err, errlen);

	if (e)
		return e;
	rn->raft = attach(arg, &rn->fsm);
	if (!rn->raft) {
		snprintf(err, errlen, "raft: no instance to attach to");
		glue_close(rn);
		*out = rn;
		return -EIO;
	}
	rn->attached = true;
	*out = rn;
	return 0;
}

int ms_raft_start(struct ms_raft *rn, char *err, size_t errlen)
{
	struct raft_configuration conf;
	int rv = 0;

	if (rn->attached) {
		/* the instance's owner bootstraps and starts it */
		rn->started = true;
		uv_timer_start(&rn->poll, on_poll, 0, POLL_MS);
		return 0;
	}
	raft_configuration_init(&conf);
	for (size_t i = 0; !rv && i < rn->members.n; i++)
		rv = raft_configuration_add(&conf, rn->members.v[i].id, rn->members.v[i].address,
					    rn->members.v[i].learner ? RAFT_STANDBY : RAFT_VOTER);
	/* a joining member starts empty: the leader sends it the log (configuration included) */
	if (!rv && !rn->opts.join) {
		rv = raft_bootstrap(rn->raft, &conf);
		if (rv == RAFT_CANTBOOTSTRAP) /* the data dir has a cluster already */
			rv = 0;
	}
	raft_configuration_close(&conf);
	if (rv) {
		snprintf(err, errlen, "raft bootstrap: %s", raft_errmsg(rn->raft));
		return -EIO;
	}
	rv = raft_start(rn->raft);
	if (rv) {
		/* libraft keeps a failed listen's reason in the transport only */
		snprintf(err, errlen, "raft start: %s", *raft_errmsg(rn->raft) ?
			 raft_errmsg(rn->raft) : rn->transport.errmsg);
		return -EIO;
	}
	rn->started = true;
	uv_timer_start(&rn->poll, on_poll, 0, POLL_MS);
	return 0;
}

void ms_raft_on_log(struct ms_raft *rn, ms_raft_fatal_fn fn, void *arg)
{
	rn->log_fn = fn;
	rn->log_arg = arg;
}

void ms_raft_report_io(struct ms_raft *rn, int status)
{
	uint64_t now = uv_now(rn->loop);

	/* libraft's own text says what failed (raft_strerror knows no "no space") */
	snprintf(rn->io_msg, sizeof(rn->io_msg), "%s",
		 status == RAFT_NOSPACE && !*raft_errmsg(rn->raft) ? "no space left on device" :
		 *raft_errmsg(rn->raft) ? raft_errmsg(rn->raft) : raft_strerror(status));
	/* once per kind of failure, and again every 10 s while it lasts */
	if (rn->log_fn && (status != rn->io_error || now - rn->io_logged_ms >= 10000)) {
		rn->log_fn(rn->log_arg, "raft: writing the log failed: %s", rn->io_msg);
		rn->io_logged_ms = now;
	}
	rn->io_error = status;
}

const char *ms_raft_io_error(const struct ms_raft *rn)
{
	return rn && rn->io_error ? rn->io_msg : NULL;
}

void ms_raft_on_fatal(struct ms_raft *rn, ms_raft_fatal_fn fn, void *arg)
{
	rn->fatal_fn = fn;
	rn->fatal_arg = arg;
}

void ms_raft_set_apply(struct ms_raft *rn, ms_raft_apply_fn fn, void *arg)
{
	rn->apply_fn = fn;
	rn->apply_arg = arg;
}

void ms_raft_set_forwarder(struct ms_raft *rn, ms_raft_forward_fn fn, void *ctx)
{
	rn->forward_fn = fn;
	rn->forward_ctx = ctx;
}

void ms_raft_set_unary_forwarder(struct ms_raft *rn, ms_raft_unary_fn fn, void *ctx)
{
	rn->unary_fn = fn;
	rn->unary_ctx = ctx;
}

void ms_raft_on_leader(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->leader_fn = fn;
	rn->leader_arg = arg;
}

void ms_raft_on_ready(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->ready_fn = fn;
	rn->ready_arg = arg;
}

void ms_raft_on_restore(struct ms_raft *rn, void (*fn)(void *arg), void *arg)
{
	rn->restore_fn = fn;
	rn->restore_arg = arg;
}

bool ms_raft_is_leader(const struct ms_raft *rn)
{
	/* not before the on-leader hooks ran: until then the lease deadlines are a
	 * follower's, and expiring or renewing by them loses kept-alive leases */
	return !rn || (rn->was_leader && raft_state(rn->raft) == RAFT_LEADER);
}

uint64_t ms_raft_node_id(const struct ms_raft *rn)
{
	return rn->opts.node_id;
}

uint64_t ms_raft_leader_id(const struct ms_raft *rn)
{
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader(rn->raft, &id, &addr);
	return id;
}

uint64_t ms_raft_term(const struct ms_raft *rn)
{
	return rn->raft->current_term;
}

uint64_t ms_raft_applied_index(const struct ms_raft *rn)
{
	uint64_t applied = raft_last_applied(rn->raft);

	/* libraft counts an entry applied only once fsm_apply returned */
	return rn->applying > applied ? rn->applying : applied;
}

uint64_t ms_raft_commit_index(const struct ms_raft *rn)
{
	return rn->raft->commit_index;
}

uint64_t ms_raft_request_timeout_ms(const struct ms_raft *rn)
{
	return 5000 + 2 * (uint64_t)rn->opts.election_ms;
}

const struct ms_raft_peer *ms_raft_peers(const struct ms_raft *rn, size_t *n)
{
	*n = rn->members.n;
	return rn->members.v;
}

static void on_raft_closed(struct raft *r)
{
	struct ms_raft *rn = r->data;

	/* the io and the transport stay: libraft may still look at them (io_once.h) */
	rn->closed = true;
}

void ms_raft_stop(struct ms_raft *rn)
{
	if (!rn || rn->stopping)
		return;
	rn->stopping = true;
	ms_raft_fail_reads(rn, MS_ERR_STOPPED);
	ms_raft_leader_waits_fail(rn, MS_ERR_STOPPED);
	ms_raft_waits_cancel(&rn->waits, -ECANCELED);
	uv_timer_stop(&rn->poll);
	uv_close((uv_handle_t *)&rn->poll, NULL);
	uv_idle_stop(&rn->kick);
	uv_close((uv_handle_t *)&rn->kick, NULL);
	if (rn->attached) {
		rn->closed = true; /* the instance is its owner's to close */
		return;
	}
	rn->raft->data = rn;
	raft_close(rn->raft, on_raft_closed);
}

void ms_raft_free(struct ms_raft *rn)
{
	if (!rn)
		return;
	if (rn->storage_live) {
		raft_uv_close(&rn->io.io);
		ms_peer_transport_free(&rn->transport);
	}
	ms_fwd_keys_free(rn->fwd_keys);
	free(rn->dir);
	free(rn);
}
