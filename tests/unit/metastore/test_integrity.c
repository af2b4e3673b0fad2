/* Unit tests for start-up integrity (metastore/raft/integrity.c) on data dirs that
 * libraft's own raft_uv writes, then damaged one way per case. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/uv.h>

#include "raft/integrity.h"
#include "raft/io_once.h"

#define ENTRY_BYTES 248   /* one entry per batch: 280 bytes with its batch framing */
#define SEGMENT_BYTES 16384
#define N_BEFORE_SNAP 120 /* entries 2..121 (1 is the bootstrap configuration) */
#define SNAP_INDEX 100
#define N_AFTER_SNAP 40   /* entries 122..161 */
#define MEMBER 1
#define OTHER_MEMBER 2

static char root[64];   /* mkdtemp */
static char clean[128]; /* stopped cleanly: closed segments only */
static char crashed[128]; /* copied while the last segment was open */

/* ---- building a raft dir with raft_uv --------------------------------------------- */

struct writer {
	uv_loop_t loop;
	struct raft_uv_transport transport;
	struct ms_io_once once; /* libraft 0.15 may call the close callback twice */
	struct raft_io *io;     /* &once.io */
	int pending;
	unsigned closes;
};

static void writer_init(struct writer *w, const char *dir)
{
	w->io = &w->once.io;
	assert_int_equal(uv_loop_init(&w->loop), 0);
	assert_int_equal(raft_uv_tcp_init(&w->transport, &w->loop), 0);
	assert_int_equal(raft_uv_init(w->io, &w->loop, dir, &w->transport), 0);
	ms_io_once_wrap(&w->once);
	w->io->data = w;
}

static void on_append(struct raft_io_append *req, int status)
{
	struct writer *w = req->data;

	assert_int_equal(status, 0);
	w->pending--;
	free(req);
}

static void on_snapshot(struct raft_io_snapshot_put *req, int status)
{
	struct writer *w = req->data;

	assert_int_equal(status, 0);
	w->pending--;
}

static void on_close(struct raft_io *io)
{
	struct writer *w = io->data;

	w->closes++;
	raft_uv_tcp_close(&w->transport);
}

static void append_entries(struct writer *w, unsigned n, uint8_t fill)
{
	static uint8_t payload[ENTRY_BYTES];

	memset(payload, fill, sizeof(payload));
	for (unsigned i = 0; i < n; i++) {
		struct raft_io_append *req = calloc(1, sizeof(*req));
		struct raft_entry e = { .term = 1, .type = RAFT_COMMAND,
					.buf = { .base = payload, .len = sizeof(payload) } };

		assert_non_null(req);
		req->data = w;
		w->pending++;
		assert_int_equal(w->io->append(w->io, req, &e, 1, on_append), 0);
		/* one at a time: each entry its own batch, so the layout is the same every run */
		while (w->pending)
			uv_run(&w->loop, UV_RUN_ONCE);
	}
}

static void cp_dir(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
	assert_int_equal(system(cmd), 0);
}

/* Entries 1..161 with a snapshot at 100: copied to `crashed` before the close (the last
 * segment open, as after kill -9), and left in `dir` after a clean close. */
