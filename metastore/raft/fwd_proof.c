/* Proof that a forwarded call's user was authenticated by a member: keys learned over the peer transport, HMACs, replay windows. */
#include "raft/fwd_proof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store/codec.h"

#define DOMAIN "metastore forwarded user v1"
#define MAC_LEN 32

/* A peer's key and which of its counters were taken. */
struct peer_key {
	uint64_t id;
	uint8_t key[MS_FWD_KEY_LEN];
	uint64_t top;    /* highest counter taken, 0: none */
	uint64_t seen;   /* bit i: counter top - i taken */
};

struct ms_fwd_keys {
	uint8_t own[MS_FWD_KEY_LEN];
	uint64_t counter; /* last one used in a proof */
	struct peer_key *peers;
	size_t n_peers;
};

int ms_fwd_keys_new(struct ms_fwd_keys **out)
{
	struct ms_fwd_keys *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	if (getrandom(k->own, sizeof(k->own), 0) != (ssize_t)sizeof(k->own)) {
		free(k);
		return -EIO;
	}
	*out = k;
	return 0;
}

void ms_fwd_keys_free(struct ms_fwd_keys *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k->own, sizeof(k->own));
	if (k->peers)
		OPENSSL_cleanse(k->peers, k->n_peers * sizeof(*k->peers));
	free(k->peers);
	free(k);
}

const uint8_t *ms_fwd_keys_own(const struct ms_fwd_keys *k)
{
	return k->own;
}

static struct peer_key *peer_find(struct ms_fwd_keys *k, uint64_t id)
{
	for (size_t i = 0; i < k->n_peers; i++)
		if (k->peers[i].id == id)
			return &k->peers[i];
	return NULL;
}

