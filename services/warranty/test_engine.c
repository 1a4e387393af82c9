/*
 * test_engine.c — cmocka unit tests of the 三包 warranty adjudication engine (engine.c).
 *
 * Every rule id of docs/warranty-rules.md (D-1..D-6, M-1..M-14, E1..E6, G-1..G-6,
 * C-1..C-11) and every one of its numbered conventions is exercised, with both sides of each
 * boundary. Requests are written as JSON with single quotes (turned into double quotes by the
 * helpers) so they stay readable. Expected values were worked out by hand from the rulebook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

#define FULL_PROOFS "'proofs':{'invoice':true,'warranty_card':true}"
#define LISTED      "'fault':{'code':'no_power','listed':true}"

/* Evaluate a request written with single quotes under policy p (NULL: defaults). */
static json_t *eval_policy(const wr_policy_t *p, const char *fmt, ...)
{
    char buf[1 << 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *c = buf; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_error_t e;
    json_t *req = json_loads(buf, JSON_REJECT_DUPLICATES, &e);
    if (req == NULL)
        fail_msg("test request is not JSON (%s): %s", e.text, buf);
    json_t *d = wr_evaluate(req, p);
    json_decref(req);
    assert_non_null(d);
    return d;
}

#define EVAL(...) eval_policy(NULL, __VA_ARGS__)

/* A phone (or accessory) request: id t, price 1000.00, full proofs and a listed fault unless
 * `extra` supplies its own "proofs" / "fault". */
static json_t *phone(const char *category, const char *invoice, const char *claim,
                     const char *request, const char *extra)
{
    return EVAL("{'id':'t','category':'%s','invoice_date':'%s','claim_date':'%s',"
                "'price_cents':100000,'request':'%s'%s%s%s%s}",
                category, invoice, claim, request, strstr(extra, "'proofs'") ? "" : ",",
                strstr(extra, "'proofs'") ? "" : FULL_PROOFS, strstr(extra, "'fault'") ? "" : ",",
                strstr(extra, "'fault'") ? "" : LISTED);
}

/* Same as phone() but with extra fields appended. */
static json_t *phone_x(const char *category, const char *invoice, const char *claim,
                       const char *request, const char *extra)
{
    return EVAL("{'id':'t','category':'%s','invoice_date':'%s','claim_date':'%s',"
                "'price_cents':100000,'request':'%s'%s%s%s%s,%s}",
                category, invoice, claim, request, strstr(extra, "'proofs'") ? "" : ",",
                strstr(extra, "'proofs'") ? "" : FULL_PROOFS, strstr(extra, "'fault'") ? "" : ",",
                strstr(extra, "'fault'") ? "" : LISTED, extra);
}

#define HOST(claim, request)          phone("phone_host", "2025-04-10", claim, request, "")
#define HOST_X(claim, request, extra) phone_x("phone_host", "2025-04-10", claim, request, extra)

/* A general-goods request: price 3000.00, full proofs, listed fault, plus extra fields. */
static json_t *goods(const char *item, const char *invoice, const char *claim, const char *request,
                     const char *extra)
{
    return EVAL("{'id':'g','category':'general','general_item':'%s','invoice_date':'%s',"
                "'claim_date':'%s','price_cents':300000,'request':'%s'," FULL_PROOFS "," LISTED
                "%s%s}",
                item, invoice, claim, request, *extra ? "," : "", extra);
}

/* A car request: price 200000.00, invoice + warranty card, plus extra fields. */
static json_t *car(const char *invoice, const char *claim, long km, const char *request,
                   const char *extra)
{
    return EVAL("{'id':'c','category':'car','invoice_date':'%s','claim_date':'%s',"
                "'odometer_km':%ld,'price_cents':20000000,'request':'%s'," FULL_PROOFS "%s%s}",
                invoice, claim, km, request, *extra ? "," : "", extra);
}

static void expect_str(const json_t *d, const char *key, const char *want)
{
    const json_t *v = json_object_get(d, key);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
        char *s = json_dumps(d, JSON_COMPACT);
        print_error("decision: %s\n", s);
        free(s);
        fail_msg("%s: expected \"%s\"", key, want);
    }
}

/* Compare a JSON string array with a comma-separated list ("" for empty). */
static void expect_list(const json_t *d, const char *key, const char *csv)
{
    const json_t *a = json_object_get(d, key);
    char got[512] = "";
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        fail_msg("%s: not an array", key);
    json_array_foreach(a, i, v)
    {
        if (i > 0)
            strcat(got, ",");
        strncat(got, json_string_value(v), 100);
    }
    if (strcmp(got, csv) != 0) {
        char *s = json_dumps(d, JSON_COMPACT);
        print_error("decision: %s\n", s);
        free(s);
        fail_msg("%s: expected [%s], got [%s]", key, csv, got);
    }
}

static bool has_in_list(const json_t *d, const char *key, const char *item)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, key), i, v)
    {
        if (strcmp(json_string_value(v), item) == 0)
            return true;
    }
    return false;
}

static void expect_rule(const json_t *d, const char *rule)
{
    if (!has_in_list(d, "rules", rule)) {
        char *s = json_dumps(d, JSON_COMPACT);
        print_error("decision: %s\n", s);
        free(s);
        fail_msg("rule %s missing", rule);
    }
}

static void expect_no_rule(const json_t *d, const char *rule)
{
    if (has_in_list(d, "rules", rule))
        fail_msg("rule %s unexpectedly present", rule);
}

static void expect_int(const json_t *d, const char *key, long long want)
{
    const json_t *v = json_object_get(d, key);
    if (!json_is_integer(v)) {
        char *s = json_dumps(d, JSON_COMPACT);
        print_error("decision: %s\n", s);
        free(s);
        fail_msg("%s: missing or not an integer", key);
    }
    assert_int_equal(json_integer_value(v), want);
}

static void expect_absent(const json_t *d, const char *key)
{
    if (json_object_get(d, key) != NULL)
        fail_msg("%s: unexpectedly present", key);
}

/* The four fields every decision test checks. */
static void expect_decision(const json_t *d, const char *status, const char *remedy,
                            const char *entitled, bool is_free)
{
    if (json_object_get(d, "error") != NULL)
        fail_msg("unexpected error: %s", json_string_value(json_object_get(d, "error")));
    expect_str(d, "status", status);
    expect_str(d, "remedy", remedy);
    expect_list(d, "entitled", entitled);
    const json_t *f = json_object_get(d, "free");
    assert_true(json_is_boolean(f));
    assert_int_equal(json_is_true(f), is_free);
}

static void expect_error(const json_t *d, const char *id, const char *fragment)
{
    const json_t *e = json_object_get(d, "error");
    if (!json_is_string(e))
        fail_msg("expected an error object");
    if (strstr(json_string_value(e), fragment) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", json_string_value(e), fragment);
    const json_t *idv = json_object_get(d, "id");
    if (id == NULL)
        assert_true(json_is_null(idv));
    else
        expect_str(d, "id", id);
    assert_int_equal(json_object_size(d), 2);
}

static void expect_not_covered(const json_t *d, const char *rules)
{
    expect_decision(d, "not_covered", "repair", "repair", false);
    expect_list(d, "rules", rules);
    expect_absent(d, "refund_cents");
}

static void expect_exempt(const json_t *d, const char *rules)
{
    expect_decision(d, "exempt", "repair", "repair", false);
    expect_list(d, "rules", rules);
}

/* ---------------------------------------------------------------------------------------- */
/* D-1, D-2: dates                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_date_parse_accepts_leap_day_2024_02_29(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(wr_date_parse("2024-02-29", &d), 0);
    char out[11];
    wr_date_format(d, out);
    assert_string_equal(out, "2024-02-29");
    assert_int_equal(wr_date_parse("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(wr_date_parse("2000-03-01", &d), 0);
    assert_int_equal(d, 11017);
}

static void test_date_parse_rejects_impossible_and_loose_dates(void **state)
{
    (void)state;
    int32_t d;
    const char *bad[] = {"2023-02-29", "2025-04-31", "2025-13-01", "2025-00-10",  "2025-1-01",
                         "2025-01-1",  "20250101",   "2025/01/01", " 2025-01-01", "2025-01-01 ",
                         "abcd-ef-gh", "",           "1899-12-31", "3000-01-01",  "2100-02-29"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (wr_date_parse(bad[i], &d) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(wr_date_parse(NULL, &d), -1);
}

static void test_date_format_round_trips_every_day_of_two_centuries(void **state)
{
    (void)state;
    int32_t first, last;
    assert_int_equal(wr_date_parse("1900-01-01", &first), 0);
    assert_int_equal(wr_date_parse("2100-12-31", &last), 0);
    for (int32_t d = first; d <= last; d++) {
        char s[11];
        int32_t back;
        wr_date_format(d, s);
        assert_int_equal(wr_date_parse(s, &back), 0);
        assert_int_equal(back, d);
    }
}

static void expect_add_months(const char *from, int months, const char *want)
{
    int32_t d;
    char out[11];
    assert_int_equal(wr_date_parse(from, &d), 0);
    wr_date_format(wr_add_months(d, months), out);
    assert_string_equal(out, want);
}

static void test_add_months_aug_31_plus_6_clamps_to_feb_29_in_leap_year(void **state)
{
    (void)state;
    expect_add_months("2023-08-31", 6, "2024-02-29");
}

static void test_add_months_aug_31_plus_6_clamps_to_feb_28_in_common_year(void **state)
{
    (void)state;
    expect_add_months("2024-08-31", 6, "2025-02-28");
}

static void test_add_months_feb_29_plus_12_ends_feb_28(void **state)
{
    (void)state;
    expect_add_months("2024-02-29", 12, "2025-02-28");
    expect_add_months("2024-02-29", 48, "2028-02-29");
}

static void test_add_months_keeps_day_of_month_and_never_uses_365_days(void **state)
{
    (void)state;
    expect_add_months("2023-03-01", 12, "2024-03-01"); /* 366 days across a leap day */
    expect_add_months("2025-01-31", 1, "2025-02-28");
    expect_add_months("2025-01-31", 3, "2025-04-30");
    expect_add_months("2025-12-15", 1, "2026-01-15");
    expect_add_months("2025-03-31", -1, "2025-02-28");
    expect_add_months("2022-03-01", 36, "2025-03-01");
}

static void test_d1_day_index_excludes_the_start_day_across_a_year_end(void **state)
{
    (void)state;
    json_t *d = phone("phone_host", "2024-12-31", "2025-01-07", "refund", "");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-2");
    json_decref(d);
    d = phone("phone_host", "2024-12-31", "2025-01-08", "refund", "");
    expect_str(d, "status", "granted_with_depreciation");
    expect_list(d, "rules", "M-3,M-10");
    json_decref(d);
}

