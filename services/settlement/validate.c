/* validate.c — settlement's input rules: formats, ranges and lengths of command fields. The
 * database checks what needs data (states, amounts against claims, scope). */
#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/enums.h"
#include "intake.pb-c.h"
#include "settlement.pb-c.h"

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int sv_date_valid(const char *s)
{
    return as_date_valid(s);
}

int sv_period_valid(const char *s)
{
    if (!s || strlen(s) != 7 || s[4] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2))
        return 0;
    int y = atoi(s), m = atoi(s + 5);
    return y >= 1900 && y <= 2999 && m >= 1 && m <= 12;
}

int sv_id_valid(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return 0;
    return 1;
}

/* Digits only, 1..18 of them (a journal entry number). */
static int entry_no_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 18 && all_digits(s, n) && !(n > 1 && s[0] == '0');
}

static void need_id(as_problems_t *e, const char *field, const char *v, size_t max)
{
    if (!v || !*v)
        as_problem(e, field, "is required");
    else if (!sv_id_valid(v, max))
        as_problem(e, field, "must be 1..%zu visible characters", max);
}

static void opt_date(as_problems_t *e, const char *field, const char *v)
{
    if (v && !sv_date_valid(v))
        as_problem(e, field, "must be a date YYYY-MM-DD");
}

static void date_range(as_problems_t *e, const char *from, const char *to)
{
    opt_date(e, "from", from);
    opt_date(e, "to", to);
    if (from && to && sv_date_valid(from) && sv_date_valid(to) && strcmp(from, to) > 0)
        as_problem(e, "to", "must not be before from");
}

static void opt_limit(as_problems_t *e, int has, int v, int max)
{
    if (has && (v < 1 || v > max))
        as_problem(e, "limit", "must be 1..%d", max);
}

static void opt_text(as_problems_t *e, const char *field, const char *v, size_t max)
{
    if (v && strlen(v) > max)
        as_problem(e, field, "must be at most %zu bytes", max);
}

/* Yuan with exactly two decimals: "50.00", "0.05", "1234.50" (at most 12 integer digits). */
int sv_yuan_valid(const char *s)
{
    size_t n = strlen(s);
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || (size_t)(dot - s) > 12 || n - (size_t)(dot - s) != 3)
        return 0;
    return all_digits(s, (size_t)(dot - s)) && all_digits(dot + 1, 2);
}

/* ---- the price list's writes ---- */

#define RATE_MAX_CENTS 100000000000LL /* 1,000,000,000.00 yuan: far above any real price */

static void need_cents(as_problems_t *e, const char *field, int has, int64_t v, int required)
{
    if (!has) {
        if (required)
            as_problem(e, field, "is required (integer cents)");
    } else if (v < 0)
        as_problem(e, field, "must not be negative");
    else if (v > RATE_MAX_CENTS)
        as_problem(e, field, "must be at most %lld cents", RATE_MAX_CENTS);
}

/* A price-list code (labour code, SKU, fee code): 1..64 visible characters. */
static void need_code(as_problems_t *e, const char *field, const char *v)
{
    need_id(e, field, v, 64);
}

/* '*' or a device category the warranty rules know. */
static void opt_category(as_problems_t *e, const char *v)
{
    char buf[256];
    if (v && strcmp(v, "*") != 0 && !as_enum_has(&intake__device_category__descriptor, v))
        as_problem(
            e, "category", "must be * (any) or %s",
            as_enum_list(&intake__device_category__descriptor, ", ", " or ", buf, sizeof buf));
}

/* '*' or a manufacturer code (1..64 visible characters; whether it is known is the database's). */
static void opt_manufacturer(as_problems_t *e, const char *v)
{
    if (v && !sv_id_valid(v, 64))
        as_problem(e, "manufacturer", "must be * (any) or a manufacturer code");
}

static void need_effective(as_problems_t *e, const char *v)
{
    if (!v || !*v)
        as_problem(e, "effective_from", "is required (YYYY-MM-DD, today or later)");
    else if (!sv_date_valid(v))
        as_problem(e, "effective_from", "must be a date YYYY-MM-DD");
}

static int is(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    return m->descriptor == d;
}

