/* Go function table of an executable, from its .gopclntab (Go 1.18+ format), for stripped Go binaries. */
#ifndef AGENT_GOPCLNTAB_H
#define AGENT_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

struct gopclntab;

struct gopclntab_func {
	const char *name; /* points into the table: valid until gopclntab_free */
	uint64_t entry;   /* virtual address of the first instruction */
	uint64_t end;     /* first address past the function */
	int32_t args;     /* its stack arguments' size (_func.args): with the register ABI the
			   * spill area its callers keep for it */
};

/*
 * Reads the function table of the ELF executable at `path`. Returns 0 with *out owned by the
 * caller (gopclntab_free), or -ENOENT/-EACCES (open), -ENOEXEC (not a 64-bit little-endian
 * ELF), -ENODATA (no .gopclntab: not a Go binary), -EPROTO (a pclntab format other than Go
 * 1.18+'s, or a table whose offsets point outside it).
 */
int gopclntab_open(const char *path, struct gopclntab **out);

/* Frees a table from gopclntab_open; NULL is allowed. */
void gopclntab_free(struct gopclntab *t);

/* Number of functions in the table. */
uint32_t gopclntab_count(const struct gopclntab *t);

/* Start of the Go text as the pclntab header records it (runtime.text): function entries are
 * offsets from it, and it differs from .text's address when the external linker put C code
 * first. */
uint64_t gopclntab_text_start(const struct gopclntab *t);

/* Function `i` (< gopclntab_count). Returns 0, or -EPROTO when its record is out of bounds. */
int gopclntab_func_at(const struct gopclntab *t, uint32_t i, struct gopclntab_func *f);

/* Function named `name` (Go's full name, e.g. "google.golang.org/grpc.(*Server).handleStream").
 * Returns 0, -ENOENT, or -ENOTUNIQ when two functions have that name (an assembly function
 * and its ABI wrapper). */
int gopclntab_lookup(const struct gopclntab *t, const char *name, struct gopclntab_func *f);

/* File offset of code address `addr` (in an executable section): what a uprobe is given.
 * Returns 0, or -ENOENT. */
int gopclntab_file_offset(const struct gopclntab *t, uint64_t addr, uint64_t *off);

/* Copies `len` bytes of code at address `addr` into `buf`. Returns 0, -ENOENT (not in an
 * executable section) or -EIO (short read). */
int gopclntab_read_code(const struct gopclntab *t, uint64_t addr, void *buf, size_t len);

/* Go version the table format implies: 118 for Go 1.18-1.19, 120 for Go 1.20+. */
int gopclntab_format(const struct gopclntab *t);

/* Longest GNU build ID kept, in bytes. */
#define GOPCLNTAB_BUILD_ID_MAX 64

/* The binary's GNU build ID in lowercase hex ("" when it has none); valid until
 * gopclntab_free. With external linking Go derives it from its own build ID. */
const char *gopclntab_build_id(const struct gopclntab *t);

#endif /* AGENT_GOPCLNTAB_H */
