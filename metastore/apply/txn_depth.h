/* How deep TxnRequests nest, read from the wire before protobuf-c unpacks (recursively) them. */
#ifndef MS_APPLY_TXN_DEPTH_H
#define MS_APPLY_TXN_DEPTH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The nesting depth of the packed etcdserverpb.TxnRequest `msg` (1: no txn inside it),
 * following only the fields that nest txns (success, failure, RequestOp.request_txn), with
 * recursion bounded by `max`. Returns the depth, max + 1 when it nests deeper than max, or
 * -1 when the bytes are not a well-formed message.
 */
int ms_txn_depth(const uint8_t *msg, size_t len, int max);

/*
 * The same for the txn inside a packed entry or request whose field `field` holds it (a
 * top-level field; 0 when the message holds none). Returns as ms_txn_depth.
 */
int ms_txn_depth_in(const uint8_t *msg, size_t len, uint32_t field, int max);

#endif /* MS_APPLY_TXN_DEPTH_H */
