/* Exposition: a per-scrape metric registry and its Prometheus / OpenMetrics text renderer. */
#include "expo.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)
/* Bucket bounds whose le text is cached while rendering (more are formatted each time). */
#define MS_LE_MAX 64

/* Bump allocator: a scrape's families and series are freed together, or rewound for reuse. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct expo_series {
	struct expo_series *next;
	struct expo_label *labels;
	size_t nlabels;
	bool is_u64;
	double value;
	uint64_t u64;
	/* histogram only */
	const double *bounds;
	uint64_t *counts; /* nbounds + 1, non-cumulative */
	size_t nbounds;
	double sum;
	uint64_t count;
};

struct expo_family {
	struct expo_family *next;
	struct expo_registry *reg;
	const char *name;
	const char *help;
	enum expo_type type;
	struct expo_series *head, *tail;
};

struct expo_registry {
	struct arena_chunk *chunks, *cur;
	struct expo_family *head, *tail;
};

static void *arena_alloc(struct expo_registry *r, size_t size)
{
	size_t need = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_chunk *c = r->cur;

	while (c && c->used + need > c->cap) {
		/* Rewound chunks after `cur` are reused before allocating new ones. */
		c = c->next;
		if (c)
			c->used = 0;
	}
	if (!c) {
		size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = NULL;
		if (r->cur) {
			c->next = r->cur->next;
			r->cur->next = c;
		} else {
			r->chunks = c;
		}
	}
	r->cur = c;
	c->used += need;
	return (char *)c->data + c->used - need;
}

static char *arena_strdup(struct expo_registry *r, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(r, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

struct expo_registry *expo_registry_new(void)
{
	return calloc(1, sizeof(struct expo_registry));
}

void expo_registry_free(struct expo_registry *reg)
{
	struct arena_chunk *c, *n;

	if (!reg)
		return;
	for (c = reg->chunks; c; c = n) {
		n = c->next;
		free(c);
	}
	free(reg);
}

void expo_registry_reset(struct expo_registry *reg)
{
	if (!reg)
		return;
	reg->cur = reg->chunks;
	if (reg->cur)
		reg->cur->used = 0;
	reg->head = reg->tail = NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels the same without ':'. */
static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (p != s && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

struct expo_family *expo_family_add(struct expo_registry *reg, const char *name, const char *help,
				    enum expo_type type)
{
	struct expo_family *f;

	if (!reg || !valid_name(name, true) ||
	    (type != EXPO_COUNTER && type != EXPO_GAUGE && type != EXPO_HISTOGRAM))
		return NULL;
	/* Two families of one name would be an invalid exposition. */
	for (f = reg->head; f; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return NULL;
	}
	f = arena_alloc(reg, sizeof(*f));
	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->reg = reg;
	f->type = type;
	f->name = arena_strdup(reg, name);
	f->help = arena_strdup(reg, help ? help : "");
	if (!f->name || !f->help)
		return NULL;
	if (reg->tail)
		reg->tail->next = f;
	else
		reg->head = f;
	reg->tail = f;
	return f;
}

static struct expo_series *series_new(struct expo_family *f, const struct expo_label *labels,
				      size_t n, int *err)
{
	struct expo_registry *r = f->reg;
	struct expo_series *s;

	*err = -EINVAL;
	if (n && !labels)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* "le" belongs to histogram buckets; "__" names are reserved by Prometheus. */
		if (!valid_name(labels[i].name, false) || strcmp(labels[i].name, "le") == 0 ||
		    strncmp(labels[i].name, "__", 2) == 0 || !labels[i].value)
			return NULL;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[i].name, labels[j].name) == 0)
				return NULL;
		}
	}
	*err = -ENOMEM;
	s = arena_alloc(r, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	if (n) {
		s->labels = arena_alloc(r, n * sizeof(*s->labels));
		if (!s->labels)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			s->labels[i].name = arena_strdup(r, labels[i].name);
			s->labels[i].value = arena_strdup(r, labels[i].value);
			if (!s->labels[i].name || !s->labels[i].value)
				return NULL;
		}
	}
	s->nlabels = n;
	*err = 0;
	return s;
}

static void series_link(struct expo_family *f, struct expo_series *s)
{
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
}

