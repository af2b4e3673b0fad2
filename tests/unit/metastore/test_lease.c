/* Unit tests for the lease table (metastore/store/lease.c), including its probe calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/lease.h"
#include "ms_probes.h"

/* --- probe recorder ---------------------------------------------------------------------
 * The test defines the lease probes itself, so the linker never pulls metastore's empty
 * ones and every call the table makes lands here. */

static char probe_log[8192];
static size_t probe_off;
static bool probe_recording;
static uint64_t probe_ops[MS_LEASE_OP_COUNT][MS_LEASE_STATUS_COUNT]; /* always counted */
static uint32_t probe_active;

#define LEASE_NAME_(id, name) name,
static const char *const op_names[] = { MS_LEASE_OPS(LEASE_NAME_) };
static const char *const status_names[] = { MS_LEASE_STATUSES(LEASE_NAME_) };
#undef LEASE_NAME_

static void probe_reset(void)
{
	probe_log[0] = 0;
	probe_off = 0;
	probe_recording = true;
}

static void probe_stop(void)
{
	probe_recording = false;
}

static void probe_add(const char *fmt, ...)
{
	va_list ap;

	if (!probe_recording)
		return;
	va_start(ap, fmt);
	probe_off += (size_t)vsnprintf(probe_log + probe_off, sizeof(probe_log) - probe_off, fmt, ap);
	va_end(ap);
	assert_true(probe_off < sizeof(probe_log));
}

void ms_probe_lease_op(uint32_t op, int64_t lease_id, uint32_t status)
{
	assert_true(op < MS_LEASE_OP_COUNT);
	assert_true(status < MS_LEASE_STATUS_COUNT);
	probe_ops[op][status]++;
	probe_add("%s(%lld):%s ", op_names[op], (long long)lease_id, status_names[status]);
}

void ms_probe_lease_active(uint32_t count)
{
	probe_active = count;
	probe_add("active(%u) ", count);
}

/* --- helpers ------------------------------------------------------------------------- */

#define B(s) (const uint8_t *)(s), strlen(s)

static struct ms_lease_table *table(void)
{
	struct ms_lease_table *t = ms_lease_table_new();

	assert_non_null(t);
	ms_lease_table_seed(t, 1);
	return t;
}

static void grant(struct ms_lease_table *t, int64_t id, int64_t ttl, int64_t now)
{
	int64_t got = 0;

	assert_int_equal(ms_lease_grant(t, id, ttl, now, &got, NULL), 0);
	assert_int_equal(got, id);
}

/* "a,b,c\x00" */
static char *render_keys(const struct ms_lease_keys *k)
{
	static char buf[1 << 16];
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < k->n; i++) {
		if (i)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",");
		for (size_t j = 0; j < k->v[i].len; j++) {
			uint8_t c = k->v[i].key[j];

			if (c >= 0x20 && c < 0x7f)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%c", c);
			else
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\\x%02x", c);
		}
		assert_true(off < sizeof(buf));
	}
	return buf;
}

static char *keys_of(struct ms_lease_table *t, int64_t id)
{
	static char err[32];
	struct ms_lease_keys k;
	char *out;
	int rc = ms_lease_keys(t, id, &k);

	if (rc) {
		snprintf(err, sizeof(err), "ERR%d", rc);
		return err;
	}
	out = render_keys(&k);
	ms_lease_keys_release(&k);
	return out;
}

/* "id id id" of the due leases */
static char *render_expired(struct ms_lease_table *t, int64_t now, size_t max)
{
	static char buf[4096];
	int64_t ids[64];
	size_t off = 0, n;

	assert_true(max <= 64);
	n = ms_lease_expired(t, now, ids, max);
	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%lld", i ? " " : "",
					(long long)ids[i]);
	return buf;
}

/* --- tests --------------------------------------------------------------------------- */

