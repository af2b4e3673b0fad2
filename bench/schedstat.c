/* A process's CPU time from schedstat: the run time of all its threads. */
#include "schedstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int bench_each_task(pid_t pid, int (*fn)(const char *tid, void *ctx), void *ctx)
{
	char path[64];
	struct dirent *e;
	int rc = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!rc && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = fn(e->d_name, ctx);
	closedir(d);
	return rc;
}

struct run_sum {
	pid_t pid;
	uint64_t ns;
};

/* Adds the first number of thread `tid`'s schedstat to the sum (nothing when the thread is
 * gone). */
static int add_thread_ns(const char *tid, void *ctx)
{
	struct run_sum *s = ctx;
	char path[300], buf[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)s->pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		s->ns += strtoull(buf, NULL, 10);
	}
	return 0;
}

int bench_schedstat_ns(pid_t pid, uint64_t *ns)
{
	struct run_sum s = { .pid = pid };
	int rc = bench_each_task(pid, add_thread_ns, &s);

	if (!rc)
		*ns = s.ns;
	return rc;
}
