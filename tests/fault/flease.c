/* Fault suite: leases kept alive over a keep-alive stream, and abandoned ones that must expire. */
#include "flease.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fcluster.h"
#include "rpc.pb-c.h"

#define PATH_GRANT "/etcdserverpb.Lease/LeaseGrant"
#define PATH_KEEPALIVE "/etcdserverpb.Lease/LeaseKeepAlive"
#define PATH_TTL "/etcdserverpb.Lease/LeaseTimeToLive"
#define PATH_RANGE "/etcdserverpb.KV/Range"
#define MS (1000000ULL)
#define RENEW_NS (1000 * MS)     /* renew every second, TTL 5 s */
#define SWITCH_NS (1500 * MS)    /* no renewal answer for this long: try the next member */
#define GRANT_EVERY_NS (2000 * MS)

static int grant(struct fwork_client *c, int64_t *id)
{
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *resp;
	int err;

	req.ttl = FAULT_LEASE_TTL;
	err = fwork_call(c, PATH_GRANT, &req.base, &etcdserverpb__lease_grant_response__descriptor,
			 (ProtobufCMessage **)&resp);
	if (err)
		return err;
	*id = resp->id;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return *id ? 0 : -EBADMSG;
}

/* Puts key with a lease; records the put (transient: its lease deletes it) when acked. */
static int put_leased(struct fwork_client *c, const char *key, int64_t value, int64_t lease,
		      bool transient)
{
	struct fault_put p = { .value_id = value, .transient = transient };
	int err = fwork_put(c, key, value, lease, &p.rev);

	snprintf(p.key, sizeof(p.key), "%s", key);
	if (!err)
		fault_push(c->r, &c->r->puts, &p);
	return err;
}

static void on_msg(void *conn_user, void *call_user, const uint8_t *msg, size_t len)
{
	struct flease *l = conn_user;
	Etcdserverpb__LeaseKeepAliveResponse *resp =
		etcdserverpb__lease_keep_alive_response__unpack(NULL, len, msg);
	uint64_t now = fault_now();

	(void)call_user;
	if (!resp)
		return;
	if (resp->header)
		fault_term(l->r, resp->header->raft_term);
	for (int i = 0; i < FLEASE_KEPT; i++) {
		if (resp->id != l->kept[i])
			continue;
		if (resp->ttl <= 0 && !l->lost[i]) {
			l->lost[i] = true;
			fault_anomaly(l->r, "kept lease %" PRIx64 " (key %s) lost: keep-alive on %s "
				      "answered TTL %" PRId64 ", last renewal %.1f s before, longest "
				      "renewal gap %.1f s (TTL %d s)",
				      l->kept[i], l->kept_key[i], l->r->cl->m[l->keeper_member].name,
				      resp->ttl, (double)(now - l->last_renew[i]) / 1e9,
				      (double)l->max_gap / 1e9, FAULT_LEASE_TTL);
		} else if (resp->ttl > 0) {
			if (now - l->last_renew[i] > l->max_gap)
				l->max_gap = now - l->last_renew[i];
			l->last_renew[i] = now;
			l->renewals++;
			atomic_fetch_add(&l->r->ops, 1);
		}
	}
	etcdserverpb__lease_keep_alive_response__free_unpacked(resp, NULL);
}

static void on_done(void *conn_user, void *call_user, int grpc_status, const uint8_t *body,
		    size_t len)
{
	struct flease *l = conn_user;

	(void)call_user;
	(void)grpc_status;
	(void)body;
	(void)len;
	l->ended = true;
}

static size_t pack_keepalive(int64_t id, uint8_t *buf)
{
	Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;

	req.id = id;
	return etcdserverpb__lease_keep_alive_request__pack(&req, buf);
}

