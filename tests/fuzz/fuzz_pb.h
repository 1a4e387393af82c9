/* fuzz_pb.h — the properties every protobuf message the code under test produces or accepts
 * must have, checked the same way by every protobuf fuzz target. */
#ifndef FUZZ_PB_H
#define FUZZ_PB_H

#include <protobuf-c/protobuf-c.h>

#include "fuzz_util.h"

/* Where a message came from; it decides which round trips must be exact. */
typedef enum fuzz_origin {
    FUZZ_FROM_WIRE, /* protobuf_c_message_unpack of untrusted bytes */
    FUZZ_FROM_JSON, /* as_pbjson_decode of untrusted JSON */
} fuzz_origin_t;

/*
 * Check `m` (borrowed):
 *   - protobuf_c_message_check() accepts it;
 *   - it packs to exactly protobuf_c_message_get_packed_size() bytes, those bytes unpack, and
 *     pack -> unpack -> pack gives identical bytes;
 *   - as_pbjson_encode() turns it into a JSON object that json_dumps() can print;
 *   - that JSON decoded again (as_pbjson_decode) and re-encoded is the same JSON. A wire message
 *     may legitimately fail to decode back (an undeclared enum number, a uint64 above INT64_MAX
 *     that encode writes as a string); a JSON-born message must decode back, to the same bytes.
 */
void fuzz_check_message(const ProtobufCMessage *m, fuzz_origin_t origin);

#endif
