/*
 * test_pbjson.c - unit tests for the protobuf-c <-> jansson converter (common/src/pbjson.c).
 *
 * Schema: tests/unit/pbjson_test.proto (package pbt), compiled by protoc-c into the build
 * directory. Every decoded message is checked with protobuf_c_message_check and, where it
 * matters, packed, unpacked and re-encoded. Run under ASan/UBSan: leaks on error paths are
 * caught by LeakSanitizer at exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/pbjson.h"
#include "pbjson_test.pb-c.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        print_error("bad test JSON (%s): %s\n", jerr.text, text);
    }
    assert_non_null(j);
    return j;
}

/* Decode text, require success and a message protobuf-c considers valid. */
static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    json_t *j = parse(text);
    char err[256] = "";
    ProtobufCMessage *m = NULL;
    int rc = as_pbjson_decode(desc, j, NULL, &m, err, sizeof(err));
    if (rc != 0) {
        print_error("unexpected decode error: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(m);
    assert_true(protobuf_c_message_check(m));
    json_decref(j);
    return m;
}

/* Decode json, require failure with exactly `expected` and *out reset to NULL. */
static void expect_error_json(const ProtobufCMessageDescriptor *desc, const json_t *j,
                              const as_pbjson_limits_t *limits, const char *expected)
{
    char err[256] = "";
    ProtobufCMessage *m = (ProtobufCMessage *)&err; /* any non-NULL value */
    int rc = as_pbjson_decode(desc, j, limits, &m, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_null(m);
    assert_string_equal(err, expected);
}

static void expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
                         const as_pbjson_limits_t *limits, const char *expected)
{
    json_t *j = parse(text);
    expect_error_json(desc, j, limits, expected);
    json_decref(j);
}

/* Encode m and compare with the JSON text `expected` (structural equality). */
static void assert_encodes_as(const ProtobufCMessage *m, const char *expected)
{
    json_t *want = parse(expected);
    json_t *got = as_pbjson_encode(m);
    assert_non_null(got);
    if (!json_equal(want, got)) {
        char *s = json_dumps(got, JSON_COMPACT);
        print_error("encoded: %s\nexpected: %s\n", s, expected);
        free(s);
    }
    assert_true(json_equal(want, got));
    json_decref(got);
    json_decref(want);
}

/* Decode text, then require that encoding gives back exactly the same JSON. */
static void assert_json_round_trip(const ProtobufCMessageDescriptor *desc, const char *text)
{
    ProtobufCMessage *m = decode_ok(desc, text);
    assert_encodes_as(m, text);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Pack m, unpack it, and require identical wire bytes and identical JSON afterwards. */
static void assert_pack_round_trip(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(m, buf), n);

    ProtobufCMessage *u = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
    assert_non_null(u);
    assert_true(protobuf_c_message_check(u));

    size_t n2 = protobuf_c_message_get_packed_size(u);
    assert_int_equal(n2, n);
    uint8_t *buf2 = malloc(n2 + 1);
    assert_non_null(buf2);
    assert_int_equal(protobuf_c_message_pack(u, buf2), n2);
    assert_memory_equal(buf, buf2, n);

    json_t *a = as_pbjson_encode(m);
    json_t *b = as_pbjson_encode(u);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_equal(a, b));

    json_decref(a);
    json_decref(b);
    free(buf2);
    free(buf);
    protobuf_c_message_free_unpacked(u, NULL);
}

static char *encode_text(const ProtobufCMessage *m)
{
    char *s = as_pbjson_encode_string(m);
    assert_non_null(s);
    return s;
}

/* Build {"child":{"child":...{}}} with `levels` objects in total. */
static char *nested_nodes(int levels)
{
    size_t cap = (size_t)levels * 12 + 16;
    char *s = malloc(cap);
    assert_non_null(s);
    s[0] = '\0';
    for (int i = 1; i < levels; i++) {
        strcat(s, "{\"child\":");
    }
    strcat(s, "{}");
    for (int i = 1; i < levels; i++) {
        strcat(s, "}");
    }
    return s;
}

static const char *const scalars_full =
    "{\"f_int32\":-7,\"f_sint32\":-2147483648,\"f_sfixed32\":2147483647,"
    "\"f_int64\":-9223372036854775808,\"f_sint64\":9223372036854775807,"
    "\"f_sfixed64\":-123456789012,\"f_uint32\":4294967295,\"f_fixed32\":17,"
    "\"f_uint64\":9223372036854775807,\"f_fixed64\":18,\"f_bool\":true,"
    "\"f_float\":1.5,\"f_double\":-2.0e-300,\"f_string\":\"h\\u00e9llo \\u2713 \\ud83d\\ude00\","
    "\"f_bytes\":\"AP8Q\",\"f_enum\":\"BLUE\",\"f_point\":{\"x\":1,\"y\":-2,\"label\":\"p\"}}";

static const char *const repeateds_full =
    "{\"r_int32\":[-1,0,2147483647],\"r_sint32\":[-2147483648,5],\"r_sfixed32\":[3],"
    "\"r_int64\":[-9223372036854775808,1],\"r_sint64\":[-5,9223372036854775807],"
    "\"r_sfixed64\":[7],\"r_uint32\":[0,4294967295],\"r_fixed32\":[9,10],"
    "\"r_uint64\":[9223372036854775807,0],\"r_fixed64\":[11],\"r_bool\":[true,false,true],"
    "\"r_float\":[0.5,-65536.0],\"r_double\":[1.25,1e300],\"r_string\":[\"a\",\"\",\"c\"],"
    "\"r_bytes\":[\"\",\"Zg==\",\"Zm9vYmFy\"],\"r_enum\":[\"RED\",\"INFRARED\",\"COLOR_UNKNOWN\"],"
    "\"r_point\":[{\"x\":1,\"y\":2},{\"x\":3,\"y\":4,\"label\":\"q\"}],\"r_packed\":[1,2,3]}";

static const char *const ticket_full =
    "{\"id\":\"T-1\",\"device\":{\"imei\":\"356938035643809\",\"model\":\"X1\"},"
    "\"fault\":{\"code\":\"E42\",\"center\":{\"x\":10,\"y\":20}},"
    "\"history\":{\"repairs\":[{\"hours\":1,\"note\":\"a\"},{\"hours\":2},{}]},"
    "\"color\":\"GREEN\"}";

