/* promises.h — intake's settings and the promised-deadline timer (promises.c).
 *
 * Promises live in the database (tickets.promise_next_check_at); the timer is armed for the
 * earliest one (at most promise_poll_s ahead) and, when it fires, runs escalate_promises_due()
 * — which escalates, writes the timeline and publishes intake.PromiseEscalated in one
 * transaction — and re-arms. The same pattern as the complaint deadlines in surveys. */
#ifndef INTAKE_PROMISES_H
#define INTAKE_PROMISES_H

#include "as/service.h"

typedef struct in_settings {
    long test_mode;      /* 1 enables the test clock offset; 0 (default) locks it */
    long clock_offset_s; /* test mode only: the service clock runs this far ahead */
    long promise_default_h, promise_at_risk_pct, promise_region_after_h;
    long order_response_h; /* on-site service orders: hours to a technician on site */
    long promise_poll_s;   /* the timer re-reads the promises at least this often */
} in_settings_t;

extern in_settings_t in_cfg;

/* Write the settings, then run and re-arm the timer. Returns 0 or -1. */
int in_promises_start(as_service_t *svc);
/* Stop and close the timer; later database callbacks do nothing. */
void in_promises_stop(void);

#endif
