/* Start-up integrity: libraft 0.15's segments, snapshots and metadata verified before it
 * opens them (it would set a corrupt segment aside and start without it), and member.id. */
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

/* ---- the whole dir -------------------------------------------------------------------- */

/* The last entry the closed segments and snapshots (with data) hold; 0 if none. */
static uint64_t closed_reach(const struct listing *l)
{
	uint64_t reach = 0;

	for (size_t i = 0; i < l->n_segs; i++)
		if (!l->segs[i].open && l->segs[i].end > reach)
			reach = l->segs[i].end;
	for (size_t i = 0; i < l->n_snaps; i++)
		if (l->snaps[i].has_data && l->snaps[i].index > reach)
			reach = l->snaps[i].index;
	return reach;
}

/* The record of the last clean stop: entries up to it were committed and on disk then, and
 * committed entries only ever leave the log into a snapshot. So the newest closed segment
 * going missing is seen too, which nothing in libraft's files tells. */
static int check_committed(const char *dir, const struct listing *l, uint64_t log_end,
			   char *err, size_t errlen)
{
	uint8_t *b = NULL;
	size_t len = 0;
	uint64_t committed = 0, reach = closed_reach(l);
	char text[64];
	const char *p = text + 10;
	int e;

	e = ms_integ_read_all(dir, MS_INTEGRITY_COMMIT_FILE, &b, &len);
	if (e == -ENOENT)
		return 0;
	if (e) {
		snprintf(err, errlen, "cannot read %s/%s: %s", dir, MS_INTEGRITY_COMMIT_FILE,
			 strerror(-e));
		return e;
	}
	e = -EUCLEAN;
	if (len < sizeof(text) && !memchr(b, 0, len)) {
		memcpy(text, b, len);
		text[len] = '\0';
		if (!strncmp(text, "committed ", 10) && ms_integ_parse_u64(&p, &committed, 0) &&
		    !strcmp(p, "\n"))
			e = 0;
	}
	free(b);
	if (e) {
		snprintf(err, errlen, "raft dir %s: %s is corrupt", dir, MS_INTEGRITY_COMMIT_FILE);
		return e;
	}
	if (log_end > reach)
		reach = log_end;
	if (reach >= committed)
		return 0;
	snprintf(err, errlen,
		 "raft log entries %" PRIu64 "-%" PRIu64 " are missing: %s/%s says entry %" PRIu64
		 " was committed at the last clean stop, the log and snapshots end at entry %" PRIu64,
		 reach + 1, committed, dir, MS_INTEGRITY_COMMIT_FILE, committed, reach);
	return -ENOENT;
}

int ms_integrity_record_stop(const char *dir, uint64_t commit_index, char *err, size_t errlen)
{
	struct listing l = { 0 };
	uint64_t reach;
	char text[64];
	int n, e;

	e = ms_integ_list_dir(dir, &l);
	if (e) {
		snprintf(err, errlen, "cannot list raft dir %s: %s", dir, strerror(-e));
		goto cleanup;
	}
	reach = closed_reach(&l);
	/* a leader may count a quorum before its own write is on disk: record only both */
	n = snprintf(text, sizeof(text), "committed %" PRIu64 "\n",
		     commit_index < reach ? commit_index : reach);
	e = ms_integ_write_atomic(dir, MS_INTEGRITY_COMMIT_FILE, text, (size_t)n);
	if (e)
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, MS_INTEGRITY_COMMIT_FILE,
			 strerror(-e));
cleanup:
	free(l.segs);
	free(l.snaps);
	return e;
}

