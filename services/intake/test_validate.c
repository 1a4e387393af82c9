/* test_validate.c — intake's input rules: IMEI check digits, dates, required fields, ranges,
 * and the proof-mismatch flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "validate.h"

static void test_imei_with_valid_luhn_digit_is_accepted(void **state)
{
    (void)state;
    assert_true(as_imei_valid("490154203237518"));
    assert_true(as_imei_valid("356938035643809"));
}

static void test_imei_with_wrong_digit_length_or_letters_is_refused(void **state)
{
    (void)state;
    assert_false(as_imei_valid("490154203237519"));
    assert_false(as_imei_valid("49015420323751"));
    assert_false(as_imei_valid("4901542032375180"));
    assert_false(as_imei_valid("49015420323751a"));
    assert_false(as_imei_valid(NULL));
}

static void test_dates_are_strict_calendar_dates(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(iv_date_parse("2024-02-29", &d), 0);
    assert_int_equal(iv_date_parse("2023-02-29", &d), -1);
    assert_int_equal(iv_date_parse("2026-13-01", &d), -1);
    assert_int_equal(iv_date_parse("2026-1-01", &d), -1);
    assert_int_equal(iv_date_parse("2026-01-01T00", &d), -1);
    assert_int_equal(iv_date_parse("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    char out[11];
    iv_date_parse("2026-11-23", &d);
    iv_date_format(d, out);
    assert_string_equal(out, "2026-11-23");
}

typedef struct fixture {
    Intake__OpenTicket t;
    Intake__Customer c;
    Intake__Device d;
    Intake__Purchase p;
    Intake__Fault f;
} fixture_t;

static void fill(fixture_t *x)
{
    intake__open_ticket__init(&x->t);
    intake__customer__init(&x->c);
    intake__device__init(&x->d);
    intake__purchase__init(&x->p);
    intake__fault__init(&x->f);
    x->c.name = "Li Lei";
    x->c.phone = "138-0000 1234";
    x->d.category = "phone_host";
    x->d.brand = "Huaxin";
    x->d.model = "HX-10";
    x->d.imei = "490154203237518";
    x->p.invoice_date = "2026-01-05";
    x->p.has_invoice = 1;
    x->p.invoice = 1;
    x->p.has_price_cents = 1;
    x->p.price_cents = 100;
    x->f.code = "NO_POWER";
    x->t.center = "SH01";
    x->t.customer = &x->c;
    x->t.device = &x->d;
    x->t.purchase = &x->p;
    x->t.fault = &x->f;
    x->t.request = "repair";
    x->t.claim_date = "2026-02-01";
}

static int has_field(const as_problems_t *e, const char *field)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->field[i], field) == 0)
            return 1;
    return 0;
}

static void test_a_complete_ticket_passes(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    assert_int_equal(iv_open_ticket(&x.t, &e, w, &nw), 0);
    assert_int_equal(nw, 0);
}

static void test_every_problem_is_reported_not_just_the_first(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.c.name = NULL;
    x.d.imei = "490154203237519";
    x.p.price_cents = -1;
    x.t.request = "upgrade";
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    assert_int_equal(iv_open_ticket(&x.t, &e, w, &nw), 4);
    assert_true(has_field(&e, "customer.name"));
    assert_true(has_field(&e, "device.imei"));
    assert_true(has_field(&e, "purchase.price_cents"));
    assert_true(has_field(&e, "request"));
}

static void test_customer_id_and_device_key_stand_in_for_customer_and_device(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.t.customer = NULL;
    x.t.device = NULL;
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    assert_int_equal(iv_open_ticket(&x.t, &e, w, &nw), 2);
    assert_true(has_field(&e, "customer"));
    assert_true(has_field(&e, "device"));
    as_problems_t e2 = {0};
    x.t.customer_id = "CU00000042";
    x.t.device_key = "490154203237518";
    assert_int_equal(iv_open_ticket(&x.t, &e2, w, &nw), 0);
}

static void test_future_dates_and_purchase_after_claim_are_refused(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.p.invoice_date = "2026-02-02"; /* after the claim date 2026-02-01 */
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    iv_open_ticket(&x.t, &e, w, &nw);
    assert_true(has_field(&e, "purchase.invoice_date"));
    fill(&x);
    x.t.claim_date = "2026-03-02"; /* tomorrow */
    e.n = 0;
    iv_open_ticket(&x.t, &e, w, &nw);
    assert_true(has_field(&e, "claim_date"));
}

static void test_differing_label_imei_sets_proof_mismatch_and_warns(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.d.imei_label = "356938035643809";
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    assert_int_equal(iv_open_ticket(&x.t, &e, w, &nw), 0);
    assert_int_equal(nw, 1);
    assert_non_null(x.t.flags);
    assert_true(x.t.flags->proof_mismatch);
    free(x.t.flags);
}

static void test_a_car_needs_odometer_and_fault_class(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.d.category = "car";
    x.d.imei = NULL;
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    iv_open_ticket(&x.t, &e, w, &nw);
    assert_true(has_field(&e, "device.odometer_km"));
    assert_true(has_field(&e, "fault.car"));
}

static void test_missing_claim_date_defaults_to_today(void **state)
{
    (void)state;
    fixture_t x;
    fill(&x);
    x.t.claim_date = NULL;
    as_problems_t e = {0};
    char w[4][160];
    int nw;
    setenv("AS_TODAY", "2026-03-01", 1);
    assert_int_equal(iv_open_ticket(&x.t, &e, w, &nw), 0);
    assert_string_equal(x.t.claim_date, "2026-03-01");
    free(x.t.claim_date);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imei_with_valid_luhn_digit_is_accepted),
        cmocka_unit_test(test_imei_with_wrong_digit_length_or_letters_is_refused),
        cmocka_unit_test(test_dates_are_strict_calendar_dates),
        cmocka_unit_test(test_a_complete_ticket_passes),
        cmocka_unit_test(test_every_problem_is_reported_not_just_the_first),
        cmocka_unit_test(test_customer_id_and_device_key_stand_in_for_customer_and_device),
        cmocka_unit_test(test_future_dates_and_purchase_after_claim_are_refused),
        cmocka_unit_test(test_differing_label_imei_sets_proof_mismatch_and_warns),
        cmocka_unit_test(test_a_car_needs_odometer_and_fault_class),
        cmocka_unit_test(test_missing_claim_date_defaults_to_today),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
