/* Writes from the edge: a validated, authorized request becomes a raft entry, answered at apply. */
#include "api/propose.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/reply.h"
#include "raft/raftnode.h"

/* A call waiting for its entry to apply on this member. */
struct waiter {
	struct kv_service *svc;
	struct grpc_call *call; /* referenced until done */
};

struct ms_applier *api_applier(struct kv_service *svc, struct ms_applier *tmp)
{
	if (svc->applier)
		return svc->applier;
	*tmp = (struct ms_applier){ .mvcc = svc->mvcc, .leases = svc->leases, .auth = svc->auth,
				    .alarms = svc->alarms,
				    .changed = svc->changed,
				    .changed_arg = svc->changed_arg };
	return tmp;
}

/* A call that cannot be proposed here: forwarded to the leader with its request, or (none
 * to forward) refused. */
static void not_here(struct kv_service *svc, struct grpc_call *call, const uint8_t *msg,
		     size_t len)
{
	if (msg)
		ms_raft_not_leader(svc->raft, call, msg, len);
	else
		grpc_call_finish(call, MS_GRPC_UNAVAILABLE, MS_ERR_LEADER_CHANGED);
}

static void on_done(void *arg, int status, const struct ms_apply_res *res)
{
	struct waiter *w = arg;

	if (status == -ENOSPC) {
		/* etcd's answer to a full disk: NOSPACE, until an operator disarms it */
		w->svc->disk_nospace = true;
		grpc_call_finish(w->call, MS_GRPC_RESOURCE_EXHAUSTED, ERR_NO_SPACE);
	} else if (status == -EIO) {
		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE, MS_ERR_LOG_WRITE);
	} else if (status) {
		grpc_call_finish(w->call, MS_GRPC_UNAVAILABLE,
				 status == -ESHUTDOWN ? MS_ERR_STOPPED : MS_ERR_LEADER_CHANGED);
	} else {
		api_reply_result(w->call, w->svc, res);
	}
	grpc_call_unref(w->call);
	free(w);
}

/* Packs e into a malloc'ed buffer; NULL on allocation failure. */
static uint8_t *pack(const Metastore__Entry *e, size_t *len)
{
	uint8_t *buf;

	*len = metastore__entry__get_packed_size(e);
	buf = malloc(*len ? *len : 1);
	if (buf)
		metastore__entry__pack(e, buf);
	return buf;
}

void api_propose(struct kv_service *svc, struct grpc_call *call, Metastore__Entry *e,
		 const uint8_t *msg, size_t len)
{
	Metastore__EntryHeader h = METASTORE__ENTRY_HEADER__INIT;
	struct ms_apply_res res = { 0 };
	struct ms_applier tmp;
	struct waiter *w;
	uint8_t *buf;
	size_t n;
	int err;

	h.format = MS_ENTRY_FORMAT;
	h.username = call->auth_user ? call->auth_user : "";
	h.auth_revision = call->auth_rev;
	e->header = &h;
	if (!svc->raft) {
		ms_apply_decoded(api_applier(svc, &tmp), e, &res);
		api_reply_result(call, svc, &res);
		ms_apply_res_release(&res);
		return;
	}
	if (!ms_raft_is_leader(svc->raft)) {
		not_here(svc, call, msg, len);
		return;
	}
	buf = pack(e, &n);
	w = malloc(sizeof(*w));
	if (!buf || !w) {
		free(buf);
		free(w);
		grpc_call_fault(call, "out of memory proposing a write");
		return;
	}
	*w = (struct waiter){ .svc = svc, .call = call };
	grpc_call_ref(call);
	err = ms_raft_propose(svc->raft, buf, n, on_done, w);
	free(buf);
	if (err) {
		grpc_call_unref(call);
		free(w);
		if (err == -EPERM)
			not_here(svc, call, msg, len);
		else
			grpc_call_fault(call, "out of memory proposing a write");
	}
}

int api_propose_internal(struct kv_service *svc, Metastore__Entry *e)
{
	Metastore__EntryHeader h = METASTORE__ENTRY_HEADER__INIT;
	struct ms_apply_res res = { 0 };
	struct ms_applier tmp;
	uint8_t *buf;
	size_t n;
	int err;

	h.format = MS_ENTRY_FORMAT;
	e->header = &h;
	if (!svc->raft) {
		ms_apply_decoded(api_applier(svc, &tmp), e, &res);
		ms_apply_res_release(&res);
		return 0;
	}
	buf = pack(e, &n);
	if (!buf)
		return -ENOMEM;
	err = ms_raft_propose(svc->raft, buf, n, NULL, NULL);
	free(buf);
	return err;
}
