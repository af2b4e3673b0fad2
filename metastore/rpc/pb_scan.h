/* A look at one top-level field of an encoded protobuf message without decoding the rest. */
#ifndef MS_PB_SCAN_H
#define MS_PB_SCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finds the value of varint field `field` (int, bool, enum) among the top-level fields of
 * the message `msg`, skipping every other field by its wire type; as in a full decode, the
 * last occurrence wins. Returns 1 with *value set, 0 when the field is absent (its default),
 * or -EBADMSG when the bytes are not a well-formed message at the top level.
 */
int ms_pb_scan_varint(const uint8_t *msg, size_t len, uint32_t field, uint64_t *value);

#endif /* MS_PB_SCAN_H */
