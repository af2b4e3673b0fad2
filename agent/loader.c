/* BPF loader: open -> set rodata -> load -> attach, per selected subsystem, all or nothing. */
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "auth.skel.h"
#include "elf_sym.h"
#include "go_target.h"
#include "conn.skel.h"
#include "grpc.skel.h"
#include "lease.skel.h"
#include "member.skel.h"
#include "ms_maps.h"
#include "ms_probes.h"
#include "mvcc.skel.h"
#include "raft.skel.h"
#include "storage.skel.h"
#include "uprobe_multi.h"
#include "watch.skel.h"

struct loader_sub {
	void *skel;
	struct bpf_object *obj;
	void (*destroy)(void *skel);
	struct bpf_link *links[MS_MAX_PROBES];
	size_t nr_links;
	int fds[MS_MAX_PROBES]; /* a Go target's uprobe_multi links */
	size_t nr_fds;
};

/* Links of one loader_attach_path() call: every selected probe on one more binary file. */
struct loader_gen {
	struct bpf_link *links[MS_MAX_PROBES];
	size_t nr_links;
	int fds[MS_MAX_PROBES];
	size_t nr_fds;
};

/* Detaches a set of links: the uprobe_multi fds closed in parallel (each close waits for a
 * grace period of its own), then the libbpf links. */
static void links_drop(struct bpf_link **links, size_t *nr, int *fds, size_t *nr_fds)
{
	uprobe_multi_close_all(fds, *nr_fds);
	*nr_fds = 0;
	for (size_t i = 0; i < *nr; i++)
		bpf_link__destroy(links[i]);
	*nr = 0;
}

struct loader {
	struct loader_sub subs[SUBSYS_COUNT];
	struct loader_probe_state probes[MS_MAX_PROBES];
	uint64_t bounds[MS_MAX_BUCKETS];
	uint32_t nr_bounds;
	uint32_t subsys_mask;
	const char *btf; /* --btf, borrowed from the options (NULL: the kernel's own) */
	struct loader_gen gens[LOADER_MAX_GENERATIONS]; /* oldest first */
	size_t nr_gens;
	struct go_target *go; /* a Go binary: its probe sites and offsets (else NULL) */
	char *binary; /* what loader_new attached to, and pid: for loader_reattach */
	int pid;
	bool detached; /* loader_detach took the links of loader_new away */
};

/* Each skeleton has its own rodata type; these wrappers give them one shape. */
#define LOADER_OPEN_FN(name)                                                            \
	static int open_##name(struct loader *l, struct loader_sub *s)                  \
	{                                                                               \
		LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = l->btf);      \
		struct name##_bpf *k = name##_bpf__open_opts(&oo);                      \
		if (!k)                                                                 \
			return errno ? -errno : -ENOMEM;                                \
		memcpy((void *)k->rodata->bounds_ns, l->bounds,                         \
		       sizeof(l->bounds[0]) * l->nr_bounds);                            \
		k->rodata->nr_bounds = l->nr_bounds;                                    \
		s->skel = k;                                                            \
		s->obj = k->obj;                                                        \
		s->destroy = (void (*)(void *))name##_bpf__destroy;                     \
		return 0;                                                               \
	}

LOADER_OPEN_FN(grpc)
LOADER_OPEN_FN(conn)
LOADER_OPEN_FN(storage)
LOADER_OPEN_FN(mvcc)
LOADER_OPEN_FN(watch)
LOADER_OPEN_FN(lease)
LOADER_OPEN_FN(auth)
LOADER_OPEN_FN(raft)
LOADER_OPEN_FN(member)

