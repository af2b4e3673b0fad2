/* libFuzzer harness for the exposition renderer: random registries, both formats checked line by line. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"

#define MAX_FAMILIES 16
#define MAX_SERIES 64
#define MAX_LABELS 4
#define MAX_BOUNDS 8

/* What the harness expects the renderer to show: a mirror of every accepted call. */
struct m_series {
	struct expo_label labels[MAX_LABELS];
	size_t n;
	int kind; /* 0 double, 1 u64, 2 histogram */
	double dv;
	uint64_t uv;
	double bounds[MAX_BOUNDS];
	uint64_t counts[MAX_BOUNDS + 1];
	size_t nb;
};

struct m_family {
	char *name, *help;
	enum expo_type type;
	struct expo_family *f;
	size_t series[MAX_SERIES];
	size_t ns;
};

struct mirror {
	struct m_family fam[MAX_FAMILIES];
	size_t nf;
	struct m_series ser[MAX_SERIES];
	size_t nser;
	char *strings[MAX_FAMILIES * 2 + MAX_SERIES * MAX_LABELS * 2];
	size_t nstr;
};

struct input {
	const uint8_t *p;
	size_t left;
};

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "fuzz_expo: check failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                          \
		}                                                                         \
	} while (0)

static uint8_t take_u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint64_t take_bytes(struct input *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | take_u8(in);
	return v;
}

static double take_double(struct input *in)
{
	uint64_t bits = take_bytes(in, 8);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* A length-prefixed string; bytes after an embedded NUL are simply not part of it. */
static char *take_str(struct input *in, struct mirror *m)
{
	size_t len = take_u8(in) % 48;
	char *s;

	if (len > in->left)
		len = in->left;
	s = malloc(len + 1);
	CHECK(s);
	memcpy(s, in->p, len);
	s[len] = '\0';
	in->p += len;
	in->left -= len;
	if (m->nstr < sizeof(m->strings) / sizeof(m->strings[0])) {
		m->strings[m->nstr++] = s;
		return s;
	}
	free(s);
	return NULL;
}

static bool valid_name(const char *s, bool colon)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (colon && c == ':') || (p != s && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool valid_labels(const struct expo_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!l[i].name || !l[i].value || !valid_name(l[i].name, false) ||
		    !strcmp(l[i].name, "le") || !strncmp(l[i].name, "__", 2))
			return false;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(l[i].name, l[j].name))
				return false;
	}
	return true;
}

/* Names come from a small alphabet most of the time, so that valid ones are common. */
static char *take_name(struct input *in, struct mirror *m)
{
	static const char alpha[] = "abc_:Z09le";
	uint8_t mode = take_u8(in);
	char *s;

	if (mode & 1)
		return take_str(in, m);
	s = take_str(in, m);
	for (char *p = s; p && *p; p++)
		*p = alpha[(uint8_t)*p % (sizeof(alpha) - 1)];
	return s;
}

static void add_family(struct expo_registry *reg, struct input *in, struct mirror *m)
{
	uint8_t t = take_u8(in) % 4;
	char *name = take_name(in, m), *help = take_str(in, m);
	struct expo_family *f;
	bool dup = false;

	if (!name || !help || m->nf == MAX_FAMILIES)
		return;
	for (size_t i = 0; i < m->nf; i++)
		dup |= !strcmp(m->fam[i].name, name);
	f = expo_family_add(reg, name, help, (enum expo_type)t);
	CHECK(!f == (dup || t > EXPO_HISTOGRAM || !valid_name(name, true)));
	if (!f)
		return;
	m->fam[m->nf++] = (struct m_family){ .name = name, .help = help, .type = t, .f = f };
}

static void add_series(struct expo_registry *reg, struct input *in, struct mirror *m)
{
	struct m_series s = { .kind = take_u8(in) % 3 };
	struct m_family *mf;
	bool ok;
	int err;

	(void)reg;
	if (!m->nf || m->nser == MAX_SERIES)
		return;
	mf = &m->fam[take_u8(in) % m->nf];
	s.n = take_u8(in) % (MAX_LABELS + 1);
	for (size_t i = 0; i < s.n; i++) {
		s.labels[i].name = take_name(in, m);
		s.labels[i].value = take_str(in, m);
	}
	ok = valid_labels(s.labels, s.n);
	if (s.kind == 0) {
		s.dv = take_double(in);
		err = expo_series_add_value(mf->f, s.labels, s.n, s.dv);
		ok = ok && mf->type != EXPO_HISTOGRAM;
	} else if (s.kind == 1) {
		s.uv = take_bytes(in, 8);
		err = expo_series_add_u64(mf->f, s.labels, s.n, s.uv);
		ok = ok && mf->type != EXPO_HISTOGRAM;
	} else {
		bool raw = take_u8(in) & 1;

		s.nb = take_u8(in) % (MAX_BOUNDS + 1);
		for (size_t i = 0; i < s.nb; i++) {
			/* Raw doubles bring NaN, Inf and disorder; steps make valid lists likely. */
			s.bounds[i] = raw ? take_double(in)
					  : (i ? s.bounds[i - 1] : 0) + (take_u8(in) + 1) / 1000.0;
			ok = ok && isfinite(s.bounds[i]) && (!i || s.bounds[i] > s.bounds[i - 1]);
		}
		/* 32-bit counts: cumulative sums of real counters never wrap. */
		for (size_t i = 0; i <= s.nb; i++)
			s.counts[i] = take_bytes(in, 4);
		s.dv = take_double(in);
		s.uv = take_bytes(in, 4);
		err = expo_series_add_hist(mf->f, s.labels, s.n, s.bounds, s.nb, s.counts,
					   s.nb + 1, s.dv, s.uv);
		ok = ok && mf->type == EXPO_HISTOGRAM;
	}
	CHECK(ok ? err == 0 : err == -EINVAL);
	if (!ok || mf->ns == MAX_SERIES)
		return;
	m->ser[m->nser] = s;
	mf->series[mf->ns++] = m->nser++;
}

