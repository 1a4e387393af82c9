/* it_tap.h — for the integration test programs: one TAP line per check, `ok - NAME` or
 * `not ok - NAME: WHY`, which tests/run.sh counts; `failures` is how many failed (a program's
 * exit status). Header-only so each test stays one file. */
#ifndef IT_TAP_H
#define IT_TAP_H

#include <stdio.h>

static int failures;

static void check(int ok, const char *name, const char *why)
{
    if (ok)
        printf("ok - %s\n", name);
    else {
        printf("not ok - %s: %s\n", name, why);
        failures++;
    }
    fflush(stdout);
}

#endif
