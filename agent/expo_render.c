/* Exposition renderer: the registry as Prometheus 0.0.4 or OpenMetrics 1.0 text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo_priv.h"

/* Bucket bounds whose le text is cached while rendering (more are formatted each time). */
#define MS_LE_MAX 64
#define LE_TEXT_MAX 32
/* A cached le text is followed by the end of its line's labels. */
#define LE_CLOSE "\"} "

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

/* --- rendering ----------------------------------------------------------------------- */

/*
 * What one render reuses from line to line: the current series' label pairs
 * (`l1="v1",l2="v2"`, escaped once per series), its bucket line prefix
 * (`name_bucket{labels,le="`) and the le texts of the last bounds formatted (series
 * sharing bounds reuse them). Lines are then written with memcpy into space reserved once
 * per series, without a bounds check per piece.
 */
struct render_ctx {
	struct expo_buf labels;
	struct expo_buf prefix;
	const double *le_bounds;
	size_t le_n;
	size_t le_len[MS_LE_MAX];
	char le_text[MS_LE_MAX][LE_TEXT_MAX + sizeof(LE_CLOSE)];
};

static int labels_of(struct render_ctx *rc, const struct expo_series *s)
{
	struct expo_buf *t = &rc->labels;
	int err = 0;

	t->len = 0;
	for (size_t i = 0; i < s->nlabels && !err; i++) {
		if (i)
			err = buf_put(t, ",", 1);
		if (!err)
			err = buf_put(t, s->labels[i].name, strlen(s->labels[i].name));
		if (!err)
			err = buf_put(t, "=\"", 2);
		if (!err)
			err = buf_escaped(t, s->labels[i].value, true);
		if (!err)
			err = buf_put(t, "\"", 1);
	}
	return err;
}

static void le_update(struct render_ctx *rc, const struct expo_series *s)
{
	if (rc->le_bounds == s->bounds ||
	    (rc->le_bounds && rc->le_n == s->nbounds &&
	     !memcmp(rc->le_bounds, s->bounds, s->nbounds * sizeof(double)))) {
		rc->le_bounds = s->bounds;
		return;
	}
	rc->le_n = s->nbounds < MS_LE_MAX ? s->nbounds : MS_LE_MAX;
	for (size_t k = 0; k < rc->le_n; k++) {
		expo_format_double(s->bounds[k], rc->le_text[k], LE_TEXT_MAX);
		rc->le_len[k] = strlen(rc->le_text[k]);
		memcpy(rc->le_text[k] + rc->le_len[k], LE_CLOSE, sizeof(LE_CLOSE));
		rc->le_len[k] += sizeof(LE_CLOSE) - 1;
	}
	rc->le_bounds = s->bounds;
}

