/* Watch events packed once for every watcher that sends them, and WatchResponses built from those bytes. */
#include "api/watch_pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply/kv_pb.h"
#include "rpc/grpc.h"

/* Slots, by log position: more than the events one apply step sends to its watchers. */
#define PACK_SLOTS 64
/* WatchResponse.events = 11, length-delimited. */
#define EVENTS_TAG ((11u << 3) | 2u)

struct pack_slot {
	bool used, with_prev;
	uint64_t pos;
	int64_t mod_rev;
	struct ms_buf key;   /* the event's key, so that a hit is the same event */
	struct ms_buf bytes; /* the packed mvccpb.Event */
};

struct watch_pack {
	struct pack_slot slot[PACK_SLOTS];
};

struct watch_pack *watch_pack_new(void)
{
	return calloc(1, sizeof(struct watch_pack));
}

void watch_pack_free(struct watch_pack *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < PACK_SLOTS; i++) {
		ms_buf_free(&p->slot[i].key);
		ms_buf_free(&p->slot[i].bytes);
	}
	free(p);
}

static bool slot_holds(const struct pack_slot *s, uint64_t pos, const struct ms_event *ev,
		       bool with_prev)
{
	return s->used && s->pos == pos && s->mod_rev == ev->kv.mod_rev &&
	       s->with_prev == with_prev && s->key.len == ev->kv.key_len &&
	       (!s->key.len || memcmp(s->key.data, ev->kv.key, s->key.len) == 0);
}

/* Packs ev into slot s. Returns 0 or -ENOMEM (s then unused). */
static int slot_fill(struct pack_slot *s, uint64_t pos, const struct ms_event *ev,
		     bool with_prev)
{
	Mvccpb__Event e = MVCCPB__EVENT__INIT;
	Mvccpb__KeyValue kv, prev;
	size_t n;

	s->used = false;
	s->key.len = s->bytes.len = 0;
	e.type = ev->is_delete ? MVCCPB__EVENT__EVENT_TYPE__DELETE : MVCCPB__EVENT__EVENT_TYPE__PUT;
	kv_pb_kv_fill(&kv, &ev->kv);
	e.kv = &kv;
	if (with_prev) {
		kv_pb_kv_fill(&prev, &ev->prev);
		e.prev_kv = &prev;
	}
	n = mvccpb__event__get_packed_size(&e);
	if (ms_buf_append(&s->key, ev->kv.key, ev->kv.key_len) ||
	    ms_buf_append(&s->bytes, NULL, n))
		return -ENOMEM;
	mvccpb__event__pack(&e, s->bytes.data);
	s->used = true;
	s->with_prev = with_prev;
	s->pos = pos;
	s->mod_rev = ev->kv.mod_rev;
	return 0;
}


/* Writes v as a protobuf varint at p; returns its length. */
static size_t varint_at(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* Appends v as a protobuf varint. */
static int put_varint(struct ms_buf *out, uint64_t v)
{
	uint8_t b[10];

	return ms_buf_append(out, b, varint_at(b, v));
}

int watch_pack_event(struct watch_pack *p, uint64_t pos, const struct ms_event *ev,
		     bool with_prev, struct ms_buf *out)
{
	struct pack_slot *s = &p->slot[pos % PACK_SLOTS];
	size_t len0 = out->len;

	if (!slot_holds(s, pos, ev, with_prev) && slot_fill(s, pos, ev, with_prev))
		return -ENOMEM;
	if (put_varint(out, EVENTS_TAG) || put_varint(out, s->bytes.len) ||
	    ms_buf_append(out, s->bytes.data, s->bytes.len)) {
		out->len = len0;
		return -ENOMEM;
	}
	return 0;
}

/* A varint field (tag of field f, then v) at p unless v is 0, as proto3 packs it. */
static size_t field_at(uint8_t *p, unsigned f, uint64_t v)
{
	size_t n;

	if (!v)
		return 0;
	n = varint_at(p, (uint64_t)f << 3);
	return n + varint_at(p + n, v);
}

/*
 * The usual event response, a header and a watch id and nothing else, packed by hand as
 * protobuf-c would (fields in number order, zero scalars left out): protobuf-c's
 * reflection costs more than the rest of a small response. Returns its length in p
 * (room for 64 bytes), or 0 when r holds anything else.
 */
static size_t pack_event_prefix(const Etcdserverpb__WatchResponse *r, uint8_t *p)
{
	const Etcdserverpb__ResponseHeader *h = r->header;
	uint8_t hb[44];
	size_t hn = 0, n = 0;

	if (!h || r->created || r->canceled || r->compact_revision || r->fragment ||
	    (r->cancel_reason && r->cancel_reason[0]) || h->base.n_unknown_fields ||
	    r->base.n_unknown_fields)
		return 0;
	hn += field_at(hb + hn, 1, h->cluster_id);
	hn += field_at(hb + hn, 2, h->member_id);
	hn += field_at(hb + hn, 3, (uint64_t)h->revision);
	hn += field_at(hb + hn, 4, h->raft_term);
	if (hn > sizeof(hb)) /* cannot be (4 fields of at most 11 bytes); a bound for gcc */
		return 0;
	p[n++] = (1u << 3) | 2u;
	p[n++] = (uint8_t)hn; /* below 128: a one-byte varint */
	memcpy(p + n, hb, hn);
	n += hn;
	n += field_at(p + n, 2, (uint64_t)r->watch_id);
	return n;
}

int watch_pack_response(const Etcdserverpb__WatchResponse *r, const struct ms_buf *events,
			struct ms_buf *out)
{
	uint8_t prefix[64];
	size_t fast = r->n_events ? 0 : pack_event_prefix(r, prefix);
	size_t n = fast ? fast : etcdserverpb__watch_response__get_packed_size(r);
	size_t total = n + events->len;

	if (r->n_events)
		return -EINVAL;
	if (total > UINT32_MAX)
		return -EMSGSIZE;
	out->len = 0;
	if (ms_buf_append(out, NULL, GRPC_FRAME_HDR + total))
		return -ENOMEM;
	grpc_frame_header(out->data, (uint32_t)total);
	if (fast)
		memcpy(out->data + GRPC_FRAME_HDR, prefix, fast);
	else
		etcdserverpb__watch_response__pack(r, out->data + GRPC_FRAME_HDR);
	if (events->len)
		memcpy(out->data + GRPC_FRAME_HDR + n, events->data, events->len);
	return 0;
}
