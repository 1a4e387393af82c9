/*
 * engine.c — the 三包 warranty adjudication rules engine (see engine.h for the API and
 * docs/warranty-rules.md for the rulebook; docs/warranty-engine.md explains the
 * organisation and the interpretation choices).
 *
 * Layout of this file:
 *   1. civil-calendar arithmetic (D-1, D-2) and the holiday calendar (D-3);
 *   2. rule ids, remedies and the decision record;
 *   3. request parsing and validation (the evaluation contract) into a request_t;
 *   4. the phone / general-goods evaluator (M-*, G-*, E*, D-5);
 *   5. the car evaluator (C-*, D-6);
 *   6. decision -> JSON, the public entry points.
 *
 * Money is always integer cents; products are computed in __int128 and rounded half-up once.
 */
#include "engine.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* 1. Calendar                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap(y)) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Contract: engine.h. Strict YYYY-MM-DD, real calendar day, years 1900..2999; 0 or -1. */
int wr_date_parse(const char *s, int32_t *days_out)
{
    if (s == NULL || days_out == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return -1;
    }
    const int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    const int m = (s[5] - '0') * 10 + (s[6] - '0');
    const int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < WR_DATE_MIN_YEAR || y > WR_DATE_MAX_YEAR || m < 1 || m > 12 || d < 1 ||
        d > days_in_month(y, m))
        return -1;
    *days_out = (int32_t)days_from_civil(y, m, d);
    return 0;
}

/* Contract: engine.h. Writes exactly 10 characters plus NUL; years clamped to 0000..9999. */
void wr_date_format(int32_t days, char out[11])
{
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0) {
        y = 0, m = 1, d = 1;
    } else if (y > 9999) {
        y = 9999, m = 12, d = 31;
    }
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

/* Contract: engine.h. D-2: same day-of-month, clamped to the target month's last day. */
int32_t wr_add_months(int32_t days, int months)
{
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    const int64_t total = y * 12 + (m - 1) + (int64_t)months;
    int64_t ny = total / 12;
    int64_t nm0 = total % 12;
    if (nm0 < 0) {
        nm0 += 12;
        ny -= 1;
    }
    const int nm = (int)nm0 + 1;
    const int dim = days_in_month(ny, nm);
    return (int32_t)days_from_civil(ny, nm, d > dim ? dim : d);
}

/* The holiday calendar of one evaluation: the policy's table plus the request's list. */
typedef struct calendar {
    const int32_t *a;
    size_t na;
    const int32_t *b;
    size_t nb;
} calendar_t;

