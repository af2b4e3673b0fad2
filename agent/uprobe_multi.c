/* uprobe_multi links: the link-create attr, its syscall, the kernel support probe and closing links in parallel. */
#include "uprobe_multi.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int uprobe_multi_fill(struct uprobe_multi_attr *a, int prog_fd, const char *path,
		      const uint64_t *offsets, const uint64_t *ref_ctr, const uint64_t *cookies,
		      uint32_t cnt, int pid)
{
	memset(a, 0, sizeof(*a));
	if (prog_fd < 0 || !path || !offsets || cnt == 0 || pid < -1)
		return -EINVAL;
	a->prog_fd = (uint32_t)prog_fd;
	a->attach_type = UPROBE_MULTI_ATTACH_TYPE;
	a->path = (uint64_t)(uintptr_t)path;
	a->offsets = (uint64_t)(uintptr_t)offsets;
	a->ref_ctr_offsets = (uint64_t)(uintptr_t)ref_ctr;
	a->cookies = (uint64_t)(uintptr_t)cookies;
	a->cnt = cnt;
	a->pid = pid > 0 ? (uint32_t)pid : 0;
	return 0;
}

int uprobe_multi_link(const struct uprobe_multi_attr *a)
{
	/* the kernel copies min(size, its attr size) and checks anything past its own is 0 */
	long fd = syscall(__NR_bpf, BPF_LINK_CREATE, a, sizeof(*a));

	return fd < 0 ? -errno : (int)fd;
}

int uprobe_multi_supported(const char *path, uint64_t offset)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = UPROBE_MULTI_ATTACH_TYPE);
	struct uprobe_multi_attr a;
	int prog, link, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "ms_umulti_probe", "GPL", insns, 2, &po);
	if (prog < 0)
		return prog == -EINVAL ? 0 : prog;
	err = uprobe_multi_fill(&a, prog, path, &offset, NULL, NULL, 1, getpid());
	link = err ? err : uprobe_multi_link(&a);
	close(prog);
	if (link >= 0) {
		close(link);
		return 1;
	}
	return link == -EINVAL || link == -EOPNOTSUPP ? 0 : link;
}

struct closer {
	int *fds;
	size_t n;
};

static void *close_some(void *arg)
{
	struct closer *c = arg;

	for (size_t i = 0; i < c->n; i++) {
		close(c->fds[i]);
		c->fds[i] = -1;
	}
	return NULL;
}

void uprobe_multi_close_all(int *fds, size_t n)
{
	pthread_t th[UPROBE_MULTI_CLOSERS];
	struct closer part[UPROBE_MULTI_CLOSERS];
	size_t nth = n < UPROBE_MULTI_CLOSERS ? n : UPROBE_MULTI_CLOSERS;
	bool started[UPROBE_MULTI_CLOSERS];

	/* fds i, i + nth, ... would not be contiguous: split into nth contiguous runs */
	for (size_t t = 0, at = 0; t < nth; t++) {
		size_t len = n / nth + (t < n % nth);

		part[t] = (struct closer){ .fds = fds + at, .n = len };
		at += len;
		started[t] = pthread_create(&th[t], NULL, close_some, &part[t]) == 0;
		if (!started[t])
			close_some(&part[t]);
	}
	for (size_t t = 0; t < nth; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
	}
}
