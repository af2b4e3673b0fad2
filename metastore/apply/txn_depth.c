/* How deep TxnRequests nest, read from the wire before protobuf-c unpacks (recursively) them. */
#include "apply/txn_depth.h"

#include <stdbool.h>

/* TxnRequest.success / .failure (RequestOp), RequestOp.request_txn (TxnRequest). */
#define TXN_FIELD_SUCCESS 2
#define TXN_FIELD_FAILURE 3
#define OP_FIELD_TXN 4

static bool get_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	int shift = 0;

	*v = 0;
	do {
		if (*i >= len || shift > 63)
			return false;
		*v |= (uint64_t)(p[*i] & 0x7f) << shift;
		shift += 7;
	} while (p[(*i)++] & 0x80);
	return true;
}

/* The largest fn result over the length-delimited fields `want` of the message (0 if it has
 * none), a result > max as soon as one is, or -1 if the message is malformed. */
static int each_field(const uint8_t *p, size_t len, uint32_t want,
		      int (*fn)(const uint8_t *sub, size_t n, int depth, int max), int depth,
		      int max)
{
	size_t i = 0;
	int deepest = 0;

	while (i < len) {
		uint64_t key, n;

		if (!get_varint(p, len, &i, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (!get_varint(p, len, &i, &n))
				return -1;
			break;
		case 1:
			if (len - i < 8)
				return -1;
			i += 8;
			break;
		case 5:
			if (len - i < 4)
				return -1;
			i += 4;
			break;
		case 2:
			if (!get_varint(p, len, &i, &n) || n > len - i)
				return -1;
			if ((key >> 3) == want) {
				int d = fn(p + i, (size_t)n, depth, max);

				if (d < 0 || d > max)
					return d;
				if (d > deepest)
					deepest = d;
			}
			i += (size_t)n;
			break;
		default:
			return -1;
		}
	}
	return deepest;
}

static int txn_at(const uint8_t *p, size_t n, int depth, int max);

/* A RequestOp at txn depth `depth`: its request_txn nests one deeper (0: it holds none). */
static int op_at(const uint8_t *p, size_t n, int depth, int max)
{
	return each_field(p, n, OP_FIELD_TXN, txn_at, depth + 1, max);
}

static int txn_at(const uint8_t *p, size_t n, int depth, int max)
{
	int a, b;

	if (depth > max)
		return depth;
	a = each_field(p, n, TXN_FIELD_SUCCESS, op_at, depth, max);
	if (a < 0 || a > max)
		return a;
	b = each_field(p, n, TXN_FIELD_FAILURE, op_at, depth, max);
	if (b < 0 || b > max)
		return b;
	if (a < b)
		a = b;
	return a > depth ? a : depth;
}

int ms_txn_depth(const uint8_t *msg, size_t len, int max)
{
	return txn_at(msg, len, 1, max);
}

static int top_txn(const uint8_t *p, size_t n, int depth, int max)
{
	(void)depth;
	return ms_txn_depth(p, n, max);
}

int ms_txn_depth_in(const uint8_t *msg, size_t len, uint32_t field, int max)
{
	return each_field(msg, len, field, top_txn, 0, max);
}