/* ---------------------------------------------------------------------------------------- */
/* Limits                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_limits_default_sets_documented_values(void **state)
{
    (void)state;
    as_pbjson_limits_t l;
    memset(&l, 0xff, sizeof(l));
    as_pbjson_limits_default(&l);
    assert_int_equal(l.max_depth, 16);
    assert_int_equal(l.max_repeated, 10000);
    assert_int_equal(l.max_string, 1024 * 1024);
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void test_every_scalar_type_decodes_into_the_struct(void **state)
{
    (void)state;
    Pbt__Scalars *s = (Pbt__Scalars *)decode_ok(&pbt__scalars__descriptor, scalars_full);
    assert_true(s->has_f_int32);
    assert_int_equal(s->f_int32, -7);
    assert_int_equal(s->f_sint32, INT32_MIN);
    assert_int_equal(s->f_sfixed32, INT32_MAX);
    assert_true(s->f_int64 == INT64_MIN);
    assert_true(s->f_sint64 == INT64_MAX);
    assert_true(s->f_sfixed64 == -123456789012LL);
    assert_true(s->f_uint32 == UINT32_MAX);
    assert_int_equal(s->f_fixed32, 17);
    assert_true(s->f_uint64 == (uint64_t)INT64_MAX);
    assert_int_equal(s->f_fixed64, 18);
    assert_true(s->has_f_bool && s->f_bool);
    assert_true(s->has_f_float && s->f_float == 1.5f);
    assert_true(s->has_f_double && s->f_double == -2.0e-300);
    assert_string_equal(s->f_string, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
    assert_true(s->has_f_bytes);
    assert_int_equal(s->f_bytes.len, 3);
    assert_memory_equal(s->f_bytes.data, "\x00\xff\x10", 3);
    assert_true(s->has_f_enum);
    assert_int_equal(s->f_enum, PBT__COLOR__BLUE);
    assert_non_null(s->f_point);
    assert_int_equal(s->f_point->x, 1);
    assert_int_equal(s->f_point->y, -2);
    assert_string_equal(s->f_point->label, "p");
    protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void test_every_scalar_type_round_trips_through_json(void **state)
{
    (void)state;
    assert_json_round_trip(&pbt__scalars__descriptor, scalars_full);
}

static void test_every_repeated_type_round_trips_through_json(void **state)
{
    (void)state;
    Pbt__Repeateds *r = (Pbt__Repeateds *)decode_ok(&pbt__repeateds__descriptor, repeateds_full);
    assert_int_equal(r->n_r_int32, 3);
    assert_int_equal(r->r_int32[2], INT32_MAX);
    assert_int_equal(r->n_r_bool, 3);
    assert_false(r->r_bool[1]);
    assert_int_equal(r->n_r_string, 3);
    assert_string_equal(r->r_string[1], "");
    assert_int_equal(r->n_r_bytes, 3);
    assert_int_equal(r->r_bytes[0].len, 0);
    assert_int_equal(r->r_bytes[2].len, 6);
    assert_memory_equal(r->r_bytes[2].data, "foobar", 6);
    assert_int_equal(r->r_enum[1], PBT__COLOR__INFRARED);
    assert_int_equal(r->n_r_point, 2);
    assert_string_equal(r->r_point[1]->label, "q");
    assert_null(r->r_point[0]->label);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    assert_json_round_trip(&pbt__repeateds__descriptor, repeateds_full);
}

static void test_decoded_messages_pass_check_and_survive_pack_unpack(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *descs[] = {
        &pbt__scalars__descriptor, &pbt__repeateds__descriptor, &pbt__ticket__descriptor};
    const char *texts[] = {scalars_full, repeateds_full, ticket_full};
    for (size_t i = 0; i < 3; i++) {
        ProtobufCMessage *m = decode_ok(descs[i], texts[i]);
        assert_pack_round_trip(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

static void test_unpacked_wire_message_encodes_like_the_decoded_one(void **state)
{
    (void)state;
    ProtobufCMessage *m = decode_ok(&pbt__ticket__descriptor, ticket_full);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *u = protobuf_c_message_unpack(&pbt__ticket__descriptor, NULL, n, buf);
    assert_non_null(u);
    assert_encodes_as(u, ticket_full);
    protobuf_c_message_free_unpacked(u, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(buf);
}

static void test_extreme_integer_values_survive_pack_unpack(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        decode_ok(&pbt__scalars__descriptor,
                  "{\"f_int32\":-2147483648,\"f_sint32\":2147483647,\"f_sfixed32\":-2147483648,"
                  "\"f_int64\":9223372036854775807,\"f_sint64\":-9223372036854775808,"
                  "\"f_sfixed64\":9223372036854775807,\"f_uint32\":0,\"f_fixed32\":4294967295,"
                  "\"f_uint64\":0,\"f_fixed64\":9223372036854775807}");
    assert_pack_round_trip(m);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Encode shape                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void test_encode_omits_absent_optional_fields(void **state)
{
    (void)state;
    Pbt__Scalars s = PBT__SCALARS__INIT;
    assert_encodes_as(&s.base, "{}");
    s.has_f_int32 = 1;
    s.f_int32 = 0; /* present with the zero value: still emitted */
    assert_encodes_as(&s.base, "{\"f_int32\":0}");
}

static void test_encode_emits_repeated_fields_as_empty_arrays(void **state)
{
    (void)state;
    Pbt__Repeateds r = PBT__REPEATEDS__INIT;
    assert_encodes_as(
        &r.base, "{\"r_int32\":[],\"r_sint32\":[],\"r_sfixed32\":[],\"r_int64\":[],"
                 "\"r_sint64\":[],\"r_sfixed64\":[],\"r_uint32\":[],\"r_fixed32\":[],"
                 "\"r_uint64\":[],\"r_fixed64\":[],\"r_bool\":[],\"r_float\":[],\"r_double\":[],"
                 "\"r_string\":[],\"r_bytes\":[],\"r_enum\":[],\"r_point\":[],\"r_packed\":[]}");
}

static void test_encode_always_emits_required_fields(void **state)
{
    (void)state;
    Pbt__Point center = PBT__POINT__INIT;
    Pbt__Required r = PBT__REQUIRED__INIT;
    r.name = "n";
    r.center = &center;
    assert_encodes_as(&r.base, "{\"name\":\"n\",\"center\":{\"x\":0,\"y\":0},\"count\":0,"
                               "\"blob\":\"\",\"color\":\"COLOR_UNKNOWN\"}");
}

static void test_encode_string_is_compact_and_in_field_number_order(void **state)
{
    (void)state;
    Pbt__Point p = PBT__POINT__INIT;
    p.label = "a/b \"q\"";
    p.y = -2;
    p.x = 1;
    char *s = encode_text(&p.base);
    assert_string_equal(s, "{\"x\":1,\"y\":-2,\"label\":\"a/b \\\"q\\\"\"}");
    free(s);
}

static void test_encode_rejects_null_message(void **state)
{
    (void)state;
    assert_null(as_pbjson_encode(NULL));
    assert_null(as_pbjson_encode_string(NULL));
}

static void test_encode_writes_uint64_above_int64_max_as_decimal_string(void **state)
{
    (void)state;
    Pbt__Scalars s = PBT__SCALARS__INIT;
    s.has_f_uint64 = 1;
    s.f_uint64 = UINT64_MAX;
    s.has_f_fixed64 = 1;
    s.f_fixed64 = (uint64_t)INT64_MAX + 1;
    assert_encodes_as(&s.base, "{\"f_uint64\":\"18446744073709551615\","
                               "\"f_fixed64\":\"9223372036854775808\"}");
    /* Documented limitation: decode does not take them back. */
    expect_error(&pbt__scalars__descriptor, "{\"f_uint64\":\"18446744073709551615\"}", NULL,
                 "f_uint64: expected an integer");
}