static void test_d4_yinei_includes_the_number_and_chaoguo_excludes_it(void **state)
{
    (void)state;
    /* 3000 km 以内 includes 3000; 超过60日 starts at 61; 超过30日 starts at 31. */
    json_t *d = car("2022-03-01", "2022-03-20", 3000, "refund", "'fault':{'car':'fuel_leak'}");
    expect_str(d, "status", "granted");
    json_decref(d);
    d = phone_x("phone_host", "2025-01-10", "2025-04-30", "exchange",
                "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'producer_parts'}");
    expect_str(d, "status", "denied");
    json_decref(d);
    d = phone_x("phone_host", "2025-01-10", "2025-03-31", "exchange",
                "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'repairer'}");
    expect_str(d, "status", "denied");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* The evaluation contract's examples                                                       */
/* ---------------------------------------------------------------------------------------- */

static void test_example_host_day_7_refund_granted_with_full_price(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'ex1','category':'phone_host','invoice_date':'2025-04-10',"
                     "'claim_date':'2025-04-17','price_cents':399900," FULL_PROOFS "," LISTED
                     ",'request':'refund'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_str(d, "id", "ex1");
    expect_str(d, "regime", "phone-2001");
    expect_int(d, "refund_cents", 399900);
    expect_absent(d, "depreciation_cents");
    expect_list(d, "rules", "M-2");
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

static void test_example_battery_aug_31_claim_feb_28_is_inside_and_exchanged(void **state)
{
    (void)state;
    json_t *d = phone("phone_battery", "2024-08-31", "2025-02-28", "exchange", "");
    expect_decision(d, "granted", "exchange", "exchange,repair", true);
    expect_str(d, "coverage_end", "2025-02-28");
    expect_list(d, "rules", "M-4,M-6");
    json_decref(d);
}

static void test_example_host_liquid_damage_day_3_not_covered_e2(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'flags':{'misuse':true}");
    expect_not_covered(d, "E2");
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-2, M-3, M-4, M-14: windows and validity of a phone host                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_phone_host_day_0_refund_granted(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-10", "refund");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_int(d, "refund_cents", 100000);
    expect_list(d, "rules", "M-2");
    json_decref(d);
}

static void test_phone_host_day_7_refund_granted(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-17", "refund");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-2");
    json_decref(d);
}

/* Day 8 is past M-2: no full refund. The host is exchange-eligible under M-3 and the seller
 * has the model, so M-10 offers the refund minus 8 days of depreciation (0.5 %/day). */
static void test_phone_host_day_8_full_refund_denied_depreciated_refund_granted(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-18", "refund");
    expect_decision(d, "granted_with_depreciation", "refund", "refund,exchange,repair", false);
    expect_int(d, "depreciation_cents", 4000);
    expect_int(d, "refund_cents", 96000);
    expect_list(d, "rules", "M-3,M-10");
    json_decref(d);
}

static void test_phone_host_day_8_exchange_granted_free(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-18", "exchange");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_rule(d, "M-3");
    expect_no_rule(d, "M-2");
    json_decref(d);
}

static void test_phone_host_day_15_exchange_granted(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-25", "exchange");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-3,M-10");
    json_decref(d);
}

static void test_phone_host_day_16_exchange_denied_repair_entitled(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-26", "exchange");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4");
    expect_absent(d, "refund_cents");
    json_decref(d);
}

static void test_phone_host_day_16_repair_granted_free_under_m4(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-26", "repair");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "M-4");
    json_decref(d);
}

static void test_phone_host_unlisted_fault_day_3_refund_denied_repair_only(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'fault':{'code':'scratch','listed':false}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4,M-14");
    json_decref(d);
}

static void test_phone_host_missing_fault_counts_as_unlisted(void **state)
{
    (void)state;
    json_t *d =
        EVAL("{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12','price_cents':1," FULL_PROOFS ",'request':'repair'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "M-4,M-14");
    json_decref(d);
}

static void test_phone_host_last_day_of_validity_repair_granted(void **state)
{
    (void)state;
    json_t *d = HOST("2026-04-10", "repair");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

static void test_phone_host_day_after_validity_not_covered_e1(void **state)
{
    (void)state;
    json_t *d = HOST("2026-04-11", "repair");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

static void test_phone_host_bought_on_leap_day_validity_ends_feb_28(void **state)
{
    (void)state;
    json_t *d = phone("phone_host", "2024-02-29", "2025-02-28", "repair", "");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2025-02-28");
    json_decref(d);
    d = phone("phone_host", "2024-02-29", "2025-03-01", "repair", "");
    expect_not_covered(d, "E1");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-1: accessory periods                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_battery_day_after_feb_28_clamp_not_covered(void **state)
{
    (void)state;
    json_t *d = phone("phone_battery", "2024-08-31", "2025-03-01", "exchange", "");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2025-02-28");
    json_decref(d);
}

static void test_battery_bought_aug_31_2023_validity_ends_leap_day(void **state)
{
    (void)state;
    json_t *d = phone("phone_battery", "2023-08-31", "2024-02-29", "exchange", "");
    expect_decision(d, "granted", "exchange", "exchange,repair", true);
    expect_str(d, "coverage_end", "2024-02-29");
    json_decref(d);
}

static void test_accessory_validity_periods_follow_m1(void **state)
{
    (void)state;
    const struct {
        const char *category, *end;
    } cases[] = {{"phone_host", "2026-01-15"},      {"phone_battery", "2025-07-15"},
                 {"phone_charger", "2026-01-15"},   {"phone_headset", "2025-04-15"},
                 {"phone_data_card", "2026-01-15"}, {"phone_terminal_card", "2026-01-15"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *d = phone(cases[i].category, "2025-01-15", "2025-04-15", "repair", "");
        expect_str(d, "coverage_end", cases[i].end);
        expect_str(d, "status", "granted");
        json_decref(d);
    }
    json_t *d = phone("phone_headset", "2025-01-15", "2025-04-16", "repair", "");
    expect_not_covered(d, "E1");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* D-3 holidays                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void test_validity_end_on_a_holiday_rolls_to_the_next_day(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_host", "2025-05-01", "2026-05-02", "repair", "'holidays':['2026-05-01']");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-05-02");
    expect_list(d, "rules", "M-4,D-3");
    json_decref(d);
    d = phone_x("phone_host", "2025-05-01", "2026-05-03", "repair", "'holidays':['2026-05-01']");
    expect_not_covered(d, "E1,D-3");
    json_decref(d);
}

static void test_validity_end_in_a_holiday_run_rolls_past_the_whole_run(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_host", "2025-05-01", "2026-05-06", "repair",
                "'holidays':['2026-05-05','2026-05-01','2026-05-02','2026-05-03','2026-05-04']");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-05-06");
    json_decref(d);
}

static void test_validity_end_on_a_weekend_does_not_roll(void **state)
{
    (void)state;
    /* 2026-04-11 is a Saturday: without a holiday entry nothing moves. */
    json_t *d = phone("phone_host", "2025-04-11", "2026-04-12", "repair", "");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2026-04-11");
    json_decref(d);
}

static void test_seven_day_window_never_rolls_over_a_holiday(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-18", "refund", "'holidays':['2025-04-17']");
    expect_str(d, "status", "granted_with_depreciation");
    expect_rule(d, "M-3");
    expect_no_rule(d, "M-2");
    expect_no_rule(d, "D-3");
    json_decref(d);
}

static void test_fifteen_day_window_never_rolls_over_a_holiday(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-26", "exchange", "'holidays':['2025-04-25']");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4");
    json_decref(d);
}

static void test_policy_calendar_and_request_holidays_are_combined(void **state)
{
    (void)state;
    wr_policy_t p;
    wr_policy_defaults(&p);
    int32_t h;
    assert_int_equal(wr_date_parse("2026-05-01", &h), 0);
    p.holidays = &h;
    p.n_holidays = 1;
    json_t *d = eval_policy(&p, "{'id':'t','category':'phone_host','invoice_date':'2025-05-01',"
                                "'claim_date':'2026-05-03','request':'repair'," FULL_PROOFS
                                "," LISTED ",'holidays':['2026-05-02']}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-05-03");
    json_decref(d);
    /* The policy calendar alone rolls one day only. */
    d = eval_policy(&p, "{'id':'t','category':'phone_host','invoice_date':'2025-05-01',"
                        "'claim_date':'2026-05-03','request':'repair'," FULL_PROOFS "," LISTED "}");
    expect_not_covered(d, "E1,D-3");
    expect_str(d, "coverage_end", "2026-05-02");
    json_decref(d);
}

static void test_empty_calendar_rolls_nothing(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-05-01", "2026-05-02", "repair", "'holidays':[]");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2026-05-01");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* D-5 extension                                                                             */
/* ---------------------------------------------------------------------------------------- */

#define ONE_REPAIR                                                                                 \
    "'history':{'repairs':[{'dropped_off':'2025-06-01','returned':'2025-06-11',"                   \
    "'listed':true}]}"

static void test_completed_repair_extends_validity_by_its_days(void **state)
{
    (void)state;
    json_t *d = HOST_X("2026-04-20", "repair", ONE_REPAIR);
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-04-20");
    expect_list(d, "rules", "M-4,D-5");
    json_decref(d);
    d = HOST_X("2026-04-21", "repair", ONE_REPAIR);
    expect_not_covered(d, "E1,D-5");
    json_decref(d);
}

static void test_extension_is_applied_before_the_holiday_roll(void **state)
{
    (void)state;
    json_t *d = HOST_X("2026-04-21", "repair", ONE_REPAIR ",'holidays':['2026-04-20']");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-04-21");
    expect_list(d, "rules", "M-4,D-3,D-5");
    json_decref(d);
}

static void test_open_repair_begun_inside_validity_keeps_the_claim_covered(void **state)
{
    (void)state;
    json_t *d = HOST_X("2026-04-25", "repair", "'open_repair':{'dropped_off':'2026-04-01'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-05-04");
    expect_list(d, "rules", "M-4,D-5");
    json_decref(d);
}

static void test_repair_dropped_off_after_validity_does_not_extend(void **state)
{
    (void)state;
    json_t *d = HOST_X("2026-05-20", "repair",
                       "'history':{'repairs':[{'dropped_off':'2026-05-01',"
                       "'returned':'2026-05-10','listed':true}]}");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-5, M-7, M-8                                                                             */
/* ---------------------------------------------------------------------------------------- */

#define TWO_LISTED_REPAIRS                                                                         \
    "'history':{'repairs':[{'dropped_off':'2025-03-01','returned':'2025-03-05','listed':true},"    \
    "{'dropped_off':'2025-05-01','returned':'2025-05-04','listed':true}]}"

static void test_phone_host_two_listed_repairs_then_failure_exchange_granted(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-07-01", "exchange", TWO_LISTED_REPAIRS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-4,M-5,M-10,D-5");
    expect_str(d, "coverage_end", "2026-01-17");
    /* use days 172 - 7 repair days = 165; 165 x 0.5 % of 1000.00 = 825.00 */
    expect_int(d, "depreciation_cents", 82500);
    expect_int(d, "refund_cents", 17500);
    json_decref(d);
}

static void test_phone_host_one_prior_repair_exchange_denied(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-07-01", "exchange",
                        "'history':{'repairs':[{'dropped_off':'2025-03-01',"
                        "'returned':'2025-03-05','listed':true}]}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_no_rule(d, "M-5");
    json_decref(d);
}

static void test_phone_host_unlisted_repair_does_not_count_towards_m5(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-07-01", "exchange",
                        "'history':{'repairs':[{'dropped_off':'2025-03-01',"
                        "'returned':'2025-03-05','listed':true},{'dropped_off':'2025-05-01',"
                        "'returned':'2025-05-04','listed':false}]}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
}

static void test_phone_host_unlisted_current_fault_gets_no_m5_exchange(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-07-01", "exchange",
                        TWO_LISTED_REPAIRS ",'fault':{'code':'scratch','listed':false}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_rule(d, "M-14");
    json_decref(d);
}

static void test_producer_parts_delay_60_days_no_exchange(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_host", "2025-01-10", "2025-04-30", "exchange",
                "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'producer_parts'}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_no_rule(d, "M-7");
    json_decref(d);
}

static void test_producer_parts_delay_61_days_exchange_granted(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_host", "2025-01-10", "2025-05-01", "exchange",
                "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'producer_parts'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-4,M-7,M-10,D-5");
    /* 111 days since the sale minus 61 days in the open repair = 50 use days */
    expect_int(d, "depreciation_cents", 25000);
    expect_int(d, "refund_cents", 75000);
    json_decref(d);
}

static void test_repairer_delay_30_days_no_exchange(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-03-31", "exchange",
                        "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'repairer'}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
}

static void test_repairer_delay_31_days_exchange_granted(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-04-01", "exchange",
                        "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'repairer'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_rule(d, "M-8");
    json_decref(d);
}

static void test_open_repair_without_delay_cause_gives_no_exchange(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-06-01", "exchange",
                        "'open_repair':{'dropped_off':'2025-03-01'}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-6 accessories                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_accessory_listed_fault_refund_denied_exchange_entitled(void **state)
{
    (void)state;
    json_t *d = phone("phone_charger", "2025-04-10", "2025-06-01", "refund", "");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_list(d, "rules", "M-4,M-6");
    expect_absent(d, "refund_cents");
    json_decref(d);
}

static void test_accessory_has_no_seven_day_refund(void **state)
{
    (void)state;
    json_t *d = phone("phone_battery", "2025-04-10", "2025-04-12", "refund", "");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_no_rule(d, "M-2");
    json_decref(d);
}

static void test_accessory_after_one_exchange_refund_denied(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_battery", "2025-04-10", "2025-06-01", "refund", "'history':{'exchanges':1}");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    json_decref(d);
}

static void test_accessory_sold_alone_after_two_exchanges_refunds_invoice_price(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_battery", "2025-04-10", "2025-06-01", "refund",
                        "'history':{'exchanges':2},'standalone_price_cents':7000");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_int(d, "refund_cents", 100000);
    expect_list(d, "rules", "M-4,M-6");
    json_decref(d);
}

static void test_bundled_accessory_refund_uses_current_standalone_price(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_headset", "2025-04-10", "2025-06-01", "refund",
                        "'history':{'exchanges':2},'bundled_with_host':true,"
                        "'standalone_price_cents':7000");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_int(d, "refund_cents", 7000);
    json_decref(d);
}

static void test_bundled_accessory_refund_without_standalone_price_is_an_error(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_headset", "2025-04-10", "2025-06-01", "refund",
                        "'history':{'exchanges':3},'bundled_with_host':true");
    expect_error(d, "t", "standalone_price_cents");
    json_decref(d);
}

