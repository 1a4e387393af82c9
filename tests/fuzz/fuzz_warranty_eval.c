/* fuzz_warranty_eval.c — libFuzzer target: the 三包 warranty engine (services/warranty/engine.c).
 *
 * The input is one line of the evaluator format. wr_evaluate_line runs it under three policies:
 * none (NULL = the statutory defaults), the explicit defaults, and a rich policy with a holiday
 * calendar, manufacturer promises, other rates and a fault-code table. Properties:
 *   - the result is 0 (nothing written) exactly for a blank line, otherwise 1 with one line of
 *     JSON: an object with "id" and either an "error" string or the contract's "status" (one of
 *     the five statuses) with regime, remedy, entitled, free, coverage_end, rules and reason;
 *     money fields are non-negative integers;
 *   - NULL and the explicit defaults give byte-identical output.
 * The same bytes also go through wr_holidays_read (as a calendar file) and wr_date_parse. */
#include "engine.h"
#include "fuzz_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wr_policy_t policy_default, policy_rich;
static int32_t holidays[32];

static const wr_manufacturer_promise_t promises[] = {
    {.brand = "Huaxin", .category = "*", .extra_validity_months = 12},
    {.brand = "Huaxin", .category = "phone_battery", .extra_validity_months = 6},
    {.brand = "DriveCo",
     .category = "car",
     .extra_validity_months = 6,
     .extra_warranty_months = 12},
};

static const wr_fault_code_t fault_codes[] = {
    {.code = "no_power", .category = "*", .listed = 1},
    {.code = "no_display", .category = "phone_host", .listed = 1},
    {.code = "liquid", .category = "*", .listed = 0},
    {.code = "brake_failure", .category = "car", .listed = 1},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* 2024 and 2025 statutory holidays (a sample; enough to exercise the D-3 roll-forward). */
    static const char *const days[] = {
        "2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-07", "2025-01-01",
        "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04",
        "2025-04-04", "2025-05-01", "2025-05-02", "2025-05-05", "2025-06-02", "2025-10-01",
        "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"};
    size_t n = sizeof days / sizeof days[0];
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(wr_date_parse(days[i], &holidays[i]) == 0, "bad holiday %s", days[i]);
    wr_policy_defaults(&policy_default);
    wr_policy_defaults(&policy_rich);
    policy_rich.holidays = holidays;
    policy_rich.n_holidays = n;
    policy_rich.phone_depreciation_ppm = 4000;
    policy_rich.car_use_comp_default_ppm = 6000;
    policy_rich.promises = promises;
    policy_rich.n_promises = sizeof promises / sizeof promises[0];
    policy_rich.fault_codes = fault_codes;
    policy_rich.n_fault_codes = sizeof fault_codes / sizeof fault_codes[0];
    policy_rich.version = "fuzz";
    return 0;
}

static int blank(const uint8_t *data, size_t size)
{
    while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    for (size_t i = 0; i < size; i++)
        if (!isspace(data[i]))
            return 0;
    return 1;
}

static void money(const json_t *o, const char *key, const char *line)
{
    const json_t *v = json_object_get(o, key);
    if (v)
        FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) >= 0,
                   "\"%s\" must be a non-negative integer: %s", key, line);
}

static void check_output(const char *out)
{
    FUZZ_CHECK(strchr(out, '\n') == NULL, "the output is more than one line: %s", out);
    json_error_t jerr;
    json_t *o = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(json_is_object(o), "the output is not a JSON object (%s): %s", jerr.text, out);
    const json_t *id = json_object_get(o, "id");
    FUZZ_CHECK(id && (json_is_string(id) || json_is_null(id)), "no id: %s", out);
    const json_t *err = json_object_get(o, "error");
    const json_t *st = json_object_get(o, "status");
    if (err) {
        FUZZ_CHECK(json_is_string(err) && json_string_length(err) > 0 && !st,
                   "an error answer needs a message and no status: %s", out);
    } else {
        static const char *const statuses[] = {"granted", "granted_with_depreciation", "denied",
                                               "not_covered", "exempt"};
        FUZZ_CHECK(json_is_string(st), "neither error nor status: %s", out);
        int known = 0;
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
            known |= strcmp(json_string_value(st), statuses[i]) == 0;
        FUZZ_CHECK(known, "unknown status: %s", out);
        FUZZ_CHECK(json_is_string(json_object_get(o, "regime")), "no regime: %s", out);
        FUZZ_CHECK(json_is_string(json_object_get(o, "remedy")), "no remedy: %s", out);
        FUZZ_CHECK(json_is_array(json_object_get(o, "entitled")), "no entitled: %s", out);
        FUZZ_CHECK(json_is_boolean(json_object_get(o, "free")), "no free: %s", out);
        const json_t *end = json_object_get(o, "coverage_end");
        int32_t d;
        FUZZ_CHECK(end && (json_is_null(end) ||
                           (json_is_string(end) && wr_date_parse(json_string_value(end), &d) == 0)),
                   "coverage_end must be null or a date: %s", out);
        FUZZ_CHECK(json_is_array(json_object_get(o, "rules")), "no rules: %s", out);
        FUZZ_CHECK(json_is_string(json_object_get(o, "reason")), "no reason: %s", out);
        money(o, "refund_cents", out);
        money(o, "depreciation_cents", out);
        money(o, "use_compensation_cents", out);
    }
    json_decref(o);
}

static void check_holidays_file(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return;
    int32_t *days = NULL;
    size_t n = 12345;
    char err[256] = "";
    if (wr_holidays_read(f, &days, &n, err, sizeof err) == 0) {
        for (size_t i = 1; i < n; i++)
            FUZZ_CHECK(days[i - 1] < days[i], "holidays not sorted and unique at %zu", i);
        FUZZ_CHECK(n == 0 || days != NULL, "%zu holidays but no array", n);
    } else {
        FUZZ_CHECK(err[0] != '\0', "a refused calendar must say why");
    }
    free(days);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    char *outs[3] = {NULL, NULL, NULL};
    const wr_policy_t *pols[3] = {NULL, &policy_default, &policy_rich};
    for (int i = 0; i < 3; i++) {
        int rc = wr_evaluate_line(line, size, pols[i], &outs[i]);
        if (blank(data, size)) {
            FUZZ_CHECK(rc == 0 && outs[i] == NULL, "a blank line gave %d", rc);
            continue;
        }
        FUZZ_CHECK(rc == 1 && outs[i] != NULL, "wr_evaluate_line returned %d", rc);
        check_output(outs[i]);
    }
    if (outs[0] && outs[1])
        FUZZ_CHECK(strcmp(outs[0], outs[1]) == 0,
                   "NULL policy and explicit defaults differ:\n%s\n%s", outs[0], outs[1]);
    for (int i = 0; i < 3; i++)
        free(outs[i]);

    char *s = fuzz_strndup(data, size);
    int32_t d = 0;
    if (wr_date_parse(s, &d) == 0) {
        char back[11];
        wr_date_format(d, back);
        FUZZ_CHECK(strcmp(back, s) == 0, "date '%s' formats back as '%s'", s, back);
    }
    free(s);
    check_holidays_file(data, size);
    return 0;
}
