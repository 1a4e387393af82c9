/* validate.h — field-level checks of settlement commands, before anything touches the
 * database. Problems are collected (not just the first) so a caller can fix them in one go. */
#ifndef SETTLEMENT_VALIDATE_H
#define SETTLEMENT_VALIDATE_H

#include <protobuf-c/protobuf-c.h>

#include "as/check.h"

/* Strict YYYY-MM-DD with a real calendar day (years 1900..2999). Returns 1 when valid. */
int sv_date_valid(const char *s);
/* YYYY-MM with month 01..12. Returns 1 when valid. */
int sv_period_valid(const char *s);
/* An identifier: 1..max bytes of visible ASCII. Returns 1 when valid. */
int sv_id_valid(const char *s, size_t max);
/* Yuan with exactly two decimals ("50.00"). */
int sv_yuan_valid(const char *s);

/* Check the request `msg` of any settlement command (dispatch by descriptor). Returns the number
 * of problems found in `e`; commands without rules return 0. */
int sv_validate(const ProtobufCMessage *msg, as_problems_t *e);

#endif
