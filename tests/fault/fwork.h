/* Fault suite: unary-call workloads (unique-key writers, registers) and their client helper. */
#ifndef FWORK_H
#define FWORK_H

#include <pthread.h>

#include "fault.h"
#include "frpc.h"

#define FWORK_TIMEOUT_MS 2000
#define FWORK_REGISTERS 3
/* Registers get new keys every epoch, so that each key's history stays small enough for
 * the linearizability search in long runs. */
#define FWORK_EPOCH_NS (30ULL * 1000000000ULL)

/* One client: a thread-owned connection that moves to the next member after an error. */
struct fwork_client {
	struct fault_run *r;
	int id;
	int member;
	uint64_t rng;
	struct frpc_conn conn;
	pthread_t th;
};

/* Sets up client id starting on member id % FAULT_MEMBERS, its RNG from the run's seed. */
void fwork_client_init(struct fwork_client *c, struct fault_run *r, int id);

/* frpc_call on the client's current member; any failure moves it to the next member
 * (after a short pause, so a refused connection does not spin). Counts one op.
 * Returns what frpc_call returns. */
int fwork_call(struct fwork_client *c, const char *path, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);

/* Put key=value (decimal) with lease (0: none); *rev gets the acknowledged revision, also
 * recorded as the client's write. Returns fwork_call's result. */
int fwork_put(struct fwork_client *c, const char *key, int64_t value, int64_t lease,
	      int64_t *rev);

/* Decimal value of a stored value (0 when empty, -1 when not a number). */
int64_t fwork_value(const uint8_t *data, size_t len);

/* Thread bodies (arg: struct fwork_client *); they end when r->stop_work is set. */
void *fwork_writer(void *arg);
void *fwork_register(void *arg);

/* The key of register number reg (epoch * FWORK_REGISTERS + index; a missing key reads
 * as value 0) into buf. */
void fwork_register_key(int reg, char *buf, size_t len);

#endif /* FWORK_H */