static void build_dir(const char *dir)
{
	struct writer w = { 0 };
	struct raft_configuration conf;
	struct raft_snapshot *snap = NULL, s = { 0 };
	struct raft_entry *entries = NULL;
	struct raft_io_snapshot_put put = { .data = &w };
	raft_term term;
	raft_id vote;
	raft_index start;
	size_t n;
	static uint8_t state[4096];
	struct raft_buffer buf = { .base = state, .len = sizeof(state) };

	assert_int_equal(mkdir(dir, 0700), 0);
	writer_init(&w, dir);
	raft_uv_set_segment_size(w.io, SEGMENT_BYTES);
	assert_int_equal(w.io->init(w.io, MEMBER, "127.0.0.1:1"), 0);
	raft_configuration_init(&conf);
	assert_int_equal(raft_configuration_add(&conf, MEMBER, "127.0.0.1:1", RAFT_VOTER), 0);
	assert_int_equal(w.io->bootstrap(w.io, &conf), 0);
	assert_int_equal(w.io->load(w.io, &term, &vote, &snap, &start, &entries, &n), 0);
	assert_int_equal(n, 1);
	raft_free(entries[0].batch);
	raft_free(entries);
	assert_int_equal(w.io->set_vote(w.io, MEMBER), 0);
	append_entries(&w, N_BEFORE_SNAP, 'a');
	for (size_t i = 0; i < sizeof(state); i++)
		state[i] = (uint8_t)(i * 7 / 5); /* compressible, not trivially */
	s = (struct raft_snapshot){ .index = SNAP_INDEX, .term = 1, .configuration = conf,
				    .configuration_index = 1, .bufs = &buf, .n_bufs = 1 };
	w.pending++;
	assert_int_equal(w.io->snapshot_put(w.io, 1000, &put, &s, on_snapshot), 0);
	while (w.pending)
		uv_run(&w.loop, UV_RUN_ONCE);
	append_entries(&w, N_AFTER_SNAP, 'b');
	cp_dir(dir, crashed);
	w.io->close(w.io, on_close);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	assert_int_equal(w.closes, 1);
	raft_uv_close(w.io);
	assert_int_equal(uv_loop_close(&w.loop), 0);
	raft_configuration_close(&conf);
}

/* What libraft itself loads from dir: the index of its last entry (0: it refused). */
static uint64_t libraft_last_index(const char *dir)
{
	struct writer w = { 0 };
	struct raft_snapshot *snap = NULL;
	struct raft_entry *entries = NULL;
	raft_term term;
	raft_id vote;
	raft_index start = 0;
	size_t n = 0;
	uint64_t last = 0;

	writer_init(&w, dir);
	raft_uv_set_auto_recovery(w.io, false);
	if (w.io->init(w.io, MEMBER, "127.0.0.1:1") == 0 &&
	    w.io->load(w.io, &term, &vote, &snap, &start, &entries, &n) == 0) {
		last = start + n - 1;
		for (size_t i = 0; i < n; i++)
			if (!i || entries[i].batch != entries[i - 1].batch)
				raft_free(entries[i].batch);
		raft_free(entries);
		if (snap) {
			raft_configuration_close(&snap->configuration);
			raft_free(snap->bufs[0].base);
			raft_free(snap->bufs);
			raft_free(snap);
		}
	}
	w.io->close(w.io, on_close);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	assert_int_equal(w.closes, 1);
	raft_uv_close(w.io);
	assert_int_equal(uv_loop_close(&w.loop), 0);
	return last;
}

/* ---- damage ------------------------------------------------------------------------- */

enum op { NONE, FLIP, TRUNCATE, DELETE, ZERO_TAIL, RENAME, GROW };

/* A name starting with prefix and ending with suffix; with suffix "" a name without a dot
 * after the prefix (snapshot names carry a timestamp, their .meta a suffix). */
static int matches(const char *name, const char *prefix, const char *suffix)
{
	size_t l = strlen(name), pl = strlen(prefix), sl = strlen(suffix);

	return !strncmp(name, prefix, pl) && l >= pl + sl && !strcmp(name + l - sl, suffix) &&
	       (sl || !strchr(name + pl, '.'));
}

/* Calls fn on every file of dir that matches; returns how many. */
static int each_file(const char *dir, const char *prefix, const char *suffix,
		     void (*fn)(const char *dir, const char *name, void *arg), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (matches(de->d_name, prefix, suffix)) {
			fn(dir, de->d_name, arg);
			n++;
		}
	closedir(d);
	return n;
}

static void copy_name(const char *dir, const char *name, void *arg)
{
	(void)dir;
	snprintf(arg, 256, "%s", name);
}

