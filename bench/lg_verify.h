/* Benchmark load generator: checks that each response says what it should. */
#ifndef BENCH_LG_VERIFY_H
#define BENCH_LG_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * body/len in the lg_verify_* calls that take a body: a whole unary gRPC response body
 * (5-byte frame header + message); true only when it is one uncompressed message that
 * decodes as the response named and says what the call asked for.
 */

/* A PutResponse with a header and a revision > 0. */
bool lg_verify_put(const uint8_t *body, size_t len);

/* A RangeResponse holding exactly one key whose value is value_size bytes (every key was
 * put before the load). */
bool lg_verify_range(const uint8_t *body, size_t len, size_t value_size);

/* A TxnResponse of a txn without compares: succeeded, a revision > 0, and exactly ops
 * answers, each a PutResponse. */
bool lg_verify_txn_put(const uint8_t *body, size_t len, unsigned ops);

/* A LeaseGrantResponse granting a lease of ttl seconds with no error; *id gets its ID. */
bool lg_verify_grant(const uint8_t *body, size_t len, int64_t ttl, int64_t *id);

/* msg/len: one LeaseKeepAliveResponse message (framing removed); true when it names lease
 * id with a TTL > 0 (0 or less: the lease is gone). */
bool lg_verify_keepalive(const uint8_t *msg, size_t len, int64_t id);

/* Fills the n-byte value every put writes ('a'..'z' repeating). */
void lg_fill_value(uint8_t *v, size_t n);

/* The message inside a whole unary gRPC body: *n gets its length. NULL when the body is not
 * exactly one uncompressed message. */
const uint8_t *lg_unframe(const uint8_t *body, size_t len, size_t *n);

#endif /* BENCH_LG_VERIFY_H */
