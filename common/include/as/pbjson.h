/*
 * pbjson.h - descriptor-driven conversion between protobuf-c messages and jansson JSON.
 *
 * One generic converter for every message type: it walks ProtobufCMessageDescriptor /
 * ProtobufCFieldDescriptor, so no per-message code is needed at the HTTP gateway or in the
 * SQL layer.
 *
 * Mapping (both directions unless noted):
 *   - A message is a JSON object; keys are the proto field names exactly as written in the
 *     .proto file (snake_case). Unknown keys are rejected on decode. A key whose value is
 *     JSON null is treated as absent.
 *   - int32/sint32/sfixed32/int64/sint64/sfixed64/uint32/fixed32/uint64/fixed64: JSON
 *     integers only (reals and strings are rejected), range-checked per type; unsigned types
 *     reject negatives. Decode cannot accept uint64/fixed64 values above INT64_MAX (jansson
 *     integers are signed 64-bit); encode writes such values as a decimal JSON string so
 *     nothing is lost, but that string is not accepted back by decode.
 *   - float/double: JSON integers or reals. Non-finite values are encoded as the strings
 *     "NaN", "Infinity" and "-Infinity" (JSON has no literal for them), and those three
 *     strings are accepted on decode. A float outside +/-FLT_MAX is rejected.
 *   - bool: true/false only.
 *   - string: JSON string without embedded NUL. Encode replaces bytes that are not valid
 *     UTF-8 (possible in messages unpacked from the wire) with U+FFFD.
 *   - bytes: standard base64 (RFC 4648 alphabet, with '=' padding, no whitespace). Decode is
 *     strict: bad length, characters, padding or non-zero pad bits are rejected.
 *   - enum: encoded as the value name from the .proto (ProtobufCEnumValue.name), or as an
 *     integer when the value has no name. Decode accepts the name or the integer, but only
 *     values declared in the enum (proto2 enums are closed).
 *   - nested message: nested object. repeated: JSON array (always emitted, possibly empty).
 *   - oneof members behave like optional fields; setting two members of one oneof in the
 *     same object is an error.
 *   - proto2 optional fields: absent ones are omitted on encode; required fields are always
 *     emitted (JSON null if a required string/message pointer is NULL). proto3 fields without
 *     presence (PROTOBUF_C_LABEL_NONE) are omitted when they hold their zero value.
 *
 * Thread safety: all functions are reentrant; they share no state.
 */
#ifndef AS_PBJSON_H
#define AS_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Resource limits applied by as_pbjson_decode(). */
typedef struct as_pbjson_limits {
    int max_depth;       /* message nesting; the top-level message is depth 1 */
    size_t max_repeated; /* elements per repeated field */
    size_t max_string;   /* bytes per string, and decoded bytes per bytes field */
} as_pbjson_limits_t;

#define AS_PBJSON_DEFAULT_MAX_DEPTH    16
#define AS_PBJSON_DEFAULT_MAX_REPEATED 10000
#define AS_PBJSON_DEFAULT_MAX_STRING   (1024 * 1024)

/*
 * Fill *l with the defaults: depth 16, 10000 repeated elements, 1 MiB strings.
 * l must not be NULL.
 */
void as_pbjson_limits_default(as_pbjson_limits_t *l);

/*
 * Build a new message of type `desc` from the JSON object `obj`.
 *
 * On success returns 0 and *out owns a heap message that the caller frees with
 * protobuf_c_message_free_unpacked(*out, NULL). Every part of it is malloc'ed in the layout
 * free_unpacked expects; fields absent from `obj` keep the values protobuf_c_message_init
 * gives them (defaults, has_ flags cleared, NULL pointers). The result passes
 * protobuf_c_message_check().
 *
 * On failure returns -1, sets *out to NULL, frees everything it allocated and writes a
 * NUL-terminated message into err (when err != NULL and errlen > 0), prefixed by the path of
 * the offending value, e.g. "history.repairs[2].hours: integer out of range for int32",
 * "unknown field 'colour'", "fault: missing required field 'center'".
 *
 * `limits` may be NULL for the defaults (see as_pbjson_limits_default).
 */
int as_pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                     const as_pbjson_limits_t *limits, ProtobufCMessage **out, char *err,
                     size_t errlen);

/*
 * Encode `msg` as a new JSON object (caller owns the reference and releases it with
 * json_decref). Fields appear in field-number order. Absent optional fields are omitted;
 * repeated fields are always arrays; required fields are always present.
 *
 * Returns NULL on allocation failure, or if msg is NULL or has no descriptor.
 * Does not limit nesting depth: msg is trusted in-memory data.
 */
json_t *as_pbjson_encode(const ProtobufCMessage *msg);

/*
 * Encode `msg` as compact JSON text (see as_pbjson_encode). Returns a malloc'ed,
 * NUL-terminated string the caller frees with free(), or NULL on allocation failure or
 * invalid msg.
 */
char *as_pbjson_encode_string(const ProtobufCMessage *msg);

/* Length of the valid UTF-8 sequence starting at s[0] (of n available bytes, n >= 1), or 0 if
 * the bytes there are not valid UTF-8 (same rules as jansson: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
size_t as_utf8_seq_len(const unsigned char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* AS_PBJSON_H */
