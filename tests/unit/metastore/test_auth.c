/* Unit tests for the auth state: range permissions, root rules, passwords, tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/auth.h"
#include "store/auth_password.h"
#include "rpc/grpc.h"

/* The cheapest bcrypt cost keeps the tests fast; the cost is a parameter, not a behaviour. */
#define COST 4
#define TTL_MS 300000

#define B(s) (const uint8_t *)(s), (sizeof(s) - 1)

static struct ms_auth *new_auth(void)
{
	struct ms_auth *a = ms_auth_new(COST, TTL_MS);

	assert_non_null(a);
	return a;
}

/* A store with the user `u` holding role `r`, and root set up, auth enabled. */
static struct ms_auth *enabled_auth(void)
{
	struct ms_auth *a = new_auth();

	assert_int_equal(ms_auth_user_add(a, "root", "rootpw", false), 0);
	assert_int_equal(ms_auth_user_grant_role(a, "root", "root"), 0);
	assert_int_equal(ms_auth_role_add(a, "r"), 0);
	assert_int_equal(ms_auth_user_add(a, "u", "upw", false), 0);
	assert_int_equal(ms_auth_user_grant_role(a, "u", "r"), 0);
	assert_int_equal(ms_auth_enable(a), 0);
	return a;
}

/* A byte string that may hold NULs: S("foo\0") is 4 bytes; N is no bytes (single key). */
struct bytes {
	const char *p;
	size_t n;
};
#define S(s) { (s), sizeof(s) - 1 }
#define N { NULL, 0 }
/* etcd's "\0" range end: every key from the start key on. */
#define FROM S("\0")

struct perm_def {
	enum ms_auth_perm_type type;
	struct bytes key, end;
};

