/* MVCC key-value store: etcd v3 revision semantics over the ordered key index. */
#include "store/mvcc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/eventlog.h"
#include "store/keyindex.h"
#include "probe/trace.h"
#include "store/mvcc_priv.h"

/* The probe contract wants op ids unique per process, not per store. */
static uint64_t op_seq;

static struct ms_op_span op_begin(uint32_t op)
{
	uint64_t id = __atomic_add_fetch(&op_seq, 1, __ATOMIC_RELAXED);

	return (struct ms_op_span){ id, ms_trace_storage_begin(id, op, MS_STORAGE_MEMORY) };
}

static uint32_t status_of(int err)
{
	switch (err) {
	case 0:
		return MS_STORAGE_STATUS_OK;
	case -MS_MVCC_ECOMPACTED:
		return MS_STORAGE_STATUS_COMPACTED;
	case -MS_MVCC_EFUTURE:
		return MS_STORAGE_STATUS_FUTURE_REV;
	case -ENOMEM:
		return MS_STORAGE_STATUS_NOMEM;
	default:
		return MS_STORAGE_STATUS_INVALID;
	}
}

static void op_end(struct ms_op_span sp, uint32_t op, uint32_t status)
{
	ms_trace_storage_end(sp.id, op, MS_STORAGE_MEMORY, status, sp.t0);
}

struct ms_mvcc *ms_mvcc_new(uint64_t node_id)
{
	struct ms_mvcc *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ix = ms_keyindex_new(ms_mvcc_ix_seed(s));
	s->ev = ms_eventlog_new();
	if (!s->ix || !s->ev) {
		ms_mvcc_free(s);
		return NULL;
	}
	s->node_id = node_id;
	s->rev = 1;
	s->txn.s = s;
	ms_trace_mvcc_revision(node_id, s->rev);
	return s;
}

void ms_mvcc_free(struct ms_mvcc *s)
{
	if (!s)
		return;
	ms_keyindex_free(s->ix);
	ms_eventlog_free(s->ev);
	free(s);
}

int64_t ms_mvcc_rev(const struct ms_mvcc *s)
{
	return s->rev;
}

size_t ms_mvcc_size(const struct ms_mvcc *s)
{
	return s->bytes;
}

int64_t ms_mvcc_compact_rev(const struct ms_mvcc *s)
{
	return s->compact_rev;
}

static void set_rev(struct ms_mvcc *s, int64_t rev)
{
	s->rev = rev;
	ms_trace_mvcc_revision(s->node_id, rev);
}

/* --- key spans ------------------------------------------------------------------------ */

/* A validated key/end pair (see ms_range_req for the convention). */
struct span {
	const uint8_t *key, *end;
	size_t key_len, end_len;
	bool single; /* just `key` */
	bool open;   /* every key >= key */
};

static int span_init(struct span *sp, const uint8_t *key, size_t key_len, const uint8_t *end,
		     size_t end_len)
{
	if ((key_len && !key) || (end_len && !end) || (!key_len && !end_len))
		return -EINVAL;
	sp->key = key;
	sp->key_len = key_len;
	sp->end = end;
	sp->end_len = end_len;
	sp->single = end_len == 0;
	sp->open = end_len == 1 && end[0] == 0;
	return 0;
}

static struct ms_key *span_first(const struct ms_keyindex *ix, const struct span *sp)
{
	if (sp->single)
		return ms_keyindex_find(ix, sp->key, sp->key_len);
	return ms_keyindex_seek(ix, sp->key, sp->key_len);
}

/* The key after k inside the span, or NULL. */
static struct ms_key *span_next(const struct span *sp, const struct ms_key *k)
{
	struct ms_key *n;

	if (sp->single)
		return NULL;
	n = ms_key_next(k);
	if (!n || sp->open)
		return n;
	return ms_key_cmp(ms_key_bytes(n), n->key_len, sp->end, sp->end_len) < 0 ? n : NULL;
}

