/*
 * engine.h — public API of the 三包 (repair / exchange / refund) warranty adjudication engine.
 *
 * The engine is a pure library: it turns one JSON "contract request" (see
 * docs/warranty-rules.md, "The evaluation contract") into one JSON decision, using only the
 * request and a read-only policy (holiday calendar, depreciation / use-compensation rates,
 * manufacturer promises). It does no I/O except in wr_holidays_read(), keeps no global
 * mutable state and is safe to call from several threads with distinct requests.
 *
 * The same engine serves tickets, the HTTP what-if endpoint and the offline evaluator
 * `as-warranty-eval` (eval_main.c). docs/warranty-engine.md explains how it is organised.
 */
#ifndef AS_WARRANTY_ENGINE_H
#define AS_WARRANTY_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Dates accepted by wr_date_parse(): years 1900 .. 2999 (anything else is a data error). */
#define WR_DATE_MIN_YEAR 1900
#define WR_DATE_MAX_YEAR 2999

typedef struct wr_manufacturer_promise {
    const char *brand;         /* matched case-insensitively to request "brand" (optional field) */
    const char *category;      /* contract category, or "*" for all */
    int extra_validity_months; /* added to the statutory validity period (phones/general:
                                  三包有效期; cars: validity) */
    int extra_warranty_months; /* cars: added to 包修期 */
} wr_manufacturer_promise_t;

/* One row of the fault-code table (M-14): a known code's entry decides whether the fault is a
 * listed performance fault, whatever the request's fault.listed says. */
typedef struct wr_fault_code {
    const char *code;     /* matched exactly to the request's fault.code */
    const char *category; /* contract category, or "*" for all */
    int listed;           /* 1: a listed performance fault (M-14), 0: not listed */
} wr_fault_code_t;

typedef struct wr_policy {
    const int32_t *holidays; /* sorted ascending, days since 1970-01-01 (civil calendar); may be
                                NULL */
    size_t n_holidays;
    int64_t phone_depreciation_ppm;   /* per day, parts per million; default 5000 (=0.5 %/day) */
    int64_t car_use_comp_default_ppm; /* default 5000 (=0.5 %) */
    const wr_manufacturer_promise_t *promises;
    size_t n_promises;
    const char *version; /* policy version string echoed nowhere by the engine; caller stores it */
    const wr_fault_code_t *fault_codes; /* may be NULL: then fault.listed is taken as given */
    size_t n_fault_codes;
} wr_policy_t;

/*
 * Fill *p with the statutory defaults: no holidays, no promises, phone depreciation
 * 5000 ppm per day, car use-compensation rate 5000 ppm, version "statutory".
 */
void wr_policy_defaults(wr_policy_t *p);

/*
 * The fault-code table entry for `code` in product `category` (an exact category row wins over a
 * "*" row), or NULL when the policy has no table, code or category is NULL, or the code is
 * unknown there. The returned pointer is borrowed from the policy.
 */
const wr_fault_code_t *wr_fault_code_find(const wr_policy_t *policy, const char *code,
                                          const char *category);

/*
 * Evaluate one contract request against the rulebook.
 *
 * request: any JSON value (NULL is tolerated). policy: read-only; NULL means defaults.
 * Returns a NEW reference the caller must json_decref():
 *   - the decision object, keys in contract order: id, regime, status, remedy, entitled, free,
 *     [refund_cents], [depreciation_cents], [use_compensation_cents], coverage_end, rules,
 *     reason; or
 *   - {"id": <id or null>, "error": "<clear message>"} when the request is malformed (wrong
 *     types, bad dates, unknown category, missing required field, negative money, ...).
 * Unknown fields are ignored. When the policy has a fault-code table and it knows the request's
 * fault.code for its category, the table's `listed` replaces the request's fault.listed.
 * Never crashes on any JSON input. Returns NULL only when memory runs out.
 */
json_t *wr_evaluate(const json_t *request, const wr_policy_t *policy);

/*
 * Evaluate one line of the JSON-lines evaluator format (used by as-warranty-eval).
 *
 * line/len: the raw bytes of one input line (a trailing "\n" or "\r\n" is ignored; embedded
 * NUL bytes are a JSON error). On success *out receives a malloc'd, NUL-terminated compact JSON
 * text without a trailing newline (free() it) and 1 is returned. A blank line (only
 * whitespace) yields 0 and *out = NULL: the caller writes nothing. -1 means out of memory.
 */
int wr_evaluate_line(const char *line, size_t len, const wr_policy_t *policy, char **out);

/*
 * Read a holiday calendar: one YYYY-MM-DD per line; everything from '#' to the end of a line
 * is a comment; blank lines are skipped; surrounding whitespace is ignored.
 * On success returns 0 and *days_out (malloc'd, sorted ascending, duplicates removed; may be
 * NULL when *n_out is 0) — free() it. On a bad line or read error returns -1 and writes a
 * message naming the line into err (err_len bytes).
 */
int wr_holidays_read(FILE *in, int32_t **days_out, size_t *n_out, char *err, size_t err_len);

/*
 * Parse "YYYY-MM-DD" strictly (exactly 10 characters, a real calendar day, year within
 * WR_DATE_MIN_YEAR..WR_DATE_MAX_YEAR) -> days since 1970-01-01. 0 on success, -1 on error.
 */
int wr_date_parse(const char *s, int32_t *days_out);

/* Format days since 1970-01-01 as "YYYY-MM-DD" (years clamped to 0000..9999) into out. */
void wr_date_format(int32_t days, char out[11]);

/*
 * Add (or, with a negative count, subtract) calendar months under rule D-2: the result has the
 * same day-of-month, or the last day of the target month when that day does not exist
 * (2023-08-31 + 6 months = 2024-02-29).
 */
int32_t wr_add_months(int32_t days, int months);

#endif /* AS_WARRANTY_ENGINE_H */