/* Steps run in order on one table at now = 1000. */
static void test_grant(void **state)
{
	static const struct {
		int64_t id, ttl;
		int want_rc;
		int64_t want_ttl;
	} steps[] = {
		{ 100, 10, 0, 10 },
		{ 100, 20, -EEXIST, 0 },
		{ 100, MS_LEASE_MAX_TTL + 1, -EINVAL, 0 }, /* TTL checked before existence */
		{ 101, 1, 0, MS_LEASE_MIN_TTL },
		{ 102, 0, 0, MS_LEASE_MIN_TTL },
		{ 103, -5, 0, MS_LEASE_MIN_TTL },
		{ 104, MS_LEASE_MIN_TTL, 0, MS_LEASE_MIN_TTL },
		{ 105, MS_LEASE_MAX_TTL, 0, MS_LEASE_MAX_TTL },
		{ 106, MS_LEASE_MAX_TTL + 1, -EINVAL, 0 },
		{ -1, 10, -EINVAL, 0 },
		{ INT64_MAX, 3, 0, 3 },
	};
	struct ms_lease_table *t = table();
	size_t granted = 0;

	(void)state;
	probe_reset();
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t id = -7, ttl = -7, g = -1, rem = -1;
		int rc = ms_lease_grant(t, steps[i].id, steps[i].ttl, 1000, &id, &ttl);

		if (rc != steps[i].want_rc)
			fail_msg("step %zu: rc %d want %d", i, rc, steps[i].want_rc);
		if (rc) {
			assert_int_equal(id, -7); /* untouched on failure */
			assert_int_equal(ttl, -7);
			continue;
		}
		granted++;
		assert_int_equal(id, steps[i].id);
		assert_int_equal(ttl, steps[i].want_ttl);
		assert_int_equal(ms_lease_ttl(t, id, 1000, &g, &rem), 0);
		assert_int_equal(g, steps[i].want_ttl);
		assert_int_equal(rem, steps[i].want_ttl);
	}
	probe_stop();
	assert_string_equal(probe_log,
			    "grant(100):ok active(1) grant(100):exists grant(100):invalid "
			    "grant(101):ok active(2) grant(102):ok active(3) grant(103):ok active(4) "
			    "grant(104):ok active(5) grant(105):ok active(6) grant(106):invalid "
			    "grant(-1):invalid grant(9223372036854775807):ok active(7) ");
	assert_int_equal(ms_lease_count(t), granted);
	/* the first grant kept its TTL despite the duplicate */
	int64_t g = 0;
	assert_int_equal(ms_lease_ttl(t, 100, 1000, &g, NULL), 0);
	assert_int_equal(g, 10);
	ms_lease_table_free(t);
	ms_lease_table_free(NULL);
}

static void auto_ids(uint64_t seed, int64_t first_explicit, int64_t *out, size_t n)
{
	struct ms_lease_table *t = ms_lease_table_new();

	assert_non_null(t);
	ms_lease_table_seed(t, seed);
	if (first_explicit)
		grant(t, first_explicit, 5, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ms_lease_grant(t, 0, 5, 0, &out[i], NULL), 0);
		assert_true(out[i] > 0);
		assert_true(ms_lease_exists(t, out[i]));
		for (size_t j = 0; j < i; j++)
			assert_true(out[i] != out[j]);
	}
	assert_int_equal(ms_lease_count(t), n + (first_explicit != 0));
	ms_lease_table_free(t);
}

static void test_auto_ids(void **state)
{
	int64_t a[8], b[8], c[7], d[8];

	(void)state;
	auto_ids(7, 0, a, 8);
	auto_ids(7, 0, b, 8);
	assert_memory_equal(a, b, sizeof(a)); /* seeded: deterministic */
	/* an id already in use is skipped: the sequence goes on with the next draw */
	auto_ids(7, a[0], c, 7);
	assert_memory_equal(c, a + 1, sizeof(c));
	auto_ids(8, 0, d, 8);
	assert_true(memcmp(a, d, sizeof(a)) != 0);

	/* two unseeded tables draw from the system's random source */
	struct ms_lease_table *t1 = ms_lease_table_new(), *t2 = ms_lease_table_new();
	int64_t i1 = 0, i2 = 0;

	assert_int_equal(ms_lease_grant(t1, 0, 5, 0, &i1, NULL), 0);
	assert_int_equal(ms_lease_grant(t2, 0, 5, 0, &i2, NULL), 0);
	assert_true(i1 > 0 && i2 > 0 && i1 != i2);
	ms_lease_table_free(t1);
	ms_lease_table_free(t2);
}