static int (*const openers[SUBSYS_COUNT])(struct loader *, struct loader_sub *) = {
	[SUBSYS_GRPC] = open_grpc,
	[SUBSYS_CONN] = open_conn,
	[SUBSYS_STORAGE] = open_storage,
	[SUBSYS_MVCC] = open_mvcc,
	[SUBSYS_WATCH] = open_watch,
	[SUBSYS_LEASE] = open_lease,
	[SUBSYS_AUTH] = open_auth,
	[SUBSYS_RAFT] = open_raft,
	[SUBSYS_MEMBER] = open_member,
};

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Checks every selected probe symbol before anything is loaded; records nop5 sites. */
static int check_symbols(struct loader *l, const struct loader_opts *o, char *eb, size_t el)
{
	struct elf_syms *es = NULL;
	uint32_t abi;
	int err = elf_syms_open(o->binary, &es);

	if (err == -ENODATA) {
		set_err(eb, el, "%s has no symbol table (stripped binary); probes need symbols",
			o->binary);
		return err;
	}
	if (err == -ENOEXEC) {
		set_err(eb, el, "%s is not a 64-bit ELF executable", o->binary);
		return err;
	}
	if (err) {
		set_err(eb, el, "cannot open %s: %s", o->binary, strerror(-err));
		return err;
	}
	/* A store of another major version writes records this agent would misread (counting
	 * in-flight calls wrong, say): refuse it. A binary that names no version (a test or
	 * benchmark program carrying the probe functions) is taken as this one. */
	if (!elf_syms_read_u32(es, "ms_probe_abi_version", &abi) &&
	    abi >> 16 != MS_PROBE_ABI_MAJOR) {
		set_err(eb, el, "%s speaks probe contract %u.%u and this agent %u.%u: the major "
				"versions differ, nothing attached",
			o->binary, abi >> 16, abi & 0xffff, MS_PROBE_ABI_MAJOR, MS_PROBE_ABI_MINOR);
		err = -EPROTO;
		goto cleanup;
	}
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);

		if (!(o->subsys_mask & (1u << id)))
			continue;
		for (size_t i = 0; i < d->nr_probes; i++) {
			struct loader_probe_state *ps = &l->probes[subsys_probe_index(id, i)];
			struct elf_sym_info info;

			err = elf_syms_lookup(es, d->probes[i].func, &info);
			if (err) {
				set_err(eb, el, "symbol %s (subsystem %s) not found in %s%s",
					d->probes[i].func, d->name, o->binary,
					elf_syms_stripped(es) ? " (stripped binary: no .symtab)" : "");
				goto cleanup;
			}
			ps->nop5 = info.nop5;
			ps->ref_ctr_offset = 0;
			if (!d->probes[i].semaphore)
				continue;
			err = elf_syms_object_offset(es, d->probes[i].semaphore, &ps->ref_ctr_offset);
			if (err) {
				set_err(eb, el, "symbol %s (subsystem %s) not found in %s",
					d->probes[i].semaphore, d->name, o->binary);
				goto cleanup;
			}
		}
	}
cleanup:
	elf_syms_free(es);
	return err;
}

/* Marks every probe of subsystem `id` attached or not (a Go target's sites are attached per
 * subsystem, not per probe). */
static void mark_attached(struct loader *l, enum subsys_id id, bool on)
{
	const struct subsys_desc *d = subsys_get(id);

	for (size_t i = 0; i < d->nr_probes; i++)
		l->probes[subsys_probe_index(id, i)].attached = on;
}

/* Attaches every probe of loaded subsystem `id` to `binary` (pid -1: every process), adding
 * the links to links[*nr]. Returns 0 or -errno with a reason in eb. */
static int attach_probes(struct loader *l, enum subsys_id id, const char *binary, int pid,
			 struct bpf_link **links, size_t *nr, char *eb, size_t el)
{
	const struct subsys_desc *d = subsys_get(id);
	struct loader_sub *s = &l->subs[id];
	int err;