static void build(struct expo_registry *reg, const uint8_t *data, size_t size, struct mirror *m)
{
	struct input in = { data, size };

	while (in.left) {
		if (take_u8(&in) % 3 == 0)
			add_family(reg, &in, m);
		else
			add_series(reg, &in, m);
	}
}

/* --- checking the output ------------------------------------------------------------- */

struct cursor {
	const char *p, *end;
	bool om;
};

/* Takes the next line (without its '\n'); every line must be terminated. */
static const char *next_line(struct cursor *c, size_t *len)
{
	const char *nl;

	CHECK(c->p < c->end);
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	CHECK(nl);
	*len = (size_t)(nl - c->p);
	nl = c->p;
	c->p += *len + 1;
	return nl;
}

/* Compares an escaped text against its original; returns the bytes consumed. `quote`:
 * the text is a quoted label value (ends at a raw '"', which must be escaped inside). */
static size_t match_escaped(const char *s, size_t len, const char *orig, bool quote,
			    bool esc_quote)
{
	size_t i = 0;

	for (; i < len; i++) {
		char c = s[i];

		if (c == '"') {
			if (quote)
				break;
			CHECK(!esc_quote); /* an OpenMetrics HELP escapes its quotes */
		}
		CHECK(c != '\n');
		if (c == '\\') {
			CHECK(i + 1 < len);
			c = s[++i];
			CHECK(c == '\\' || c == 'n' || (esc_quote && c == '"'));
			c = c == 'n' ? '\n' : c;
		}
		CHECK(*orig == c);
		orig++;
	}
	CHECK(*orig == '\0');
	return i;
}

static void check_comments(struct cursor *c, const struct m_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t nlen = strlen(f->name), len;
	const char *l;
	char want[128];
	int n;

	/* OpenMetrics names a counter family without its _total suffix. */
	if (c->om && f->type == EXPO_COUNTER && nlen > 6 && !strcmp(f->name + nlen - 6, "_total"))
		nlen -= 6;
	n = snprintf(want, sizeof(want), "# HELP %.*s ", (int)nlen, f->name);
	l = next_line(c, &len);
	CHECK(len >= (size_t)n && !memcmp(l, want, (size_t)n));
	match_escaped(l + n, len - (size_t)n, f->help, false, c->om);
	n = snprintf(want, sizeof(want), "# TYPE %.*s %s", (int)nlen, f->name, types[f->type]);
	l = next_line(c, &len);
	CHECK(len == (size_t)n && !memcmp(l, want, len));
}

/* Checks `name{labels[,le="..."]} ` and returns the value text (NUL-terminated in `val`). */
static void check_sample(struct cursor *c, const char *name, const char *suffix,
			 const struct m_series *s, const char *le, char *val, size_t vcap)
{
	size_t len, i, nl = strlen(name), sl = strlen(suffix);
	const char *l = next_line(c, &len);

	CHECK(len > nl + sl && !memcmp(l, name, nl) && !memcmp(l + nl, suffix, sl));
	i = nl + sl;
	if (s->n || le) {
		CHECK(l[i++] == '{');
		for (size_t k = 0; k <= s->n; k++) {
			const char *ln = k < s->n ? s->labels[k].name : "le";
			const char *lv = k < s->n ? s->labels[k].value : le;
			size_t lnl = strlen(ln);

			if (k == s->n && !le)
				break;
			if (k)
				CHECK(i < len && l[i++] == ',');
			CHECK(len - i > lnl + 2 && !memcmp(l + i, ln, lnl) && l[i + lnl] == '=' &&
			      l[i + lnl + 1] == '"');
			i += lnl + 2;
			i += match_escaped(l + i, len - i, lv, true, true);
			CHECK(i < len && l[i++] == '"');
		}
		CHECK(i < len && l[i++] == '}');
	}
	CHECK(i < len && l[i++] == ' ');
	CHECK(i < len && len - i < vcap && !memchr(l + i, ' ', len - i));
	memcpy(val, l + i, len - i);
	val[len - i] = '\0';
}

