/* Symbol lookup in the target ELF binary with libelf (.symtab, then .dynsym). */
#include "elf_sym.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct elf_syms {
	int fd;
	Elf *elf;
	Elf_Scn *symtab; /* .symtab if present, else .dynsym */
	bool stripped;
};

static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

int elf_syms_open(const char *path, struct elf_syms **out)
{
	struct elf_syms *es;
	Elf_Scn *scn = NULL, *dynsym = NULL;
	GElf_Shdr sh;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	es = calloc(1, sizeof(*es));
	if (!es)
		return -ENOMEM;
	es->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (es->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	es->elf = elf_begin(es->fd, ELF_C_READ, NULL);
	if (!es->elf || elf_kind(es->elf) != ELF_K_ELF || gelf_getclass(es->elf) != ELFCLASS64) {
		err = -ENOEXEC;
		goto cleanup;
	}
	while ((scn = elf_nextscn(es->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			es->symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			dynsym = scn;
	}
	es->stripped = !es->symtab;
	if (!es->symtab)
		es->symtab = dynsym;
	if (!es->symtab) {
		err = -ENODATA;
		goto cleanup;
	}
	*out = es;
	return 0;
cleanup:
	elf_syms_free(es);
	return err;
}

void elf_syms_free(struct elf_syms *es)
{
	if (!es)
		return;
	if (es->elf)
		elf_end(es->elf);
	if (es->fd >= 0)
		close(es->fd);
	free(es);
}

bool elf_syms_stripped(const struct elf_syms *es)
{
	return es->stripped;
}

/* File offset of virtual address `addr`, from the section with file contents and the section
 * flag `flag` (SHF_EXECINSTR: code, SHF_WRITE: writable data, SHF_ALLOC: any) that holds it. */
static int addr_to_offset(Elf *elf, uint64_t addr, uint64_t flag, uint64_t *off)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		if (!(sh.sh_flags & flag))
			continue;
		if (addr >= sh.sh_addr && addr < sh.sh_addr + sh.sh_size) {
			*off = addr - sh.sh_addr + sh.sh_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* The defined symbol `name` of ELF type `type`. Returns 0 or -ENOENT. */
static int find_sym(struct elf_syms *es, const char *name, int type, GElf_Sym *sym)
{
	Elf_Data *data = elf_getdata(es->symtab, NULL);
	GElf_Shdr sh;
	size_t n;

	if (!data || !gelf_getshdr(es->symtab, &sh) || !sh.sh_entsize)
		return -ENOENT;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		const char *sname;

		if (!gelf_getsym(data, (int)i, sym))
			continue;
		if (GELF_ST_TYPE(sym->st_info) != type || sym->st_shndx == SHN_UNDEF)
			continue;
		sname = elf_strptr(es->elf, sh.sh_link, sym->st_name);
		if (sname && strcmp(sname, name) == 0)
			return 0;
	}
	return -ENOENT;
}

int elf_syms_lookup(struct elf_syms *es, const char *name, struct elf_sym_info *info)
{
	uint8_t entry[5];
	GElf_Sym sym;

	if (find_sym(es, name, STT_FUNC, &sym))
		return -ENOENT;
	info->addr = sym.st_value;
	if (addr_to_offset(es->elf, sym.st_value, SHF_EXECINSTR, &info->offset))
		return -ENOENT;
	info->nop5 = pread(es->fd, entry, sizeof(entry), (off_t)info->offset) == sizeof(entry) &&
		     memcmp(entry, nop5, sizeof(nop5)) == 0;
	return 0;
}

int elf_syms_object_offset(struct elf_syms *es, const char *name, uint64_t *offset)
{
	GElf_Sym sym;

	if (find_sym(es, name, STT_OBJECT, &sym))
		return -ENOENT;
	return addr_to_offset(es->elf, sym.st_value, SHF_WRITE, offset);
}

int elf_syms_read_u32(struct elf_syms *es, const char *name, uint32_t *val)
{
	uint64_t off;
	GElf_Sym sym;

	if (find_sym(es, name, STT_OBJECT, &sym) ||
	    addr_to_offset(es->elf, sym.st_value, SHF_ALLOC, &off))
		return -ENOENT;
	if (pread(es->fd, val, sizeof(*val), (off_t)off) != (ssize_t)sizeof(*val))
		return -EIO;
	return 0;
}