/* The first key of the span, or NULL when it is empty (also when end <= key). */
static struct ms_key *span_begin(const struct ms_keyindex *ix, const struct span *sp)
{
	struct ms_key *k = span_first(ix, sp);

	if (!k || sp->single || sp->open)
		return k;
	return ms_key_cmp(ms_key_bytes(k), k->key_len, sp->end, sp->end_len) < 0 ? k : NULL;
}

static inline bool is_live(const struct ms_key_rev *r)
{
	return r && r->version != 0;
}


/* --- range ---------------------------------------------------------------------------- */

struct sort_spec {
	enum ms_sort_target target;
	int sign; /* -1 reverses the order */
};

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int kv_cmp(const void *pa, const void *pb, void *arg)
{
	const struct ms_kv *a = pa, *b = pb;
	const struct sort_spec *sp = arg;
	int c = 0;

	switch (sp->target) {
	case MS_SORT_VERSION:
		c = cmp_i64(a->version, b->version);
		break;
	case MS_SORT_CREATE:
		c = cmp_i64(a->create_rev, b->create_rev);
		break;
	case MS_SORT_MOD:
		c = cmp_i64(a->mod_rev, b->mod_rev);
		break;
	case MS_SORT_VALUE:
		c = ms_key_cmp(a->value, a->value_len, b->value, b->value_len);
		break;
	case MS_SORT_KEY:
		break;
	}
	/* keys are unique, so ties on the target still give one deterministic order */
	if (!c)
		c = ms_key_cmp(a->key, a->key_len, b->key, b->key_len);
	return c * sp->sign;
}

static bool passes_filters(const struct ms_range_req *req, const struct ms_key_rev *r)
{
	if (req->min_mod_rev && r->mod_rev < req->min_mod_rev)
		return false;
	if (req->max_mod_rev && r->mod_rev > req->max_mod_rev)
		return false;
	if (req->min_create_rev && r->create_rev < req->min_create_rev)
		return false;
	if (req->max_create_rev && r->create_rev > req->max_create_rev)
		return false;
	return true;
}

static int push_kv(struct ms_range_res *res, size_t *cap, bool single, const struct ms_key *k,
		   const struct ms_key_rev *r, bool with_value)
{
	if (res->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : single ? 1 : 16;
		struct ms_kv *kvs = realloc(res->kvs, ncap * sizeof(*kvs));

		if (!kvs)
			return -ENOMEM;
		res->kvs = kvs;
		*cap = ncap;
	}
	ms_kv_fill(&res->kvs[res->n++], k, r, with_value);
	return 0;
}

static void reverse_kvs(struct ms_kv *kvs, size_t n)
{
	for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
		struct ms_kv t = kvs[i];

		kvs[i] = kvs[j - 1];
		kvs[j - 1] = t;
	}
}

/*
 * etcd's Range (server/etcdserver/apply.go + mvcc rangeKeys): count is every key alive in
 * the span at the read revision; revision filters, sorting and the limit apply afterwards,
 * and `more` says the limit cut the (filtered) result.
 */
static int range_at(struct ms_mvcc *s, const struct ms_range_req *req, int64_t cur,
		    struct ms_range_res *res)
{
	struct span sp;
	struct sort_spec sort = { req->sort_target, 1 };
	enum ms_sort_order order = req->sort_order;
	size_t limit = req->limit > 0 ? (size_t)req->limit : 0;
	bool filters = req->min_mod_rev || req->max_mod_rev || req->min_create_rev ||
		       req->max_create_rev;
	bool key_order, early_stop, with_value = !req->keys_only;
	size_t cap = 0;
	int64_t rev = req->rev > 0 ? req->rev : cur;
	int err;

