/*
 * pbjson.c - descriptor-driven conversion between protobuf-c messages and jansson JSON.
 *
 * Decode builds the message in place, top-down, and keeps it in a state that
 * protobuf_c_message_free_unpacked() can release at every step: a sub-message or repeated
 * array is attached to its parent before it is filled (a repeated field's count covers only
 * the elements stored so far), and scalar/string/bytes values are stored only once complete.
 * Any error therefore has a single cleanup path: free the top-level message.
 *
 * See as/pbjson.h for the JSON mapping.
 */
#include "as/pbjson.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 512

/* Member access at a descriptor offset. */
#define MEMBER(msg, off)       ((void *)((char *)(msg) + (off)))
#define CONST_MEMBER(msg, off) ((const void *)((const char *)(msg) + (off)))

typedef struct decode_ctx {
    as_pbjson_limits_t limits;
    char path[PATH_MAX_LEN];
    size_t path_len;
    char *err;
    size_t errlen;
} decode_ctx_t;

void as_pbjson_limits_default(as_pbjson_limits_t *l)
{
    l->max_depth = AS_PBJSON_DEFAULT_MAX_DEPTH;
    l->max_repeated = AS_PBJSON_DEFAULT_MAX_REPEATED;
    l->max_string = AS_PBJSON_DEFAULT_MAX_STRING;
}

/* ---------------------------------------------------------------------------------------- */
/* Errors and paths                                                                          */
/* ---------------------------------------------------------------------------------------- */

/* Write "<path>: <message>" (or just "<message>" at the root) into the caller's buffer.
 * Always returns -1 so callers can `return fail(...)`. */
__attribute__((format(printf, 2, 3))) static int fail(decode_ctx_t *c, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0) {
        return -1;
    }
    size_t used = 0;
    if (c->path_len > 0) {
        int n = snprintf(c->err, c->errlen, "%s: ", c->path);
        used = (n < 0) ? 0 : (size_t)n;
        if (used >= c->errlen) {
            return -1;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + used, c->errlen - used, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_oom(decode_ctx_t *c)
{
    return fail(c, "out of memory");
}

/* Append ".name" (or "name" at the root) to the path; returns the length to restore. */
static size_t path_push_field(decode_ctx_t *c, const char *name)
{
    size_t old = c->path_len;
    size_t room = sizeof(c->path) - old;
    int n = snprintf(c->path + old, room, "%s%s", old > 0 ? "." : "", name);
    if (n < 0) {
        n = 0;
    }
    c->path_len = ((size_t)n >= room) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

/* Append "[index]" to the path; returns the length to restore. */
static size_t path_push_index(decode_ctx_t *c, size_t index)
{
    size_t old = c->path_len;
    size_t room = sizeof(c->path) - old;
    int n = snprintf(c->path + old, room, "[%zu]", index);
    if (n < 0) {
        n = 0;
    }
    c->path_len = ((size_t)n >= room) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

static void path_pop(decode_ctx_t *c, size_t old)
{
    c->path_len = old;
    c->path[old] = '\0';
}

/* ---------------------------------------------------------------------------------------- */
/* Type helpers                                                                              */
/* ---------------------------------------------------------------------------------------- */

static const char *type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return "unknown";
}

/* Size of one element of a repeated array, as protobuf-c lays it out. 0 = unsupported. */
static size_t element_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int); /* generated enums are forced to int size */
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Base64 (RFC 4648, standard alphabet, padded)                                              */
/* ---------------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '+') {
        return 62;
    }
    if (ch == '/') {
        return 63;
    }
    return -1;
}

/* Decoded size of well-formed base64 text of length len, or SIZE_MAX if len/padding is bad. */
static size_t b64_decoded_len(const char *s, size_t len)
{
    if (len % 4 != 0) {
        return SIZE_MAX;
    }
    if (len == 0) {
        return 0;
    }
    size_t pad = 0;
    if (s[len - 1] == '=') {
        pad = (s[len - 2] == '=') ? 2 : 1;
    }
    return len / 4 * 3 - pad;
}

/* Decode len characters of s into out (sized by b64_decoded_len). Returns 0, or -1 on any
 * character outside the alphabet, misplaced '=' or non-zero pad bits. */
static int b64_decode(const char *s, size_t len, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = (i + 4 == len);
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)s[i + k];
            if (ch == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0) {
                return -1; /* data after '=' */
            }
            v[k] = b64_value(ch);
            if (v[k] < 0) {
                return -1;
            }
        }
        uint32_t triple = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
                          (uint32_t)v[3];
        if (pad == 2 && (triple & 0xffffu) != 0) {
            return -1;
        }
        if (pad == 1 && (triple & 0xffu) != 0) {
            return -1;
        }
        out[o++] = (uint8_t)(triple >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(triple >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)triple;
        }
    }
    return 0;
}