static void remove_file(const char *dir, const char *name, void *arg)
{
	char path[600];

	(void)arg;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

/* The dir's one file that matches, into out (256 bytes). */
static void find_file(const char *dir, const char *prefix, const char *suffix, char *out)
{
	assert_int_equal(each_file(dir, prefix, suffix, copy_name, out), 1);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* at < 0 counts from the end of the file */
static void damage(const char *path, enum op op, long at, long arg)
{
	int fd;
	off_t size = file_size(path);
	off_t pos = at < 0 ? size + at : at;
	uint8_t c;
	char to[600];

	switch (op) {
	case NONE:
		break;
	case FLIP:
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &c, 1, pos), 1);
		c ^= (uint8_t)arg;
		assert_int_equal(pwrite(fd, &c, 1, pos), 1);
		close(fd);
		break;
	case TRUNCATE:
		assert_int_equal(truncate(path, pos), 0);
		break;
	case GROW:
		assert_int_equal(truncate(path, size + arg), 0);
		break;
	case DELETE: /* every file that matches: done by the caller */
		break;
	case ZERO_TAIL: {
		uint8_t zeros[64] = { 0 };

		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, zeros, (size_t)arg, pos), arg);
		close(fd);
		break;
	}
	case RENAME: {
		const char *slash = strrchr(path, '/');

		snprintf(to, sizeof(to), "%.*s/corrupt-1700000000000000000-%s",
			 (int)(slash - path), path, slash + 1);
		assert_int_equal(rename(path, to), 0);
		break;
	}
	}
}

/* ---- the raft dir cases ----------------------------------------------------------- */

struct raft_case {
	const char *what;
	int crashed;             /* damage the copy with an open segment */
	const char *prefix, *suffix; /* the file to damage */
	enum op op;
	long at, arg;
	int rc;
	uint64_t libraft_last;   /* the last entry libraft loads (rc 0) */
	const char *want;        /* the message (err, or note when rc is 0), see expand() */
};

/* The layout raft_uv wrote (test_layout): closed segments 1-1 (bootstrap), 2-59 and 60-117
 * (full at 16384 bytes), 118-121 (closed by the snapshot's barrier), 122-161; the crashed
 * copy has 122-161 in open-4. Every batch is one entry, 280 bytes, the first at byte 8. */
