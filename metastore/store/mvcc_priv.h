/* MVCC store internals shared by mvcc.c and its snapshot code (mvcc_snap.c); not an API. */
#ifndef MS_MVCC_PRIV_H
#define MS_MVCC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "store/eventlog.h"
#include "store/keyindex.h"
#include "store/mvcc.h"

/* One storage operation in progress: its probe id and its begin time for the batch probe
 * (0 while none is attached). */
struct ms_op_span {
	uint64_t id;
	uint64_t t0;
};

struct ms_mvcc_txn {
	struct ms_mvcc *s;
	struct ms_op_span op;
	int64_t rev; /* the revision its writes get: the current one + 1 */
	bool open;
	bool wrote;
	uint32_t status; /* first failure among its operations, for the probe */
};

struct ms_mvcc {
	struct ms_keyindex *ix;
	struct ms_eventlog *ev;
	uint64_t node_id;
	int64_t rev;
	int64_t compact_rev;
	size_t bytes; /* ms_mvcc_size */
	struct ms_mvcc_txn txn; /* one transaction at a time, so it lives in the store */
};

/* Fills kv from revision r of key k (pointers into the index; no value unless with_value). */
static inline void ms_kv_fill(struct ms_kv *kv, const struct ms_key *k, const struct ms_key_rev *r,
			      bool with_value)
{
	kv->key = ms_key_bytes(k);
	kv->key_len = k->key_len;
	kv->value = with_value ? r->value : NULL;
	kv->value_len = with_value ? r->value_len : 0;
	kv->create_rev = r->create_rev;
	kv->mod_rev = r->mod_rev;
	kv->version = r->version;
	kv->lease = r->lease;
}

/* Seed of a store's skip list levels (any value works; this one differs per store). */
static inline uint64_t ms_mvcc_ix_seed(const struct ms_mvcc *s)
{
	return (uint64_t)(uintptr_t)s ^ 0x2545f4914f6cdd1dULL;
}

#endif /* MS_MVCC_PRIV_H */
