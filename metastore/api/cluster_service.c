/* etcdserverpb.Cluster: the member list, and membership changes proposed on the leader. */
#include "api/cluster_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/reply.h"
#include "maintenance.pb-c.h"
#include "raft/member_change.h"
#include "raft_entry.pb-c.h"

struct cluster_service {
	struct kv_service *kv;
	char *name;
	char *client_url;
	bool peer_https; /* peer URLs are https:// */
	bool strict;     /* --strict-reconfig-check */
};

/* A membership change waiting for its entry to apply here. */
struct change_wait {
	struct cluster_service *cs;
	struct grpc_call *call; /* referenced until done */
	struct ms_member_change change;
};

int cluster_service_new(struct kv_service *kv, const char *name, const char *client_url,
			bool peer_https, bool strict, struct cluster_service **out)
{
	struct cluster_service *cs = calloc(1, sizeof(*cs));

	*out = NULL;
	if (!cs)
		return -ENOMEM;
	cs->kv = kv;
	cs->peer_https = peer_https;
	cs->strict = strict;
	cs->name = strdup(name);
	cs->client_url = strdup(client_url);
	if (!cs->name || !cs->client_url) {
		cluster_service_free(cs);
		return -ENOMEM;
	}
	*out = cs;
	return 0;
}

void cluster_service_free(struct cluster_service *cs)
{
	if (!cs)
		return;
	free(cs->name);
	free(cs->client_url);
	free(cs);
}

/* A one-URL list "http://ADDR" in the arena; false when out of memory. */
static bool url_list(struct kv_pb_arena *a, const char *addr, bool https, char ***urls,
		     size_t *n)
{
	size_t len = strlen(addr) + sizeof("https://");
	char **list = kv_pb_alloc(a, sizeof(*list) + len);

	if (!list)
		return false;
	list[0] = (char *)(list + 1);
	/* an address published with its scheme (https://) keeps it */
	snprintf(list[0], len, "%s%s", strstr(addr, "://") ? "" : https ? "https://" : "http://",
		 addr);
	*urls = list;
	*n = 1;
	return true;
}