static const struct raft_case raft_cases[] = {
	{ "clean", 0, NULL, NULL, NONE, 0, 0, 0, 161, "" },
	{ "crashed, nothing torn", 1, NULL, NULL, NONE, 0, 0, 0, 161, "" },
	{ "format version", 0, "0000000000000001-0000000000000001", "", FLIP, 0, 0x02, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000001-0000000000000001 (entries 1-1) is corrupt: "
	  "unknown format version 3" },
	{ "header checksum", 0, "0000000000000002-", "", FLIP, 8, 0x01, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000002-0000000000000059 (entries 2-59) is corrupt: "
	  "checksum mismatch in the header of the batch at byte 8" },
	{ "entry term", 0, "0000000000000002-", "", FLIP, 8 + 280 * 3 + 16, 0x10, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000002-0000000000000059 (entries 2-59) is corrupt: "
	  "checksum mismatch in the header of the batch at byte 848" },
	{ "entry count", 0, "0000000000000002-", "", FLIP, 8 + 280 * 3 + 8, 0x01, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000002-0000000000000059 (entries 2-59) is corrupt: "
	  "the batch at byte 848 has no entries" },
	{ "entry count high", 0, "0000000000000002-", "", FLIP, 8 + 280 * 3 + 11, 0x01, -EUCLEAN,
	  0,
	  "raft log segment %D/0000000000000002-0000000000000059 (entries 2-59) is corrupt: "
	  "the batch at byte 848 claims 16777217 entries" },
	{ "data, first entry", 0, "0000000000000002-", "", FLIP, 8 + 32, 0x80, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000002-0000000000000059 (entries 2-59) is corrupt: "
	  "checksum mismatch in the batch at byte 8 (entries 2-2)" },
	{ "data, last byte of the last segment", 0, "0000000000000122-", "", FLIP, -1, 0x01,
	  -EUCLEAN, 0,
	  "raft log segment %D/0000000000000122-0000000000000161 (entries 122-161) is corrupt: "
	  "checksum mismatch in the batch at byte 10928 (entries 161-161)" },
	{ "data checksum", 0, "0000000000000122-", "", FLIP, 8 + 280 * 10 + 4, 0xff, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000122-0000000000000161 (entries 122-161) is corrupt: "
	  "checksum mismatch in the batch at byte 2808 (entries 132-132)" },
	{ "truncated mid batch", 0, "0000000000000122-", "", TRUNCATE, -100, 0, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000122-0000000000000161 (entries 122-161) is corrupt: "
	  "cut short at byte 11108 (entries 161-161)" },
	{ "truncated at a batch", 0, "0000000000000122-", "", TRUNCATE, -280, 0, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000122-0000000000000161 (entries 122-161) is corrupt: "
	  "it holds 39 entries, not 40" },
	{ "truncated to nothing", 0, "0000000000000060-", "", TRUNCATE, 0, 0, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000060-0000000000000117 (entries 60-117) is corrupt: "
	  "the file is empty" },
	{ "stray bytes", 0, "0000000000000060-", "", GROW, 0, 16, -EUCLEAN, 0,
	  "raft log segment %D/0000000000000060-0000000000000117 (entries 60-117) is corrupt: "
	  "the batch at byte 16248 has no entries" },
	{ "middle segment deleted", 0, "0000000000000060-", "", DELETE, 0, 0, -ENOENT, 0,
	  "raft log entries 60-117 are missing: no segment between "
	  "%D/0000000000000002-0000000000000059 and %D/0000000000000118-0000000000000121 holds "
	  "them" },
	{ "set aside by an earlier start", 0, "0000000000000122-", "", RENAME, 0, 0, -EUCLEAN, 0,
	  "raft log segment %D/corrupt-1700000000000000000-0000000000000122-0000000000000161 "
	  "(entries 122-161) was set aside as corrupt by an earlier start" },
	{ "first segment deleted: the snapshot holds it", 0, "0000000000000001-", "", DELETE, 0,
	  0, 0, 161, "" },
	{ "segments 1-117 deleted: 101-117 gone", 0, "00000000000000", "", DELETE, 0, 0, -ENOENT,
	  0,
	  "raft log entries 101-117 are missing: the log starts at "
	  "%D/0000000000000118-0000000000000121 and the newest snapshot ends before" },
	{ "snapshot data flipped", 0, "snapshot-1-100-", "", FLIP, 100, 0x01, -EUCLEAN, 0,
	  "raft snapshot %D/%S (entries 1-100) is corrupt: content checksum mismatch" },
	{ "snapshot content checksum", 0, "snapshot-1-100-", "", FLIP, -2, 0x01, -EUCLEAN, 0,
	  "raft snapshot %D/%S (entries 1-100) is corrupt: content checksum mismatch" },
	{ "snapshot frame descriptor", 0, "snapshot-1-100-", "", FLIP, 6, 0x01, -EUCLEAN, 0,
	  "raft snapshot %D/%S (entries 1-100) is corrupt: checksum mismatch in the LZ4 frame "
	  "descriptor" },
	{ "snapshot truncated", 0, "snapshot-1-100-", "", TRUNCATE, -1, 0, -EUCLEAN, 0,
	  "raft snapshot %D/%S (entries 1-100) is corrupt: cut short at byte %L" },
	{ "snapshot data deleted: the log holds it", 0, "snapshot-1-100-", "", DELETE, 0, 0, 0,
	  161, "" },
	{ "snapshot meta configuration", 0, "snapshot-1-100-", ".meta", FLIP, 40, 0x01, -EUCLEAN,
	  0,
	  "raft snapshot metadata %D/%S.meta (snapshot of entries 1-100) is corrupt: checksum "
	  "mismatch" },
	{ "snapshot meta checksum", 0, "snapshot-1-100-", ".meta", FLIP, 8, 0x01, -EUCLEAN, 0,
	  "raft snapshot metadata %D/%S.meta (snapshot of entries 1-100) is corrupt: checksum "
	  "mismatch" },
	{ "snapshot meta truncated", 0, "snapshot-1-100-", ".meta", TRUNCATE, 20, 0, -EUCLEAN, 0,
	  "raft snapshot metadata %D/%S.meta (snapshot of entries 1-100) is corrupt: cut short "
	  "at byte 20" },
	{ "metadata format", 0, "metadata1", "", FLIP, 0, 0x04, -EUCLEAN, 0,
	  "raft metadata %D/metadata1 is corrupt: unknown format version 5" },
	{ "metadata vote", 0, "metadata1", "", FLIP, 24, 0x40, -EUCLEAN, 0,
	  "raft metadata %D/metadata1 is corrupt: its vote went to 0000000000000040, not a "
	  "member" },
	{ "metadata version parity", 0, "metadata1", "", FLIP, 8, 0x03, -EUCLEAN, 0,
	  "raft metadata %D/metadata1 is corrupt: version 2 does not belong in this file" },
	{ "metadata version high byte", 0, "metadata1", "", FLIP, 15, 0x01, -EUCLEAN, 0,
	  "raft metadata %D/metadata1 and metadata2 are corrupt: versions 72057594037927937 "
	  "and 2 are not consecutive" },
	{ "metadata grown", 0, "metadata2", "", GROW, 0, 8, -EUCLEAN, 0,
	  "raft metadata %D/metadata2 is corrupt: 40 bytes, not 32" },
	{ "metadata torn: libraft drops it", 0, "metadata2", "", TRUNCATE, 20, 0, 0, 161, "" },
	{ "metadata deleted", 0, "metadata", "", DELETE, 0, 0, -ENOENT, 0,
	  "raft metadata %D/metadata1 and metadata2 are missing" },
	{ "torn last batch", 1, "open-4", "", ZERO_TAIL, 10928 + 260, 20, 0, 160,
	  "raft log open segment %D/open-4 ends in a partly written batch at byte 10928 (260 "
	  "bytes, never acknowledged): dropped, recovering to entry 160" },
	{ "torn last batch header", 1, "open-4", "", ZERO_TAIL, 10928 + 8, 8, 0, 160,
	  "raft log open segment %D/open-4 ends in a partly written batch at byte 10928 (280 "
	  "bytes, never acknowledged): dropped, recovering to entry 160" },
	{ "open segment flipped before its last batch", 1, "open-4", "", FLIP, 8 + 280 * 2 + 40,
	  0x01, -EUCLEAN, 0,
	  "raft log open segment %D/open-4 (entries from 122) is corrupt: checksum mismatch in "
	  "the batch at byte 568 (entries 124-124)" },
};

