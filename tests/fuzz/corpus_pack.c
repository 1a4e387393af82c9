/* corpus_pack.c — the seed-corpus helper behind tests/fuzz/make-corpus.sh (not a fuzzer).
 *
 *   corpus_pack pack TYPE          JSON (pbjson mapping) on stdin -> packed TYPE on stdout
 *   corpus_pack sample TYPE        a TYPE with every field set, packed, on stdout
 *   corpus_pack sample-json TYPE   the same message as compact JSON text
 *   corpus_pack types              every registry type name, one per line
 *
 * Samples are built from the descriptor (so they follow the .proto files as they change) with
 * plausible values picked by field name: dates, IMEIs, centre codes, money in cents. Exit status
 * 0 on success, 1 on bad input (with a message on stderr), 2 on bad usage. */
#include "as/bus.h"
#include "as/pbjson.h"
#include "fuzz_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

static json_t *sample_string(const char *name)
{
    static const struct {
        const char *part, *value;
    } by_name[] = {
        {"date", "2025-04-10"},
        {"imei", "490154203237518"},
        {"center", "SH01"},
        {"site", "SH01"},
        {"warehouse", "WH01"},
        {"region", "east"},
        {"currency", "CNY"},
        {"category", "phone_host"},
        {"request_id", "r-0001"},
        {"request", "repair"},
        {"role", "center"},
        {"subject", "desk.sh01"},
        {"state", "open"},
        {"status", "ok"},
        {"phone", "138-0000 1234"},
        {"brand", "Huaxin"},
        {"manufacturer", "HUAXIN"},
        {"model", "HX-10"},
        {"sku", "HX10-BATT"},
        {"stream", "intake"},
        {"type", "intake.Ticket"},
        {"ticket_id", "T-20250410-0001"},
        {"id", "T-20250410-0001"},
        {"_at", "2025-04-10T08:00:00Z"},
        {"code", "no_power"},
        {"version", "1"},
        {"vin", "LSVAU2180N2183294"},
    };
    for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
        if (has(name, by_name[i].part))
            return json_string(by_name[i].value);
    return json_string("sample text");
}

static json_t *sample_message(const ProtobufCMessageDescriptor *d, int depth);

static json_t *sample_value(const ProtobufCFieldDescriptor *f, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer(has(f->name, "cents") ? 199900
                            : has(f->name, "_ms") ? 1744272000000
                                                  : 2);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(0.5);
    case PROTOBUF_C_TYPE_BOOL:
        return json_true();
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        return ed->n_values ? json_string(ed->values[0].name) : NULL;
    }
    case PROTOBUF_C_TYPE_STRING:
        return sample_string(f->name);
    case PROTOBUF_C_TYPE_BYTES:
        return json_string("c2FtcGxl"); /* "sample" */
    case PROTOBUF_C_TYPE_MESSAGE:
        return depth < 3 ? sample_message(f->descriptor, depth + 1) : NULL;
    }
    return NULL;
}

static json_t *sample_message(const ProtobufCMessageDescriptor *d, int depth)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* Only the first member of a oneof. */
            int first = 1;
            for (unsigned k = 0; k < i; k++)
                if (d->fields[k].quantifier_offset == f->quantifier_offset)
                    first = 0;
            if (!first)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            json_t *a = json_array();
            for (int k = 0; k < 2; k++) {
                json_t *v = sample_value(f, depth);
                if (v)
                    json_array_append_new(a, v);
            }
            json_object_set_new(o, f->name, a);
        } else {
            json_t *v = sample_value(f, depth);
            if (v)
                json_object_set_new(o, f->name, v);
        }
    }
    return o;
}

static int write_packed(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 1;
    protobuf_c_message_pack(m, buf);
    int rc = fwrite(buf, 1, len, stdout) == len ? 0 : 1;
    free(buf);
    return rc;
}

static int pack_json(const ProtobufCMessageDescriptor *d, const json_t *j)
{
    char err[300];
    ProtobufCMessage *m = NULL;
    if (as_pbjson_decode(d, j, NULL, &m, err, sizeof err) < 0) {
        fprintf(stderr, "corpus_pack: not a valid %s: %s\n", d->name, err);
        return 1;
    }
    int rc = write_packed(m);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "types") == 0) {
        for (size_t i = 0; i < FUZZ_N_TYPES; i++)
            printf("%s\n", FUZZ_TYPES[i]);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: corpus_pack pack|sample|sample-json TYPE | corpus_pack types\n");
        return 2;
    }
    const ProtobufCMessageDescriptor *d = as_registry_find(argv[2]);
    if (!d) {
        fprintf(stderr, "corpus_pack: unknown type %s\n", argv[2]);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "pack") == 0) {
        json_error_t jerr;
        json_t *j = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
        if (!j) {
            fprintf(stderr, "corpus_pack: stdin is not JSON: %s (line %d)\n", jerr.text, jerr.line);
            return 1;
        }
        rc = pack_json(d, j);
        json_decref(j);
    } else if (strcmp(argv[1], "sample") == 0 || strcmp(argv[1], "sample-json") == 0) {
        json_t *j = sample_message(d, 1);
        if (argv[1][6] == '\0') {
            rc = pack_json(d, j);
        } else {
            char *s = json_dumps(j, JSON_COMPACT);
            rc = s && printf("%s\n", s) > 0 ? 0 : 1;
            free(s);
        }
        json_decref(j);
    } else {
        fprintf(stderr, "corpus_pack: unknown command %s\n", argv[1]);
        return 2;
    }
    return rc;
}
