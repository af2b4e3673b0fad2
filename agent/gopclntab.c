/* .gopclntab reader: Go function names and addresses of an ELF executable without a symbol table. */
#include "gopclntab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pcHeader magics (runtime/symtab.go): the functab holds 32-bit offsets from textStart. */
#define GO_MAGIC_118 0xfffffff0u
#define GO_MAGIC_120 0xfffffff1u

/* Executable sections kept for address-to-file-offset translation. */
#define MAX_CODE_SCNS 8

struct code_scn {
	uint64_t addr, size, off;
};

struct gopclntab {
	int fd;
	uint8_t *data; /* the whole .gopclntab */
	size_t size;
	int format;
	uint32_t nfunc;
	uint64_t text_start;
	size_t funcname_off; /* from the start of data */
	size_t pcln_off;     /* functab, then the _func records */
	struct code_scn code[MAX_CODE_SCNS];
	int nr_code;
	char build_id[2 * GOPCLNTAB_BUILD_ID_MAX + 1];
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The GNU build ID note's bytes, as lowercase hex (left empty without one). */
static void read_build_id(struct gopclntab *t, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;

		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_descsz > GOPCLNTAB_BUILD_ID_MAX ||
		    nh.n_namesz != 4 || memcmp((const char *)data->d_buf + name_off, "GNU", 4))
			continue;
		for (size_t i = 0; i < nh.n_descsz; i++)
			snprintf(t->build_id + 2 * i, 3, "%02x", desc[i]);
		return;
	}
}

/* Copies .gopclntab, the build ID and the executable sections' placement out of the file. */
static int read_sections(struct gopclntab *t)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Ehdr eh;
	size_t shstrndx;
	Elf *elf;
	int err = -ENODATA;

	elf = elf_begin(t->fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    !gelf_getehdr(elf, &eh) || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    elf_getshdrstrndx(elf, &shstrndx)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_NOTE && !t->build_id[0])
			read_build_id(t, scn);
		if (sh.sh_type != SHT_PROGBITS)
			continue;
		if ((sh.sh_flags & SHF_EXECINSTR) && t->nr_code < MAX_CODE_SCNS)
			t->code[t->nr_code++] = (struct code_scn){ sh.sh_addr, sh.sh_size, sh.sh_offset };
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".gopclntab") != 0 || t->data)
			continue;
		if (sh.sh_size < 8 + 8 * 8 || sh.sh_size > (1u << 30)) {
			err = -EPROTO;
			goto cleanup;
		}
		t->data = malloc(sh.sh_size);
		if (!t->data) {
			err = -ENOMEM;
			goto cleanup;
		}
		t->size = sh.sh_size;
		if (pread(t->fd, t->data, t->size, (off_t)sh.sh_offset) != (ssize_t)t->size) {
			err = -EIO;
			goto cleanup;
		}
		err = 0;
	}
cleanup:
	if (elf)
		elf_end(elf);
	return err;
}

/* Checks the pcHeader (runtime/symtab.go) and that the functab lies inside the section. */
static int parse_header(struct gopclntab *t)
{
	const uint8_t *h = t->data;
	uint32_t magic = rd32(h);
	uint64_t nfunc, funcname, pcln;

	if (magic == GO_MAGIC_118)
		t->format = 118;
	else if (magic == GO_MAGIC_120)
		t->format = 120;
	else
		return -EPROTO; /* Go <= 1.17 tables hold absolute PCs in another layout */
	if (h[4] || h[5] || h[6] != 1 || h[7] != 8)
		return -EPROTO; /* amd64: minLC 1, pointers 8 bytes */
	nfunc = rd64(h + 8);
	t->text_start = rd64(h + 8 + 2 * 8);
	funcname = rd64(h + 8 + 3 * 8);
	pcln = rd64(h + 8 + 7 * 8);
	if (!nfunc || nfunc > UINT32_MAX / 8 || funcname >= t->size || pcln >= t->size ||
	    (t->size - pcln) / 8 < nfunc + 1)
		return -EPROTO;
	t->nfunc = (uint32_t)nfunc;
	t->funcname_off = funcname;
	t->pcln_off = pcln;
	return 0;
}

int gopclntab_open(const char *path, struct gopclntab **out)
{
	struct gopclntab *t;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = read_sections(t);
	if (err)
		goto cleanup;
	err = parse_header(t);
	if (err)
		goto cleanup;
	*out = t;
	return 0;
cleanup:
	gopclntab_free(t);
	return err;
}

void gopclntab_free(struct gopclntab *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->data);
	free(t);
}

uint32_t gopclntab_count(const struct gopclntab *t)
{
	return t->nfunc;
}

uint64_t gopclntab_text_start(const struct gopclntab *t)
{
	return t->text_start;
}

int gopclntab_format(const struct gopclntab *t)
{
	return t->format;
}

int gopclntab_func_at(const struct gopclntab *t, uint32_t i, struct gopclntab_func *f)
{
	const uint8_t *ft = t->data + t->pcln_off + (size_t)i * 8;
	uint32_t entry_off, func_off, end_off;
	size_t rec, name;

	if (i >= t->nfunc)
		return -EPROTO;
	entry_off = rd32(ft);
	func_off = rd32(ft + 4);
	end_off = rd32(ft + 8); /* the next entry; the last one holds the end of the text */
	rec = t->pcln_off + (size_t)func_off;
	if (rec > t->size - 12 || rd32(t->data + rec) != entry_off || end_off < entry_off)
		return -EPROTO;
	name = t->funcname_off + (size_t)(int64_t)(int32_t)rd32(t->data + rec + 4);
	if (name >= t->size || !memchr(t->data + name, '\0', t->size - name))
		return -EPROTO;
	f->name = (const char *)t->data + name;
	f->entry = t->text_start + entry_off;
	f->end = t->text_start + end_off;
	f->args = (int32_t)rd32(t->data + rec + 8);
	return 0;
}

int gopclntab_lookup(const struct gopclntab *t, const char *name, struct gopclntab_func *f)
{
	struct gopclntab_func cur;
	int found = 0;

	for (uint32_t i = 0; i < t->nfunc; i++) {
		if (gopclntab_func_at(t, i, &cur) || strcmp(cur.name, name) != 0)
			continue;
		/* An assembly function and its ABI wrapper share a name: which one a caller
		 * reaches depends on its ABI, so a probe on either could miss calls. */
		if (found++)
			return -ENOTUNIQ;
		*f = cur;
	}
	return found ? 0 : -ENOENT;
}

int gopclntab_file_offset(const struct gopclntab *t, uint64_t addr, uint64_t *off)
{
	for (int i = 0; i < t->nr_code; i++) {
		const struct code_scn *c = &t->code[i];

		if (addr >= c->addr && addr - c->addr < c->size) {
			*off = addr - c->addr + c->off;
			return 0;
		}
	}
	return -ENOENT;
}

int gopclntab_read_code(const struct gopclntab *t, uint64_t addr, void *buf, size_t len)
{
	uint64_t off;

	for (int i = 0; i < t->nr_code; i++) {
		const struct code_scn *c = &t->code[i];

		if (addr < c->addr || addr - c->addr >= c->size)
			continue;
		if (len > c->size - (addr - c->addr))
			return -ENOENT;
		off = addr - c->addr + c->off;
		if (pread(t->fd, buf, len, (off_t)off) != (ssize_t)len)
			return -EIO;
		return 0;
	}
	return -ENOENT;
}

const char *gopclntab_build_id(const struct gopclntab *t)
{
	return t->build_id;
}
