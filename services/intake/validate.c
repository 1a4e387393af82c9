/* validate.c — intake's input rules: required fields, formats, ranges and lengths. */
#include "validate.h"

#include "as/enums.h"
#include "intake.pb-c.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

int iv_date_parse(const char *s, int32_t *days)
{
    int y, m, d;
    if (as_date_parse(s, &y, &m, &d) < 0)
        return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int32_t iv_today(void)
{
    const char *fake = getenv("AS_TODAY"); /* tests pin the business date */
    int32_t d;
    if (fake && iv_date_parse(fake, &d) == 0)
        return d;
    return (int32_t)((time(NULL) + 8 * 3600) / 86400);
}

void iv_date_format(int32_t z, char out[11])
{
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = (int)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", y, m, d);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

static int present(const char *s)
{
    return s && *s;
}

static void text(as_problems_t *e, const char *field, const char *s, size_t max, int required)
{
    as_check_text(e, field, s, max, required, 0);
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static const char *const GENERAL_ITEMS[] = {"color_tv", "bw_tv", "bicycle", "vcr", NULL};
static const char *const CAR_FAULTS[] = {"none",       "steering_failure", "brake_failure",
                                         "body_crack", "fuel_leak",        "traction_battery_fire",
                                         "major_part", "serious_safety",   "other",
                                         NULL};

static void date_field(as_problems_t *e, const char *field, const char *s, int required,
                       int32_t today, int32_t *out)
{
    *out = INT32_MIN;
    if (!present(s)) {
        if (required)
            as_problem(e, field, "is required (YYYY-MM-DD)");
        return;
    }
    int32_t d;
    if (iv_date_parse(s, &d) < 0) {
        as_problem(e, field, "'%.20s' is not a date (YYYY-MM-DD)", s);
        return;
    }
    if (d > today) {
        as_problem(e, field, "is in the future");
        return;
    }
    *out = d;
}

int iv_open_ticket(Intake__OpenTicket *t, as_problems_t *e, char warnings[4][160], int *nwarn)
{
    *nwarn = 0;
    int32_t today = iv_today();
    text(e, "center", t->center, 16, 1);
    text(e, "customer_id", t->customer_id, 32, 0);
    text(e, "device_key", t->device_key, 100, 0);
    if (!t->customer) {
        /* an existing customer: name and phone come from the record (checked in SQL) */
        if (!present(t->customer_id))
            as_problem(e, "customer", "is required (or customer_id)");
    } else {
        text(e, "customer.name", t->customer->name, 100, 1);
        text(e, "customer.phone", t->customer->phone, 20, 1);
        if (present(t->customer->phone)) {
            const char *p = t->customer->phone;
            size_t digits = 0;
            for (; *p; p++) {
                if (isdigit((unsigned char)*p))
                    digits++;
                else if (!strchr("+- ", *p)) {
                    as_problem(e, "customer.phone", "may contain only digits, '+', '-' and spaces");
                    break;
                }
            }
            if (digits < 5)
                as_problem(e, "customer.phone", "needs at least 5 digits");
        }
    }
    const char *category = NULL;
    if (!t->device) {
        /* an existing device: its identifiers come from the registry (checked in SQL) */
        if (!present(t->device_key))
            as_problem(e, "device", "is required (or device_key)");
    } else {
        Intake__Device *d = t->device;
        category = d->category;
        if (!present(d->category))
            as_problem(e, "device.category", "is required");
        else if (!as_enum_has(&intake__device_category__descriptor, d->category)) {
            char set[200];
            as_problem(
                e, "device.category", "'%.40s' is not one of %s", d->category,
                as_enum_list(&intake__device_category__descriptor, ", ", ", ", set, sizeof set));
        }
        if (present(d->category) && strcmp(d->category, "general") == 0 &&
            (!present(d->general_item) || !one_of(d->general_item, GENERAL_ITEMS)))
            as_problem(e, "device.general_item",
                       "is required for general goods: color_tv, bw_tv, "
                       "bicycle or vcr");
        text(e, "device.brand", d->brand, 60, 1);
        text(e, "device.model", d->model, 60, 1);
        text(e, "device.serial", d->serial, 64, 0);
        text(e, "device.vin", d->vin, 17, 0);
        int is_host = present(d->category) && strcmp(d->category, "phone_host") == 0;
        if (is_host && !present(d->imei))
            as_problem(e, "device.imei", "is required for a phone host");
        if (present(d->imei) && !as_imei_valid(d->imei))
            as_problem(e, "device.imei", "must be 15 digits with a valid check digit (Luhn)");
        if (present(d->imei_label) && !as_imei_valid(d->imei_label))
            as_problem(e, "device.imei_label", "must be 15 digits with a valid check digit (Luhn)");
        if (present(d->imei) && present(d->imei_label) && strcmp(d->imei, d->imei_label) != 0) {
            /* 内外码不一致: recorded, never silently accepted. */
            if (!t->flags) {
                t->flags = malloc(sizeof *t->flags);
                if (t->flags)
                    intake__flags__init(t->flags);
            }
            if (t->flags) {
                t->flags->has_proof_mismatch = 1;
                t->flags->proof_mismatch = 1;
            }
            if (*nwarn < 4)
                snprintf(warnings[(*nwarn)++], 160,
                         "IMEI inside the device differs from the label: proof mismatch recorded");
        }
        if (d->has_odometer_km && (d->odometer_km < 0 || d->odometer_km > 10000000))
            as_problem(e, "device.odometer_km", "must be between 0 and 10000000");
        if (present(d->category) && strcmp(d->category, "car") == 0 && !d->has_odometer_km)
            as_problem(e, "device.odometer_km", "is required for a car");
    }
    int32_t claim = today;
    if (present(t->claim_date)) {
        int32_t cd;
        date_field(e, "claim_date", t->claim_date, 0, today, &cd);
        if (cd != INT32_MIN)
            claim = cd;
    } else {
        char buf[11];
        iv_date_format(today, buf);
        free(t->claim_date); /* may be "" owned by the message */
        t->claim_date = strdup(buf);
    }
    if (!t->purchase) {
        as_problem(e, "purchase", "is required");
    } else {
        Intake__Purchase *p = t->purchase;
        int32_t inv, del, prod;
        int has_proof = (p->has_invoice && p->invoice) ||
                        (p->has_warranty_card && p->warranty_card) ||
                        (p->has_invoice_copy && p->invoice_copy);
        date_field(e, "purchase.invoice_date", p->invoice_date, has_proof, today, &inv);
        date_field(e, "purchase.delivery_date", p->delivery_date, 0, today, &del);
        date_field(e, "purchase.imei_production_date", p->imei_production_date, 0, today, &prod);
        if (inv != INT32_MIN && inv > claim)
            as_problem(e, "purchase.invoice_date", "is after the claim date");
        if (del != INT32_MIN && inv != INT32_MIN && del < inv)
            as_problem(e, "purchase.delivery_date", "is before the invoice date");
        if (!p->has_price_cents)
            as_problem(e, "purchase.price_cents", "is required");
        else if (p->price_cents < 0 || p->price_cents > 100000000000LL)
            as_problem(e, "purchase.price_cents", "must be between 0 and 100000000000");
        if (p->has_standalone_price_cents &&
            (p->standalone_price_cents < 0 || p->standalone_price_cents > 100000000000LL))
            as_problem(e, "purchase.standalone_price_cents", "must be between 0 and 100000000000");
    }
    if (!t->fault) {
        as_problem(e, "fault", "is required");
    } else {
        text(e, "fault.code", t->fault->code, 32, 1);
        text(e, "fault.description", t->fault->description, 2000, 0);
        if (present(t->fault->car) && !one_of(t->fault->car, CAR_FAULTS))
            as_problem(e, "fault.car", "'%.40s' is not a car fault class", t->fault->car);
        text(e, "fault.assembly", t->fault->assembly, 40, 0);
        if (category && strcmp(category, "car") == 0 && !present(t->fault->car))
            as_problem(e, "fault.car", "is required for a car");
    }
    char requests[80];
    as_enum_list(&intake__request__descriptor, ", ", " or ", requests, sizeof requests);
    if (!present(t->request))
        as_problem(e, "request", "is required: %s", requests);
    else if (!as_enum_has(&intake__request__descriptor, t->request))
        as_problem(e, "request", "'%.20s' is not %s", t->request, requests);
    if (present(t->use_compensation_rate)) {
        /* Plain decimal text only ("0.005"): no signs, exponents, hex or NaN. */
        const char *q = t->use_compensation_rate;
        size_t digits = strspn(q, "0123456789");
        int plain =
            digits > 0 &&
            (q[digits] == '\0' || (q[digits] == '.' && q[digits + 1] &&
                                   strspn(q + digits + 1, "0123456789") == strlen(q + digits + 1)));
        double r = plain ? strtod(q, NULL) : -1;
        if (!plain || !(r >= 0 && r <= 0.01))
            as_problem(e, "use_compensation_rate", "must be a decimal between 0 and 0.01");
    }
    return e->n;
}
