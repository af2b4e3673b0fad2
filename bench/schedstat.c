/* A process's CPU time from schedstat: the run time of all its threads. */
#include "schedstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The first number of a schedstat file, or 0 when the thread is gone. */
static uint64_t thread_ns(int dirfd, const char *tid)
{
	char path[300], buf[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/schedstat", tid);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

int bench_schedstat_ns(pid_t pid, uint64_t *ns)
{
	char path[64];
	struct dirent *e;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			sum += thread_ns(dirfd(d), e->d_name);
	closedir(d);
	*ns = sum;
	return 0;
}
