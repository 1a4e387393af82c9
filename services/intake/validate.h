/* validate.h — field-level validation of intake commands, before anything touches the
 * database. Problems are collected (not just the first) so the desk can fix them in one go. */
#ifndef INTAKE_VALIDATE_H
#define INTAKE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "as/check.h"
#include "intake.pb-c.h"

/* Strict YYYY-MM-DD; returns days since 1970-01-01 in *days. */
int iv_date_parse(const char *s, int32_t *days);
/* Today's business date (Asia/Shanghai, UTC+8, no daylight saving) as days since 1970-01-01. */
int32_t iv_today(void);
void iv_date_format(int32_t days, char out[11]);

/* Validate an OpenTicket and normalise it in place where the rules say so: claim_date defaults
 * to today; an IMEI that differs from the label sets flags.proof_mismatch. Returns the number
 * of problems; warnings (non-fatal) are appended to `warnings` (up to 4 entries of 160 bytes). */
int iv_open_ticket(Intake__OpenTicket *t, as_problems_t *e, char warnings[4][160], int *nwarn);

#endif