	for (size_t i = 0; i < d->nr_probes; i++) {
		uint32_t idx = subsys_probe_index(id, i);
		struct bpf_program *prog = bpf_object__find_program_by_name(s->obj, d->probes[i].prog);
		/* A batch probe raises its semaphore in the store, which then writes records. */
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = d->probes[i].func, .bpf_cookie = idx,
			    .ref_ctr_offset = (size_t)l->probes[idx].ref_ctr_offset);
		struct bpf_link *link;

		if (!prog) {
			err = -ENOENT;
			set_err(eb, el, "BPF program %s missing from subsystem %s", d->probes[i].prog,
				d->name);
			return err;
		}
		link = bpf_program__attach_uprobe_opts(prog, pid, binary, 0, &uo);
		if (!link) {
			err = -errno;
			set_err(eb, el, "cannot attach uprobe to %s in %s: %s", d->probes[i].func,
				binary, strerror(-err));
			return err;
		}
		links[(*nr)++] = link;
		l->probes[idx].attached = true;
	}
	return 0;
}

/* Lets the processes that run the file `binary` count (the member object's exe_allowed),
 * keyed as the kernel sees the file: its superblock's device (major << 20 | minor). */
static int allow_exe(struct loader *l, const char *binary, char *eb, size_t el)
{
	struct bpf_object *mo = l->subs[SUBSYS_MEMBER].obj;
	struct ms_exe_key k = { 0 };
	struct stat st;
	uint8_t one = 1;
	int err;

	if (stat(binary, &st)) {
		err = -errno;
		set_err(eb, el, "cannot stat %s: %s", binary, strerror(-err));
		return err;
	}
	k.dev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
	k.ino = st.st_ino;
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(mo, "exe_allowed"), &k, &one,
				BPF_ANY)) {
		err = -errno;
		set_err(eb, el, "cannot allow %s (the executable table is full?): %s", binary,
			strerror(-err));
		return err;
	}
	return 0;
}

/* The loaded member object (store or Go): its process filter, and the executable allowed. */
static int member_setup(struct loader *l, const struct loader_opts *o, char *eb, size_t el)
{
	struct ms_member_filter f = { .has_uid = o->has_target_uid, .uid = o->target_uid,
				      .cgroup = o->target_cgroup,
				      .pidns_dev = o->target_pidns_dev,
				      .pidns_ino = o->target_pidns_ino };
	struct bpf_object *mo = l->subs[SUBSYS_MEMBER].obj;
	uint32_t zero = 0;
	int err;

	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(mo, "member_filter"), &zero, &f,
				BPF_ANY)) {
		err = -errno;
		set_err(eb, el, "cannot set the process filter: %s", strerror(-err));
		return err;
	}
	return allow_exe(l, o->binary, eb, el);
}

/* A Go target's subsystem: its go_* object stands where the subsystem's object would, with
 * the same maps (the member object's process table shared), so the collector reads it the
 * same way. */
static int attach_go_sub(struct loader *l, enum subsys_id id, const struct loader_opts *o,
			 char *eb, size_t el)
{
	const struct subsys_desc *d = subsys_get(id);
	struct loader_sub *s = &l->subs[id];
	struct go_target_sub gs = { .gl = { .links = s->links, .fds = s->fds } };
	struct bpf_object *mo = l->subs[SUBSYS_MEMBER].obj;
	int proc_fd = -1, err;

	if (id != SUBSYS_MEMBER) {
		proc_fd = mo ? bpf_object__find_map_fd_by_name(mo, "proc_node") : -ENOENT;
		if (proc_fd < 0) {
			set_err(eb, el, "cannot share the process table with subsystem %s: %s",
				d->name, strerror(-proc_fd));
			return proc_fd;
		}
	}
	err = go_target_attach(l->go, id, o->binary, o->pid, l->bounds, l->nr_bounds,
			       subsys_probe_index(id, 0), proc_fd, &gs, eb, el);
	s->skel = gs.skel;
	s->obj = gs.obj;
	s->destroy = gs.destroy;
	s->nr_links = gs.gl.nr_links;
	s->nr_fds = gs.gl.nr_fds;
	if (!err && id == SUBSYS_MEMBER)
		err = member_setup(l, o, eb, el);
	if (!err)
		mark_attached(l, id, true);
	return err;
}

