/* The data dir's copy of the member table, rewritten whenever the table changes. */
#include "raft/member_file.h"

#include <errno.h>
#include <stdlib.h>

#include "raft/integrity_priv.h"

#define FILE_MAGIC 0x31454c49464d4dULL /* "MMFILE1" */

int ms_member_file_write(const char *data_dir, const struct ms_member_file *f,
			 const struct ms_members *m)
{
	struct ms_buf b = { 0 };
	int e = ms_put_u64(&b, FILE_MAGIC);

	if (!e)
		e = ms_put_u64(&b, f->self_id);
	if (!e)
		e = ms_put_u64(&b, f->cluster_id);
	if (!e)
		e = ms_put_u64(&b, f->joined);
	if (!e)
		e = ms_members_encode(m, &b);
	if (!e)
		e = ms_integ_write_atomic(data_dir, MS_MEMBERS_FILE, (const char *)b.data, b.len);
	ms_buf_free(&b);
	return e;
}

int ms_member_file_read(const char *data_dir, struct ms_member_file *f, struct ms_members *m)
{
	uint8_t *p = NULL;
	size_t len = 0;
	struct ms_reader r;
	int e = ms_integ_read_all(data_dir, MS_MEMBERS_FILE, &p, &len);

	if (e)
		return e;
	r = (struct ms_reader){ .p = p, .left = len };
	e = -EUCLEAN;
	if (ms_get_u64(&r) != FILE_MAGIC)
		goto cleanup;
	f->self_id = ms_get_u64(&r);
	f->cluster_id = ms_get_u64(&r);
	f->joined = ms_get_u64(&r) != 0;
	if (!r.bad && !ms_members_decode(m, &r) && !r.left)
		e = 0;
cleanup:
	free(p);
	return e;
}
