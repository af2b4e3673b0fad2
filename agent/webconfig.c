/* The web configuration file of the Prometheus exporters: TLS for /metrics and basic auth users. */
#include "webconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

struct wc_parse {
	yaml_parser_t p;
	const char *path;
	char *err;
	size_t errlen;
};

static int fail_at(struct wc_parse *w, size_t line, const char *reason)
{
	snprintf(w->err, w->errlen, "%s:%zu: %s", w->path, line + 1, reason);
	return -EINVAL;
}

/* The next event into *ev; a syntax error is reported. */
static int next(struct wc_parse *w, yaml_event_t *ev)
{
	if (yaml_parser_parse(&w->p, ev))
		return 0;
	return fail_at(w, w->p.problem_mark.line, w->p.problem ? w->p.problem : "YAML syntax error");
}

/* A scalar into out (cap bytes); anything else is an error. */
static int scalar(struct wc_parse *w, char *out, size_t cap, const char *what)
{
	yaml_event_t ev;
	int err = next(w, &ev);

	if (err)
		return err;
	if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length >= cap) {
		size_t line = ev.start_mark.line;

		yaml_event_delete(&ev);
		return fail_at(w, line, what);
	}
	memcpy(out, ev.data.scalar.value, ev.data.scalar.length + 1);
	yaml_event_delete(&ev);
	return 0;
}

typedef int (*entry_fn)(struct wc_parse *, struct webconfig *, const char *, size_t);

/* The entries of a mapping whose start was read, up to its end: `entry` for each key. */
static int entries(struct wc_parse *w, struct webconfig *c, entry_fn entry)
{
	yaml_event_t ev;
	int err;

	for (;;) {
		char key[64];
		size_t line;

		err = next(w, &ev);
		if (err)
			return err;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		line = ev.start_mark.line;
		if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length >= sizeof(key)) {
			yaml_event_delete(&ev);
			return fail_at(w, line, "keys are short scalars");
		}
		memcpy(key, ev.data.scalar.value, ev.data.scalar.length + 1);
		yaml_event_delete(&ev);
		err = entry(w, c, key, line);
		if (err)
			return err;
	}
}

/* One section: a mapping of scalars, `entry` for each key. */
static int section(struct wc_parse *w, struct webconfig *c, entry_fn entry)
{
	yaml_event_t ev;
	size_t line;
	int err = next(w, &ev);

	if (err)
		return err;
	line = ev.start_mark.line;
	err = ev.type == YAML_MAPPING_START_EVENT ? 0 : -EINVAL;
	yaml_event_delete(&ev);
	return err ? fail_at(w, line, "a section is a mapping") : entries(w, c, entry);
}

static int tls_entry(struct wc_parse *w, struct webconfig *c, const char *key, size_t line)
{
	if (!strcmp(key, "cert_file"))
		return scalar(w, c->cert_file, sizeof(c->cert_file), "cert_file is a path");
	if (!strcmp(key, "key_file"))
		return scalar(w, c->key_file, sizeof(c->key_file), "key_file is a path");
	return fail_at(w, line, "tls_server_config takes cert_file and key_file");
}

static int user_entry(struct wc_parse *w, struct webconfig *c, const char *key, size_t line)
{
	struct webconfig_user *u;
	int err;

	if (c->nr_users == WEBCONFIG_MAX_USERS)
		return fail_at(w, line, "too many basic_auth_users");
	for (size_t i = 0; i < c->nr_users; i++)
		if (!strcmp(c->users[i].name, key))
			return fail_at(w, line, "user listed twice");
	u = &c->users[c->nr_users];
	snprintf(u->name, sizeof(u->name), "%s", key);
	err = scalar(w, u->hash, sizeof(u->hash), "a user's value is its bcrypt hash");
	if (err)
		return err;
	/* bcrypt only: a plain or weaker hash would be accepted by crypt() as well */
	if (strncmp(u->hash, "$2a$", 4) && strncmp(u->hash, "$2b$", 4) && strncmp(u->hash, "$2y$", 4))
		return fail_at(w, line, "a user's value is its bcrypt hash ($2b$...)");
	c->nr_users++;
	return 0;
}

/* A key of the top level: one of the two sections. */
static int top_entry(struct wc_parse *w, struct webconfig *c, const char *key, size_t line)
{
	if (!strcmp(key, "tls_server_config"))
		return section(w, c, tls_entry);
	if (!strcmp(key, "basic_auth_users"))
		return section(w, c, user_entry);
	return fail_at(w, line, "unknown key (tls_server_config, basic_auth_users)");
}

/* The document: a top-level mapping of the two sections (or nothing at all). */
static int document(struct wc_parse *w, struct webconfig *c)
{
	yaml_event_t ev;
	int err;

	for (;;) {
		enum yaml_event_type_e t;
		size_t line;

		err = next(w, &ev);
		if (err)
			return err;
		t = ev.type;
		line = ev.start_mark.line;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			return 0; /* empty file: nothing configured */
		if (t == YAML_MAPPING_START_EVENT)
			return entries(w, c, top_entry);
		if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_START_EVENT)
			return fail_at(w, line, "the file is a mapping");
	}
}

int webconfig_load(const char *path, struct webconfig *out, char *err, size_t errlen)
{
	struct wc_parse w = { .path = path, .err = err, .errlen = errlen };
	FILE *f = fopen(path, "r");
	int rc;

	memset(out, 0, sizeof(*out));
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	yaml_parser_initialize(&w.p);
	yaml_parser_set_input_file(&w.p, f);
	rc = document(&w, out);
	yaml_parser_delete(&w.p);
	fclose(f);
	if (!rc && !out->cert_file[0] != !out->key_file[0]) {
		snprintf(err, errlen, "%s: tls_server_config needs both cert_file and key_file", path);
		rc = -EINVAL;
	}
	return rc;
}