int expo_series_add_value(struct expo_family *f, const struct expo_label *labels, size_t n,
			  double value)
{
	struct expo_series *s;
	int err;

	if (!f || f->type == EXPO_HISTOGRAM)
		return -EINVAL;
	s = series_new(f, labels, n, &err);
	if (!s)
		return err;
	s->value = value;
	series_link(f, s);
	return 0;
}

int expo_series_add_u64(struct expo_family *f, const struct expo_label *labels, size_t n,
			uint64_t value)
{
	struct expo_series *s;
	int err;

	if (!f || f->type == EXPO_HISTOGRAM)
		return -EINVAL;
	s = series_new(f, labels, n, &err);
	if (!s)
		return err;
	s->is_u64 = true;
	s->u64 = value;
	series_link(f, s);
	return 0;
}

int expo_series_add_hist(struct expo_family *f, const struct expo_label *labels, size_t n,
			 const double *bounds, size_t nbounds, const uint64_t *counts,
			 size_t ncounts, double sum, uint64_t count)
{
	struct expo_series *s;
	double *b;
	int err;

	if (!f || f->type != EXPO_HISTOGRAM || ncounts != nbounds + 1 || !counts ||
	    (nbounds && !bounds))
		return -EINVAL;
	for (size_t i = 0; i < nbounds; i++) {
		/* +Inf is implicit: a finite bound list keeps exactly one +Inf bucket. */
		if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
			return -EINVAL;
	}
	s = series_new(f, labels, n, &err);
	if (!s)
		return err;
	b = arena_alloc(f->reg, (nbounds ? nbounds : 1) * sizeof(*b));
	s->counts = arena_alloc(f->reg, ncounts * sizeof(*s->counts));
	if (!b || !s->counts)
		return -ENOMEM;
	memcpy(b, bounds, nbounds * sizeof(*b));
	memcpy(s->counts, counts, ncounts * sizeof(*s->counts));
	s->bounds = b;
	s->nbounds = nbounds;
	s->sum = sum;
	s->count = count;
	series_link(f, s);
	return 0;
}

/* --- output buffer ------------------------------------------------------------------- */

static int buf_reserve(struct expo_buf *b, size_t extra)
{
	size_t cap;
	char *n;

	if (b->len + extra + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra + 1)
		cap *= 2;
	n = realloc(b->data, cap);
	if (!n)
		return -ENOMEM;
	b->data = n;
	b->cap = cap;
	return 0;
}