int ms_fwd_keys_learn(struct ms_fwd_keys *k, uint64_t id, const uint8_t key[MS_FWD_KEY_LEN])
{
	struct peer_key *p = peer_find(k, id);

	if (!p) {
		/* only members pass the handshake check: the table stays as small as the cluster */
		p = realloc(k->peers, (k->n_peers + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		k->peers = p;
		p = &k->peers[k->n_peers++];
		*p = (struct peer_key){ .id = id };
	} else if (memcmp(p->key, key, MS_FWD_KEY_LEN) == 0) {
		return 0; /* a reconnection of the same process: its counters go on */
	}
	memcpy(p->key, key, MS_FWD_KEY_LEN);
	p->top = p->seen = 0;
	return 0;
}

static bool user_ok(const char *user)
{
	size_t n = user ? strlen(user) : 0;

	if (n == 0 || n > MS_FWD_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (user[i] < 0x20 || user[i] > 0x7e)
			return false;
	return true;
}

/* HMAC-SHA256 under key of everything the proof vouches for. 0 or -EIO. */
static int mac(const uint8_t *key, uint64_t sender, uint64_t target, uint64_t counter,
	       uint32_t method, const char *user, const uint8_t *msg, size_t len,
	       uint8_t out[MAC_LEN])
{
	size_t ulen = strlen(user);
	uint8_t buf[sizeof(DOMAIN) + 8 * 3 + 4 + 4 + MS_FWD_USER_MAX + 32], *p = buf;
	unsigned dlen = 0, mlen = 0;

	memcpy(p, DOMAIN, sizeof(DOMAIN)); /* with its NUL */
	p += sizeof(DOMAIN);
	ms_le64_write(p, sender);
	ms_le64_write(p + 8, target);
	ms_le64_write(p + 16, counter);
	ms_le64_write(p + 24, (uint64_t)method << 32 | (uint32_t)ulen);
	p += 32;
	memcpy(p, user, ulen);
	p += ulen;
	/* the request by its digest: the MAC input stays bounded */
	if (!EVP_Digest(msg ? msg : (const uint8_t *)"", len, p, &dlen, EVP_sha256(), NULL) ||
	    dlen != 32)
		return -EIO;
	p += dlen;
	if (!HMAC(EVP_sha256(), key, MS_FWD_KEY_LEN, buf, (size_t)(p - buf), out, &mlen) ||
	    mlen != MAC_LEN)
		return -EIO;
	return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int ms_fwd_proof_make(struct ms_fwd_keys *k, uint64_t self, uint64_t target, uint32_t method,
		      const char *user, const uint8_t *msg, size_t len, char *out)
{
	uint8_t m[MAC_LEN];
	char mhex[2 * MAC_LEN + 1];
	uint64_t counter;

	if (!user_ok(user))
		return -EINVAL;
	counter = ++k->counter;
	if (mac(k->own, self, target, counter, method, user, msg, len, m))
		return -EIO;
	hex(m, sizeof(m), mhex);
	snprintf(out, MS_FWD_PROOF_MAX, "v1:%016" PRIx64 ":%" PRIu64 ":%s", self, counter, mhex);
	return 0;
}

/* Splits "v1:<hex16>:<decimal>:<hex64>"; false when it is not exactly that. */
static bool parse(const char *proof, uint64_t *sender, uint64_t *counter, uint8_t m[MAC_LEN])
{
	const char *p = proof;
	char *end;

	if (strncmp(p, "v1:", 3) != 0 || strlen(p) >= MS_FWD_PROOF_MAX)
		return false;
	p += 3;
	if (strspn(p, "0123456789abcdef") != 16 || p[16] != ':')
		return false;
	*sender = strtoull(p, NULL, 16);
	p += 17;
	if (*p < '1' || *p > '9')
		return false;
	errno = 0;
	*counter = strtoull(p, &end, 10);
	if (errno || *end != ':')
		return false;
	p = end + 1;
	if (strspn(p, "0123456789abcdef") != 2 * MAC_LEN || p[2 * MAC_LEN] != '\0')
		return false;
	for (size_t i = 0; i < MAC_LEN; i++) {
		char two[3] = { p[2 * i], p[2 * i + 1], '\0' };

		m[i] = (uint8_t)strtoul(two, NULL, 16);
	}
	return true;
}

/* Takes counter c in p's window: false when it was taken already or is too old. */
static bool window_take(struct peer_key *p, uint64_t c)
{
	if (c > p->top) {
		uint64_t shift = c - p->top;

		p->seen = shift >= MS_FWD_WINDOW ? 0 : p->seen << shift;
		p->seen |= 1;
		p->top = c;
		return true;
	}
	if (p->top - c >= MS_FWD_WINDOW || (p->seen >> (p->top - c) & 1))
		return false;
	p->seen |= 1ull << (p->top - c);
	return true;
}

int ms_fwd_proof_check(struct ms_fwd_keys *k, uint64_t self, const char *proof, uint32_t method,
		       const char *user, const uint8_t *msg, size_t len, uint64_t *sender,
		       char *why, size_t whylen)
{
	uint8_t got[MAC_LEN], want[MAC_LEN];
	uint64_t from, counter;
	struct peer_key *p;

	if (!proof || !parse(proof, &from, &counter, got)) {
		snprintf(why, whylen, "malformed proof");
		return -EPERM;
	}
	if (!user_ok(user)) {
		snprintf(why, whylen, "user name not assertable");
		return -EPERM;
	}
	p = peer_find(k, from);
	if (!p || from == self) {
		snprintf(why, whylen, "no forwarding key of member %016" PRIx64, from);
		return -EPERM;
	}
	/* the target is this member: a proof made for another one does not match */
	if (mac(p->key, from, self, counter, method, user, msg, len, want) ||
	    CRYPTO_memcmp(got, want, MAC_LEN) != 0) {
		snprintf(why, whylen, "wrong MAC for member %016" PRIx64, from);
		return -EPERM;
	}
	if (!window_take(p, counter)) {
		snprintf(why, whylen, "replayed counter %" PRIu64 " of member %016" PRIx64,
			 counter, from);
		return -EPERM;
	}
	if (sender)
		*sender = from;
	return 0;
}
