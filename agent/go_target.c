/* Go targets: probe sites from .gopclntab, offsets, and the go_* BPF objects in the subsystems' places. */
#include "go_target.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "go_grpc.skel.h"
#include "go_offsets.h"
#include "go_sites.h"
#include "go_storage.skel.h"
#include "gopclntab.h"
#include "ms_go.h"
#include "ms_maps.h"
#include "ms_methods.h"

#define GRPC_PKG "google.golang.org/grpc"

/* The sites: grpc's three prologues; storage's two calls (call and return address each). */
enum go_grpc_site { SITE_GRPC_BEGIN, SITE_GRPC_STATUS, SITE_GRPC_END, SITE_GRPC_COUNT };
enum go_storage_site { SITE_WAL_FSYNC, SITE_BOLT_COMMIT, SITE_STORAGE_COUNT };

static const char *const grpc_funcs[SITE_GRPC_COUNT] = {
	[SITE_GRPC_BEGIN] = GRPC_PKG ".(*Server).handleStream",
	[SITE_GRPC_STATUS] = GRPC_PKG "/internal/transport.(*http2Server).WriteStatus",
	/* the closure `defer wg.Done()` of the goroutine serveStreams starts per stream */
	[SITE_GRPC_END] = GRPC_PKG ".(*Server).serveStreams.func1.2.1",
};
static const char *const grpc_progs[SITE_GRPC_COUNT] = { "go_grpc_begin", "go_grpc_status",
							  "go_grpc_end" };

static const struct {
	const char *caller, *callee, *begin_prog, *end_prog;
} storage_calls[SITE_STORAGE_COUNT] = {
	[SITE_WAL_FSYNC] = { "go.etcd.io/etcd/wal.(*WAL).sync",
			     "go.etcd.io/etcd/pkg/fileutil.Fdatasync", "go_wal_fsync_begin",
			     "go_wal_fsync_end" },
	[SITE_BOLT_COMMIT] = { "go.etcd.io/etcd/mvcc/backend.(*batchTx).commit",
			       "go.etcd.io/bbolt.(*Tx).Commit", "go_bolt_commit_begin",
			       "go_bolt_commit_end" },
};

struct go_target {
	struct gopclntab *tab;
	struct go_offsets off;
	const char *off_source;
	struct go_site grpc[SITE_GRPC_COUNT];
	struct go_call_site storage[SITE_STORAGE_COUNT];
};

int go_target_open(const char *binary, struct go_target **out, char *eb, size_t el)
{
	struct go_target *gt;
	char why[512];
	int err;

	*out = NULL;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return -ENOMEM;
	err = gopclntab_open(binary, &gt->tab);
	if (err == -ENODATA || err == -ENOEXEC || err == -ENOENT || err == -EACCES) {
		free(gt); /* not Go (or not readable): the ELF checks say why */
		return 0;
	}
	if (err) {
		snprintf(eb, el, "%s: Go function table not readable (%s; Go 1.18+ is supported)",
			 binary, strerror(-err));
		goto cleanup;
	}
	err = go_offsets_resolve(binary, gt->tab, &gt->off, &gt->off_source, why, sizeof(why));
	if (err) {
		snprintf(eb, el, "%s", why);
		goto cleanup;
	}
	*out = gt;
	return 0;
cleanup:
	go_target_free(gt);
	return err;
}

void go_target_free(struct go_target *gt)
{
	if (!gt)
		return;
	gopclntab_free(gt->tab);
	free(gt);
}

const char *go_target_offsets_source(const struct go_target *gt)
{
	return gt->off_source;
}

int go_target_check(struct go_target *gt, uint32_t mask, char *eb, size_t el)
{
	int err;

	for (int id = 0; id < SUBSYS_COUNT; id++) {
		if ((mask & (1u << id)) && !(GO_TARGET_SUBSYS & (1u << id))) {
			snprintf(eb, el, "subsystem %s is not available for Go targets "
				 "(they have grpc and storage)", subsys_get(id)->name);
			return -EOPNOTSUPP;
		}
	}
	if (mask & (1u << SUBSYS_GRPC)) {
		for (int i = 0; i < SITE_GRPC_COUNT; i++) {
			err = go_site_stack_check(gt->tab, grpc_funcs[i], &gt->grpc[i], eb, el);
			if (err)
				return err;
		}
	}
	if (mask & (1u << SUBSYS_STORAGE)) {
		for (int i = 0; i < SITE_STORAGE_COUNT; i++) {
			err = go_site_calls(gt->tab, storage_calls[i].caller, storage_calls[i].callee,
					    &gt->storage[i], 1, eb, el);
			if (err)
				return err;
		}
	}
	return 0;
}

