/* A raft snapshot's state serialized in a forked child (copy-on-write, as redis's BGSAVE). */
#include "raft/snap_fork.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/codec.h"

/* The child's message: a 16-byte header (fn's result, the length), then the bytes. */
#define HDR_LEN 16

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* In the child: only this thread exists, and it must not touch what the parent's other
 * threads held (no locks but malloc's, which fork leaves usable); it ends with _exit. */
static void child_run(int fd, pid_t parent, ms_snap_fork_fn fn, void *arg)
{
	struct ms_buf b = { 0 };
	uint8_t hdr[HDR_LEN];
	sigset_t all;
	int err;

	/* a signal meant for the store (Ctrl-C reaches the whole process group) must not run
	 * the store's handlers here; the parent's death ends the child */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(2);
	err = fn(arg, &b);
	ms_le64_write(hdr, (uint64_t)(int64_t)err);
	ms_le64_write(hdr + 8, err ? 0 : b.len);
	if (write_all(fd, hdr, sizeof(hdr)) || (!err && write_all(fd, b.data, b.len)))
		_exit(1);
	_exit(0);
}

int ms_snap_fork_start(struct ms_snap_fork *f, ms_snap_fork_fn fn, void *arg)
{
	pid_t parent = getpid(), pid;
	int p[2];

	f->pid = 0;
	f->fd = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		child_run(p[1], parent, fn, arg);
	}
	close(p[1]);
	f->pid = pid;
	f->fd = p[0];
	return 0;
}

/* Reads exactly n bytes (0), or fails at EOF or an error (-1). */
static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int ms_snap_fork_collect(struct ms_snap_fork *f, struct ms_buf *out)
{
	size_t old = out->len, len;
	uint8_t hdr[HDR_LEN];
	int err = 0, ws;
	int64_t st;

	if (!f->pid)
		return -EINVAL;
	if (read_all(f->fd, hdr, sizeof(hdr))) {
		err = -EIO;
	} else {
		st = (int64_t)ms_le64_read(hdr);
		len = ms_le64_read(hdr + 8);
		if (st)
			err = st < 0 && st > -4096 ? (int)st : -EIO;
		else if (ms_buf_append(out, NULL, len))
			err = -ENOMEM;
		else if (read_all(f->fd, out->data + old, len))
			err = -EIO;
	}
	close(f->fd);
	/* a child still writing (this side gave up on it) ends with the pipe: SIGPIPE */
	while (waitpid(f->pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (!err && (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
		err = -EIO;
	if (err)
		out->len = old;
	f->pid = 0;
	f->fd = -1;
	return err;
}

void ms_snap_fork_cancel(struct ms_snap_fork *f)
{
	if (!f->pid)
		return;
	kill(f->pid, SIGKILL);
	close(f->fd);
	while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
		;
	f->pid = 0;
	f->fd = -1;
}
