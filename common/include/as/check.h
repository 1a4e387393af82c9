/* check.h — what the services' field checks share: the collector of validation problems (every
 * problem named, not just the first, so a caller can fix them in one go) and the checks more
 * than one program needs (the Luhn check digit of an IMEI, business dates, free text).
 *
 * A command handler collects into an as_problems_t and replies with as_cmd_reject() (bus.h),
 * which answers 400 "validation" with one entry per field. */
#ifndef AS_CHECK_H
#define AS_CHECK_H

#include <stdarg.h>
#include <stddef.h>

#define AS_PROBLEMS_MAX 32

typedef struct as_problems {
    int n;                    /* problems kept (at most AS_PROBLEMS_MAX) */
    int total;                /* problems found, including those not kept */
    int row[AS_PROBLEMS_MAX]; /* the data row (1-based) a problem is about, 0 for none */
    char field[AS_PROBLEMS_MAX][64];
    char problem[AS_PROBLEMS_MAX][200];
} as_problems_t;

/* Record a problem with `field`. */
void as_problem(as_problems_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a data row (0 for none) and a va_list. */
void as_problem_v(as_problems_t *e, int row, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Order the kept problems by row (stable; problems without a row first). */
void as_problems_sort(as_problems_t *e);
/* The reply's message: "FIELD: PROBLEM" of the first problem, and how many there are in all
 * when more than one. */
void as_problems_message(const as_problems_t *e, char *out, size_t outlen);

/* A business date: strictly YYYY-MM-DD, a real calendar day of the years 1900 to 2999. Returns 0
 * (and the year, month and day) or -1. */
int as_date_parse(const char *s, int *y, int *m, int *d);
/* The same, as a truth value. */
int as_date_valid(const char *s);
/* Free text of `field`: "is required" when empty and `required`; at most `max` bytes; no control
 * characters but tab (and, with `multiline`, line breaks). */
void as_check_text(as_problems_t *e, const char *field, const char *s, size_t max, int required,
                   int multiline);

/* The Luhn check digit (0..9) that completes the `n` digits at `digits`. */
int as_luhn_digit(const char *digits, size_t n);
/* An IMEI: exactly 15 digits, the last the Luhn check digit of the first 14. */
int as_imei_valid(const char *imei);
/* Complete an IMEI: `out` holds 14 digits; writes the check digit and the terminating NUL. */
void as_imei_finish(char out[16]);

#endif