	memset(res, 0, sizeof(*res));
	res->rev = cur;
	err = span_init(&sp, req->key, req->key_len, req->end, req->end_len);
	if (err)
		return err;
	if ((unsigned)order > MS_SORT_DESCEND || (unsigned)sort.target > MS_SORT_VALUE)
		return -EINVAL;
	if (rev > cur)
		return -MS_MVCC_EFUTURE;
	if (rev < s->compact_rev)
		return -MS_MVCC_ECOMPACTED;
	if (order == MS_SORT_NONE && sort.target != MS_SORT_KEY)
		order = MS_SORT_ASCEND;
	/* the index already yields key-ascending order */
	key_order = order == MS_SORT_NONE || (order == MS_SORT_ASCEND && sort.target == MS_SORT_KEY);
	early_stop = limit && key_order && !filters;
	for (struct ms_key *k = span_begin(s->ix, &sp); k; k = span_next(&sp, k)) {
		const struct ms_key_rev *r = ms_key_rev_at(k, rev);

		if (!is_live(r))
			continue;
		res->count++;
		if (req->count_only || (filters && !passes_filters(req, r)))
			continue;
		if (early_stop && res->n == limit) {
			res->more = true;
			continue;
		}
		err = push_kv(res, &cap, sp.single, k, r, with_value);
		if (err)
			goto cleanup;
	}
	if (!key_order) {
		sort.sign = order == MS_SORT_DESCEND ? -1 : 1;
		if (sort.target == MS_SORT_KEY)
			reverse_kvs(res->kvs, res->n);
		else if (res->n > 1)
			qsort_r(res->kvs, res->n, sizeof(*res->kvs), kv_cmp, &sort);
	}
	if (limit && res->n > limit) {
		res->n = limit;
		res->more = true;
	}
	if (!res->n) {
		free(res->kvs);
		res->kvs = NULL;
	}
	return 0;
cleanup:
	ms_range_res_release(res);
	return err;
}

void ms_range_res_release(struct ms_range_res *res)
{
	if (!res)
		return;
	free(res->kvs);
	res->kvs = NULL;
	res->n = 0;
}

int ms_mvcc_range(struct ms_mvcc *s, const struct ms_range_req *req, struct ms_range_res *res)
{
	struct ms_op_span sp = op_begin(MS_STORAGE_OP_RANGE);
	int err = range_at(s, req, s->rev, res);

	op_end(sp, MS_STORAGE_OP_RANGE, status_of(err));
	return err;
}

/* --- event log ------------------------------------------------------------------------ */

int ms_mvcc_event_seek(struct ms_mvcc *s, int64_t rev, uint64_t *pos)
{
	if (rev < s->compact_rev)
		return -MS_MVCC_ECOMPACTED;
	*pos = ms_eventlog_seek(s->ev, rev);
	return 0;
}

int64_t ms_mvcc_events(struct ms_mvcc *s, uint64_t *pos, struct ms_event *out, size_t max)
{
	return ms_eventlog_read(s->ev, pos, out, max);
}

/* --- writes --------------------------------------------------------------------------- */

/* Writes key=value at revision `wrev`. Nothing visible changes on failure. */
static int put_at(struct ms_mvcc *s, int64_t wrev, const uint8_t *key, size_t key_len,
		  const uint8_t *value, size_t value_len, int64_t lease, struct ms_kv *prev,
		  bool *had_prev)
{
	struct ms_key *k;
	const struct ms_key_rev *last;
	struct ms_key_rev r = { .mod_rev = wrev, .lease = lease, .value_len = value_len };
	int err;

	if (!key || !key_len || (value_len && !value))
		return -EINVAL;
	/* an index entry left empty by a failure below is invisible and goes at compaction */
	k = ms_keyindex_upsert(s->ix, key, key_len);
	if (!k)
		return -ENOMEM;
	err = ms_key_reserve(k);
	if (!err)
		err = ms_eventlog_reserve(s->ev, 1);
	if (err)
		return err;
	if (value_len) {
		r.value = malloc(value_len);
		if (!r.value)
			return -ENOMEM;
		memcpy(r.value, value, value_len);
	}
	last = ms_key_latest(k);
	if (is_live(last)) {
		r.create_rev = last->create_rev;
		r.version = last->version + 1;
		if (prev)
			ms_kv_fill(prev, k, last, true);
	} else {
		r.create_rev = wrev;
		r.version = 1;
	}
	if (had_prev)
		*had_prev = is_live(last);
	ms_key_append(k, &r); /* reserved above: cannot fail */
	ms_eventlog_push(s->ev, k, wrev);
	s->bytes += key_len + value_len + MS_MVCC_REV_BYTES;
	return 0;
}