/* Encode data as a new JSON string holding padded base64. NULL on OOM. */
static json_t *b64_encode_json(const uint8_t *data, size_t len)
{
    if (len > (SIZE_MAX - 2) / 4 * 3) {
        return NULL;
    }
    size_t out_len = (len + 2) / 3 * 4;
    char *buf = malloc(out_len + 1);
    if (buf == NULL) {
        return NULL;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t t = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8) | data[i + 2];
        buf[o++] = b64_alphabet[(t >> 18) & 63];
        buf[o++] = b64_alphabet[(t >> 12) & 63];
        buf[o++] = b64_alphabet[(t >> 6) & 63];
        buf[o++] = b64_alphabet[t & 63];
    }
    if (len - i == 1) {
        uint32_t t = (uint32_t)data[i] << 16;
        buf[o++] = b64_alphabet[(t >> 18) & 63];
        buf[o++] = b64_alphabet[(t >> 12) & 63];
        buf[o++] = '=';
        buf[o++] = '=';
    } else if (len - i == 2) {
        uint32_t t = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8);
        buf[o++] = b64_alphabet[(t >> 18) & 63];
        buf[o++] = b64_alphabet[(t >> 12) & 63];
        buf[o++] = b64_alphabet[(t >> 6) & 63];
        buf[o++] = '=';
    }
    buf[o] = '\0';
    json_t *js = json_stringn_nocheck(buf, o);
    free(buf);
    return js;
}

/* ---------------------------------------------------------------------------------------- */
/* Decode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static int decode_fields(decode_ctx_t *c, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                         ProtobufCMessage *msg, int depth);

/* Read a JSON integer within [min, max]. */
static int get_integer(decode_ctx_t *c, const json_t *v, ProtobufCType t, int64_t min, int64_t max,
                       int64_t *out)
{
    if (!json_is_integer(v)) {
        return fail(c, "expected an integer");
    }
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        return fail(c, "integer out of range for %s", type_name(t));
    }
    *out = (int64_t)n;
    return 0;
}

/* Read a JSON number, or one of the non-finite spellings, as a double. */
static int get_number(decode_ctx_t *c, const json_t *v, ProtobufCType t, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0 &&
               json_string_length(v) == 3) {
        *out = NAN;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "Infinity") == 0 &&
               json_string_length(v) == 8) {
        *out = INFINITY;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "-Infinity") == 0 &&
               json_string_length(v) == 9) {
        *out = -INFINITY;
    } else {
        return fail(c, "expected a number");
    }
    if (t == PROTOBUF_C_TYPE_FLOAT && isfinite(*out) && fabs(*out) > FLT_MAX) {
        return fail(c, "number out of range for float");
    }
    return 0;
}

/* Validate a JSON string value: type, no embedded NUL, length limit. */
static int get_string(decode_ctx_t *c, const json_t *v, const char *what, const char **s,
                      size_t *len)
{
    if (!json_is_string(v)) {
        return fail(c, "expected %s", what);
    }
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (strlen(*s) != *len) {
        return fail(c, "string contains a NUL byte");
    }
    return 0;
}

static int decode_enum(decode_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                       int *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_string(v)) {
        const char *name = NULL;
        size_t len = 0;
        if (get_string(c, v, "an enum name or integer", &name, &len) != 0) {
            return -1;
        }
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
        if (ev == NULL) {
            return fail(c, "unknown value '%s' for enum %s", name, ed->name);
        }
        *out = ev->value;
        return 0;
    }
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < INT32_MIN || n > INT32_MAX ||
            protobuf_c_enum_descriptor_get_value(ed, (int)n) == NULL) {
            return fail(c, "unknown value %" JSON_INTEGER_FORMAT " for enum %s", n, ed->name);
        }
        *out = (int)n;
        return 0;
    }
    return fail(c, "expected an enum name or integer");
}

