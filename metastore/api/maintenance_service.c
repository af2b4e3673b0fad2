/* etcdserverpb.Maintenance: Status, Hash, HashKV, Alarm, Defragment. */
#include "api/maintenance_service.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "api/propose.h"
#include "api/reply.h"
#include "maintenance.pb-c.h"

/* The etcd API version this store speaks (etcdctl shows it as the member's version). */
#define MS_ETCD_API_VERSION "3.4.0"

struct maintenance_service {
	struct kv_service *kv;
	void (*log)(const char *fmt, ...);
};

int maintenance_service_new(struct kv_service *kv, struct maintenance_service **out)
{
	struct maintenance_service *ms = calloc(1, sizeof(*ms));

	*out = ms;
	if (!ms)
		return -ENOMEM;
	ms->kv = kv;
	return 0;
}

void maintenance_service_free(struct maintenance_service *ms)
{
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

/* The alarms raised and this member's own NOSPACE (a full disk, see kv_service), in order,
 * into *view. */
static void alarm_view(const struct kv_service *kv, struct ms_alarms *view)
{
	if (kv->alarms)
		*view = *kv->alarms;
	else
		view->n = 0;
	if (kv->disk_nospace)
		ms_alarms_activate(view, kv->member_id, MS_ALARM_NOSPACE);
}

/* Status lists each alarm as etcd prints an AlarmMember: "memberID:N alarm:TYPE ", and a
 * failing raft log of this member ("etcdserver: raft log write failed: REASON"). */
static bool status_errors(struct kv_pb_arena *a, const struct ms_alarms *al, const char *io,
			  char ***out, size_t *n)
{
	size_t na = al ? al->n : 0;

	*out = NULL;
	*n = 0;
	if (!na && !io)
		return true;
	*out = kv_pb_alloc(a, (na + 1) * sizeof(**out));
	if (*out && io) {
		char *s = kv_pb_alloc(a, 128);

		if (!s)
			return false;
		snprintf(s, 128, "%s: %s", MS_ERR_LOG_WRITE, io);
		(*out)[(*n)++] = s;
	}
	for (size_t i = 0; *out && i < na; i++) {
		char *s = kv_pb_alloc(a, 64);

		if (!s)
			return false;
		snprintf(s, 64, "memberID:%llu alarm:%s ", (unsigned long long)al->v[i].member_id,
			 ms_alarm_type_name(al->v[i].type));
		(*out)[(*n)++] = s;
	}
	return *out != NULL;
}

/* Whether this member is a learner of its cluster. */
static bool maint_is_learner(const struct kv_service *kv)
{
	size_t n;
	const struct ms_raft_peer *p = ms_raft_peers(kv->raft, &n);

	for (size_t i = 0; i < n; i++)
		if (p[i].id == kv->member_id)
			return p[i].learner;
	return false;
}

static void maint_status(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__StatusResponse resp = ETCDSERVERPB__STATUS_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	struct ms_alarms view;

	(void)msg;
	(void)len;
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	resp.version = (char *)MS_ETCD_API_VERSION;
	resp.dbsize = resp.dbsizeinuse = (int64_t)ms_mvcc_size(ms->kv->mvcc);
	alarm_view(ms->kv, &view);
	if (!status_errors(&a, &view, ms_raft_io_error(ms->kv->raft), &resp.errors,
			   &resp.n_errors)) {
		grpc_call_fault(call, "out of memory listing alarms");
		kv_pb_arena_free(&a);
		return;
	}
	if (ms->kv->raft) {
		resp.leader = ms_raft_leader_id(ms->kv->raft);
		resp.raftterm = ms_raft_term(ms->kv->raft);
		resp.raftindex = ms_raft_commit_index(ms->kv->raft);
		resp.raftappliedindex = ms_raft_applied_index(ms->kv->raft);
		resp.islearner = maint_is_learner(ms->kv);
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

/* The alarms raised, as an AlarmMember list in the arena (none: NULL, 0). */
static bool alarm_list(struct kv_pb_arena *a, const struct ms_alarms *al,
		       Etcdserverpb__AlarmMember ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!al || !al->n)
		return true;
	*out = kv_pb_alloc(a, al->n * sizeof(**out));
	for (size_t i = 0; *out && i < al->n; i++) {
		Etcdserverpb__AlarmMember *m = kv_pb_alloc(a, sizeof(*m));

		if (!m)
			return false;
		etcdserverpb__alarm_member__init(m);
		m->memberid = al->v[i].member_id;
		m->alarm = (Etcdserverpb__AlarmType)al->v[i].type;
		(*out)[(*n)++] = m;
	}
	return *out != NULL;
}

/* GET lists every alarm raised (replicated state: the same on every member); ACTIVATE and
 * DEACTIVATE go through the log like any write. */
static void maint_alarm(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__AlarmRequest *req = etcdserverpb__alarm_request__unpack(NULL, len, msg);
	Etcdserverpb__AlarmResponse resp = ETCDSERVERPB__ALARM_RESPONSE__INIT;
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	struct kv_pb_arena a = { 0 };
	struct ms_alarms view;

	if (!req) {
		api_bad_request(call);
		return;
	}
	alarm_view(ms->kv, &view);
	if (req->action == ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE &&
	    req->memberid == ms->kv->member_id && req->alarm == ETCDSERVERPB__ALARM_TYPE__NOSPACE)
		ms->kv->disk_nospace = false; /* the operator made room: writes may try again */
	if (req->action != ETCDSERVERPB__ALARM_REQUEST__ALARM_ACTION__GET) {
		e.op_case = METASTORE__ENTRY__OP_ALARM;
		e.alarm = req;
		api_propose(ms->kv, call, &e, msg, len);
	} else if (alarm_list(&a, &view, &resp.alarms, &resp.n_alarms)) {
		resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
		api_reply(call, &a, &resp.base);
	} else {
		grpc_call_fault(call, "out of memory listing alarms");
	}
	kv_pb_arena_free(&a);
	etcdserverpb__alarm_request__free_unpacked(req, NULL);
}

/* Resident set size in KiB (0 if /proc cannot say). */
static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What defragmenting means for an in-memory store: compaction already freed the history;
 * the allocator gives its free pages back to the system. Before and after are logged. */
static void maint_defragment(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct maintenance_service *ms = ctx;
	Etcdserverpb__DefragmentResponse resp = ETCDSERVERPB__DEFRAGMENT_RESPONSE__INIT;
	struct kv_pb_arena a = { 0 };
	long before = rss_kib(), after;

	(void)msg;
	(void)len;
	malloc_trim(0);
	after = rss_kib();
	if (ms->log)
		ms->log("defragment: resident memory %ld KiB -> %ld KiB, store size %zu bytes",
			before, after, ms_mvcc_size(ms->kv->mvcc));
	resp.header = api_header(&a, ms->kv, ms_mvcc_rev(ms->kv->mvcc));
	api_reply(call, &a, &resp.base);
	kv_pb_arena_free(&a);
}

void maintenance_service_set_log(struct maintenance_service *ms,
				 void (*log)(const char *fmt, ...))
{
	ms->log = log;
}

void maintenance_service_register(struct maintenance_service *ms, struct ms_server *srv)
{
	ms_server_handle(srv, MS_METHOD_MAINT_DEFRAGMENT, maint_defragment, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_STATUS, maint_status, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_HASH, maint_hash, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_HASH_KV, maint_hash_kv, ms);
	ms_server_handle(srv, MS_METHOD_MAINT_ALARM, maint_alarm, ms);
}