static char *put_mem(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* name+suffix, then {labels} when there are any, then a space. */
static char *put_head(char *p, const char *name, size_t nlen, const char *suffix, size_t slen,
		      const struct render_ctx *rc, const struct expo_series *s)
{
	p = put_mem(put_mem(p, name, nlen), suffix, slen);
	if (s->nlabels) {
		*p++ = '{';
		p = put_mem(p, rc->labels.data, rc->labels.len);
		*p++ = '}';
	}
	*p++ = ' ';
	return p;
}

static int render_hist(struct expo_buf *b, struct render_ctx *rc, const char *name, size_t nlen,
		       const struct expo_series *s)
{
	uint64_t cum = 0, total = s->count;
	size_t line_max, tail_max;
	char le[EXPO_NUM_MAX + 16], *p;
	int err;

	/* Per-CPU buckets and the total are not read atomically; never let them disagree. */
	for (size_t i = 0; i <= s->nbounds; i++)
		cum += s->counts[i];
	if (cum > total)
		total = cum;
	err = labels_of(rc, s);
	rc->prefix.len = 0;
	if (!err)
		err = buf_put(&rc->prefix, name, nlen);
	if (!err)
		err = buf_put(&rc->prefix, "_bucket{", 8);
	if (!err && s->nlabels)
		err = buf_put(&rc->prefix, rc->labels.data, rc->labels.len);
	if (!err && s->nlabels)
		err = buf_put(&rc->prefix, ",", 1);
	if (!err)
		err = buf_put(&rc->prefix, "le=\"", 4);
	line_max = rc->prefix.len + sizeof(le) + 3 + 20 + 1;
	tail_max = 2 * (nlen + 6 + rc->labels.len + 3 + EXPO_NUM_MAX + 1);
	if (!err)
		err = buf_reserve(b, (s->nbounds + 1) * line_max + tail_max);
	if (err)
		return err;
	le_update(rc, s);
	p = b->data + b->len;
	cum = 0;
	for (size_t i = 0; i <= s->nbounds; i++) {
		cum += s->counts[i];
		p = put_mem(p, rc->prefix.data, rc->prefix.len);
		if (i < rc->le_n) {
			p = put_mem(p, rc->le_text[i], rc->le_len[i]);
		} else {
			if (i < s->nbounds)
				p = put_mem(p, le, strlen(expo_format_double(s->bounds[i], le,
									     sizeof(le))));
			else
				p = put_mem(p, "+Inf", 4);
			p = put_mem(p, LE_CLOSE, sizeof(LE_CLOSE) - 1);
		}
		p = expo_num_u64(p, i < s->nbounds ? cum : total);
		*p++ = '\n';
	}
	p = put_head(p, name, nlen, "_sum", 4, rc, s);
	p = expo_num_value(p, s->sum);
	*p++ = '\n';
	p = put_head(p, name, nlen, "_count", 6, rc, s);
	p = expo_num_u64(p, total);
	*p++ = '\n';
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}

static int render_value(struct expo_buf *b, struct render_ctx *rc, const char *name, size_t nlen,
			const char *suffix, const struct expo_series *s)
{
	size_t slen = strlen(suffix);
	int err = labels_of(rc, s);
	char *p;

	if (!err)
		err = buf_reserve(b, nlen + slen + rc->labels.len + 3 + EXPO_NUM_MAX + 1);
	if (err)
		return err;
	p = put_head(b->data + b->len, name, nlen, suffix, slen, rc, s);
	p = s->is_u64 ? expo_num_u64(p, s->u64) : expo_num_value(p, s->value);
	*p++ = '\n';
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}

static const char *type_name(enum expo_type t)
{
	return t == EXPO_COUNTER ? "counter" : t == EXPO_GAUGE ? "gauge" : "histogram";
}

int expo_render(const struct expo_registry *reg, enum expo_format fmt, struct expo_buf *out)
{
	bool om = fmt == EXPO_OPENMETRICS;
	struct render_ctx *rc;
	int err;

	if (fmt != EXPO_PROMETHEUS && fmt != EXPO_OPENMETRICS)
		return -EINVAL;
	rc = calloc(1, sizeof(*rc));
	err = rc ? 0 : -ENOMEM;

	for (const struct expo_family *f = reg->head; f && !err; f = f->next) {
		size_t nlen = strlen(f->name);
		/* OpenMetrics names a counter family without its _total sample suffix. */
		bool strip = om && f->type == EXPO_COUNTER && nlen > 6 &&
			     strcmp(f->name + nlen - 6, "_total") == 0;
		int flen = (int)(strip ? nlen - 6 : nlen);
		const char *suffix = (om && f->type == EXPO_COUNTER && !strip) ? "_total" : "";

		err = expo_buf_printf(out, "# HELP %.*s ", flen, f->name);
		if (!err)
			err = buf_escaped(out, f->help, om);
		if (!err)
			err = expo_buf_printf(out, "\n# TYPE %.*s %s\n", flen, f->name,
					      type_name(f->type));
		for (const struct expo_series *s = f->head; s && !err; s = s->next) {
			if (f->type == EXPO_HISTOGRAM)
				err = render_hist(out, rc, f->name, nlen, s);
			else
				err = render_value(out, rc, f->name, nlen, suffix, s);
		}
	}
	if (!err && om)
		err = buf_put(out, "# EOF\n", 6);
	if (!err && !out->data)
		err = buf_put(out, "", 0);
	if (rc) {
		expo_buf_free(&rc->labels);
		expo_buf_free(&rc->prefix);
	}
	free(rc);
	return err;
}
