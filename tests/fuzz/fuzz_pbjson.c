/* fuzz_pbjson.c — libFuzzer target: JSON text to protobuf, as the gateway turns request bodies
 * into commands and the relay turns outbox rows into events (common/src/pbjson.c).
 *
 * The input is parsed with json_loadb (duplicate keys refused, like the gateway) and decoded with
 * as_pbjson_decode as every registry type in turn (commands, replies, events). Properties:
 *   - decode fails with a message and *out == NULL, or succeeds only for a JSON object;
 *   - a decoded message passes fuzz_check_message (check, pack -> unpack -> pack identical,
 *     encode -> decode gives the same bytes);
 *   - tight limits never accept what the default limits refuse, and accept the same message.
 */
#include "as/bus.h"
#include "as/pbjson.h"
#include "fuzz_pb.h"
#include "fuzz_types.h"

#include <stdlib.h>
#include <string.h>

static const ProtobufCMessageDescriptor *descs[FUZZ_N_TYPES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < FUZZ_N_TYPES; i++) {
        descs[i] = as_registry_find(FUZZ_TYPES[i]);
        FUZZ_CHECK(descs[i] != NULL, "registry lacks %s", FUZZ_TYPES[i]);
    }
    return 0;
}

/* Packed bytes of m, for comparing two decodes. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    FUZZ_CHECK(b != NULL, "out of memory");
    protobuf_c_message_pack(m, b);
    return b;
}

static void decode_as(const ProtobufCMessageDescriptor *d, const json_t *j)
{
    static const as_pbjson_limits_t tight = {.max_depth = 2, .max_repeated = 3, .max_string = 24};
    char err[300], err2[300];
    ProtobufCMessage *m = (ProtobufCMessage *)1, *t = (ProtobufCMessage *)1;
    int rc = as_pbjson_decode(d, j, NULL, &m, err, sizeof err);
    int rt = as_pbjson_decode(d, j, &tight, &t, err2, sizeof err2);
    if (rc != 0) {
        FUZZ_CHECK(m == NULL && err[0] != '\0', "%s: a failed decode must say why, *out NULL",
                   d->name);
        FUZZ_CHECK(rt != 0, "%s: tight limits accepted what the defaults refused (%s)", d->name,
                   err);
    } else {
        FUZZ_CHECK(m != NULL && m->descriptor == d, "%s: decode gave no message", d->name);
        FUZZ_CHECK(json_is_object(j), "%s: decoded from a JSON value that is no object", d->name);
        fuzz_check_message(m, FUZZ_FROM_JSON);
    }
    if (rt != 0) {
        FUZZ_CHECK(t == NULL && err2[0] != '\0', "%s: a failed decode must say why, *out NULL",
                   d->name);
    } else {
        size_t lm, lt;
        uint8_t *bm = packed(m, &lm), *bt = packed(t, &lt);
        FUZZ_CHECK(lm == lt && memcmp(bm, bt, lm) == 0,
                   "%s: tight and default limits decoded different messages", d->name);
        free(bm);
        free(bt);
        protobuf_c_message_free_unpacked(t, NULL);
    }
    if (rc == 0)
        protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    for (size_t i = 0; i < FUZZ_N_TYPES; i++)
        decode_as(descs[i], j);
    json_decref(j);
    return 0;
}
