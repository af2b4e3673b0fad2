/* Binary watcher: a privileged helper process re-attaches the probes to a replaced --binary. */
#include "binwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/capability.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

/* What attaching a uprobe needs on this kernel (measured), and reading a binary whose mode
 * denies root (as for the first attach): nothing else stays. */
#define BINWATCH_CAPS                                                                  \
	((1ull << CAP_SYS_ADMIN) | (1ull << CAP_PERFMON) | (1ull << CAP_BPF) |         \
	 (1ull << CAP_DAC_READ_SEARCH))

/* One report from the helper; smaller than PIPE_BUF, so each write is atomic. */
struct binwatch_event {
	int32_t err; /* 0: attached; else -errno */
	char reason[200];
};

struct binwatch {
	pid_t helper;
	int rfd; /* read end, non-blocking */
	int stop_fd; /* write end of the helper's stop pipe: closing it ends the helper */
	pthread_mutex_t lock;
	struct binwatch_stats st;
};

/* What identifies one version of the file at the path. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){ st->st_dev, st->st_ino, st->st_size, st->st_mtim };
}

static void report(int wfd, int err, const char *reason)
{
	struct binwatch_event ev = { .err = err };
	ssize_t n;

	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	do
		n = write(wfd, &ev, sizeof(ev));
	while (n < 0 && errno == EINTR);
}

/*
 * Attaches to the file now at `path` through an fd of it, so that what is attached is
 * exactly the file that was checked (the path may change again meanwhile). Returns 0 or
 * -errno; *id gets the identity of the file attached or tried.
 */
static int attach_file(struct loader *l, const char *path, struct file_id *id, char *why,
		       size_t len)
{
	char fdpath[32];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-err));
		goto cleanup;
	}
	*id = file_id_of(&st);
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		snprintf(why, len, "%s is not a regular file", path);
		goto cleanup;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	err = loader_attach_path(l, fdpath, path, why, len);
cleanup:
	close(fd);
	return err;
}

/* Waits one interval. Returns false once the agent closed the stop pipe (or died): after
 * --user the agent may not signal this helper, which still runs as root. */
static bool helper_wait(int stop_rfd)
{
	struct pollfd pfd = { .fd = stop_rfd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, BINWATCH_INTERVAL_MS);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

/* The helper's loop; never returns. */
static void helper_main(struct loader *l, const char *path, dev_t dev, ino_t ino, int wfd,
			int stop_rfd, pid_t parent)
{
	struct file_id seen = { 0 }, done = { .dev = dev, .ino = ino };
	bool have_seen = false, done_ok = true; /* done: the file last attached or tried */
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "agent-binwatch");
	if (getppid() != parent)
		_exit(0);
	{
		char why[200];
		int err = privs_keep_only(BINWATCH_CAPS, why, sizeof(why));

		if (err) {
			report(wfd, err, why);
			_exit(1);
		}
	}
	for (;;) {
		struct file_id now;
		struct stat st;
		char why[200];
		int err;

		if (!helper_wait(stop_rfd) || getppid() != parent)
			_exit(0);
		/* Missing for a moment (rm, then cp): wait for the next file. */
		if (stat(path, &st))
			continue;
		now = file_id_of(&st);
		/* The attached file (whatever its size or time: the inode is attached), or a
		 * failed one not changed since. */
		if (now.dev == done.dev && now.ino == done.ino && (done_ok || same_file(&now, &done)))
			continue;
		/* Settled: the same identity two looks in a row (a copy in progress grows). */
		if (!have_seen || !same_file(&now, &seen)) {
			seen = now;
			have_seen = true;
			continue;
		}
		why[0] = '\0';
		err = attach_file(l, path, &now, why, sizeof(why));
		done = now;
		done_ok = err == 0;
		have_seen = false;
		/* the journal says what happened even if nobody scrapes or looks at /health */
		if (err)
			log_msg(LOG_ERROR, "cannot attach to the replaced binary: %s", why);
		else
			log_msg(LOG_INFO, "attached to the replaced binary %s", path);
		report(wfd, err, why);
	}
}

int binwatch_start(struct loader *l, const char *path, dev_t dev, ino_t ino,
		   struct binwatch **out)
{
	struct binwatch *w;
	pid_t parent = getpid();
	int p[2] = { -1, -1 }, stop[2] = { -1, -1 }, err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) || pipe2(stop, O_CLOEXEC)) {
		err = -errno;
		goto cleanup;
	}
	w->helper = fork();
	if (w->helper < 0) {
		err = -errno;
		goto cleanup;
	}
	if (w->helper == 0) {
		close(p[0]);
		close(stop[1]);
		helper_main(l, path, dev, ino, p[1], stop[0], parent);
	}
	close(p[1]);
	close(stop[0]);
	w->rfd = p[0];
	w->stop_fd = stop[1];
	fcntl(w->rfd, F_SETFL, fcntl(w->rfd, F_GETFL) | O_NONBLOCK);
	pthread_mutex_init(&w->lock, NULL);
	w->st.alive = true;
	*out = w;
	return 0;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (stop[i] >= 0)
			close(stop[i]);
	}
	free(w);
	return err;
}

void binwatch_poll(struct binwatch *w, struct binwatch_stats *st)
{
	struct binwatch_event ev;
	ssize_t n = -1;

	pthread_mutex_lock(&w->lock);
	while (w->st.alive && (n = read(w->rfd, &ev, sizeof(ev))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: nothing more for now */
		}
		if (n != (ssize_t)sizeof(ev))
			continue;
		ev.reason[sizeof(ev.reason) - 1] = '\0';
		if (ev.err == 0) {
			w->st.reattached++;
			w->st.failing = false;
		} else {
			w->st.failures++;
			w->st.failing = true;
			snprintf(w->st.last_error, sizeof(w->st.last_error), "%s", ev.reason);
		}
	}
	if (w->st.alive && n == 0)
		w->st.alive = false; /* EOF: the helper is gone */
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

void binwatch_stop(struct binwatch *w)
{
	if (!w)
		return;
	/* EOF on its stop pipe ends the helper within one interval; a signal would need the
	 * helper's uid, which the agent no longer has after --user. */
	close(w->stop_fd);
	kill(w->helper, SIGTERM);
	while (waitpid(w->helper, NULL, 0) < 0 && errno == EINTR)
		;
	close(w->rfd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
