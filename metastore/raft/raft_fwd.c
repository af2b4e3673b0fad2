/* Forwarded calls' users: the proof a follower attaches for the leader, and the leader's check of it. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "rpc/server.h"
#include "raft/raftnode_priv.h"

void ms_raft_forward_cred(struct ms_raft *rn, const struct grpc_call *origin, uint32_t method,
			  const uint8_t *msg, size_t len, struct ms_forward_cred *cred,
			  char proof[MS_FWD_PROOF_MAX])
{
	uint64_t leader = ms_raft_leader_id(rn);

	*cred = (struct ms_forward_cred){ 0 };
	if (!origin) {
		/* a member's own publish: with auth enabled the leader takes it from a member
		 * only, as etcd takes it from its raft log (ms_raft_forward_member) */
		if (method != GRPC_METHOD_MEMBER_PUBLISH || !rn->fwd_keys || !leader ||
		    leader == rn->opts.node_id)
			return;
		snprintf(rn->fwd_self, sizeof(rn->fwd_self), "%016" PRIx64, rn->opts.node_id);
		if (ms_fwd_proof_make(rn->fwd_keys, rn->opts.node_id, leader,
				      method | MS_FWD_MEMBER_SELF, rn->fwd_self, msg, len, proof))
			return;
		cred->user = rn->fwd_self;
		cred->proof = proof;
		return;
	}
	if (origin->token) {
		/* the leader checks a token itself: it is replicated state */
		cred->token = origin->token;
		return;
	}
	/* without a proof the leader sees no user, as for any client that sent none */
	if (!origin->auth_user || !rn->fwd_keys || !leader || leader == rn->opts.node_id ||
	    ms_fwd_proof_make(rn->fwd_keys, rn->opts.node_id, leader, method, origin->auth_user,
			      msg, len, proof))
		return;
	cred->user = origin->auth_user;
	cred->proof = proof;
}

/* One line per refused proof, at most MS_FWD_LOG_PER_S a second; the rest are counted and
 * the count goes with the next line logged. */
static void log_refusal(struct ms_raft *rn, const struct grpc_call *call, const char *why)
{
	uint64_t now = uv_now(rn->loop);
	char user[72], more[64];

	if (!rn->log_fn)
		return;
	if (now - rn->fwd_log_window_ms >= 1000) {
		rn->fwd_log_window_ms = now;
		rn->fwd_logged = 0;
	}
	if (rn->fwd_logged >= MS_FWD_LOG_PER_S) {
		rn->fwd_unlogged++;
		return;
	}
	rn->fwd_logged++;
	/* the name as sent, cut and without control bytes: it is the sender's text */
	snprintf(user, sizeof(user), "%s", call->fwd_user ? call->fwd_user : "");
	for (char *p = user; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	more[0] = '\0';
	if (rn->fwd_unlogged)
		snprintf(more, sizeof(more), " (and %u refused unlogged before)", rn->fwd_unlogged);
	rn->log_fn(rn->log_arg, "auth: refused forwarded user '%s' on %s: %s; ignored%s",
		   user, grpc_method_path(call->method), why, more);
	rn->fwd_unlogged = 0;
}

int ms_raft_forward_user(struct ms_raft *rn, const struct grpc_call *call, const uint8_t *msg,
			 size_t len, const char **user)
{
	char why[160];
	int err;

	*user = NULL;
	if (!rn || !rn->fwd_keys) {
		snprintf(why, sizeof(why), "this member checks no forwarding proofs");
		err = -EPERM;
	} else if (!call->fwd_user || !call->fwd_proof) {
		snprintf(why, sizeof(why), "%s without %s", call->fwd_user ?
			 MS_HDR_FORWARDED_USER : MS_HDR_FORWARDED_PROOF,
			 call->fwd_user ? MS_HDR_FORWARDED_PROOF : MS_HDR_FORWARDED_USER);
		err = -EPERM;
	} else {
		err = ms_fwd_proof_check(rn->fwd_keys, rn->opts.node_id, call->fwd_proof,
					 call->method, call->fwd_user, msg, len, NULL, why,
					 sizeof(why));
	}
	if (err) {
		if (rn)
			log_refusal(rn, call, why);
		return err;
	}
	*user = call->fwd_user;
	return 0;
}

int ms_raft_forward_member(struct ms_raft *rn, const struct grpc_call *call, const uint8_t *msg,
			   size_t len)
{
	char why[160], want[17];
	uint64_t sender = 0;

	if (!rn || !rn->fwd_keys || !call->fwd_user || !call->fwd_proof ||
	    call->method != GRPC_METHOD_MEMBER_PUBLISH)
		return -EPERM;
	if (ms_fwd_proof_check(rn->fwd_keys, rn->opts.node_id, call->fwd_proof,
			       call->method | MS_FWD_MEMBER_SELF, call->fwd_user, msg, len, &sender,
			       why, sizeof(why)))
		return -EPERM;
	snprintf(want, sizeof(want), "%016" PRIx64, sender);
	return strcmp(want, call->fwd_user) ? -EPERM : 0;
}
