/* Benchmark load generator: checks that each response says what it should. */
#include "lg_verify.h"

#include "rpc.pb-c.h"

const uint8_t *lg_unframe(const uint8_t *body, size_t len, size_t *n)
{
	if (!body || len < 5 || body[0] != 0)
		return NULL;
	*n = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | body[4];
	return *n == len - 5 ? body + 5 : NULL;
}

void lg_fill_value(uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)('a' + i % 26);
}

bool lg_verify_put(const uint8_t *body, size_t len)
{
	size_t n;
	const uint8_t *m = lg_unframe(body, len, &n);
	Etcdserverpb__PutResponse *r = m ? etcdserverpb__put_response__unpack(NULL, n, m) : NULL;
	bool ok = r && r->header && r->header->revision > 0;

	etcdserverpb__put_response__free_unpacked(r, NULL);
	return ok;
}

bool lg_verify_range(const uint8_t *body, size_t len, size_t value_size)
{
	size_t n;
	const uint8_t *m = lg_unframe(body, len, &n);
	Etcdserverpb__RangeResponse *r = m ? etcdserverpb__range_response__unpack(NULL, n, m)
					   : NULL;
	bool ok = r && r->header && r->n_kvs == 1 && r->count == 1 &&
		  r->kvs[0]->value.len == value_size;

	etcdserverpb__range_response__free_unpacked(r, NULL);
	return ok;
}

bool lg_verify_txn_put(const uint8_t *body, size_t len, unsigned ops)
{
	size_t n;
	const uint8_t *m = lg_unframe(body, len, &n);
	Etcdserverpb__TxnResponse *r = m ? etcdserverpb__txn_response__unpack(NULL, n, m) : NULL;
	bool ok = r && r->header && r->header->revision > 0 && r->succeeded &&
		  r->n_responses == ops;

	for (size_t i = 0; ok && i < r->n_responses; i++)
		ok = r->responses[i]->response_case ==
			     ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT &&
		     r->responses[i]->response_put;
	etcdserverpb__txn_response__free_unpacked(r, NULL);
	return ok;
}

bool lg_verify_grant(const uint8_t *body, size_t len, int64_t ttl, int64_t *id)
{
	size_t n;
	const uint8_t *m = lg_unframe(body, len, &n);
	Etcdserverpb__LeaseGrantResponse *r =
		m ? etcdserverpb__lease_grant_response__unpack(NULL, n, m) : NULL;
	bool ok = r && r->header && r->id != 0 && r->ttl == ttl && !(r->error && r->error[0]);

	if (ok)
		*id = r->id;
	etcdserverpb__lease_grant_response__free_unpacked(r, NULL);
	return ok;
}

bool lg_verify_keepalive(const uint8_t *msg, size_t len, int64_t id)
{
	Etcdserverpb__LeaseKeepAliveResponse *r =
		etcdserverpb__lease_keep_alive_response__unpack(NULL, len, msg);
	bool ok = r && r->header && r->id == id && r->ttl > 0;

	etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
	return ok;
}
