/* Simple auth tokens: random, node-local, each naming a user, expiring after an idle TTL. */
#include "store/auth_token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TOKEN_BUCKETS 1024
#define TOKEN_LETTERS 16
/* Expired tokens are swept from the whole table at most this often (on issue). */
#define TOKEN_SWEEP_MS 1000

struct token {
	char text[MS_AUTH_TOKEN_MAX];
	char *user;
	int64_t expires_ms;
	struct token *next;
};

struct ms_auth_tokens {
	struct token *buckets[TOKEN_BUCKETS];
	int64_t ttl_ms;
	int64_t last_sweep_ms;
	uint64_t seq;
	size_t count;
};

static uint32_t bucket_of(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % TOKEN_BUCKETS;
}

struct ms_auth_tokens *ms_auth_tokens_new(int64_t ttl_ms)
{
	struct ms_auth_tokens *t = calloc(1, sizeof(*t));

	if (t)
		t->ttl_ms = ttl_ms;
	return t;
}

static void token_free(struct token *k)
{
	free(k->user);
	free(k);
}

/* Unlinks and frees every token for which drop(token, arg) is true. */
static void tokens_filter(struct ms_auth_tokens *t, bool (*drop)(const struct token *, const void *),
			  const void *arg)
{
	for (size_t b = 0; b < TOKEN_BUCKETS; b++) {
		struct token **p = &t->buckets[b];

		while (*p) {
			struct token *k = *p;

			if (drop(k, arg)) {
				*p = k->next;
				token_free(k);
				t->count--;
			} else {
				p = &k->next;
			}
		}
	}
}

static bool drop_all(const struct token *k, const void *arg)
{
	(void)k;
	(void)arg;
	return true;
}

static bool drop_expired(const struct token *k, const void *now)
{
	return k->expires_ms <= *(const int64_t *)now;
}

static bool drop_user(const struct token *k, const void *user)
{
	return strcmp(k->user, user) == 0;
}

void ms_auth_tokens_free(struct ms_auth_tokens *t)
{
	if (!t)
		return;
	ms_auth_tokens_clear(t);
	free(t);
}

int ms_auth_tokens_generate(struct ms_auth_tokens *t, char out[MS_AUTH_TOKEN_MAX])
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t rnd[TOKEN_LETTERS];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	memset(out, 0, MS_AUTH_TOKEN_MAX);
	for (size_t i = 0; i < TOKEN_LETTERS; i++)
		out[i] = letters[rnd[i] % (sizeof(letters) - 1)];
	snprintf(out + TOKEN_LETTERS, MS_AUTH_TOKEN_MAX - TOKEN_LETTERS, ".%llu",
		 (unsigned long long)++t->seq);
	return 0;
}

int ms_auth_tokens_add(struct ms_auth_tokens *t, const char *user, const char *token,
		       int64_t now_ms)
{
	struct token *k;
	uint32_t b;

	if (strlen(token) >= MS_AUTH_TOKEN_MAX)
		return -EINVAL;
	if (now_ms - t->last_sweep_ms >= TOKEN_SWEEP_MS) {
		tokens_filter(t, drop_expired, &now_ms);
		t->last_sweep_ms = now_ms;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->user = strdup(user))) {
		free(k);
		return -ENOMEM;
	}
	snprintf(k->text, sizeof(k->text), "%s", token);
	k->expires_ms = now_ms + t->ttl_ms;
	b = bucket_of(k->text);
	k->next = t->buckets[b];
	t->buckets[b] = k;
	t->count++;
	return 0;
}

int ms_auth_tokens_issue(struct ms_auth_tokens *t, const char *user, int64_t now_ms,
			 char out[MS_AUTH_TOKEN_MAX])
{
	int err = ms_auth_tokens_generate(t, out);

	return err ? err : ms_auth_tokens_add(t, user, out, now_ms);
}

int ms_auth_tokens_lookup(struct ms_auth_tokens *t, const char *token, int64_t now_ms,
			  const char **user)
{
	struct token **p;

	for (p = &t->buckets[bucket_of(token)]; *p; p = &(*p)->next) {
		struct token *k = *p;

		if (strcmp(k->text, token) != 0)
			continue;
		if (k->expires_ms <= now_ms) {
			*p = k->next;
			token_free(k);
			t->count--;
			return -ENOENT;
		}
		k->expires_ms = now_ms + t->ttl_ms;
		*user = k->user;
		return 0;
	}
	return -ENOENT;
}

void ms_auth_tokens_drop_user(struct ms_auth_tokens *t, const char *user)
{
	tokens_filter(t, drop_user, user);
}

void ms_auth_tokens_clear(struct ms_auth_tokens *t)
{
	tokens_filter(t, drop_all, NULL);
}

size_t ms_auth_tokens_count(const struct ms_auth_tokens *t)
{
	return t->count;
}
