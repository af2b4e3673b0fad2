/* An unmodified Go etcd as the agent's target: its probe sites, offsets and BPF objects. */
#ifndef AGENT_GO_TARGET_H
#define AGENT_GO_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subsys.h"

struct bpf_link;
struct bpf_object;
struct go_target;

/* Subsystems a Go target supports, as a mask of 1u << enum subsys_id. */
#define GO_TARGET_SUBSYS                                                                 \
	((1u << SUBSYS_MEMBER) | (1u << SUBSYS_GRPC) | (1u << SUBSYS_STORAGE) | (1u << SUBSYS_MVCC) |                 \
	 (1u << SUBSYS_RAFT) | (1u << SUBSYS_LEASE) | (1u << SUBSYS_WATCH))

/*
 * Opens `binary` as a Go target when it is one (it has a .gopclntab) and resolves its struct
 * offsets (DWARF, else the build-ID table). Returns 0 with *out NULL for a binary that is not
 * Go, 0 with *out owned by the caller (go_target_free), or -errno with one line in errbuf
 * (an unknown build without DWARF names what is missing).
 */
int go_target_open(const char *binary, struct go_target **out, char *errbuf, size_t errlen);

/* The kernel BTF the objects are opened with (--btf; `btf` is borrowed, NULL: the kernel's). */
void go_target_set_btf(struct go_target *gt, const char *btf);

/* Sizes the table of gRPC calls in flight for at least `max_calls` calls (rounded up to a
 * power of two of sets, at most MS_GO_GTAB_WAYS << MS_GO_CALLS_MAX_BITS); calls beyond it
 * go to a hash map, which costs more per call. Before go_target_attach. */
void go_target_set_max_calls(struct go_target *gt, uint32_t max_calls);

/* Attaches the sites as perf-event uprobes even where the kernel has uprobe_multi links.
 * Before go_target_attach. */
void go_target_set_perf_event(struct go_target *gt);

/* The calls the table holds before it spills (go_target_set_max_calls, rounded). */
uint32_t go_target_call_slots(const struct go_target *gt);

/* Frees a target from go_target_open; NULL is allowed. */
void go_target_free(struct go_target *gt);

/*
 * Finds the probe sites of every subsystem in `mask` before anything is loaded. Returns 0,
 * -EOPNOTSUPP for a subsystem Go targets do not have, or -ENOEXEC/-ENOENT with one line
 * naming the function whose code is not as expected.
 */
int go_target_check(struct go_target *gt, uint32_t mask, char *errbuf, size_t errlen);

/* Links made for Go sites: libbpf links (perf-event uprobes) or uprobe_multi link fds
 * (libbpf 1.1 cannot wrap those); room for MS_MAX_PROBES of both together. */
struct go_links {
	struct bpf_link **links;
	size_t nr_links;
	int *fds;
	size_t nr_fds;
};

/* What go_target_attach hands back for one subsystem: the loader owns it afterwards. */
struct go_target_sub {
	void *skel;
	struct bpf_object *obj;
	void (*destroy)(void *skel);
	struct go_links gl;
};

/*
 * Opens, loads and attaches subsystem `id`'s Go BPF object to `binary` (pid -1: every
 * process running it), each uprobe with BPF cookie `cookie`; `proc_fd` is the member object's
 * process table, which the object shares (-1 for the member object itself). On failure what was made is
 * left in *sub for the caller to destroy. Returns 0 or -errno with a reason in errbuf.
 */
int go_target_attach(struct go_target *gt, enum subsys_id id, const char *binary, int pid,
		     const uint64_t *bounds, uint32_t nr_bounds, uint32_t cookie, int proc_fd,
		     struct go_target_sub *sub, char *errbuf, size_t errlen);

/*
 * Attaches the programs of subsystem `id`, already loaded in `obj` (for gt or another build),
 * to the sites of `gt` in `binary` (pid -1: every process running it), adding the links to
 * gl (each program as it was loaded: uprobe_multi or perf-event links). go_target_check must have found gt's sites, and gt's offsets
 * must be those `obj` was loaded with (go_target_same_offsets). Returns 0 or -errno with a
 * reason in errbuf; links already made stay in gl for the caller to destroy.
 */
int go_target_attach_loaded(const struct go_target *gt, enum subsys_id id,
			    struct bpf_object *obj, const char *binary, int pid, uint32_t cookie,
			    struct go_links *gl, char *errbuf, size_t errlen);

/* Which links go_target_attach makes on this kernel: "uprobe_multi" (one fd per site, no
 * perf event), "perf_event" (the fallback), or "none" before the first attach; static. */
const char *go_target_link_kind(const struct go_target *gt);

/* True when both targets' programs read the same struct offsets. */
bool go_target_same_offsets(const struct go_target *a, const struct go_target *b);

/* One probe site found by go_target_check. */
struct go_target_site {
	enum subsys_id sub;
	const char *func;   /* the Go function the site is in; static storage */
	const char *kind;   /* "stack_check_jbe", "call" or "after_call" */
	const char *kernel; /* how the kernel handles a hit: "nop5", "emulated", "single_step" */
};

/* Site `i` (from 0) of the subsystems go_target_check checked. Returns 0, or -ENOENT past
 * the last one. */
int go_target_site_at(const struct go_target *gt, size_t i, struct go_target_site *out);

/* Where the offsets came from ("dwarf" or the table entry's description). */
const char *go_target_offsets_source(const struct go_target *gt);

#endif /* AGENT_GO_TARGET_H */