/* One keep-alive stream on l->keeper_member until it ends or stops answering in time. */
static void keep_session(struct flease *l)
{
	struct fcl_member *m = &l->r->cl->m[l->keeper_member];
	uint64_t start = fault_now(), next = start;
	bool first = true; /* kept[0] went with the stream's opening message */
	struct frpc_conn c;
	uint8_t buf[32];
	int32_t sid;

	frpc_init(&c, m->host, m->cport);
	l->ended = false;
	if (frpc_connect(&c, 1000, on_done, l) ||
	    h2c_stream_open(c.h2, PATH_KEEPALIVE, buf, pack_keepalive(l->kept[0], buf), true,
			    on_msg, NULL, &sid))
		goto cleanup;
	while (!l->ended && !atomic_load(&l->r->stop_streams)) {
		uint64_t now = fault_now();
		bool late = false;

		if (now >= next) {
			for (int i = first ? 1 : 0; i < FLEASE_KEPT; i++)
				if (h2c_stream_send(c.h2, sid, buf, pack_keepalive(l->kept[i], buf)))
					goto cleanup;
			first = false;
			next = now + RENEW_NS;
		}
		for (int i = 0; i < FLEASE_KEPT; i++)
			late |= !l->lost[i] && now - l->last_renew[i] > SWITCH_NS &&
				now - start > SWITCH_NS;
		if (late || h2c_poll(c.h2, 100))
			break;
	}
cleanup:
	frpc_close(&c);
}

static void *keeper_main(void *arg)
{
	struct flease *l = arg;

	while (!atomic_load(&l->r->stop_streams)) {
		keep_session(l);
		l->keeper_member = (l->keeper_member + 1) % FAULT_MEMBERS;
		if (!atomic_load(&l->r->stop_streams))
			poll(NULL, 0, 50); /* pacing between streams */
	}
	return NULL;
}

/* Checks abandoned lease g once: gone, or still there past its bound (an anomaly). The
 * bound counts from the grant or the last leader change, whichever is later, as known once
 * the read is answered: a member that answers after an outage may be a leader just elected,
 * which restarted every lease's clock, and its answer carries the new term. */
