/* fuzz_envelope.c — libFuzzer target: everything a service does with a frame from the bus.
 *
 * The input is one frame's bytes. It goes the way common/src/server.c and consumer.c take it:
 * as__envelope__unpack, then the payload unpacked by the envelope's declared type found with
 * as_registry_find (build/gen/registry.c), then as_pbjson_encode of the payload (what a consumer
 * hands its handler as JSON). The same bytes are also read as the two bodies a client decodes
 * without an envelope around them: an as.Reply (client.c; its body decoded by body_type, as the
 * gateway does in gw_respond_reply) and an as.ReplayBatch (consumer.c; every event an envelope).
 * Every message that unpacks must also pass fuzz_check_message (fuzz_pb.h). */
#include "as/bus.h"
#include "as/pbjson.h"
#include "fuzz_pb.h"
#include "fuzz_types.h"

#include <stdlib.h>
#include <string.h>

static void payload_by_type(const char *type, int has, const ProtobufCBinaryData *data, int depth);

/* The gateway's view of a reply: the body decoded by its declared type, errors listed. */
static void check_reply(const As__Reply *r, int depth)
{
    fuzz_check_message(&r->base, FUZZ_FROM_WIRE);
    if (r->body_type)
        payload_by_type(r->body_type, r->has_body, &r->body, depth + 1);
    for (size_t i = 0; i < r->n_errors; i++)
        FUZZ_CHECK(r->errors[i] != NULL, "reply error %zu is NULL", i);
}

static void check_envelope(const As__Envelope *env, int depth);

/* The consumer's view of a replay batch: each event an envelope, in order. */
static void check_batch(const As__ReplayBatch *b, int depth)
{
    fuzz_check_message(&b->base, FUZZ_FROM_WIRE);
    for (size_t i = 0; i < b->n_events; i++) {
        As__Envelope *env = as__envelope__unpack(NULL, b->events[i].len, b->events[i].data);
        if (!env)
            continue;
        check_envelope(env, depth + 1);
        as__envelope__free_unpacked(env, NULL);
    }
}

/* Unpack a payload by its declared type name, like server.c (commands) and consumer.c (events).
 * depth bounds the recursion through replies and batches that carry further messages. */
static void payload_by_type(const char *type, int has, const ProtobufCBinaryData *data, int depth)
{
    if (depth > 3)
        return;
    const ProtobufCMessageDescriptor *d = as_registry_find(type);
    if (!d)
        return;
    FUZZ_CHECK(strcmp(d->name, type) == 0, "registry returned %s for %s", d->name, type);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, has ? data->len : 0,
                                                    has ? data->data : (const uint8_t *)"");
    if (!m)
        return;
    FUZZ_CHECK(m->descriptor == d, "unpacked %s as %s", type, m->descriptor->name);
    fuzz_check_message(m, FUZZ_FROM_WIRE);
    char *json = as_pbjson_encode_string(m); /* consumer.c: the handler's ev->json */
    FUZZ_CHECK(json != NULL, "as_pbjson_encode_string(%s) failed", type);
    free(json);
    if (d == &as__reply__descriptor)
        check_reply((const As__Reply *)m, depth);
    else if (d == &as__replay_batch__descriptor)
        check_batch((const As__ReplayBatch *)m, depth);
    else if (d == &as__envelope__descriptor)
        check_envelope((const As__Envelope *)m, depth + 1);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void check_envelope(const As__Envelope *env, int depth)
{
    fuzz_check_message(&env->base, FUZZ_FROM_WIRE);
    if (env->principal)
        FUZZ_CHECK(env->principal->base.descriptor == &as__principal__descriptor,
                   "principal has the wrong descriptor");
    if (env->type)
        payload_by_type(env->type, env->has_payload, &env->payload, depth);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Every generated type must be findable, or payloads of that type are silently dropped. */
    for (size_t i = 0; i < FUZZ_N_TYPES; i++)
        FUZZ_CHECK(as_registry_find(FUZZ_TYPES[i]) != NULL, "registry lacks %s", FUZZ_TYPES[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    As__Envelope *env = as__envelope__unpack(NULL, size, data);
    if (env) {
        check_envelope(env, 0);
        as__envelope__free_unpacked(env, NULL);
    }
    As__Reply *r = as__reply__unpack(NULL, size, data);
    if (r) {
        check_reply(r, 0);
        as__reply__free_unpacked(r, NULL);
    }
    As__ReplayBatch *b = as__replay_batch__unpack(NULL, size, data);
    if (b) {
        check_batch(b, 0);
        as__replay_batch__free_unpacked(b, NULL);
    }
    return 0;
}