/* One member as etcd lists it, in the arena; NULL when out of memory. */
static Etcdserverpb__Member *member_pb(struct kv_pb_arena *a, struct cluster_service *cs,
				       const struct ms_raft_peer *p)
{
	Etcdserverpb__Member *m = kv_pb_alloc(a, sizeof(*m));
	size_t alen = strlen(p->address);
	/* a lone member's ephemeral port (":0") is no address anyone can reach; without raft
	 * there is no address at all */
	bool reachable = alen >= 2 && strcmp(p->address + alen - 2, ":0") != 0;

	if (!m)
		return NULL;
	etcdserverpb__member__init(m);
	m->id = p->id;
	m->name = (char *)p->name;
	m->islearner = p->learner;
	if (reachable && !url_list(a, p->address, cs->peer_https, &m->peerurls, &m->n_peerurls))
		return NULL;
	/* this member's own client URL always; the others' once they published them */
	if (p->id == cs->kv->member_id) {
		m->name = cs->name;
		m->clienturls = &cs->client_url;
		m->n_clienturls = 1;
	} else if (p->client[0] && !url_list(a, p->client, false, &m->clienturls,
					     &m->n_clienturls)) {
		return NULL;
	}
	return m;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(Etcdserverpb__Member *const *)a)->id;
	uint64_t y = (*(Etcdserverpb__Member *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* Every member in the arena, by id as etcd lists them; false when out of memory. */
static bool members_pb(struct kv_pb_arena *a, struct cluster_service *cs,
		       Etcdserverpb__Member ***out, size_t *n)
{
	struct ms_raft_peer self = { .id = cs->kv->member_id };
	const struct ms_raft_peer *peers = &self;
	Etcdserverpb__Member **v;

	*n = 1;
	if (cs->kv->raft)
		peers = ms_raft_peers(cs->kv->raft, n);
	v = kv_pb_alloc(a, (*n ? *n : 1) * sizeof(*v));
	if (!v)
		return false;
	for (size_t i = 0; i < *n; i++)
		if (!(v[i] = member_pb(a, cs, &peers[i])))
			return false;
	qsort(v, *n, sizeof(*v), by_id);
	*out = v;
	return true;
}

static void member_list(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct cluster_service *cs = ctx;
	Etcdserverpb__MemberListResponse resp = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	(void)msg;
	(void)len;
	if (!members_pb(&a, cs, &resp.members, &resp.n_members)) {
		grpc_call_fault(call, "out of memory listing members");
	} else {
		resp.header = api_header(&a, cs->kv, ms_mvcc_rev(cs->kv->mvcc));
		api_reply(call, &a, &resp.base);
	}
	kv_pb_arena_free(&a);
}

/* The answer to an applied change: the member list after it (and the new member). */
static void reply_change(struct change_wait *w)
{
	struct cluster_service *cs = w->cs;
	struct kv_pb_arena a = { 0 };
	Etcdserverpb__ResponseHeader *h = api_header(&a, cs->kv, ms_mvcc_rev(cs->kv->mvcc));
	Etcdserverpb__MemberAddResponse add = ETCDSERVERPB__MEMBER_ADD_RESPONSE__INIT;
	Etcdserverpb__MemberRemoveResponse rm = ETCDSERVERPB__MEMBER_REMOVE_RESPONSE__INIT;
	Etcdserverpb__MemberUpdateResponse up = ETCDSERVERPB__MEMBER_UPDATE_RESPONSE__INIT;
	Etcdserverpb__MemberPromoteResponse pr = ETCDSERVERPB__MEMBER_PROMOTE_RESPONSE__INIT;
	ProtobufCMessage *m = &up.base;
	bool ok;

	switch (w->change.op) {
	case MS_MEMBER_ADD: {
		struct ms_raft_peer p = { .id = w->change.id, .learner = w->change.learner };

		snprintf(p.address, sizeof(p.address), "%s", w->change.address);
		ok = members_pb(&a, cs, &add.members, &add.n_members) &&
		     (add.member = member_pb(&a, cs, &p));
		add.header = h;
		m = &add.base;
		break;
	}
	case MS_MEMBER_REMOVE:
		ok = members_pb(&a, cs, &rm.members, &rm.n_members);
		rm.header = h;
		m = &rm.base;
		break;
	case MS_MEMBER_PROMOTE:
		ok = members_pb(&a, cs, &pr.members, &pr.n_members);
		pr.header = h;
		m = &pr.base;
		break;
	default: /* update, publish */
		ok = members_pb(&a, cs, &up.members, &up.n_members);
		up.header = h;
	}
	if (ok && h)
		api_reply(w->call, &a, m);
	else
		grpc_call_fault(w->call, "out of memory listing members");
	kv_pb_arena_free(&a);
}

static void on_change_done(void *arg, int status, const struct ms_apply_res *res)
{
	struct change_wait *w = arg;

	if (status == -ENOSPC || status == -EIO)
		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE, MS_ERR_LOG_WRITE);
	else if (status)
		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE,
				 status == -ESHUTDOWN ? MS_ERR_STOPPED : MS_ERR_LEADER_CHANGED);
	else if (res->code)
		grpc_call_finish(w->call, res->code, res->msg);
	else
		reply_change(w);
	grpc_call_unref(w->call);
	free(w);
}

/* Proposes change c for call on the leader; a follower forwards the call (msg, len). */
static void propose_change(struct cluster_service *cs, struct grpc_call *call,
			   const struct ms_member_change *c, bool strict, const uint8_t *msg,
			   size_t len)
{
	struct change_wait *w;
	const char *why;
	uint32_t code;
	int e;

	if (!cs->kv->raft) {
		grpc_call_finish(call, MS_GRPC_UNAVAILABLE, MS_ERR_STOPPED);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		grpc_call_fault(call, "out of memory for a membership change");
		return;
	}
	*w = (struct change_wait){ .cs = cs, .call = call, .change = *c };
	e = ms_raft_member_change(cs->kv->raft, &w->change, strict, on_change_done, w, &why, &code);
	if (e == -EALREADY) { /* a publish applied already */
		reply_change(w);
		free(w);
		return;
	}
	if (e) {
		free(w);
		if (e == -EPERM && msg)
			ms_raft_not_leader(cs->kv->raft, call, msg, len);
		else if (e == -EPERM)
			grpc_call_finish(call, MS_GRPC_UNAVAILABLE, MS_ERR_NOT_LEADER);
		else
			grpc_call_finish(call, code, why);
		return;
	}
	grpc_call_ref(call);
}

/* The one peer URL of a request into c->address (etcd takes several; a member here has one,
 * of the cluster's scheme). */
static bool peer_url(const struct cluster_service *cs, char **urls, size_t n,
		     struct ms_member_change *c)
{
	bool https;

	return n == 1 && !ms_members_parse_url(urls[0], strlen(urls[0]), c->address,
					       sizeof(c->address), &https) &&
	       https == cs->peer_https;
}

