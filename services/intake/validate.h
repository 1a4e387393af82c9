/* validate.h — field-level validation of intake commands, before anything touches the
 * database. Problems are collected (not just the first) so the desk can fix them in one go. */
#ifndef INTAKE_VALIDATE_H
#define INTAKE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "intake.pb-c.h"

#define IV_MAX_ERRORS 32

typedef struct iv_errors {
    int n;
    char field[IV_MAX_ERRORS][64];
    char problem[IV_MAX_ERRORS][160];
} iv_errors_t;

void iv_add(iv_errors_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 15 digits with a valid Luhn check digit. */
int iv_imei_valid(const char *imei);
/* Strict YYYY-MM-DD; returns days since 1970-01-01 in *days. */
int iv_date_parse(const char *s, int32_t *days);
/* Today's business date (Asia/Shanghai, UTC+8, no daylight saving) as days since 1970-01-01. */
int32_t iv_today(void);
void iv_date_format(int32_t days, char out[11]);

/* Validate an OpenTicket and normalise it in place where the rules say so: claim_date defaults
 * to today; an IMEI that differs from the label sets flags.proof_mismatch. Returns the number
 * of problems; warnings (non-fatal) are appended to `warnings` (up to 4 entries of 160 bytes). */
int iv_open_ticket(Intake__OpenTicket *t, iv_errors_t *e, char warnings[4][160], int *nwarn);

#endif