static void test_encode_replaces_invalid_utf8_with_replacement_character(void **state)
{
    (void)state;
    Pbt__Scalars s = PBT__SCALARS__INIT;
    /* A stray 0xff byte, then a truncated 2-byte sequence (0xc3). */
    char bad[] = "a\377b\303";
    s.f_string = bad;
    json_t *j = as_pbjson_encode(&s.base);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "f_string")),
                        "a\357\277\275b\357\277\275");
    json_decref(j);
}

static void test_encode_writes_undeclared_enum_value_as_integer(void **state)
{
    (void)state;
    Pbt__Scalars s = PBT__SCALARS__INIT;
    s.has_f_enum = 1;
    s.f_enum = (Pbt__Color)42;
    assert_encodes_as(&s.base, "{\"f_enum\":42}");
}

/* ---------------------------------------------------------------------------------------- */
/* Numbers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void test_decode_range_checks_every_integer_type(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *error;
    } cases[] = {
        {"{\"f_int32\":2147483648}", "f_int32: integer out of range for int32"},
        {"{\"f_int32\":-2147483649}", "f_int32: integer out of range for int32"},
        {"{\"f_sint32\":2147483648}", "f_sint32: integer out of range for sint32"},
        {"{\"f_sfixed32\":-2147483649}", "f_sfixed32: integer out of range for sfixed32"},
        {"{\"f_uint32\":4294967296}", "f_uint32: integer out of range for uint32"},
        {"{\"f_fixed32\":4294967296}", "f_fixed32: integer out of range for fixed32"},
        {"{\"r_int32\":[1,2147483648]}", "r_int32[1]: integer out of range for int32"},
        {"{\"r_uint32\":[4294967296]}", "r_uint32[0]: integer out of range for uint32"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ProtobufCMessageDescriptor *d =
            cases[i].json[2] == 'r' ? &pbt__repeateds__descriptor : &pbt__scalars__descriptor;
        expect_error(d, cases[i].json, NULL, cases[i].error);
    }
}

static void test_decode_rejects_negative_values_for_unsigned_types(void **state)
{
    (void)state;
    expect_error(&pbt__scalars__descriptor, "{\"f_uint32\":-1}", NULL,
                 "f_uint32: integer out of range for uint32");
    expect_error(&pbt__scalars__descriptor, "{\"f_fixed32\":-1}", NULL,
                 "f_fixed32: integer out of range for fixed32");
    expect_error(&pbt__scalars__descriptor, "{\"f_uint64\":-1}", NULL,
                 "f_uint64: integer out of range for uint64");
    expect_error(&pbt__scalars__descriptor, "{\"f_fixed64\":-9223372036854775808}", NULL,
                 "f_fixed64: integer out of range for fixed64");
    expect_error(&pbt__repeateds__descriptor, "{\"r_uint64\":[1,-1]}", NULL,
                 "r_uint64[1]: integer out of range for uint64");
}

static void test_decode_rejects_reals_strings_and_booleans_for_integers(void **state)
{
    (void)state;
    expect_error(&pbt__scalars__descriptor, "{\"f_int32\":1.0}", NULL,
                 "f_int32: expected an integer");
    expect_error(&pbt__scalars__descriptor, "{\"f_int64\":\"12\"}", NULL,
                 "f_int64: expected an integer");
    expect_error(&pbt__scalars__descriptor, "{\"f_uint32\":true}", NULL,
                 "f_uint32: expected an integer");
    expect_error(&pbt__scalars__descriptor, "{\"f_fixed64\":[1]}", NULL,
                 "f_fixed64: expected an integer");
}

static void test_decode_float_and_double_accept_integers_and_reals(void **state)
{
    (void)state;
    Pbt__Scalars *s = (Pbt__Scalars *)decode_ok(&pbt__scalars__descriptor,
                                                "{\"f_float\":3,\"f_double\":-9007199254740993}");
    assert_true(s->f_float == 3.0f);
    assert_true(s->f_double == -9007199254740992.0); /* nearest double */
    protobuf_c_message_free_unpacked(&s->base, NULL);

    s = (Pbt__Scalars *)decode_ok(&pbt__scalars__descriptor,
                                  "{\"f_float\":3.4028234663852886e38,\"f_double\":1e308}");
    assert_true(s->f_float == 3.4028234663852886e38f);
    assert_true(s->f_double == 1e308);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    expect_error(&pbt__scalars__descriptor, "{\"f_double\":\"1.5\"}", NULL,
                 "f_double: expected a number");
    expect_error(&pbt__scalars__descriptor, "{\"f_float\":false}", NULL,
                 "f_float: expected a number");
}

static void test_decode_rejects_float_out_of_range(void **state)
{
    (void)state;
    expect_error(&pbt__scalars__descriptor, "{\"f_float\":1e39}", NULL,
                 "f_float: number out of range for float");
    expect_error(&pbt__repeateds__descriptor, "{\"r_float\":[0,-3.5e38]}", NULL,
                 "r_float[1]: number out of range for float");
}

static void test_non_finite_floats_round_trip_as_strings(void **state)
{
    (void)state;
    Pbt__Repeateds r = PBT__REPEATEDS__INIT;
    float f[] = {NAN, INFINITY, -INFINITY};
    double d[] = {-INFINITY, NAN, 0.5};
    r.n_r_float = 3;
    r.r_float = f;
    r.n_r_double = 3;
    r.r_double = d;
    json_t *j = as_pbjson_encode(&r.base);
    assert_non_null(j);
    json_t *want_f = parse("[\"NaN\",\"Infinity\",\"-Infinity\"]");
    json_t *want_d = parse("[\"-Infinity\",\"NaN\",0.5]");
    assert_true(json_equal(json_object_get(j, "r_float"), want_f));
    assert_true(json_equal(json_object_get(j, "r_double"), want_d));

    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(as_pbjson_decode(&pbt__repeateds__descriptor, j, NULL, &m, err, sizeof(err)),
                     0);
    Pbt__Repeateds *back = (Pbt__Repeateds *)m;
    assert_true(isnan(back->r_float[0]));
    assert_true(isinf(back->r_float[1]) && back->r_float[1] > 0);
    assert_true(isinf(back->r_float[2]) && back->r_float[2] < 0);
    assert_true(isinf(back->r_double[0]) && back->r_double[0] < 0);
    assert_true(isnan(back->r_double[1]));
    assert_true(back->r_double[2] == 0.5);
    protobuf_c_message_free_unpacked(m, NULL);

    expect_error(&pbt__scalars__descriptor, "{\"f_double\":\"nan\"}", NULL,
                 "f_double: expected a number");
    json_decref(want_d);
    json_decref(want_f);
    json_decref(j);
}

/* ---------------------------------------------------------------------------------------- */
/* Bool, string, bytes                                                                       */
/* ---------------------------------------------------------------------------------------- */

static void test_decode_bool_accepts_only_true_and_false(void **state)
{
    (void)state;
    Pbt__Scalars *s = (Pbt__Scalars *)decode_ok(&pbt__scalars__descriptor, "{\"f_bool\":false}");
    assert_true(s->has_f_bool);
    assert_false(s->f_bool);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    expect_error(&pbt__scalars__descriptor, "{\"f_bool\":1}", NULL, "f_bool: expected a boolean");
    expect_error(&pbt__scalars__descriptor, "{\"f_bool\":\"true\"}", NULL,
                 "f_bool: expected a boolean");
    expect_error(&pbt__repeateds__descriptor, "{\"r_bool\":[true,0]}", NULL,
                 "r_bool[1]: expected a boolean");
}