/* Lease 9 granted with TTL 10 at now = 1000 expires at 11000. */
static void test_ttl_remaining(void **state)
{
	static const struct {
		int64_t now, want;
	} rows[] = {
		{ 1000, 10 }, { 1001, 9 },   { 1999, 9 },   { 2000, 9 },   { 2001, 8 },
		{ 10000, 1 }, { 10001, 0 },  { 10999, 0 },  { 11000, 0 },  { 11999, 0 },
		{ 12000, -1 }, { 13500, -2 }, { 0, 11 },
	};
	struct ms_lease_table *t = table();

	(void)state;
	grant(t, 9, 10, 1000);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t g = 0, rem = 99;

		assert_int_equal(ms_lease_ttl(t, 9, rows[i].now, &g, &rem), 0);
		assert_int_equal(g, 10);
		if (rem != rows[i].want)
			fail_msg("now %lld: remaining %lld want %lld", (long long)rows[i].now,
				 (long long)rem, (long long)rows[i].want);
	}
	assert_int_equal(ms_lease_ttl(t, 8, 1000, NULL, NULL), -ENOENT);
	ms_lease_table_free(t);
}

static void test_renew(void **state)
{
	struct ms_lease_table *t = table();
	int64_t ttl = 0, rem = 0;

	(void)state;
	grant(t, 1, 10, 0);
	grant(t, 2, 3, 0);
	probe_reset();
	assert_int_equal(ms_lease_renew(t, 1, 5000, &ttl), 0);
	assert_int_equal(ttl, 10);
	assert_int_equal(ms_lease_ttl(t, 1, 5000, NULL, &rem), 0);
	assert_int_equal(rem, 10);
	assert_int_equal(ms_lease_ttl(t, 1, 6500, NULL, &rem), 0);
	assert_int_equal(rem, 8);
	assert_int_equal(ms_lease_next_deadline(t), 3000);
	/* at its expiry instant a lease is expired: renew says not found, changes nothing */
	assert_int_equal(ms_lease_renew(t, 2, 3000, &ttl), -ENOENT);
	assert_int_equal(ms_lease_ttl(t, 2, 3000, NULL, &rem), 0);
	assert_int_equal(rem, 0);
	assert_int_equal(ms_lease_renew(t, 2, 2999, NULL), 0);
	assert_int_equal(ms_lease_next_deadline(t), 5999);
	assert_int_equal(ms_lease_renew(t, 77, 0, &ttl), -ENOENT);
	probe_stop();
	assert_string_equal(probe_log,
			    "renew(1):ok renew(2):not_found renew(2):ok renew(77):not_found ");
	assert_string_equal(render_expired(t, 5998, 8), "");
	assert_string_equal(render_expired(t, 5999, 8), "2");
	assert_string_equal(render_expired(t, 15000, 8), "2 1");
	ms_lease_table_free(t);
}

static uint64_t storm_rng = 99;

static uint32_t storm_rand(uint32_t n)
{
	storm_rng = storm_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((storm_rng >> 33) % n);
}