/*
 * Tombstones every key alive in the span at revision `wrev`. Room for every tombstone and
 * for prevs is made first, so a failure leaves the store untouched.
 */
static int delete_at(struct ms_mvcc *s, int64_t wrev, const uint8_t *key, size_t key_len,
		     const uint8_t *end, size_t end_len, int64_t *deleted, struct ms_kv **prevs)
{
	static const struct ms_key_rev tomb_init;
	struct span sp;
	struct ms_kv *out = NULL;
	size_t n = 0, i = 0;
	int err;

	if (deleted)
		*deleted = 0;
	if (prevs)
		*prevs = NULL;
	err = span_init(&sp, key, key_len, end, end_len);
	if (err)
		return err;
	for (struct ms_key *k = span_begin(s->ix, &sp); k; k = span_next(&sp, k)) {
		if (!is_live(ms_key_latest(k)))
			continue;
		err = ms_key_reserve(k);
		if (err)
			return err;
		n++;
	}
	if (!n)
		return 0;
	err = ms_eventlog_reserve(s->ev, n);
	if (err)
		return err;
	if (prevs) {
		out = malloc(n * sizeof(*out));
		if (!out)
			return -ENOMEM;
	}
	for (struct ms_key *k = span_begin(s->ix, &sp); k; k = span_next(&sp, k)) {
		const struct ms_key_rev *last = ms_key_latest(k);
		struct ms_key_rev tomb = tomb_init;

		if (!is_live(last))
			continue;
		if (out)
			ms_kv_fill(&out[i], k, last, true);
		i++;
		tomb.mod_rev = wrev;
		ms_key_append(k, &tomb); /* reserved above: cannot fail */
		ms_eventlog_push(s->ev, k, wrev);
		s->bytes += k->key_len + MS_MVCC_REV_BYTES;
	}
	if (deleted)
		*deleted = (int64_t)n;
	if (prevs)
		*prevs = out;
	return 0;
}

int ms_mvcc_put(struct ms_mvcc *s, const uint8_t *key, size_t key_len, const uint8_t *value,
		size_t value_len, int64_t lease, struct ms_kv *prev, bool *had_prev, int64_t *rev_out)
{
	struct ms_op_span sp = op_begin(MS_STORAGE_OP_PUT);
	int err = -EBUSY;

	if (!s->txn.open)
		err = put_at(s, s->rev + 1, key, key_len, value, value_len, lease, prev, had_prev);
	if (!err)
		set_rev(s, s->rev + 1);
	if (rev_out)
		*rev_out = s->rev;
	op_end(sp, MS_STORAGE_OP_PUT, status_of(err));
	return err;
}

int ms_mvcc_delete(struct ms_mvcc *s, const uint8_t *key, size_t key_len, const uint8_t *end,
		   size_t end_len, int64_t *deleted, struct ms_kv **prevs, int64_t *rev_out)
{
	struct ms_op_span sp = op_begin(MS_STORAGE_OP_DELETE);
	int64_t n = 0;
	int err = -EBUSY;

	if (!s->txn.open)
		err = delete_at(s, s->rev + 1, key, key_len, end, end_len, &n, prevs);
	if (!err && n)
		set_rev(s, s->rev + 1);
	if (deleted)
		*deleted = n;
	if (rev_out)
		*rev_out = s->rev;
	op_end(sp, MS_STORAGE_OP_DELETE, status_of(err));
	return err;
}