static void test_decode_rejects_non_string_for_string_field(void **state)
{
    (void)state;
    expect_error(&pbt__scalars__descriptor, "{\"f_string\":12}", NULL,
                 "f_string: expected a string");
    expect_error(&pbt__repeateds__descriptor, "{\"r_string\":[\"a\",\"b\",{}]}", NULL,
                 "r_string[2]: expected a string");
}

static void test_decode_rejects_strings_containing_nul(void **state)
{
    (void)state;
    json_t *j = json_object();
    assert_non_null(j);
    assert_int_equal(json_object_set_new(j, "f_string", json_stringn("a\0b", 3)), 0);
    expect_error_json(&pbt__scalars__descriptor, j, NULL, "f_string: string contains a NUL byte");
    json_decref(j);

    j = json_object();
    assert_non_null(j);
    assert_int_equal(json_object_set_new(j, "f_enum", json_stringn("RED\0X", 5)), 0);
    expect_error_json(&pbt__scalars__descriptor, j, NULL, "f_enum: string contains a NUL byte");
    json_decref(j);

    j = json_object();
    assert_non_null(j);
    assert_int_equal(json_object_setn_new(j, "f_int32\0x", 9, json_integer(1)), 0);
    expect_error_json(&pbt__scalars__descriptor, j, NULL, "field name contains a NUL byte");
    json_decref(j);
}

static void test_bytes_encode_as_padded_standard_base64(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        size_t len;
        const char *b64;
    } vectors[] = {
        {"", 0, ""},
        {"f", 1, "Zg=="},
        {"fo", 2, "Zm8="},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg=="},
        {"fooba", 5, "Zm9vYmE="},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xff", 2, "+/8="},
        {"\x00\x00\x00\x00", 4, "AAAAAA=="},
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        Pbt__Scalars s = PBT__SCALARS__INIT;
        s.has_f_bytes = 1;
        s.f_bytes.len = vectors[i].len;
        s.f_bytes.data = (uint8_t *)vectors[i].raw;
        json_t *j = as_pbjson_encode(&s.base);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "f_bytes")), vectors[i].b64);

        ProtobufCMessage *m = NULL;
        char err[128];
        assert_int_equal(as_pbjson_decode(&pbt__scalars__descriptor, j, NULL, &m, err, sizeof(err)),
                         0);
        Pbt__Scalars *back = (Pbt__Scalars *)m;
        assert_true(back->has_f_bytes);
        assert_int_equal(back->f_bytes.len, vectors[i].len);
        if (vectors[i].len > 0) {
            assert_memory_equal(back->f_bytes.data, vectors[i].raw, vectors[i].len);
        }
        assert_pack_round_trip(m);
        protobuf_c_message_free_unpacked(m, NULL);
        json_decref(j);
    }
}

static void test_decode_rejects_bad_base64(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg",       /* missing padding */
        "Zg=",      /* short padding */
        "Z===",     /* too much padding */
        "====",     /* only padding */
        "Zh==",     /* non-zero pad bits */
        "Zm9=",     /* non-zero pad bits */
        "Zg==Zg==", /* padding in the middle */
        "Zm=v",     /* data after padding */
        "Zm9v\n",   /* whitespace */
        " Zm9v",    /* whitespace */
        "Zm-v",     /* URL-safe alphabet */
        "Zm_v",     /* URL-safe alphabet */
        "Zm9v*A==", /* foreign character */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_pack("{s:s}", "f_bytes", bad[i]);
        assert_non_null(j);
        expect_error_json(&pbt__scalars__descriptor, j, NULL, "f_bytes: invalid base64");
        json_decref(j);
    }
    expect_error(&pbt__scalars__descriptor, "{\"f_bytes\":[1,2]}", NULL,
                 "f_bytes: expected a base64 string");
    expect_error(&pbt__repeateds__descriptor, "{\"r_bytes\":[\"AA==\",\"!!!!\"]}", NULL,
                 "r_bytes[1]: invalid base64");
}

/* ---------------------------------------------------------------------------------------- */
/* Enums                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_enum_decodes_by_name_and_by_number(void **state)
{
    (void)state;
    Pbt__Repeateds *r =
        (Pbt__Repeateds *)decode_ok(&pbt__repeateds__descriptor,
                                    "{\"r_enum\":[\"RED\",2,\"INFRARED\",-3,5,\"COLOR_UNKNOWN\"]}");
    assert_int_equal(r->n_r_enum, 6);
    assert_int_equal(r->r_enum[0], PBT__COLOR__RED);
    assert_int_equal(r->r_enum[1], PBT__COLOR__GREEN);
    assert_int_equal(r->r_enum[2], PBT__COLOR__INFRARED);
    assert_int_equal(r->r_enum[3], PBT__COLOR__INFRARED);
    assert_int_equal(r->r_enum[4], PBT__COLOR__BLUE);
    assert_int_equal(r->r_enum[5], PBT__COLOR__COLOR_UNKNOWN);
    json_t *j = as_pbjson_encode(&r->base);
    json_t *want =
        parse("[\"RED\",\"GREEN\",\"INFRARED\",\"INFRARED\",\"BLUE\",\"COLOR_UNKNOWN\"]");
    assert_true(json_equal(json_object_get(j, "r_enum"), want));
    json_decref(want);
    json_decref(j);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_enum_rejects_unknown_names_and_numbers(void **state)
{
    (void)state;
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":\"PURPLE\"}", NULL,
                 "f_enum: unknown value 'PURPLE' for enum pbt.Color");
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":\"blue\"}", NULL,
                 "f_enum: unknown value 'blue' for enum pbt.Color");
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":\"PBT__COLOR__BLUE\"}", NULL,
                 "f_enum: unknown value 'PBT__COLOR__BLUE' for enum pbt.Color");
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":3}", NULL,
                 "f_enum: unknown value 3 for enum pbt.Color");
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":4294967297}", NULL,
                 "f_enum: unknown value 4294967297 for enum pbt.Color");
    expect_error(&pbt__scalars__descriptor, "{\"f_enum\":1.0}", NULL,
                 "f_enum: expected an enum name or integer");
    expect_error(&pbt__repeateds__descriptor, "{\"r_enum\":[\"RED\",true]}", NULL,
                 "r_enum[1]: expected an enum name or integer");
}

/* ---------------------------------------------------------------------------------------- */
/* Defaults and presence                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_absent_fields_keep_proto_defaults_and_are_not_encoded(void **state)
{
    (void)state;
    Pbt__Defaults *d = (Pbt__Defaults *)decode_ok(&pbt__defaults__descriptor, "{}");
    assert_false(d->has_d_int32);
    assert_int_equal(d->d_int32, -42);
    assert_true(d->d_uint64 == 12345678901ULL);
    assert_true(d->d_bool);
    assert_true(d->d_float == 1.5f);
    assert_true(d->d_double == 2.25);
    assert_ptr_equal(d->d_string, pbt__defaults__d_string__default_value);
    assert_ptr_equal(d->d_bytes.data, pbt__defaults__d_bytes__default_value_data);
    assert_int_equal(d->d_enum, PBT__COLOR__GREEN);
    assert_null(d->d_plain);
    assert_encodes_as(&d->base, "{}");
    assert_pack_round_trip(&d->base);
    protobuf_c_message_free_unpacked(&d->base, NULL); /* must not free the defaults */
}

