/* validate.c — field checks for parts commands and the receipt CSV reader (see validate.h). */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pv_add_row(as_problems_t *e, int row, const char *col, const char *fmt, ...)
{
    char field[64];
    if (col && *col)
        snprintf(field, sizeof field, "csv.row[%d].%s", row, col);
    else
        snprintf(field, sizeof field, "csv.row[%d]", row);
    va_list ap;
    va_start(ap, fmt);
    as_problem_v(e, row, field, fmt, ap);
    va_end(ap);
}

/* The people service's centre code: an upper-case letter or digit, then 1 to 15 more of them,
 * '_' or '-' (a centre opened through /v1/centers becomes a site here). */
int pv_site_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 2 || n > 16 || !(isupper((unsigned char)v[0]) || isdigit((unsigned char)v[0])))
        return 0;
    for (; *v; v++)
        if (!(isupper((unsigned char)*v) || isdigit((unsigned char)*v) || *v == '_' || *v == '-'))
            return 0;
    return 1;
}

int pv_sku_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 1 || n > 40 || !isalnum((unsigned char)v[0]))
        return 0;
    for (; *v; v++)
        if (!(isalnum((unsigned char)*v) || *v == '.' || *v == '_' || *v == '-'))
            return 0;
    return 1;
}

void pv_site(as_problems_t *e, const char *field, const char *v, int required)
{
    if (!v || !*v) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    if (!pv_site_ok(v))
        as_problem(e, field,
                   "is not a site code (2 to 16 upper-case letters, digits, _ or -, e.g. SH01)");
}

void pv_sku(as_problems_t *e, const char *field, const char *v, int required)
{
    if (!v || !*v) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    if (!pv_sku_ok(v))
        as_problem(e, field, "is not a SKU (1 to 40 letters, digits, '.', '_' or '-')");
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

void pv_text(as_problems_t *e, const char *field, const char *v, size_t max, int required)
{
    if (!v) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    size_t n = strlen(v);
    if (n > max) {
        as_problem(e, field, "is longer than %zu bytes", max);
        return;
    }
    int blank = 1;
    for (const unsigned char *s = (const unsigned char *)v; *s;) {
        if (*s < 0x20 && *s != '\t' && *s != '\n') {
            as_problem(e, field, "contains a control character");
            return;
        }
        size_t k = utf8_seq(s);
        if (!k) {
            as_problem(e, field, "is not valid UTF-8");
            return;
        }
        if (!isspace(*s))
            blank = 0;
        s += k;
    }
    if (required && blank)
        as_problem(e, field, "is required");
}

void pv_int(as_problems_t *e, const char *field, int has, int64_t v, int64_t min, int64_t max,
            int required)
{
    if (!has) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    if (v < min || v > max)
        as_problem(e, field, "must be between %lld and %lld", (long long)min, (long long)max);
}

void pv_oneof(as_problems_t *e, const char *field, const char *v, const char *const *allowed)
{
    if (!v)
        return;
    char list[200] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(*a, v) == 0)
            return;
        int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    as_problem(e, field, "must be one of %s", list);
}

/* ---- CSV ---- */

#define CSV_MAX_FIELDS 16
#define CSV_MAX_FIELD  1024

typedef struct csv_reader {
    const char *p;
    int line; /* line number where the current record starts (1-based) */
    int next_line;
} csv_reader_t;

typedef struct csv_record {
    int nfields;
    int too_many;
    int too_long;
    char field[CSV_MAX_FIELDS][CSV_MAX_FIELD + 1];
} csv_record_t;

/* Read one record. Returns 1 when a record was read, 0 at the end of the text, -1 when a quoted
 * field never ends (the rest of the text is consumed). */
static int csv_next(csv_reader_t *r, csv_record_t *rec)
{
    if (!*r->p)
        return 0;
    r->line = r->next_line;
    memset(rec, 0, offsetof(csv_record_t, field));
    rec->field[0][0] = '\0';
    size_t len = 0;
    int f = 0, quoted = 0, was_quoted = 0;
    for (;;) {
        char c = *r->p;
        if (quoted) {
            if (!c)
                return -1;
            r->p++;
            if (c == '"') {
                if (*r->p == '"') {
                    r->p++;
                } else {
                    quoted = 0;
                    continue;
                }
            }
            if (c == '\n')
                r->next_line++;
        } else {
            if (!c || c == '\n' || (c == '\r' && r->p[1] == '\n')) {
                if (c == '\r')
                    r->p++;
                if (c)
                    r->p++;
                r->next_line++;
                break;
            }
            r->p++;
            if (c == ',') {
                if (f < CSV_MAX_FIELDS)
                    rec->field[f][len < CSV_MAX_FIELD ? len : CSV_MAX_FIELD] = '\0';
                f++;
                len = 0;
                was_quoted = 0;
                if (f < CSV_MAX_FIELDS)
                    rec->field[f][0] = '\0';
                continue;
            }
            if (c == '"' && len == 0 && !was_quoted) {
                quoted = was_quoted = 1;
                continue;
            }
        }
        if (f < CSV_MAX_FIELDS) {
            if (len < CSV_MAX_FIELD)
                rec->field[f][len] = c;
            else
                rec->too_long = 1;
        }
        len++;
    }
    if (f < CSV_MAX_FIELDS)
        rec->field[f][len < CSV_MAX_FIELD ? len : CSV_MAX_FIELD] = '\0';
    rec->nfields = f + 1;
    if (rec->nfields > CSV_MAX_FIELDS) {
        rec->too_many = 1;
        rec->nfields = CSV_MAX_FIELDS;
    }
    return 1;
}