static int decode_bytes(decode_ctx_t *c, const json_t *v, ProtobufCBinaryData *out)
{
    const char *s = NULL;
    size_t len = 0;
    if (get_string(c, v, "a base64 string", &s, &len) != 0) {
        return -1;
    }
    size_t n = b64_decoded_len(s, len);
    if (n == SIZE_MAX) {
        return fail(c, "invalid base64");
    }
    if (n > c->limits.max_string) {
        return fail(c, "bytes too long (%zu bytes, limit %zu)", n, c->limits.max_string);
    }
    uint8_t *data = NULL;
    if (n > 0) {
        data = malloc(n);
        if (data == NULL) {
            return fail_oom(c);
        }
    }
    if (b64_decode(s, len, data) != 0) {
        free(data);
        return fail(c, "invalid base64");
    }
    out->len = n;
    out->data = data;
    return 0;
}

/*
 * Decode one non-message value into dst, which points at a member or an array element of
 * the C type protobuf-c uses for f->type. dst is written only on success.
 */
static int decode_value(decode_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                        void *dst)
{
    int64_t n = 0;
    double d = 0.0;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (get_integer(c, v, f->type, INT32_MIN, INT32_MAX, &n) != 0) {
            return -1;
        }
        *(int32_t *)dst = (int32_t)n;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (get_integer(c, v, f->type, INT64_MIN, INT64_MAX, &n) != 0) {
            return -1;
        }
        *(int64_t *)dst = n;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (get_integer(c, v, f->type, 0, UINT32_MAX, &n) != 0) {
            return -1;
        }
        *(uint32_t *)dst = (uint32_t)n;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        /* JSON integers are signed 64-bit in jansson: values above INT64_MAX can't arrive. */
        if (get_integer(c, v, f->type, 0, INT64_MAX, &n) != 0) {
            return -1;
        }
        *(uint64_t *)dst = (uint64_t)n;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (get_number(c, v, f->type, &d) != 0) {
            return -1;
        }
        *(float *)dst = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (get_number(c, v, f->type, &d) != 0) {
            return -1;
        }
        *(double *)dst = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            return fail(c, "expected a boolean");
        }
        *(protobuf_c_boolean *)dst = json_is_true(v) ? 1 : 0;
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return decode_enum(c, f, v, (int *)dst);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = NULL;
        size_t len = 0;
        if (get_string(c, v, "a string", &s, &len) != 0) {
            return -1;
        }
        if (len > c->limits.max_string) {
            return fail(c, "string too long (%zu bytes, limit %zu)", len, c->limits.max_string);
        }
        char *copy = malloc(len + 1);
        if (copy == NULL) {
            return fail_oom(c);
        }
        memcpy(copy, s, len + 1);
        *(char **)dst = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return decode_bytes(c, v, (ProtobufCBinaryData *)dst);
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
    return fail(c, "unsupported field type");
}

/*
 * Allocate and initialise a message of type desc, store it in *slot (so the parent owns it
 * from now on), then fill it from v. *slot must not own anything beforehand.
 */
static int decode_submessage(decode_ctx_t *c, const ProtobufCMessageDescriptor *desc,
                             const json_t *v, ProtobufCMessage **slot, int depth)
{
    if (!json_is_object(v)) {
        return fail(c, "expected an object");
    }
    if (depth > c->limits.max_depth) {
        return fail(c, "nesting depth exceeds the limit of %d", c->limits.max_depth);
    }
    ProtobufCMessage *m = malloc(desc->sizeof_message);
    if (m == NULL) {
        return fail_oom(c);
    }
    protobuf_c_message_init(desc, m);
    *slot = m;
    return decode_fields(c, desc, v, m, depth);
}

static int decode_repeated(decode_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                           ProtobufCMessage *msg, int depth)
{
    if (!json_is_array(v)) {
        return fail(c, "expected an array");
    }
    size_t n = json_array_size(v);
    if (n > c->limits.max_repeated) {
        return fail(c, "too many elements (%zu, limit %zu)", n, c->limits.max_repeated);
    }
    if (n == 0) {
        return 0;
    }
    size_t esize = element_size(f->type);
    if (esize == 0) {
        return fail(c, "unsupported field type");
    }
    void *arr = calloc(n, esize);
    if (arr == NULL) {
        return fail_oom(c);
    }
    /* The parent owns the array from here; the count covers only the elements stored so far
     * (for messages: allocated, possibly partially filled). */
    size_t *count = MEMBER(msg, f->quantifier_offset);
    *(void **)MEMBER(msg, f->offset) = arr;
    *count = 0;

    for (size_t i = 0; i < n; i++) {
        const json_t *elem = json_array_get(v, i);
        size_t old = path_push_index(c, i);
        int rc;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            /* Count the slot before filling it: free_unpacked skips a NULL element and frees
             * a partially filled one. */
            (*count)++;
            rc = decode_submessage(c, f->descriptor, elem, (ProtobufCMessage **)arr + i, depth + 1);
        } else {
            rc = decode_value(c, f, elem, (char *)arr + i * esize);
            if (rc == 0) {
                (*count)++;
            }
        }
        if (rc != 0) {
            return -1; /* keep the path of the failing element in the message */
        }
        path_pop(c, old);
    }
    return 0;
}

