/* etcdserverpb.Maintenance (Status, Hash, HashKV, Alarm) and Cluster (MemberList) services. */
#include "api/maintenance_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/reply.h"
#include "maintenance.pb-c.h"

/* The etcd API version this store speaks (etcdctl shows it as the member's version). */
#define MS_ETCD_API_VERSION "3.4.0"

struct maintenance_service {
	struct kv_service *kv;
	char *name;
	char *client_url;
};

int maintenance_service_new(struct kv_service *kv, const char *name, const char *client_url,
			    struct maintenance_service **out)
{
	struct maintenance_service *ms = calloc(1, sizeof(*ms));

	*out = NULL;
	if (!ms)
		return -ENOMEM;
	ms->kv = kv;
	ms->name = strdup(name);
	ms->client_url = strdup(client_url);
	if (!ms->name || !ms->client_url) {
		maintenance_service_free(ms);
		return -ENOMEM;
	}
	*out = ms;
	return 0;
}

void maintenance_service_free(struct maintenance_service *ms)
{
	if (!ms)
		return;
	free(ms->name);
	free(ms->client_url);
	free(ms);
}

static uLong crc_i64(uLong crc, int64_t v)
{
	uint8_t b[8];

	/* Little-endian bytes, so the digest is the same on every host. */
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (8 * i));
	return crc32(crc, b, sizeof(b));
}

int maintenance_hash_kv(struct ms_mvcc *mvcc, int64_t rev, uint32_t *hash)
{
	static const uint8_t all[1] = { 0 };
	struct ms_range_req q = { .key = all, .key_len = 1, .end = all, .end_len = 1, .rev = rev };
	struct ms_range_res res = { 0 };
	uLong crc = crc32(0L, Z_NULL, 0);
	int err = ms_mvcc_range(mvcc, &q, &res);

	if (err)
		return err;
	for (size_t i = 0; i < res.n; i++) {
		const struct ms_kv *kv = &res.kvs[i];

		crc = crc_i64(crc, (int64_t)kv->key_len);
		crc = crc32(crc, kv->key, (uInt)kv->key_len);
		crc = crc_i64(crc, (int64_t)kv->value_len);
		if (kv->value_len)
			crc = crc32(crc, kv->value, (uInt)kv->value_len);
		crc = crc_i64(crc, kv->create_rev);
		crc = crc_i64(crc, kv->mod_rev);
		crc = crc_i64(crc, kv->version);
		crc = crc_i64(crc, kv->lease);
	}
	ms_range_res_release(&res);
	*hash = (uint32_t)crc;
	return 0;
}

static void maint_status(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__StatusResponse resp = ETCDSERVERPB__STATUS_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	(void)msg;
	(void)len;
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	resp.version = (char *)MS_ETCD_API_VERSION;
	if (ms->kv->raft) {
		resp.leader = ms_raft_leader_id(ms->kv->raft);
		resp.raftterm = ms_raft_term(ms->kv->raft);
		resp.raftindex = ms_raft_commit_index(ms->kv->raft);
		resp.raftappliedindex = ms_raft_applied_index(ms->kv->raft);
	} else {
		/* without raft a single member is its own leader, with no log */
		resp.leader = ms->kv->member_id;
		resp.raftterm = ms->kv->raft_term;
	}
	api_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
}

static void maint_hash_kv(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__HashKVRequest *req = etcdserverpb__hash_kvrequest__unpack(NULL, len, msg);
	Etcdserverpb__HashKVResponse resp = ETCDSERVERPB__HASH_KVRESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	int err;

	if (!req) {
		api_bad_request(call);
		return;
	}
	err = maintenance_hash_kv(ms->kv->mvcc, req->revision, &resp.hash);
	if (err) {
		api_fail(call, kv_pb_mvcc_err(err));
	} else {
		resp.compact_revision = ms_mvcc_compact_rev(ms->kv->mvcc);
		resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
		api_reply(call, &a, &resp.base);
	}
	kv_pb_arena_free(&a);
	etcdserverpb__hash_kvrequest__free_unpacked(req, NULL);
}