/* Expands %D (the dir), %S (the snapshot's data file) and %L (the damaged file's length). */
static void expand(const char *tmpl, const char *dir, const char *snap, long len, char *out,
		   size_t outlen)
{
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 1 < outlen; p++) {
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		p++;
		if (*p == 'D')
			o += (size_t)snprintf(out + o, outlen - o, "%s", dir);
		else if (*p == 'S')
			o += (size_t)snprintf(out + o, outlen - o, "%s", snap);
		else if (*p == 'L')
			o += (size_t)snprintf(out + o, outlen - o, "%ld", len);
	}
	out[o] = '\0';
}

static const uint64_t members[] = { MEMBER, OTHER_MEMBER };

static void test_raft_dir(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(raft_cases) / sizeof(raft_cases[0]); i++) {
		const struct raft_case *c = &raft_cases[i];
		char dir[160], file[256] = "", path[440], snap[256];
		char want[1024], err[1024] = "", note[1024] = "";
		long len = 0;
		int rc;

		snprintf(dir, sizeof(dir), "%s/case%zu", root, i);
		cp_dir(c->crashed ? crashed : clean, dir);
		find_file(dir, "snapshot-1-100-", "", snap);
		if (c->op == DELETE) {
			assert_true(each_file(dir, c->prefix, c->suffix, remove_file, NULL) > 0);
		} else if (c->prefix) {
			find_file(dir, c->prefix, c->suffix, file);
			snprintf(path, sizeof(path), "%s/%s", dir, file);
			damage(path, c->op, c->at, c->arg);
			if (c->op != RENAME)
				len = (long)file_size(path);
		}
		rc = ms_integrity_check_raft(dir, members, 2, note, sizeof(note), err, sizeof(err));
		expand(c->want, dir, snap, len, want, sizeof(want));
		if (rc != c->rc || strcmp(rc ? err : note, want))
			print_error("case '%s': rc %d, err '%s', note '%s'\n", c->what, rc, err, note);
		assert_int_equal(rc, c->rc);
		assert_string_equal(rc ? err : note, want);
		if (!rc)
			assert_int_equal(libraft_last_index(dir), c->libraft_last);
	}
}

