/* Fault suite: unary-call workloads (unique-key writers, registers) and their client helper. */
#include "fwork.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fcluster.h"
#include "fwgl.h"
#include "rpc.pb-c.h"

#define PATH_PUT "/etcdserverpb.KV/Put"
#define PATH_RANGE "/etcdserverpb.KV/Range"
#define PATH_TXN "/etcdserverpb.KV/Txn"
/* Pause between register ops: keeps each register's history small enough to search. */
#define REGISTER_PACE_MS 60
#define WRITER_PACE_MS 10

void fwork_client_init(struct fwork_client *c, struct fault_run *r, int id)
{
	memset(c, 0, sizeof(*c));
	c->r = r;
	c->id = id;
	c->member = id % FAULT_MEMBERS;
	c->rng = r->seed * 2654435761ULL + (uint64_t)id * 40503ULL + 1;
	frpc_init(&c->conn, r->cl->m[c->member].host, r->cl->m[c->member].cport);
}

int fwork_call(struct fwork_client *c, const char *path, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	int err = frpc_call(&c->conn, path, req, desc, FWORK_TIMEOUT_MS, out);

	atomic_fetch_add(&c->r->ops, 1);
	if (err) {
		struct fcl_member *m;

		frpc_close(&c->conn);
		c->member = (c->member + 1) % FAULT_MEMBERS;
		m = &c->r->cl->m[c->member];
		frpc_init(&c->conn, m->host, m->cport);
		poll(NULL, 0, 50); /* pacing after a failure, not a wait for a condition */
	}
	return err;
}

int64_t fwork_value(const uint8_t *data, size_t len)
{
	int64_t v = 0;

	if (len == 0 || len > 18)
		return len ? -1 : 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] < '0' || data[i] > '9')
			return -1;
		v = v * 10 + (data[i] - '0');
	}
	return v;
}

void fwork_register_key(int reg, char *buf, size_t len)
{
	snprintf(buf, len, FAULT_PREFIX "r/%d/%d", reg / FWORK_REGISTERS, reg % FWORK_REGISTERS);
}

static void push_rev(struct fault_run *r, int client, const Etcdserverpb__ResponseHeader *h,
		     bool write)
{
	struct fault_rev rv = { .client = client, .rev = h ? h->revision : 0, .write = write };

	if (h)
		fault_term(r, h->raft_term);
	fault_push(r, &r->revs, &rv);
}

int fwork_put(struct fwork_client *c, const char *key, int64_t value, int64_t lease,
		  int64_t *rev)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutResponse *resp;
	char v[24];
	int err;

	snprintf(v, sizeof(v), "%" PRId64, value);
	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	req.value.data = (uint8_t *)v;
	req.value.len = strlen(v);
	req.lease = lease;
	err = fwork_call(c, PATH_PUT, &req.base, &etcdserverpb__put_response__descriptor,
			 (ProtobufCMessage **)&resp);
	if (err)
		return err;
	*rev = resp->header ? resp->header->revision : 0;
	push_rev(c->r, c->id, resp->header, true);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

void *fwork_writer(void *arg)
{
	struct fwork_client *c = arg;
	struct fault_put p;
	int64_t seq = 0;

	while (!atomic_load(&c->r->stop_work)) {
		seq++;
		memset(&p, 0, sizeof(p));
		snprintf(p.key, sizeof(p.key), FAULT_PREFIX "w/%d/%" PRId64, c->id, seq);
		p.value_id = (int64_t)c->id * 1000000000LL + seq;
		if (fwork_put(c, p.key, p.value_id, 0, &p.rev))
			p.rev = 0; /* maybe: not checked, but allowed to be there */
		fault_push(c->r, &c->r->puts, &p);
		poll(NULL, 0, WRITER_PACE_MS);
	}
	frpc_close(&c->conn);
	return NULL;
}

/* Linearizable read of register key into op->value (-1 when the key is absent). */
static int reg_read(struct fwork_client *c, const char *key, struct fwgl_op *op)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *resp;
	int err;

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	err = fwork_call(c, PATH_RANGE, &req.base, &etcdserverpb__range_response__descriptor,
			 (ProtobufCMessage **)&resp);
	if (err)
		return err;
	op->value = resp->n_kvs ? fwork_value(resp->kvs[0]->value.data, resp->kvs[0]->value.len)
				: 0;
	push_rev(c->r, c->id, resp->header, false);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