static void maint_hash(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__HashResponse resp = ETCDSERVERPB__HASH_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	(void)msg;
	(void)len;
	if (maintenance_hash_kv(ms->kv->mvcc, 0, &resp.hash)) {
		grpc_call_fault(call, "cannot read the store");
		return;
	}
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	api_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
}

/* No alarm is ever raised yet: GET lists none; ACTIVATE/DEACTIVATE change nothing. */
static void maint_alarm(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__AlarmRequest *req = etcdserverpb__alarm_request__unpack(NULL, len, msg);
	Etcdserverpb__AlarmResponse resp = ETCDSERVERPB__ALARM_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };

	if (!req) {
		api_bad_request(call);
		return;
	}
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	api_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
	etcdserverpb__alarm_request__free_unpacked(req, NULL);
}

/* A one-URL list "http://ADDR" in the arena; false when out of memory. */
static bool url_list(struct kv_pb_arena *a, const char *addr, char ***urls, size_t *n)
{
	size_t len = strlen(addr) + sizeof("http://");
	char **list = kv_pb_alloc(a, sizeof(*list) + len);

	if (!list)
		return false;
	list[0] = (char *)(list + 1);
	snprintf(list[0], len, "http://%s", addr);
	*urls = list;
	*n = 1;
	return true;
}

static void member_list(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__MemberListResponse resp = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
	Etcdserverpb__Member self = ETCDSERVERPB__MEMBER__INIT, *one[1] = { &self };
	Etcdserverpb__Member **members = one;
	struct kv_pb_arena a = { 0 };
	const struct ms_raft_peer *peers = NULL;
	size_t n = 1;

	(void)msg;
	(void)len;
	self.id = ms->kv->member_id;
	self.name = ms->name;
	if (ms->kv->raft)
		peers = ms_raft_peers(ms->kv->raft, &n);
	if (peers) {
		members = kv_pb_alloc(&a, n * sizeof(*members));
		if (!members)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			Etcdserverpb__Member *m = kv_pb_alloc(&a, sizeof(*m));
			size_t alen = strlen(peers[i].address);
			/* a lone member's ephemeral port (":0") is no address anyone can reach */
			bool reachable = alen < 2 || strcmp(peers[i].address + alen - 2, ":0") != 0;

			if (!m)
				goto nomem;
			etcdserverpb__member__init(m);
			m->id = peers[i].id;
			m->name = (char *)peers[i].name;
			if (reachable && !url_list(&a, peers[i].address, &m->peerurls, &m->n_peerurls))
				goto nomem;
			/* client URLs: this member's own, others' once published (when they led) */
			if (peers[i].id == ms->kv->member_id) {
				m->clienturls = &ms->client_url;
				m->n_clienturls = 1;
			} else if (peers[i].client[0] &&
				   !url_list(&a, peers[i].client, &m->clienturls, &m->n_clienturls)) {
				goto nomem;
			}
			members[i] = m;
		}
	} else {
		self.clienturls = &ms->client_url;
		self.n_clienturls = 1;
	}
	resp.members = members;
	resp.n_members = n;
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	api_reply(call, &a, &resp.base);
	goto cleanup;
nomem:
	grpc_call_fault(call, "out of memory listing members");
cleanup:
	kv_pb_arena_free(&a);
}

void maintenance_service_register(struct maintenance_service *ms, struct ms_server *srv)
{
	ms_server_handle(srv, MS_METHOD_MAINT_STATUS, maint_status, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_HASH, maint_hash, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_HASH_KV, maint_hash_kv, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_ALARM, maint_alarm, ms);
	ms_server_handle(srv, MS_METHOD_CLUSTER_MEMBER_LIST, member_list, ms);
}