/* The layout the cases above name, as raft_uv wrote it. */
static void test_layout(void **state)
{
	static const char *const want_clean[] = {
		"0000000000000001-0000000000000001", "0000000000000002-0000000000000059",
		"0000000000000060-0000000000000117", "0000000000000118-0000000000000121",
		"0000000000000122-0000000000000161", "metadata1", "metadata2",
	};
	char path[300], name[256];

	(void)state;
	for (size_t i = 0; i < sizeof(want_clean) / sizeof(want_clean[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", clean, want_clean[i]);
		assert_int_equal(access(path, F_OK), 0);
	}
	assert_int_equal(each_file(clean, "", "", copy_name, name), 7 + 1);
	find_file(clean, "snapshot-1-100-", ".meta", name);
	assert_int_equal(each_file(crashed, "open-", "", copy_name, name), 3);
	snprintf(path, sizeof(path), "%s/open-4", crashed);
	assert_int_equal(file_size(path), SEGMENT_BYTES);
	assert_int_equal(libraft_last_index(clean), 161);
}

static void read_text(const char *path, char *out, size_t outlen);

/* ---- the record of the last clean stop ---------------------------------------------- */

struct commit_case {
	int crashed;
	uint64_t commit_index;   /* recorded with ms_integrity_record_stop; 0: body instead */
	const char *body;        /* written as the record */
	const char *recorded;    /* the record's text after it */
	const char *remove;      /* a file deleted before the check, or NULL */
	int rc;
	const char *want;        /* %D: the dir */
};

static const struct commit_case commit_cases[] = {
	{ 0, 1000, NULL, "committed 161\n", NULL, 0, "" }, /* not above what is on disk */
	{ 0, 150, NULL, "committed 150\n", NULL, 0, "" },
	{ 0, 150, NULL, "committed 150\n", "0000000000000122-0000000000000161", -ENOENT,
	  "raft log entries 122-150 are missing: %D/committed says entry 150 was committed at "
	  "the last clean stop, the log and snapshots end at entry 121" },
	{ 0, 100, NULL, "committed 100\n", "0000000000000122-0000000000000161", 0, "" },
	{ 1, 0, "committed 161\n", "committed 161\n", NULL, 0, "" }, /* open-4 holds 122-161 */
	{ 0, 0, "committed 16x\n", "committed 16x\n", NULL, -EUCLEAN,
	  "raft dir %D: committed is corrupt" },
	{ 0, 0, "committed 161", "committed 161", NULL, -EUCLEAN,
	  "raft dir %D: committed is corrupt" },
};

static void test_committed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(commit_cases) / sizeof(commit_cases[0]); i++) {
		const struct commit_case *c = &commit_cases[i];
		char dir[160], path[300], text[64], want[512], err[512] = "", note[512] = "";
		int rc;

		snprintf(dir, sizeof(dir), "%s/commit%zu", root, i);
		cp_dir(c->crashed ? crashed : clean, dir);
		snprintf(path, sizeof(path), "%s/committed", dir);
		if (c->commit_index) {
			assert_int_equal(ms_integrity_record_stop(dir, c->commit_index, err,
								  sizeof(err)), 0);
		} else {
			FILE *f = fopen(path, "w");

			assert_non_null(f);
			fputs(c->body, f);
			fclose(f);
		}
		read_text(path, text, sizeof(text));
		assert_string_equal(text, c->recorded);
		if (c->remove) {
			snprintf(path, sizeof(path), "%s/%s", dir, c->remove);
			assert_int_equal(unlink(path), 0);
		}
		rc = ms_integrity_check_raft(dir, members, 2, note, sizeof(note), err, sizeof(err));
		expand(c->want, dir, "", 0, want, sizeof(want));
		assert_int_equal(rc, c->rc);
		assert_string_equal(rc ? err : note, want);
	}
}

