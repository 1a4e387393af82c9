/* surveys.h — what the surveys service's modules share: its settings, its command table and the
 * escalation timer.
 *
 * The service owns satisfaction callbacks (scheduled from intake's TicketClosed), survey
 * responses scored with versioned weights, and complaints with deadlines that escalate on
 * breach. All rules that touch data live in SQL (migrations/100_init.sql); the C side validates
 * input, runs the deadline timer and wires the runtime. */
#ifndef SURVEYS_H
#define SURVEYS_H

#include "as/service.h"

/* The service's own settings (config section [surveys], env AS_SURVEYS_<NAME>). */
typedef struct sv_settings {
    long test_mode;      /* 1 enables the controllable clock; 0 (default) locks it */
    long clock_offset_s; /* test mode only: the service clock runs this far ahead at start */
    long callback_delay_h, callback_retry_h, callback_max_attempts;
    long low_score_milli, low_dimension;
    long general_ack_h, general_resolve_h;
    long serious_ack_h, serious_resolve_h, serious_report_h;
    long critical_ack_h, critical_resolve_h;
    long deadline_poll_s; /* the timer re-reads the deadlines at least this often */
    long quality_tracking_days, maintenance_days_car, maintenance_days_general; /* 19.7 */
    long maintenance_km_car, maintenance_km_per_day_car; /* 19.7: by mileage */
} sv_settings_t;

extern sv_settings_t sv_cfg;

/* The command table (commands.c). */
extern const as_cmd_def_t sv_commands[];
extern const size_t sv_ncommands;

/* ---- the escalation timer (as/due.h, started in main.c) ----
 *
 * Deadlines live in the database (complaint_deadlines.next_check_at). The timer is armed for the
 * earliest pending one (at most deadline_poll_s ahead, so new complaints are picked up without
 * any signal from the command path); when it fires it runs escalate_due() — which escalates,
 * records history and publishes ComplaintEscalated in one transaction — and re-arms. */

/* Check the deadlines now (e.g. after the test clock moved). Safe to call at any time. */
void sv_deadlines_kick(void);

#endif