static bool sorted_contains(const int32_t *v, size_t n, int32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool is_holiday(const calendar_t *c, int32_t day)
{
    return sorted_contains(c->a, c->na, day) || sorted_contains(c->b, c->nb, day);
}

/* D-3: a period whose last day is a statutory holiday ends on the first day after the
 * holiday (a run of consecutive holidays counts as one holiday). */
static int32_t roll_forward(const calendar_t *c, int32_t day)
{
    while (is_holiday(c, day))
        day++;
    return day;
}

static int cmp_i32(const void *pa, const void *pb)
{
    const int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

/* Sort ascending and drop duplicates in place; returns the new count. */
static size_t sort_unique(int32_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_i32);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Rule ids, remedies, decisions                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Canonical output order of rule ids: regime rules, exclusions, then arithmetic rules. */
/* clang-format off */
#define RULE_LIST(X)                                                                               \
    X(M1, "M-1") X(M2, "M-2") X(M3, "M-3") X(M4, "M-4") X(M5, "M-5") X(M6, "M-6") X(M7, "M-7")     \
    X(M8, "M-8") X(M9, "M-9") X(M10, "M-10") X(M11, "M-11") X(M12, "M-12") X(M13, "M-13")          \
    X(M14, "M-14")                                                                                 \
    X(G1, "G-1") X(G2, "G-2") X(G3, "G-3") X(G4, "G-4") X(G5, "G-5") X(G6, "G-6")                  \
    X(C1, "C-1") X(C2, "C-2") X(C3, "C-3") X(C4, "C-4") X(C5, "C-5") X(C6, "C-6") X(C7, "C-7")     \
    X(C8, "C-8") X(C9, "C-9") X(C10, "C-10") X(C11, "C-11")                                        \
    X(E1, "E1") X(E2, "E2") X(E3, "E3") X(E4, "E4") X(E5, "E5") X(E6, "E6")                        \
    X(D1, "D-1") X(D2, "D-2") X(D3, "D-3") X(D4, "D-4") X(D5, "D-5") X(D6, "D-6")              \
    X(R1, "R-1")
/* clang-format on */

enum rule_id {
#define RULE_ENUM(sym, name) R_##sym,
    RULE_LIST(RULE_ENUM)
#undef RULE_ENUM
        R_COUNT
};

static const char *const RULE_NAMES[R_COUNT] = {
#define RULE_NAME(sym, name) name,
    RULE_LIST(RULE_NAME)
#undef RULE_NAME
};

#define RULE(r) ((uint64_t)1 << (r))

enum remedy_bits { REM_REFUND = 1u, REM_EXCHANGE = 2u, REM_REPAIR = 4u };

typedef enum status {
    ST_GRANTED,
    ST_GRANTED_DEPRECIATION,
    ST_DENIED,
    ST_NOT_COVERED,
    ST_EXEMPT
} status_t;

static const char *const STATUS_NAMES[] = {"granted", "granted_with_depreciation", "denied",
                                           "not_covered", "exempt"};

typedef struct decision {
    const char *regime;
    status_t status;
    unsigned remedy; /* one REM_* bit, or 0 for "none" */
    unsigned entitled;
    bool free;
    bool show_refund, show_depreciation, show_use_comp;
    int64_t refund_cents, depreciation_cents, use_comp_cents;
    bool has_end;
    int32_t end;
    uint64_t rules;
    char reason[768];
} decision_t;

static const char *remedy_name(unsigned bit)
{
    switch (bit) {
    case REM_REFUND:
        return "refund";
    case REM_EXCHANGE:
        return "exchange";
    case REM_REPAIR:
        return "repair";
    default:
        return "none";
    }
}

/* A bounded string builder for reasons and error messages. */
typedef struct sbuf {
    char *buf;
    size_t cap;
    size_t len;
} sbuf_t;

static void sb_init(sbuf_t *s, char *buf, size_t cap)
{
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    if (cap > 0)
        buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_add(sbuf_t *s, const char *fmt, ...)
{
    if (s->len + 1 >= s->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    s->len += (size_t)n;
    if (s->len >= s->cap)
        s->len = s->cap - 1;
}

/* Append one clause of a list, separated from the previous one by ", ". */
static void sb_clause(sbuf_t *s, const char **sep, const char *text)
{
    sb_add(s, "%s%s", *sep, text);
    *sep = ", ";
}

/* Append cents as yuan, e.g. 399900 -> "3999.00". */
static void sb_money(sbuf_t *s, int64_t cents)
{
    sb_add(s, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
}

static void sb_date(sbuf_t *s, int32_t day)
{
    char d[11];
    wr_date_format(day, d);
    sb_add(s, "%s", d);
}

/* "refund, exchange or repair" style list of an entitled set. */
static void sb_remedy_list(sbuf_t *s, unsigned set)
{
    const unsigned order[3] = {REM_REFUND, REM_EXCHANGE, REM_REPAIR};
    int total = 0, done = 0;
    for (int i = 0; i < 3; i++)
        total += (set & order[i]) != 0;
    for (int i = 0; i < 3; i++) {
        if (!(set & order[i]))
            continue;
        if (done > 0)
            sb_add(s, done == total - 1 ? " or " : ", ");
        sb_add(s, "%s", remedy_name(order[i]));
        done++;
    }
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Round num / den half-up; num >= 0, den > 0. */
static int64_t div_half_up(__int128 num, int64_t den)
{
    return (int64_t)((num + den / 2) / den);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. Request parsing                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef enum category {
    CAT_PHONE_HOST,
    CAT_PHONE_BATTERY,
    CAT_PHONE_CHARGER,
    CAT_PHONE_HEADSET,
    CAT_PHONE_DATA_CARD,
    CAT_PHONE_TERMINAL_CARD,
    CAT_CAR,
    CAT_GENERAL
} category_t;

/* M-1 validity periods and the whole-unit periods of the 1995 goods and cars (三包有效期). */
static const struct {
    const char *name;
    int validity_months;
} CATEGORIES[] = {
    {"phone_host", 12},   {"phone_battery", 6},    {"phone_charger", 12},
    {"phone_headset", 3}, {"phone_data_card", 12}, {"phone_terminal_card", 12},
    {"car", 24},          {"general", 12},
};

/* G-5 catalogue daily depreciation rates, in ppm per day (0.1 % = 1000 ppm). */
static const struct {
    const char *name;
    const char *label;
    int64_t depreciation_ppm;
} GENERAL_ITEMS[] = {
    {"color_tv", "colour TV", 1000},
    {"bw_tv", "black-and-white TV", 500},
    {"bicycle", "bicycle", 500},
    {"vcr", "home VCR", 1000},
};

typedef enum car_fault {
    CF_NONE,
    CF_STEERING_FAILURE,
    CF_BRAKE_FAILURE,
    CF_BODY_CRACK,
    CF_FUEL_LEAK,
    CF_TRACTION_BATTERY_FIRE,
    CF_MAJOR_PART,
    CF_SERIOUS_SAFETY,
    CF_OTHER
} car_fault_t;

static const char *const CAR_FAULTS[] = {"none",       "steering_failure", "brake_failure",
                                         "body_crack", "fuel_leak",        "traction_battery_fire",
                                         "major_part", "serious_safety",   "other"};

static const char *const CAR_FAULT_LABELS[] = {
    "fault",     "steering failure",      "brake failure",     "body crack",
    "fuel leak", "traction battery fire", "main part failure", "serious safety fault",
    "fault"};

typedef enum delay_cause { DC_NONE, DC_PRODUCER_PARTS, DC_REPAIRER } delay_cause_t;
static const char *const DELAY_CAUSES[] = {"none", "producer_parts", "repairer"};

static const char *const REQUESTS[] = {"refund", "exchange", "repair"};
static const unsigned REQUEST_BITS[] = {REM_REFUND, REM_EXCHANGE, REM_REPAIR};

/* Sanity limits: anything beyond these is treated as a data error, which also keeps every
 * intermediate product far from overflow. */
#define MAX_CENTS         1000000000000LL /* 10 billion yuan */
#define MAX_KM            10000000LL
#define MAX_HOURS         1000000LL
#define MAX_COUNT         1000LL
#define MAX_LIST          1000u
#define MAX_HOLIDAYS      10000u
#define MAX_PROMISE_MONTH 1200

typedef struct repair {
    bool has_dropped_off, has_returned, has_hours;
    int32_t dropped_off, returned;
    int64_t hours;
    const char *problem;
    bool listed, serious_safety;
} repair_t;

typedef struct replacement {
    const char *assembly;
    const char *part; /* NULL: the whole assembly was replaced */
    int64_t count;
} replacement_t;

typedef struct request {
    const char *id;
    category_t cat;
    int item; /* index into GENERAL_ITEMS, -1 when absent */
    const char *brand;

    bool has_invoice_date, has_delivery_date, has_exchange_date;
    int32_t invoice_date, claim_date, delivery_date, exchange_date;

    bool has_price, has_standalone, has_km;
    int64_t price, standalone, km;

    bool proof_invoice, proof_card, proof_copy, has_production_date;
    int32_t production_date;

    bool fault_listed;
    const char *fault_code;
    car_fault_t car_fault;
    const char *assembly;
    const char *part;

    bool misuse, unauthorized_disassembly, proof_mismatch, force_majeure, commercial_use,
        disclosed_defect, prohibited_modification, improper_self_handling;

    repair_t *repairs;
    size_t n_repairs;
    int64_t exchanges;
    /* earlier refunds/exchanges of this very device (history.remedies); the first one
     * is quoted in the reason. */
    size_t n_prior_remedies;
    const char *prior_ticket, *prior_remedy;
    replacement_t *replacements;
    size_t n_replacements;

    bool has_open_repair;
    int32_t open_dropped_off;
    delay_cause_t open_cause;

    unsigned requested; /* one REM_* bit */
    bool seller_has_same_model, consumer_accepts_other_model, bundled_with_host;
    bool has_rate;
    int64_t rate_ppm;

    int32_t *holidays;
    size_t n_holidays;
} request_t;

static void request_free(request_t *r)
{
    free(r->repairs);
    free(r->replacements);
    free(r->holidays);
    r->repairs = NULL;
    r->replacements = NULL;
    r->holidays = NULL;
}

/* Look a field up; JSON null counts as absent. */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return (v == NULL || json_is_null(v)) ? NULL : v;
}

/* Each getter returns 0 (value stored, or absent and *present = false) or -1 with err set.
 * `name` is the dotted path used in error messages. */
static int get_string(const json_t *obj, const char *key, const char *name, const char **out,
                      char *err, size_t errlen)
{
    const json_t *v = field(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return fail(err, errlen, "%s: must be a string", name);
    *out = json_string_value(v);
    return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *name, bool def, bool *out,
                    char *err, size_t errlen)
{
    const json_t *v = field(obj, key);
    *out = def;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return fail(err, errlen, "%s: must be true or false", name);
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *obj, const char *key, const char *name, long long max,
                   bool *present, int64_t *out, char *err, size_t errlen)
{
    const json_t *v = field(obj, key);
    *present = false;
    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return fail(err, errlen, "%s: must be an integer", name);
    const json_int_t x = json_integer_value(v);
    if (x < 0)
        return fail(err, errlen, "%s: must not be negative", name);
    if (x > max)
        return fail(err, errlen, "%s: %lld is implausibly large (limit %lld)", name, (long long)x,
                    max);
    *present = true;
    *out = (int64_t)x;
    return 0;
}

static int get_date(const json_t *obj, const char *key, const char *name, bool *present,
                    int32_t *out, char *err, size_t errlen)
{
    const json_t *v = field(obj, key);
    *present = false;
    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || wr_date_parse(json_string_value(v), out) != 0)
        return fail(err, errlen, "%s: must be a valid YYYY-MM-DD date (years %d-%d)", name,
                    WR_DATE_MIN_YEAR, WR_DATE_MAX_YEAR);
    *present = true;
    return 0;
}

/* An enumerated string; *out = def when absent. */
static int get_enum(const json_t *obj, const char *key, const char *name, const char *const *names,
                    size_t n, int def, int *out, char *err, size_t errlen)
{
    const char *s;
    *out = def;
    if (get_string(obj, key, name, &s, err, errlen) != 0)
        return -1;
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return fail(err, errlen, "%s: unknown value \"%.60s\"", name, s);
}

static int get_object(const json_t *obj, const char *key, const json_t **out, char *err,
                      size_t errlen)
{
    const json_t *v = field(obj, key);
    *out = v;
    if (v != NULL && !json_is_object(v))
        return fail(err, errlen, "%s: must be an object", key);
    return 0;
}

static int parse_proofs(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *p;
    if (get_object(req, "proofs", &p, err, errlen) != 0)
        return -1;
    if (p == NULL)
        return 0;
    if (get_bool(p, "invoice", "proofs.invoice", false, &r->proof_invoice, err, errlen) ||
        get_bool(p, "warranty_card", "proofs.warranty_card", false, &r->proof_card, err, errlen) ||
        get_bool(p, "invoice_copy", "proofs.invoice_copy", false, &r->proof_copy, err, errlen) ||
        get_date(p, "imei_production_date", "proofs.imei_production_date", &r->has_production_date,
                 &r->production_date, err, errlen))
        return -1;
    return 0;
}

static int parse_fault(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *f;
    int car = CF_NONE;
    if (get_object(req, "fault", &f, err, errlen) != 0)
        return -1;
    if (f == NULL)
        return 0;
    if (get_string(f, "code", "fault.code", &r->fault_code, err, errlen) ||
        get_bool(f, "listed", "fault.listed", false, &r->fault_listed, err, errlen) ||
        get_enum(f, "car", "fault.car", CAR_FAULTS, sizeof CAR_FAULTS / sizeof *CAR_FAULTS, CF_NONE,
                 &car, err, errlen) ||
        get_string(f, "assembly", "fault.assembly", &r->assembly, err, errlen) ||
        get_string(f, "part", "fault.part", &r->part, err, errlen))
        return -1;
    r->car_fault = (car_fault_t)car;
    return 0;
}

static int parse_flags(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *f;
    if (get_object(req, "flags", &f, err, errlen) != 0)
        return -1;
    if (f == NULL)
        return 0;
    if (get_bool(f, "misuse", "flags.misuse", false, &r->misuse, err, errlen) ||
        get_bool(f, "unauthorized_disassembly", "flags.unauthorized_disassembly", false,
                 &r->unauthorized_disassembly, err, errlen) ||
        get_bool(f, "proof_mismatch", "flags.proof_mismatch", false, &r->proof_mismatch, err,
                 errlen) ||
        get_bool(f, "force_majeure", "flags.force_majeure", false, &r->force_majeure, err,
                 errlen) ||
        get_bool(f, "commercial_use", "flags.commercial_use", false, &r->commercial_use, err,
                 errlen) ||
        get_bool(f, "disclosed_defect", "flags.disclosed_defect", false, &r->disclosed_defect, err,
                 errlen) ||
        get_bool(f, "prohibited_modification", "flags.prohibited_modification", false,
                 &r->prohibited_modification, err, errlen) ||
        get_bool(f, "improper_self_handling", "flags.improper_self_handling", false,
                 &r->improper_self_handling, err, errlen))
        return -1;
    return 0;
}

static int parse_repair(const json_t *v, size_t i, const request_t *r, repair_t *out, char *err,
                        size_t errlen)
{
    char name[64];
    bool has_hours;
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return fail(err, errlen, "history.repairs[%zu]: must be an object", i);
#define PATH(key) (snprintf(name, sizeof name, "history.repairs[%zu].%s", i, key), name)
    if (get_date(v, "dropped_off", PATH("dropped_off"), &out->has_dropped_off, &out->dropped_off,
                 err, errlen) ||
        get_date(v, "returned", PATH("returned"), &out->has_returned, &out->returned, err,
                 errlen) ||
        get_int(v, "hours", PATH("hours"), MAX_HOURS, &has_hours, &out->hours, err, errlen) ||
        get_string(v, "problem", PATH("problem"), &out->problem, err, errlen) ||
        get_bool(v, "listed", PATH("listed"), false, &out->listed, err, errlen) ||
        get_bool(v, "serious_safety", PATH("serious_safety"), false, &out->serious_safety, err,
                 errlen))
        return -1;
#undef PATH
    out->has_hours = has_hours;
    if (out->has_dropped_off != out->has_returned)
        return fail(err, errlen,
                    "history.repairs[%zu]: dropped_off and returned must be given together", i);
    if (out->has_dropped_off) {
        if (out->returned < out->dropped_off)
            return fail(err, errlen, "history.repairs[%zu]: returned is before dropped_off", i);
        if (out->returned > r->claim_date)
            return fail(err, errlen, "history.repairs[%zu]: returned is after claim_date", i);
        if (r->has_invoice_date && out->dropped_off < r->invoice_date)
            return fail(err, errlen, "history.repairs[%zu]: dropped_off is before invoice_date", i);
    }
    if (r->cat == CAT_CAR) {
        if (!out->has_hours && !out->has_dropped_off)
            return fail(err, errlen,
                        "history.repairs[%zu]: a car repair needs hours or dropped_off/returned",
                        i);
    } else if (!out->has_dropped_off) {
        return fail(err, errlen, "history.repairs[%zu]: missing required field \"dropped_off\"", i);
    }
    return 0;
}

static int parse_replacement(const json_t *v, size_t i, replacement_t *out, char *err,
                             size_t errlen)
{
    char name[64];
    bool has_count;
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return fail(err, errlen, "history.replacements[%zu]: must be an object", i);
#define PATH(key) (snprintf(name, sizeof name, "history.replacements[%zu].%s", i, key), name)
    if (get_string(v, "assembly", PATH("assembly"), &out->assembly, err, errlen) ||
        get_string(v, "part", PATH("part"), &out->part, err, errlen) ||
        get_int(v, "count", PATH("count"), MAX_COUNT, &has_count, &out->count, err, errlen))
        return -1;
#undef PATH
    if (out->assembly == NULL)
        return fail(err, errlen, "history.replacements[%zu]: missing required field \"assembly\"",
                    i);
    if (!has_count)
        return fail(err, errlen, "history.replacements[%zu]: missing required field \"count\"", i);
    return 0;
}

static int parse_history(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *h;
    bool present;
    if (get_object(req, "history", &h, err, errlen) != 0)
        return -1;
    if (h == NULL)
        return 0;
    if (get_int(h, "exchanges", "history.exchanges", MAX_COUNT, &present, &r->exchanges, err,
                errlen))
        return -1;

    const json_t *reps = field(h, "repairs");
    if (reps != NULL) {
        if (!json_is_array(reps))
            return fail(err, errlen, "history.repairs: must be an array");
        const size_t n = json_array_size(reps);
        if (n > MAX_LIST)
            return fail(err, errlen, "history.repairs: more than %u entries", MAX_LIST);
        if (n > 0) {
            r->repairs = calloc(n, sizeof *r->repairs);
            if (r->repairs == NULL)
                return fail(err, errlen, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            if (parse_repair(json_array_get(reps, i), i, r, &r->repairs[i], err, errlen))
                return -1;
            r->n_repairs = i + 1;
        }
    }

    const json_t *rems = field(h, "remedies");
    if (rems != NULL) {
        if (!json_is_array(rems))
            return fail(err, errlen, "history.remedies: must be an array");
        const size_t n = json_array_size(rems);
        if (n > MAX_LIST)
            return fail(err, errlen, "history.remedies: more than %u entries", MAX_LIST);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(rems, i);
            const char *tid = NULL, *rem = NULL;
            char name[64];
            if (!json_is_object(v))
                return fail(err, errlen, "history.remedies[%zu]: must be an object", i);
            snprintf(name, sizeof name, "history.remedies[%zu].ticket_id", i);
            if (get_string(v, "ticket_id", name, &tid, err, errlen))
                return -1;
            snprintf(name, sizeof name, "history.remedies[%zu].remedy", i);
            if (get_string(v, "remedy", name, &rem, err, errlen))
                return -1;
            if (rem == NULL || (strcmp(rem, "refund") != 0 && strcmp(rem, "exchange") != 0))
                return fail(err, errlen, "history.remedies[%zu].remedy: must be refund or exchange",
                            i);
            if (i == 0) {
                r->prior_ticket = tid;
                r->prior_remedy = rem;
            }
            r->n_prior_remedies = i + 1;
        }
    }

    const json_t *repl = field(h, "replacements");
    if (repl != NULL) {
        if (!json_is_array(repl))
            return fail(err, errlen, "history.replacements: must be an array");
        const size_t n = json_array_size(repl);
        if (n > MAX_LIST)
            return fail(err, errlen, "history.replacements: more than %u entries", MAX_LIST);
        if (n > 0) {
            r->replacements = calloc(n, sizeof *r->replacements);
            if (r->replacements == NULL)
                return fail(err, errlen, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            if (parse_replacement(json_array_get(repl, i), i, &r->replacements[i], err, errlen))
                return -1;
            r->n_replacements = i + 1;
        }
    }
    return 0;
}

static int parse_open_repair(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *o;
    int cause = DC_NONE;
    bool present;
    if (get_object(req, "open_repair", &o, err, errlen) != 0)
        return -1;
    if (o == NULL)
        return 0;
    if (get_date(o, "dropped_off", "open_repair.dropped_off", &present, &r->open_dropped_off, err,
                 errlen) ||
        get_enum(o, "delay_cause", "open_repair.delay_cause", DELAY_CAUSES,
                 sizeof DELAY_CAUSES / sizeof *DELAY_CAUSES, DC_NONE, &cause, err, errlen))
        return -1;
    if (!present)
        return fail(err, errlen, "open_repair: missing required field \"dropped_off\"");
    if (r->open_dropped_off > r->claim_date)
        return fail(err, errlen, "open_repair.dropped_off is after claim_date");
    if (r->has_invoice_date && r->open_dropped_off < r->invoice_date)
        return fail(err, errlen, "open_repair.dropped_off is before invoice_date");
    r->has_open_repair = true;
    r->open_cause = (delay_cause_t)cause;
    return 0;
}

static int parse_holidays(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *h = field(req, "holidays");
    if (h == NULL)
        return 0;
    if (!json_is_array(h))
        return fail(err, errlen, "holidays: must be an array of YYYY-MM-DD dates");
    const size_t n = json_array_size(h);
    if (n > MAX_HOLIDAYS)
        return fail(err, errlen, "holidays: more than %u entries", MAX_HOLIDAYS);
    if (n == 0)
        return 0;
    r->holidays = malloc(n * sizeof *r->holidays);
    if (r->holidays == NULL)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(h, i);
        if (!json_is_string(v) || wr_date_parse(json_string_value(v), &r->holidays[i]) != 0)
            return fail(err, errlen, "holidays[%zu]: must be a valid YYYY-MM-DD date", i);
    }
    r->n_holidays = sort_unique(r->holidays, n);
    return 0;
}

static int parse_rate(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *v = field(req, "use_compensation_rate");
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return fail(err, errlen, "use_compensation_rate: must be a number such as 0.005");
    const double x = json_number_value(v);
    if (!(x >= 0.0 && x <= 1.0))
        return fail(err, errlen, "use_compensation_rate: must be between 0 and 1");
    /* The one conversion of a rate to integer parts per million, rounded half-up. */
    r->rate_ppm = (int64_t)(x * 1000000.0 + 0.5);
    r->has_rate = true;
    return 0;
}

/* Parse and validate the whole request into *r (strings borrowed from `req`). */
static int parse_request(const json_t *req, request_t *r, char *err, size_t errlen)
{
    const json_t *idv = json_object_get(req, "id");
    int cat, item, requested;
    bool present;

    if (idv == NULL || json_is_null(idv))
        return fail(err, errlen, "missing required field \"id\"");
    if (!json_is_string(idv))
        return fail(err, errlen, "id: must be a string");
    r->id = json_string_value(idv);

    if (field(req, "category") == NULL)
        return fail(err, errlen, "missing required field \"category\"");
    const char *cat_names[sizeof CATEGORIES / sizeof *CATEGORIES];
    for (size_t i = 0; i < sizeof CATEGORIES / sizeof *CATEGORIES; i++)
        cat_names[i] = CATEGORIES[i].name;
    if (get_enum(req, "category", "category", cat_names, sizeof cat_names / sizeof *cat_names, -1,
                 &cat, err, errlen))
        return -1;
    r->cat = (category_t)cat;

    const char *item_names[sizeof GENERAL_ITEMS / sizeof *GENERAL_ITEMS];
    for (size_t i = 0; i < sizeof GENERAL_ITEMS / sizeof *GENERAL_ITEMS; i++)
        item_names[i] = GENERAL_ITEMS[i].name;
    if (get_enum(req, "general_item", "general_item", item_names,
                 sizeof item_names / sizeof *item_names, -1, &item, err, errlen))
        return -1;
    r->item = item;
    if (r->cat == CAT_GENERAL && r->item < 0)
        return fail(err, errlen, "missing required field \"general_item\" (category general)");

    if (get_string(req, "brand", "brand", &r->brand, err, errlen))
        return -1;

    if (get_date(req, "claim_date", "claim_date", &present, &r->claim_date, err, errlen))
        return -1;
    if (!present)
        return fail(err, errlen, "missing required field \"claim_date\"");
    if (get_date(req, "invoice_date", "invoice_date", &r->has_invoice_date, &r->invoice_date, err,
                 errlen) ||
        get_date(req, "delivery_date", "delivery_date", &r->has_delivery_date, &r->delivery_date,
                 err, errlen) ||
        get_date(req, "exchange_date", "exchange_date", &r->has_exchange_date, &r->exchange_date,
                 err, errlen))
        return -1;
    if (r->has_invoice_date && r->claim_date < r->invoice_date)
        return fail(err, errlen, "claim_date is before invoice_date");
    if (r->has_exchange_date) {
        if (r->exchange_date > r->claim_date)
            return fail(err, errlen, "exchange_date is after claim_date");
        if (r->has_invoice_date && r->exchange_date < r->invoice_date)
            return fail(err, errlen, "exchange_date is before invoice_date");
    }

    if (get_int(req, "price_cents", "price_cents", MAX_CENTS, &r->has_price, &r->price, err,
                errlen) ||
        get_int(req, "standalone_price_cents", "standalone_price_cents", MAX_CENTS,
                &r->has_standalone, &r->standalone, err, errlen) ||
        get_int(req, "odometer_km", "odometer_km", MAX_KM, &r->has_km, &r->km, err, errlen))
        return -1;
    if (r->cat == CAT_CAR && !r->has_km)
        return fail(err, errlen, "missing required field \"odometer_km\" (category car)");

    if (parse_proofs(req, r, err, errlen) || parse_fault(req, r, err, errlen) ||
        parse_flags(req, r, err, errlen))
        return -1;
    if (r->has_production_date && r->production_date > r->claim_date)
        return fail(err, errlen, "proofs.imei_production_date is after claim_date");
    if (parse_history(req, r, err, errlen) || parse_open_repair(req, r, err, errlen))
        return -1;

    if (field(req, "request") == NULL)
        return fail(err, errlen, "missing required field \"request\"");
    if (get_enum(req, "request", "request", REQUESTS, 3, -1, &requested, err, errlen))
        return -1;
    r->requested = REQUEST_BITS[requested];

    if (get_bool(req, "seller_has_same_model", "seller_has_same_model", true,
                 &r->seller_has_same_model, err, errlen) ||
        get_bool(req, "consumer_accepts_other_model", "consumer_accepts_other_model", false,
                 &r->consumer_accepts_other_model, err, errlen) ||
        get_bool(req, "bundled_with_host", "bundled_with_host", false, &r->bundled_with_host, err,
                 errlen))
        return -1;
    if (parse_rate(req, r, err, errlen) || parse_holidays(req, r, err, errlen))
        return -1;
    return 0;
}

/* Largest extra months promised for this brand and category (a promise only widens). */
static void promised_months(const wr_policy_t *pol, const request_t *r, int *validity,
                            int *warranty)
{
    *validity = 0;
    *warranty = 0;
    if (r->brand == NULL || pol->promises == NULL)
        return;
    const char *cat = CATEGORIES[r->cat].name;
    for (size_t i = 0; i < pol->n_promises; i++) {
        const wr_manufacturer_promise_t *p = &pol->promises[i];
        if (p->brand == NULL || p->category == NULL || strcasecmp(p->brand, r->brand) != 0)
            continue;
        if (strcmp(p->category, "*") != 0 && strcmp(p->category, cat) != 0)
            continue;
        const int v = p->extra_validity_months > MAX_PROMISE_MONTH ? MAX_PROMISE_MONTH
                                                                   : p->extra_validity_months;
        const int w = p->extra_warranty_months > MAX_PROMISE_MONTH ? MAX_PROMISE_MONTH
                                                                   : p->extra_warranty_months;
        if (v > *validity)
            *validity = v;
        if (w > *warranty)
            *warranty = w;
    }
}

static int64_t clamp_ppm(int64_t ppm)
{
    return ppm < 0 ? 0 : (ppm > 1000000 ? 1000000 : ppm);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. Phones (phone-2001) and household goods (general-1995)                                   */
/* ------------------------------------------------------------------------------------------ */

typedef enum proof_level {
    PROOF_FULL,        /* original invoice: every remedy */
    PROOF_NO_REFUND,   /* invoice copy/stub (or card only): repair and exchange, no refund */
    PROOF_REPAIR_ONLY, /* nothing, but a production date: validity from production + 90 days */
    PROOF_NONE         /* nothing at all: E4 */
} proof_level_t;

static proof_level_t classify_proofs(const request_t *r)
{
    if (r->proof_invoice)
        return PROOF_FULL;
    if (r->proof_copy || r->proof_card)
        return PROOF_NO_REFUND;
    if (r->has_production_date)
        return PROOF_REPAIR_ONLY;
    return PROOF_NONE;
}

typedef struct span {
    int32_t from, to;
} span_t;

static int cmp_span(const void *pa, const void *pb)
{
    const span_t *a = pa, *b = pb;
    if (a->from != b->from)
        return (a->from > b->from) - (a->from < b->from);
    return (a->to > b->to) - (a->to < b->to);
}

/* Which rule gave each remedy (for the reason sentence); -1 when none. */
typedef struct sources {
    int refund, exchange, repair;
} sources_t;

static void grant(unsigned *ent, sources_t *src, unsigned bits, int rule)
{
    if ((bits & REM_REFUND) && !(*ent & REM_REFUND))
        src->refund = rule;
    if ((bits & REM_EXCHANGE) && !(*ent & REM_EXCHANGE))
        src->exchange = rule;
    if ((bits & REM_REPAIR) && !(*ent & REM_REPAIR))
        src->repair = rule;
    *ent |= bits;
}

/* Facts the reason sentence may quote. */
typedef struct facts {
    int64_t day_index; /* D-1 day of the claim since the sale (or delivery) */
    int64_t listed_repairs;
    int64_t open_days;
    int64_t use_days;
    int64_t cumulative_days;
    int64_t same_problem;
    int64_t serious_repairs;
    int64_t assembly_replacements;
    int64_t part_replacements;
    int c5_kind; /* 0 none, 1 serious safety, 2 assembly, 3 part */
    bool c6_days, c6_repeats;
    bool refund_blocked_by_proof;
} facts_t;

static void sb_ground(sbuf_t *s, int rule, const request_t *r, const decision_t *dc,
                      const facts_t *f)
{
    switch (rule) {
    case R_M2:
    case R_G1:
        sb_add(s, "a listed fault appeared on day %lld after the sale, within the 7-day window",
               (long long)f->day_index);
        break;
    case R_M3:
    case R_G2:
        sb_add(s, "a listed fault appeared on day %lld after the sale, within days 8 to 15",
               (long long)f->day_index);
        break;
    case R_M4:
        sb_add(s, "the claim is inside the validity period ending ");
        sb_date(s, dc->end);
        break;
    case R_M5:
    case R_G3:
        sb_add(s, "the product failed again after %lld repairs of listed faults",
               (long long)f->listed_repairs);
        break;
    case R_M6:
        if (r->exchanges >= 2)
            sb_add(s, "the accessory failed again after %lld exchanges", (long long)r->exchanges);
        else
            sb_add(s, "the accessory has a listed fault inside its validity period");
        break;
    case R_M7:
        sb_add(s, "the open repair has waited %lld days for the producer's parts",
               (long long)f->open_days);
        break;
    case R_G4:
        if (r->open_cause == DC_PRODUCER_PARTS)
            sb_add(s, "the open repair has waited %lld days for the producer's parts",
                   (long long)f->open_days);
        else
            sb_add(s, "the repairer has kept the product %lld days", (long long)f->open_days);
        break;
    case R_M8:
        sb_add(s, "the repairer has kept the product %lld days", (long long)f->open_days);
        break;
    case R_M9:
        sb_add(s, "the seller has no unit of the same model and the consumer declines another "
                  "model");
        break;
    case R_G5:
        if (!r->seller_has_same_model)
            sb_add(s, "the seller has no unit of the same model and the consumer declines "
                      "another model");
        else
            sb_add(s, "the consumer declines the available exchange");
        break;
    case R_M10:
        sb_add(s, "the consumer declines the available exchange");
        break;
    case R_C1:
        sb_add(s, "the claim is inside the warranty period");
        break;
    case R_C2:
        sb_add(s, "the %s needs a main part replaced on day %lld, within 7 days", r->assembly,
               (long long)f->day_index);
        break;
    case R_C3:
        sb_add(s, "a %s appeared on day %lld at %lld km, within 60 days and 3000 km",
               CAR_FAULT_LABELS[r->car_fault], (long long)f->day_index, (long long)r->km);
        break;
    case R_C4:
        sb_add(s,
               "a main part of the %s failed on day %lld at %lld km, within 60 days and 3000 "
               "km",
               r->assembly, (long long)f->day_index, (long long)r->km);
        break;
    case R_C5:
        if (f->c5_kind == 1)
            sb_add(s, "a serious safety fault persists after %lld repairs",
                   (long long)f->serious_repairs);
        else if (f->c5_kind == 2)
            sb_add(s, "the %s failed again after %lld assembly replacements", r->assembly,
                   (long long)f->assembly_replacements);
        else
            sb_add(s, "the same main part of the %s failed again after %lld replacements",
                   r->assembly, (long long)f->part_replacements);
        break;
    case R_C6:
        if (f->c6_days)
            sb_add(s, "the cumulative repair time inside the validity period is %lld days",
                   (long long)f->cumulative_days);
        else
            sb_add(s, "the same problem has been repaired %lld times", (long long)f->same_problem);
        break;
    case R_C7:
        sb_add(s, "no car of the same model or at least the original configuration is "
                  "available");
        break;
    default:
        sb_add(s, "the statutory rules apply");
        break;
    }
}

static int source_of(const sources_t *src, unsigned bit)
{
    return bit == REM_REFUND ? src->refund : bit == REM_EXCHANGE ? src->exchange : src->repair;
}

/* Finish a granted/denied decision: status, remedy, free flag and the reason sentence. */
static void settle(const request_t *r, decision_t *dc, const sources_t *src, const facts_t *f,
                   bool refund_depreciated, bool charged_route, const char *assembly_repair,
                   const char *tail)
{
    sbuf_t s;
    sb_init(&s, dc->reason, sizeof dc->reason);
    const unsigned want = r->requested;
    if (dc->entitled & want) {
        dc->remedy = want;
        dc->status = ST_GRANTED;
        dc->free = true;
        if (want == REM_REFUND) {
            if (refund_depreciated) {
                dc->status = ST_GRANTED_DEPRECIATION;
                dc->free = false;
                sb_add(&s, "Refund of ");
                sb_money(&s, dc->refund_cents);
                sb_add(&s, " granted after deducting depreciation of ");
                sb_money(&s, dc->depreciation_cents);
                sb_add(&s, " for %lld days of use: ", (long long)f->use_days);
            } else if (charged_route) {
                dc->free = false;
                sb_add(&s, "Refund of ");
                sb_money(&s, dc->refund_cents);
                sb_add(&s, " granted after deducting use compensation of ");
                sb_money(&s, dc->use_comp_cents);
                sb_add(&s, ": ");
            } else {
                sb_add(&s, "Full refund of ");
                sb_money(&s, dc->refund_cents);
                sb_add(&s, " granted: ");
            }
        } else if (want == REM_EXCHANGE) {
            if (charged_route) {
                dc->free = false;
                sb_add(&s, "Exchange granted against use compensation of ");
                sb_money(&s, dc->use_comp_cents);
                sb_add(&s, ": ");
            } else {
                sb_add(&s, "Free exchange granted: ");
            }
        } else if (assembly_repair != NULL) {
            sb_add(&s, "Free replacement of the whole %s assembly granted: ", assembly_repair);
        } else {
            sb_add(&s, "Free repair granted: ");
        }
        sb_ground(&s, source_of(src, want), r, dc, f);
    } else {
        dc->status = ST_DENIED;
        dc->remedy = 0;
        dc->free = false;
        sb_add(&s, "The requested %s is not available", remedy_name(want));
        if (f->refund_blocked_by_proof && want == REM_REFUND)
            sb_add(&s, " because the original invoice is missing");
        else if (dc->rules & RULE(R_M14))
            sb_add(&s, " because the fault is not a listed performance fault");
        else if (dc->entitled == REM_REPAIR && (dc->rules & RULE(R_M12)))
            sb_add(&s, " because without invoice or warranty card only repair is available");
        sb_add(&s, "; the consumer may choose ");
        sb_remedy_list(&s, dc->entitled);
    }
    if (tail != NULL)
        sb_add(&s, "%s", tail);
    sb_add(&s, ".");
}

static void set_not_covered(decision_t *dc, status_t status)
{
    dc->status = status;
    dc->remedy = REM_REPAIR;
    dc->entitled = REM_REPAIR;
    dc->free = false;
}

static int eval_goods(const request_t *r, const wr_policy_t *pol, const calendar_t *cal,
                      decision_t *dc, char *err, size_t errlen)
{
    const bool general = r->cat == CAT_GENERAL;
    const bool host_like = general || r->cat == CAT_PHONE_HOST;
    facts_t f;
    memset(&f, 0, sizeof f);
    dc->regime = general ? "general-1995" : "phone-2001";

    /* Step 2 — proofs (M-12): start date and allowed remedies. */
    const proof_level_t proof = classify_proofs(r);
    if ((proof == PROOF_FULL || proof == PROOF_NO_REFUND) && !r->has_invoice_date)
        return fail(err, errlen, "missing required field \"invoice_date\"");
    bool has_start = true;
    int32_t start = 0;
    if (proof == PROOF_FULL || proof == PROOF_NO_REFUND)
        start = r->invoice_date;
    else if (proof == PROOF_REPAIR_ONLY)
        start = r->production_date + 90;
    else
        has_start = false;
    if (proof != PROOF_FULL)
        dc->rules |= RULE(R_M12);
    if (has_start && r->has_exchange_date) { /* M-11 / G-6: new warranty card */
        start = r->exchange_date;
        dc->rules |= RULE(general ? R_G6 : R_M11);
    }

    /* Step 3 — periods: D-2, then D-5 extension, then D-3 roll-forward. */
    int pv, pw;
    promised_months(pol, r, &pv, &pw);
    int64_t repair_days_total = 0; /* every history repair span, for M-10 / G-5 use days */
    for (size_t i = 0; i < r->n_repairs; i++)
        repair_days_total += r->repairs[i].returned - r->repairs[i].dropped_off;
    if (r->has_open_repair)
        f.open_days = r->claim_date - r->open_dropped_off;
    if (has_start) {
        const int32_t base = wr_add_months(start, CATEGORIES[r->cat].validity_months + pv);
        int64_t end = base;
        if (r->n_repairs > 0) {
            span_t *spans = malloc(r->n_repairs * sizeof *spans);
            size_t n = 0;
            if (spans == NULL)
                return fail(err, errlen, "out of memory");
            for (size_t i = 0; i < r->n_repairs; i++)
                if (r->repairs[i].dropped_off >= start)
                    spans[n++] = (span_t){r->repairs[i].dropped_off, r->repairs[i].returned};
            if (n > 0)
                qsort(spans, n, sizeof *spans, cmp_span);
            for (size_t i = 0; i < n; i++)
                if (spans[i].from <= end)
                    end += spans[i].to - spans[i].from;
            free(spans);
        }
        if (r->has_open_repair && r->open_dropped_off >= start && r->open_dropped_off <= end)
            end += f.open_days;
        if (end != base)
            dc->rules |= RULE(R_D5);
        dc->end = roll_forward(cal, (int32_t)end);
        if (dc->end != end)
            dc->rules |= RULE(R_D3);
        dc->has_end = true;
    }

    /* Step 4 — exclusions (M-13). */
    uint64_t excl = 0;
    if (!has_start)
        excl |= RULE(R_E4);
    else if (r->claim_date > dc->end)
        excl |= RULE(R_E1);
    if (r->misuse)
        excl |= RULE(R_E2);
    if (r->unauthorized_disassembly)
        excl |= RULE(R_E3);
    if (r->proof_mismatch)
        excl |= RULE(R_E5);
    if (r->force_majeure)
        excl |= RULE(R_E6);
    if (excl != 0) {
        if (proof != PROOF_REPAIR_ONLY && proof != PROOF_NONE)
            dc->rules &= ~RULE(R_M12);
        dc->rules |= excl;
        set_not_covered(dc, ST_NOT_COVERED);
        sbuf_t s;
        sb_init(&s, dc->reason, sizeof dc->reason);
        sb_add(&s, "Not covered by the statutory warranty: ");
        const char *sep = "";
        if (excl & RULE(R_E1)) {
            sb_add(&s, "the validity period ended on ");
            sb_date(&s, dc->end);
            sep = ", ";
        }
        if (excl & RULE(R_E2))
            sb_clause(&s, &sep, "misuse or man-made damage");
        if (excl & RULE(R_E3))
            sb_clause(&s, &sep, "opened by someone other than an authorised repairer");
        if (excl & RULE(R_E4))
            sb_clause(&s, &sep, "no invoice, warranty card or production date");
        if (excl & RULE(R_E5))
            sb_clause(&s, &sep, "the warranty card does not match the product or was altered");
        if (excl & RULE(R_E6))
            sb_clause(&s, &sep, "force majeure");
        sb_add(&s, "; a paid repair is available.");
        return 0;
    }

    /* Steps 5 and 6 — qualify the fault (M-14) and add remedies from windows and history. */
    unsigned ent = 0;
    sources_t src = {-1, -1, -1};
    grant(&ent, &src, REM_REPAIR, R_M4);
    bool window = false;
    if (!r->fault_listed) {
        dc->rules |= RULE(R_M14);
    } else if (proof != PROOF_REPAIR_ONLY) {
        if (host_like) {
            f.day_index = r->claim_date - r->invoice_date; /* windows: original sale */
            if (f.day_index <= 7) {
                src.repair = -1;
                ent = 0;
                grant(&ent, &src, REM_REFUND | REM_EXCHANGE | REM_REPAIR, general ? R_G1 : R_M2);
                dc->rules |= RULE(general ? R_G1 : R_M2);
                window = true;
            } else if (f.day_index <= 15) {
                src.repair = -1;
                ent = 0;
                grant(&ent, &src, REM_EXCHANGE | REM_REPAIR, general ? R_G2 : R_M3);
                dc->rules |= RULE(general ? R_G2 : R_M3);
                window = true;
            }
            for (size_t i = 0; i < r->n_repairs; i++) {
                const repair_t *p = &r->repairs[i];
                if (p->listed && p->dropped_off >= start && p->dropped_off <= dc->end)
                    f.listed_repairs++;
            }
            if (f.listed_repairs >= 2) {
                grant(&ent, &src, REM_EXCHANGE, general ? R_G3 : R_M5);
                dc->rules |= RULE(general ? R_G3 : R_M5);
            }
        } else {
            grant(&ent, &src, REM_EXCHANGE, R_M6);
            if (r->exchanges >= 2)
                grant(&ent, &src, REM_REFUND, R_M6);
            dc->rules |= RULE(R_M6);
        }
        if (r->has_open_repair) {
            const int64_t parts_limit = general ? 91 : 61;
            int rule = -1;
            if (r->open_cause == DC_PRODUCER_PARTS && f.open_days >= parts_limit)
                rule = general ? R_G4 : R_M7;
            else if (r->open_cause == DC_REPAIRER && f.open_days >= 31)
                rule = general ? R_G4 : R_M8;
            if (rule >= 0) {
                grant(&ent, &src, REM_EXCHANGE, rule);
                dc->rules |= RULE(rule);
            }
        }
    }
    if (!window)
        dc->rules |= RULE(R_M4);

    /* M-12: an invoice copy (or card only) blocks every refund. */
    if (proof == PROOF_NO_REFUND && (ent & REM_REFUND)) {
        ent &= ~(unsigned)REM_REFUND;
        f.refund_blocked_by_proof = true;
    }

    /* Step 7 — no same model (M-9 / G-5) and refusing an available exchange (M-10 / G-5). */
    bool depreciated = false;
    if (host_like && (ent & REM_EXCHANGE)) {
        if (!r->seller_has_same_model && !r->consumer_accepts_other_model) {
            ent &= ~(unsigned)REM_EXCHANGE;
            dc->rules |= RULE(general ? R_G5 : R_M9);
            if (proof == PROOF_NO_REFUND)
                f.refund_blocked_by_proof = true;
            else
                grant(&ent, &src, REM_REFUND, general ? R_G5 : R_M9);
        } else if (r->seller_has_same_model && !(ent & REM_REFUND)) {
            if (proof == PROOF_NO_REFUND) {
                f.refund_blocked_by_proof = true;
            } else {
                grant(&ent, &src, REM_REFUND, general ? R_G5 : R_M10);
                dc->rules |= RULE(general ? R_G5 : R_M10);
                depreciated = true;
            }
        }
    }
    dc->entitled = ent;

    /* Step 8 — money. */
    if (ent & REM_REFUND) {
        int64_t base_price;
        if (!host_like && r->bundled_with_host) {
            if (!r->has_standalone)
                return fail(err, errlen,
                            "missing required field \"standalone_price_cents\" (refund of a "
                            "bundled accessory, M-6)");
            base_price = r->standalone;
        } else {
            if (!r->has_price)
                return fail(err, errlen,
                            "missing required field \"price_cents\" (needed for "
                            "the refund amount)");
            base_price = r->price;
        }
        dc->show_refund = true;
        dc->refund_cents = base_price;
        if (depreciated) {
            const int64_t ppm = general ? GENERAL_ITEMS[r->item].depreciation_ppm
                                        : clamp_ppm(pol->phone_depreciation_ppm);
            int64_t use_days =
                (int64_t)(r->claim_date - r->invoice_date) - repair_days_total - f.open_days;
            if (use_days < 0)
                use_days = 0;
            f.use_days = use_days;
            int64_t dep = div_half_up((__int128)base_price * ppm * use_days, 1000000);
            if (dep > base_price)
                dep = base_price;
            dc->show_depreciation = true;
            dc->depreciation_cents = dep;
            dc->refund_cents = base_price - dep;
        }
    }

    /* Step 9 — grant or deny. */
    settle(r, dc, &src, &f, depreciated, false, NULL, NULL);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* 5. Household cars (car-2013, car-2021)                                                      */
/* ------------------------------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Engine, transmission (both regimes); traction battery and drive motor (2021 only). */
static bool major_assembly(const char *a, bool y2021)
{
    if (str_eq(a, "engine") || str_eq(a, "transmission"))
        return true;
    return y2021 && (str_eq(a, "traction_battery") || str_eq(a, "drive_motor"));
}

static bool serious_safety_fault(car_fault_t f)
{
    return f == CF_STEERING_FAILURE || f == CF_BRAKE_FAILURE || f == CF_BODY_CRACK ||
           f == CF_FUEL_LEAK || f == CF_TRACTION_BATTERY_FIRE || f == CF_SERIOUS_SAFETY;
}

/* D-6: ceil(hours / 24), minimum 1; without hours, the calendar-day span, minimum 1. */
static int64_t car_repair_days(const repair_t *p)
{
    int64_t days;
    if (p->has_hours)
        days = (p->hours + 23) / 24;
    else
        days = (int64_t)p->returned - p->dropped_off;
    return days < 1 ? 1 : days;
}

static int eval_car(const request_t *r, const wr_policy_t *pol, const calendar_t *cal,
                    decision_t *dc, char *err, size_t errlen)
{
    facts_t f;
    memset(&f, 0, sizeof f);
    const int32_t y2013 = (int32_t)days_from_civil(2013, 10, 1);
    const int32_t y2022 = (int32_t)days_from_civil(2022, 1, 1);

    /* Step 1 — regime by invoice date (convention 9). */
    if (!r->has_invoice_date)
        return fail(err, errlen, "missing required field \"invoice_date\"");
    if (r->invoice_date < y2013) {
        dc->regime = "none";
        set_not_covered(dc, ST_NOT_COVERED);
        snprintf(dc->reason, sizeof dc->reason,
                 "Not covered: the car was invoiced before 2013-10-01, when the household-car "
                 "warranty rules took effect; a paid repair is available.");
        return 0;
    }
    const bool y2021 = r->invoice_date >= y2022;
    dc->regime = y2021 ? "car-2021" : "car-2013";

    /* The policy default is capped at the statutory maximum of the regime (0.5 % / 0.8 %);
     * a lower operator rate only favours the consumer and is kept. */
    int64_t ppm = clamp_ppm(pol->car_use_comp_default_ppm);
    if (ppm > (y2021 ? 5000 : 8000))
        ppm = y2021 ? 5000 : 8000;
    if (r->has_rate) {
        if (y2021 && r->rate_ppm > 5000)
            return fail(err, errlen, "use_compensation_rate: car-2021 allows at most 0.005");
        if (!y2021 && (r->rate_ppm < 5000 || r->rate_ppm > 8000))
            return fail(err, errlen, "use_compensation_rate: car-2013 requires 0.005 to 0.008");
        ppm = r->rate_ppm;
    }

    /* Periods: invoice date, or (2021) the delivery date when given and different. */
    int32_t sale = r->invoice_date;
    if (y2021 && r->has_delivery_date)
        sale = r->delivery_date;
    if (r->claim_date < sale)
        return fail(err, errlen, "claim_date is before delivery_date");
    int32_t start = sale;
    if (r->has_exchange_date) { /* C-11: an exchange restarts both periods */
        start = r->exchange_date;
        dc->rules |= RULE(R_C11);
    }
    int pv, pw;
    promised_months(pol, r, &pv, &pw);
    const int32_t v_raw = wr_add_months(start, 24 + pv);
    const int32_t w_raw = wr_add_months(start, 36 + pw);
    const int32_t v_end = roll_forward(cal, v_raw);
    const int32_t w_end = roll_forward(cal, w_raw);
    if (v_end != v_raw || (w_end != w_raw && r->claim_date > w_raw && r->claim_date > v_end))
        dc->rules |= RULE(R_D3);
    dc->has_end = true;
    dc->end = v_end;
    const bool in_validity = r->claim_date <= v_end && r->km <= 50000;
    const bool in_warranty = r->claim_date <= w_end && r->km <= 60000;

    /* Step 4 — expiry and exemptions (C-10). */
    const bool no_proofs_2013 =
        !y2021 && (!r->proof_invoice || !r->proof_card || r->proof_mismatch);
    const bool exempt = r->disclosed_defect || r->misuse || r->prohibited_modification ||
                        r->improper_self_handling || r->force_majeure ||
                        (!y2021 && r->commercial_use) || no_proofs_2013;
    if (!in_warranty || exempt) {
        sbuf_t s;
        sb_init(&s, dc->reason, sizeof dc->reason);
        const char *sep = "";
        if (!in_warranty) {
            dc->rules |= RULE(R_E1);
            set_not_covered(dc, ST_NOT_COVERED);
            sb_add(&s, "Not covered by the statutory warranty: ");
            if (r->claim_date > w_end) {
                sb_add(&s, "the warranty period ended on ");
                sb_date(&s, w_end);
            } else {
                sb_add(&s, "the odometer reading of %lld km exceeds the 60000 km warranty limit",
                       (long long)r->km);
            }
            sep = ", ";
        } else {
            set_not_covered(dc, ST_EXEMPT);
            sb_add(&s, "Exempt from the statutory warranty for this problem: ");
        }
        if (exempt) {
            dc->rules |= RULE(R_C10);
            if (r->disclosed_defect)
                sb_clause(&s, &sep, "the defect was disclosed in writing at sale");
            if (r->misuse)
                sb_clause(&s, &sep, "use against the owner's manual");
            if (r->prohibited_modification)
                sb_clause(&s, &sep, "a modification the manual forbids");
            if (r->improper_self_handling)
                sb_clause(&s, &sep, "improper handling by the consumer");
            if (r->force_majeure)
                sb_clause(&s, &sep, "force majeure");
            if (!y2021 && r->commercial_use)
                sb_clause(&s, &sep, "commercial use");
            if (no_proofs_2013)
                sb_clause(&s, &sep, "no valid invoice and warranty card");
        }
        sb_add(&s, "; a paid repair is available.");
        return 0;
    }

    /* Steps 5 and 6 — remedies from the windows and the history. */
    unsigned ent = 0;
    sources_t src = {-1, -1, -1};
    grant(&ent, &src, REM_REPAIR, R_C1);
    bool free_route = false, charged_route = false, assembly_repair = false;
    f.day_index = r->claim_date - sale; /* windows stay tied to the original sale */
    const bool is_major_part = r->car_fault == CF_MAJOR_PART && major_assembly(r->assembly, y2021);
    if (r->has_open_repair)
        f.open_days = r->claim_date - r->open_dropped_off;

    if (in_validity) {
        if (y2021 && f.day_index <= 7 && is_major_part) {
            grant(&ent, &src, REM_REFUND | REM_EXCHANGE, R_C2);
            dc->rules |= RULE(R_C2);
            free_route = true;
        }
        const bool c3_fault = r->car_fault == CF_STEERING_FAILURE ||
                              r->car_fault == CF_BRAKE_FAILURE || r->car_fault == CF_BODY_CRACK ||
                              r->car_fault == CF_FUEL_LEAK ||
                              (y2021 && r->car_fault == CF_TRACTION_BATTERY_FIRE);
        const bool early = f.day_index <= 60 && r->km <= 3000;
        if (early && c3_fault) {
            grant(&ent, &src, REM_REFUND | REM_EXCHANGE, R_C3);
            dc->rules |= RULE(R_C3);
            free_route = true;
        }
        if (early && is_major_part) {
            src.repair = R_C4;
            dc->rules |= RULE(R_C4);
            assembly_repair = true;
        }

        /* C-5 counts (history inside the current periods). */
        for (size_t i = 0; i < r->n_repairs; i++) {
            const repair_t *p = &r->repairs[i];
            if (p->has_dropped_off && p->dropped_off < start)
                continue;
            if (p->serious_safety)
                f.serious_repairs++;
        }
        for (size_t i = 0; i < r->n_replacements; i++) {
            const replacement_t *q = &r->replacements[i];
            if (!str_eq(q->assembly, r->assembly))
                continue;
            if (q->part == NULL) {
                f.assembly_replacements += q->count;
            }
        }
        /* Same main part: the largest per-part total under the failing assembly. */
        for (size_t i = 0; i < r->n_replacements; i++) {
            const replacement_t *q = &r->replacements[i];
            if (q->part == NULL || !str_eq(q->assembly, r->assembly))
                continue;
            if (r->part != NULL && !str_eq(q->part, r->part))
                continue;
            int64_t total = 0;
            for (size_t j = 0; j < r->n_replacements; j++)
                if (str_eq(r->replacements[j].assembly, q->assembly) &&
                    str_eq(r->replacements[j].part, q->part))
                    total += r->replacements[j].count;
            if (total > f.part_replacements)
                f.part_replacements = total;
        }
        if (serious_safety_fault(r->car_fault) && f.serious_repairs >= 2)
            f.c5_kind = 1;
        else if (major_assembly(r->assembly, y2021) && f.assembly_replacements >= 2)
            f.c5_kind = 2;
        else if (r->assembly != NULL && f.part_replacements >= 2)
            f.c5_kind = 3;
        if (f.c5_kind != 0) {
            grant(&ent, &src, REM_REFUND | REM_EXCHANGE, R_C5);
            dc->rules |= RULE(R_C5);
            charged_route = true;
        }

        /* C-6 time and repeat triggers. */
        for (size_t i = 0; i < r->n_repairs; i++) {
            const repair_t *p = &r->repairs[i];
            if (p->has_dropped_off && p->dropped_off < start)
                continue;
            f.cumulative_days += car_repair_days(p);
            if (p->problem == NULL)
                continue;
            int64_t same = 0;
            for (size_t j = 0; j < r->n_repairs; j++) {
                const repair_t *q = &r->repairs[j];
                if (q->has_dropped_off && q->dropped_off < start)
                    continue;
                same += str_eq(q->problem, p->problem);
            }
            if (same > f.same_problem)
                f.same_problem = same;
        }
        if (r->has_open_repair && r->open_dropped_off >= start)
            f.cumulative_days += f.open_days < 1 ? 1 : f.open_days;
        f.c6_days = f.cumulative_days >= (y2021 ? 31 : 36);
        f.c6_repeats = f.same_problem >= (y2021 ? 5 : 6);
        if (f.c6_days || f.c6_repeats) {
            grant(&ent, &src, y2021 ? (REM_REFUND | REM_EXCHANGE) : REM_EXCHANGE, R_C6);
            dc->rules |= RULE(R_C6);
            if (f.c6_days)
                dc->rules |= RULE(R_D6);
            charged_route = true;
        }
    }
    if (free_route)
        charged_route = false; /* C-2 / C-3 rights are free and better for the consumer */
    if (!assembly_repair)
        dc->rules |= RULE(R_C1);

    /* Step 7 — C-7: no same model and nothing of at least the original configuration. */
    if ((ent & REM_EXCHANGE) && !r->seller_has_same_model && !r->consumer_accepts_other_model) {
        ent &= ~(unsigned)REM_EXCHANGE;
        grant(&ent, &src, REM_REFUND, R_C7);
        dc->rules |= RULE(R_C7);
    }
    dc->entitled = ent;

    /* Step 8 — money (C-9 use compensation for C-5 / C-6 only). */
    if ((ent & REM_REFUND) || charged_route) {
        if (!r->has_price)
            return fail(err, errlen,
                        "missing required field \"price_cents\" (needed for the refund or use "
                        "compensation amount)");
    }
    if (charged_route) {
        dc->rules |= RULE(R_C9);
        dc->show_use_comp = true;
        dc->use_comp_cents = div_half_up((__int128)r->price * r->km * ppm, 1000000000LL);
        if (dc->use_comp_cents > r->price)
            dc->use_comp_cents = r->price;
    }
    if (ent & REM_REFUND) {
        dc->show_refund = true;
        dc->refund_cents = r->price - (charged_route ? dc->use_comp_cents : 0);
    }

    /* C-8: backup car from day 6 of the current repair. */
    const char *tail = NULL;
    if (r->has_open_repair && f.open_days >= 6) {
        dc->rules |= RULE(R_C8);
        tail = "; a backup car or transport compensation is owed from day 6 of the current "
               "repair";
    }

    /* Step 9. */
    settle(r, dc, &src, &f, false, charged_route, assembly_repair ? r->assembly : NULL, tail);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* 6. JSON output and public entry points                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Contract: engine.h. Statutory defaults; a NULL pointer is ignored. */
void wr_policy_defaults(wr_policy_t *p)
{
    if (p == NULL)
        return;
    memset(p, 0, sizeof *p);
    p->holidays = NULL;
    p->n_holidays = 0;
    p->phone_depreciation_ppm = 5000;
    p->car_use_comp_default_ppm = 5000;
    p->promises = NULL;
    p->n_promises = 0;
    p->version = "statutory";
    p->fault_codes = NULL;
    p->n_fault_codes = 0;
}

/* Contract: engine.h. Linear scan: tables are a few hundred rows and scanned once per request. */
const wr_fault_code_t *wr_fault_code_find(const wr_policy_t *policy, const char *code,
                                          const char *category)
{
    const wr_fault_code_t *any = NULL;
    if (policy == NULL || policy->fault_codes == NULL || code == NULL || category == NULL)
        return NULL;
    for (size_t i = 0; i < policy->n_fault_codes; i++) {
        const wr_fault_code_t *f = &policy->fault_codes[i];
        if (f->code == NULL || f->category == NULL || strcmp(f->code, code) != 0)
            continue;
        if (strcmp(f->category, category) == 0)
            return f;
        if (strcmp(f->category, "*") == 0)
            any = f;
    }
    return any;
}

/* Adds key -> value (stealing the reference); records a failure in *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *ok = false;
}

static json_t *error_json(const char *id, const char *message)
{
    json_t *o = json_object();
    bool ok = true;
    if (o == NULL)
        return NULL;
    put(o, "id", id != NULL ? json_string(id) : json_null(), &ok);
    put(o, "error", json_string(message), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* a device that was already refunded or exchanged (same IMEI / serial / VIN, at any
 * centre) is never refunded or exchanged again automatically. The decision keeps what the
 * statutory rules give, lists R-1 and says so in the reason, naming the earlier ticket; the
 * warranty service sends every R-1 decision to a reviewer. */
static void apply_r1(const request_t *r, decision_t *dc)
{
    if (r->n_prior_remedies == 0 || (dc->remedy != REM_REFUND && dc->remedy != REM_EXCHANGE))
        return;
    dc->rules |= RULE(R_R1);
    size_t len = strlen(dc->reason);
    snprintf(dc->reason + len, sizeof dc->reason - len,
             " Review required (R-1): this device was already %s under ticket %.40s%s.",
             strcmp(r->prior_remedy, "refund") == 0 ? "refunded" : "exchanged",
             r->prior_ticket ? r->prior_ticket : "(unknown)",
             r->n_prior_remedies > 1 ? " (and before)" : "");
}

static json_t *decision_json(const request_t *r, const decision_t *dc)
{
    json_t *o = json_object();
    json_t *ent = json_array();
    json_t *rules = json_array();
    bool ok = o != NULL && ent != NULL && rules != NULL;
    if (!ok) {
        json_decref(o);
        json_decref(ent);
        json_decref(rules);
        return NULL;
    }
    const unsigned order[3] = {REM_REFUND, REM_EXCHANGE, REM_REPAIR};
    for (int i = 0; i < 3; i++)
        if ((dc->entitled & order[i]) &&
            json_array_append_new(ent, json_string(remedy_name(order[i]))) != 0)
            ok = false;
    for (int i = 0; i < R_COUNT; i++)
        if ((dc->rules & RULE(i)) && json_array_append_new(rules, json_string(RULE_NAMES[i])) != 0)
            ok = false;
    char end[11];
    if (dc->has_end)
        wr_date_format(dc->end, end);

    put(o, "id", json_string(r->id), &ok);
    put(o, "regime", json_string(dc->regime), &ok);
    put(o, "status", json_string(STATUS_NAMES[dc->status]), &ok);
    put(o, "remedy", json_string(remedy_name(dc->remedy)), &ok);
    put(o, "entitled", ent, &ok);
    put(o, "free", json_boolean(dc->free), &ok);
    if (dc->show_refund)
        put(o, "refund_cents", json_integer(dc->refund_cents), &ok);
    if (dc->show_depreciation)
        put(o, "depreciation_cents", json_integer(dc->depreciation_cents), &ok);
    if (dc->show_use_comp)
        put(o, "use_compensation_cents", json_integer(dc->use_comp_cents), &ok);
    put(o, "coverage_end", dc->has_end ? json_string(end) : json_null(), &ok);
    put(o, "rules", rules, &ok);
    put(o, "reason", json_string(dc->reason), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Contract: engine.h. Parse, pick the evaluator for the category, render the decision or an
 * {"id","error"} object. Returns a new reference, or NULL only when memory runs out. */
json_t *wr_evaluate(const json_t *request, const wr_policy_t *policy)
{
    wr_policy_t defaults;
    char err[256];
    request_t r;
    decision_t dc;

    if (policy == NULL) {
        wr_policy_defaults(&defaults);
        policy = &defaults;
    }
    if (request == NULL || !json_is_object(request))
        return error_json(NULL, "request must be a JSON object");

    memset(&r, 0, sizeof r);
    memset(&dc, 0, sizeof dc);
    err[0] = '\0';
    const json_t *idv = json_object_get(request, "id");
    const char *id = json_is_string(idv) ? json_string_value(idv) : NULL;

    json_t *out;
    if (parse_request(request, &r, err, sizeof err) != 0) {
        out = error_json(id, err);
    } else {
        /* M-14 as data: a known fault code's table entry decides whether the fault is listed. */
        const wr_fault_code_t *fc =
            wr_fault_code_find(policy, r.fault_code, CATEGORIES[r.cat].name);
        if (fc != NULL)
            r.fault_listed = fc->listed != 0;
        const calendar_t cal = {policy->holidays, policy->holidays ? policy->n_holidays : 0,
                                r.holidays, r.n_holidays};
        const int rc = r.cat == CAT_CAR ? eval_car(&r, policy, &cal, &dc, err, sizeof err)
                                        : eval_goods(&r, policy, &cal, &dc, err, sizeof err);
        if (rc == 0)
            apply_r1(&r, &dc);
        out = rc == 0 ? decision_json(&r, &dc) : error_json(id, err);
    }
    request_free(&r);
    return out;
}

/* Contract: engine.h. 1 = *out holds one compact JSON line, 0 = blank line, -1 = no memory. */
int wr_evaluate_line(const char *line, size_t len, const wr_policy_t *policy, char **out)
{
    *out = NULL;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t i = 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len)
        return 0;

    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    json_t *res;
    if (req == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON: %s", jerr.text);
        /* jansson quotes the offending bytes, which need not be UTF-8: keep the message ASCII so
         * that it can be answered as a JSON string */
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                *c = '?';
        res = error_json(NULL, msg);
    } else {
        res = wr_evaluate(req, policy);
        json_decref(req);
    }
    if (res == NULL)
        return -1;
    *out = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(res);
    return *out != NULL ? 1 : -1;
}

/* Contract: engine.h. One date per line, '#' comments; sorted unique output; -1 + err. */
int wr_holidays_read(FILE *in, int32_t **days_out, size_t *n_out, char *err, size_t err_len)
{
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0, lineno = 0;
    int32_t *days = NULL;
    ssize_t got;
    *days_out = NULL;
    *n_out = 0;
    while ((got = getline(&line, &cap, in)) != -1) {
        lineno++;
        char *hash = memchr(line, '#', (size_t)got);
        size_t len = hash != NULL ? (size_t)(hash - line) : (size_t)got;
        size_t b = 0;
        while (b < len && isspace((unsigned char)line[b]))
            b++;
        while (len > b && isspace((unsigned char)line[len - 1]))
            len--;
        if (len == b)
            continue;
        line[len] = '\0';
        int32_t day;
        if (wr_date_parse(line + b, &day) != 0) {
            fail(err, err_len, "line %zu: \"%.40s\" is not a YYYY-MM-DD date", lineno, line + b);
            free(line);
            free(days);
            return -1;
        }
        if (n == alloc) {
            const size_t next = alloc == 0 ? 32 : alloc * 2;
            int32_t *grown = realloc(days, next * sizeof *days);
            if (grown == NULL) {
                fail(err, err_len, "out of memory");
                free(line);
                free(days);
                return -1;
            }
            days = grown;
            alloc = next;
        }
        days[n++] = day;
    }
    free(line);
    if (ferror(in)) {
        fail(err, err_len, "read error after line %zu", lineno);
        free(days);
        return -1;
    }
    *n_out = sort_unique(days, n);
    *days_out = days;
    return 0;
}