static void test_range_table(void **state)
{
#define R MS_AUTH_READ
#define W MS_AUTH_WRITE
#define RW MS_AUTH_READWRITE
	static const struct {
		struct perm_def perms[3];
		size_t nperms;
		struct bytes key, end;
		enum ms_auth_perm_type want;
		int ok;
	} cases[] = {
		/* single-key permission */
		{ { { R, S("foo"), N } }, 1, S("foo"), N, R, 1 },
		{ { { R, S("foo"), N } }, 1, S("foo"), N, W, 0 },
		{ { { R, S("foo"), N } }, 1, S("foo0"), N, R, 0 },
		{ { { R, S("foo"), N } }, 1, S("fo"), N, R, 0 },
		/* [foo, foo\0) is exactly that key; [foo, fop) is more */
		{ { { R, S("foo"), N } }, 1, S("foo"), S("foo\0"), R, 1 },
		{ { { R, S("foo"), N } }, 1, S("foo"), S("fop"), R, 0 },
		/* READWRITE grants both */
		{ { { RW, S("foo"), N } }, 1, S("foo"), N, W, 1 },
		{ { { RW, S("foo"), N } }, 1, S("foo"), N, R, 1 },
		/* prefix permission [pre/, pre0) */
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre/a"), N, R, 1 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre/"), S("pre0"), R, 1 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre/a"), S("pre/b"), R, 1 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre/"), S("pre1"), R, 0 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre"), N, R, 0 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre0"), N, R, 0 },
		{ { { R, S("pre/"), S("pre0") } }, 1, S("pre/"), FROM, R, 0 },
		/* from-key permission [a, inf) */
		{ { { W, S("a"), FROM } }, 1, S("zzz"), N, W, 1 },
		{ { { W, S("a"), FROM } }, 1, S("b"), FROM, W, 1 },
		{ { { W, S("a"), FROM } }, 1, S("a"), S("\xff\xff"), W, 1 },
		{ { { W, S("a"), FROM } }, 1, S("A"), N, W, 0 },
		{ { { W, S("a"), FROM } }, 1, S("0"), FROM, W, 0 },
		/* every key: etcdctl's `get "" --from-key` is key "\0", end "\0" */
		{ { { R, S(""), FROM } }, 1, S("\0"), FROM, R, 1 },
		{ { { R, S("\0"), FROM } }, 1, S("\0"), FROM, R, 1 },
		/* the union of adjacent and overlapping ranges covers */
		{ { { R, S("a"), S("c") }, { R, S("c"), S("e") } }, 2, S("b"), S("d"), R, 1 },
		{ { { R, S("c"), S("e") }, { R, S("a"), S("d") } }, 2, S("a"), S("e"), R, 1 },
		{ { { R, S("a"), S("c") }, { R, S("d"), S("e") } }, 2, S("b"), S("d"), R, 0 },
		/* [a, c) + c + [c\1, inf): the key c\0 is missing */
		{ { { R, S("a"), S("c") }, { R, S("c"), N }, { R, S("c\x01"), FROM } }, 3,
		  S("a"), FROM, R, 0 },
		{ { { R, S("a"), S("c") }, { R, S("c"), S("c\x01") }, { R, S("c\x01"), FROM } }, 3,
		  S("a"), FROM, R, 1 },
		/* a single key next to a range: [a, c) + c = [a, c\0) */
		{ { { R, S("a"), S("c") }, { R, S("c"), N } }, 2, S("a"), S("c\0"), R, 1 },
		{ { { R, S("a"), S("c") }, { R, S("c"), N } }, 2, S("a"), S("c\0\0"), R, 0 },
		/* types do not mix */
		{ { { R, S("a"), S("c") }, { W, S("c"), S("e") } }, 2, S("a"), S("e"), R, 0 },
		{ { { R, S("a"), S("c") }, { RW, S("c"), S("e") } }, 2, S("a"), S("e"), R, 1 },
		/* no permission at all */
		{ { { R, S("x"), N } }, 0, S("x"), N, R, 0 },
		/* an inverted request range is checked as its first key */
		{ { { R, S("m"), N } }, 1, S("m"), S("a"), R, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_auth *a = enabled_auth();
		const uint8_t *key = (const uint8_t *)cases[i].key.p;
		const uint8_t *end = (const uint8_t *)cases[i].end.p;
		size_t klen = cases[i].key.n, elen = cases[i].end.n;
		int got;

		for (size_t k = 0; k < cases[i].nperms; k++) {
			const struct perm_def *p = &cases[i].perms[k];

			assert_int_equal(ms_auth_role_grant(a, "r", p->type, (const uint8_t *)p->key.p,
							    p->key.n, (const uint8_t *)p->end.p,
							    p->end.n),
					 0);
		}
		got = ms_auth_check_range(a, "u", key, klen, end, elen, cases[i].want);
		if ((got == 0) != cases[i].ok)
			fail_msg("case %zu: got %d, want %s", i, got, cases[i].ok ? "ok" : "denied");
		if (!cases[i].ok && got != -MS_AUTH_EDENIED)
			fail_msg("case %zu: denied with %d", i, got);
		/* the root role may do everything */
		assert_int_equal(ms_auth_check_range(a, "root", key, klen, end, elen, cases[i].want), 0);
		ms_auth_free(a);
	}
#undef R
#undef W
#undef RW
}