int ms_integrity_check_raft(const char *dir, const uint64_t *members, size_t n_members,
			    char *note, size_t notelen, char *err, size_t errlen)
{
	struct listing l = { 0 };
	struct meta md[2] = { { 0 } };
	const struct snap *latest = NULL;
	const struct seg *first_closed = NULL, *prev = NULL;
	uint64_t max_term = 0, next, base;
	int e;

	note[0] = '\0';
	e = ms_integ_list_dir(dir, &l);
	if (e) {
		snprintf(err, errlen, "cannot list raft dir %s: %s", dir, strerror(-e));
		goto cleanup;
	}
	if (l.set_aside[0]) {
		const char *orig = strchr(l.set_aside + 8, '-');
		uint64_t f, t;

		e = -EUCLEAN;
		if (orig && ms_integ_parse_closed(orig + 1, &f, &t))
			snprintf(err, errlen,
				 "raft log segment %s/%s (entries %" PRIu64 "-%" PRIu64
				 ") was set aside as corrupt by an earlier start",
				 dir, l.set_aside, f, t);
		else
			snprintf(err, errlen,
				 "raft log segment %s/%s was set aside as corrupt by an earlier start",
				 dir, l.set_aside);
		goto cleanup;
	}
	for (int i = 0; i < 2; i++) {
		if (!l.meta_file[i])
			continue;
		e = ms_integ_check_metadata(dir, i + 1, members, n_members, &md[i], err, errlen);
		if (e)
			goto cleanup;
	}
	if (md[0].present && md[1].present &&
	    (md[0].version > md[1].version ? md[0].version - md[1].version
					   : md[1].version - md[0].version) != 1) {
		e = -EUCLEAN;
		snprintf(err, errlen,
			 "raft metadata %s/metadata1 and metadata2 are corrupt: versions %" PRIu64
			 " and %" PRIu64 " are not consecutive",
			 dir, md[0].version, md[1].version);
		goto cleanup;
	}
	for (size_t i = 0; i < l.n_snaps; i++) {
		const struct snap *s = &l.snaps[i];

		/* libraft writes the .meta first: a crash before the data file leaves the newest
		 * snapshot without one; an older one without it has lost its data */
		for (size_t k = i + 1; !s->has_data && k < l.n_snaps; k++) {
			if (!l.snaps[k].has_data)
				continue;
			e = -ENOENT;
			snprintf(err, errlen,
				 "raft snapshot %s/%.*s (entries 1-%" PRIu64
				 ") is missing: only its .meta is there",
				 dir, (int)(strlen(s->name) - 5), s->name, s->index);
			goto cleanup;
		}
		if (!s->has_data)
			continue;
		e = ms_integ_check_snapshot(dir, &l.snaps[i], err, errlen);
		if (e)
			goto cleanup;
		latest = &l.snaps[i];
		if (l.snaps[i].term > max_term)
			max_term = l.snaps[i].term;
	}
	for (size_t i = 0; i < l.n_segs && !l.segs[i].open; i++) {
		const struct seg *s = &l.segs[i];

		if (s->end < s->first) {
			e = -EUCLEAN;
			snprintf(err, errlen, "raft log segment %s/%s is corrupt: its name is backwards",
				 dir, s->name);
			goto cleanup;
		}
		if (prev && s->first != prev->end + 1) {
			if (s->first <= prev->end) {
				e = -EUCLEAN;
				snprintf(err, errlen,
					 "raft log segments %s/%s and %s/%s overlap (entries %" PRIu64
					 "-%" PRIu64 ")",
					 dir, prev->name, dir, s->name, s->first,
					 s->end < prev->end ? s->end : prev->end);
			} else {
				e = -ENOENT;
				snprintf(err, errlen,
					 "raft log entries %" PRIu64 "-%" PRIu64
					 " are missing: no segment between %s/%s and %s/%s holds them",
					 prev->end + 1, s->first - 1, dir, prev->name, dir, s->name);
			}
			goto cleanup;
		}
		e = ms_integ_check_closed(dir, s, &max_term, err, errlen);
		if (e)
			goto cleanup;
		if (!first_closed)
			first_closed = s;
		prev = s;
	}
	/* the log must pick up where the newest snapshot ends, or the entries in between are
	 * gone (a snapshot's data file deleted, the oldest segments deleted) */
	base = latest ? latest->index : 0;
	if (first_closed && first_closed->first > base + 1) {
		e = -ENOENT;
		snprintf(err, errlen,
			 "raft log entries %" PRIu64 "-%" PRIu64
			 " are missing: the log starts at %s/%s and %s",
			 base + 1, first_closed->first - 1, dir, first_closed->name,
			 latest ? "the newest snapshot ends before" : "no snapshot holds them");
		goto cleanup;
	}
	next = prev ? prev->end + 1 : base + 1;
	for (size_t i = 0; i < l.n_segs; i++) {
		const struct seg *s = &l.segs[i];
		uint64_t n;
		size_t torn_at, torn_bytes;

		if (!s->open)
			continue;
		e = ms_integ_check_open(dir, s, next, &n, &torn_at, &torn_bytes, &max_term, err, errlen);
		if (e)
			goto cleanup;
		if (note[0] && (n || torn_bytes)) {
			/* libraft would load these right after the torn write, at the wrong index */
			e = -EUCLEAN;
			snprintf(err, errlen,
				 "raft log open segment %s/%s holds entries after a torn write", dir,
				 s->name);
			goto cleanup;
		}
		if (torn_bytes)
			snprintf(note, notelen,
				 "raft log open segment %s/%s ends in a partly written batch at byte "
				 "%zu (%zu bytes, never acknowledged): dropped, recovering to entry "
				 "%" PRIu64,
				 dir, s->name, torn_at, torn_bytes, next + n - 1);
		next += n;
	}
	e = check_committed(dir, &l, next - 1, err, errlen);
	if (e)
		goto cleanup;
	if ((l.n_segs || latest) && !md[0].present && !md[1].present) {
		e = -ENOENT;
		snprintf(err, errlen, "raft metadata %s/metadata1 and metadata2 are missing", dir);
		goto cleanup;
	}
	{
		const struct meta *cur = md[0].version > md[1].version ? &md[0] : &md[1];

		if (cur->present && cur->term < max_term) {
			e = -EUCLEAN;
			snprintf(err, errlen,
				 "raft metadata %s/metadata%d is corrupt: term %" PRIu64
				 " is below the log's term %" PRIu64,
				 dir, cur == &md[0] ? 1 : 2, cur->term, max_term);
			goto cleanup;
		}
	}
	e = 0;
cleanup:
	free(l.segs);
	free(l.snaps);
	return e;
}

