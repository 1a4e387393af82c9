/* fuzz_intake_validate.c — libFuzzer target: intake's field validation
 * (services/intake/validate.c), with the business date pinned by AS_TODAY.
 *
 * The input is used twice:
 *   - as a string for as_imei_valid and iv_date_parse (a parsed date must format back to the
 *     same text and lie in 1900..2999);
 *   - as a packed intake.OpenTicket for iv_open_ticket, the way services/intake/main.c runs it:
 *     validate (normalising in place), then encode the ticket to JSON for the SQL call.
 * Properties: the returned count equals the collected errors (at most AS_PROBLEMS_MAX), at most
 * 4 warnings, a claim date is always filled in, the normalised message is still a valid
 * message, and a ticket declared valid really satisfies the rules the SQL relies on. */
#include "as/pbjson.h"
#include "fuzz_pb.h"
#include "validate.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_TODAY "2025-06-15"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("AS_TODAY", FUZZ_TODAY, 1);
    return 0;
}

static int in_set(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static void check_strings(const char *s)
{
    if (as_imei_valid(s)) {
        FUZZ_CHECK(strlen(s) == 15, "accepted an IMEI of %zu characters", strlen(s));
        for (int i = 0; i < 15; i++)
            FUZZ_CHECK(isdigit((unsigned char)s[i]), "accepted an IMEI with '%c'", s[i]);
    }
    int32_t days = 12345;
    if (iv_date_parse(s, &days) == 0) {
        char out[11];
        iv_date_format(days, out);
        FUZZ_CHECK(strcmp(out, s) == 0, "date '%s' parsed to day %d, which formats as '%s'", s,
                   days, out);
        /* 1900-01-01 .. 2999-12-31 */
        FUZZ_CHECK(days >= -25567 && days <= 376199, "date '%s' is day %d, out of range", s, days);
    } else {
        FUZZ_CHECK(days == 12345, "a refused date '%s' still wrote the output", s);
    }
}

/* What a ticket iv_open_ticket accepted must satisfy (the SQL function trusts these). */
static void check_valid_ticket(const Intake__OpenTicket *t)
{
    static const char *const requests[] = {"refund", "exchange", "repair", NULL};
    FUZZ_CHECK(t->center && *t->center && strlen(t->center) <= 16, "valid ticket without center");
    FUZZ_CHECK(t->customer && t->device && t->purchase && t->fault,
               "valid ticket lacks customer, device, purchase or fault");
    FUZZ_CHECK(t->request && in_set(t->request, requests), "valid ticket with request '%s'",
               t->request ? t->request : "(null)");
    FUZZ_CHECK(t->device->category && *t->device->category, "valid ticket without category");
    if (t->device->imei && *t->device->imei)
        FUZZ_CHECK(as_imei_valid(t->device->imei), "valid ticket with a bad IMEI");
    FUZZ_CHECK(t->purchase->has_price_cents && t->purchase->price_cents >= 0,
               "valid ticket without a price");
    int32_t d;
    FUZZ_CHECK(t->claim_date && iv_date_parse(t->claim_date, &d) == 0,
               "valid ticket whose claim_date '%s' is no date",
               t->claim_date ? t->claim_date : "(null)");
    if (t->use_compensation_rate && *t->use_compensation_rate) {
        double r = strtod(t->use_compensation_rate, NULL);
        FUZZ_CHECK(isfinite(r) && r >= 0 && r <= 0.01,
                   "valid ticket with use_compensation_rate '%.40s' (= %g), outside 0 .. 0.01",
                   t->use_compensation_rate, r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    check_strings(s);
    free(s);

    Intake__OpenTicket *t = intake__open_ticket__unpack(NULL, size, data);
    if (!t)
        return 0;
    as_problems_t e;
    memset(&e, 0, sizeof e);
    char warnings[4][160];
    int nwarn = -1;
    int n = iv_open_ticket(t, &e, warnings, &nwarn);
    FUZZ_CHECK(n == e.n && n >= 0 && n <= AS_PROBLEMS_MAX, "returned %d with %d errors", n, e.n);
    FUZZ_CHECK(nwarn >= 0 && nwarn <= 4, "%d warnings", nwarn);
    for (int i = 0; i < e.n; i++) {
        FUZZ_CHECK(memchr(e.field[i], '\0', sizeof e.field[i]) && e.field[i][0],
                   "error %d has no field name", i);
        FUZZ_CHECK(memchr(e.problem[i], '\0', sizeof e.problem[i]) && e.problem[i][0],
                   "error %d has no problem text", i);
    }
    for (int i = 0; i < nwarn; i++)
        FUZZ_CHECK(memchr(warnings[i], '\0', sizeof warnings[i]), "warning %d unterminated", i);
    FUZZ_CHECK(t->claim_date != NULL, "claim_date was not defaulted");
    if (n == 0)
        check_valid_ticket(t);
    /* main.c encodes the normalised ticket for SQL: it must still be a well-formed message. */
    fuzz_check_message(&t->base, FUZZ_FROM_WIRE);
    intake__open_ticket__free_unpacked(t, NULL);
    return 0;
}
