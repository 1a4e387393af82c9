/* check.c — the validation problem collector and the Luhn / IMEI, date and text checks (see
 * as/check.h). */
#include "as/check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void as_problem_v(as_problems_t *e, int row, const char *field, const char *fmt, va_list ap)
{
    e->total++;
    if (e->n >= AS_PROBLEMS_MAX)
        return;
    e->row[e->n] = row;
    snprintf(e->field[e->n], sizeof e->field[0], "%s", field);
    vsnprintf(e->problem[e->n], sizeof e->problem[0], fmt, ap);
    e->n++;
}

void as_problem(as_problems_t *e, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    as_problem_v(e, 0, field, fmt, ap);
    va_end(ap);
}

void as_problems_sort(as_problems_t *e)
{
    /* Insertion sort: at most AS_PROBLEMS_MAX entries, and it is stable. */
    for (int i = 1; i < e->n; i++) {
        int row = e->row[i];
        char field[sizeof e->field[0]], problem[sizeof e->problem[0]];
        memcpy(field, e->field[i], sizeof field);
        memcpy(problem, e->problem[i], sizeof problem);
        int j = i - 1;
        while (j >= 0 && e->row[j] > row) {
            e->row[j + 1] = e->row[j];
            memcpy(e->field[j + 1], e->field[j], sizeof field);
            memcpy(e->problem[j + 1], e->problem[j], sizeof problem);
            j--;
        }
        e->row[j + 1] = row;
        memcpy(e->field[j + 1], field, sizeof field);
        memcpy(e->problem[j + 1], problem, sizeof problem);
    }
}

void as_problems_message(const as_problems_t *e, char *out, size_t outlen)
{
    if (e->n == 0)
        snprintf(out, outlen, "invalid request");
    else if (e->total > 1)
        snprintf(out, outlen, "%s: %s (%d problems in all, see fields)", e->field[0], e->problem[0],
                 e->total);
    else
        snprintf(out, outlen, "%s: %s", e->field[0], e->problem[0]);
}

int as_luhn_digit(const char *digits, size_t n)
{
    int sum = 0, twice = 1; /* the rightmost digit is doubled, then every second one */
    for (size_t i = n; i-- > 0; twice = !twice) {
        int d = digits[i] - '0';
        if (twice) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

int as_imei_valid(const char *imei)
{
    if (!imei || strlen(imei) != 15)
        return 0;
    for (int i = 0; i < 15; i++)
        if (imei[i] < '0' || imei[i] > '9')
            return 0;
    return as_luhn_digit(imei, 14) == imei[14] - '0';
}

void as_imei_finish(char out[16])
{
    out[14] = (char)('0' + as_luhn_digit(out, 14));
    out[15] = '\0';
}

int as_date_parse(const char *s, int *y, int *m, int *d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    if (*y < 1900 || *y > 2999 || *m < 1 || *m > 12 || *d < 1)
        return -1;
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    return *d <= mdays[*m - 1] + (*m == 2 && leap) ? 0 : -1;
}

int as_date_valid(const char *s)
{
    int y, m, d;
    return as_date_parse(s, &y, &m, &d) == 0;
}

void as_check_text(as_problems_t *e, const char *field, const char *s, size_t max, int required,
                   int multiline)
{
    if (!s || !*s) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    if (strlen(s) > max)
        as_problem(e, field, "is longer than %zu bytes", max);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 && *p != '\t' && !(multiline && (*p == '\n' || *p == '\r'))) {
            as_problem(e, field, "contains control characters");
            return;
        }
    }
}
