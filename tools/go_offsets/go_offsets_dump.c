/* Checks that a DWARF rebuild of a Go binary has the original's code, and prints its field offsets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "go_offsets.h"
#include "gopclntab.h"

/* Same functions (name, entry, end) with the same code bytes in both binaries: then the
 * original's structs are the rebuild's, whose DWARF gives their layout. */
static int compare(const char *rebuilt, const char *orig)
{
	struct gopclntab *a = NULL, *b = NULL;
	uint8_t *ca = NULL, *cb = NULL;
	size_t cap = 0;
	int err = 1;

	if (gopclntab_open(rebuilt, &a) || gopclntab_open(orig, &b)) {
		fprintf(stderr, "cannot read the Go function tables of %s and %s\n", rebuilt, orig);
		goto cleanup;
	}
	if (gopclntab_count(a) != gopclntab_count(b) ||
	    gopclntab_text_start(a) != gopclntab_text_start(b)) {
		fprintf(stderr, "function tables differ: %u functions from %#llx, %u from %#llx\n",
			gopclntab_count(a), (unsigned long long)gopclntab_text_start(a),
			gopclntab_count(b), (unsigned long long)gopclntab_text_start(b));
		goto cleanup;
	}
	for (uint32_t i = 0; i < gopclntab_count(a); i++) {
		struct gopclntab_func fa, fb;
		size_t len;

		if (gopclntab_func_at(a, i, &fa) || gopclntab_func_at(b, i, &fb) ||
		    strcmp(fa.name, fb.name) || fa.entry != fb.entry || fa.end != fb.end) {
			fprintf(stderr, "function %u differs\n", i);
			goto cleanup;
		}
		len = (size_t)(fa.end - fa.entry);
		if (len > cap) {
			free(ca);
			free(cb);
			cap = len;
			ca = malloc(cap);
			cb = malloc(cap);
			if (!ca || !cb)
				goto cleanup;
		}
		if (gopclntab_read_code(a, fa.entry, ca, len) ||
		    gopclntab_read_code(b, fb.entry, cb, len) || memcmp(ca, cb, len)) {
			fprintf(stderr, "%s: code differs\n", fa.name);
			goto cleanup;
		}
	}
	printf("%u functions, same addresses and code from %#llx\n", gopclntab_count(a),
	       (unsigned long long)gopclntab_text_start(a));
	err = 0;
cleanup:
	free(ca);
	free(cb);
	gopclntab_free(a);
	gopclntab_free(b);
	return err;
}

/* One line for tools/go_offsets/builds.txt: build ID|description|NAME=offset,... */
static int emit(const char *rebuilt, const char *orig, const char *what)
{
	struct go_offsets off;
	struct gopclntab *t;
	char err[512];

	if (go_offsets_from_dwarf(rebuilt, &off, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (gopclntab_open(orig, &t) || !gopclntab_build_id(t)[0]) {
		fprintf(stderr, "%s: no Go function table or no GNU build ID\n", orig);
		gopclntab_free(t);
		return 1;
	}
	printf("%s|%s|", gopclntab_build_id(t), what);
	for (int i = 0; i < GO_OFF_COUNT; i++) {
		const char *name, *type, *field;

		go_offsets_field(i, &name, &type, &field);
		printf("%s%s=%u", i ? "," : "", name, off.off[i]);
	}
	printf("\n");
	gopclntab_free(t);
	return 0;
}

/* The fields, one per line: NAME TYPE.FIELD. */
static int fields(void)
{
	for (int i = 0; i < GO_OFF_COUNT; i++) {
		const char *name, *type, *field;

		go_offsets_field(i, &name, &type, &field);
		printf("%s %s.%s\n", name, type, field);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "compare") == 0)
		return compare(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "emit") == 0)
		return emit(argv[2], argv[3], argv[4]);
	if (argc == 2 && strcmp(argv[1], "fields") == 0)
		return fields();
	fprintf(stderr, "usage: %s compare REBUILT ORIGINAL | emit REBUILT ORIGINAL WHAT | fields\n",
		argv[0]);
	return 2;
}
