/* Configuration file: a flat YAML mapping of option names to values, read with libyaml. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CONFIG_MAX_KEYS 64
#define CONFIG_MAX_VALUE 4096

struct config_state {
	const char *path;
	char *seen[CONFIG_MAX_KEYS];
	size_t nseen;
	char err[256];
};

static int fail_at(struct config_state *st, const yaml_event_t *ev, const char *reason)
{
	snprintf(st->err, sizeof(st->err), "%s:%zu: %s", st->path,
		 ev ? ev->start_mark.line + 1 : (size_t)0, reason);
	return -EINVAL;
}

static int next_event(yaml_parser_t *p, yaml_event_t *ev, struct config_state *st)
{
	if (yaml_parser_parse(p, ev))
		return 0;
	snprintf(st->err, sizeof(st->err), "%s:%zu: %s", st->path, p->problem_mark.line + 1,
		 p->problem ? p->problem : "YAML syntax error");
	return -EINVAL;
}

/* Reads the value after a key: a scalar, or a sequence of scalars joined by commas. */
static int read_value(yaml_parser_t *p, struct config_state *st, char *out, size_t cap)
{
	yaml_event_t ev;
	size_t o = 0;
	int err = next_event(p, &ev, st);

	if (err)
		return err;
	if (ev.type == YAML_SCALAR_EVENT) {
		snprintf(out, cap, "%s", (const char *)ev.data.scalar.value);
		err = ev.data.scalar.length < cap ? 0 : fail_at(st, &ev, "value too long");
		yaml_event_delete(&ev);
		return err;
	}
	if (ev.type != YAML_SEQUENCE_START_EVENT) {
		err = fail_at(st, &ev, "values are scalars or lists of scalars");
		yaml_event_delete(&ev);
		return err;
	}
	yaml_event_delete(&ev);
	out[0] = '\0';
	for (;;) {
		err = next_event(p, &ev, st);
		if (err)
			return err;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT) {
			err = fail_at(st, &ev, "list items must be scalars");
		} else if (o + ev.data.scalar.length + 2 > cap) {
			err = fail_at(st, &ev, "value too long");
		} else {
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "",
					      (const char *)ev.data.scalar.value);
		}
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
	yaml_event_delete(&ev);
	return 0;
}

static int read_mapping(yaml_parser_t *p, struct config_state *st, config_entry_fn fn, void *arg)
{
	char *value = malloc(CONFIG_MAX_VALUE);
	yaml_event_t ev;
	int err = value ? 0 : -ENOMEM;

	while (!err) {
		char key[128], reason[200];

		err = next_event(p, &ev, st);
		if (err)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length >= sizeof(key)) {
			err = fail_at(st, &ev, "keys must be short scalars");
			yaml_event_delete(&ev);
			break;
		}
		snprintf(key, sizeof(key), "%s", (const char *)ev.data.scalar.value);
		for (size_t i = 0; i < st->nseen && !err; i++) {
			if (strcmp(st->seen[i], key) == 0)
				err = fail_at(st, &ev, "duplicate key");
		}
		if (!err && st->nseen == CONFIG_MAX_KEYS)
			err = fail_at(st, &ev, "too many keys");
		if (!err && !(st->seen[st->nseen++] = strdup(key)))
			err = -ENOMEM;
		if (!err)
			err = read_value(p, st, value, CONFIG_MAX_VALUE);
		if (!err) {
			reason[0] = '\0';
			err = fn(key, value, arg, reason, sizeof(reason));
			if (err)
				snprintf(st->err, sizeof(st->err), "%s:%zu: %s", st->path,
					 ev.start_mark.line + 1, reason);
		}
		yaml_event_delete(&ev);
	}
	free(value);
	return err;
}

int config_load(const char *path, config_entry_fn fn, void *arg, char *err, size_t errlen)
{
	struct config_state st = { .path = path };
	yaml_parser_t parser;
	yaml_event_t ev;
	struct stat sb;
	bool done = false;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* A directory opens for reading; its read fails later with a vague "input error". */
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	while (!rc && !done) {
		rc = next_event(&parser, &ev, &st);
		if (rc)
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			rc = read_mapping(&parser, &st, fn, arg);
			break;
		case YAML_SCALAR_EVENT:
			/* A bare "~" or empty document is an empty configuration. */
			if (ev.data.scalar.length && strcmp((char *)ev.data.scalar.value, "~"))
				rc = fail_at(&st, &ev, "the top level must be a mapping");
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			rc = fail_at(&st, &ev, "the top level must be a mapping");
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	for (size_t i = 0; i < st.nseen; i++)
		free(st.seen[i]);
	if (rc)
		snprintf(err, errlen, "%s", st.err[0] ? st.err : "out of memory");
	return rc;
}