/* Decode one present (non-null) JSON value into field f of msg. */
static int decode_field(decode_ctx_t *c, const ProtobufCMessageDescriptor *desc,
                        const ProtobufCFieldDescriptor *f, const json_t *v, ProtobufCMessage *msg,
                        int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        return decode_repeated(c, f, v, msg, depth);
    }

    bool oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
    if (oneof) {
        uint32_t *which = MEMBER(msg, f->quantifier_offset);
        if (*which != 0 && *which != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(desc, *which);
            return fail(c, "conflicts with field '%s' of the same oneof",
                        other != NULL ? other->name : "?");
        }
    }

    void *member = MEMBER(msg, f->offset);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        /* A pointer that is not NULL here is the descriptor default: never owned, so
         * overwriting it leaks nothing. Set the oneof case first so free_unpacked sees the
         * sub-message even if filling it fails. */
        if (!json_is_object(v)) {
            return fail(c, "expected an object");
        }
        if (oneof) {
            *(uint32_t *)MEMBER(msg, f->quantifier_offset) = f->id;
        }
        *(ProtobufCMessage **)member = NULL;
        return decode_submessage(c, f->descriptor, v, (ProtobufCMessage **)member, depth + 1);
    }

    if (decode_value(c, f, v, member) != 0) {
        return -1;
    }
    if (oneof) {
        *(uint32_t *)MEMBER(msg, f->quantifier_offset) = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)MEMBER(msg, f->quantifier_offset) = 1;
    }
    return 0;
}

/* Fill msg (already initialised) from the JSON object obj, which sits at nesting depth. */
static int decode_fields(decode_ctx_t *c, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                         ProtobufCMessage *msg, int depth)
{
    /* Reject unknown keys first. jansson's iteration API takes a non-const object but does
     * not modify it. */
    json_t *mobj = (json_t *)obj;
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach(mobj, key, key_len, value)
    {
        if (strlen(key) != key_len) {
            return fail(c, "field name contains a NUL byte");
        }
        if (protobuf_c_message_descriptor_get_field_by_name(desc, key) == NULL) {
            return fail(c, "unknown field '%s'", key);
        }
    }

    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
                return fail(c, "missing required field '%s'", f->name);
            }
            continue;
        }
        size_t old = path_push_field(c, f->name);
        if (decode_field(c, desc, f, v, msg, depth) != 0) {
            return -1;
        }
        path_pop(c, old);
    }
    return 0;
}

