/* Exposition: the per-scrape metric registry (families and series, arena-allocated). */
#include "expo_priv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)

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
