/* fuzz_pb.c — the shared message properties of fuzz_pb.h. */
#include "fuzz_pb.h"

#include "as/pbjson.h"

#include <stdlib.h>
#include <string.h>

/* Pack m into a new buffer; *len receives the size. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    size_t want = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(want ? want : 1);
    FUZZ_CHECK(buf != NULL, "out of memory packing %zu bytes", want);
    *len = protobuf_c_message_pack(m, buf);
    FUZZ_CHECK(*len == want, "%s packed to %zu bytes, get_packed_size said %zu",
               m->descriptor->name, *len, want);
    return buf;
}

/* Whether m or a message inside it kept an unknown field numbered 0. protobuf-c 1.4.1 accepts
 * field number 0 when the tag is written in more than one byte ("80 00"), keeps it as an unknown
 * field, packs it back as the canonical "00" and then refuses those bytes. That is the library's
 * quirk, harmless here (nothing re-packs what it unpacked from the wire), so such messages are
 * exempt from the wire round trip. */
static int has_unknown_field_zero(const ProtobufCMessage *m)
{
    if (!m)
        return 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *member = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)member;
            for (size_t k = 0; k < n; k++)
                if (has_unknown_field_zero(arr[k]))
                    return 1;
        } else if (has_unknown_field_zero(*(ProtobufCMessage *const *)member)) {
            return 1;
        }
    }
    return 0;
}

void fuzz_check_message(const ProtobufCMessage *m, fuzz_origin_t origin)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    FUZZ_CHECK(protobuf_c_message_check(m), "%s fails protobuf_c_message_check", d->name);

    /* Wire round trip. */
    size_t len1, len2;
    uint8_t *b1 = pack(m, &len1);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, len1, b1);
    if (m2 || origin != FUZZ_FROM_WIRE || !has_unknown_field_zero(m)) {
        FUZZ_CHECK(m2 != NULL, "%s: its own packed bytes (%zu) do not unpack", d->name, len1);
        uint8_t *b2 = pack(m2, &len2);
        FUZZ_CHECK(len1 == len2 && memcmp(b1, b2, len1) == 0,
                   "%s: pack -> unpack -> pack changed the bytes (%zu -> %zu)", d->name, len1,
                   len2);
        free(b2);
        protobuf_c_message_free_unpacked(m2, NULL);
    }

    /* JSON round trip. */
    json_t *j = as_pbjson_encode(m);
    FUZZ_CHECK(json_is_object(j), "as_pbjson_encode(%s) gave no object", d->name);
    char *text = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "json_dumps failed on the encoding of %s", d->name);
    ProtobufCMessage *m3 = NULL;
    char err[300];
    int rc = as_pbjson_decode(d, j, NULL, &m3, err, sizeof err);
    if (origin == FUZZ_FROM_JSON)
        FUZZ_CHECK(rc == 0, "%s: its own JSON does not decode back: %s\nJSON: %.2000s", d->name,
                   err, text);
    if (rc == 0) {
        json_t *j3 = as_pbjson_encode(m3);
        char *text3 = json_dumps(j3, JSON_COMPACT);
        FUZZ_CHECK(json_equal(j, j3),
                   "%s: JSON -> message -> JSON changed it\nfirst:  %.2000s\n"
                   "second: %.2000s",
                   d->name, text, text3 ? text3 : "(null)");
        if (origin == FUZZ_FROM_JSON) {
            size_t len3;
            uint8_t *b3 = pack(m3, &len3);
            FUZZ_CHECK(len1 == len3 && memcmp(b1, b3, len1) == 0,
                       "%s: encode -> decode changed the packed bytes\nJSON: %.2000s", d->name,
                       text);
            free(b3);
        }
        free(text3);
        json_decref(j3);
        protobuf_c_message_free_unpacked(m3, NULL);
    } else {
        FUZZ_CHECK(m3 == NULL && err[0] != '\0', "a failed decode must say why and return NULL");
    }
    free(text);
    json_decref(j);
    free(b1);
}
