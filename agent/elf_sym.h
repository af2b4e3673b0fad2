/* Symbol lookup in the target ELF binary: where a probe function is and what its entry holds. */
#ifndef AGENT_ELF_SYM_H
#define AGENT_ELF_SYM_H

#include <stdbool.h>
#include <stdint.h>

struct elf_syms;

struct elf_sym_info {
	uint64_t addr;   /* st_value */
	uint64_t offset; /* file offset of the first instruction */
	bool nop5;       /* entry is the 5-byte NOP 0f 1f 44 00 00 (optimizable uprobe site) */
};

/* Opens `path` for lookups. Returns 0, -ENOENT (no such file), -EACCES, -ENOEXEC (not a
 * 64-bit ELF), or -ENODATA (no symbol table: stripped). *out is owned by the caller. */
int elf_syms_open(const char *path, struct elf_syms **out);

/* Frees a table from elf_syms_open; NULL is allowed. */
void elf_syms_free(struct elf_syms *es);

/* True when the binary has no .symtab (stripped): only exported symbols can be found. */
bool elf_syms_stripped(const struct elf_syms *es);

/* Looks up function `name`. Returns 0 and fills *info, or -ENOENT when it is not defined. */
int elf_syms_lookup(struct elf_syms *es, const char *name, struct elf_sym_info *info);

/* File offset of data object `name`, which must lie in a section with file contents (not
 * .bss): what a uprobe's reference counter (USDT semaphore) is given as. Returns 0, or
 * -ENOENT when it is not defined there. */
int elf_syms_object_offset(struct elf_syms *es, const char *name, uint64_t *offset);

/* The 32-bit value data object `name` holds in the file (a constant such as the store's
 * ms_probe_abi_version), in the host's byte order. Returns 0, -ENOENT when it is not defined
 * in a section with file contents, or -EIO when the file is short. */
int elf_syms_read_u32(struct elf_syms *es, const char *name, uint32_t *val);

#endif /* AGENT_ELF_SYM_H */