/* Txn: if value == expect then put value else range. Fills op->ok / op->seen. */
static int reg_cas(struct fwork_client *c, const char *key, struct fwgl_op *op)
{
	Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT, *cmps[1] = { &cmp };
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__RangeRequest rng = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp sop = ETCDSERVERPB__REQUEST_OP__INIT, *sops[1] = { &sop };
	Etcdserverpb__RequestOp fop = ETCDSERVERPB__REQUEST_OP__INIT, *fops[1] = { &fop };
	Etcdserverpb__TxnResponse *resp;
	char ev[24], nv[24];
	int err;

	snprintf(ev, sizeof(ev), "%" PRId64, op->expect);
	snprintf(nv, sizeof(nv), "%" PRId64, op->value);
	cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
	cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
	cmp.key.data = (uint8_t *)key;
	cmp.key.len = strlen(key);
	cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
	cmp.value.data = (uint8_t *)ev;
	cmp.value.len = strlen(ev);
	put.key = cmp.key;
	put.value.data = (uint8_t *)nv;
	put.value.len = strlen(nv);
	rng.key = cmp.key;
	sop.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	sop.request_put = &put;
	fop.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	fop.request_range = &rng;
	req.n_compare = 1;
	req.compare = cmps;
	req.n_success = 1;
	req.success = sops;
	req.n_failure = 1;
	req.failure = fops;
	err = fwork_call(c, PATH_TXN, &req.base, &etcdserverpb__txn_response__descriptor,
			 (ProtobufCMessage **)&resp);
	if (err)
		return err;
	op->ok = resp->succeeded;
	if (!resp->succeeded) {
		Etcdserverpb__ResponseOp *ro = resp->n_responses ? resp->responses[0] : NULL;
		Etcdserverpb__RangeResponse *rr = ro && ro->response_case ==
				ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE ? ro->response_range : NULL;

		if (!rr) {
			fault_anomaly(c->r, "txn on %s answered succeeded=false with %zu responses "
				      "(its else branch has one Range)", key, resp->n_responses);
			op->maybe = true;
		} else {
			op->seen = rr->n_kvs ? fwork_value(rr->kvs[0]->value.data,
							   rr->kvs[0]->value.len) : 0;
		}
	}
	push_rev(c->r, c->id, resp->header, resp->succeeded);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

void *fwork_register(void *arg)
{
	struct fwork_client *c = arg;
	int64_t seq = 0, last[FWORK_REGISTERS] = { 0 };
	uint64_t epoch = 0;
	char key[32];

	while (!atomic_load(&c->r->stop_work)) {
		struct fwgl_op op = { .client = c->id };
		uint64_t dice = fault_rand(&c->rng) % 10, e = (fault_now() - c->r->t0) / FWORK_EPOCH_NS;
		int err;

		if (e != epoch) {
			epoch = e;
			memset(last, 0, sizeof(last));
		}
		op.reg = (int)(epoch * FWORK_REGISTERS + fault_rand(&c->rng) % FWORK_REGISTERS);
		fwork_register_key(op.reg, key, sizeof(key));
		op.kind = dice < 4 ? FWGL_READ : dice < 7 ? FWGL_WRITE : FWGL_CAS;
		/* etcd fails any value compare on a missing key: no cas before a value was seen. */
		if (op.kind == FWGL_CAS && !last[op.reg % FWORK_REGISTERS])
			op.kind = FWGL_WRITE;
		op.value = (int64_t)c->id * 1000000000LL + ++seq;
		op.expect = last[op.reg % FWORK_REGISTERS];
		op.call = fault_now();
		if (op.kind == FWGL_READ)
			err = reg_read(c, key, &op);
		else if (op.kind == FWGL_WRITE)
			err = fwork_put(c, key, op.value, 0, &(int64_t){ 0 });
		else
			err = reg_cas(c, key, &op);
		op.ret = fault_now();
		if (err && op.kind == FWGL_READ)
			continue; /* a read that failed had no effect */
		if (err)
			op.maybe = true;
		else if (op.kind == FWGL_READ || op.kind == FWGL_WRITE || op.ok)
			last[op.reg % FWORK_REGISTERS] = op.value;
		else if (!op.maybe)
			last[op.reg % FWORK_REGISTERS] = op.seen;
		fault_push(c->r, &c->r->regs, &op);
		poll(NULL, 0, REGISTER_PACE_MS);
	}
	frpc_close(&c->conn);
	return NULL;
}