static void test_accessory_ignores_no_same_model_rules(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_battery", "2025-04-10", "2025-04-20", "exchange",
                        "'seller_has_same_model':false");
    expect_decision(d, "granted", "exchange", "exchange,repair", true);
    expect_no_rule(d, "M-9");
    expect_no_rule(d, "M-10");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-9, M-10                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_no_same_model_day_10_full_refund_replaces_exchange(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-20", "refund", "'seller_has_same_model':false");
    expect_decision(d, "granted", "refund", "refund,repair", true);
    expect_int(d, "refund_cents", 100000);
    expect_absent(d, "depreciation_cents");
    expect_list(d, "rules", "M-3,M-9");
    json_decref(d);
}

static void test_no_same_model_day_3_removes_exchange(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "exchange", "'seller_has_same_model':false");
    expect_decision(d, "denied", "none", "refund,repair", false);
    expect_list(d, "rules", "M-2,M-9");
    json_decref(d);
}

static void test_no_same_model_but_consumer_accepts_another_model_keeps_exchange(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-20", "exchange",
                       "'seller_has_same_model':false,'consumer_accepts_other_model':true");
    expect_decision(d, "granted", "exchange", "exchange,repair", true);
    expect_list(d, "rules", "M-3");
    json_decref(d);
    d = HOST_X("2025-04-20", "refund",
               "'seller_has_same_model':false,'consumer_accepts_other_model':true");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    json_decref(d);
}

static void test_refusing_exchange_deducts_depreciation_rounded_half_up(void **state)
{
    (void)state;
    /* 151 days since the sale minus 12 repair days = 139 use days;
     * 3999.00 x 0.5 % x 139 = 2779.305 -> 2779.31 */
    json_t *d = EVAL("{'id':'t','category':'phone_host','invoice_date':'2025-01-01',"
                     "'claim_date':'2025-06-01','price_cents':399900," FULL_PROOFS "," LISTED
                     ",'request':'refund','history':{'repairs':[{'dropped_off':'2025-02-01',"
                     "'returned':'2025-02-06','listed':true},{'dropped_off':'2025-03-01',"
                     "'returned':'2025-03-08','listed':true}]}}");
    expect_decision(d, "granted_with_depreciation", "refund", "refund,exchange,repair", false);
    expect_int(d, "depreciation_cents", 277931);
    expect_int(d, "refund_cents", 121969);
    expect_list(d, "rules", "M-4,M-5,M-10,D-5");
    json_decref(d);
}

static void test_depreciation_rate_comes_from_the_policy(void **state)
{
    (void)state;
    wr_policy_t p;
    wr_policy_defaults(&p);
    p.phone_depreciation_ppm = 1000;
    json_t *d = eval_policy(&p, "{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
                                "'claim_date':'2025-04-18','price_cents':100000," FULL_PROOFS
                                "," LISTED ",'request':'refund'}");
    expect_int(d, "depreciation_cents", 800);
    expect_int(d, "refund_cents", 99200);
    json_decref(d);
}

static void test_depreciation_never_exceeds_the_price(void **state)
{
    (void)state;
    /* 8 years of "use" would be 1460 % of the price: the refund floors at 0. */
    json_t *d = phone_x("phone_host", "2017-01-10", "2025-07-01", "refund",
                        "'exchange_date':'2025-01-10'," TWO_LISTED_REPAIRS);
    expect_decision(d, "granted_with_depreciation", "refund", "refund,exchange,repair", false);
    expect_int(d, "depreciation_cents", 100000);
    expect_int(d, "refund_cents", 0);
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-11 exchange restarts                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_exchange_restarts_validity_from_exchange_date(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2026-03-01", "repair",
                        "'exchange_date':'2025-06-01','history':{'exchanges':1}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-06-01");
    expect_list(d, "rules", "M-4,M-11");
    json_decref(d);
}

static void test_exchange_keeps_the_seven_and_fifteen_day_windows_on_the_original_sale(void **state)
{
    (void)state;
    json_t *d =
        phone_x("phone_host", "2025-04-01", "2025-04-17", "refund", "'exchange_date':'2025-04-12'");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4,M-11");
    json_decref(d);
}

static void test_exchange_restarts_the_repair_count(void **state)
{
    (void)state;
    json_t *d = phone_x("phone_host", "2025-01-10", "2025-07-01", "exchange",
                        "'exchange_date':'2025-06-01'," TWO_LISTED_REPAIRS);
    expect_decision(d, "denied", "none", "repair", false);
    expect_no_rule(d, "M-5");
    expect_str(d, "coverage_end", "2026-06-01");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-12 proofs (all four cases) and convention 5                                             */
/* ---------------------------------------------------------------------------------------- */

static void test_invoice_without_warranty_card_still_allows_full_refund(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'proofs':{'invoice':true}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-2");
    json_decref(d);
}

static void test_invoice_copy_day_3_blocks_full_refund_keeps_exchange(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'proofs':{'invoice_copy':true}");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_list(d, "rules", "M-2,M-12");
    expect_absent(d, "refund_cents");
    json_decref(d);
    d = HOST_X("2025-04-13", "exchange", "'proofs':{'invoice_copy':true}");
    expect_decision(d, "granted", "exchange", "exchange,repair", true);
    json_decref(d);
}

static void test_invoice_copy_day_10_blocks_depreciated_refund(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-20", "refund", "'proofs':{'invoice_copy':true}");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_list(d, "rules", "M-3,M-12");
    expect_absent(d, "depreciation_cents");
    json_decref(d);
}

static void test_invoice_copy_blocks_the_no_same_model_refund(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-20", "refund",
                       "'proofs':{'invoice_copy':true},'seller_has_same_model':false");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-3,M-9,M-12");
    json_decref(d);
}

static void test_warranty_card_without_invoice_is_treated_like_a_copy(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'proofs':{'warranty_card':true}");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_rule(d, "M-12");
    json_decref(d);
}

static void test_no_proof_validity_starts_at_production_date_plus_90_days_repair_only(void **state)
{
    (void)state;
    /* 2025-01-01 + 90 days = 2025-04-01; + 12 months = 2026-04-01 */
    json_t *d =
        EVAL("{'id':'t','category':'phone_host','claim_date':'2025-04-15',"
             "'proofs':{'imei_production_date':'2025-01-01'}," LISTED ",'request':'exchange'}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4,M-12");
    expect_str(d, "coverage_end", "2026-04-01");
    json_decref(d);
    d = EVAL("{'id':'t','category':'phone_host','claim_date':'2026-04-01',"
             "'proofs':{'imei_production_date':'2025-01-01'}," LISTED ",'request':'repair'}");
    expect_decision(d, "granted", "repair", "repair", true);
    json_decref(d);
}

static void test_no_proof_after_production_based_validity_not_covered(void **state)
{
    (void)state;
    json_t *d =
        EVAL("{'id':'t','category':'phone_host','claim_date':'2026-04-02',"
             "'proofs':{'imei_production_date':'2025-01-01'}," LISTED ",'request':'repair'}");
    expect_not_covered(d, "M-12,E1");
    json_decref(d);
}

static void test_no_proof_and_no_production_date_excluded_e4(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
                     "'claim_date':'2025-04-12'," LISTED ",'request':'repair'}");
    expect_not_covered(d, "M-12,E4");
    assert_true(json_is_null(json_object_get(d, "coverage_end")));
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* M-13 exclusions E1..E6                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_unauthorised_opening_excluded_e3(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "refund", "'flags':{'unauthorized_disassembly':true}");
    expect_not_covered(d, "E3");
    json_decref(d);
}

static void test_warranty_card_mismatch_excluded_e5(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "exchange", "'flags':{'proof_mismatch':true}");
    expect_not_covered(d, "E5");
    json_decref(d);
}

static void test_force_majeure_excluded_e6(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-13", "repair", "'flags':{'force_majeure':true}");
    expect_not_covered(d, "E6");
    json_decref(d);
}