static int attach_at(struct bpf_object *obj, const char *prog_name, const char *binary, int pid,
		     uint64_t offset, uint32_t cookie, struct go_target_sub *sub, char *eb,
		     size_t el)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, prog_name);
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = cookie);
	struct bpf_link *link;
	int err;

	if (!prog) {
		snprintf(eb, el, "BPF program %s missing", prog_name);
		return -ENOENT;
	}
	if (sub->nr_links >= MS_MAX_PROBES) {
		snprintf(eb, el, "too many probes");
		return -E2BIG;
	}
	link = bpf_program__attach_uprobe_opts(prog, pid, binary, (size_t)offset, &uo);
	if (!link) {
		err = -errno;
		snprintf(eb, el, "cannot attach uprobe %s at offset %#llx of %s: %s", prog_name,
			 (unsigned long long)offset, binary, strerror(-err));
		return err;
	}
	sub->links[sub->nr_links++] = link;
	return 0;
}

/* Method name -> id for every method the store knows (unknown paths find nothing). */
static int fill_methods(struct bpf_map *map, char *eb, size_t el)
{
	for (uint32_t m = 1; m < MS_METHOD_COUNT; m++) {
		struct ms_go_method_key k;
		int err;

		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "%s", ms_method_name(m));
		err = bpf_map__update_elem(map, &k, sizeof(k), &m, sizeof(m), BPF_ANY);
		if (err) {
			snprintf(eb, el, "cannot fill the method table: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

static int attach_grpc(struct go_target *gt, const char *binary, int pid, const uint64_t *bounds,
		       uint32_t nr_bounds, uint32_t cookie, struct go_target_sub *sub, char *eb,
		       size_t el)
{
	struct go_grpc_bpf *k = go_grpc_bpf__open();
	int err;

	if (!k) {
		err = errno ? -errno : -ENOMEM;
		snprintf(eb, el, "cannot open BPF object go_grpc: %s", strerror(-err));
		return err;
	}
	sub->skel = k;
	sub->obj = k->obj;
	sub->destroy = (void (*)(void *))go_grpc_bpf__destroy;
	memcpy((void *)k->rodata->bounds_ns, bounds, sizeof(bounds[0]) * nr_bounds);
	k->rodata->nr_bounds = nr_bounds;
	k->rodata->off_stream_method = gt->off.off[GO_OFF_STREAM_METHOD];
	k->rodata->off_status_proto = gt->off.off[GO_OFF_STATUS_PROTO];
	k->rodata->off_proto_code = gt->off.off[GO_OFF_PROTO_STATUS_CODE];
	err = go_grpc_bpf__load(k);
	if (err) {
		snprintf(eb, el, "cannot load BPF object go_grpc: %s", strerror(-err));
		return err;
	}
	err = fill_methods(k->maps.go_method_ids, eb, el);
	for (int i = 0; i < SITE_GRPC_COUNT && !err; i++)
		err = attach_at(k->obj, grpc_progs[i], binary, pid, gt->grpc[i].offset, cookie, sub,
				eb, el);
	return err;
}

static int attach_storage(struct go_target *gt, const char *binary, int pid,
			  const uint64_t *bounds, uint32_t nr_bounds, uint32_t cookie,
			  struct go_target_sub *sub, char *eb, size_t el)
{
	struct go_storage_bpf *k = go_storage_bpf__open();
	int err;

	if (!k) {
		err = errno ? -errno : -ENOMEM;
		snprintf(eb, el, "cannot open BPF object go_storage: %s", strerror(-err));
		return err;
	}
	sub->skel = k;
	sub->obj = k->obj;
	sub->destroy = (void (*)(void *))go_storage_bpf__destroy;
	memcpy((void *)k->rodata->bounds_ns, bounds, sizeof(bounds[0]) * nr_bounds);
	k->rodata->nr_bounds = nr_bounds;
	err = go_storage_bpf__load(k);
	if (err) {
		snprintf(eb, el, "cannot load BPF object go_storage: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < SITE_STORAGE_COUNT && !err; i++) {
		err = attach_at(k->obj, storage_calls[i].begin_prog, binary, pid,
				gt->storage[i].call.offset, cookie, sub, eb, el);
		if (!err)
			err = attach_at(k->obj, storage_calls[i].end_prog, binary, pid,
					gt->storage[i].after.offset, cookie, sub, eb, el);
	}
	return err;
}

int go_target_attach(struct go_target *gt, enum subsys_id id, const char *binary, int pid,
		     const uint64_t *bounds, uint32_t nr_bounds, uint32_t cookie,
		     struct go_target_sub *sub, char *eb, size_t el)
{
	if (id == SUBSYS_GRPC)
		return attach_grpc(gt, binary, pid, bounds, nr_bounds, cookie, sub, eb, el);
	if (id == SUBSYS_STORAGE)
		return attach_storage(gt, binary, pid, bounds, nr_bounds, cookie, sub, eb, el);
	snprintf(eb, el, "subsystem %s is not available for Go targets", subsys_get(id)->name);
	return -EOPNOTSUPP;
}