static int buf_put(struct expo_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_str(struct expo_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

int expo_buf_printf(struct expo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void expo_buf_free(struct expo_buf *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Escapes `s` for a label value (\\, \", \n) or a HELP text (\\, \n; OpenMetrics adds \"). */
static int buf_escaped(struct expo_buf *b, const char *s, bool quote)
{
	const char *special = quote ? "\\\n\"" : "\\\n";
	int err = 0;

	while (*s && !err) {
		/* Plain runs go in one copy; only the escaped bytes are handled one by one. */
		size_t run = strcspn(s, special);

		if (run)
			err = buf_put(b, s, run);
		s += run;
		if (!*s || err)
			break;
		err = buf_put(b, *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"", 2);
		s++;
	}
	return err;
}

/* Appends v in decimal. */
static int buf_u64(struct expo_buf *b, uint64_t v)
{
	char tmp[24];
	size_t o = sizeof(tmp);

	do {
		tmp[--o] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_put(b, tmp + o, sizeof(tmp) - o);
}

/* --- number formatting --------------------------------------------------------------- */

char *expo_format_double(double v, char *out, size_t len)
{
	char tmp[40], digits[24], res[64];
	int exp = 0, nd = 0, p;
	bool neg = signbit(v);
	size_t o = 0;

	if (isnan(v)) {
		snprintf(out, len, "NaN");
		return out;
	}
	if (isinf(v)) {
		snprintf(out, len, neg ? "-Inf" : "+Inf");
		return out;
	}
	if (v == 0) {
		snprintf(out, len, "0");
		return out;
	}
	/* Shortest %e precision that reads back as the same double. Round-tripping is monotonic
	 * in the precision (17 always does), so a binary search finds it in about 4 tries. */
	{
		int lo = 1, hi = 17;

		while (lo < hi) {
			p = (lo + hi) / 2;
			snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
			if (strtod(tmp, NULL) == v)
				hi = p;
			else
				lo = p + 1;
		}
		p = lo;
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
	}
	for (const char *c = tmp; *c && *c != 'e'; c++) {
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp = atoi(strchr(tmp, 'e') + 1);

	if (neg)
		res[o++] = '-';
	/* Go's 'g' with shortest precision uses %e below 1e-4 and from 1e+06 (eprec = 6). */
	if (exp < -4 || exp >= 6) {
		res[o++] = digits[0];
		if (nd > 1) {
			res[o++] = '.';
			memcpy(res + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += snprintf(res + o, sizeof(res) - o, "e%c%02d", exp < 0 ? '-' : '+',
			      exp < 0 ? -exp : exp);
	} else if (exp >= 0) {
		for (int i = 0; i <= exp; i++)
			res[o++] = i < nd ? digits[i] : '0';
		if (nd > exp + 1) {
			res[o++] = '.';
			memcpy(res + o, digits + exp + 1, nd - exp - 1);
			o += nd - exp - 1;
		}
	} else {
		res[o++] = '0';
		res[o++] = '.';
		for (int i = 0; i < -exp - 1; i++)
			res[o++] = '0';
		memcpy(res + o, digits, nd);
		o += nd;
	}
	res[o] = '\0';
	snprintf(out, len, "%s", res);
	return out;
}

/* Sample values: integers exactly (counters must never read 1e+06), else Go's 'g'. */
static int buf_value(struct expo_buf *b, double v)
{
	char tmp[64];

	if (v == floor(v) && fabs(v) < 9.2e18) {
		int err = v < 0 ? buf_put(b, "-", 1) : 0;

		/* -(int64) of a negative integral double below 2^63 in magnitude is exact. */
		return err ? err : buf_u64(b, (uint64_t)(v < 0 ? -(long long)v : (long long)v));
	}
	return buf_str(b, expo_format_double(v, tmp, sizeof(tmp)));
}

/* --- rendering ----------------------------------------------------------------------- */

static const char *type_name(enum expo_type t)
{
	return t == EXPO_COUNTER ? "counter" : t == EXPO_GAUGE ? "gauge" : "histogram";
}

/* name{l1="v1",...,extra="x"} (the extra label is le for buckets). */
/* A series' rendered label pairs, `l1="v1",l2="v2"`, built once and reused for every
 * line of the series (a histogram has one per bucket). */
struct label_cache {
	const struct expo_series *series;
	struct expo_buf text;
};

static int labels_of(struct label_cache *lc, const struct expo_series *s)
{
	int err = 0;

	if (lc->series == s)
		return 0;
	lc->series = NULL;
	lc->text.len = 0;
	for (size_t i = 0; i < s->nlabels && !err; i++) {
		if (i)
			err = buf_put(&lc->text, ",", 1);
		if (!err)
			err = buf_str(&lc->text, s->labels[i].name);
		if (!err)
			err = buf_put(&lc->text, "=\"", 2);
		if (!err)
			err = buf_escaped(&lc->text, s->labels[i].value, true);
		if (!err)
			err = buf_put(&lc->text, "\"", 1);
	}
	if (!err)
		lc->series = s;
	return err;
}

/* name+suffix{labels[,extra="extra_val"]} followed by a space. */
static int render_head(struct expo_buf *b, struct label_cache *lc, const char *name,
		       const char *suffix, const struct expo_series *s, const char *extra,
		       const char *extra_val)
{
	int err = buf_str(b, name);

	if (!err)
		err = buf_str(b, suffix);
	if (err || (!s->nlabels && !extra))
		return err ? err : buf_put(b, " ", 1);
	err = labels_of(lc, s);
	if (!err)
		err = buf_put(b, "{", 1);
	if (!err && lc->text.len)
		err = buf_put(b, lc->text.data, lc->text.len);
	if (!err && extra) {
		if (s->nlabels)
			err = buf_put(b, ",", 1);
		if (!err)
			err = buf_str(b, extra);
		if (!err)
			err = buf_put(b, "=\"", 2);
		if (!err)
			err = buf_str(b, extra_val);
		if (!err)
			err = buf_put(b, "\"", 1);
	}
	return err ? err : buf_put(b, "} ", 2);
}

/* The le texts of the last bounds formatted; series sharing bounds reuse them. */
struct le_cache {
	const double *bounds;
	size_t n;
	char text[MS_LE_MAX][32];
};

static const char *le_of(struct le_cache *c, const struct expo_series *s, size_t i)
{
	if (c->bounds != s->bounds && !(c->bounds && c->n == s->nbounds &&
					 !memcmp(c->bounds, s->bounds, s->nbounds * sizeof(double)))) {
		c->n = s->nbounds < MS_LE_MAX ? s->nbounds : MS_LE_MAX;
		for (size_t k = 0; k < c->n; k++)
			expo_format_double(s->bounds[k], c->text[k], sizeof(c->text[k]));
	}
	c->bounds = s->bounds;
	if (i < c->n)
		return c->text[i];
	return NULL;
}

static int render_hist(struct expo_buf *b, struct label_cache *lc, struct le_cache *lec,
		       const struct expo_family *f, const struct expo_series *s)
{
	uint64_t cum = 0, total = s->count;
	char le[64];
	int err = 0;

	/* Per-CPU buckets and the total are not read atomically; never let them disagree. */
	for (size_t i = 0; i <= s->nbounds; i++)
		cum += s->counts[i];
	if (cum > total)
		total = cum;
	cum = 0;
	for (size_t i = 0; i <= s->nbounds && !err; i++) {
		cum += s->counts[i];
		const char *text = i < s->nbounds ? le_of(lec, s, i) : "+Inf";

		if (!text)
			text = expo_format_double(s->bounds[i], le, sizeof(le));
		err = render_head(b, lc, f->name, "_bucket", s, "le", text);
		if (!err)
			err = buf_u64(b, i < s->nbounds ? cum : total);
		if (!err)
			err = buf_put(b, "\n", 1);
	}
	if (!err)
		err = render_head(b, lc, f->name, "_sum", s, NULL, NULL);
	if (!err)
		err = buf_value(b, s->sum);
	if (!err)
		err = buf_put(b, "\n", 1);
	if (!err)
		err = render_head(b, lc, f->name, "_count", s, NULL, NULL);
	if (!err)
		err = buf_u64(b, total);
	if (!err)
		err = buf_put(b, "\n", 1);
	return err;
}

int expo_render(const struct expo_registry *reg, enum expo_format fmt, struct expo_buf *out)
{
	bool om = fmt == EXPO_OPENMETRICS;
	struct label_cache lc = { 0 };
	struct le_cache *lec;
	int err;

	if (fmt != EXPO_PROMETHEUS && fmt != EXPO_OPENMETRICS)
		return -EINVAL;
	lec = calloc(1, sizeof(*lec));
	err = lec ? 0 : -ENOMEM;

	for (const struct expo_family *f = reg->head; f && !err; f = f->next) {
		size_t nlen = strlen(f->name);
		/* OpenMetrics names a counter family without its _total sample suffix. */
		bool strip = om && f->type == EXPO_COUNTER && nlen > 6 &&
			     strcmp(f->name + nlen - 6, "_total") == 0;
		int flen = (int)(strip ? nlen - 6 : nlen);

		err = expo_buf_printf(out, "# HELP %.*s ", flen, f->name);
		if (!err)
			err = buf_escaped(out, f->help, om);
		if (!err)
			err = expo_buf_printf(out, "\n# TYPE %.*s %s\n", flen, f->name,
					      type_name(f->type));
		for (const struct expo_series *s = f->head; s && !err; s = s->next) {
			if (f->type == EXPO_HISTOGRAM) {
				err = render_hist(out, &lc, lec, f, s);
				continue;
			}
			err = render_head(out, &lc, f->name,
					  (om && f->type == EXPO_COUNTER && !strip) ? "_total" : "", s,
					  NULL, NULL);
			if (!err)
				err = s->is_u64 ? buf_u64(out, s->u64) : buf_value(out, s->value);
			if (!err)
				err = buf_put(out, "\n", 1);
		}
	}
	if (!err && om)
		err = buf_str(out, "# EOF\n");
	if (!err && !out->data)
		err = buf_put(out, "", 0);
	expo_buf_free(&lc.text);
	free(lec);
	return err;
}
