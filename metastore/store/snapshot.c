/* Whole-store snapshots for raft: MVCC history, leases, auth and alarms, zlib-compressed. */
#include "store/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "store/codec.h"

/* Sections: MVCC history, leases, the extra (auth) state, alarms. */
#define SNAP_MAGIC 0x32504e53534d4dULL     /* "MMSSNP2": zlib-compressed sections */
#define SNAP_RAW_MAGIC 0x32574152534d4dULL /* "MMSRAW2": the sections as they are */
#define SNAP_SECTIONS 4
/* A decompressed snapshot larger than this is taken as corrupt. */
#define SNAP_MAX_RAW (1ULL << 36)

static int dump_leases(struct ms_lease_table *t, struct ms_buf *out)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int err = ms_lease_list(t, &ids, &n);

	if (!err)
		err = ms_put_u64(out, ms_lease_table_rng(t));
	if (!err)
		err = ms_put_u64(out, n);
	for (size_t i = 0; !err && i < n; i++) {
		err = ms_put_u64(out, (uint64_t)ids[i]);
		if (!err)
			err = ms_put_u64(out, (uint64_t)ms_lease_granted_ttl(t, ids[i]));
	}
	free(ids);
	return err;
}

/* Appends one length-prefixed section produced by fn. */
static int put_section(struct ms_buf *b, int (*fn)(void *arg, struct ms_buf *out),
		       void *arg)
{
	size_t at = b->len;
	uint64_t n;
	int err = ms_put_u64(b, 0);

	if (!err && fn)
		err = fn(arg, b);
	if (err)
		return err;
	n = b->len - at - 8;
	ms_le64_write(b->data + at, n);
	return 0;
}

static int mvcc_section(void *arg, struct ms_buf *out)
{
	return ms_mvcc_snapshot(arg, out);
}

static int lease_section(void *arg, struct ms_buf *out)
{
	return dump_leases(arg, out);
}

static int alarm_section(void *arg, struct ms_buf *out)
{
	static const struct ms_alarms none;

	return ms_alarms_dump(arg ? arg : &none, out);
}

int ms_snapshot_serialize(const struct ms_snap_parts *p, struct ms_buf *raw)
{
	int err = ms_put_u64(raw, SNAP_RAW_MAGIC);

	if (!err)
		err = put_section(raw, mvcc_section, p->mvcc);

	if (!err)
		err = put_section(raw, lease_section, p->leases);
	if (!err)
		err = put_section(raw, p->extra_dump, p->extra_arg);
	if (!err)
		err = put_section(raw, alarm_section, p->alarms);
	return err;
}

int ms_snapshot_compress(const uint8_t *raw, size_t raw_len, struct ms_buf *out)
{
	uLongf zlen = compressBound(raw_len);
	size_t at;
	int err = ms_put_u64(out, SNAP_MAGIC);

	if (!err)
		err = ms_put_u64(out, raw_len);
	at = out->len;
	if (!err)
		err = ms_buf_append(out, NULL, zlen);
	if (err)
		return err;
	/* level 1: a snapshot is taken every --snapshot-count entries, speed matters more */
	if (compress2(out->data + at, &zlen, raw, raw_len, 1) != Z_OK)
		return -ENOMEM;
	out->len = at + zlen;
	return 0;
}

int ms_snapshot_take(const struct ms_snap_parts *p, struct ms_buf *out)
{
	struct ms_buf raw = { 0 };
	int err = ms_snapshot_serialize(p, &raw);

	if (!err)
		err = ms_snapshot_compress(raw.data, raw.len, out);
	ms_buf_free(&raw);
	return err;
}

/* Attaches a live key to its lease (arg: the table). */
static int attach_key(const struct ms_kv *kv, void *arg)
{
	if (!kv->lease)
		return 0;
	/* a key naming a lease the snapshot lacks is corrupt state */
	return ms_lease_attach(arg, kv->lease, kv->key, kv->key_len);
}

static int load_leases(struct ms_lease_table *t, struct ms_mvcc *mvcc, const uint8_t *data,
		       size_t len, int64_t now_ms)
{
	struct ms_reader r = { .p = data, .left = len };
	uint64_t rng = ms_get_u64(&r), n = ms_get_u64(&r);
	int err;

	if (r.bad || n > r.left / 16)
		return -EINVAL;
	ms_lease_table_clear(t);
	ms_lease_table_seed(t, rng);
	for (uint64_t i = 0; i < n; i++) {
		int64_t id = (int64_t)ms_get_u64(&r), ttl = (int64_t)ms_get_u64(&r);

		err = ms_lease_restore(t, id, ttl, now_ms);
		if (err)
			return err;
	}
	return ms_mvcc_for_each_live(mvcc, attach_key, t);
}

int ms_snapshot_restore(const struct ms_snap_parts *p, const uint8_t *data, size_t len,
			int64_t now_ms)
{
	struct ms_reader r = { .p = data, .left = len };
	uint64_t magic = ms_get_u64(&r), raw_len;
	uint8_t *raw = NULL;
	uLongf got;
	const uint8_t *sec[SNAP_SECTIONS];
	size_t sec_len[SNAP_SECTIONS];
	int err = -EINVAL;

	if (magic == SNAP_MAGIC) {
		raw_len = ms_get_u64(&r);
		if (r.bad || raw_len > SNAP_MAX_RAW)
			return -EINVAL;
		raw = malloc(raw_len ? raw_len : 1);
		if (!raw)
			return -ENOMEM;
		got = (uLongf)raw_len;
		if (uncompress(raw, &got, r.p, r.left) != Z_OK || got != raw_len)
			goto cleanup;
		r = (struct ms_reader){ .p = raw, .left = got };
		if (ms_get_u64(&r) != SNAP_RAW_MAGIC)
			goto cleanup;
	} else if (magic != SNAP_RAW_MAGIC) {
		return -EINVAL;
	}
	for (int i = 0; i < SNAP_SECTIONS; i++)
		sec[i] = ms_get_bytes(&r, &sec_len[i]);
	if (r.bad || r.left)
		goto cleanup;
	err = ms_mvcc_restore(p->mvcc, sec[0], sec_len[0]);
	if (!err)
		err = load_leases(p->leases, p->mvcc, sec[1], sec_len[1], now_ms);
	if (!err && p->extra_load)
		err = p->extra_load(p->extra_arg, sec[2], sec_len[2]);
	if (!err && p->alarms)
		err = ms_alarms_load(p->alarms, sec[3], sec_len[3]);
cleanup:
	free(raw);
	return err;
}
