/* validate.h — field-level checks of parts commands, and the receipt CSV reader.
 *
 * Problems are collected (not just the first) so a caller can fix everything in one go; each
 * names the field it is about ("lines[2].qty", "csv.row[3].sku"). Nothing here touches the
 * database: existence and scope are checked in SQL. */
#ifndef PARTS_VALIDATE_H
#define PARTS_VALIDATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "as/check.h"

/* Receipt files: at most this many data rows. */
#define PV_CSV_MAX_ROWS 5000
/* Largest quantity a single receipt row, adjustment or transfer line may carry. */
#define PV_MAX_QTY 1000000

/* Record a problem with CSV data row `row` (1-based), column `col`. */
void pv_add_row(as_problems_t *e, int row, const char *col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A site code: 2..16 upper-case letters and digits (SH01, WH01). */
void pv_site(as_problems_t *e, const char *field, const char *v, int required);
/* A SKU: 1..40 characters, letters, digits, '.', '_' and '-', starting with a letter or digit. */
void pv_sku(as_problems_t *e, const char *field, const char *v, int required);
/* Free text of at most `max` bytes, valid UTF-8 without control characters other than tab and
 * newline; `required` also refuses blank text. */
void pv_text(as_problems_t *e, const char *field, const char *v, size_t max, int required);
/* An integer in [min, max]; `has` says whether it was given. */
void pv_int(as_problems_t *e, const char *field, int has, int64_t v, int64_t min, int64_t max,
            int required);
/* One of the NULL-terminated `allowed` words (when given). */
void pv_oneof(as_problems_t *e, const char *field, const char *v, const char *const *allowed);

int pv_site_ok(const char *v);
int pv_sku_ok(const char *v);

/* Read a receipt CSV file: a header naming the columns site, sku, qty and optionally note (in any
 * order, case-insensitive), then one receipt per line. RFC 4180 quoting ("a, ""b""") is
 * understood; \n and \r\n line ends; blank lines are skipped; a UTF-8 byte order mark is
 * ignored. Every well-formed row is appended to `rows` (borrowed JSON array) as
 * {"row": N, "site", "sku", "qty", "note"} where N counts data rows from 1; every problem is
 * recorded in `e` naming its row. Returns the number of data rows seen. */
int pv_csv_rows(const char *text, json_t *rows, as_problems_t *e);

#endif
