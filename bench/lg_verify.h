/* Benchmark load generator: checks that a Put or Range response says what it should. */
#ifndef BENCH_LG_VERIFY_H
#define BENCH_LG_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * body/len: a whole gRPC response body (5-byte frame header + message). True when it is one
 * uncompressed message that decodes as a PutResponse with a header and a revision > 0
 * (put), or as a RangeResponse holding exactly one key whose value is value_size bytes
 * (get: every key was put before the load).
 */
bool lg_verify_response(bool put, const uint8_t *body, size_t len, size_t value_size);

#endif /* BENCH_LG_VERIFY_H */
