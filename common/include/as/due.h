/* due.h — escalating deadlines on a timer that survives restarts (due.c).
 *
 * A service whose SQL escalates things that fell due (surveys' complaint deadlines, intake's
 * promised ready-by dates) keeps every deadline in its database and runs one due-timer. At start
 * the timer writes the service's settings into the schema's `settings` table (so SQL computes
 * deadlines with the configured values, and svc_now() applies the test clock offset), then
 * rebuilds itself from the earliest pending deadline. Nothing is kept only in memory: a restart,
 * a crash or a moved test clock all end in the same place, because every check asks the
 * database what is due by the service clock.
 *
 * One check is one transaction of two statements: `escalate_sql` (returns how many it escalated;
 * the escalations, history and events in the outbox happen inside it) and `next_sql` (returns in
 * how many milliseconds to look again, or NULL). The timer is armed for that, capped at
 * `*poll_s` seconds so new deadlines are picked up without any signal from the command path.
 * Checks never overlap; a kick that arrives while one runs makes it run once more right after. */
#ifndef AS_DUE_H
#define AS_DUE_H

#include "as/service.h"

#include <jansson.h>

typedef struct as_due_def {
    const char *what;          /* "deadline", "promise": named in the log lines */
    const char *escalated_msg; /* the log line of a check that escalated something */
    const char *escalate_sql;  /* e.g. "SELECT escalate_due()": the number escalated */
    const char *next_sql;      /* e.g. "SELECT next_check_ms()": ms to the next check or NULL */
    const long *poll_s;        /* the service's setting: look again at least this often */
    long test_mode;            /* 1 enables the test clock offset; 0 locks it */
    long clock_offset_s;       /* test mode only: the service clock runs this far ahead */
    json_t *settings;          /* the service's other integer settings (an object; borrowed) */
} as_due_def_t;

/* One timer; the service keeps it in static storage (database callbacks may still arrive after
 * as_due_stop, and find it stopped). */
typedef struct as_due {
    as_due_def_t def;
    as_service_t *svc;
    uv_timer_t timer;
    int running;       /* timer initialised and not stopped */
    int settings_done; /* settings are in the database: checks may run */
    int busy;          /* a database job of ours is in flight */
    int again;         /* a kick arrived while busy */
    char *settings;    /* the JSON written at start */
} as_due_t;

/* Refuse an offset without test mode (logs why, returns -1); warn loudly in test mode. Then
 * start the timer on the service's loop: the settings (`settings` plus test_mode and
 * clock_offset_s) are written before the loop runs, so they precede every command and event on
 * that connection; the first check follows. `def` is copied (its strings are not). 0 or -1. */
int as_due_start(as_due_t *d, as_service_t *svc, const as_due_def_t *def);
/* Check now (e.g. after the test clock moved). Safe to call at any time. */
void as_due_kick(as_due_t *d);
/* Stop and close the timer; later database callbacks do nothing. */
void as_due_stop(as_due_t *d);

#endif