static int attach_sub(struct loader *l, enum subsys_id id, const struct loader_opts *o, char *eb,
		      size_t el)
{
	const struct subsys_desc *d = subsys_get(id);
	struct loader_sub *s = &l->subs[id];
	int err;

	if (l->go)
		return attach_go_sub(l, id, o, eb, el);
	err = openers[id](l, s);
	if (err) {
		set_err(eb, el, "cannot open BPF object of subsystem %s: %s", d->name, strerror(-err));
		return err;
	}
	/* one process table for all: the member object's (loaded first) */
	if (id != SUBSYS_MEMBER) {
		struct bpf_map *m = bpf_object__find_map_by_name(s->obj, "proc_node");
		struct bpf_object *mo = l->subs[SUBSYS_MEMBER].obj;

		err = m && mo ? bpf_map__reuse_fd(m, bpf_object__find_map_fd_by_name(mo, "proc_node"))
			      : -ENOENT;
		if (err) {
			set_err(eb, el, "cannot share the process table with subsystem %s: %s",
				d->name, strerror(-err));
			return err;
		}
	}
	err = bpf_object__load(s->obj);
	if (err) {
		set_err(eb, el, "cannot load BPF object of subsystem %s: %s", d->name,
			strerror(-err));
		return err;
	}
	if (id == SUBSYS_MEMBER) {
		err = member_setup(l, o, eb, el);
		if (err)
			return err;
	}
	return attach_probes(l, id, o->binary, o->pid, s->links, &s->nr_links, eb, el);
}

/* Replaces the first `from` in the reason by `to` (if `to` is set and it fits). */
static void rename_in_reason(char *eb, size_t el, const char *from, const char *to)
{
	char *at = to ? strstr(eb, from) : NULL;
	char tail[256];

	if (!at)
		return;
	snprintf(tail, sizeof(tail), "%s", at + strlen(from));
	*at = '\0';
	snprintf(at, el - (size_t)(at - eb), "%s%s", to, tail);
}

static void gen_destroy(struct loader_gen *g)
{
	links_drop(g->links, &g->nr_links, g->fds, &g->nr_fds);
}

/* Keeps generation `g`; past LOADER_MAX_GENERATIONS the oldest added one goes (the links of
 * loader_new always stay). */
static void gen_add(struct loader *l, const struct loader_gen *g)
{
	if (l->nr_gens == LOADER_MAX_GENERATIONS) {
		gen_destroy(&l->gens[0]);
		memmove(&l->gens[0], &l->gens[1], sizeof(l->gens[0]) * (LOADER_MAX_GENERATIONS - 1));
		l->nr_gens--;
	}
	l->gens[l->nr_gens++] = *g;
}

/* A replaced Go binary: its sites, found again, with the programs already loaded, which
 * read the struct offsets of the first build: a build with other offsets is refused. */
static int attach_go_path(struct loader *l, const char *binary, const char *shown, char *eb,
			  size_t el)
{
	struct go_target *gt = NULL;
	struct loader_gen g = { 0 };
	int err;

	err = go_target_open(binary, &gt, eb, el);
	if (!err && !gt) {
		set_err(eb, el, "%s is not a Go binary like the one the agent attached to", binary);
		err = -ENOEXEC;
	}
	if (!err && !go_target_same_offsets(l->go, gt)) {
		set_err(eb, el, "%s: a Go build whose struct offsets differ (restart the agent)",
			binary);
		err = -ENOEXEC;
	}
	if (!err)
		err = go_target_check(gt, l->subsys_mask, eb, el);
	if (!err)
		err = allow_exe(l, binary, eb, el);
	for (int id = 0; id < SUBSYS_COUNT && !err; id++) {
		struct go_links gl = { .links = g.links, .nr_links = g.nr_links, .fds = g.fds,
				       .nr_fds = g.nr_fds };

		if (!(l->subsys_mask & (1u << id)))
			continue;
		err = go_target_attach_loaded(gt, id, l->subs[id].obj, binary, -1,
					      subsys_probe_index(id, 0), &gl, eb, el);
		g.nr_links = gl.nr_links;
		g.nr_fds = gl.nr_fds;
	}
	go_target_free(gt);
	if (err) {
		gen_destroy(&g);
		rename_in_reason(eb, el, binary, shown);
		return err;
	}
	gen_add(l, &g);
	return 0;
}

