/* The replicated membership table: apply changes deterministically, encode and decode it. */
#include "raft/members.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS_VERSION 1

void ms_members_init(struct ms_members *m, const struct ms_raft_peer *seed, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->n = n < MS_MEMBERS_MAX ? n : MS_MEMBERS_MAX;
	memcpy(m->v, seed, m->n * sizeof(*seed));
}

struct ms_raft_peer *ms_members_find(const struct ms_members *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return (struct ms_raft_peer *)&m->v[i];
	return NULL;
}

struct ms_raft_peer *ms_members_by_address(const struct ms_members *m, const char *address)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].address, address) == 0)
			return (struct ms_raft_peer *)&m->v[i];
	return NULL;
}

bool ms_members_was_removed(const struct ms_members *m, uint64_t id)
{
	for (size_t i = 0; i < m->n_removed; i++)
		if (m->removed[i] == id)
			return true;
	return false;
}

size_t ms_members_started(const struct ms_members *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->v[i].name[0] != '\0';
	return n;
}

size_t ms_members_voters(const struct ms_members *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += !m->v[i].learner;
	return n;
}

static int member_add(struct ms_members *m, const struct ms_member_change *c)
{
	struct ms_raft_peer *p = ms_members_find(m, c->id);
	struct ms_raft_peer *at = ms_members_by_address(m, c->address);

	if (p)
		/* the same add replayed (a log read again on top of a later table) is no change */
		return strcmp(p->address, c->address) == 0 ? 1 : -EEXIST;
	if (ms_members_was_removed(m, c->id))
		return -ENOENT;
	if (at)
		return -EEXIST;
	if (m->n == MS_MEMBERS_MAX)
		return -ENOSPC;
	p = &m->v[m->n++];
	memset(p, 0, sizeof(*p));
	p->id = c->id;
	p->learner = c->learner;
	snprintf(p->address, sizeof(p->address), "%s", c->address);
	return 0;
}

static int member_remove(struct ms_members *m, uint64_t id)
{
	struct ms_raft_peer *p = ms_members_find(m, id);

	if (!p)
		return -ENOENT;
	/* the oldest removed id goes when the list is full: ids are random 64-bit numbers */
	if (m->n_removed == MS_MEMBERS_MAX_REMOVED) {
		memmove(m->removed, m->removed + 1, (m->n_removed - 1) * sizeof(m->removed[0]));
		m->n_removed--;
	}
	m->removed[m->n_removed++] = id;
	memmove(p, p + 1, (size_t)(&m->v[m->n] - (p + 1)) * sizeof(*p));
	m->n--;
	memset(&m->v[m->n], 0, sizeof(m->v[0])); /* tables compare and encode the same */
	return 0;
}

int ms_members_apply(struct ms_members *m, const struct ms_member_change *c)
{
	struct ms_raft_peer *p, *at;

	if (c->op == MS_MEMBER_ADD)
		return member_add(m, c);
	if (c->op == MS_MEMBER_REMOVE)
		return member_remove(m, c->id);
	p = ms_members_find(m, c->id);
	if (!p)
		return -ENOENT;
	switch (c->op) {
	case MS_MEMBER_UPDATE:
		at = ms_members_by_address(m, c->address);
		if (at && at != p)
			return -EEXIST;
		snprintf(p->address, sizeof(p->address), "%s", c->address);
		return 0;
	case MS_MEMBER_PROMOTE:
		if (!p->learner)
			return -EINVAL;
		p->learner = false;
		return 0;
	case MS_MEMBER_PUBLISH:
		snprintf(p->name, sizeof(p->name), "%s", c->name);
		snprintf(p->client, sizeof(p->client), "%s", c->client);
		return 0;
	default:
		return -EINVAL;
	}
}

/* A string field: length-prefixed, without its NUL. */
static int put_str(struct ms_buf *b, const char *s)
{
	return ms_put_bytes(b, s, strlen(s));
}

