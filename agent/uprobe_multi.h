/* uprobe_multi links (BPF_TRACE_UPROBE_MULTI) through the raw bpf() syscall: libbpf 1.1 has no API for them. */
#ifndef AGENT_UPROBE_MULTI_H
#define AGENT_UPROBE_MULTI_H

#include <stddef.h>
#include <stdint.h>

/* enum bpf_attach_type value of BPF_TRACE_UPROBE_MULTI (kernel uapi, since 6.6). */
#define UPROBE_MULTI_ATTACH_TYPE 48u

/* The BPF_LINK_CREATE attr as the kernel reads it for an uprobe_multi link: the common
 * head of link_create, then its uprobe_multi member (path, offsets, ref_ctr_offsets,
 * cookies as user pointers, then cnt, flags, pid). The linux-libc-dev headers here predate it. */
struct uprobe_multi_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t link_flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t flags;
	uint32_t pid;
	uint32_t pad; /* the kernel wants the bytes past its last field zero */
};

/*
 * Fills `a` for one link of program `prog_fd` on `cnt` sites of the file `path`: file
 * offsets, semaphore offsets (`ref_ctr` may be NULL: none) and one cookie per site
 * (`cookies` may be NULL: all 0); pid -1 or 0: every process. The arrays are borrowed and
 * must outlive the syscall. Returns 0, or -EINVAL for cnt 0, a negative fd or pid, or a NULL
 * path or offsets.
 */
int uprobe_multi_fill(struct uprobe_multi_attr *a, int prog_fd, const char *path,
		      const uint64_t *offsets, const uint64_t *ref_ctr, const uint64_t *cookies,
		      uint32_t cnt, int pid);

/* Creates the link `a` describes. Returns its fd (the caller closes it: that detaches), or
 * -errno (-EINVAL or -EOPNOTSUPP on a kernel without uprobe_multi). */
int uprobe_multi_link(const struct uprobe_multi_attr *a);

/*
 * Whether this kernel makes uprobe_multi links: loads a two-instruction kprobe program with
 * that expected attach type and links it to `offset` of `path` for this process only (so
 * nothing else is hit), then closes both. Returns 1 (supported), 0 (EINVAL or EOPNOTSUPP:
 * the kernel has no such link) or another -errno (e.g. -EPERM, -ENOENT).
 */
int uprobe_multi_supported(const char *path, uint64_t offset);

/*
 * Closes `n` link fds (each one a detach, each waiting for its own RCU grace period in the
 * kernel) from up to UPROBE_MULTI_CLOSERS threads at once, so that the waits overlap; fds[i]
 * becomes -1. A thread that cannot start leaves its fds to the calling thread. Returns
 * when every fd is closed.
 */
void uprobe_multi_close_all(int *fds, size_t n);

#define UPROBE_MULTI_CLOSERS 32

#endif /* AGENT_UPROBE_MULTI_H */