/* Trim ASCII spaces and tabs in place; returns s. */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t k = 0;
    while (s[k] == ' ' || s[k] == '\t')
        k++;
    if (k)
        memmove(s, s + k, n - k + 1);
    return s;
}

static int blank_record(const csv_record_t *rec)
{
    if (rec->nfields != 1)
        return 0;
    for (const char *s = rec->field[0]; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

int pv_csv_rows(const char *text, json_t *rows, as_problems_t *e)
{
    csv_reader_t r = {text, 1, 1};
    if (strncmp(r.p, "\xef\xbb\xbf", 3) == 0)
        r.p += 3;
    csv_record_t *rec = malloc(sizeof *rec);
    if (!rec) {
        as_problem(e, "csv", "out of memory");
        return 0;
    }
    int col_site = -1, col_sku = -1, col_qty = -1, col_note = -1, ncols = 0;
    int rc, nrows = 0;
    /* The header: the first record that is not blank. */
    while ((rc = csv_next(&r, rec)) == 1 && blank_record(rec))
        ;
    if (rc != 1) {
        as_problem(e, "csv",
                   rc < 0 ? "a quoted field in the header never ends"
                          : "the file is empty: a header site,sku,qty,note is required");
        free(rec);
        return 0;
    }
    ncols = rec->nfields;
    for (int i = 0; i < ncols; i++) {
        char *h = trim(rec->field[i]);
        for (char *c = h; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        int *slot = strcmp(h, "site") == 0   ? &col_site
                    : strcmp(h, "sku") == 0  ? &col_sku
                    : strcmp(h, "qty") == 0  ? &col_qty
                    : strcmp(h, "note") == 0 ? &col_note
                                             : NULL;
        if (!slot)
            as_problem(e, "csv.header",
                       "unknown column '%.40s' (the columns are site,sku,qty,note)", h);
        else if (*slot >= 0)
            as_problem(e, "csv.header", "column '%s' appears twice", h);
        else
            *slot = i;
    }
    if (col_site < 0 || col_sku < 0 || col_qty < 0)
        as_problem(e, "csv.header",
                   "the header must name the columns site, sku and qty (and may "
                   "name note)");
    if (e->n) {
        free(rec);
        return 0;
    }
    while ((rc = csv_next(&r, rec)) != 0) {
        if (rc > 0 && blank_record(rec))
            continue;
        int row = ++nrows;
        if (row > PV_CSV_MAX_ROWS) {
            as_problem(e, "csv", "the file has more than %d rows; split it", PV_CSV_MAX_ROWS);
            break;
        }
        if (rc < 0) {
            pv_add_row(e, row, "", "row %d (line %d): a quoted field never ends", row, r.line);
            break;
        }
        /* A row may leave out a trailing note column ("WH01,SKU,3"). */
        if (rec->nfields == ncols - 1 && col_note == ncols - 1 && !rec->too_many)
            rec->field[col_note][0] = '\0';
        else if (rec->nfields != ncols || rec->too_many) {
            pv_add_row(e, row, "", "row %d (line %d): has %d fields, the header has %d", row,
                       r.line, rec->nfields, ncols);
            continue;
        }
        if (rec->too_long) {
            pv_add_row(e, row, "", "row %d (line %d): a field is longer than %d bytes", row, r.line,
                       CSV_MAX_FIELD);
            continue;
        }
        const char *site = trim(rec->field[col_site]);
        const char *sku = trim(rec->field[col_sku]);
        const char *qty_s = trim(rec->field[col_qty]);
        const char *note = col_note >= 0 ? trim(rec->field[col_note]) : "";
        int bad = 0;
        if (!pv_site_ok(site)) {
            pv_add_row(e, row, "site", "row %d (line %d): site '%.20s' is not a site code", row,
                       r.line, site);
            bad = 1;
        }
        if (!pv_sku_ok(sku)) {
            pv_add_row(e, row, "sku", "row %d (line %d): sku '%.40s' is not a SKU", row, r.line,
                       sku);
            bad = 1;
        }
        char *end;
        errno = 0;
        long qty = strtol(qty_s, &end, 10);
        if (!*qty_s || *end || errno || qty < 1 || qty > PV_MAX_QTY) {
            pv_add_row(e, row, "qty",
                       "row %d (line %d): qty '%.20s' is not a whole number from 1 to %d", row,
                       r.line, qty_s, PV_MAX_QTY);
            bad = 1;
        }
        as_problems_t te = {0};
        pv_text(&te, "note", note, 500, 0);
        if (te.n) {
            pv_add_row(e, row, "note", "row %d (line %d): note %s", row, r.line, te.problem[0]);
            bad = 1;
        }
        if (bad)
            continue;
        json_t *o = json_pack("{s:i, s:i, s:s, s:s, s:i}", "row", row, "line", r.line, "site", site,
                              "sku", sku, "qty", (int)qty);
        if (*note)
            json_object_set_new(o, "note", json_string(note));
        json_array_append_new(rows, o);
    }
    if (nrows == 0 && e->n == 0)
        as_problem(e, "csv", "the file has a header but no rows");
    free(rec);
    return nrows;
}