static int cmp_expiry_id(const void *a, const void *b)
{
	const int64_t *x = a, *y = b; /* {expiry, id} */

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Keep-alives without anyone asking for expired leases: the deadline heap drops its stale
 * entries by itself and keeps the live ones, also the one of a lease nobody renews. */
static void test_keepalive_storm(void **state)
{
	enum { LEASES = 8, RENEWS = 9000 };
	int64_t want[LEASES][2]; /* {expiry, id} */
	struct ms_lease_table *t = table();
	char buf[256];
	size_t off = 0;

	(void)state;
	for (int64_t id = 1; id <= LEASES; id++) {
		int64_t ttl = 2 + (id * 7) % 11;

		grant(t, id, ttl, 0);
		want[id - 1][0] = ttl * 1000;
		want[id - 1][1] = id;
	}
	for (int64_t now = 0; now < RENEWS; now++) {
		int64_t id = storm_rand(LEASES - 1) + 1; /* lease 8 is never renewed */

		/* leases stop their keep-alives one after the other, so live entries of
		 * different ages sit between stale ones */
		if (now >= ((id * 5) % LEASES + 1) * (RENEWS / LEASES))
			continue;
		assert_int_equal(ms_lease_renew(t, id, now, NULL), 0);
		want[id - 1][0] = now + (2 + (id * 7) % 11) * 1000;
	}
	qsort(want, LEASES, sizeof(want[0]), cmp_expiry_id);
	buf[0] = 0;
	for (int i = 0; i < LEASES; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%lld", i ? " " : "",
					(long long)want[i][1]);
	assert_int_equal(ms_lease_next_deadline(t), want[0][0]);
	assert_string_equal(render_expired(t, want[0][0] - 1, 8), "");
	assert_string_equal(render_expired(t, INT64_MAX, 8), buf);
	ms_lease_table_free(t);
}

static void test_expired_order(void **state)
{
	/* id, ttl, granted at */
	static const int64_t leases[][3] = {
		{ 5, 10, 0 },    /* 10000 */
		{ 3, 4, 1000 },  /* 5000 */
		{ 8, 4, 1000 },  /* 5000, ties by id after 3 */
		{ 1, 20, 0 },    /* 20000 */
		{ 4, 2, 500 },   /* 2500 */
		{ 6, 1, 9000 },  /* min TTL: 11000 */
	};
	struct ms_lease_table *t = table();
	struct ms_lease_keys k;

	(void)state;
	assert_int_equal(ms_lease_next_deadline(t), MS_LEASE_NO_DEADLINE);
	assert_string_equal(render_expired(t, INT64_MAX, 8), "");
	for (size_t i = 0; i < sizeof(leases) / sizeof(leases[0]); i++)
		grant(t, leases[i][0], leases[i][1], leases[i][2]);
	assert_int_equal(ms_lease_next_deadline(t), 2500);
	assert_string_equal(render_expired(t, 2499, 8), "");
	assert_string_equal(render_expired(t, 2500, 8), "4");
	assert_string_equal(render_expired(t, 10000, 8), "4 3 8 5");
	assert_string_equal(render_expired(t, 10000, 2), "4 3");    /* max respected */
	assert_string_equal(render_expired(t, 10000, 8), "4 3 8 5"); /* still due */
	assert_string_equal(render_expired(t, INT64_MAX, 8), "4 3 8 5 6 1");

	/* a renew moves lease 3 behind 5; a revoke takes 4 out */
	assert_int_equal(ms_lease_renew(t, 3, 2000, NULL), 0); /* 6000 */
	assert_int_equal(ms_lease_revoke(t, 4, NULL), 0);
	assert_int_equal(ms_lease_next_deadline(t), 5000);
	assert_string_equal(render_expired(t, 10000, 8), "8 3 5");

	probe_reset();
	assert_int_equal(ms_lease_revoke_expired(t, 8, &k), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(ms_lease_revoke_expired(t, 8, &k), -ENOENT);
	probe_stop();
	assert_string_equal(probe_log, "expire(8):ok active(4) expire(8):not_found ");
	assert_int_equal(ms_lease_next_deadline(t), 6000);
	assert_string_equal(render_expired(t, 11000, 8), "3 5 6");

	/* re-granting a revoked id starts a fresh deadline, stale entries stay dead */
	grant(t, 8, 50, 10000);
	assert_string_equal(render_expired(t, 59999, 8), "3 5 6 1");
	assert_string_equal(render_expired(t, 60000, 8), "3 5 6 1 8");
	ms_lease_table_free(t);
}

static void test_revoke_keys(void **state)
{
	struct ms_lease_table *t = table();
	struct ms_lease_keys k = { 0 };

	(void)state;
	grant(t, 1, 10, 0);
	grant(t, 2, 10, 0);
	assert_int_equal(ms_lease_attach(t, 1, B("b")), 0);
	assert_int_equal(ms_lease_attach(t, 1, B("a")), 0);
	assert_int_equal(ms_lease_attach(t, 1, (const uint8_t *)"c\0x", 3), 0);
	assert_int_equal(ms_lease_attach(t, 1, B("c")), 0);
	assert_int_equal(ms_lease_attach(t, 1, B("ab")), 0);
	assert_int_equal(ms_lease_attach(t, 2, B("d")), 0);
	assert_string_equal(keys_of(t, 1), "a,ab,b,c,c\\x00x");

	probe_reset();
	assert_int_equal(ms_lease_revoke(t, 1, &k), 0);
	probe_stop();
	assert_string_equal(probe_log, "revoke(1):ok active(1) ");
	assert_string_equal(render_keys(&k), "a,ab,b,c,c\\x00x");
	ms_lease_keys_release(&k);
	ms_lease_keys_release(&k); /* released twice is fine */
	assert_int_equal(ms_lease_key_owner(t, B("a")), 0);
	assert_int_equal(ms_lease_key_owner(t, B("d")), 2);
	assert_int_equal(ms_lease_revoke(t, 1, &k), -ENOENT);
	assert_int_equal(k.n, 0);
	assert_null(k.v);
	assert_false(ms_lease_exists(t, 1));
	assert_string_equal(keys_of(t, 1), "ERR-2");
	/* the key index forgot the revoked keys: they attach anew */
	assert_int_equal(ms_lease_attach(t, 2, B("a")), 0);
	assert_string_equal(keys_of(t, 2), "a,d");
	assert_int_equal(ms_lease_revoke(t, 2, NULL), 0); /* keys freed by the table */
	assert_int_equal(ms_lease_count(t), 0);
	ms_lease_table_free(t);
}

static void test_attach_detach(void **state)
{
	/* op: 'a' attach, 'd' detach; want: rc, then keys of leases 1 and 2 */
	static const struct {
		char op;
		int64_t id;
		const char *key;
		int want_rc;
		const char *want1, *want2;
	} steps[] = {
		{ 'a', 1, "k", 0, "k", "" },
		{ 'a', 1, "k", 0, "k", "" },  /* attached once */
		{ 'a', 1, "j", 0, "j,k", "" },
		{ 'a', 2, "k", 0, "j", "k" }, /* a key moves between leases */
		{ 'a', 3, "x", -ENOENT, "j", "k" },
		{ 'a', 1, "", -EINVAL, "j", "k" },
		{ 'd', 1, "k", -ENOENT, "j", "k" }, /* k is on lease 2 */
		{ 'd', 0, "nope", -ENOENT, "j", "k" },
		{ 'd', 0, "k", 0, "j", "" },
		{ 'd', 2, "k", -ENOENT, "j", "" },
		{ 'a', 2, "m", 0, "j", "m" },
		{ 'a', 2, "n", 0, "j", "m,n" },
		{ 'a', 2, "o", 0, "j", "m,n,o" },
		{ 'd', 2, "m", 0, "j", "n,o" }, /* swap-remove keeps the index right */
		{ 'a', 1, "o", 0, "j,o", "n" },
		{ 'd', 1, "j", 0, "o", "n" },
		{ 'd', 1, "o", 0, "", "n" },
	};
	struct ms_lease_table *t = table();

	(void)state;
	grant(t, 1, 10, 0);
	grant(t, 2, 10, 0);
	probe_reset();
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = steps[i].op == 'a' ? ms_lease_attach(t, steps[i].id, B(steps[i].key))
					    : ms_lease_detach(t, steps[i].id, B(steps[i].key));

		if (rc != steps[i].want_rc)
			fail_msg("step %zu: rc %d want %d", i, rc, steps[i].want_rc);
		if (strcmp(keys_of(t, 1), steps[i].want1) || strcmp(keys_of(t, 2), steps[i].want2))
			fail_msg("step %zu: got \"%s\" \"%s\"", i, keys_of(t, 1), keys_of(t, 2));
	}
	probe_stop();
	assert_string_equal(probe_log, ""); /* attach and detach are not lease operations */
	assert_int_equal(ms_lease_key_owner(t, B("n")), 2);
	assert_int_equal(ms_lease_key_owner(t, B("j")), 0);
	assert_int_equal(ms_lease_attach(t, 1, NULL, 3), -EINVAL);
	assert_int_equal(ms_lease_detach(t, 0, NULL, 3), -ENOENT);
	ms_lease_table_free(t);
}

static void test_list(void **state)
{
	struct ms_lease_table *t = table();
	int64_t *ids = (int64_t *)1;
	size_t n = 9;

	(void)state;
	assert_int_equal(ms_lease_list(t, &ids, &n), 0);
	assert_null(ids);
	assert_int_equal(n, 0);
	for (int64_t id = 40; id > 0; id -= 3)
		grant(t, id, 5, 0);
	assert_int_equal(ms_lease_revoke(t, 22, NULL), 0);
	assert_int_equal(ms_lease_list(t, &ids, &n), 0);
	assert_int_equal(n, ms_lease_count(t));
	char buf[256];
	size_t off = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%lld ", (long long)ids[i]);
	assert_string_equal(buf, "1 4 7 10 13 16 19 25 28 31 34 37 40 ");
	free(ids);
	ms_lease_table_free(t);
}

/* --- random operations against a reference model -------------------------------------- */

#define M_SLOTS 10000 /* leases */
#define M_KEYS 3000
#define M_OPS 200000

struct m_lease {
	int64_t id; /* 0: slot empty */
	int64_t ttl, expiry;
};

static uint64_t m_rng = 12345;

static uint32_t m_rand(uint32_t n)
{
	m_rng = m_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((m_rng >> 33) % n);
}

static int m_cmp_due(const void *a, const void *b)
{
	const struct m_lease *x = a, *y = b;

	if (x->expiry != y->expiry)
		return x->expiry < y->expiry ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* The model's keys of slot s in the table's order: "k%05d" sorts like the number. */
static char *m_keys(const int *owner, int s)
{
	static char buf[M_KEYS * 8];
	size_t off = 0;

	buf[0] = 0;
	for (int k = 0; k < M_KEYS; k++)
		if (owner[k] == s)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%sk%05d",
						off ? "," : "", k);
	return buf;
}

/* Compares expired() with the model, then revokes what is due like a leader would. */
static void m_check_expired(struct ms_lease_table *t, struct m_lease *m, int *owner, int64_t now)
{
	static struct m_lease due[M_SLOTS];
	static int64_t got[M_SLOTS];
	size_t nd = 0, ng;
	int64_t next = MS_LEASE_NO_DEADLINE;

	for (int s = 0; s < M_SLOTS; s++) {
		if (!m[s].id)
			continue;
		if (m[s].expiry <= now)
			due[nd++] = m[s];
		if (m[s].expiry < next)
			next = m[s].expiry;
	}
	assert_int_equal(ms_lease_next_deadline(t), next);
	qsort(due, nd, sizeof(*due), m_cmp_due);
	ng = ms_lease_expired(t, now, got, M_SLOTS);
	assert_int_equal(ng, nd);
	for (size_t i = 0; i < nd; i++)
		assert_int_equal(got[i], due[i].id);
	for (int s = 0; s < M_SLOTS; s++) {
		struct ms_lease_keys k;

		if (!m[s].id || m[s].expiry > now)
			continue;
		assert_int_equal(ms_lease_revoke_expired(t, m[s].id, &k), 0);
		assert_string_equal(render_keys(&k), m_keys(owner, s));
		ms_lease_keys_release(&k);
		for (int j = 0; j < M_KEYS; j++)
			if (owner[j] == s)
				owner[j] = -1;
		m[s].id = 0;
	}
}

static void test_against_model(void **state)
{
	static struct m_lease m[M_SLOTS];
	static int owner[M_KEYS]; /* slot, -1: none */
	struct ms_lease_table *t = table();
	int64_t now = 0;
	size_t live = 0;
	uint64_t ops_before[MS_LEASE_OP_COUNT][MS_LEASE_STATUS_COUNT];
	uint64_t want_ops[MS_LEASE_OP_COUNT][MS_LEASE_STATUS_COUNT] = { { 0 } };

	(void)state;
	memcpy(ops_before, probe_ops, sizeof(ops_before));
	for (int k = 0; k < M_KEYS; k++)
		owner[k] = -1;
	/* fill first, so the table holds about 10k leases while the mix runs */
	for (int s = 0; s < M_SLOTS; s++) {
		m[s] = (struct m_lease){ .id = s + 1, .ttl = 30 + m_rand(600) };
		m[s].expiry = now + m[s].ttl * 1000;
		grant(t, s + 1, m[s].ttl, now);
		want_ops[MS_LEASE_OP_GRANT][MS_LEASE_STATUS_OK]++;
	}
	for (long op = 0; op < M_OPS; op++) {
		int s = (int)m_rand(M_SLOTS);
		int k = (int)m_rand(M_KEYS);
		uint32_t r = m_rand(100);
		char key[16];
		int64_t got = 0, rem = 0;
		int rc;

		snprintf(key, sizeof(key), "k%05d", k);
		now += m_rand(40);
		if (r < 10) { /* grant: explicit id = slot + 1, or a random id in an empty slot */
			int64_t ttl = (int64_t)m_rand(700) - 5;
			bool auto_id = m_rand(4) == 0 && !m[s].id;
			int64_t id = auto_id ? 0 : (m[s].id ? m[s].id : s + 1);
			rc = ms_lease_grant(t, id, ttl, now, &got, NULL);
			if (m[s].id && !auto_id) {
				assert_int_equal(rc, -EEXIST);
				want_ops[MS_LEASE_OP_GRANT][MS_LEASE_STATUS_EXISTS]++;
				continue;
			}
			assert_int_equal(rc, 0);
			want_ops[MS_LEASE_OP_GRANT][MS_LEASE_STATUS_OK]++;
			if (!auto_id)
				assert_int_equal(got, id);
			m[s].id = got;
			m[s].ttl = ttl < MS_LEASE_MIN_TTL ? MS_LEASE_MIN_TTL : ttl;
			m[s].expiry = now + m[s].ttl * 1000;
		} else if (r < 15) { /* revoke */
			struct ms_lease_keys kk;
			int64_t id = m[s].id ? m[s].id : s + 1;
			rc = ms_lease_revoke(t, id, &kk);
			if (!m[s].id) {
				assert_int_equal(rc, -ENOENT);
				want_ops[MS_LEASE_OP_REVOKE][MS_LEASE_STATUS_NOT_FOUND]++;
				continue;
			}
			assert_int_equal(rc, 0);
			want_ops[MS_LEASE_OP_REVOKE][MS_LEASE_STATUS_OK]++;
			assert_string_equal(render_keys(&kk), m_keys(owner, s));
			ms_lease_keys_release(&kk);
			for (int j = 0; j < M_KEYS; j++)
				if (owner[j] == s)
					owner[j] = -1;
			m[s].id = 0;
		} else if (r < 40) { /* renew */
			int64_t id = m[s].id ? m[s].id : s + 1;
			rc = ms_lease_renew(t, id, now, &got);
			if (!m[s].id || m[s].expiry <= now) {
				assert_int_equal(rc, -ENOENT);
				want_ops[MS_LEASE_OP_RENEW][MS_LEASE_STATUS_NOT_FOUND]++;
				continue;
			}
			assert_int_equal(rc, 0);
			want_ops[MS_LEASE_OP_RENEW][MS_LEASE_STATUS_OK]++;
			assert_int_equal(got, m[s].ttl);
			m[s].expiry = now + m[s].ttl * 1000;
		} else if (r < 70) { /* attach */
			rc = ms_lease_attach(t, m[s].id ? m[s].id : s + 1, B(key));
			assert_int_equal(rc, m[s].id ? 0 : -ENOENT);
			if (!rc)
				owner[k] = s;
		} else if (r < 85) { /* detach, from the named lease or from any */
			bool any = m_rand(2);
			int64_t id = any ? 0 : (m[s].id ? m[s].id : s + 1);
			bool held = owner[k] >= 0 && (any || owner[k] == s);
			rc = ms_lease_detach(t, id, B(key));
			assert_int_equal(rc, held ? 0 : -ENOENT);
			if (held)
				owner[k] = -1;
		} else if (r < 97) { /* time to live, key owner */
			int64_t g = 0;
			rc = ms_lease_ttl(t, m[s].id ? m[s].id : s + 1, now, &g, &rem);
			assert_int_equal(rc, m[s].id ? 0 : -ENOENT);
			if (!rc) {
				assert_int_equal(g, m[s].ttl);
				assert_int_equal(rem, (m[s].expiry - now) / 1000);
				if (op % 64 == 0)
					assert_string_equal(keys_of(t, m[s].id), m_keys(owner, s));
			}
			assert_int_equal(ms_lease_key_owner(t, B(key)),
					 owner[k] >= 0 ? m[owner[k]].id : 0);
		} else {
			size_t before = 0, after = 0;
			for (int j = 0; j < M_SLOTS; j++)
				before += m[j].id != 0;
			m_check_expired(t, m, owner, now);
			for (int j = 0; j < M_SLOTS; j++)
				after += m[j].id != 0;
			want_ops[MS_LEASE_OP_EXPIRE][MS_LEASE_STATUS_OK] += before - after;
		}
	}
	for (int s = 0; s < M_SLOTS; s++)
		live += m[s].id != 0;
	assert_int_equal(ms_lease_count(t), live);
	assert_int_equal(probe_active, live);
	for (int o = 0; o < MS_LEASE_OP_COUNT; o++)
		for (int st = 0; st < MS_LEASE_STATUS_COUNT; st++)
			if (probe_ops[o][st] - ops_before[o][st] != want_ops[o][st])
				fail_msg("%s:%s: %llu probe calls, want %llu", op_names[o],
					 status_names[st],
					 (unsigned long long)(probe_ops[o][st] - ops_before[o][st]),
					 (unsigned long long)want_ops[o][st]);
	/* the workload did reach every branch that matters */
	assert_true(want_ops[MS_LEASE_OP_EXPIRE][MS_LEASE_STATUS_OK] > 100);
	assert_true(want_ops[MS_LEASE_OP_RENEW][MS_LEASE_STATUS_NOT_FOUND] > 100);
	assert_true(want_ops[MS_LEASE_OP_GRANT][MS_LEASE_STATUS_EXISTS] > 100);
	m_check_expired(t, m, owner, INT64_MAX / 2);
	assert_int_equal(ms_lease_count(t), 0);
	assert_int_equal(ms_lease_next_deadline(t), MS_LEASE_NO_DEADLINE);
	ms_lease_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant),
		cmocka_unit_test(test_auto_ids),
		cmocka_unit_test(test_ttl_remaining),
		cmocka_unit_test(test_renew),
		cmocka_unit_test(test_keepalive_storm),
		cmocka_unit_test(test_expired_order),
		cmocka_unit_test(test_revoke_keys),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