/* Reads a string field into out (size outlen); false when it is bad or does not fit. */
static bool get_str(struct ms_reader *r, char *out, size_t outlen)
{
	size_t n;
	const uint8_t *p = ms_get_bytes(r, &n);

	if (r->bad || n >= outlen)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int ms_member_change_encode(const struct ms_member_change *c, struct ms_buf *out)
{
	int e = ms_put_u64(out, c->op);

	if (!e)
		e = ms_put_u64(out, c->id);
	if (!e)
		e = ms_put_u64(out, c->learner);
	if (!e)
		e = put_str(out, c->address);
	if (!e)
		e = put_str(out, c->name);
	if (!e)
		e = put_str(out, c->client);
	return e;
}

int ms_member_change_decode(const uint8_t *p, size_t len, struct ms_member_change *c)
{
	struct ms_reader r = { .p = p, .left = len };

	memset(c, 0, sizeof(*c));
	c->op = (unsigned)ms_get_u64(&r);
	c->id = ms_get_u64(&r);
	c->learner = ms_get_u64(&r) != 0;
	if (!get_str(&r, c->address, sizeof(c->address)) || !get_str(&r, c->name, sizeof(c->name)) ||
	    !get_str(&r, c->client, sizeof(c->client)) || !c->id)
		return -EINVAL;
	return 0;
}

int ms_members_encode(const struct ms_members *m, struct ms_buf *out)
{
	int e = ms_put_u64(out, MEMBERS_VERSION);

	if (!e)
		e = ms_put_u64(out, m->n);
	for (size_t i = 0; !e && i < m->n; i++) {
		const struct ms_raft_peer *p = &m->v[i];

		e = ms_put_u64(out, p->id);
		if (!e)
			e = ms_put_u64(out, p->learner);
		if (!e)
			e = put_str(out, p->name);
		if (!e)
			e = put_str(out, p->address);
		if (!e)
			e = put_str(out, p->client);
	}
	if (!e)
		e = ms_put_u64(out, m->n_removed);
	for (size_t i = 0; !e && i < m->n_removed; i++)
		e = ms_put_u64(out, m->removed[i]);
	return e;
}

int ms_members_decode(struct ms_members *m, struct ms_reader *r)
{
	struct ms_members *t = calloc(1, sizeof(*t));
	int e = -EINVAL;

	if (!t)
		return -ENOMEM;
	if (ms_get_u64(r) != MEMBERS_VERSION)
		goto cleanup;
	t->n = ms_get_u64(r);
	if (r->bad || t->n > MS_MEMBERS_MAX)
		goto cleanup;
	for (size_t i = 0; i < t->n; i++) {
		struct ms_raft_peer *p = &t->v[i];

		p->id = ms_get_u64(r);
		p->learner = ms_get_u64(r) != 0;
		if (!get_str(r, p->name, sizeof(p->name)) ||
		    !get_str(r, p->address, sizeof(p->address)) ||
		    !get_str(r, p->client, sizeof(p->client)) || !p->id)
			goto cleanup;
	}
	t->n_removed = ms_get_u64(r);
	if (r->bad || t->n_removed > MS_MEMBERS_MAX_REMOVED)
		goto cleanup;
	for (size_t i = 0; i < t->n_removed; i++)
		t->removed[i] = ms_get_u64(r);
	if (r->bad)
		goto cleanup;
	*m = *t;
	e = 0;
cleanup:
	free(t);
	return e;
}

int ms_members_parse_url(const char *url, size_t len, char *out, size_t outlen, bool *https)
{
	char host[64];
	unsigned char a4[4];
	const char *p, *colon;
	char *end;
	long port;

	*https = len >= 8 && strncmp(url, "https://", 8) == 0;
	if (!*https && (len < 7 || strncmp(url, "http://", 7) != 0))
		return -EINVAL;
	p = url + (*https ? 8 : 7);
	len -= *https ? 8 : 7;
	if (len && p[len - 1] == '/')
		len--;
	colon = memchr(p, ':', len);
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(host))
		return -EINVAL;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	if (inet_pton(AF_INET, host, a4) != 1)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (end != p + len || errno || port < 0 || port > 65535 || end == colon + 1)
		return -EINVAL;
	if ((size_t)snprintf(out, outlen, "%s:%ld", host, port) >= outlen)
		return -EINVAL;
	return 0;
}
