/* MVCC key-value store: every write creates a revision; reads at old revisions until compacted. */
#ifndef MS_MVCC_H
#define MS_MVCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors beyond -errno: returned negated, like -errno. */
#define MS_MVCC_ECOMPACTED 4096 /* requested revision was compacted */
#define MS_MVCC_EFUTURE 4097    /* requested revision is above the current one */

struct ms_mvcc;
struct ms_mvcc_txn;

/* One key at one revision. Pointers refer to store memory (see each call for lifetime). */
struct ms_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	int64_t lease;
};

enum ms_sort_order { MS_SORT_NONE = 0, MS_SORT_ASCEND = 1, MS_SORT_DESCEND = 2 };
enum ms_sort_target {
	MS_SORT_KEY = 0,
	MS_SORT_VERSION = 1,
	MS_SORT_CREATE = 2,
	MS_SORT_MOD = 3,
	MS_SORT_VALUE = 4,
};

/*
 * A key range in etcd's convention: end_len == 0 means the single key `key`; end == "\0"
 * (one zero byte) means every key >= key; otherwise [key, end). key_len == 0 with end "\0"
 * means all keys.
 */
struct ms_range_req {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *end;
	size_t end_len;
	int64_t rev;   /* 0: current revision */
	int64_t limit; /* 0: no limit */
	enum ms_sort_order sort_order;
	enum ms_sort_target sort_target;
	bool keys_only;  /* results carry no value */
	bool count_only; /* results carry no kvs, only count */
	int64_t min_mod_rev, max_mod_rev;       /* 0: no bound */
	int64_t min_create_rev, max_create_rev; /* 0: no bound */
};

/* Result of a range. kvs is owned by the result; the kv pointers stay valid until the next
 * write or compaction on the store. */
struct ms_range_res {
	struct ms_kv *kvs;
	size_t n;      /* entries in kvs */
	int64_t count; /* keys in range (before limit) */
	bool more;     /* count > n because of limit */
	int64_t rev;   /* store revision the read was served at (the current revision) */
};

/* Creates an empty store at revision 1 (etcd's starting revision) for raft node `node_id`.
 * Returns NULL on allocation failure. */
struct ms_mvcc *ms_mvcc_new(uint64_t node_id);

/* Frees the store and everything it owns; NULL is allowed. */
void ms_mvcc_free(struct ms_mvcc *s);

/* Current revision (the revision of the last write; 1 when empty). */
int64_t ms_mvcc_rev(const struct ms_mvcc *s);

/* Revision of the last compaction (0 if never compacted). */
int64_t ms_mvcc_compact_rev(const struct ms_mvcc *s);

/* Bookkeeping bytes counted per revision held, besides its key and value. */
#define MS_MVCC_REV_BYTES 48

/* The store's size, etcd's "DB size" here: for every revision held (history not compacted
 * yet, tombstones included), its key, its value and MS_MVCC_REV_BYTES. */
size_t ms_mvcc_size(const struct ms_mvcc *s);

/* Reads a range. Returns 0, -MS_MVCC_ECOMPACTED, -MS_MVCC_EFUTURE, -EINVAL or -ENOMEM.
 * On success the caller releases `res` with ms_range_res_release(). */
int ms_mvcc_range(struct ms_mvcc *s, const struct ms_range_req *req, struct ms_range_res *res);

/* Frees what a range result owns; a zeroed or already released result is allowed. */
void ms_range_res_release(struct ms_range_res *res);

/* Puts key=value in its own revision. If prev is non-NULL, *prev receives the previous kv
 * and *had_prev whether there was one (prev's pointers valid until the next write).
 * Returns 0, -EINVAL (empty key), -EBUSY (a transaction is open) or -ENOMEM; *rev_out
 * (if non-NULL) gets the new revision (the unchanged current one on failure). */
int ms_mvcc_put(struct ms_mvcc *s, const uint8_t *key, size_t key_len, const uint8_t *value,
		size_t value_len, int64_t lease, struct ms_kv *prev, bool *had_prev, int64_t *rev_out);

/* Deletes a range (ms_range_req's key/end convention) in one revision. *deleted gets the
 * number of keys removed; if prevs is non-NULL it receives a malloc'ed array of the deleted
 * kvs (caller frees the array; kv pointers valid until the next write). No revision is
 * created when nothing is deleted. Returns 0, -EINVAL, -EBUSY (a transaction is open) or
 * -ENOMEM; on failure nothing is deleted. */