/* A travel rate's category: '*' (any) or a device category. */
static void travel_category(as_problems_t *e, const char *v)
{
    const ProtobufCEnumDescriptor *d = as_registry_find_enum("intake.DeviceCategory");
    char vals[300];
    if (strcmp(v, "*") != 0 && d && !as_enum_has(d, v))
        as_problem(e, "category", "must be '*' or one of %s",
                   as_enum_list(d, ", ", " or ", vals, sizeof vals));
}

int sv_validate(const ProtobufCMessage *msg, as_problems_t *e)
{
    if (is(msg, &settlement__get_charges__descriptor)) {
        need_id(e, "ticket_id", ((const Settlement__GetCharges *)msg)->ticket_id, 64);
    } else if (is(msg, &settlement__get_invoice__descriptor)) {
        need_id(e, "invoice_no", ((const Settlement__GetInvoice *)msg)->invoice_no, 64);
    } else if (is(msg, &settlement__list_invoices__descriptor)) {
        const Settlement__ListInvoices *m = (const void *)msg;
        if (m->center && !sv_id_valid(m->center, 16))
            as_problem(e, "center", "must be a centre code");
        if (m->has_year && (m->year < 2000 || m->year > 9999))
            as_problem(e, "year", "must be 2000..9999");
        if (m->after && !sv_id_valid(m->after, 64))
            as_problem(e, "after", "must be an invoice number");
        opt_limit(e, m->has_limit, m->limit, 500);
    } else if (is(msg, &settlement__get_claim__descriptor)) {
        need_id(e, "id", ((const Settlement__GetClaim *)msg)->id, 80);
    } else if (is(msg, &settlement__list_claims__descriptor)) {
        const Settlement__ListClaims *m = (const void *)msg;
        if (m->period && !sv_period_valid(m->period))
            as_problem(e, "period", "must be YYYY-MM");
        static const char *const states[] = {"open",     "submitted",          "approved",
                                             "rejected", "partially_approved", "paid"};
        if (m->state) {
            int ok = 0;
            for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
                ok |= strcmp(m->state, states[i]) == 0;
            if (!ok)
                as_problem(e, "state",
                           "must be open, submitted, approved, partially_approved, "
                           "rejected or paid");
        }
        opt_text(e, "manufacturer", m->manufacturer, 64);
        opt_text(e, "after", m->after, 80);
        opt_limit(e, m->has_limit, m->limit, 200);
    } else if (is(msg, &settlement__submit_claim__descriptor)) {
        need_id(e, "id", ((const Settlement__SubmitClaim *)msg)->id, 80);
    } else if (is(msg, &settlement__decide_claim__descriptor)) {
        const Settlement__DecideClaim *m = (const void *)msg;
        need_id(e, "id", m->id, 80);
        opt_text(e, "correction_reason", m->correction_reason, 500);
        if (m->n_lines > 5000)
            as_problem(e, "lines", "at most 5000 decisions per request");
        for (size_t i = 0; i < m->n_lines && e->n < AS_PROBLEMS_MAX; i++) {
            const Settlement__LineDecision *d = m->lines[i];
            char f[64];
            if (!d->has_line_no || d->line_no < 1) {
                snprintf(f, sizeof f, "lines[%zu].line_no", i);
                as_problem(e, f, "is required (a positive line number)");
            }
            if (d->has_approved_cents && d->approved_cents < 0) {
                snprintf(f, sizeof f, "lines[%zu].approved_cents", i);
                as_problem(e, f, "must not be negative");
            }
            if (d->has_approved && !d->approved && d->has_approved_cents && d->approved_cents > 0) {
                snprintf(f, sizeof f, "lines[%zu].approved_cents", i);
                as_problem(e, f, "a rejected line approves nothing");
            }
            if (d->approved_amount && !sv_yuan_valid(d->approved_amount)) {
                snprintf(f, sizeof f, "lines[%zu].approved_amount", i);
                as_problem(e, f, "must be yuan with two decimals, e.g. \"50.00\"");
            }
            if (d->approved_amount && d->has_approved_cents) {
                snprintf(f, sizeof f, "lines[%zu].approved_amount", i);
                as_problem(e, f, "give approved_cents or approved_amount, not both");
            }
            if (d->has_approved && !d->approved && d->approved_amount &&
                sv_yuan_valid(d->approved_amount) &&
                strspn(d->approved_amount, "0.") != strlen(d->approved_amount)) {
                snprintf(f, sizeof f, "lines[%zu].approved_amount", i);
                as_problem(e, f, "a rejected line approves nothing");
            }
            if (d->reason && strlen(d->reason) > 500) {
                snprintf(f, sizeof f, "lines[%zu].reason", i);
                as_problem(e, f, "must be at most 500 bytes");
            }
        }
    } else if (is(msg, &settlement__pay_claim__descriptor)) {
        const Settlement__PayClaim *m = (const void *)msg;
        need_id(e, "id", m->id, 80);
        if (m->has_paid_cents && m->paid_cents <= 0)
            as_problem(e, "paid_cents", "must be positive");
        if (m->paid_amount && !sv_yuan_valid(m->paid_amount))
            as_problem(e, "paid_amount", "must be yuan with two decimals, e.g. \"175.00\"");
        if (m->paid_amount && m->has_paid_cents)
            as_problem(e, "paid_amount", "give paid_cents or paid_amount, not both");
        opt_date(e, "paid_date", m->paid_date);
        opt_text(e, "reference", m->reference, 100);
    } else if (is(msg, &settlement__pay_refund__descriptor)) {
        const Settlement__PayRefund *m = (const void *)msg;
        need_id(e, "ticket_id", m->ticket_id, 64);
        static const char *const methods[] = {"cash", "card", "wechat_pay", "alipay",
                                              "bank_transfer"};
        int ok = 0;
        for (size_t i = 0; m->method && i < sizeof methods / sizeof methods[0]; i++)
            ok |= strcmp(m->method, methods[i]) == 0;
        if (!ok)
            as_problem(e, "method", "is required: cash, card, wechat_pay, alipay or bank_transfer");
        if (m->has_amount_cents && m->amount_cents <= 0)
            as_problem(e, "amount_cents", "must be positive");
        opt_date(e, "paid_date", m->paid_date);
        opt_text(e, "reference", m->reference, 100);
    } else if (is(msg, &settlement__get_refund__descriptor)) {
        need_id(e, "ticket_id", ((const Settlement__GetRefund *)msg)->ticket_id, 64);
    } else if (is(msg, &settlement__close_period__descriptor)) {
        const Settlement__ClosePeriod *m = (const void *)msg;
        if (!m->period)
            as_problem(e, "period", "is required");
        else if (!sv_period_valid(m->period))
            as_problem(e, "period", "must be YYYY-MM");
    } else if (is(msg, &settlement__get_entry__descriptor)) {
        if (!entry_no_valid(((const Settlement__GetEntry *)msg)->id))
            as_problem(e, "id", "must be an entry number");
    } else if (is(msg, &settlement__reverse_entry__descriptor)) {
        const Settlement__ReverseEntry *m = (const void *)msg;
        if (!entry_no_valid(m->id))
            as_problem(e, "id", "must be an entry number");
        if (!m->reason || !*m->reason)
            as_problem(e, "reason", "is required");
        opt_text(e, "reason", m->reason, 500);
    } else if (is(msg, &settlement__get_balance__descriptor)) {
        const Settlement__GetBalance *m = (const void *)msg;
        if (m->period && !sv_period_valid(m->period))
            as_problem(e, "period", "must be YYYY-MM");
        date_range(e, m->from, m->to);
    } else if (is(msg, &settlement__export_page__descriptor)) {
        const Settlement__ExportPage *m = (const void *)msg;
        date_range(e, m->from, m->to);
        opt_text(e, "after", m->after, 40);
        opt_limit(e, m->has_limit, m->limit, 2000);
        if (m->has_upto && m->upto < 0)
            as_problem(e, "upto", "must not be negative");
    } else if (is(msg, &settlement__get_costs__descriptor)) {
        const Settlement__GetCosts *m = (const void *)msg;
        if (m->group && strcmp(m->group, "region") && strcmp(m->group, "center") &&
            strcmp(m->group, "cause"))
            as_problem(e, "group", "must be region, center or cause");
        date_range(e, m->from, m->to);
    } else if (is(msg, &settlement__get_rates__descriptor)) {
        const Settlement__GetRates *m = (const void *)msg;
        opt_date(e, "date", m->date);
    } else if (is(msg, &settlement__set_labour_rate__descriptor)) {
        const Settlement__SetLabourRate *m = (const void *)msg;
        need_code(e, "labour_code", m->labour_code);
        opt_category(e, m->category);
        opt_manufacturer(e, m->manufacturer);
        need_effective(e, m->effective_from);
        opt_text(e, "description", m->description, 200);
        need_cents(e, "list_flat_cents", m->has_list_flat_cents, m->list_flat_cents, 1);
        need_cents(e, "list_hour_cents", m->has_list_hour_cents, m->list_hour_cents, 0);
        need_cents(e, "claim_flat_cents", m->has_claim_flat_cents, m->claim_flat_cents, 1);
        need_cents(e, "claim_hour_cents", m->has_claim_hour_cents, m->claim_hour_cents, 0);
    } else if (is(msg, &settlement__set_part_price__descriptor)) {
        const Settlement__SetPartPrice *m = (const void *)msg;
        need_code(e, "sku", m->sku);
        opt_manufacturer(e, m->manufacturer);
        need_effective(e, m->effective_from);
        opt_text(e, "description", m->description, 200);
        need_cents(e, "list_cents", m->has_list_cents, m->list_cents, 1);
        need_cents(e, "cost_cents", m->has_cost_cents, m->cost_cents, 1);
    } else if (is(msg, &settlement__set_fee_rate__descriptor)) {
        const Settlement__SetFeeRate *m = (const void *)msg;
        need_code(e, "fee_code", m->fee_code);
        opt_category(e, m->category);
        opt_manufacturer(e, m->manufacturer);
        need_effective(e, m->effective_from);
        opt_text(e, "description", m->description, 200);
        if (m->applies && !as_enum_has(&settlement__fee_applies__descriptor, m->applies))
            as_problem(e, "applies", "must be always or visit");
        need_cents(e, "list_cents", m->has_list_cents, m->list_cents, 0);
        need_cents(e, "claim_cents", m->has_claim_cents, m->claim_cents, 0);
    } else if (is(msg, &settlement__set_claim_handling__descriptor)) {
        const Settlement__SetClaimHandling *m = (const void *)msg;
        opt_manufacturer(e, m->manufacturer);
        need_effective(e, m->effective_from);
        if (!m->has_handling_bp)
            as_problem(e, "handling_bp", "is required (basis points of cost, 1000 = 10 %%)");
        else if (m->handling_bp < 0 || m->handling_bp > 100000)
            as_problem(e, "handling_bp", "must be 0..100000 basis points");
    } else if (is(msg, &settlement__set_travel_rate__descriptor)) {
        const Settlement__SetTravelRate *m = (const void *)msg;
        opt_category(e, m->category);
        need_effective(e, m->effective_from);
        need_cents(e, "list_cents_per_km", m->has_list_cents_per_km, m->list_cents_per_km, 1);
        need_cents(e, "claim_cents_per_km", m->has_claim_cents_per_km, m->claim_cents_per_km, 1);
        if (m->has_list_cents_per_km && m->list_cents_per_km > 100000 &&
            m->list_cents_per_km <= RATE_MAX_CENTS)
            as_problem(e, "list_cents_per_km", "must be 0..100000 cents per km");
        if (m->has_claim_cents_per_km && m->claim_cents_per_km > 100000 &&
            m->claim_cents_per_km <= RATE_MAX_CENTS)
            as_problem(e, "claim_cents_per_km", "must be 0..100000 cents per km");
    } else if (is(msg, &settlement__list_travel_rates__descriptor)) {
        const Settlement__ListTravelRates *m = (const void *)msg;
        opt_date(e, "date", m->date);
        if (m->category)
            travel_category(e, m->category);
    } else if (is(msg, &settlement__pay_order_invoice__descriptor)) {
        const Settlement__PayOrderInvoice *m = (const void *)msg;
        need_id(e, "id", m->id, 32);
        const ProtobufCEnumDescriptor *pm = as_registry_find_enum("intake.PaymentMethod");
        char vals[200];
        if (!m->method || !*m->method)
            as_problem(e, "method", "is required: %s",
                       pm ? as_enum_list(pm, ", ", " or ", vals, sizeof vals) : "a payment method");
        else if (pm && !as_enum_has(pm, m->method))
            as_problem(e, "method", "must be one of %s",
                       as_enum_list(pm, ", ", " or ", vals, sizeof vals));
        opt_text(e, "reference", m->reference, 100);
        opt_date(e, "paid_date", m->paid_date);
    }
    return e->n;
}
