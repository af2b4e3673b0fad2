/* Long-option scanning and help layout shared by the metastore and agent command lines. */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One option: "--name" (flag when arg is NULL) or "--name ARG" / "--name=ARG". */
struct ms_cli_opt {
	const char *name;
	int id;
	const char *arg; /* metavariable for --help; NULL for a flag */
	const char *help;
};

/*
 * Reads the option at argv[*i]; a separate value is taken from argv[*i + 1] (and *i moves
 * past it) unless that starts with "--": "--pid --probes x" forgot the value. Sets *id and
 * *val (NULL for a flag). Returns 0, or -EINVAL with a one-line message in err.
 */
static inline int ms_cli_next(int argc, char **argv, int *i, const struct ms_cli_opt *opts,
			      size_t nopts, int *id, const char **val, char *err, size_t len)
{
	const char *arg = argv[*i], *eq;
	size_t nlen, k;

	*val = NULL;
	if (strncmp(arg, "--", 2) != 0) {
		snprintf(err, len, "unexpected argument '%s'", arg);
		return -EINVAL;
	}
	eq = strchr(arg + 2, '=');
	nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	for (k = 0; k < nopts; k++) {
		if (strlen(opts[k].name) == nlen && !strncmp(arg + 2, opts[k].name, nlen))
			break;
	}
	if (k == nopts) {
		snprintf(err, len, "unknown option %.*s", (int)(nlen + 2), arg);
		return -EINVAL;
	}
	if (opts[k].arg) {
		if (eq)
			*val = eq + 1;
		else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
			*val = argv[++*i];
		if (!*val) {
			snprintf(err, len, "--%s: missing value", opts[k].name);
			return -EINVAL;
		}
	} else if (eq) {
		snprintf(err, len, "--%s takes no value", opts[k].name);
		return -EINVAL;
	}
	*id = opts[k].id;
	return 0;
}

/* Writes one aligned line per option: "  --name ARG   help". */
static inline void ms_cli_print_options(FILE *out, const struct ms_cli_opt *opts, size_t nopts)
{
	for (size_t k = 0; k < nopts; k++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", opts[k].name, opts[k].arg ? " " : "",
			 opts[k].arg ? opts[k].arg : "");
		fprintf(out, "  %-24s %s\n", left, opts[k].help);
	}
}

#endif /* MS_CLI_H */