int ms_mvcc_delete(struct ms_mvcc *s, const uint8_t *key, size_t key_len, const uint8_t *end,
		   size_t end_len, int64_t *deleted, struct ms_kv **prevs, int64_t *rev_out);

/* Compacts history up to and including `rev`: reads below `rev` fail afterwards.
 * Returns 0, -MS_MVCC_ECOMPACTED (rev <= last compaction), -MS_MVCC_EFUTURE or -EBUSY
 * (a transaction is open). */
int ms_mvcc_compact(struct ms_mvcc *s, int64_t rev);

/*
 * Transactions: every write between begin and end shares one revision (etcd's main
 * revision); reads inside the transaction see its earlier writes. Only one transaction
 * is open at a time. The ms_mvcc_txn_* calls have the same contracts as the single
 * operations above; ms_mvcc_txn_end returns the revision of the transaction (the new
 * revision if it wrote anything, else the unchanged current one). The storage probes
 * see one "txn" operation for the whole of it.
 * ms_mvcc_txn_begin returns NULL while another transaction is open; plain reads stay
 * allowed meanwhile (they see the store before the transaction) but plain writes and
 * compaction return -EBUSY. A failed write inside a transaction changes nothing, the
 * writes before it stay. ms_mvcc_txn_end(NULL) returns -EINVAL.
 */
struct ms_mvcc_txn *ms_mvcc_txn_begin(struct ms_mvcc *s);
int ms_mvcc_txn_range(struct ms_mvcc_txn *t, const struct ms_range_req *req,
		      struct ms_range_res *res);
int ms_mvcc_txn_put(struct ms_mvcc_txn *t, const uint8_t *key, size_t key_len,
		    const uint8_t *value, size_t value_len, int64_t lease, struct ms_kv *prev,
		    bool *had_prev);
int ms_mvcc_txn_delete(struct ms_mvcc_txn *t, const uint8_t *key, size_t key_len,
		       const uint8_t *end, size_t end_len, int64_t *deleted, struct ms_kv **prevs);
int64_t ms_mvcc_txn_end(struct ms_mvcc_txn *t);

/* Latest kv of one key at the current revision (txn compares); returns false if absent.
 * *kv pointers valid until the next write. */
bool ms_mvcc_get(struct ms_mvcc *s, const uint8_t *key, size_t key_len, struct ms_kv *kv);

/*
 * The event log, for watchers: every change in revision order (a transaction's changes in
 * the order it made them). A position is a sequence number that stays valid across
 * compactions until compaction removes the event it names.
 */
struct ms_event {
	bool is_delete;
	struct ms_kv kv;   /* a delete carries only key and mod_rev, like etcd's */
	bool has_prev;     /* prev holds the kv before the change (not when compacted away) */
	struct ms_kv prev;
};

/* Position of the first event with revision >= rev (past the last event if none yet).
 * Returns 0, or -MS_MVCC_ECOMPACTED if rev < the compaction revision. */
int ms_mvcc_event_seek(struct ms_mvcc *s, int64_t rev, uint64_t *pos);

/* Copies up to `max` events from *pos on into out and advances *pos past them. Returns the
 * number copied (0: caught up) or -MS_MVCC_ECOMPACTED if *pos was compacted away. kv
 * pointers stay valid until the next write or compaction. Emits no probes. */
int64_t ms_mvcc_events(struct ms_mvcc *s, uint64_t *pos, struct ms_event *out, size_t max);

/* --- snapshots (mvcc_snap.c) ----------------------------------------------------------- */

struct ms_buf;

/* Appends the whole store (every key's retained history, the event log, the revisions) to
 * `out`. Returns 0, -EBUSY (a transaction is open) or -ENOMEM. */
int ms_mvcc_snapshot(const struct ms_mvcc *s, struct ms_buf *out);

/* Replaces the store's contents with a snapshot; on failure nothing changes. Watch
 * positions stay meaningful: a snapshot carries the log positions of its source, which
 * replicas of one history share. Returns 0, -EINVAL (malformed), -EBUSY or -ENOMEM. */
int ms_mvcc_restore(struct ms_mvcc *s, const uint8_t *data, size_t len);

/* Calls fn on every live key at the current revision, in key order, with no probe (state
 * rebuilt from a snapshot, e.g. lease attachments). Stops at and returns fn's first
 * non-zero result; 0 otherwise. */
int ms_mvcc_for_each_live(const struct ms_mvcc *s,
			  int (*fn)(const struct ms_kv *kv, void *arg), void *arg);

#endif /* MS_MVCC_H */
