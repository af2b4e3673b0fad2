/* Unit tests for forwarding proofs (metastore/raft/fwd_proof.c): what a proof binds, who may
 * make one, replays, and its exact text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "raft/fwd_proof.h"

#define FOLLOWER 0x22
#define LEADER 0x11
#define OTHER 0x33
#define PUT 7u

static const uint8_t req[] = { 0x0a, 0x03, 'f', 'o', 'o' };

struct pair {
	struct ms_fwd_keys *follower, *leader;
};

static int setup(void **state)
{
	static struct pair p;

	assert_int_equal(ms_fwd_keys_new(&p.follower), 0);
	assert_int_equal(ms_fwd_keys_new(&p.leader), 0);
	/* the leader accepted the follower's handshake */
	assert_int_equal(ms_fwd_keys_learn(p.leader, FOLLOWER, ms_fwd_keys_own(p.follower)), 0);
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	ms_fwd_keys_free(p->follower);
	ms_fwd_keys_free(p->leader);
	ms_fwd_keys_free(NULL);
	return 0;
}

static int check(struct pair *p, const char *proof, uint32_t method, const char *user,
		 const uint8_t *msg, size_t len, char *why)
{
	uint64_t sender = 0;
	int rc = ms_fwd_proof_check(p->leader, LEADER, proof, method, user, msg, len, &sender,
				    why, 128);

	if (rc == 0)
		assert_int_equal(sender, FOLLOWER);
	return rc;
}

/* The proof's text: version, the sender in hex, its counter from 1, 64 hex digits. */
static void test_format(void **state)
{
	struct pair *p = *state;
	char proof[MS_FWD_PROOF_MAX];

	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice", req,
					   sizeof(req), proof), 0);
	assert_int_equal(strlen(proof), strlen("v1:0000000000000022:1:") + 64);
	assert_memory_equal(proof, "v1:0000000000000022:1:", 22);
	assert_int_equal(strspn(proof + 22, "0123456789abcdef"), 64);
	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice", req,
					   sizeof(req), proof), 0);
	assert_memory_equal(proof, "v1:0000000000000022:2:", 22);
}

/* One good proof, then every part of what it vouches for changed: all refused. */
static void test_binds_everything(void **state)
{
	struct pair *p = *state;
	const uint8_t other_req[] = { 0x0a, 0x03, 'b', 'a', 'r' };
	char proof[MS_FWD_PROOF_MAX], why[128];
	static const char *wrong_mac = "wrong MAC for member 0000000000000022";
	const struct {
		uint32_t method;
		const char *user;
		const uint8_t *msg;
		size_t len;
	} cases[] = {
		{ PUT + 1, "alice", req, sizeof(req) },
		{ PUT, "alicf", req, sizeof(req) },
		{ PUT, "alice", other_req, sizeof(other_req) },
		{ PUT, "alice", req, sizeof(req) - 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice", req,
						   sizeof(req), proof), 0);
		assert_int_equal(check(p, proof, cases[i].method, cases[i].user, cases[i].msg,
				       cases[i].len, why), -EPERM);
		assert_string_equal(why, wrong_mac);
		/* a refusal moves no window: the right call with that proof still goes */
		assert_int_equal(check(p, proof, PUT, "alice", req, sizeof(req), why), 0);
	}
	/* made for another member */
	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, OTHER, PUT, "alice", req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, "alice", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, wrong_mac);
}

/* Who is not a member (its key never came through a handshake) cannot make one; a new key
 * for the member (it restarted) replaces the old one. */
