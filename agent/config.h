/* Configuration file: a flat YAML mapping of option names to values, read with libyaml. */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stddef.h>

/* Called once per key; `value` is the scalar, or a sequence's scalars joined by commas.
 * Returns 0, or -errno with a message in err (the loader adds the file and line). */
typedef int (*config_entry_fn)(const char *key, const char *value, void *arg, char *err,
			       size_t errlen);

/*
 * Reads `path`: a YAML document whose top level is a mapping of keys to scalars or to
 * sequences of scalars (an empty document is allowed). Calls fn for each entry in file
 * order. Returns 0, or -errno with "PATH: reason" in err for a file that cannot be read
 * (missing, no permission, a directory), or "PATH:LINE: reason" (YAML syntax error, nested
 * mapping, duplicate key, or fn's own error). Never prints.
 */
int config_load(const char *path, config_entry_fn fn, void *arg, char *err, size_t errlen);

#endif /* AGENT_CONFIG_H */