static void check_gone(struct flease *l, struct flease_gone *g)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *resp;
	uint64_t now = fault_now(), changed, anchor, deadline;
	int err;

	if (now < g->granted + FAULT_LEASE_TTL * 1000 * MS)
		return;
	req.key.data = (uint8_t *)g->key;
	req.key.len = strlen(g->key);
	err = fwork_call(&l->ac, PATH_RANGE, &req.base, &etcdserverpb__range_response__descriptor,
			 (ProtobufCMessage **)&resp);
	if (!err && resp->header)
		fault_term(l->r, resp->header->raft_term);
	changed = atomic_load(&l->r->last_leader_change);
	anchor = changed > g->granted ? changed : g->granted;
	deadline = anchor + FAULT_LEASE_BOUND_MS * MS;
	if (err) {
		if (now > deadline + 30000 * MS) {
			fault_anomaly(l->r, "abandoned lease %" PRIx64 " (key %s): no member answered "
				      "a read for 30 s past its bound", g->id, g->key);
			g->resolved = true;
		}
		return;
	}
	if (!resp->n_kvs)
		g->resolved = true;
	else if (now > deadline) {
		fault_anomaly(l->r, "abandoned lease %" PRIx64 " (key %s, TTL %d s): key still there "
			      "%.1f s after its grant ack; bound %.1f s after the grant or the last "
			      "leader change (%.1f s after the grant)",
			      g->id, g->key, FAULT_LEASE_TTL, (double)(now - g->granted) / 1e9,
			      FAULT_LEASE_BOUND_MS / 1e3, (double)((int64_t)(anchor - g->granted)) / 1e9);
		g->resolved = true;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void *abandoner_main(void *arg)
{
	struct flease *l = arg;
	uint64_t next_grant = fault_now();
	size_t open;

	do {
		if (!atomic_load(&l->r->stop_work) && fault_now() >= next_grant &&
		    l->n_gone < FLEASE_GONE_MAX) {
			struct flease_gone *g = &l->gone[l->n_gone];

			if (grant(&l->ac, &g->id) == 0) {
				g->granted = fault_now();
				snprintf(g->key, sizeof(g->key), FAULT_PREFIX "l/gone/%zu", l->n_gone);
				put_leased(&l->ac, g->key, 1000 + (int64_t)l->n_gone, g->id, true);
				l->n_gone++;
			}
			next_grant = fault_now() + GRANT_EVERY_NS;
		}
		open = 0;
		for (size_t i = 0; i < l->n_gone; i++) {
			if (!l->gone[i].resolved)
				check_gone(l, &l->gone[i]);
			open += !l->gone[i].resolved;
		}
		poll(NULL, 0, 250); /* pacing of the checks */
	} while (!atomic_load(&l->r->stop_work) || open);
	frpc_close(&l->ac.conn);
	return NULL;
}

int flease_start(struct flease *l, struct fault_run *r, int timeout_ms)
{
	uint64_t deadline = fault_now() + (uint64_t)timeout_ms * MS;
	int err = 0;

	memset(l, 0, sizeof(*l));
	l->r = r;
	fwork_client_init(&l->kc, r, 21);
	fwork_client_init(&l->ac, r, 22);
	for (int i = 0; i < FLEASE_KEPT; i++) {
		snprintf(l->kept_key[i], sizeof(l->kept_key[i]), FAULT_PREFIX "l/keep/%d", i);
		while ((err = grant(&l->kc, &l->kept[i])) && fault_now() < deadline)
			;
		while (!err && (err = put_leased(&l->kc, l->kept_key[i], 100 + i, l->kept[i],
						 false)) && fault_now() < deadline)
			;
		if (err)
			goto cleanup;
		l->last_renew[i] = fault_now();
		fault_log(r, "kept lease %" PRIx64 " with key %s", l->kept[i], l->kept_key[i]);
	}
	err = -pthread_create(&l->keeper, NULL, keeper_main, l);
	if (!err)
		err = -pthread_create(&l->abandoner, NULL, abandoner_main, l);
cleanup:
	return err;
}

void flease_join_abandoner(struct flease *l)
{
	pthread_join(l->abandoner, NULL);
}

void flease_join_keeper(struct flease *l)
{
	pthread_join(l->keeper, NULL);
}

/* One call to member i, retried for up to 10 s; counted as one op. */
static int member_call(struct fault_run *r, int i, const char *path, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	atomic_fetch_add(&r->ops, 1);
	return frpc_call_to(r->cl->m[i].host, r->cl->m[i].cport, path, req, desc, 2000, 10000,
			    out);
}

int flease_check_kept(struct flease *l)
{
	int bad = 0;

	fault_log(l->r, "kept leases: %" PRIu64 " renewals, longest gap %.1f s", l->renewals,
		  (double)l->max_gap / 1e9);
	for (int m = 0; m < FAULT_MEMBERS; m++) {
		const char *name = l->r->cl->m[m].name;

		for (int i = 0; i < FLEASE_KEPT; i++) {
			Etcdserverpb__LeaseTimeToLiveRequest tq =
				ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
			Etcdserverpb__LeaseTimeToLiveResponse *tr;
			Etcdserverpb__RangeRequest rq = ETCDSERVERPB__RANGE_REQUEST__INIT;
			Etcdserverpb__RangeResponse *rr;
			int err;

			tq.id = l->kept[i];
			err = member_call(l->r, m, PATH_TTL, &tq.base,
					  &etcdserverpb__lease_time_to_live_response__descriptor,
					  (ProtobufCMessage **)&tr);
			if (err || tr->ttl <= 0) {
				fault_anomaly(l->r, "kept lease %" PRIx64 ": TimeToLive on %s: %s %" PRId64
					      " (expected > 0)", l->kept[i], name,
					      err ? "error" : "TTL", err ? (int64_t)err : tr->ttl);
				bad++;
			}
			if (!err)
				protobuf_c_message_free_unpacked(&tr->base, NULL);
			rq.key.data = (uint8_t *)l->kept_key[i];
			rq.key.len = strlen(l->kept_key[i]);
			rq.serializable = true;
			err = member_call(l->r, m, PATH_RANGE, &rq.base,
					  &etcdserverpb__range_response__descriptor,
					  (ProtobufCMessage **)&rr);
			if (err || rr->n_kvs != 1 || rr->kvs[0]->lease != l->kept[i]) {
				fault_anomaly(l->r, "kept lease %" PRIx64 ": key %s on %s: %s (expected "
					      "the key with that lease)", l->kept[i], l->kept_key[i],
					      name, err ? "read failed" : rr->n_kvs ? "other lease"
										: "missing");
				bad++;
			}
			if (!err)
				protobuf_c_message_free_unpacked(&rr->base, NULL);
		}
	}
	return bad;
}