static void test_every_applicable_exclusion_is_listed(void **state)
{
    (void)state;
    json_t *d = HOST_X("2026-05-01", "repair",
                       "'flags':{'misuse':true,'force_majeure':true,'commercial_use':true}");
    expect_not_covered(d, "E1,E2,E6");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* G-1..G-6 household goods                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void test_general_colour_tv_day_7_refund_granted_g1(void **state)
{
    (void)state;
    json_t *d = goods("color_tv", "2025-04-10", "2025-04-17", "refund", "");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_str(d, "regime", "general-1995");
    expect_int(d, "refund_cents", 300000);
    expect_list(d, "rules", "G-1");
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

static void test_general_bicycle_day_8_exchange_granted_g2(void **state)
{
    (void)state;
    json_t *d = goods("bicycle", "2025-04-10", "2025-04-18", "exchange", "");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "G-2,G-5");
    /* bicycle 0.05 %/day x 8 days of 3000.00 = 12.00 */
    expect_int(d, "depreciation_cents", 1200);
    expect_int(d, "refund_cents", 298800);
    json_decref(d);
}

static void test_general_colour_tv_refusing_exchange_uses_0_1_percent_per_day(void **state)
{
    (void)state;
    json_t *d = goods("color_tv", "2025-04-10", "2025-04-18", "refund", "");
    expect_decision(d, "granted_with_depreciation", "refund", "refund,exchange,repair", false);
    expect_int(d, "depreciation_cents", 2400);
    expect_int(d, "refund_cents", 297600);
    json_decref(d);
}

static void test_general_bw_tv_and_vcr_use_their_catalogue_rates(void **state)
{
    (void)state;
    json_t *d = goods("bw_tv", "2025-04-10", "2025-04-20", "refund", "");
    expect_int(d, "depreciation_cents", 1500); /* 0.05 % x 10 days */
    json_decref(d);
    d = goods("vcr", "2025-04-10", "2025-04-19", "refund", "");
    expect_int(d, "depreciation_cents", 2700); /* 0.1 % x 9 days */
    json_decref(d);
}

static void test_general_day_16_exchange_denied(void **state)
{
    (void)state;
    json_t *d = goods("color_tv", "2025-04-10", "2025-04-26", "exchange", "");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "M-4");
    json_decref(d);
}

static void test_general_two_repairs_still_unusable_exchange_g3(void **state)
{
    (void)state;
    json_t *d = goods("color_tv", "2025-01-10", "2025-07-01", "exchange", TWO_LISTED_REPAIRS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "M-4,G-3,G-5,D-5");
    json_decref(d);
}

