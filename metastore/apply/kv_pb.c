/* Building etcd protobuf messages from store data: allocation arena, kvs, ranges, errors. */
#include "apply/kv_pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KV_PB_ALIGN 16

struct kv_pb_blk {
	struct kv_pb_blk *next;
	size_t size; /* bytes in data */
	_Alignas(KV_PB_ALIGN) unsigned char data[];
};

/* The first block's bytes: the whole block stays within glibc's per-thread cache of small
 * chunks (up to 1032 bytes), which a put's entry and response fit. */
#define KV_PB_BLK (1024 - sizeof(struct kv_pb_blk))

void *kv_pb_alloc(struct kv_pb_arena *a, size_t size)
{
	size_t need = (size + KV_PB_ALIGN - 1) & ~(size_t)(KV_PB_ALIGN - 1);
	struct kv_pb_blk *b;
	void *p;

	if (!need)
		need = KV_PB_ALIGN;
	if (need > a->left) {
		/* Blocks double, so a big response needs few of them. */
		size_t bs = a->blks ? a->blks->size * 2 : KV_PB_BLK;

		if (bs < need)
			bs = need;
		b = malloc(sizeof(*b) + bs);
		if (!b) {
			a->failed = true;
			return NULL;
		}
		b->next = a->blks;
		b->size = bs;
		a->blks = b;
		a->left = bs;
	}
	p = a->blks->data + (a->blks->size - a->left);
	a->left -= need;
	memset(p, 0, size);
	return p;
}

void kv_pb_arena_free(struct kv_pb_arena *a)
{
	while (a->blks) {
		struct kv_pb_blk *b = a->blks;

		a->blks = b->next;
		free(b);
	}
	a->left = 0;
	a->failed = false;
}

static void *allocator_alloc(void *data, size_t size)
{
	return kv_pb_alloc(data, size);
}

static void allocator_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

ProtobufCAllocator kv_pb_allocator(struct kv_pb_arena *a)
{
	return (ProtobufCAllocator){ .alloc = allocator_alloc, .free = allocator_free,
				     .allocator_data = a };
}

struct kv_pb_err kv_pb_mvcc_err(int err)
{
	switch (err) {
	case -MS_MVCC_ECOMPACTED:
		return (struct kv_pb_err){ MS_GRPC_OUT_OF_RANGE, ERR_COMPACTED };
	case -MS_MVCC_EFUTURE:
		return (struct kv_pb_err){ MS_GRPC_OUT_OF_RANGE, ERR_FUTURE_REV };
	case -EINVAL:
		return (struct kv_pb_err){ MS_GRPC_INVALID_ARGUMENT, ERR_EMPTY_KEY };
	default:
		return (struct kv_pb_err){ MS_GRPC_INTERNAL, NULL };
	}
}

Etcdserverpb__ResponseHeader *kv_pb_rev_header(struct kv_pb_arena *a, int64_t rev)
{
	Etcdserverpb__ResponseHeader *h = kv_pb_alloc(a, sizeof(*h));

	if (!h)
		return NULL;
	etcdserverpb__response_header__init(h);
	h->revision = rev;
	return h;
}

/* kv pointers are borrowed from the store: the response is packed before the next write. */
void kv_pb_kv_fill(Mvccpb__KeyValue *p, const struct ms_kv *kv)
{
	mvccpb__key_value__init(p);
	p->key.data = (uint8_t *)kv->key;
	p->key.len = kv->key_len;
	p->value.data = (uint8_t *)kv->value;
	p->value.len = kv->value_len;
	p->create_revision = kv->create_rev;
	p->mod_revision = kv->mod_rev;
	p->version = kv->version;
	p->lease = kv->lease;
}

Mvccpb__KeyValue *kv_pb_kv(struct kv_pb_arena *a, const struct ms_kv *kv)
{
	Mvccpb__KeyValue *p = kv_pb_alloc(a, sizeof(*p));

	if (p)
		kv_pb_kv_fill(p, kv);
	return p;
}

Mvccpb__KeyValue *kv_pb_kv_copy(struct kv_pb_arena *a, const struct ms_kv *kv)
{
	Mvccpb__KeyValue *p = kv_pb_kv(a, kv);
	uint8_t *k = kv_pb_alloc(a, kv->key_len);
	uint8_t *v = kv_pb_alloc(a, kv->value_len);

	if (!p || !k || !v)
		return NULL;
	memcpy(k, kv->key, kv->key_len);
	if (kv->value_len)
		memcpy(v, kv->value, kv->value_len);
	p->key.data = k;
	p->value.data = v;
	return p;
}

Mvccpb__KeyValue **kv_pb_kvs(struct kv_pb_arena *a, const struct ms_kv *kvs, size_t n)
{
	Mvccpb__KeyValue **arr = kv_pb_alloc(a, n * sizeof(*arr));

	for (size_t i = 0; arr && i < n; i++)
		arr[i] = kv_pb_kv(a, &kvs[i]);
	return arr;
}

void kv_pb_range_req(const Etcdserverpb__RangeRequest *r, struct ms_range_req *q)
{
	memset(q, 0, sizeof(*q));
	q->key = r->key.data;
	q->key_len = r->key.len;
	q->end = r->range_end.data;
	q->end_len = r->range_end.len;
	q->rev = r->revision;
	q->limit = r->limit;
	q->sort_order = (enum ms_sort_order)r->sort_order;
	q->sort_target = (enum ms_sort_target)r->sort_target;
	q->keys_only = r->keys_only;
	q->count_only = r->count_only;
	q->min_mod_rev = r->min_mod_revision;
	q->max_mod_rev = r->max_mod_revision;
	q->min_create_rev = r->min_create_revision;
	q->max_create_rev = r->max_create_revision;
}

/* Fills a RangeResponse from a result; the result must stay alive until packing. */
void kv_pb_range_resp(struct kv_pb_arena *a, Etcdserverpb__RangeResponse *resp,
			    const struct ms_range_res *res)
{
	resp->kvs = kv_pb_kvs(a, res->kvs, res->n);
	resp->n_kvs = resp->kvs ? res->n : 0;
	resp->count = res->count;
	resp->more = res->more;
}


int kv_pb_bin_cmp(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->data, b->data, n) : 0;

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