static void test_present_fields_override_defaults(void **state)
{
    (void)state;
    const char *text = "{\"d_int32\":7,\"d_uint64\":0,\"d_bool\":false,\"d_float\":-1.5,"
                       "\"d_double\":0.0,\"d_string\":\"hello\",\"d_bytes\":\"\","
                       "\"d_enum\":\"BLUE\",\"d_plain\":\"x\"}";
    Pbt__Defaults *d = (Pbt__Defaults *)decode_ok(&pbt__defaults__descriptor, text);
    assert_true(d->has_d_int32 && d->d_int32 == 7);
    assert_true(d->has_d_bool && !d->d_bool);
    /* A value equal to the default is still an explicit, owned value. */
    assert_string_equal(d->d_string, "hello");
    assert_ptr_not_equal(d->d_string, pbt__defaults__d_string__default_value);
    assert_true(d->has_d_bytes);
    assert_int_equal(d->d_bytes.len, 0);
    assert_int_equal(d->d_enum, PBT__COLOR__BLUE);
    assert_encodes_as(&d->base, text);
    assert_pack_round_trip(&d->base);
    protobuf_c_message_free_unpacked(&d->base, NULL);
}

static void test_unpacked_message_with_defaults_encodes_as_empty_object(void **state)
{
    (void)state;
    ProtobufCMessage *u =
        protobuf_c_message_unpack(&pbt__defaults__descriptor, NULL, 0, (const uint8_t *)"");
    assert_non_null(u);
    assert_encodes_as(u, "{}");
    char *s = encode_text(u);
    assert_string_equal(s, "{}");
    free(s);
    protobuf_c_message_free_unpacked(u, NULL);
}