static void test_general_producer_parts_90_days_no_exchange_91_days_exchange(void **state)
{
    (void)state;
    json_t *d = goods("color_tv", "2025-01-10", "2025-05-30", "exchange",
                      "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'producer_parts'}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = goods("color_tv", "2025-01-10", "2025-05-31", "exchange",
              "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'producer_parts'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_rule(d, "G-4");
    json_decref(d);
}

static void test_general_repairer_delay_31_days_exchange_g4(void **state)
{
    (void)state;
    json_t *d = goods("vcr", "2025-01-10", "2025-04-01", "exchange",
                      "'open_repair':{'dropped_off':'2025-03-01','delay_cause':'repairer'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_rule(d, "G-4");
    json_decref(d);
}

static void test_general_no_same_model_full_refund_g5(void **state)
{
    (void)state;
    json_t *d =
        goods("bicycle", "2025-04-10", "2025-04-20", "refund", "'seller_has_same_model':false");
    expect_decision(d, "granted", "refund", "refund,repair", true);
    expect_int(d, "refund_cents", 300000);
    expect_absent(d, "depreciation_cents");
    expect_list(d, "rules", "G-2,G-5");
    json_decref(d);
}

static void test_general_exchange_restarts_validity_g6(void **state)
{
    (void)state;
    json_t *d =
        goods("color_tv", "2025-01-10", "2026-03-01", "repair", "'exchange_date':'2025-06-01'");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "M-4,G-6");
    expect_str(d, "coverage_end", "2026-06-01");
    json_decref(d);
}

static void test_general_exclusions_follow_m13(void **state)
{
    (void)state;
    json_t *d = goods("bicycle", "2025-04-10", "2025-04-12", "refund", "'flags':{'misuse':true}");
    expect_not_covered(d, "E2");
    json_decref(d);
    d = goods("bicycle", "2025-04-10", "2026-04-11", "repair", "");
    expect_not_covered(d, "E1");
    json_decref(d);
}

static void test_general_without_item_is_an_error(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'g','category':'general','invoice_date':'2025-04-10',"
                     "'claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, "g", "general_item");
    json_decref(d);
    d = EVAL("{'id':'g','category':'general','general_item':'fridge',"
             "'invoice_date':'2025-04-10','claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, "g", "general_item");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* Cars: regime, periods                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_car_invoiced_2013_09_30_has_no_regime(void **state)
{
    (void)state;
    json_t *d = car("2013-09-30", "2013-11-01", 1000, "repair", "");
    expect_not_covered(d, "");
    expect_str(d, "regime", "none");
    assert_true(json_is_null(json_object_get(d, "coverage_end")));
    json_decref(d);
}

static void test_car_invoiced_2013_10_01_is_car_2013(void **state)
{
    (void)state;
    json_t *d = car("2013-10-01", "2013-12-01", 10000, "repair", "'fault':{'car':'other'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "regime", "car-2013");
    expect_str(d, "coverage_end", "2015-10-01");
    expect_list(d, "rules", "C-1");
    json_decref(d);
}

static void test_car_invoiced_2021_12_31_is_car_2013(void **state)
{
    (void)state;
    json_t *d = car("2021-12-31", "2022-01-05", 100, "repair", "");
    expect_str(d, "regime", "car-2013");
    json_decref(d);
}

static void test_car_invoiced_2022_01_01_is_car_2021(void **state)
{
    (void)state;
    json_t *d = car("2022-01-01", "2022-01-05", 100, "repair", "");
    expect_str(d, "regime", "car-2021");
    expect_str(d, "coverage_end", "2024-01-01");
    json_decref(d);
}

static void test_car_2021_periods_and_windows_start_at_the_delivery_date(void **state)
{
    (void)state;
    /* Invoice + 16 days, delivery + 7 days: C-2 still applies. */
    json_t *d =
        car("2022-03-01", "2022-03-17", 400, "refund",
            "'delivery_date':'2022-03-10','fault':{'car':'major_part','assembly':'engine'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_str(d, "coverage_end", "2024-03-10");
    expect_list(d, "rules", "C-2,C-4");
    expect_int(d, "refund_cents", 20000000);
    expect_absent(d, "use_compensation_cents");
    json_decref(d);
}

static void test_car_2013_periods_ignore_the_delivery_date(void **state)
{
    (void)state;
    json_t *d = car("2015-03-01", "2017-03-05", 40000, "repair", "'delivery_date':'2015-03-10'");
    expect_str(d, "coverage_end", "2017-03-01");
    expect_decision(d, "granted", "repair", "repair", true);
    json_decref(d);
}

#define CAR_31_DAYS                                                                                \
    "'history':{'repairs':[{'hours':240,'problem':'a'},{'hours':481,'problem':'b'}]}"

static void test_car_50000_km_inside_validity_50001_km_outside(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-03-01", 50000, "exchange", CAR_31_DAYS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_rule(d, "C-6");
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 50001, "exchange", CAR_31_DAYS);
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "C-1");
    json_decref(d);
}

static void test_car_60000_km_inside_warranty_60001_km_not_covered(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-03-01", 60000, "repair", "");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "C-1");
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 60001, "repair", "");
    expect_not_covered(d, "E1");
    json_decref(d);
}

static void test_car_validity_last_day_inside_next_day_only_warranty(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2024-03-01", 30000, "exchange", CAR_31_DAYS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    json_decref(d);
    d = car("2022-03-01", "2024-03-02", 30000, "exchange", CAR_31_DAYS);
    expect_decision(d, "denied", "none", "repair", false);
    expect_str(d, "coverage_end", "2024-03-01");
    json_decref(d);
}

static void test_car_warranty_36_months_last_day_free_repair_then_not_covered(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2025-03-01", 55000, "repair", "");
    expect_decision(d, "granted", "repair", "repair", true);
    json_decref(d);
    d = car("2022-03-01", "2025-03-02", 55000, "repair", "");
    expect_not_covered(d, "E1");
    json_decref(d);
}

static void test_car_validity_end_on_a_holiday_rolls(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2024-03-02", 30000, "exchange",
                    CAR_31_DAYS ",'holidays':['2024-03-01']");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_str(d, "coverage_end", "2024-03-02");
    expect_rule(d, "D-3");
    json_decref(d);
}

static void test_car_warranty_end_on_a_holiday_rolls(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2025-03-02", 55000, "repair", "'holidays':['2025-03-01']");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "C-1,D-3");
    json_decref(d);
}

static void test_car_repairs_do_not_extend_the_periods(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2025-03-05", 55000, "repair",
                    "'history':{'repairs':[{'dropped_off':'2023-01-01','returned':'2023-02-01',"
                    "'hours':744}]}");
    expect_not_covered(d, "E1");
    expect_str(d, "coverage_end", "2024-03-01");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* C-2, C-3, C-4                                                                             */
/* ---------------------------------------------------------------------------------------- */

static void test_car_2021_day_7_engine_main_part_exchange_or_refund_free(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-03-08", 500, "exchange",
                    "'fault':{'car':'major_part','assembly':'engine'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "C-2,C-4");
    expect_int(d, "refund_cents", 20000000);
    expect_absent(d, "use_compensation_cents");
    json_decref(d);
}

static void test_car_2021_day_8_engine_main_part_only_assembly_replacement(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-03-09", 500, "refund",
                    "'fault':{'car':'major_part','assembly':'engine'}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "C-4");
    json_decref(d);
}

static void test_car_2021_day_3_traction_battery_needs_replacing_c2(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-03-04", 100, "refund",
                    "'fault':{'car':'major_part','assembly':'traction_battery'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_rule(d, "C-2");
    json_decref(d);
}

static void test_car_2013_has_no_seven_day_rule(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2020-03-05", 100, "refund",
                    "'fault':{'car':'major_part','assembly':'engine'}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "C-4");
    json_decref(d);
}

static void test_car_day_60_at_3000_km_brake_failure_exchange_or_refund_free(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-04-30", 3000, "refund", "'fault':{'car':'brake_failure'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_list(d, "rules", "C-1,C-3");
    expect_int(d, "refund_cents", 20000000);
    json_decref(d);
}

static void test_car_day_61_brake_failure_repair_only(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-05-01", 3000, "refund", "'fault':{'car':'brake_failure'}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "C-1");
    json_decref(d);
}

static void test_car_3001_km_steering_failure_repair_only(void **state)
{
    (void)state;
    json_t *d =
        car("2022-03-01", "2022-03-20", 3001, "exchange", "'fault':{'car':'steering_failure'}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = car("2022-03-01", "2022-03-20", 3000, "exchange", "'fault':{'car':'steering_failure'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    json_decref(d);
}

static void test_car_2013_body_crack_and_fuel_leak_qualify_for_c3(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2020-03-20", 800, "exchange", "'fault':{'car':'body_crack'}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", true);
    expect_list(d, "rules", "C-1,C-3");
    json_decref(d);
    d = car("2020-03-01", "2020-03-20", 800, "refund", "'fault':{'car':'fuel_leak'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    json_decref(d);
}

static void test_traction_battery_fire_is_c3_in_2021_but_not_in_2013(void **state)
{
    (void)state;
    json_t *d =
        car("2022-03-01", "2022-03-20", 800, "refund", "'fault':{'car':'traction_battery_fire'}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    json_decref(d);
    d = car("2020-03-01", "2020-03-20", 800, "refund", "'fault':{'car':'traction_battery_fire'}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
}

static void test_car_day_60_transmission_main_part_free_assembly_replacement_c4(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-04-30", 3000, "repair",
                    "'fault':{'car':'major_part','assembly':'transmission'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "C-4");
    json_decref(d);
    d = car("2022-03-01", "2022-05-01", 3000, "repair",
            "'fault':{'car':'major_part','assembly':'transmission'}");
    expect_list(d, "rules", "C-1");
    json_decref(d);
}

static void test_car_2013_drive_motor_is_not_a_c4_assembly(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2020-03-20", 800, "repair",
                    "'fault':{'car':'major_part','assembly':'drive_motor'}");
    expect_list(d, "rules", "C-1");
    json_decref(d);
    d = car("2022-03-01", "2022-03-20", 800, "repair",
            "'fault':{'car':'major_part','assembly':'drive_motor'}");
    expect_list(d, "rules", "C-4");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* C-5, C-6, D-6, C-9                                                                        */
/* ---------------------------------------------------------------------------------------- */

#define TWO_SAFETY_REPAIRS                                                                         \
    "'history':{'repairs':[{'hours':10,'serious_safety':true,'problem':'brakes'},"                 \
    "{'hours':10,'serious_safety':true,'problem':'brakes'}]}"

static void
test_car_serious_safety_fault_after_two_repairs_refund_minus_use_compensation(void **state)
{
    (void)state;
    /* 200000.00 x 20000 km / 1000 x 0.5 % = 20000.00 */
    json_t *d = car("2022-03-01", "2023-01-10", 20000, "refund",
                    "'fault':{'car':'brake_failure'}," TWO_SAFETY_REPAIRS);
    expect_decision(d, "granted", "refund", "refund,exchange,repair", false);
    expect_int(d, "use_compensation_cents", 2000000);
    expect_int(d, "refund_cents", 18000000);
    expect_list(d, "rules", "C-1,C-5,C-9");
    json_decref(d);
}

static void test_car_serious_safety_fault_after_one_repair_repair_only(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-01-10", 20000, "refund",
                    "'fault':{'car':'serious_safety'},'history':{'repairs':[{'hours':10,"
                    "'serious_safety':true}]}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_absent(d, "use_compensation_cents");
    json_decref(d);
}

static void test_car_engine_replaced_twice_still_failing_exchange_with_compensation(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-01-10", 20000, "exchange",
                    "'fault':{'car':'major_part','assembly':'engine'},"
                    "'history':{'replacements':[{'assembly':'engine','part':null,'count':2}]}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_int(d, "use_compensation_cents", 2000000);
    expect_list(d, "rules", "C-1,C-5,C-9");
    json_decref(d);
}

static void test_car_same_main_part_replaced_twice_still_failing_c5(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-01-10", 20000, "exchange",
                    "'fault':{'car':'other','assembly':'transmission'},'history':{'replacements':"
                    "[{'assembly':'transmission','part':'valve_body','count':1},"
                    "{'assembly':'transmission','part':'valve_body','count':1}]}");
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_rule(d, "C-5");
    json_decref(d);
}

static void test_car_assembly_and_part_replacements_are_not_added_together(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-01-10", 20000, "exchange",
                    "'fault':{'car':'major_part','assembly':'engine'},'history':{'replacements':"
                    "[{'assembly':'engine','count':1},{'assembly':'engine','part':'piston',"
                    "'count':1}]}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_no_rule(d, "C-5");
    json_decref(d);
}

static void test_car_2021_cumulative_30_repair_days_no_exchange_31_days_exchange(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-03-01", 20000, "exchange",
                    "'history':{'repairs':[{'hours':240},{'hours':480}]}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 20000, "exchange", CAR_31_DAYS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_list(d, "rules", "C-1,C-6,C-9,D-6");
    expect_int(d, "use_compensation_cents", 2000000);
    expect_int(d, "refund_cents", 18000000);
    json_decref(d);
}

static void test_car_2013_cumulative_35_days_no_exchange_36_days_exchange_only(void **state)
{
    (void)state;
    json_t *d =
        car("2020-03-01", "2021-03-01", 20000, "exchange", "'history':{'repairs':[{'hours':840}]}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = car("2020-03-01", "2021-03-01", 20000, "exchange", "'history':{'repairs':[{'hours':841}]}");
    expect_decision(d, "granted", "exchange", "exchange,repair", false);
    expect_list(d, "rules", "C-1,C-6,C-9,D-6");
    json_decref(d);
    d = car("2020-03-01", "2021-03-01", 20000, "refund", "'history':{'repairs':[{'hours':841}]}");
    expect_decision(d, "denied", "none", "exchange,repair", false);
    expect_int(d, "use_compensation_cents", 2000000);
    expect_absent(d, "refund_cents");
    json_decref(d);
}

static const char *repeat_history(char *buf, size_t cap, int n)
{
    size_t len = (size_t)snprintf(buf, cap, "'history':{'repairs':[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s{'hours':3,'problem':'gearbox_noise'}",
                                i ? "," : "");
    snprintf(buf + len, cap - len, "]}");
    return buf;
}

static void test_car_2021_same_problem_4_repairs_no_exchange_5_repairs_exchange(void **state)
{
    (void)state;
    char h[2048];
    json_t *d = car("2022-03-01", "2023-03-01", 20000, "refund", repeat_history(h, sizeof h, 4));
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 20000, "refund", repeat_history(h, sizeof h, 5));
    expect_decision(d, "granted", "refund", "refund,exchange,repair", false);
    expect_list(d, "rules", "C-1,C-6,C-9");
    json_decref(d);
}

static void test_car_2013_same_problem_5_repairs_no_exchange_6_repairs_exchange(void **state)
{
    (void)state;
    char h[2048];
    json_t *d = car("2020-03-01", "2021-03-01", 20000, "exchange", repeat_history(h, sizeof h, 5));
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = car("2020-03-01", "2021-03-01", 20000, "exchange", repeat_history(h, sizeof h, 6));
    expect_decision(d, "granted", "exchange", "exchange,repair", false);
    json_decref(d);
}

static void test_car_repair_days_round_hours_up_with_a_one_day_minimum(void **state)
{
    (void)state;
    /* 15 x 25 h = 15 x 2 days = 30, plus a 0-hour visit counted as 1 day = 31 (D-6). */
    char h[4096];
    size_t len = (size_t)snprintf(h, sizeof h, "'history':{'repairs':[{'hours':0}");
    for (int i = 0; i < 15; i++)
        len += (size_t)snprintf(h + len, sizeof h - len, ",{'hours':25}");
    snprintf(h + len, sizeof h - len, "]}");
    json_t *d = car("2022-03-01", "2023-03-01", 20000, "exchange", h);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_rule(d, "D-6");
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 20000, "exchange", "'history':{'repairs':[{'hours':720}]}");
    expect_decision(d, "denied", "none", "repair", false); /* exactly 30 days */
    json_decref(d);
}

static void test_car_repairs_before_an_exchange_are_not_counted(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-03-01", 2000, "exchange",
                    "'exchange_date':'2022-09-01','history':{'repairs':[{'dropped_off':"
                    "'2022-05-01','returned':'2022-06-15','hours':1080}]}");
    expect_decision(d, "denied", "none", "repair", false);
    expect_list(d, "rules", "C-1,C-11");
    json_decref(d);
}

static void test_car_2013_use_compensation_rate_from_request_rounded_half_up(void **state)
{
    (void)state;
    /* 150000.33 x 12345 km / 1000 x 0.8 % = 14814.0325908 -> 14814.03 */
    json_t *d =
        EVAL("{'id':'c','category':'car','invoice_date':'2020-03-01',"
             "'claim_date':'2021-03-01','odometer_km':12345,'price_cents':15000033," FULL_PROOFS
             ",'request':'exchange','use_compensation_rate':0.008,"
             "'history':{'repairs':[{'hours':841}]}}");
    expect_decision(d, "granted", "exchange", "exchange,repair", false);
    expect_int(d, "use_compensation_cents", 1481403);
    json_decref(d);
}

static void test_car_use_compensation_rate_outside_the_regime_range_is_an_error(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2021-03-01", 100, "repair", "'use_compensation_rate':0.004");
    expect_error(d, "c", "use_compensation_rate");
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 100, "repair", "'use_compensation_rate':0.006");
    expect_error(d, "c", "use_compensation_rate");
    json_decref(d);
    d = car("2022-03-01", "2023-03-01", 100, "repair", "'use_compensation_rate':'0.005'");
    expect_error(d, "c", "use_compensation_rate");
    json_decref(d);
}

static void test_car_2021_lower_rate_from_request_is_used(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2023-03-01", 20000, "refund",
                    "'use_compensation_rate':0.0025," CAR_31_DAYS);
    expect_int(d, "use_compensation_cents", 1000000);
    expect_int(d, "refund_cents", 19000000);
    json_decref(d);
}

static void test_car_c3_together_with_c6_stays_free(void **state)
{
    (void)state;
    json_t *d =
        car("2022-03-01", "2022-04-20", 2500, "refund", "'fault':{'car':'fuel_leak'}," CAR_31_DAYS);
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    expect_int(d, "refund_cents", 20000000);
    expect_absent(d, "use_compensation_cents");
    expect_list(d, "rules", "C-1,C-3,C-6,D-6");
    json_decref(d);
}

static void test_policy_car_rate_is_capped_at_the_statutory_maximum(void **state)
{
    (void)state;
    wr_policy_t p;
    wr_policy_defaults(&p);
    p.car_use_comp_default_ppm = 20000; /* 2 %: above both statutory maxima */
    json_t *d = eval_policy(&p, "{'id':'c','category':'car','invoice_date':'2022-03-01',"
                                "'claim_date':'2023-03-01','odometer_km':20000,"
                                "'price_cents':20000000,'request':'exchange'," CAR_31_DAYS "}");
    expect_int(d, "use_compensation_cents", 2000000); /* 0.5 % */
    json_decref(d);
    d = eval_policy(&p,
                    "{'id':'c','category':'car','invoice_date':'2020-03-01',"
                    "'claim_date':'2021-03-01','odometer_km':20000,'price_cents':20000000,"
                    "'request':'exchange'," FULL_PROOFS ",'history':{'repairs':[{'hours':841}]}}");
    expect_int(d, "use_compensation_cents", 3200000); /* 0.8 % */
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* C-7, C-8, C-10, C-11                                                                      */
/* ---------------------------------------------------------------------------------------- */

static void test_car_2013_no_same_model_turns_c6_exchange_into_refund(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2021-03-01", 20000, "refund",
                    "'seller_has_same_model':false,'history':{'repairs':[{'hours':841}]}");
    expect_decision(d, "granted", "refund", "refund,repair", false);
    expect_int(d, "refund_cents", 18000000);
    expect_int(d, "use_compensation_cents", 2000000);
    expect_list(d, "rules", "C-1,C-6,C-7,C-9,D-6");
    json_decref(d);
}

static void test_car_c3_no_same_model_full_refund(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-03-20", 800, "exchange",
                    "'fault':{'car':'brake_failure'},'seller_has_same_model':false");
    expect_decision(d, "denied", "none", "refund,repair", false);
    expect_int(d, "refund_cents", 20000000);
    expect_list(d, "rules", "C-1,C-3,C-7");
    json_decref(d);
}

