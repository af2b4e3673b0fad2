/* --restore: a new member's data dir seeded from a snapshot file, and its load at start. */
#include "cmd/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/snapfile.h"

/* Reads a whole file into *out (malloc'ed). Returns 0 or -errno. */
static int read_all(const char *path, struct ms_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	uint8_t chunk[65536];
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		err = ms_buf_append(out, chunk, (size_t)n);
		if (err)
			goto cleanup;
	}
	if (n < 0)
		err = -errno;
cleanup:
	close(fd);
	return err;
}

/* Writes len bytes to fd. Returns 0 or -errno. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 when dir does not exist (created) or is empty; -EEXIST when it holds anything. */
static int fresh_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int err = 0;

	if (!mkdir(dir, 0700))
		return 0;
	if (errno != EEXIST)
		return -errno;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			err = -EEXIST;
	closedir(d);
	return err;
}

/* The seed written as dir/MS_RESTORE_SEED: temporary file, fsync, rename, dir fsync. */
static int write_seed(const char *dir, const uint8_t *p, size_t len)
{
	char tmp[4096], path[4096];
	int fd, dfd, err;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, MS_RESTORE_SEED);
	snprintf(path, sizeof(path), "%s/%s", dir, MS_RESTORE_SEED);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, p, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd))
		err = -errno;
	close(dfd);
	return err;
}

int ms_restore_prepare(const char *file, const char *data_dir, char *err, size_t errlen)
{
	struct ms_buf b = { 0 };
	struct ms_snapfile_hdr h;
	const uint8_t *payload;
	size_t plen;
	const char *why;
	int rc = -1, e = read_all(file, &b);

	if (e) {
		snprintf(err, errlen, "cannot read snapshot %s: %s", file, strerror(-e));
		goto cleanup;
	}
	if (ms_snapfile_decode(b.data, b.len, &h, &payload, &plen, &why)) {
		snprintf(err, errlen, "snapshot %s refused: %s", file, why);
		goto cleanup;
	}
	e = fresh_dir(data_dir);
	if (e) {
		snprintf(err, errlen, "cannot restore into data dir %s: %s", data_dir,
			 e == -EEXIST ? "it exists and is not empty" : strerror(-e));
		goto cleanup;
	}
	e = write_seed(data_dir, b.data, b.len);
	if (e) {
		snprintf(err, errlen, "cannot write %s/%s: %s", data_dir, MS_RESTORE_SEED,
			 strerror(-e));
		goto cleanup;
	}
	rc = 0;
cleanup:
	ms_buf_free(&b);
	return rc;
}

int ms_restore_load(const char *data_dir, const struct ms_snap_parts *parts, int64_t now_ms,
		    int64_t *rev, char *err, size_t errlen)
{
	char path[4096];
	struct ms_buf b = { 0 };
	struct ms_snapfile_hdr h;
	const uint8_t *payload;
	size_t plen;
	const char *why;
	int rc = -1, e;

	snprintf(path, sizeof(path), "%s/%s", data_dir, MS_RESTORE_SEED);
	e = read_all(path, &b);
	if (e == -ENOENT)
		return 0;
	if (e) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-e));
		goto cleanup;
	}
	if (ms_snapfile_decode(b.data, b.len, &h, &payload, &plen, &why)) {
		snprintf(err, errlen, "restored snapshot %s is corrupt: %s", path, why);
		goto cleanup;
	}
	e = ms_snapshot_restore(parts, payload, plen, now_ms);
	if (e) {
		snprintf(err, errlen, "restored snapshot %s cannot be loaded: %s", path,
			 e == -ENOMEM ? "out of memory" : "malformed store snapshot");
		goto cleanup;
	}
	*rev = h.revision;
	rc = 1;
cleanup:
	ms_buf_free(&b);
	return rc;
}
