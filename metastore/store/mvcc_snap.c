/* MVCC store snapshots: every key's history and the event log, dumped and loaded whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "probe/trace.h"
#include "store/mvcc_priv.h"

#define MVCC_SNAP_MAGIC 0x314343564d534dULL /* "MSMVCC1" */

static int dump_key(const struct ms_key *k, struct ms_buf *out)
{
	int err = ms_put_bytes(out, ms_key_bytes(k), k->key_len);

	if (!err)
		err = ms_put_u64(out, k->dropped);
	if (!err)
		err = ms_put_u64(out, k->n);
	for (size_t i = 0; !err && i < k->n; i++) {
		const struct ms_key_rev *r = &k->revs[i];

		err = ms_put_u64(out, (uint64_t)r->mod_rev);
		if (!err)
			err = ms_put_u64(out, (uint64_t)r->create_rev);
		if (!err)
			err = ms_put_u64(out, (uint64_t)r->version);
		if (!err)
			err = ms_put_u64(out, (uint64_t)r->lease);
		if (!err)
			err = ms_put_bytes(out, r->value, r->value_len);
	}
	return err;
}

int ms_mvcc_snapshot(const struct ms_mvcc *s, struct ms_buf *out)
{
	int err;

	if (s->txn.open)
		return -EBUSY;
	err = ms_put_u64(out, MVCC_SNAP_MAGIC);
	if (!err)
		err = ms_put_u64(out, (uint64_t)s->rev);
	if (!err)
		err = ms_put_u64(out, (uint64_t)s->compact_rev);
	if (!err)
		err = ms_put_u64(out, ms_keyindex_len(s->ix));
	for (const struct ms_key *k = ms_keyindex_seek(s->ix, NULL, 0); !err && k;
	     k = ms_key_next(k))
		err = dump_key(k, out);
	if (!err)
		err = ms_eventlog_dump(s->ev, out);
	return err;
}

static int load_key(struct ms_keyindex *ix, struct ms_reader *r)
{
	size_t klen, n;
	const uint8_t *key = ms_get_bytes(r, &klen);
	uint64_t dropped = ms_get_u64(r), nrev = ms_get_u64(r);
	struct ms_key *k;

	/* each revision takes at least 40 bytes: a count beyond that is corrupt */
	if (r->bad || !klen || nrev > r->left / 40)
		return -EINVAL;
	if (ms_keyindex_find(ix, key, klen))
		return -EINVAL;
	k = ms_keyindex_upsert(ix, key, klen);
	if (!k)
		return -ENOMEM;
	k->dropped = dropped;
	n = (size_t)nrev;
	for (size_t i = 0; i < n; i++) {
		struct ms_key_rev rv = { 0 };
		const uint8_t *val;

		rv.mod_rev = (int64_t)ms_get_u64(r);
		rv.create_rev = (int64_t)ms_get_u64(r);
		rv.version = (int64_t)ms_get_u64(r);
		rv.lease = (int64_t)ms_get_u64(r);
		val = ms_get_bytes(r, &rv.value_len);
		if (r->bad)
			return -EINVAL;
		if (rv.value_len) {
			rv.value = malloc(rv.value_len);
			if (!rv.value)
				return -ENOMEM;
			memcpy(rv.value, val, rv.value_len);
		}
		if (ms_key_append(k, &rv)) {
			free(rv.value);
			return -ENOMEM;
		}
	}
	return 0;
}

int ms_mvcc_restore(struct ms_mvcc *s, const uint8_t *data, size_t len)
{
	struct ms_reader r = { .p = data, .left = len };
	struct ms_keyindex *ix = NULL;
	struct ms_eventlog *ev = NULL;
	int64_t rev, compact_rev;
	uint64_t nkeys;
	int err = 0;

	if (s->txn.open)
		return -EBUSY;
	if (ms_get_u64(&r) != MVCC_SNAP_MAGIC)
		return -EINVAL;
	rev = (int64_t)ms_get_u64(&r);
	compact_rev = (int64_t)ms_get_u64(&r);
	nkeys = ms_get_u64(&r);
	if (r.bad || rev < 1 || compact_rev < 0 || compact_rev > rev)
		return -EINVAL;
	ix = ms_keyindex_new(ms_mvcc_ix_seed(s));
	ev = ms_eventlog_new();
	if (!ix || !ev) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (uint64_t i = 0; !err && i < nkeys; i++)
		err = load_key(ix, &r);
	if (!err)
		err = ms_eventlog_load(ev, ix, &r);
	if (!err && r.left)
		err = -EINVAL;
	if (err)
		goto cleanup;
	/* swap in: the old state goes, callers keep their store pointer */
	ms_keyindex_free(s->ix);
	ms_eventlog_free(s->ev);
	s->ix = ix;
	s->bytes = ms_keyindex_bytes(ix, MS_MVCC_REV_BYTES);
	s->ev = ev;
	ix = NULL;
	ev = NULL;
	s->compact_rev = compact_rev;
	s->rev = rev;
	ms_trace_mvcc_revision(s->node_id, rev);
cleanup:
	ms_keyindex_free(ix);
	ms_eventlog_free(ev);
	return err;
}

int ms_mvcc_for_each_live(const struct ms_mvcc *s,
			  int (*fn)(const struct ms_kv *kv, void *arg), void *arg)
{
	for (const struct ms_key *k = ms_keyindex_seek(s->ix, NULL, 0); k; k = ms_key_next(k)) {
		const struct ms_key_rev *r = ms_key_latest(k);
		struct ms_kv kv;
		int err;

		if (!r || r->version == 0)
			continue;
		ms_kv_fill(&kv, k, r, true);
		err = fn(&kv, arg);
		if (err)
			return err;
	}
	return 0;
}