static void test_car_open_repair_5_days_no_backup_car_6_days_backup_car(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2022-06-06", 5000, "repair",
                    "'open_repair':{'dropped_off':'2022-06-01'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_no_rule(d, "C-8");
    json_decref(d);
    d = car("2022-03-01", "2022-06-07", 5000, "repair",
            "'open_repair':{'dropped_off':'2022-06-01'}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_list(d, "rules", "C-1,C-8");
    assert_non_null(strstr(json_string_value(json_object_get(d, "reason")), "backup car"));
    json_decref(d);
}

static void test_car_exemptions_each_make_the_problem_exempt(void **state)
{
    (void)state;
    const char *flags[] = {"disclosed_defect", "misuse", "prohibited_modification",
                           "improper_self_handling", "force_majeure"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "'fault':{'car':'brake_failure'},'flags':{'%s':true}",
                 flags[i]);
        json_t *d = car("2022-03-01", "2022-03-20", 800, "refund", extra);
        expect_exempt(d, "C-10");
        expect_str(d, "coverage_end", "2024-03-01");
        json_decref(d);
    }
}

static void test_car_commercial_use_exempt_in_2013_but_not_in_2021(void **state)
{
    (void)state;
    json_t *d = car("2020-03-01", "2020-05-01", 8000, "repair", "'flags':{'commercial_use':true}");
    expect_exempt(d, "C-10");
    json_decref(d);
    d = car("2022-03-01", "2022-05-01", 8000, "repair", "'flags':{'commercial_use':true}");
    expect_decision(d, "granted", "repair", "repair", true);
    json_decref(d);
}

static void test_car_missing_warranty_card_exempt_in_2013_but_not_in_2021(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'c','category':'car','invoice_date':'2020-03-01',"
                     "'claim_date':'2020-05-01','odometer_km':8000,'proofs':{'invoice':true},"
                     "'request':'repair'}");
    expect_exempt(d, "C-10");
    json_decref(d);
    d = EVAL("{'id':'c','category':'car','invoice_date':'2022-03-01','claim_date':'2022-05-01',"
             "'odometer_km':8000,'request':'repair'}");
    expect_decision(d, "granted", "repair", "repair", true);
    json_decref(d);
}

static void test_car_exempt_and_expired_is_not_covered(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2025-06-01", 8000, "repair", "'flags':{'misuse':true}");
    expect_not_covered(d, "C-10,E1");
    json_decref(d);
}

static void test_car_exchange_restarts_both_periods_c11(void **state)
{
    (void)state;
    json_t *d = car("2022-03-01", "2024-12-01", 20000, "exchange",
                    "'exchange_date':'2023-06-01'," CAR_31_DAYS);
    expect_decision(d, "granted", "exchange", "refund,exchange,repair", false);
    expect_str(d, "coverage_end", "2025-06-01");
    expect_rule(d, "C-11");
    json_decref(d);
    d = car("2022-03-01", "2026-05-01", 20000, "repair", "'exchange_date':'2023-06-01'");
    expect_decision(d, "granted", "repair", "repair", true); /* warranty now ends 2026-06-01 */
    json_decref(d);
}

static void test_car_without_odometer_is_an_error(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'c','category':'car','invoice_date':'2022-03-01',"
                     "'claim_date':'2022-05-01','request':'repair'}");
    expect_error(d, "c", "odometer_km");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* Manufacturer promises                                                                     */
/* ---------------------------------------------------------------------------------------- */

static const wr_manufacturer_promise_t PROMISES[] = {
    {"Acme", "phone_host", 6, 0},
    {"Acme", "*", 1, 0},
    {"Roadster", "car", 0, 12},
    {"Stingy", "*", -6, -12},
};

static wr_policy_t promise_policy(void)
{
    wr_policy_t p;
    wr_policy_defaults(&p);
    p.promises = PROMISES;
    p.n_promises = sizeof PROMISES / sizeof *PROMISES;
    return p;
}

static void test_promise_extends_phone_validity_for_a_brand_matched_case_insensitively(void **state)
{
    (void)state;
    const wr_policy_t p = promise_policy();
    json_t *d = eval_policy(&p, "{'id':'t','category':'phone_host','brand':'ACME',"
                                "'invoice_date':'2025-04-10','claim_date':'2026-09-01',"
                                "'request':'repair'," FULL_PROOFS "," LISTED "}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-10-10");
    json_decref(d);
    d = eval_policy(&p, "{'id':'t','category':'phone_battery','brand':'acme',"
                        "'invoice_date':'2025-04-10','claim_date':'2025-11-01',"
                        "'request':'exchange'," FULL_PROOFS "," LISTED "}");
    expect_str(d, "coverage_end", "2025-11-10"); /* "*" promise: 6 + 1 months */
    json_decref(d);
}

static void test_promise_of_another_brand_is_ignored(void **state)
{
    (void)state;
    const wr_policy_t p = promise_policy();
    json_t *d = eval_policy(&p, "{'id':'t','category':'phone_host','brand':'Other',"
                                "'invoice_date':'2025-04-10','claim_date':'2026-09-01',"
                                "'request':'repair'," FULL_PROOFS "," LISTED "}");
    expect_not_covered(d, "E1");
    json_decref(d);
}

static void test_promise_extends_car_warranty(void **state)
{
    (void)state;
    const wr_policy_t p = promise_policy();
    json_t *d = eval_policy(&p, "{'id':'c','category':'car','brand':'roadster',"
                                "'invoice_date':'2022-03-01','claim_date':'2025-12-01',"
                                "'odometer_km':40000,'request':'repair'," FULL_PROOFS "}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2024-03-01");
    json_decref(d);
}

static void test_negative_promise_cannot_shorten_the_statute(void **state)
{
    (void)state;
    const wr_policy_t p = promise_policy();
    json_t *d = eval_policy(&p, "{'id':'t','category':'phone_host','brand':'Stingy',"
                                "'invoice_date':'2025-04-10','claim_date':'2026-04-10',"
                                "'request':'repair'," FULL_PROOFS "," LISTED "}");
    expect_decision(d, "granted", "repair", "repair", true);
    expect_str(d, "coverage_end", "2026-04-10");
    json_decref(d);
}

/* ---------------------------------------------------------------------------------------- */
/* Malformed requests and the evaluator contract                                             */
/* ---------------------------------------------------------------------------------------- */

static void test_array_instead_of_object_is_an_error_with_null_id(void **state)
{
    (void)state;
    json_t *a = json_pack("[s,i]", "x", 1);
    json_t *d = wr_evaluate(a, NULL);
    expect_error(d, NULL, "object");
    json_decref(d);
    json_decref(a);
    d = wr_evaluate(NULL, NULL);
    expect_error(d, NULL, "object");
    json_decref(d);
}