static void test_json_null_is_treated_as_absent(void **state)
{
    (void)state;
    Pbt__Scalars *s = (Pbt__Scalars *)decode_ok(
        &pbt__scalars__descriptor,
        "{\"f_int32\":null,\"f_string\":null,\"f_bytes\":null,\"f_point\":null}");
    assert_false(s->has_f_int32);
    assert_null(s->f_string);
    assert_false(s->has_f_bytes);
    assert_null(s->f_point);
    assert_encodes_as(&s->base, "{}");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    Pbt__Repeateds *r =
        (Pbt__Repeateds *)decode_ok(&pbt__repeateds__descriptor, "{\"r_int32\":null}");
    assert_int_equal(r->n_r_int32, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Required fields                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_required_fields_round_trip(void **state)
{
    (void)state;
    const char *text = "{\"name\":\"n\",\"center\":{\"x\":1,\"y\":2},\"count\":3,"
                       "\"blob\":\"AQI=\",\"color\":\"RED\"}";
    ProtobufCMessage *m = decode_ok(&pbt__required__descriptor, text);
    assert_encodes_as(m, text);
    assert_pack_round_trip(m);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_decode_reports_missing_required_field(void **state)
{
    (void)state;
    expect_error(&pbt__required__descriptor,
                 "{\"name\":\"n\",\"count\":3,\"blob\":\"\",\"color\":\"RED\"}", NULL,
                 "missing required field 'center'");
    expect_error(&pbt__required__descriptor,
                 "{\"name\":\"n\",\"center\":null,\"count\":3,\"blob\":\"\",\"color\":1}", NULL,
                 "missing required field 'center'");
    expect_error(&pbt__required__descriptor,
                 "{\"name\":\"n\",\"center\":{\"x\":1,\"y\":2},\"blob\":\"\",\"color\":1}", NULL,
                 "missing required field 'count'");
    expect_error(&pbt__ticket__descriptor, "{\"fault\":{\"code\":\"E1\"}}", NULL,
                 "fault: missing required field 'center'");
    expect_error(&pbt__ticket__descriptor, "{\"fault\":{\"center\":{\"x\":1}}}", NULL,
                 "fault.center: missing required field 'y'");
    expect_error(&pbt__ticket__descriptor, "{\"device\":{}}", NULL,
                 "device: missing required field 'imei'");
}

/* ---------------------------------------------------------------------------------------- */
/* Error classes and paths                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void test_decode_rejects_unknown_field(void **state)
{
    (void)state;
    expect_error(&pbt__ticket__descriptor, "{\"id\":\"T\",\"colour\":\"RED\"}", NULL,
                 "unknown field 'colour'");
    expect_error(&pbt__ticket__descriptor, "{\"device\":{\"imei\":\"1\",\"serial\":\"2\"}}", NULL,
                 "device: unknown field 'serial'");
    /* Names are exact: no camelCase aliases, no case folding. */
    expect_error(&pbt__scalars__descriptor, "{\"fInt32\":1}", NULL, "unknown field 'fInt32'");
    expect_error(&pbt__scalars__descriptor, "{\"F_INT32\":1}", NULL, "unknown field 'F_INT32'");
}

static void test_decode_reports_wrong_type_with_field_path(void **state)
{
    (void)state;
    expect_error(&pbt__ticket__descriptor, "{\"device\":{\"imei\":356938035643809}}", NULL,
                 "device.imei: expected a string");
    expect_error(&pbt__ticket__descriptor, "{\"history\":{\"repairs\":{}}}", NULL,
                 "history.repairs: expected an array");
    expect_error(&pbt__ticket__descriptor, "{\"history\":{\"repairs\":[{},null]}}", NULL,
                 "history.repairs[1]: expected an object");
}

static void test_decode_rejects_non_object_for_message(void **state)
{
    (void)state;
    expect_error(&pbt__ticket__descriptor, "{\"fault\":\"E42\"}", NULL,
                 "fault: expected an object");
    expect_error(&pbt__ticket__descriptor, "{\"fault\":[]}", NULL, "fault: expected an object");
    expect_error(&pbt__ticket__descriptor, "[]", NULL, "expected an object");
    expect_error(&pbt__ticket__descriptor, "\"x\"", NULL, "expected an object");
}

static void test_decode_reports_path_into_repeated_messages(void **state)
{
    (void)state;
    expect_error(&pbt__ticket__descriptor,
                 "{\"history\":{\"repairs\":[{\"hours\":1},{\"hours\":2},"
                 "{\"hours\":2147483648}]}}",
                 NULL, "history.repairs[2].hours: integer out of range for int32");
    expect_error(&pbt__repeateds__descriptor,
                 "{\"r_point\":[{\"x\":1,\"y\":2},{\"x\":1,\"y\":2,\"label\":7}]}", NULL,
                 "r_point[1].label: expected a string");
}

static void test_decode_rejects_invalid_arguments(void **state)
{
    (void)state;
    json_t *j = parse("{}");
    char err[128];
    ProtobufCMessage *m = (ProtobufCMessage *)err;
    assert_int_equal(as_pbjson_decode(NULL, j, NULL, &m, err, sizeof(err)), -1);
    assert_null(m);
    assert_string_equal(err, "invalid arguments");
    m = (ProtobufCMessage *)err;
    assert_int_equal(as_pbjson_decode(&pbt__point__descriptor, NULL, NULL, &m, err, sizeof(err)),
                     -1);
    assert_null(m);
    assert_int_equal(as_pbjson_decode(&pbt__point__descriptor, j, NULL, NULL, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid arguments");
    json_decref(j);
}

static void test_decode_error_buffer_may_be_small_or_absent(void **state)
{
    (void)state;
    json_t *j = parse("{\"colour\":1}");
    ProtobufCMessage *m = NULL;
    char small[8];
    assert_int_equal(as_pbjson_decode(&pbt__ticket__descriptor, j, NULL, &m, small, sizeof(small)),
                     -1);
    assert_string_equal(small, "unknown");
    assert_int_equal(as_pbjson_decode(&pbt__ticket__descriptor, j, NULL, &m, NULL, 0), -1);
    assert_int_equal(as_pbjson_decode(&pbt__ticket__descriptor, j, NULL, &m, small, 0), -1);
    json_decref(j);

    j = parse("{\"device\":{\"imei\":1}}"); /* path prefix alone overflows the buffer */
    assert_int_equal(as_pbjson_decode(&pbt__ticket__descriptor, j, NULL, &m, small, sizeof(small)),
                     -1);
    assert_string_equal(small, "device.");
    json_decref(j);
}

static void test_decode_frees_partial_message_on_late_error(void **state)
{
    (void)state;
    /* Each input fails after strings, bytes, arrays and sub-messages were allocated;
     * LeakSanitizer reports anything not freed. */
    expect_error(&pbt__repeateds__descriptor,
                 "{\"r_string\":[\"a\",\"b\"],\"r_bytes\":[\"AA==\"],"
                 "\"r_point\":[{\"x\":1,\"y\":2,\"label\":\"l\"},{\"x\":1}]}",
                 NULL, "r_point[1]: missing required field 'y'");
    expect_error(&pbt__scalars__descriptor,
                 "{\"f_string\":\"s\",\"f_bytes\":\"AAAA\",\"f_point\":{\"x\":1,\"y\":2,"
                 "\"label\":\"l\",\"z\":0}}",
                 NULL, "f_point: unknown field 'z'");
    expect_error(&pbt__ticket__descriptor,
                 "{\"id\":\"T\",\"device\":{\"imei\":\"1\"},\"history\":{\"repairs\":[{\"note\":"
                 "\"n\"},{\"note\":\"m\",\"hours\":\"x\"}]}}",
                 NULL, "history.repairs[1].hours: expected an integer");
    expect_error(&pbt__defaults__descriptor,
                 "{\"d_string\":\"x\",\"d_bytes\":\"AA==\",\"d_enum\":9}", NULL,
                 "d_enum: unknown value 9 for enum pbt.Color");
}

/* ---------------------------------------------------------------------------------------- */
/* Oneof                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_oneof_member_sets_case_and_round_trips(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        Pbt__Choice__PayloadCase which;
    } cases[] = {
        {"{\"id\":\"c\",\"text\":\"hi\"}", PBT__CHOICE__PAYLOAD_TEXT},
        {"{\"text\":\"\"}", PBT__CHOICE__PAYLOAD_TEXT},
        {"{\"number\":-5}", PBT__CHOICE__PAYLOAD_NUMBER},
        {"{\"point\":{\"x\":1,\"y\":2}}", PBT__CHOICE__PAYLOAD_POINT},
        {"{\"raw\":\"AAE=\"}", PBT__CHOICE__PAYLOAD_RAW},
        {"{\"color\":\"BLUE\"}", PBT__CHOICE__PAYLOAD_COLOR},
        {"{\"id\":\"none\"}", PBT__CHOICE__PAYLOAD__NOT_SET},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Pbt__Choice *c = (Pbt__Choice *)decode_ok(&pbt__choice__descriptor, cases[i].json);
        assert_int_equal(c->payload_case, cases[i].which);
        assert_encodes_as(&c->base, cases[i].json);
        assert_pack_round_trip(&c->base);
        protobuf_c_message_free_unpacked(&c->base, NULL);
    }
}

static void test_oneof_rejects_two_members(void **state)
{
    (void)state;
    expect_error(&pbt__choice__descriptor, "{\"text\":\"a\",\"number\":1}", NULL,
                 "number: conflicts with field 'text' of the same oneof");
    expect_error(&pbt__choice__descriptor, "{\"point\":{\"x\":1,\"y\":2},\"raw\":\"\"}", NULL,
                 "raw: conflicts with field 'point' of the same oneof");
}

static void test_oneof_ignores_null_members(void **state)
{
    (void)state;
    Pbt__Choice *c = (Pbt__Choice *)decode_ok(&pbt__choice__descriptor,
                                              "{\"text\":null,\"number\":7,\"point\":null}");
    assert_int_equal(c->payload_case, PBT__CHOICE__PAYLOAD_NUMBER);
    assert_true(c->number == 7);
    protobuf_c_message_free_unpacked(&c->base, NULL);
}

static void test_oneof_message_member_error_frees_it(void **state)
{
    (void)state;
    expect_error(&pbt__choice__descriptor, "{\"point\":{\"x\":1,\"label\":\"l\"}}", NULL,
                 "point: missing required field 'y'");
    expect_error(&pbt__choice__descriptor, "{\"point\":5}", NULL, "point: expected an object");
}

/* ---------------------------------------------------------------------------------------- */
/* Limits                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_depth_limit_allows_exactly_max_depth(void **state)
{
    (void)state;
    char *ok = nested_nodes(16);
    ProtobufCMessage *m = decode_ok(&pbt__node__descriptor, ok);
    assert_pack_round_trip(m);
    protobuf_c_message_free_unpacked(m, NULL);
    free(ok);

    char *deep = nested_nodes(17);
    char expected[256] = "";
    for (int i = 0; i < 16; i++) {
        strcat(expected, i == 0 ? "child" : ".child");
    }
    strcat(expected, ": nesting depth exceeds the limit of 16");
    expect_error(&pbt__node__descriptor, deep, NULL, expected);
    free(deep);
}

static void test_depth_limit_applies_to_repeated_messages(void **state)
{
    (void)state;
    as_pbjson_limits_t l;
    as_pbjson_limits_default(&l);
    l.max_depth = 2;
    const char *text = "{\"children\":[{\"name\":\"a\"},{\"children\":[{}]}]}";
    expect_error(&pbt__node__descriptor, text, &l,
                 "children[1].children[0]: nesting depth exceeds the limit of 2");
    l.max_depth = 3;
    json_t *j = parse(text);
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(as_pbjson_decode(&pbt__node__descriptor, j, &l, &m, err, sizeof(err)), 0);
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(j);
}

static void test_repeated_limit_rejects_long_arrays(void **state)
{
    (void)state;
    as_pbjson_limits_t l;
    as_pbjson_limits_default(&l);
    l.max_repeated = 3;
    json_t *j = parse("{\"r_int32\":[1,2,3]}");
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(as_pbjson_decode(&pbt__repeateds__descriptor, j, &l, &m, err, sizeof(err)), 0);
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(j);
    expect_error(&pbt__repeateds__descriptor, "{\"r_point\":[{\"x\":1,\"y\":1},{},{},{}]}", &l,
                 "r_point: too many elements (4, limit 3)");

    /* Default limit: 10000 elements. */
    j = json_object();
    json_t *arr = json_array();
    assert_non_null(j);
    assert_non_null(arr);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(json_array_append_new(arr, json_integer(i)), 0);
    }
    assert_int_equal(json_object_set_new(j, "r_sint32", arr), 0);
    assert_int_equal(as_pbjson_decode(&pbt__repeateds__descriptor, j, NULL, &m, err, sizeof(err)),
                     0);
    assert_int_equal(((Pbt__Repeateds *)m)->n_r_sint32, 10000);
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(json_array_append_new(arr, json_integer(1)), 0);
    expect_error_json(&pbt__repeateds__descriptor, j, NULL,
                      "r_sint32: too many elements (10001, limit 10000)");
    json_decref(j);
}

static void test_string_limit_applies_to_strings_and_bytes(void **state)
{
    (void)state;
    as_pbjson_limits_t l;
    as_pbjson_limits_default(&l);
    l.max_string = 4;
    json_t *j = parse("{\"f_string\":\"abcd\",\"f_bytes\":\"AAAAAA==\"}");
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(as_pbjson_decode(&pbt__scalars__descriptor, j, &l, &m, err, sizeof(err)), 0);
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(j);
    expect_error(&pbt__scalars__descriptor, "{\"f_string\":\"abcde\"}", &l,
                 "f_string: string too long (5 bytes, limit 4)");
    expect_error(&pbt__scalars__descriptor, "{\"f_string\":\"\\u00e9\\u00e9\\u00e9\"}", &l,
                 "f_string: string too long (6 bytes, limit 4)");
    expect_error(&pbt__scalars__descriptor, "{\"f_bytes\":\"AAAAAAA=\"}", &l,
                 "f_bytes: bytes too long (5 bytes, limit 4)");
    expect_error(&pbt__repeateds__descriptor, "{\"r_string\":[\"ok\",\"too long\"]}", &l,
                 "r_string[1]: string too long (8 bytes, limit 4)");
}

static void test_default_string_limit_is_one_mebibyte(void **state)
{
    (void)state;
    size_t max = 1024 * 1024;
    char *big = malloc(max + 2);
    assert_non_null(big);
    memset(big, 'a', max + 1);
    big[max + 1] = '\0';

    json_t *j = json_object();
    assert_non_null(j);
    assert_int_equal(json_object_set_new(j, "f_string", json_stringn(big, max)), 0);
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(as_pbjson_decode(&pbt__scalars__descriptor, j, NULL, &m, err, sizeof(err)), 0);
    assert_int_equal(strlen(((Pbt__Scalars *)m)->f_string), max);
    protobuf_c_message_free_unpacked(m, NULL);

    assert_int_equal(json_object_set_new(j, "f_string", json_stringn(big, max + 1)), 0);
    expect_error_json(&pbt__scalars__descriptor, j, NULL,
                      "f_string: string too long (1048577 bytes, limit 1048576)");
    json_decref(j);
    free(big);
}

/* ---------------------------------------------------------------------------------------- */
/* Robustness                                                                                */
/* ---------------------------------------------------------------------------------------- */

static uint32_t rng_state = 0x12345678u;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static const ProtobufCMessageDescriptor *const fuzz_descs[] = {
    &pbt__scalars__descriptor,  &pbt__repeateds__descriptor, &pbt__defaults__descriptor,
    &pbt__required__descriptor, &pbt__choice__descriptor,    &pbt__node__descriptor,
    &pbt__ticket__descriptor,
};
#define N_FUZZ_DESCS (sizeof(fuzz_descs) / sizeof(fuzz_descs[0]))

/* Decode j with every descriptor; whatever succeeds must be a valid, stable message:
 * check passes, pack/unpack is lossless, and decode(encode(m)) encodes identically. */
static void fuzz_one(const json_t *j, const as_pbjson_limits_t *limits)
{
    for (size_t d = 0; d < N_FUZZ_DESCS; d++) {
        ProtobufCMessage *m = NULL;
        char err[256];
        if (as_pbjson_decode(fuzz_descs[d], j, limits, &m, err, sizeof(err)) != 0) {
            assert_null(m);
            assert_true(strlen(err) > 0);
            continue;
        }
        assert_true(protobuf_c_message_check(m));
        assert_pack_round_trip(m);

        json_t *e1 = as_pbjson_encode(m);
        assert_non_null(e1);
        ProtobufCMessage *m2 = NULL;
        int rc = as_pbjson_decode(fuzz_descs[d], e1, NULL, &m2, err, sizeof(err));
        if (rc != 0) {
            print_error("re-decode failed: %s\n", err);
        }
        assert_int_equal(rc, 0);
        json_t *e2 = as_pbjson_encode(m2);
        assert_non_null(e2);
        assert_true(json_equal(e1, e2));
        json_decref(e2);
        json_decref(e1);
        protobuf_c_message_free_unpacked(m2, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

static void test_fuzz_mutated_json_text_never_crashes(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        NULL, /* scalars_full */
        NULL, /* repeateds_full */
        NULL, /* ticket_full */
        "{\"id\":\"c\",\"point\":{\"x\":1,\"y\":2},\"text\":null}",
        "{\"name\":\"n\",\"center\":{\"x\":1,\"y\":2},\"count\":3,\"blob\":\"AQI=\",\"color\":1}",
        "{\"children\":[{\"child\":{\"name\":\"x\"}},{}],\"name\":\"root\"}",
        "{\"d_string\":\"x\",\"d_bytes\":\"AA==\",\"d_enum\":\"RED\",\"d_float\":\"NaN\"}",
    };
    static const char alphabet[] = "{}[]\",:0123456789-+.eEtrufalsn\\u=AZaz_ \x01\xc3\xa9";
    const char *texts[sizeof(seeds) / sizeof(seeds[0])];
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        texts[i] = seeds[i];
    }
    texts[0] = scalars_full;
    texts[1] = repeateds_full;
    texts[2] = ticket_full;

    as_pbjson_limits_t tight = {3, 4, 8};
    size_t parsed = 0;
    for (int iter = 0; iter < 4000; iter++) {
        const char *seed = texts[rnd() % (sizeof(texts) / sizeof(texts[0]))];
        size_t len = strlen(seed);
        char *buf = malloc(len + 8);
        assert_non_null(buf);
        memcpy(buf, seed, len + 1);
        int mutations = 1 + (int)(rnd() % 4);
        for (int k = 0; k < mutations; k++) {
            size_t pos = len > 0 ? rnd() % len : 0;
            switch (rnd() % 4) {
            case 0: /* replace */
                if (len > 0) {
                    buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                }
                break;
            case 1: /* delete */
                if (len > 0) {
                    memmove(buf + pos, buf + pos + 1, len - pos);
                    len--;
                }
                break;
            case 2: /* insert (at most 4 per input: the buffer has room) */
                memmove(buf + pos + 1, buf + pos, len - pos + 1);
                buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                len++;
                break;
            default: /* random byte */
                if (len > 0) {
                    buf[pos] = (char)(1 + rnd() % 255);
                }
                break;
            }
        }
        json_error_t jerr;
        json_t *j = json_loads(buf, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (j != NULL) {
            parsed++;
            fuzz_one(j, NULL);
            fuzz_one(j, &tight);
            json_decref(j);
        }
        free(buf);
    }
    assert_true(parsed > 500); /* the loop really exercised the decoder */
}

static const char *const fuzz_keys[] = {
    "f_int32", "f_uint32", "f_uint64", "f_float",  "f_double", "f_bool",  "f_string",
    "f_bytes", "f_enum",   "f_point",  "r_int32",  "r_string", "r_bytes", "r_enum",
    "r_point", "r_float",  "x",        "y",        "label",    "name",    "center",
    "count",   "blob",     "color",    "text",     "number",   "point",   "raw",
    "id",      "child",    "children", "device",   "imei",     "fault",   "history",
    "repairs", "hours",    "note",     "d_string", "d_bytes",  "d_enum",  "bogus",
};

static json_t *random_value(int depth);

static json_t *random_object(int depth)
{
    json_t *o = json_object();
    assert_non_null(o);
    int n = (int)(rnd() % 5);
    for (int i = 0; i < n; i++) {
        const char *key = fuzz_keys[rnd() % (sizeof(fuzz_keys) / sizeof(fuzz_keys[0]))];
        assert_int_equal(json_object_set_new(o, key, random_value(depth + 1)), 0);
    }
    return o;
}

static json_t *random_value(int depth)
{
    static const char *const strings[] = {"",    "AA==", "RED",      "BLUE",     "NaN",
                                          "Zg=", "x",    "Infinity", "INFRARED", "\xc3\xa9"};
    static const json_int_t ints[] = {
        0,         1,        -1, 2, 5, -3, 2147483647, 2147483648LL, 4294967295LL, 4294967296LL,
        INT64_MAX, INT64_MIN};
    static const double reals[] = {0.5, -1.25, 1e39, 3.0e38, -0.0, 1e-320};
    unsigned kind = rnd() % (depth > 4 ? 7 : 9);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd() % 2);
    case 2:
    case 3:
        return json_integer(ints[rnd() % (sizeof(ints) / sizeof(ints[0]))]);
    case 4:
        return json_real(reals[rnd() % (sizeof(reals) / sizeof(reals[0]))]);
    case 5:
    case 6:
        return json_string(strings[rnd() % (sizeof(strings) / sizeof(strings[0]))]);
    case 7: {
        json_t *a = json_array();
        assert_non_null(a);
        int n = (int)(rnd() % 4);
        for (int i = 0; i < n; i++) {
            assert_int_equal(json_array_append_new(a, random_value(depth + 1)), 0);
        }
        return a;
    }
    default:
        return random_object(depth);
    }
}

static void test_fuzz_random_json_trees_never_crash(void **state)
{
    (void)state;
    as_pbjson_limits_t tight = {2, 2, 3};
    for (int iter = 0; iter < 3000; iter++) {
        json_t *j = random_object(0);
        fuzz_one(j, NULL);
        fuzz_one(j, &tight);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_default_sets_documented_values),
        cmocka_unit_test(test_every_scalar_type_decodes_into_the_struct),
        cmocka_unit_test(test_every_scalar_type_round_trips_through_json),
        cmocka_unit_test(test_every_repeated_type_round_trips_through_json),
        cmocka_unit_test(test_decoded_messages_pass_check_and_survive_pack_unpack),
        cmocka_unit_test(test_unpacked_wire_message_encodes_like_the_decoded_one),
        cmocka_unit_test(test_extreme_integer_values_survive_pack_unpack),
        cmocka_unit_test(test_encode_omits_absent_optional_fields),
        cmocka_unit_test(test_encode_emits_repeated_fields_as_empty_arrays),
        cmocka_unit_test(test_encode_always_emits_required_fields),
        cmocka_unit_test(test_encode_string_is_compact_and_in_field_number_order),
        cmocka_unit_test(test_encode_rejects_null_message),
        cmocka_unit_test(test_encode_writes_uint64_above_int64_max_as_decimal_string),
        cmocka_unit_test(test_encode_replaces_invalid_utf8_with_replacement_character),
        cmocka_unit_test(test_encode_writes_undeclared_enum_value_as_integer),
        cmocka_unit_test(test_decode_range_checks_every_integer_type),
        cmocka_unit_test(test_decode_rejects_negative_values_for_unsigned_types),
        cmocka_unit_test(test_decode_rejects_reals_strings_and_booleans_for_integers),
        cmocka_unit_test(test_decode_float_and_double_accept_integers_and_reals),
        cmocka_unit_test(test_decode_rejects_float_out_of_range),
        cmocka_unit_test(test_non_finite_floats_round_trip_as_strings),
        cmocka_unit_test(test_decode_bool_accepts_only_true_and_false),
        cmocka_unit_test(test_decode_rejects_non_string_for_string_field),
        cmocka_unit_test(test_decode_rejects_strings_containing_nul),
        cmocka_unit_test(test_bytes_encode_as_padded_standard_base64),
        cmocka_unit_test(test_decode_rejects_bad_base64),
        cmocka_unit_test(test_enum_decodes_by_name_and_by_number),
        cmocka_unit_test(test_enum_rejects_unknown_names_and_numbers),
        cmocka_unit_test(test_absent_fields_keep_proto_defaults_and_are_not_encoded),
        cmocka_unit_test(test_present_fields_override_defaults),
        cmocka_unit_test(test_unpacked_message_with_defaults_encodes_as_empty_object),
        cmocka_unit_test(test_json_null_is_treated_as_absent),
        cmocka_unit_test(test_required_fields_round_trip),
        cmocka_unit_test(test_decode_reports_missing_required_field),
        cmocka_unit_test(test_decode_rejects_unknown_field),
        cmocka_unit_test(test_decode_reports_wrong_type_with_field_path),
        cmocka_unit_test(test_decode_rejects_non_object_for_message),
        cmocka_unit_test(test_decode_reports_path_into_repeated_messages),
        cmocka_unit_test(test_decode_rejects_invalid_arguments),
        cmocka_unit_test(test_decode_error_buffer_may_be_small_or_absent),
        cmocka_unit_test(test_decode_frees_partial_message_on_late_error),
        cmocka_unit_test(test_oneof_member_sets_case_and_round_trips),
        cmocka_unit_test(test_oneof_rejects_two_members),
        cmocka_unit_test(test_oneof_ignores_null_members),
        cmocka_unit_test(test_oneof_message_member_error_frees_it),
        cmocka_unit_test(test_depth_limit_allows_exactly_max_depth),
        cmocka_unit_test(test_depth_limit_applies_to_repeated_messages),
        cmocka_unit_test(test_repeated_limit_rejects_long_arrays),
        cmocka_unit_test(test_string_limit_applies_to_strings_and_bytes),
        cmocka_unit_test(test_default_string_limit_is_one_mebibyte),
        cmocka_unit_test(test_fuzz_mutated_json_text_never_crashes),
        cmocka_unit_test(test_fuzz_random_json_trees_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