/* ---- member.id ------------------------------------------------------------------------ */

struct owner {
	char name[64];
	uint64_t member_id, cluster_id;
};

/* "name N\nmember_id HEX\ncluster_id HEX\n"; -EUCLEAN if it is anything else. */
static int parse_owner(const uint8_t *b, size_t len, struct owner *o)
{
	char text[256], tail;
	unsigned long long m, c;
	int k = 0;

	if (len >= sizeof(text) || memchr(b, 0, len))
		return -EUCLEAN;
	memcpy(text, b, len);
	text[len] = '\0';
	if (sscanf(text, "name %63s\nmember_id %16llx\ncluster_id %16llx%c%n", o->name, &m, &c,
		   &tail, &k) != 4 ||
	    tail != '\n' || (size_t)k != len)
		return -EUCLEAN;
	o->member_id = m;
	o->cluster_id = c;
	return 0;
}

int ms_integrity_member(const char *data_dir, const char *name, uint64_t member_id,
			uint64_t cluster_id, char *err, size_t errlen)
{
	char text[256];
	uint8_t *b = NULL;
	size_t len = 0;
	struct owner o;
	int n, e;

	e = ms_integ_read_all(data_dir, MS_INTEGRITY_MEMBER_FILE, &b, &len);
	if (e == -ENOENT) {
		n = snprintf(text, sizeof(text), "name %s\nmember_id %016" PRIx64
			     "\ncluster_id %016" PRIx64 "\n", name, member_id, cluster_id);
		if (n < 0 || (size_t)n >= sizeof(text) || strlen(name) > 63 ||
		    strpbrk(name, " \t\n")) {
			e = -EINVAL;
			snprintf(err, errlen, "member name %s cannot be recorded in %s/%s", name,
				 data_dir, MS_INTEGRITY_MEMBER_FILE);
			goto cleanup;
		}
		e = ms_integ_write_atomic(data_dir, MS_INTEGRITY_MEMBER_FILE, text, (size_t)n);
		if (e)
			snprintf(err, errlen, "cannot write %s/%s: %s", data_dir,
				 MS_INTEGRITY_MEMBER_FILE, strerror(-e));
		goto cleanup;
	}
	if (e) {
		snprintf(err, errlen, "cannot read %s/%s: %s", data_dir, MS_INTEGRITY_MEMBER_FILE,
			 strerror(-e));
		goto cleanup;
	}
	e = parse_owner(b, len, &o);
	if (e) {
		snprintf(err, errlen, "data dir %s: %s is corrupt", data_dir,
			 MS_INTEGRITY_MEMBER_FILE);
		goto cleanup;
	}
	e = -EPERM;
	if (strcmp(o.name, name) || o.member_id != member_id)
		snprintf(err, errlen, "data dir %s belongs to member %s (id %016" PRIx64 "), not %s",
			 data_dir, o.name, o.member_id, name);
	else if (o.cluster_id != cluster_id)
		snprintf(err, errlen,
			 "data dir %s belongs to member %s (id %016" PRIx64 ") of cluster %016" PRIx64
			 ", not of cluster %016" PRIx64 " (another --initial-cluster)",
			 data_dir, o.name, o.member_id, o.cluster_id, cluster_id);
	else
		e = 0;
cleanup:
	free(b);
	return e;
}