static void member_add(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct cluster_service *cs = ctx;
	Etcdserverpb__MemberAddRequest *req =
		etcdserverpb__member_add_request__unpack(NULL, len, msg);
	struct ms_member_change c = { .op = MS_MEMBER_ADD };

	if (!req) {
		api_bad_request(call);
		return;
	}
	c.learner = req->islearner;
	if (!peer_url(cs, req->peerurls, req->n_peerurls, &c))
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, MS_ERR_MEMBER_BAD_URLS);
	else
		propose_change(cs, call, &c, cs->strict, msg, len);
	etcdserverpb__member_add_request__free_unpacked(req, NULL);
}

/* A change that names a member only: MemberRemove and MemberPromote (their requests are
 * the same on the wire: ID = 1). */
static void id_change(struct grpc_call *call, const uint8_t *msg, size_t len,
		      struct cluster_service *cs, unsigned op)
{
	Etcdserverpb__MemberRemoveRequest *req =
		etcdserverpb__member_remove_request__unpack(NULL, len, msg);
	struct ms_member_change c = { .op = op };

	if (!req) {
		api_bad_request(call);
		return;
	}
	c.id = req->id;
	etcdserverpb__member_remove_request__free_unpacked(req, NULL);
	propose_change(cs, call, &c, cs->strict, msg, len);
}

static void member_remove(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	id_change(call, msg, len, ctx, MS_MEMBER_REMOVE);
}

static void member_promote(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	id_change(call, msg, len, ctx, MS_MEMBER_PROMOTE);
}

static void member_update(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct cluster_service *cs = ctx;
	Etcdserverpb__MemberUpdateRequest *req =
		etcdserverpb__member_update_request__unpack(NULL, len, msg);
	struct ms_member_change c = { .op = MS_MEMBER_UPDATE };

	if (!req) {
		api_bad_request(call);
		return;
	}
	c.id = req->id;
	if (!peer_url(cs, req->peerurls, req->n_peerurls, &c))
		grpc_call_finish(call, MS_GRPC_INVALID_ARGUMENT, MS_ERR_MEMBER_BAD_URLS);
	else
		propose_change(cs, call, &c, false, msg, len);
	etcdserverpb__member_update_request__free_unpacked(req, NULL);
}

/* A follower's name and client URL, published by the leader (never forwarded on). */
static void member_publish(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct cluster_service *cs = ctx;
	Metastore__MemberPublish *req = metastore__member_publish__unpack(NULL, len, msg);
	struct ms_member_change c = { .op = MS_MEMBER_PUBLISH };

	if (!req || strlen(req->name) >= sizeof(c.name) ||
	    strlen(req->client_url) >= sizeof(c.client)) {
		if (req)
			metastore__member_publish__free_unpacked(req, NULL);
		api_bad_request(call);
		return;
	}
	c.id = req->id;
	snprintf(c.name, sizeof(c.name), "%s", req->name);
	snprintf(c.client, sizeof(c.client), "%s", req->client_url);
	metastore__member_publish__free_unpacked(req, NULL);
	propose_change(cs, call, &c, false, NULL, 0);
}

static void on_published(void *arg, const struct ms_forward_reply *reply)
{
	(void)arg;
	(void)reply; /* not applied: the member publishes again a second later */
}

/* A follower's publish, sent to the leader as MemberPublish. */
static void publish(void *ctx, const struct ms_member_change *c)
{
	struct cluster_service *cs = ctx;
	Metastore__MemberPublish m = METASTORE__MEMBER_PUBLISH__INIT;
	uint8_t buf[256];

	m.id = c->id;
	m.name = (char *)c->name;
	m.client_url = (char *)c->client;
	if (metastore__member_publish__get_packed_size(&m) > sizeof(buf))
		return;
	ms_raft_call_leader(cs->kv->raft, GRPC_METHOD_MEMBER_PUBLISH, NULL, buf,
			    metastore__member_publish__pack(&m, buf), on_published, NULL);
}

void cluster_service_register(struct cluster_service *cs, struct ms_server *srv)
{
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_LIST, member_list, cs);
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_ADD, member_add, cs);
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_REMOVE, member_remove, cs);
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_UPDATE, member_update, cs);
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_PROMOTE, member_promote, cs);
	ms_server_handle(srv, GRPC_METHOD_MEMBER_PUBLISH, member_publish, cs);
	if (cs->kv->raft)
		ms_raft_set_publisher(cs->kv->raft, publish, cs);
}