int loader_attach_path(struct loader *l, const char *binary, const char *shown, char *eb,
		       size_t el)
{
	struct loader_opts o = { .binary = binary, .pid = -1, .subsys_mask = l->subsys_mask };
	struct loader_gen g = { 0 };
	int err;

	if (l->go)
		return attach_go_path(l, binary, shown, eb, el);
	err = check_symbols(l, &o, eb, el);
	if (!err)
		err = allow_exe(l, binary, eb, el);
	if (err)
		goto cleanup;
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		if (!(l->subsys_mask & (1u << id)))
			continue;
		err = attach_probes(l, id, binary, -1, g.links, &g.nr_links, eb, el);
		if (err)
			goto cleanup;
	}
	gen_add(l, &g);
	return 0;
cleanup:
	gen_destroy(&g);
	rename_in_reason(eb, el, binary, shown);
	return err;
}

/* Destroys the links loader_new (or loader_reattach) made; their probes read detached. */
static void drop_own_links(struct loader *l)
{
	int fds[MS_MAX_PROBES];
	size_t nr = 0;

	/* every subsystem's uprobe_multi fds in one parallel close: one wait, not one each
	 * (a batch per MS_MAX_PROBES fds, so none is left open) */
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		struct loader_sub *s = &l->subs[id];

		for (size_t i = 0; i < s->nr_fds; i++) {
			if (nr == MS_MAX_PROBES) {
				uprobe_multi_close_all(fds, nr);
				nr = 0;
			}
			fds[nr++] = s->fds[i];
		}
		s->nr_fds = 0;
	}
	uprobe_multi_close_all(fds, nr);
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		struct loader_sub *s = &l->subs[id];

		links_drop(s->links, &s->nr_links, s->fds, &s->nr_fds);
		if (l->subsys_mask & (1u << id))
			mark_attached(l, id, false);
	}
}

int loader_detach(struct loader *l)
{
	if (l->nr_gens)
		return -EBUSY;
	drop_own_links(l);
	l->detached = true;
	return 0;
}

/* Subsystem `id`'s links, made again into its own links[] as loader_new made them. */
static int reattach_sub(struct loader *l, enum subsys_id id, char *eb, size_t el)
{
	struct loader_sub *s = &l->subs[id];
	struct go_links gl;
	int err;

	if (!l->go)
		return attach_probes(l, id, l->binary, l->pid, s->links, &s->nr_links, eb, el);
	gl = (struct go_links){ .links = s->links, .nr_links = s->nr_links, .fds = s->fds,
				.nr_fds = s->nr_fds };
	err = go_target_attach_loaded(l->go, id, s->obj, l->binary, l->pid,
				      subsys_probe_index(id, 0), &gl, eb, el);
	s->nr_links = gl.nr_links;
	s->nr_fds = gl.nr_fds;
	if (!err)
		mark_attached(l, id, true);
	return err;
}

int loader_reattach(struct loader *l, char *eb, size_t el)
{
	int err = 0;

	if (!l->detached)
		return 0;
	for (int id = 0; id < SUBSYS_COUNT && !err; id++) {
		if (l->subsys_mask & (1u << id))
			err = reattach_sub(l, id, eb, el);
	}
	if (err) {
		drop_own_links(l);
		return err;
	}
	l->detached = false;
	return 0;
}

