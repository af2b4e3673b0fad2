/* Start-up integrity: reading libraft's files, their names and the raft dir's listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/integrity.h"
#include "raft/integrity_priv.h"
#include "store/buf.h"

/* ---- little helpers ------------------------------------------------------------------ */



/* libraft's CRC32: polynomial 0x04C11DB7 fed most significant bit first, no reflection,
 * no final xor; the running value is the seed of the next call. */
uint32_t ms_integ_crc32_msb(const uint8_t *p, size_t n, uint32_t crc)
{
	static uint32_t table[256];
	static bool ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i << 24;

			for (int k = 0; k < 8; k++)
				c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
			table[i] = c;
		}
		ready = true;
	}
	while (n--)
		crc = (crc << 8) ^ table[((crc >> 24) ^ *p++) & 0xff];
	return crc;
}

/* Reads a whole file; -errno on failure. *out is the caller's to free. */
int ms_integ_read_all(const char *dir, const char *name, uint8_t **out, size_t *len)
{
	char path[4096];
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			goto cleanup;
		}
		got += (size_t)r;
	}
	*out = buf;
	*len = got;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

/* read_all with the one-line message "cannot read WHAT dir/name: reason" on failure. */
int ms_integ_read_named(const char *dir, const char *name, const char *what, uint8_t **out,
		      size_t *len, char *err, size_t errlen)
{
	int e = ms_integ_read_all(dir, name, out, len);

	if (e)
		snprintf(err, errlen, "cannot read %s %s/%s: %s", what, dir, name, strerror(-e));
	return e;
}

bool ms_integ_all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Replaces dir/name with text: a temporary file, fsync'd, renamed over it, the dir fsync'd.
 * 0 or -errno. */
int ms_integ_write_atomic(const char *dir, const char *name, const char *text, size_t len)
{
	char tmp[4096], path[4096];
	int fd, dfd, e = 0;
	size_t done = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (!e && fsync(fd))
		e = -errno;
	if (close(fd) && !e)
		e = -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e) {
		unlink(tmp);
		return e;
	}
	/* the rename itself must survive a crash */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd))
		e = -errno;
	close(dfd);
	return e;
}

/* ---- the listing ---------------------------------------------------------------------- */

bool ms_integ_parse_u64(const char **s, uint64_t *v, size_t digits)
{
	const char *p = *s;
	uint64_t x = 0;
	size_t n = 0;

	while (*p >= '0' && *p <= '9' && (!digits || n < digits)) {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*p++ - '0');
		n++;
	}
	if (!n || (digits && n != digits))
		return false;
	*s = p;
	*v = x;
	return true;
}

/* "%016llu-%016llu", as libraft names a closed segment. */
bool ms_integ_parse_closed(const char *name, uint64_t *first, uint64_t *end)
{
	const char *p = name;

	return ms_integ_parse_u64(&p, first, 16) && *p++ == '-' && ms_integ_parse_u64(&p, end, 16) && !*p;
}

/* "open-%llu", an open segment. */
static bool parse_open(const char *name, uint64_t *counter)
{
	const char *p = name + 5;

	return !strncmp(name, "open-", 5) && ms_integ_parse_u64(&p, counter, 0) && !*p;
}

/* "snapshot-TERM-INDEX-TIMESTAMP" followed by `suffix`. */
static bool parse_snapshot(const char *name, const char *suffix, struct snap *s)
{
	const char *p = name;

	if (strncmp(p, "snapshot-", 9))
		return false;
	p += 9;
	return ms_integ_parse_u64(&p, &s->term, 0) && *p++ == '-' && ms_integ_parse_u64(&p, &s->index, 0) &&
	       *p++ == '-' && ms_integ_parse_u64(&p, &s->ts, 0) && !strcmp(p, suffix);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->open != y->open)
		return x->open ? 1 : -1;
	if (x->open)
		return x->counter < y->counter ? -1 : x->counter > y->counter;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Oldest first, as libraft orders snapshots: by term, then index, then timestamp. */
static int snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;

	if (x->term != y->term)
		return x->term < y->term ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

int ms_integ_list_dir(const char *dir, struct listing *l)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct seg sg = { 0 };
		struct snap sn = { 0 };

		if (!strcmp(name, "metadata1") || !strcmp(name, "metadata2")) {
			l->meta_file[name[8] - '1'] = true;
		} else if (!strncmp(name, "corrupt-", 8)) {
			if (!l->set_aside[0])
				snprintf(l->set_aside, sizeof(l->set_aside), "%s", name);
		} else if (strlen(name) < sizeof(sg.name) &&
			   (ms_integ_parse_closed(name, &sg.first, &sg.end) ||
			    (sg.open = parse_open(name, &sg.counter)))) {
			struct seg *n = realloc(l->segs, (l->n_segs + 1) * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto cleanup;
			}
			snprintf(sg.name, sizeof(sg.name), "%s", de->d_name);
			l->segs = n;
			l->segs[l->n_segs++] = sg;
		} else if (strlen(name) < sizeof(sn.name) && parse_snapshot(name, ".meta", &sn)) {
			struct snap *n = realloc(l->snaps, (l->n_snaps + 1) * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto cleanup;
			}
			snprintf(sn.name, sizeof(sn.name), "%s", name);
			l->snaps = n;
			l->snaps[l->n_snaps++] = sn;
		}
	}
	if (l->n_segs)
		qsort(l->segs, l->n_segs, sizeof(*l->segs), seg_cmp);
	/* libraft only counts a snapshot whose data file exists and is not empty */
	for (size_t i = 0; i < l->n_snaps; i++) {
		char path[4096];
		struct stat st;
		size_t k = strlen(l->snaps[i].name) - 5;

		snprintf(path, sizeof(path), "%s/%.*s", dir, (int)k, l->snaps[i].name);
		l->snaps[i].has_data = !stat(path, &st) && st.st_size > 0;
	}
	if (l->n_snaps)
		qsort(l->snaps, l->n_snaps, sizeof(*l->snaps), snap_cmp);
cleanup:
	closedir(d);
	return err;
}

