/* Go struct field offsets: read from DWARF with libdw, or taken from the generated build-ID table. */
#include "go_offsets.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef GO_OFFSETS_NO_TABLE
/* The generator of the table is built without it: a field list that changed since the table
 * was generated must not stop the build that generates it again. */
static const struct go_offsets_build go_offsets_builds[1];
#else
#include "go_offsets_table.h"
#endif

#define GO_OFF_NAME_(id, type, field) #id,
static const char *const field_ids[GO_OFF_COUNT] = { GO_OFFSET_FIELDS(GO_OFF_NAME_) };
#undef GO_OFF_NAME_
#define GO_OFF_TYPE_(id, type, field) type,
static const char *const field_types[GO_OFF_COUNT] = { GO_OFFSET_FIELDS(GO_OFF_TYPE_) };
#undef GO_OFF_TYPE_
#define GO_OFF_FIELD_(id, type, field) field,
static const char *const field_names[GO_OFF_COUNT] = { GO_OFFSET_FIELDS(GO_OFF_FIELD_) };
#undef GO_OFF_FIELD_

void go_offsets_field(enum go_offset_id id, const char **name, const char **type,
		      const char **field)
{
	*name = field_ids[id];
	*type = field_types[id];
	*field = field_names[id];
}

/* The fields a DWARF walk looks for, and what it found. */
struct dwarf_want {
	const char *const *types, *const *fields;
	size_t n;
	uint32_t *off;
	bool *found;
};

/* Fills the offsets of every wanted field of struct `die` (named `name`). */
static void struct_members(Dwarf_Die *die, const char *name, struct dwarf_want *w)
{
	Dwarf_Die m;

	if (dwarf_child(die, &m) != 0)
		return;
	do {
		Dwarf_Attribute attr;
		Dwarf_Word loc;
		const char *mname;

		if (dwarf_tag(&m) != DW_TAG_member || !(mname = dwarf_diename(&m)))
			continue;
		for (size_t i = 0; i < w->n; i++) {
			if (w->found[i] || strcmp(w->types[i], name) || strcmp(w->fields[i], mname))
				continue;
			if (!dwarf_attr(&m, DW_AT_data_member_location, &attr) ||
			    dwarf_formudata(&attr, &loc) != 0 || loc > UINT32_MAX)
				continue;
			w->off[i] = (uint32_t)loc;
			w->found[i] = true;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
}

/* True when some wanted field of type `name` is still missing. */
static bool wanted(const char *name, const struct dwarf_want *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (!w->found[i] && strcmp(w->types[i], name) == 0)
			return true;
	}
	return false;
}

/* Walks every compile unit's top-level structs: Go puts its types there. */
static void walk_units(Dwarf *dbg, struct dwarf_want *w)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (dwarf_nextcu(dbg, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;

		if (dwarf_offdie(dbg, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				const char *name;

				if (dwarf_tag(&die) != DW_TAG_structure_type ||
				    !(name = dwarf_diename(&die)) || !wanted(name, w))
					continue;
				struct_members(&die, name, w);
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
}

int go_dwarf_field_offsets(const char *path, const char *const *types,
			   const char *const *fields, size_t n, uint32_t *off, char *errbuf,
			   size_t errlen)
{
	bool found[GO_DWARF_MAX_FIELDS] = { false };
	struct dwarf_want w = { types, fields, n, off, found };
	Dwarf *dbg = NULL;
	int fd, err = 0;

	if (n > GO_DWARF_MAX_FIELDS)
		return -E2BIG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(-err));
		return err;
	}
	dbg = dwarf_begin(fd, DWARF_C_READ);
	if (!dbg) {
		snprintf(errbuf, errlen, "%s: no DWARF (%s)", path, dwarf_errmsg(-1));
		err = -ENODATA;
		goto cleanup;
	}
	walk_units(dbg, &w);
	for (size_t i = 0; i < n; i++) {
		if (!found[i]) {
			snprintf(errbuf, errlen, "%s: DWARF has no field %s.%s", path, types[i],
				 fields[i]);
			err = -ENOENT;
			break;
		}
	}
cleanup:
	if (dbg)
		dwarf_end(dbg);
	close(fd);
	return err;
}

int go_offsets_from_dwarf(const char *path, struct go_offsets *out, char *errbuf, size_t errlen)
{
	return go_dwarf_field_offsets(path, field_types, field_names, GO_OFF_COUNT, out->off,
				      errbuf, errlen);
}

const struct go_offsets_build *go_offsets_known(const char *build_id)
{
	for (size_t i = 0; i < sizeof(go_offsets_builds) / sizeof(go_offsets_builds[0]); i++) {
		if (build_id[0] && go_offsets_builds[i].build_id &&
		    strcmp(go_offsets_builds[i].build_id, build_id) == 0)
			return &go_offsets_builds[i];
	}
	return NULL;
}

int go_offsets_resolve(const char *path, const struct gopclntab *t, struct go_offsets *out,
		       const char **source, char *errbuf, size_t errlen)
{
	const struct go_offsets_build *b;
	char dwarf_err[256];
	int err;

	err = go_offsets_from_dwarf(path, out, dwarf_err, sizeof(dwarf_err));
	if (!err) {
		*source = "dwarf";
		return 0;
	}
	if (err != -ENODATA) {
		snprintf(errbuf, errlen, "%s", dwarf_err);
		return -ENOENT;
	}
	b = go_offsets_known(gopclntab_build_id(t));
	if (!b) {
		snprintf(errbuf, errlen,
			 "%s: no DWARF and build ID %s is not in the offsets table "
			 "(tools/go_offsets/gen_etcd_offsets.sh adds a build)",
			 path, gopclntab_build_id(t)[0] ? gopclntab_build_id(t) : "(none)");
		return -ENOENT;
	}
	*out = b->offsets;
	*source = b->what;
	return 0;
}