int as_pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                     const as_pbjson_limits_t *limits, ProtobufCMessage **out, char *err,
                     size_t errlen)
{
    decode_ctx_t c;
    c.path[0] = '\0';
    c.path_len = 0;
    c.err = err;
    c.errlen = errlen;
    if (limits != NULL) {
        c.limits = *limits;
    } else {
        as_pbjson_limits_default(&c.limits);
    }
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (out == NULL) {
        return fail(&c, "invalid arguments");
    }
    *out = NULL;
    if (desc == NULL || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || obj == NULL) {
        return fail(&c, "invalid arguments");
    }

    ProtobufCMessage *msg = NULL;
    if (decode_submessage(&c, desc, obj, &msg, 1) != 0) {
        protobuf_c_message_free_unpacked(msg, NULL); /* single cleanup path; NULL-safe */
        return -1;
    }
    *out = msg;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Encode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static json_t *encode_message(const ProtobufCMessage *msg);

size_t as_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        cp = b & 0x1fu;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        cp = b & 0x0fu;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        cp = b & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* New JSON string from a C string; invalid UTF-8 bytes become U+FFFD. NULL on OOM. */
static json_t *encode_text(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        size_t k = as_utf8_seq_len(u + i, n - i);
        if (k == 0) {
            break;
        }
        i += k;
    }
    if (i == n) {
        return json_stringn(s, n);
    }

    if (n > (SIZE_MAX - 1) / 3) {
        return NULL;
    }
    char *buf = malloc(n * 3 + 1); /* each bad byte grows to 3 bytes at most */
    if (buf == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t k = as_utf8_seq_len(u + i, n - i);
        if (k == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    json_t *js = json_stringn(buf, o);
    free(buf);
    return js;
}

static json_t *encode_floating(double d)
{
    if (isnan(d)) {
        return json_string("NaN");
    }
    if (isinf(d)) {
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    }
    return json_real(d);
}

static json_t *encode_uint64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

/* Encode one value of field f stored at p (a member or an array element). NULL on OOM. */
static json_t *encode_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return encode_uint64(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return encode_floating(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return encode_floating(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev != NULL ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return s != NULL ? encode_text(s) : json_null();
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        if (bd->len > 0 && bd->data == NULL) {
            return json_null(); /* malformed message; protobuf_c_message_check rejects it */
        }
        return b64_encode_json(bd->data, bd->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        return sub != NULL ? encode_message(sub) : json_null();
    }
    }
    return json_null();
}

/* proto3 (LABEL_NONE) presence: the field is present when it differs from its zero value. */
static bool is_zero_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT: {
        float v;
        memcpy(&v, p, sizeof(v));
        return v == 0.0f && !signbit(v);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof(v));
        return v == 0.0 && !signbit(v);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(const ProtobufCMessage *const *)p == NULL;
    }
    return true;
}

/* Whether a singular field is present, following protobuf-c's own packing rules. */
static bool field_is_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const void *member = CONST_MEMBER(msg, f->offset);
    bool pointer_type = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)CONST_MEMBER(msg, f->quantifier_offset) != f->id) {
            return false;
        }
        if (pointer_type) {
            const void *ptr = *(const void *const *)member;
            return ptr != NULL && ptr != f->default_value;
        }
        return true;
    }
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return true;
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (pointer_type) {
            const void *ptr = *(const void *const *)member;
            return ptr != NULL && ptr != f->default_value;
        }
        return *(const protobuf_c_boolean *)CONST_MEMBER(msg, f->quantifier_offset) != 0;
    case PROTOBUF_C_LABEL_NONE:
        return !is_zero_value(f, member);
    case PROTOBUF_C_LABEL_REPEATED:
        return true;
    }
    return false;
}

static json_t *encode_repeated(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    size_t n = *(const size_t *)CONST_MEMBER(msg, f->quantifier_offset);
    const char *arr = *(const void *const *)CONST_MEMBER(msg, f->offset);
    size_t esize = element_size(f->type);
    json_t *ja = json_array();
    if (ja == NULL) {
        return NULL;
    }
    if (arr == NULL) {
        n = 0; /* malformed (count without array); protobuf_c_message_check rejects it */
    }
    for (size_t i = 0; i < n; i++) {
        /* json_array_append_new releases the value on failure and rejects NULL. */
        if (json_array_append_new(ja, encode_value(f, arr + i * esize)) != 0) {
            json_decref(ja);
            return NULL;
        }
    }
    return ja;
}

static json_t *encode_message(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    if (obj == NULL) {
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            v = encode_repeated(msg, f);
        } else if (field_is_present(msg, f)) {
            v = encode_value(f, CONST_MEMBER(msg, f->offset));
        } else {
            continue;
        }
        /* json_object_set_new_nocheck releases v on failure and rejects NULL. */
        if (json_object_set_new_nocheck(obj, f->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *as_pbjson_encode(const ProtobufCMessage *msg)
{
    if (msg == NULL || msg->descriptor == NULL ||
        msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
        return NULL;
    }
    return encode_message(msg);
}

typedef struct text_buf {
    char *data;
    size_t len;
    size_t cap;
} text_buf_t;

static int text_buf_append(const char *chunk, size_t size, void *data)
{
    text_buf_t *b = data;
    if (size > SIZE_MAX - b->len - 1) {
        return -1;
    }
    if (b->len + size + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap < b->len + size + 1) {
            cap = (cap > SIZE_MAX / 2) ? b->len + size + 1 : cap * 2;
        }
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, size);
    b->len += size;
    b->data[b->len] = '\0';
    return 0;
}

char *as_pbjson_encode_string(const ProtobufCMessage *msg)
{
    json_t *obj = as_pbjson_encode(msg);
    if (obj == NULL) {
        return NULL;
    }
    /* Dump through a callback so the result is always plain malloc memory, whatever
     * allocator jansson was configured with. */
    text_buf_t b = {NULL, 0, 0};
    int rc = json_dump_callback(obj, text_buf_append, &b, JSON_COMPACT);
    json_decref(obj);
    if (rc != 0 || b.data == NULL) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