/* ---- member.id ---------------------------------------------------------------------- */

struct member_case {
	const char *name;
	uint64_t member_id, cluster_id;
	int rc;
	const char *want; /* %D: the data dir */
};

static const struct member_case member_cases[] = {
	{ "n1", 0x11, 0xc1, 0, "" }, /* first start: recorded */
	{ "n1", 0x11, 0xc1, 0, "" }, /* the same member again */
	{ "n2", 0x22, 0xc1, -EPERM,
	  "data dir %D belongs to member n1 (id 0000000000000011), not n2" },
	{ "n1", 0x11, 0xc2, -EPERM,
	  "data dir %D belongs to member n1 (id 0000000000000011) of cluster 00000000000000c1, "
	  "not of cluster 00000000000000c2 (another --initial-cluster)" },
};

static void read_text(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_member(void **state)
{
	char dir[128], path[256], want[512], text[256];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/member", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < sizeof(member_cases) / sizeof(member_cases[0]); i++) {
		const struct member_case *c = &member_cases[i];
		char err[512] = "";
		int rc = ms_integrity_member(dir, c->name, c->member_id, c->cluster_id, err,
					     sizeof(err));

		expand(c->want, dir, "", 0, want, sizeof(want));
		assert_int_equal(rc, c->rc);
		assert_string_equal(err, want);
	}
	snprintf(path, sizeof(path), "%s/member.id", dir);
	read_text(path, text, sizeof(text));
	assert_string_equal(text, "name n1\nmember_id 0000000000000011\ncluster_id "
				  "00000000000000c1\n");
	snprintf(path, sizeof(path), "%s/member.id.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
}

/* member.id as written is the only form accepted. */
static void test_member_corrupt(void **state)
{
	static const char *const bodies[] = {
		"",
		"name n1\nmember_id 0000000000000011\ncluster_id 00000000000000c1",
		"name n1\nmember_id 00000000000000x1\ncluster_id 00000000000000c1\n",
		"name n1\nmember_id 0000000000000011\ncluster_id 00000000000000c1\nextra\n",
	};
	char dir[128], path[256], want[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/member-corrupt", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/member.id", dir);
	snprintf(want, sizeof(want), "data dir %s: member.id is corrupt", dir);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		FILE *f = fopen(path, "w");
		char err[512] = "";

		assert_non_null(f);
		fputs(bodies[i], f);
		fclose(f);
		assert_int_equal(ms_integrity_member(dir, "n1", 0x11, 0xc1, err, sizeof(err)),
				 -EUCLEAN);
		assert_string_equal(err, want);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ms-integrity.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(clean, sizeof(clean), "%s/clean", root);
	snprintf(crashed, sizeof(crashed), "%s/crashed", root);
	build_dir(clean);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_raft_dir),
		cmocka_unit_test(test_committed),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_member_corrupt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
