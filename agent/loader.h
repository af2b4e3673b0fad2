/* BPF loader: opens, configures, loads and attaches the selected subsystems' BPF objects. */
#ifndef AGENT_LOADER_H
#define AGENT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subsys.h"

struct bpf_object;
struct go_target;
struct loader;

struct loader_opts {
	const char *binary;       /* target executable (for --pid: /proc/PID/exe resolved) */
	int pid;                  /* -1: every process running `binary` */
	uint32_t subsys_mask;     /* 1u << enum subsys_id */
	const uint64_t *bounds_ns; /* histogram upper bounds, increasing */
	uint32_t nr_bounds;        /* <= MS_MAX_BUCKETS */
	const char *btf;           /* --btf: kernel BTF file for CO-RE; NULL: the running kernel's */
	bool has_target_uid;       /* --target-uid: count only processes of target_uid */
	uint32_t target_uid;
	uint64_t target_cgroup;    /* --target-cgroup: cgroup v2 id (inode) they must be in; 0: any */
	uint64_t target_pidns_dev, target_pidns_ino; /* --target-pidns (kernel dev encoding); ino 0: any */
	uint32_t go_max_calls;     /* --go-max-calls: a Go target's calls table; 0: its default */
	bool go_perf_event;        /* --go-perf-event-links: a Go target's sites as perf-event uprobes */
};

/* Attachment state of one probe (index = its BPF cookie, subsys_probe_index()). */
struct loader_probe_state {
	bool attached;
	bool nop5; /* probe site is a 5-byte NOP: the kernel's optimized uprobe path */
	uint64_t ref_ctr_offset; /* batch probe: file offset of its semaphore (else 0) */
};

/*
 * Resolves every probe symbol first, then opens, loads and attaches each selected subsystem;
 * on any failure everything already loaded is detached, so nothing is left half-attached.
 * Returns 0 with *out owned by the caller (loader_free), or -errno with a one-line reason
 * in errbuf (e.g. the missing symbol's name).
 */
int loader_new(const struct loader_opts *opts, struct loader **out, char *errbuf, size_t errlen);

/* Checks what loader_new would check before loading anything: that `opts->binary` is a
 * 64-bit ELF with a symbol table holding every probe (and semaphore) of the selected
 * subsystems and the member subsystem, or a Go binary with every site of them (and known
 * struct offsets). Loads and attaches nothing (needs no privilege but
 * reading the file). Returns 0, or -errno with the one-line reason loader_new would give. */
int loader_check(const struct loader_opts *opts, char *errbuf, size_t errlen);

/* How many loader_attach_path() generations stay attached at once. */
#define LOADER_MAX_GENERATIONS 8

/*
 * Attaches every selected probe, with the programs and maps already loaded, to one more
 * executable file `binary` (every process running it): for a --binary path that now names a
 * new file (replaced on disk). Symbols are checked first; on failure nothing of this call
 * stays attached. Earlier attachments stay (processes of the old file keep being counted),
 * except that past LOADER_MAX_GENERATIONS calls the oldest call's links are detached.
 * Counters continue: the maps are the same. Needs the privileges loader_new needed.
 * `shown` (may be NULL) names the file in the reason instead of `binary`, for a `binary`
 * like /proc/self/fd/N. Returns 0 or -errno with a one-line reason in errbuf.
 */
int loader_attach_path(struct loader *l, const char *binary, const char *shown, char *errbuf,
		       size_t errlen);

/*
 * Detaches every uprobe loader_new attached; the objects and their maps stay loaded, so the
 * counters continue once loader_reattach attached the same programs again. A call in flight
 * meanwhile may miss its end (its duration is not recorded, an in-flight gauge may stay
 * raised). Returns 0 (also when already detached), or -EBUSY once loader_attach_path added
 * links (their files are not kept, so they could not come back: nothing is detached).
 */
int loader_detach(struct loader *l);

/*
 * Attaches again what loader_detach detached, exactly as loader_new did: the same binary,
 * pid, sites (a Go target's go_target sites), BPF cookies and semaphore reference counters.
 * Returns 0 (also when not detached), or -errno with a one-line reason in errbuf; on failure
 * nothing of this call stays attached and the loader stays detached (it may be retried).
 */
int loader_reattach(struct loader *l, char *errbuf, size_t errlen);

/* True between loader_detach and the loader_reattach that succeeded. */
bool loader_detached(const struct loader *l);

/* Detaches and frees everything; NULL is allowed. */
void loader_free(struct loader *l);

/* The loaded BPF object of a subsystem, or NULL when it was not selected. */
struct bpf_object *loader_object(const struct loader *l, enum subsys_id id);

/* State of probe `idx` (< subsys_total_probes()). */
const struct loader_probe_state *loader_probe(const struct loader *l, uint32_t idx);

/* The Go target the probes are attached to, or NULL when the binary is not Go. */
const struct go_target *loader_go_target(const struct loader *l);

/* Histogram bounds the objects were loaded with. */
const uint64_t *loader_bounds(const struct loader *l, uint32_t *nr);

#endif /* AGENT_LOADER_H */