static void test_keys(void **state)
{
	struct pair *p = *state;
	struct ms_fwd_keys *stranger;
	char proof[MS_FWD_PROOF_MAX], why[128];

	assert_int_equal(ms_fwd_keys_new(&stranger), 0);
	assert_memory_not_equal(ms_fwd_keys_own(stranger), ms_fwd_keys_own(p->follower),
				MS_FWD_KEY_LEN);
	assert_int_equal(ms_fwd_proof_make(stranger, FOLLOWER, LEADER, PUT, "root", req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, "root", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, "wrong MAC for member 0000000000000022");
	assert_int_equal(ms_fwd_proof_make(stranger, OTHER, LEADER, PUT, "root", req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, "root", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, "no forwarding key of member 0000000000000033");
	/* a proof claiming to come from the checker itself */
	assert_int_equal(ms_fwd_keys_learn(p->leader, LEADER, ms_fwd_keys_own(stranger)), 0);
	assert_int_equal(ms_fwd_proof_make(stranger, LEADER, LEADER, PUT, "root", req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, "root", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, "no forwarding key of member 0000000000000011");
	/* the member restarted with the stranger's key: its counters start again */
	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice", req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, "alice", req, sizeof(req), why), 0);
	assert_int_equal(ms_fwd_keys_learn(p->leader, FOLLOWER, ms_fwd_keys_own(stranger)), 0);
	assert_int_equal(check(p, proof, PUT, "alice", req, sizeof(req), why), -EPERM);
	assert_int_equal(ms_fwd_proof_make(stranger, FOLLOWER, LEADER, PUT, "alice", req,
					   sizeof(req), proof), 0);
	/* its fourth proof; the window of the old key does not apply to the new one */
	assert_memory_equal(proof, "v1:0000000000000022:4:", 22);
	assert_int_equal(check(p, proof, PUT, "alice", req, sizeof(req), why), 0);
	ms_fwd_keys_free(stranger);
}

/* Each counter once; out of order within the window; older ones never. */
static void test_replay_window(void **state)
{
	struct pair *p = *state;
	char proofs[MS_FWD_WINDOW + 2][MS_FWD_PROOF_MAX], why[128];

	for (int i = 0; i < MS_FWD_WINDOW + 2; i++)
		assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice",
						   req, sizeof(req), proofs[i]), 0);
	assert_int_equal(check(p, proofs[1], PUT, "alice", req, sizeof(req), why), 0);
	assert_int_equal(check(p, proofs[1], PUT, "alice", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, "replayed counter 2 of member 0000000000000022");
	assert_int_equal(check(p, proofs[0], PUT, "alice", req, sizeof(req), why), 0);
	assert_int_equal(check(p, proofs[0], PUT, "alice", req, sizeof(req), why), -EPERM);
	/* counter 66 taken: 2 is 64 behind, out of the window; 3 is 63 behind, still in */
	assert_int_equal(check(p, proofs[MS_FWD_WINDOW + 1], PUT, "alice", req, sizeof(req), why),
			 0);
	assert_int_equal(check(p, proofs[2], PUT, "alice", req, sizeof(req), why), 0);
	assert_int_equal(check(p, proofs[2], PUT, "alice", req, sizeof(req), why), -EPERM);
	assert_string_equal(why, "replayed counter 3 of member 0000000000000022");
	assert_int_equal(check(p, proofs[MS_FWD_WINDOW + 1], PUT, "alice", req, sizeof(req), why),
			 -EPERM);
	assert_string_equal(why, "replayed counter 66 of member 0000000000000022");
}

/* Texts that are not a proof, and names that cannot be asserted. */
static void test_malformed(void **state)
{
	struct pair *p = *state;
	char proof[MS_FWD_PROOF_MAX], bad[MS_FWD_PROOF_MAX + 8], why[128], user[MS_FWD_USER_MAX + 2];
	const char *cases[] = {
		"", "v1", "v2:0000000000000022:1:", "v1:22:1:00",
		"v1:0000000000000022:0:0000000000000000000000000000000000000000000000000000000000000000",
		"v1:0000000000000022:-1:0000000000000000000000000000000000000000000000000000000000000000",
		"v1:0000000000000022:99999999999999999999:0000000000000000000000000000000000000000000000000000000000000000",
		"v1:0000000000000022:1:000000000000000000000000000000000000000000000000000000000000000",
		"v1:0000000000000022:1:0000000000000000000000000000000000000000000000000000000000000000 ",
		"v1:000000000000002G:1:0000000000000000000000000000000000000000000000000000000000000000",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(check(p, cases[i], PUT, "alice", req, sizeof(req), why), -EPERM);
		assert_string_equal(why, "malformed proof");
	}
	assert_int_equal(check(p, NULL, PUT, "alice", req, sizeof(req), why), -EPERM);
	memset(bad, 'a', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	memcpy(bad, "v1:", 3);
	assert_int_equal(check(p, bad, PUT, "alice", req, sizeof(req), why), -EPERM);
	/* names: empty, control bytes, non-ASCII, too long; the longest one goes */
	memset(user, 'u', sizeof(user));
	user[MS_FWD_USER_MAX + 1] = '\0';
	const char *users[] = { "", "a\nb", "caf\xc3\xa9", user, NULL };

	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, users[i], req,
						   sizeof(req), proof), -EINVAL);
	user[MS_FWD_USER_MAX] = '\0';
	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, user, req,
					   sizeof(req), proof), 0);
	assert_int_equal(check(p, proof, PUT, user, req, sizeof(req), why), 0);
	/* an empty request is a request too */
	assert_int_equal(ms_fwd_proof_make(p->follower, FOLLOWER, LEADER, PUT, "alice", NULL, 0,
					   proof), 0);
	assert_int_equal(check(p, proof, PUT, "alice", NULL, 0, why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binds_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