bool loader_detached(const struct loader *l)
{
	return l->detached;
}

int loader_check(const struct loader_opts *o, char *eb, size_t el)
{
	struct loader_opts with_member = *o;
	struct loader *l = calloc(1, sizeof(*l));
	int err;

	if (!l) {
		set_err(eb, el, "out of memory");
		return -ENOMEM;
	}
	with_member.subsys_mask |= SUBSYS_MEMBER_BIT;
	err = go_target_open(o->binary, &l->go, eb, el);
	if (!err)
		err = l->go ? go_target_check(l->go, with_member.subsys_mask, eb, el)
			    : check_symbols(l, &with_member, eb, el);
	go_target_free(l->go);
	free(l);
	return err;
}

int loader_new(const struct loader_opts *o, struct loader **out, char *eb, size_t el)
{
	struct loader *l;
	int err;

	*out = NULL;
	if (o->nr_bounds > MS_MAX_BUCKETS || subsys_total_probes() > MS_MAX_PROBES) {
		set_err(eb, el, "too many histogram buckets or probes");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		set_err(eb, el, "out of memory");
		return -ENOMEM;
	}
	memcpy(l->bounds, o->bounds_ns, sizeof(l->bounds[0]) * o->nr_bounds);
	l->nr_bounds = o->nr_bounds;
	l->btf = o->btf;
	l->pid = o->pid;
	l->binary = strdup(o->binary);
	if (!l->binary) {
		set_err(eb, el, "out of memory");
		err = -ENOMEM;
		goto cleanup;
	}
	/* the member subsystem names the process of every event: always there */
	l->subsys_mask = o->subsys_mask | SUBSYS_MEMBER_BIT;

	{
		struct loader_opts with_member = *o;

		with_member.subsys_mask = l->subsys_mask;
		/* A Go binary (a .gopclntab) has its own sites; anything else needs the probe
		 * symbols. */
		err = go_target_open(o->binary, &l->go, eb, el);
		if (err)
			goto cleanup;
		if (l->go) {
			go_target_set_btf(l->go, l->btf);
			if (o->go_max_calls)
				go_target_set_max_calls(l->go, o->go_max_calls);
			if (o->go_perf_event)
				go_target_set_perf_event(l->go);
		}
		err = l->go ? go_target_check(l->go, l->subsys_mask, eb, el)
			    : check_symbols(l, &with_member, eb, el);
		if (err)
			goto cleanup;
		/* member first: the others share its process table */
		err = attach_sub(l, SUBSYS_MEMBER, &with_member, eb, el);
		for (int id = 0; id < SUBSYS_COUNT && !err; id++) {
			if (id != SUBSYS_MEMBER && (l->subsys_mask & (1u << id)))
				err = attach_sub(l, id, &with_member, eb, el);
		}
		if (err)
			goto cleanup;
	}
	*out = l;
	return 0;
cleanup:
	loader_free(l);
	return err;
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	for (size_t g = 0; g < l->nr_gens; g++)
		gen_destroy(&l->gens[g]);
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		struct loader_sub *s = &l->subs[id];

		links_drop(s->links, &s->nr_links, s->fds, &s->nr_fds);
		if (s->skel)
			s->destroy(s->skel);
	}
	go_target_free(l->go);
	free(l->binary);
	free(l);
}

struct bpf_object *loader_object(const struct loader *l, enum subsys_id id)
{
	return l->subs[id].obj;
}

const struct loader_probe_state *loader_probe(const struct loader *l, uint32_t idx)
{
	return &l->probes[idx < MS_MAX_PROBES ? idx : 0];
}

const struct go_target *loader_go_target(const struct loader *l)
{
	return l->go;
}

const uint64_t *loader_bounds(const struct loader *l, uint32_t *nr)
{
	*nr = l->nr_bounds;
	return l->bounds;
}