static void test_missing_id_is_an_error_with_null_id(void **state)
{
    (void)state;
    json_t *d = EVAL("{'category':'phone_host','invoice_date':'2025-04-10',"
                     "'claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, NULL, "\"id\"");
    json_decref(d);
    d = EVAL("{'id':7,'category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, NULL, "id");
    json_decref(d);
}

static void test_bad_date_is_an_error_echoing_the_id(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'bad','category':'phone_host','invoice_date':'2025-02-30',"
                     "'claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, "bad", "invoice_date");
    json_decref(d);
    d = EVAL("{'id':'bad','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':20250412,'request':'repair'}");
    expect_error(d, "bad", "claim_date");
    json_decref(d);
}

static void test_unknown_category_is_an_error(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'x','category':'tablet','invoice_date':'2025-04-10',"
                     "'claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, "x", "category");
    json_decref(d);
}

static void test_missing_required_fields_are_errors(void **state)
{
    (void)state;
    json_t *d = EVAL("{'id':'x','category':'phone_host','invoice_date':'2025-04-10',"
                     "'request':'repair'}");
    expect_error(d, "x", "claim_date");
    json_decref(d);
    d = EVAL("{'id':'x','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12'}");
    expect_error(d, "x", "request");
    json_decref(d);
    d = EVAL("{'id':'x','category':'phone_host','claim_date':'2025-04-12',"
             "'request':'repair'," FULL_PROOFS "}");
    expect_error(d, "x", "invoice_date");
    json_decref(d);
    d = EVAL("{'id':'x','claim_date':'2025-04-12','request':'repair'}");
    expect_error(d, "x", "category");
    json_decref(d);
    /* A refund amount needs the price. */
    d = EVAL("{'id':'x','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12','request':'refund'," FULL_PROOFS "," LISTED "}");
    expect_error(d, "x", "price_cents");
    json_decref(d);
}

static void test_negative_or_absurd_money_is_an_error(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-12", "refund", "'standalone_price_cents':-1");
    expect_error(d, "t", "standalone_price_cents");
    json_decref(d);
    d = EVAL("{'id':'x','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12','price_cents':100000000000000,'request':'refund'}");
    expect_error(d, "x", "price_cents");
    json_decref(d);
    d = EVAL("{'id':'x','category':'phone_host','invoice_date':'2025-04-10',"
             "'claim_date':'2025-04-12','price_cents':99.5,'request':'refund'}");
    expect_error(d, "x", "price_cents");
    json_decref(d);
}

static void test_wrongly_typed_fields_are_errors(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-12", "repair", "'seller_has_same_model':'yes'");
    expect_error(d, "t", "seller_has_same_model");
    json_decref(d);
    d = HOST_X("2025-04-12", "repair", "'fault':{'listed':1}");
    expect_error(d, "t", "fault.listed");
    json_decref(d);
    d = HOST_X("2025-04-12", "repair", "'history':{'repairs':{}}");
    expect_error(d, "t", "history.repairs");
    json_decref(d);
    d = HOST_X("2025-04-12", "repair", "'open_repair':{'delay_cause':'weather'}");
    expect_error(d, "t", "open_repair");
    json_decref(d);
    d = HOST_X("2025-04-12", "repair", "'holidays':['2025-13-01']");
    expect_error(d, "t", "holidays");
    json_decref(d);
    d = HOST_X("2025-04-12", "borrow", "'x':1");
    expect_error(d, "t", "request");
    json_decref(d);
}

static void test_inconsistent_dates_are_errors(void **state)
{
    (void)state;
    json_t *d = HOST("2025-04-09", "repair");
    expect_error(d, "t", "claim_date is before invoice_date");
    json_decref(d);
    d = HOST_X("2025-06-01", "repair",
               "'history':{'repairs':[{'dropped_off':'2025-05-10','returned':'2025-05-01'}]}");
    expect_error(d, "t", "returned is before dropped_off");
    json_decref(d);
    d = HOST_X("2025-06-01", "repair", "'history':{'repairs':[{'dropped_off':'2025-05-10'}]}");
    expect_error(d, "t", "history.repairs[0]");
    json_decref(d);
    d = HOST_X("2025-06-01", "repair", "'open_repair':{'dropped_off':'2025-06-02'}");
    expect_error(d, "t", "open_repair");
    json_decref(d);
}

static void test_unknown_fields_are_ignored(void **state)
{
    (void)state;
    json_t *d = HOST_X("2025-04-17", "refund", "'colour':'blue','nested':{'a':[1,2,3]}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    json_decref(d);
}

static void test_evaluate_line_turns_invalid_json_into_an_error_line(void **state)
{
    (void)state;
    char *out = NULL;
    const char *line = "{\"id\": \"x\", \n";
    assert_int_equal(wr_evaluate_line(line, strlen(line), NULL, &out), 1);
    assert_non_null(strstr(out, "\"error\":\"invalid JSON"));
    assert_non_null(strstr(out, "{\"id\":null,"));
    free(out);
    line = "[1,2,3]\n";
    assert_int_equal(wr_evaluate_line(line, strlen(line), NULL, &out), 1);
    assert_string_equal(out, "{\"id\":null,\"error\":\"request must be a JSON object\"}");
    free(out);
    const char dup[] = "{\"id\":\"a\",\"id\":\"b\"}";
    assert_int_equal(wr_evaluate_line(dup, strlen(dup), NULL, &out), 1);
    assert_non_null(strstr(out, "invalid JSON"));
    free(out);
    const char nul[] = "{\"id\":\"a\0\"}";
    assert_int_equal(wr_evaluate_line(nul, sizeof nul - 1, NULL, &out), 1);
    assert_non_null(strstr(out, "invalid JSON"));
    free(out);
}

static void test_evaluate_line_skips_blank_lines(void **state)
{
    (void)state;
    char *out = (char *)1;
    assert_int_equal(wr_evaluate_line("\n", 1, NULL, &out), 0);
    assert_null(out);
    assert_int_equal(wr_evaluate_line("  \t\r\n", 5, NULL, &out), 0);
    assert_int_equal(wr_evaluate_line("", 0, NULL, &out), 0);
}

static void test_evaluate_line_writes_keys_in_contract_order(void **state)
{
    (void)state;
    const char *line =
        "{\"request\":\"refund\",\"id\":\"o\",\"claim_date\":\"2025-04-18\",\"category\":"
        "\"phone_host\",\"invoice_date\":\"2025-04-10\",\"price_cents\":100000,\"proofs\":{"
        "\"invoice\":true},\"fault\":{\"listed\":true}}\r\n";
    char *out = NULL;
    assert_int_equal(wr_evaluate_line(line, strlen(line), NULL, &out), 1);
    const char *keys[] = {
        "\"id\":",           "\"regime\":", "\"status\":",       "\"remedy\":",
        "\"entitled\":",     "\"free\":",   "\"refund_cents\":", "\"depreciation_cents\":",
        "\"coverage_end\":", "\"rules\":",  "\"reason\":"};
    const char *prev = out;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *at = strstr(out, keys[i]);
        if (at == NULL || at < prev)
            fail_msg("key %s out of order in %s", keys[i], out);
        prev = at;
    }
    assert_null(strchr(out, '\n'));
    assert_null(strstr(out, ", "));
    free(out);
}

static void test_evaluate_line_handles_a_very_long_line(void **state)
{
    (void)state;
    const size_t n = 200000;
    char *line = malloc(n + 200);
    assert_non_null(line);
    size_t len = (size_t)sprintf(line, "{\"id\":\"");
    memset(line + len, 'a', n);
    len += n;
    len += (size_t)sprintf(line + len, "\",\"category\":\"phone_host\",\"invoice_date\":"
                                       "\"2025-04-10\",\"claim_date\":\"2025-04-12\","
                                       "\"request\":\"repair\"}\n");
    char *out = NULL;
    assert_int_equal(wr_evaluate_line(line, len, NULL, &out), 1);
    assert_true(strlen(out) > n);
    assert_non_null(strstr(out, "\"status\":\"not_covered\""));
    free(out);
    free(line);
}

static void test_holiday_file_reader_accepts_comments_and_sorts(void **state)
{
    (void)state;
    char text[] = "# national holidays\n2026-05-02 # labour day\n\n  2026-05-01\t\n"
                  "2026-05-01\n";
    FILE *f = fmemopen(text, strlen(text), "r");
    assert_non_null(f);
    int32_t *days = NULL;
    size_t n = 0;
    char err[128];
    assert_int_equal(wr_holidays_read(f, &days, &n, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(n, 2);
    char s[11];
    wr_date_format(days[0], s);
    assert_string_equal(s, "2026-05-01");
    free(days);
}

static void test_holiday_file_reader_rejects_a_bad_line(void **state)
{
    (void)state;
    char text[] = "2026-05-01\nMay 2nd\n";
    FILE *f = fmemopen(text, strlen(text), "r");
    assert_non_null(f);
    int32_t *days = NULL;
    size_t n = 0;
    char err[128];
    assert_int_equal(wr_holidays_read(f, &days, &n, err, sizeof err), -1);
    fclose(f);
    assert_non_null(strstr(err, "line 2"));
    assert_null(days);
}

static void test_policy_defaults_are_statutory(void **state)
{
    (void)state;
    wr_policy_t p;
    wr_policy_defaults(&p);
    assert_int_equal(p.phone_depreciation_ppm, 5000);
    assert_int_equal(p.car_use_comp_default_ppm, 5000);
    assert_null(p.holidays);
    assert_int_equal(p.n_holidays, 0);
    assert_null(p.promises);
    assert_int_equal(p.n_promises, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* The fault-code table (M-14 as policy data)                                                */
/* ---------------------------------------------------------------------------------------- */

static const wr_fault_code_t FAULT_CODES[] = {
    {"SCRATCH", "*", 0},
    {"NO_POWER", "*", 1},
    {"NO_POWER", "phone_battery", 0},
};

static wr_policy_t fault_code_policy(void)
{
    wr_policy_t p;
    wr_policy_defaults(&p);
    p.fault_codes = FAULT_CODES;
    p.n_fault_codes = sizeof FAULT_CODES / sizeof *FAULT_CODES;
    return p;
}

static void test_fault_code_table_overrides_the_desks_listed_flag(void **state)
{
    (void)state;
    const wr_policy_t p = fault_code_policy();
    json_t *d = eval_policy(
        &p, "{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
            "'claim_date':'2025-04-12','price_cents':100000,'request':'refund'," FULL_PROOFS
            ",'fault':{'code':'SCRATCH','listed':true}}");
    expect_decision(d, "denied", "none", "repair", false);
    json_decref(d);
    d = eval_policy(&p,
                    "{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
                    "'claim_date':'2025-04-12','price_cents':100000,'request':'refund'," FULL_PROOFS
                    ",'fault':{'code':'NO_POWER','listed':false}}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    json_decref(d);
}

static void test_fault_code_unknown_to_the_table_keeps_the_desks_flag(void **state)
{
    (void)state;
    const wr_policy_t p = fault_code_policy();
    json_t *d = eval_policy(
        &p, "{'id':'t','category':'phone_host','invoice_date':'2025-04-10',"
            "'claim_date':'2025-04-12','price_cents':100000,'request':'refund'," FULL_PROOFS
            ",'fault':{'code':'MYSTERY','listed':true}}");
    expect_decision(d, "granted", "refund", "refund,exchange,repair", true);
    json_decref(d);
    assert_null(wr_fault_code_find(&p, "MYSTERY", "phone_host"));
    assert_null(wr_fault_code_find(&p, NULL, "phone_host"));
    assert_null(wr_fault_code_find(NULL, "NO_POWER", "phone_host"));
}

static void test_fault_code_row_of_the_category_wins_over_the_wildcard(void **state)
{
    (void)state;
    const wr_policy_t p = fault_code_policy();
    const wr_fault_code_t *f = wr_fault_code_find(&p, "NO_POWER", "phone_battery");
    assert_non_null(f);
    assert_int_equal(f->listed, 0);
    f = wr_fault_code_find(&p, "NO_POWER", "phone_host");
    assert_non_null(f);
    assert_int_equal(f->listed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_parse_accepts_leap_day_2024_02_29),
        cmocka_unit_test(test_date_parse_rejects_impossible_and_loose_dates),
        cmocka_unit_test(test_date_format_round_trips_every_day_of_two_centuries),
        cmocka_unit_test(test_add_months_aug_31_plus_6_clamps_to_feb_29_in_leap_year),
        cmocka_unit_test(test_add_months_aug_31_plus_6_clamps_to_feb_28_in_common_year),
        cmocka_unit_test(test_add_months_feb_29_plus_12_ends_feb_28),
        cmocka_unit_test(test_add_months_keeps_day_of_month_and_never_uses_365_days),
        cmocka_unit_test(test_d1_day_index_excludes_the_start_day_across_a_year_end),
        cmocka_unit_test(test_d4_yinei_includes_the_number_and_chaoguo_excludes_it),
        cmocka_unit_test(test_example_host_day_7_refund_granted_with_full_price),
        cmocka_unit_test(test_example_battery_aug_31_claim_feb_28_is_inside_and_exchanged),
        cmocka_unit_test(test_example_host_liquid_damage_day_3_not_covered_e2),
        cmocka_unit_test(test_phone_host_day_0_refund_granted),
        cmocka_unit_test(test_phone_host_day_7_refund_granted),
        cmocka_unit_test(test_phone_host_day_8_full_refund_denied_depreciated_refund_granted),
        cmocka_unit_test(test_phone_host_day_8_exchange_granted_free),
        cmocka_unit_test(test_phone_host_day_15_exchange_granted),
        cmocka_unit_test(test_phone_host_day_16_exchange_denied_repair_entitled),
        cmocka_unit_test(test_phone_host_day_16_repair_granted_free_under_m4),
        cmocka_unit_test(test_phone_host_unlisted_fault_day_3_refund_denied_repair_only),
        cmocka_unit_test(test_phone_host_missing_fault_counts_as_unlisted),
        cmocka_unit_test(test_phone_host_last_day_of_validity_repair_granted),
        cmocka_unit_test(test_phone_host_day_after_validity_not_covered_e1),
        cmocka_unit_test(test_phone_host_bought_on_leap_day_validity_ends_feb_28),
        cmocka_unit_test(test_battery_day_after_feb_28_clamp_not_covered),
        cmocka_unit_test(test_battery_bought_aug_31_2023_validity_ends_leap_day),
        cmocka_unit_test(test_accessory_validity_periods_follow_m1),
        cmocka_unit_test(test_validity_end_on_a_holiday_rolls_to_the_next_day),
        cmocka_unit_test(test_validity_end_in_a_holiday_run_rolls_past_the_whole_run),
        cmocka_unit_test(test_validity_end_on_a_weekend_does_not_roll),
        cmocka_unit_test(test_seven_day_window_never_rolls_over_a_holiday),
        cmocka_unit_test(test_fifteen_day_window_never_rolls_over_a_holiday),
        cmocka_unit_test(test_policy_calendar_and_request_holidays_are_combined),
        cmocka_unit_test(test_empty_calendar_rolls_nothing),
        cmocka_unit_test(test_completed_repair_extends_validity_by_its_days),
        cmocka_unit_test(test_extension_is_applied_before_the_holiday_roll),
        cmocka_unit_test(test_open_repair_begun_inside_validity_keeps_the_claim_covered),
        cmocka_unit_test(test_repair_dropped_off_after_validity_does_not_extend),
        cmocka_unit_test(test_phone_host_two_listed_repairs_then_failure_exchange_granted),
        cmocka_unit_test(test_phone_host_one_prior_repair_exchange_denied),
        cmocka_unit_test(test_phone_host_unlisted_repair_does_not_count_towards_m5),
        cmocka_unit_test(test_phone_host_unlisted_current_fault_gets_no_m5_exchange),
        cmocka_unit_test(test_producer_parts_delay_60_days_no_exchange),
        cmocka_unit_test(test_producer_parts_delay_61_days_exchange_granted),
        cmocka_unit_test(test_repairer_delay_30_days_no_exchange),
        cmocka_unit_test(test_repairer_delay_31_days_exchange_granted),
        cmocka_unit_test(test_open_repair_without_delay_cause_gives_no_exchange),
        cmocka_unit_test(test_accessory_listed_fault_refund_denied_exchange_entitled),
        cmocka_unit_test(test_accessory_has_no_seven_day_refund),
        cmocka_unit_test(test_accessory_after_one_exchange_refund_denied),
        cmocka_unit_test(test_accessory_sold_alone_after_two_exchanges_refunds_invoice_price),
        cmocka_unit_test(test_bundled_accessory_refund_uses_current_standalone_price),
        cmocka_unit_test(test_bundled_accessory_refund_without_standalone_price_is_an_error),
        cmocka_unit_test(test_accessory_ignores_no_same_model_rules),
        cmocka_unit_test(test_no_same_model_day_10_full_refund_replaces_exchange),
        cmocka_unit_test(test_no_same_model_day_3_removes_exchange),
        cmocka_unit_test(test_no_same_model_but_consumer_accepts_another_model_keeps_exchange),
        cmocka_unit_test(test_refusing_exchange_deducts_depreciation_rounded_half_up),
        cmocka_unit_test(test_depreciation_rate_comes_from_the_policy),
        cmocka_unit_test(test_depreciation_never_exceeds_the_price),
        cmocka_unit_test(test_exchange_restarts_validity_from_exchange_date),
        cmocka_unit_test(
            test_exchange_keeps_the_seven_and_fifteen_day_windows_on_the_original_sale),
        cmocka_unit_test(test_exchange_restarts_the_repair_count),
        cmocka_unit_test(test_invoice_without_warranty_card_still_allows_full_refund),
        cmocka_unit_test(test_invoice_copy_day_3_blocks_full_refund_keeps_exchange),
        cmocka_unit_test(test_invoice_copy_day_10_blocks_depreciated_refund),
        cmocka_unit_test(test_invoice_copy_blocks_the_no_same_model_refund),
        cmocka_unit_test(test_warranty_card_without_invoice_is_treated_like_a_copy),
        cmocka_unit_test(test_no_proof_validity_starts_at_production_date_plus_90_days_repair_only),
        cmocka_unit_test(test_no_proof_after_production_based_validity_not_covered),
        cmocka_unit_test(test_no_proof_and_no_production_date_excluded_e4),
        cmocka_unit_test(test_unauthorised_opening_excluded_e3),
        cmocka_unit_test(test_warranty_card_mismatch_excluded_e5),
        cmocka_unit_test(test_force_majeure_excluded_e6),
        cmocka_unit_test(test_every_applicable_exclusion_is_listed),
        cmocka_unit_test(test_general_colour_tv_day_7_refund_granted_g1),
        cmocka_unit_test(test_general_bicycle_day_8_exchange_granted_g2),
        cmocka_unit_test(test_general_colour_tv_refusing_exchange_uses_0_1_percent_per_day),
        cmocka_unit_test(test_general_bw_tv_and_vcr_use_their_catalogue_rates),
        cmocka_unit_test(test_general_day_16_exchange_denied),
        cmocka_unit_test(test_general_two_repairs_still_unusable_exchange_g3),
        cmocka_unit_test(test_general_producer_parts_90_days_no_exchange_91_days_exchange),
        cmocka_unit_test(test_general_repairer_delay_31_days_exchange_g4),
        cmocka_unit_test(test_general_no_same_model_full_refund_g5),
        cmocka_unit_test(test_general_exchange_restarts_validity_g6),
        cmocka_unit_test(test_general_exclusions_follow_m13),
        cmocka_unit_test(test_general_without_item_is_an_error),
        cmocka_unit_test(test_car_invoiced_2013_09_30_has_no_regime),
        cmocka_unit_test(test_car_invoiced_2013_10_01_is_car_2013),
        cmocka_unit_test(test_car_invoiced_2021_12_31_is_car_2013),
        cmocka_unit_test(test_car_invoiced_2022_01_01_is_car_2021),
        cmocka_unit_test(test_car_2021_periods_and_windows_start_at_the_delivery_date),
        cmocka_unit_test(test_car_2013_periods_ignore_the_delivery_date),
        cmocka_unit_test(test_car_50000_km_inside_validity_50001_km_outside),
        cmocka_unit_test(test_car_60000_km_inside_warranty_60001_km_not_covered),
        cmocka_unit_test(test_car_validity_last_day_inside_next_day_only_warranty),
        cmocka_unit_test(test_car_warranty_36_months_last_day_free_repair_then_not_covered),
        cmocka_unit_test(test_car_validity_end_on_a_holiday_rolls),
        cmocka_unit_test(test_car_warranty_end_on_a_holiday_rolls),
        cmocka_unit_test(test_car_repairs_do_not_extend_the_periods),
        cmocka_unit_test(test_car_2021_day_7_engine_main_part_exchange_or_refund_free),
        cmocka_unit_test(test_car_2021_day_8_engine_main_part_only_assembly_replacement),
        cmocka_unit_test(test_car_2021_day_3_traction_battery_needs_replacing_c2),
        cmocka_unit_test(test_car_2013_has_no_seven_day_rule),
        cmocka_unit_test(test_car_day_60_at_3000_km_brake_failure_exchange_or_refund_free),
        cmocka_unit_test(test_car_day_61_brake_failure_repair_only),
        cmocka_unit_test(test_car_3001_km_steering_failure_repair_only),
        cmocka_unit_test(test_car_2013_body_crack_and_fuel_leak_qualify_for_c3),
        cmocka_unit_test(test_traction_battery_fire_is_c3_in_2021_but_not_in_2013),
        cmocka_unit_test(test_car_day_60_transmission_main_part_free_assembly_replacement_c4),
        cmocka_unit_test(test_car_2013_drive_motor_is_not_a_c4_assembly),
        cmocka_unit_test(
            test_car_serious_safety_fault_after_two_repairs_refund_minus_use_compensation),
        cmocka_unit_test(test_car_serious_safety_fault_after_one_repair_repair_only),
        cmocka_unit_test(test_car_engine_replaced_twice_still_failing_exchange_with_compensation),
        cmocka_unit_test(test_car_same_main_part_replaced_twice_still_failing_c5),
        cmocka_unit_test(test_car_assembly_and_part_replacements_are_not_added_together),
        cmocka_unit_test(test_car_2021_cumulative_30_repair_days_no_exchange_31_days_exchange),
        cmocka_unit_test(test_car_2013_cumulative_35_days_no_exchange_36_days_exchange_only),
        cmocka_unit_test(test_car_2021_same_problem_4_repairs_no_exchange_5_repairs_exchange),
        cmocka_unit_test(test_car_2013_same_problem_5_repairs_no_exchange_6_repairs_exchange),
        cmocka_unit_test(test_car_repair_days_round_hours_up_with_a_one_day_minimum),
        cmocka_unit_test(test_car_repairs_before_an_exchange_are_not_counted),
        cmocka_unit_test(test_car_2013_use_compensation_rate_from_request_rounded_half_up),
        cmocka_unit_test(test_car_use_compensation_rate_outside_the_regime_range_is_an_error),
        cmocka_unit_test(test_car_2021_lower_rate_from_request_is_used),
        cmocka_unit_test(test_car_c3_together_with_c6_stays_free),
        cmocka_unit_test(test_policy_car_rate_is_capped_at_the_statutory_maximum),
        cmocka_unit_test(test_car_2013_no_same_model_turns_c6_exchange_into_refund),
        cmocka_unit_test(test_car_c3_no_same_model_full_refund),
        cmocka_unit_test(test_car_open_repair_5_days_no_backup_car_6_days_backup_car),
        cmocka_unit_test(test_car_exemptions_each_make_the_problem_exempt),
        cmocka_unit_test(test_car_commercial_use_exempt_in_2013_but_not_in_2021),
        cmocka_unit_test(test_car_missing_warranty_card_exempt_in_2013_but_not_in_2021),
        cmocka_unit_test(test_car_exempt_and_expired_is_not_covered),
        cmocka_unit_test(test_car_exchange_restarts_both_periods_c11),
        cmocka_unit_test(test_car_without_odometer_is_an_error),
        cmocka_unit_test(
            test_promise_extends_phone_validity_for_a_brand_matched_case_insensitively),
        cmocka_unit_test(test_promise_of_another_brand_is_ignored),
        cmocka_unit_test(test_promise_extends_car_warranty),
        cmocka_unit_test(test_negative_promise_cannot_shorten_the_statute),
        cmocka_unit_test(test_array_instead_of_object_is_an_error_with_null_id),
        cmocka_unit_test(test_missing_id_is_an_error_with_null_id),
        cmocka_unit_test(test_bad_date_is_an_error_echoing_the_id),
        cmocka_unit_test(test_unknown_category_is_an_error),
        cmocka_unit_test(test_missing_required_fields_are_errors),
        cmocka_unit_test(test_negative_or_absurd_money_is_an_error),
        cmocka_unit_test(test_wrongly_typed_fields_are_errors),
        cmocka_unit_test(test_inconsistent_dates_are_errors),
        cmocka_unit_test(test_unknown_fields_are_ignored),
        cmocka_unit_test(test_evaluate_line_turns_invalid_json_into_an_error_line),
        cmocka_unit_test(test_evaluate_line_skips_blank_lines),
        cmocka_unit_test(test_evaluate_line_writes_keys_in_contract_order),
        cmocka_unit_test(test_evaluate_line_handles_a_very_long_line),
        cmocka_unit_test(test_holiday_file_reader_accepts_comments_and_sorts),
        cmocka_unit_test(test_holiday_file_reader_rejects_a_bad_line),
        cmocka_unit_test(test_policy_defaults_are_statutory),
        cmocka_unit_test(test_fault_code_table_overrides_the_desks_listed_flag),
        cmocka_unit_test(test_fault_code_unknown_to_the_table_keeps_the_desks_flag),
        cmocka_unit_test(test_fault_code_row_of_the_category_wins_over_the_wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
