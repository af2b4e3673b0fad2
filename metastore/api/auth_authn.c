/* Authenticate: the bcrypt password check on the libuv thread pool, then a token for every member. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/auth_password.h"
#include "auth_rpc.pb-c.h"
#include "api/auth_service.h"
#include "api/propose.h"
#include "probe/trace.h"

/* One Authenticate in progress: everything the worker reads is a private copy. */
struct authn_job {
	uv_work_t work;
	struct grpc_call *call; /* referenced until the job ends */
	struct auth_service *svc;
	char *name, *password, *hash;
	int verified; /* worker's result: 1 match, 0 mismatch, -ENOMEM */
};

static void job_free(struct authn_job *j)
{
	if (j->password)
		explicit_bzero(j->password, strlen(j->password));
	free(j->name);
	free(j->password);
	free(j->hash);
	free(j);
}

/* Fires the probe once, whatever the outcome, and ends the call; a checked password gets a
 * token that every member learns through the log before the call is answered. */
static void authn_end(struct grpc_call *call, struct auth_service *svc, int err,
		      const char *name, const char *token)
{
	Metastore__Entry e = METASTORE__ENTRY__INIT;
	Metastore__SimpleToken t = METASTORE__SIMPLE_TOKEN__INIT;

	ms_trace_auth_authenticate(err ? MS_AUTH_AUTHN_FAILURE : MS_AUTH_AUTHN_SUCCESS);
	if (err == -ECANCELED) {
		grpc_call_finish(call, MS_GRPC_CANCELLED, "authentication canceled: server stopping");
		return;
	}
	if (err == -ENOMEM || err == -EIO) {
		grpc_call_fault(call, err == -EIO ? "no randomness for a token" : "out of memory");
		return;
	}
	if (err) {
		api_fail(call, auth_service_err(err));
		return;
	}
	t.username = (char *)name;
	t.token = (char *)token;
	e.op_case = METASTORE__ENTRY__OP_AUTHENTICATE;
	e.authenticate = &t;
	/* no request to forward: a follower forwarded it before the password check */
	api_propose(svc->kv, call, &e, NULL, 0);
}

static void on_work(uv_work_t *w)
{
	struct authn_job *j = w->data;

	j->verified = ms_auth_password_verify(j->password, j->hash);
}

/* Back on the loop: the password matched the hash of when the check began; the user must
 * still have that hash (no change, delete or disable meanwhile) to get a token. */
static void on_done(uv_work_t *w, int status)
{
	struct authn_job *j = w->data;
	struct auth_service *svc = j->svc;
	char token[MS_AUTH_TOKEN_MAX], *now_hash = NULL;
	int err;

	if (status)
		err = -ECANCELED;
	else if (j->verified < 0)
		err = j->verified;
	else if (!j->verified)
		err = -MS_AUTH_EFAILED;
	else
		err = ms_auth_password_hash_of(svc->auth, j->name, &now_hash);
	if (!err && strcmp(now_hash, j->hash) != 0)
		err = -MS_AUTH_EFAILED;
	if (!err)
		err = ms_auth_tokens_generate(ms_auth_tokens(svc->auth), token);
	/* A call whose stream is gone ignores the finish, but the attempt still counts. */
	authn_end(j->call, svc, err, j->name, token);
	free(now_hash);
	grpc_call_unref(j->call);
	job_free(j);
}

void auth_service_authenticate(struct grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
	struct auth_service *svc = ctx;
	Etcdserverpb__AuthenticateRequest *req =
		etcdserverpb__authenticate_request__unpack(NULL, len, msg);
	struct authn_job *j = NULL;
	int err;

	if (!req) {
		ms_trace_auth_authenticate(MS_AUTH_AUTHN_FAILURE);
		api_bad_request(call);
		return;
	}
	if (svc->kv->raft && !ms_raft_is_leader(svc->kv->raft)) {
		/* the leader checks the password and proposes the token */
		ms_raft_not_leader(svc->kv->raft, call, msg, len);
		goto cleanup_req;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = ms_auth_password_hash_of(svc->auth, req->name, &j->hash);
	if (err)
		goto cleanup;
	j->name = strdup(req->name);
	j->password = strdup(req->password);
	if (!j->name || !j->password) {
		err = -ENOMEM;
		goto cleanup;
	}
	j->call = call;
	j->svc = svc;
	j->work.data = j;
	grpc_call_ref(call);
	err = uv_queue_work(svc->loop, &j->work, on_work, on_done);
	if (err) {
		grpc_call_unref(call);
		err = -ENOMEM;
		goto cleanup;
	}
	j = NULL; /* on_done owns it */
cleanup:
	if (err)
		authn_end(call, svc, err, NULL, NULL);
	if (j)
		job_free(j);
cleanup_req:
	if (req->password)
		explicit_bzero(req->password, strlen(req->password));
	etcdserverpb__authenticate_request__free_unpacked(req, NULL);
}
