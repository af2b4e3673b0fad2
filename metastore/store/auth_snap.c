/* Auth state in raft snapshots: dump to and load from one protobuf message (AuthState). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/auth_priv.h"
#include "auth_snap.pb-c.h"
#include "store/buf.h"

/* Everything the dump message points to, freed after packing. */
struct dump_mem {
	Authpb__User *users;
	Authpb__User **user_ptrs;
	Authpb__UserAddOptions *opts;
	Authpb__Role *roles;
	Authpb__Role **role_ptrs;
	Authpb__Permission *perms;
	Authpb__Permission **perm_ptrs;
};

static void dump_mem_free(struct dump_mem *m)
{
	free(m->users);
	free(m->user_ptrs);
	free(m->opts);
	free(m->roles);
	free(m->role_ptrs);
	free(m->perms);
	free(m->perm_ptrs);
}

static ProtobufCBinaryData str_bytes(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

int ms_auth_dump(void *auth, struct ms_buf *out)
{
	struct ms_auth *a = auth;
	Metastore__AuthState st = METASTORE__AUTH_STATE__INIT;
	struct dump_mem m = { 0 };
	size_t nperms = 0, k = 0, n;
	int err = -ENOMEM;

	for (size_t i = 0; i < a->nroles; i++)
		nperms += a->roles[i].nperms;
	m.users = calloc(a->nusers + 1, sizeof(*m.users));
	m.user_ptrs = calloc(a->nusers + 1, sizeof(*m.user_ptrs));
	m.opts = calloc(a->nusers + 1, sizeof(*m.opts));
	m.roles = calloc(a->nroles + 1, sizeof(*m.roles));
	m.role_ptrs = calloc(a->nroles + 1, sizeof(*m.role_ptrs));
	m.perms = calloc(nperms + 1, sizeof(*m.perms));
	m.perm_ptrs = calloc(nperms + 1, sizeof(*m.perm_ptrs));
	if (!m.users || !m.user_ptrs || !m.opts || !m.roles || !m.role_ptrs || !m.perms ||
	    !m.perm_ptrs)
		goto cleanup;
	for (size_t i = 0; i < a->nusers; i++) {
		const struct auth_user *u = &a->users[i];
		Authpb__User *pu = &m.users[i];

		authpb__user__init(pu);
		authpb__user_add_options__init(&m.opts[i]);
		pu->name = str_bytes(u->name);
		if (u->hash)
			pu->password = str_bytes(u->hash);
		m.opts[i].no_password = !u->hash;
		pu->options = &m.opts[i];
		pu->roles = u->roles;
		pu->n_roles = u->nroles;
		m.user_ptrs[i] = pu;
	}
	for (size_t i = 0; i < a->nroles; i++) {
		const struct auth_role *r = &a->roles[i];
		Authpb__Role *pr = &m.roles[i];

		authpb__role__init(pr);
		pr->name = str_bytes(r->name);
		pr->keypermission = &m.perm_ptrs[k];
		pr->n_keypermission = r->nperms;
		for (size_t j = 0; j < r->nperms; j++, k++) {
			authpb__permission__init(&m.perms[k]);
			m.perms[k].permtype = (Authpb__Permission__Type)r->perms[j].type;
			m.perms[k].key = (ProtobufCBinaryData){ r->perms[j].key_len, r->perms[j].key };
			m.perms[k].range_end =
				(ProtobufCBinaryData){ r->perms[j].end_len, r->perms[j].end };
			m.perm_ptrs[k] = &m.perms[k];
		}
		m.role_ptrs[i] = pr;
	}
	st.enabled = a->enabled;
	st.revision = a->revision;
	st.users = m.user_ptrs;
	st.n_users = a->nusers;
	st.roles = m.role_ptrs;
	st.n_roles = a->nroles;
	n = metastore__auth_state__get_packed_size(&st);
	if (ms_buf_append(out, NULL, n))
		goto cleanup;
	metastore__auth_state__pack(&st, out->data + out->len - n);
	err = 0;
cleanup:
	dump_mem_free(&m);
	return err;
}

/* A name from bytes: no NUL inside, not empty. NULL on a bad or failed copy (*err). */
static char *name_of(ProtobufCBinaryData b, int *err)
{
	char *s;

	if (!b.len || memchr(b.data, 0, b.len)) {
		*err = -EINVAL;
		return NULL;
	}
	s = strndup((const char *)b.data, b.len);
	if (!s)
		*err = -ENOMEM;
	return s;
}

static int load_user(const Authpb__User *pu, struct auth_user *u)
{
	int err = 0;

	u->name = name_of(pu->name, &err);
	if (!u->name)
		return err;
	if (!(pu->options && pu->options->no_password)) {
		u->hash = name_of(pu->password, &err);
		if (!u->hash)
			return err;
	}
	u->roles = calloc(pu->n_roles + 1, sizeof(*u->roles));
	if (!u->roles)
		return -ENOMEM;
	for (size_t i = 0; i < pu->n_roles; i++) {
		if (!*pu->roles[i] || (i && strcmp(pu->roles[i - 1], pu->roles[i]) >= 0))
			return -EINVAL;
		u->roles[i] = strdup(pu->roles[i]);
		if (!u->roles[i])
			return -ENOMEM;
		u->nroles++;
	}
	return 0;
}

static uint8_t *bytes_copy(ProtobufCBinaryData b)
{
	uint8_t *d = malloc(b.len ? b.len : 1);

	if (d && b.len)
		memcpy(d, b.data, b.len);
	return d;
}

static int load_role(const Authpb__Role *pr, struct auth_role *r)
{
	int err = 0;

	r->name = name_of(pr->name, &err);
	if (!r->name)
		return err;
	r->perms = calloc(pr->n_keypermission + 1, sizeof(*r->perms));
	if (!r->perms)
		return -ENOMEM;
	for (size_t i = 0; i < pr->n_keypermission; i++) {
		const Authpb__Permission *pp = pr->keypermission[i];
		struct ms_auth_perm *p = &r->perms[i];

		if (pp->permtype != AUTHPB__PERMISSION__TYPE__READ &&
		    pp->permtype != AUTHPB__PERMISSION__TYPE__WRITE &&
		    pp->permtype != AUTHPB__PERMISSION__TYPE__READWRITE)
			return -EINVAL;
		p->type = (enum ms_auth_perm_type)pp->permtype;
		p->key = bytes_copy(pp->key);
		p->end = bytes_copy(pp->range_end);
		r->nperms++; /* owned from here on, released with the role */
		if (!p->key || !p->end)
			return -ENOMEM;
		p->key_len = pp->key.len;
		p->end_len = pp->range_end.len;
	}
	return 0;
}

static void users_free(struct auth_user *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		auth_user_release(&v[i]);
	free(v);
}

static void roles_free(struct auth_role *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		auth_role_release(&v[i]);
	free(v);
}

/* Replaces users and roles (taking the arrays), the flag and the revision; drops tokens. */
static void auth_replace(struct ms_auth *a, struct auth_user *users, size_t nu,
			 struct auth_role *roles, size_t nr, bool enabled, uint64_t revision)
{
	ms_auth_tokens_clear(a->tokens);
	users_free(a->users, a->nusers);
	roles_free(a->roles, a->nroles);
	a->users = users;
	a->nusers = nu;
	a->roles = roles;
	a->nroles = nr;
	a->enabled = enabled;
	a->revision = revision;
}

int ms_auth_load(void *auth, const uint8_t *data, size_t len)
{
	struct ms_auth *a = auth;
	Metastore__AuthState *st = NULL;
	struct auth_user *users = NULL;
	struct auth_role *roles = NULL;
	size_t nu = 0, nr = 0;
	int err = -EINVAL;

	if (!len) {
		/* An empty section (a snapshot without auth state): the initial state. */
		auth_replace(a, NULL, 0, NULL, 0, false, 1);
		return 0;
	}
	st = metastore__auth_state__unpack(NULL, len, data);
	if (!st || !st->revision)
		goto cleanup;
	err = -ENOMEM;
	users = calloc(st->n_users + 1, sizeof(*users));
	roles = calloc(st->n_roles + 1, sizeof(*roles));
	if (!users || !roles)
		goto cleanup;
	err = 0;
	for (; !err && nu < st->n_users; nu++) {
		err = load_user(st->users[nu], &users[nu]);
		if (!err && nu && strcmp(users[nu - 1].name, users[nu].name) >= 0)
			err = -EINVAL;
	}
	for (; !err && nr < st->n_roles; nr++) {
		err = load_role(st->roles[nr], &roles[nr]);
		if (!err && nr && strcmp(roles[nr - 1].name, roles[nr].name) >= 0)
			err = -EINVAL;
	}
	if (err)
		goto cleanup;
	auth_replace(a, users, nu, roles, nr, st->enabled, st->revision);
	users = NULL;
	roles = NULL;
	nu = nr = 0;
cleanup:
	users_free(users, nu);
	roles_free(roles, nr);
	if (st)
		metastore__auth_state__free_unpacked(st, NULL);
	return err;
}