static void check_double(const char *v, double want)
{
	char *end;
	double got = strtod(v, &end);

	CHECK(*v && !*end);
	if (isnan(want))
		CHECK(!strcmp(v, "NaN"));
	else
		CHECK(got == want && (!isinf(want) || !strcmp(v, want > 0 ? "+Inf" : "-Inf")));
}

static void check_u64(const char *v, uint64_t want)
{
	CHECK(*v && strspn(v, "0123456789") == strlen(v) && strtoull(v, NULL, 10) == want);
}

static void check_series(struct cursor *c, const struct m_family *f, const struct m_series *s)
{
	char val[128], le[64];
	uint64_t cum = 0, total = s->uv;

	if (s->kind != 2) {
		size_t nlen = strlen(f->name);
		bool add_total = c->om && f->type == EXPO_COUNTER &&
				 !(nlen > 6 && !strcmp(f->name + nlen - 6, "_total"));

		check_sample(c, f->name, add_total ? "_total" : "", s, NULL, val, sizeof(val));
		if (s->kind == 0)
			check_double(val, s->dv);
		else
			check_u64(val, s->uv);
		return;
	}
	for (size_t i = 0; i <= s->nb; i++)
		cum += s->counts[i];
	if (cum > total)
		total = cum;
	cum = 0;
	for (size_t i = 0; i <= s->nb; i++) {
		char *end;

		cum += s->counts[i];
		/* The le text is checked against the renderer's own output, then parsed back. */
		if (i < s->nb) {
			expo_format_double(s->bounds[i], le, sizeof(le));
			CHECK(strtod(le, &end) == s->bounds[i] && !*end);
		} else {
			snprintf(le, sizeof(le), "+Inf");
		}
		check_sample(c, f->name, "_bucket", s, le, val, sizeof(val));
		check_u64(val, i < s->nb ? cum : total);
	}
	check_sample(c, f->name, "_sum", s, NULL, val, sizeof(val));
	check_double(val, s->dv);
	check_sample(c, f->name, "_count", s, NULL, val, sizeof(val));
	check_u64(val, total);
}

static void check_output(const struct mirror *m, const struct expo_buf *b, bool om)
{
	struct cursor c = { b->data, b->data + b->len, om };
	size_t lines = 0, want = om ? 1 : 0, len;

	CHECK(b->data && strlen(b->data) == b->len);
	for (size_t i = 0; i < b->len; i++)
		lines += b->data[i] == '\n';
	for (size_t i = 0; i < m->nf; i++) {
		want += 2;
		for (size_t k = 0; k < m->fam[i].ns; k++) {
			const struct m_series *s = &m->ser[m->fam[i].series[k]];

			want += s->kind == 2 ? s->nb + 3 : 1;
		}
	}
	CHECK(lines == want);
	for (size_t i = 0; i < m->nf; i++) {
		check_comments(&c, &m->fam[i]);
		for (size_t k = 0; k < m->fam[i].ns; k++)
			check_series(&c, &m->fam[i], &m->ser[m->fam[i].series[k]]);
	}
	if (om) {
		const char *l = next_line(&c, &len);

		CHECK(len == 5 && !memcmp(l, "# EOF", 5));
	}
	CHECK(c.p == c.end);
}

static void render(const struct expo_registry *reg, enum expo_format fmt, struct expo_buf *out)
{
	int err = expo_render(reg, fmt, out);

	CHECK(err == 0 || err == -ENOMEM);
	if (err) {
		expo_buf_free(out);
		out->data = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expo_registry *reg = expo_registry_new();
	struct mirror *m = calloc(1, sizeof(*m)), *again = calloc(1, sizeof(*again));
	struct expo_buf prom = { 0 }, om = { 0 }, prom2 = { 0 };

	CHECK(reg && m && again);
	build(reg, data, size, m);
	render(reg, EXPO_PROMETHEUS, &prom);
	render(reg, EXPO_OPENMETRICS, &om);
	if (prom.data)
		check_output(m, &prom, false);
	if (om.data)
		check_output(m, &om, true);

	/* A reset registry reuses its memory; the same calls must render the same text. */
	expo_registry_reset(reg);
	build(reg, data, size, again);
	render(reg, EXPO_PROMETHEUS, &prom2);
	if (prom.data && prom2.data)
		CHECK(prom.len == prom2.len && !memcmp(prom.data, prom2.data, prom.len));

	for (size_t i = 0; i < m->nstr; i++)
		free(m->strings[i]);
	for (size_t i = 0; i < again->nstr; i++)
		free(again->strings[i]);
	free(m);
	free(again);
	expo_buf_free(&prom);
	expo_buf_free(&om);
	expo_buf_free(&prom2);
	expo_registry_free(reg);
	return 0;
}
