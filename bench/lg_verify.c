/* Benchmark load generator: checks that a Put or Range response says what it should. */
#include "lg_verify.h"

#include "rpc.pb-c.h"

bool lg_verify_response(bool put, const uint8_t *body, size_t len, size_t value_size)
{
	size_t n;
	bool ok;

	if (!body || len < 5 || body[0] != 0)
		return false;
	n = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | body[4];
	if (n != len - 5)
		return false;
	if (put) {
		Etcdserverpb__PutResponse *r = etcdserverpb__put_response__unpack(NULL, n, body + 5);

		ok = r && r->header && r->header->revision > 0;
		etcdserverpb__put_response__free_unpacked(r, NULL);
		return ok;
	}
	Etcdserverpb__RangeResponse *r = etcdserverpb__range_response__unpack(NULL, n, body + 5);

	ok = r && r->header && r->n_kvs == 1 && r->count == 1 &&
	     r->kvs[0]->value.len == value_size;
	etcdserverpb__range_response__free_unpacked(r, NULL);
	return ok;
}