int ms_mvcc_compact(struct ms_mvcc *s, int64_t rev)
{
	struct ms_op_span sp = op_begin(MS_STORAGE_OP_COMPACT);
	int err = 0;

	if (s->txn.open)
		err = -EBUSY;
	else if (rev <= s->compact_rev)
		err = -MS_MVCC_ECOMPACTED;
	else if (rev > s->rev)
		err = -MS_MVCC_EFUTURE;
	if (!err) {
		ms_eventlog_compact(s->ev, rev);
		ms_keyindex_compact(s->ix, rev);
		s->bytes = ms_keyindex_bytes(s->ix, MS_MVCC_REV_BYTES);
		s->compact_rev = rev;
		ms_trace_mvcc_compact(s->node_id, rev);
	}
	op_end(sp, MS_STORAGE_OP_COMPACT, status_of(err));
	return err;
}

bool ms_mvcc_get(struct ms_mvcc *s, const uint8_t *key, size_t key_len, struct ms_kv *kv)
{
	struct ms_key *k = key_len ? ms_keyindex_find(s->ix, key, key_len) : NULL;
	const struct ms_key_rev *r = k ? ms_key_latest(k) : NULL;

	if (!is_live(r))
		return false;
	ms_kv_fill(kv, k, r, true);
	return true;
}

/* --- transactions --------------------------------------------------------------------- */

struct ms_mvcc_txn *ms_mvcc_txn_begin(struct ms_mvcc *s)
{
	struct ms_mvcc_txn *t = &s->txn;

	if (t->open)
		return NULL;
	t->open = true;
	t->wrote = false;
	t->status = MS_STORAGE_STATUS_OK;
	t->rev = s->rev + 1;
	t->op = op_begin(MS_STORAGE_OP_TXN);
	return t;
}

static int txn_note(struct ms_mvcc_txn *t, int err)
{
	if (err && t->status == MS_STORAGE_STATUS_OK)
		t->status = status_of(err);
	return err;
}

int ms_mvcc_txn_range(struct ms_mvcc_txn *t, const struct ms_range_req *req,
		      struct ms_range_res *res)
{
	if (!t || !t->open) {
		memset(res, 0, sizeof(*res));
		return -EINVAL;
	}
	return txn_note(t, range_at(t->s, req, t->wrote ? t->rev : t->s->rev, res));
}

int ms_mvcc_txn_put(struct ms_mvcc_txn *t, const uint8_t *key, size_t key_len,
		    const uint8_t *value, size_t value_len, int64_t lease, struct ms_kv *prev,
		    bool *had_prev)
{
	int err;

	if (!t || !t->open)
		return -EINVAL;
	err = put_at(t->s, t->rev, key, key_len, value, value_len, lease, prev, had_prev);
	if (!err)
		t->wrote = true;
	return txn_note(t, err);
}

int ms_mvcc_txn_delete(struct ms_mvcc_txn *t, const uint8_t *key, size_t key_len,
		       const uint8_t *end, size_t end_len, int64_t *deleted, struct ms_kv **prevs)
{
	int64_t n = 0;
	int err;

	if (!t || !t->open)
		return -EINVAL;
	err = delete_at(t->s, t->rev, key, key_len, end, end_len, &n, prevs);
	if (n)
		t->wrote = true;
	if (deleted)
		*deleted = n;
	return txn_note(t, err);
}

int64_t ms_mvcc_txn_end(struct ms_mvcc_txn *t)
{
	struct ms_mvcc *s;

	if (!t || !t->open)
		return -EINVAL;
	s = t->s;
	if (t->wrote)
		set_rev(s, t->rev);
	t->open = false;
	op_end(t->op, MS_STORAGE_OP_TXN, t->status);
	return s->rev;
}