static void test_check_users(void **state)
{
	struct ms_auth *a = new_auth();

	(void)state;
	/* disabled: everything passes, even without a user */
	assert_int_equal(ms_auth_check_range(a, NULL, B("k"), NULL, 0, MS_AUTH_WRITE), 0);
	assert_int_equal(ms_auth_check_admin(a, NULL), 0);
	ms_auth_free(a);

	a = enabled_auth();
	assert_int_equal(ms_auth_check_range(a, NULL, B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EUSER_EMPTY);
	assert_int_equal(ms_auth_check_range(a, "", B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EUSER_EMPTY);
	assert_int_equal(ms_auth_check_range(a, "ghost", B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EDENIED);
	assert_int_equal(ms_auth_check_admin(a, NULL), -MS_AUTH_EUSER_EMPTY);
	assert_int_equal(ms_auth_check_admin(a, "ghost"), -MS_AUTH_EUSER_NOT_FOUND);
	assert_int_equal(ms_auth_check_admin(a, "u"), -MS_AUTH_EDENIED);
	assert_int_equal(ms_auth_check_admin(a, "root"), 0);
	/* a permission of a role goes with the role */
	assert_int_equal(ms_auth_role_grant(a, "r", MS_AUTH_READ, B("k"), NULL, 0), 0);
	assert_int_equal(ms_auth_check_range(a, "u", B("k"), NULL, 0, MS_AUTH_READ), 0);
	assert_int_equal(ms_auth_user_revoke_role(a, "u", "r"), 0);
	assert_int_equal(ms_auth_check_range(a, "u", B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EDENIED);
	assert_int_equal(ms_auth_user_grant_role(a, "u", "r"), 0);
	assert_int_equal(ms_auth_role_revoke(a, "r", B("k"), NULL, 0), 0);
	assert_int_equal(ms_auth_check_range(a, "u", B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EDENIED);
	/* granting root makes a user admin */
	assert_int_equal(ms_auth_user_grant_role(a, "u", "root"), 0);
	assert_int_equal(ms_auth_check_admin(a, "u"), 0);
	assert_int_equal(ms_auth_check_range(a, "u", B("any"), NULL, 0, MS_AUTH_WRITE), 0);
	ms_auth_free(a);
}

static void test_root_rules(void **state)
{
	struct ms_auth *a = new_auth();

	(void)state;
	assert_int_equal(ms_auth_enable(a), -MS_AUTH_EROOT_USER);
	assert_int_equal(ms_auth_user_add(a, "root", "pw", false), 0);
	assert_int_equal(ms_auth_enable(a), -MS_AUTH_EROOT_ROLE);
	assert_false(ms_auth_enabled(a));
	/* the root role need not be added to be granted */
	assert_int_equal(ms_auth_user_grant_role(a, "root", "root"), 0);
	assert_int_equal(ms_auth_enable(a), 0);
	assert_true(ms_auth_enabled(a));
	assert_int_equal(ms_auth_enable(a), 0);
	assert_int_equal(ms_auth_user_delete(a, "root"), -MS_AUTH_EMGMT);
	assert_int_equal(ms_auth_user_revoke_role(a, "root", "root"), -MS_AUTH_EMGMT);
	assert_int_equal(ms_auth_role_delete(a, "root"), -MS_AUTH_EMGMT);
	assert_int_equal(ms_auth_disable(a), 0);
	assert_false(ms_auth_enabled(a));
	assert_int_equal(ms_auth_disable(a), 0);
	/* disabled: root is an ordinary user */
	assert_int_equal(ms_auth_user_revoke_role(a, "root", "root"), 0);
	assert_int_equal(ms_auth_user_delete(a, "root"), 0);
	assert_int_equal(ms_auth_role_delete(a, "root"), -MS_AUTH_EROLE_NOT_FOUND);
	ms_auth_free(a);
}

static void test_mutation_errors(void **state)
{
	struct ms_auth *a = new_auth();
	char *const *roles;
	const struct ms_auth_perm *perms;
	uint64_t rev;
	size_t n;

	(void)state;
	static const struct {
		int op; /* 0 user add, 1 user delete, 2 grant role, 3 revoke role, 4 role add,
			 * 5 role delete, 6 revoke perm, 7 change password, 8 grant perm */
		const char *x, *y;
		int want;
	} cases[] = {
		{ 0, "", "pw", -MS_AUTH_EUSER_EMPTY },
		{ 0, "bob", "pw", 0 },
		{ 0, "bob", "pw", -MS_AUTH_EUSER_EXISTS },
		{ 0, "amy", "pw", 0 },
		{ 1, "ghost", NULL, -MS_AUTH_EUSER_NOT_FOUND },
		{ 4, "", NULL, -MS_AUTH_EROLE_EMPTY },
		{ 4, "dev", NULL, 0 },
		{ 4, "dev", NULL, -MS_AUTH_EROLE_EXISTS },
		{ 4, "ops", NULL, 0 },
		{ 2, "ghost", "dev", -MS_AUTH_EUSER_NOT_FOUND },
		{ 2, "bob", "nope", -MS_AUTH_EROLE_NOT_FOUND },
		{ 2, "bob", "ops", 0 },
		{ 2, "bob", "dev", 0 },
		{ 2, "bob", "dev", 0 }, /* twice: kept once */
		{ 3, "bob", "nope", -MS_AUTH_EROLE_NOT_GRANTED },
		{ 3, "ghost", "dev", -MS_AUTH_EUSER_NOT_FOUND },
		{ 6, "dev", "k", -MS_AUTH_EPERM_NOT_GRANTED },
		{ 6, "nope", "k", -MS_AUTH_EROLE_NOT_FOUND },
		{ 8, "nope", "k", -MS_AUTH_EROLE_NOT_FOUND },
		{ 8, "dev", "k", 0 },
		{ 8, "dev", "k", 0 }, /* same key and end: type replaced, one perm */
		{ 8, "dev", "a", 0 },
		{ 7, "ghost", "pw", -MS_AUTH_EUSER_NOT_FOUND },
		{ 7, "amy", "pw2", 0 },
		{ 5, "nope", NULL, -MS_AUTH_EROLE_NOT_FOUND },
		{ 5, "ops", NULL, 0 }, /* and bob loses it */
		{ 1, "amy", NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *x = cases[i].x, *y = cases[i].y;
		int got = -1;

		rev = ms_auth_revision(a);
		switch (cases[i].op) {
		case 0: got = ms_auth_user_add(a, x, y, false); break;
		case 1: got = ms_auth_user_delete(a, x); break;
		case 2: got = ms_auth_user_grant_role(a, x, y); break;
		case 3: got = ms_auth_user_revoke_role(a, x, y); break;
		case 4: got = ms_auth_role_add(a, x); break;
		case 5: got = ms_auth_role_delete(a, x); break;
		case 6: got = ms_auth_role_revoke(a, x, (const uint8_t *)y, strlen(y), NULL, 0); break;
		case 7: got = ms_auth_user_change_password(a, x, y); break;
		case 8:
			got = ms_auth_role_grant(a, x, MS_AUTH_WRITE, (const uint8_t *)y, strlen(y),
						 NULL, 0);
			break;
		}
		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
		/* a failure changes nothing, not even the revision */
		if (got && ms_auth_revision(a) != rev)
			fail_msg("case %zu: failed but the revision moved", i);
	}
	assert_int_equal(ms_auth_user_count(a), 1);
	assert_string_equal(ms_auth_user_name(a, 0), "bob");
	assert_int_equal(ms_auth_user_roles(a, "bob", &roles, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(roles[0], "dev");
	assert_int_equal(ms_auth_role_count(a), 1);
	assert_int_equal(ms_auth_role_perms(a, "dev", &perms, &n), 0);
	assert_int_equal(n, 2); /* sorted by key */
	assert_memory_equal(perms[0].key, "a", 1);
	assert_memory_equal(perms[1].key, "k", 1);
	ms_auth_free(a);
}

static void test_password(void **state)
{
	struct ms_auth *a = new_auth();
	char *h1, *h2, *h3;

	(void)state;
	assert_int_equal(ms_auth_user_add(a, "root", "rootpw", false), 0);
	assert_int_equal(ms_auth_check_password(a, "root", "rootpw"), -MS_AUTH_ENOT_ENABLED);
	assert_int_equal(ms_auth_user_grant_role(a, "root", "root"), 0);
	assert_int_equal(ms_auth_user_add(a, "nopw", "", true), 0);
	assert_int_equal(ms_auth_enable(a), 0);
	assert_int_equal(ms_auth_check_password(a, "root", "rootpw"), 0);
	assert_int_equal(ms_auth_check_password(a, "root", "rootpW"), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_check_password(a, "root", ""), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_check_password(a, "ghost", "rootpw"), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_check_password(a, "nopw", ""), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_user_change_password(a, "root", "new"), 0);
	assert_int_equal(ms_auth_check_password(a, "root", "rootpw"), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_check_password(a, "root", "new"), 0);
	/* the same check in two halves, as Authenticate makes it off the loop */
	assert_int_equal(ms_auth_password_hash_of(a, "root", &h1), 0);
	assert_int_equal(ms_auth_password_verify("new", h1), 1);
	assert_int_equal(ms_auth_password_verify("rootpw", h1), 0);
	free(h1);
	assert_int_equal(ms_auth_password_hash_of(a, "ghost", &h1), -MS_AUTH_EFAILED);
	assert_null(h1);
	assert_int_equal(ms_auth_password_hash_of(a, "nopw", &h1), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_disable(a), 0);
	assert_int_equal(ms_auth_password_hash_of(a, "root", &h1), -MS_AUTH_ENOT_ENABLED);
	ms_auth_free(a);

	/* bcrypt $2b$ at the given cost; the salt is a function of (name, revision) only */
	assert_int_equal(ms_auth_password_hash("pw", "alice", 7, COST, &h1), 0);
	assert_int_equal(ms_auth_password_hash("pw", "alice", 7, COST, &h2), 0);
	assert_int_equal(ms_auth_password_hash("pw", "alice", 8, COST, &h3), 0);
	assert_memory_equal(h1, "$2b$04$", 7);
	assert_string_equal(h1, h2);
	assert_string_not_equal(h1, h3);
	assert_int_equal(ms_auth_password_verify("pw", h3), 1);
	assert_int_equal(ms_auth_password_verify("px", h3), 0);
	free(h1);
	free(h2);
	free(h3);
	assert_int_equal(ms_auth_password_hash("pw", "alice", 7, 3, &h1), -EINVAL);
	assert_null(ms_auth_new(3, TTL_MS));
	assert_null(ms_auth_new(32, TTL_MS));
}

/* Two stores fed the same mutations end with the same state: no clock, no randomness. */
static void test_deterministic(void **state)
{
	struct ms_auth *a = new_auth(), *b = new_auth();
	char *ha, *hb;

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct ms_auth *x = k ? b : a;

		assert_int_equal(ms_auth_user_add(x, "root", "pw", false), 0);
		assert_int_equal(ms_auth_user_grant_role(x, "root", "root"), 0);
		assert_int_equal(ms_auth_enable(x), 0);
		assert_int_equal(ms_auth_user_change_password(x, "root", "pw2"), 0);
	}
	assert_int_equal(ms_auth_revision(a), ms_auth_revision(b));
	/* the hash the store made is the one derived from the revision of the change */
	assert_int_equal(ms_auth_password_hash("pw2", "root", ms_auth_revision(a) - 1, COST, &ha), 0);
	assert_int_equal(ms_auth_password_hash("pw2", "root", ms_auth_revision(b) - 1, COST, &hb), 0);
	assert_string_equal(ha, hb);
	assert_int_equal(ms_auth_check_password(a, "root", "pw2"), 0);
	assert_int_equal(ms_auth_check_password(b, "root", "pw2"), 0);
	free(ha);
	free(hb);
	ms_auth_free(a);
	ms_auth_free(b);
}

static void test_tokens(void **state)
{
	struct ms_auth_tokens *t = ms_auth_tokens_new(1000);
	char t1[MS_AUTH_TOKEN_MAX], t2[MS_AUTH_TOKEN_MAX], t3[MS_AUTH_TOKEN_MAX];
	const char *user;

	(void)state;
	assert_non_null(t);
	assert_int_equal(ms_auth_tokens_issue(t, "alice", 0, t1), 0);
	assert_int_equal(ms_auth_tokens_issue(t, "alice", 0, t2), 0);
	assert_int_equal(ms_auth_tokens_issue(t, "bob", 0, t3), 0);
	assert_string_not_equal(t1, t2);
	assert_non_null(strchr(t1, '.'));
	assert_int_equal(ms_auth_tokens_count(t), 3);
	assert_int_equal(ms_auth_tokens_lookup(t, "nope", 0, &user), -ENOENT);
	assert_int_equal(ms_auth_tokens_lookup(t, t1, 999, &user), 0);
	assert_string_equal(user, "alice");
	/* each use extends the TTL: t1 was used at 999, t2 not since 0 */
	assert_int_equal(ms_auth_tokens_lookup(t, t2, 1000, &user), -ENOENT);
	assert_int_equal(ms_auth_tokens_lookup(t, t1, 1998, &user), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, t1, 2997, &user), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, t1, 3997, &user), -ENOENT);
	assert_int_equal(ms_auth_tokens_lookup(t, t1, 3998, &user), -ENOENT);
	assert_int_equal(ms_auth_tokens_count(t), 1); /* t3 not looked at yet */
	ms_auth_tokens_drop_user(t, "bob");
	assert_int_equal(ms_auth_tokens_count(t), 0);
	ms_auth_tokens_free(t);
}

/* The store drops tokens a change makes invalid: user delete, password change, disable. */
static void test_tokens_invalidated(void **state)
{
	struct ms_auth *a = enabled_auth();
	struct ms_auth_tokens *t = ms_auth_tokens(a);
	char tr[MS_AUTH_TOKEN_MAX], tu[MS_AUTH_TOKEN_MAX];
	const char *user;

	(void)state;
	/* default TTL of simple tokens: 300 s */
	assert_int_equal(MS_AUTH_TOKEN_DEFAULT_TTL_MS, 300000);
	assert_int_equal(ms_auth_tokens_issue(t, "root", 0, tr), 0);
	assert_int_equal(ms_auth_tokens_issue(t, "u", 0, tu), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, tu, TTL_MS - 1, &user), 0);
	assert_int_equal(ms_auth_user_change_password(a, "u", "x"), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, tu, 0, &user), -ENOENT);
	assert_int_equal(ms_auth_tokens_lookup(t, tr, 0, &user), 0);
	assert_int_equal(ms_auth_tokens_issue(t, "u", 0, tu), 0);
	assert_int_equal(ms_auth_user_delete(a, "u"), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, tu, 0, &user), -ENOENT);
	assert_int_equal(ms_auth_disable(a), 0);
	assert_int_equal(ms_auth_tokens_lookup(t, tr, 0, &user), -ENOENT);
	ms_auth_free(a);
}

/* A snapshot dump loaded elsewhere gives the same replicated state, without the tokens. */
static void test_snapshot(void **state)
{
	struct ms_auth *a = enabled_auth(), *b = new_auth();
	struct ms_buf buf = { 0 };
	char tok[MS_AUTH_TOKEN_MAX];
	const struct ms_auth_perm *perms;
	char *const *roles;
	const char *user;
	size_t n;

	(void)state;
	assert_int_equal(ms_auth_role_grant(a, "r", MS_AUTH_READWRITE, B("p/"), B("p0")), 0);
	assert_int_equal(ms_auth_role_grant(a, "r", MS_AUTH_WRITE, B("k"), NULL, 0), 0);
	assert_int_equal(ms_auth_role_add(a, "empty"), 0);
	assert_int_equal(ms_auth_user_add(a, "nopw", "", true), 0);
	assert_int_equal(ms_auth_dump(a, &buf), 0);
	assert_int_equal(ms_auth_tokens_issue(ms_auth_tokens(b), "x", 0, tok), 0);
	assert_int_equal(ms_auth_load(b, buf.data, buf.len), 0);
	assert_true(ms_auth_enabled(b));
	assert_int_equal(ms_auth_revision(b), ms_auth_revision(a));
	assert_int_equal(ms_auth_tokens_lookup(ms_auth_tokens(b), tok, 0, &user), -ENOENT);
	assert_int_equal(ms_auth_user_count(b), 3);
	assert_int_equal(ms_auth_role_count(b), 2);
	assert_int_equal(ms_auth_check_password(b, "u", "upw"), 0);
	assert_int_equal(ms_auth_check_password(b, "nopw", ""), -MS_AUTH_EFAILED);
	assert_int_equal(ms_auth_check_admin(b, "root"), 0);
	assert_int_equal(ms_auth_check_range(b, "u", B("p/x"), NULL, 0, MS_AUTH_READ), 0);
	assert_int_equal(ms_auth_check_range(b, "u", B("k"), NULL, 0, MS_AUTH_READ),
			 -MS_AUTH_EDENIED);
	assert_int_equal(ms_auth_user_roles(b, "u", &roles, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ms_auth_role_perms(b, "r", &perms, &n), 0);
	assert_int_equal(n, 2);
	/* malformed input changes nothing */
	assert_int_equal(ms_auth_load(b, (const uint8_t *)"\xff\xff", 2), -EINVAL);
	assert_int_equal(ms_auth_user_count(b), 3);
	/* an empty section is the initial state */
	assert_int_equal(ms_auth_load(b, NULL, 0), 0);
	assert_false(ms_auth_enabled(b));
	assert_int_equal(ms_auth_user_count(b), 0);
	assert_int_equal(ms_auth_revision(b), 1);
	ms_buf_free(&buf);
	ms_auth_free(a);
	ms_auth_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_table),
		cmocka_unit_test(test_check_users),
		cmocka_unit_test(test_root_rules),
		cmocka_unit_test(test_mutation_errors),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_tokens_invalidated),
		cmocka_unit_test(test_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
