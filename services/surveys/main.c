/* main.c — the surveys service: satisfaction callbacks, survey scores, complaints.
 *
 * It follows intake's stream: each TicketClosed schedules one satisfaction callback (the SQL
 * handler is idempotent by the ticket's unique key, and the runtime applies each event once in
 * the transaction that advances the stream position). Commands (commands.c) run one SQL function
 * each. The escalation timer (as/due.h) escalates complaints whose deadlines passed and
 * publishes surveys.ComplaintEscalated on the "surveys" stream.
 *
 * Settings are the table below (config file section [surveys], or AS_SURVEYS_<NAME>). The clock
 * can be moved only with test_mode=1: a production start with a clock offset is refused. */
#include "as/due.h"
#include "as/log.h"
#include "as/service.h"
#include "surveys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sv_settings_t sv_cfg;

static as_config_item_t surveys_items[] = {
    {"test_mode", AS_CFG_INT, "0", 0, 1,
     "1 = tests may move the service clock (AdvanceClock, clock_offset_s); never in production",
     &sv_cfg.test_mode},
    {"clock_offset_s", AS_CFG_INT, "0", 0, 20L * 365 * 86400,
     "test mode only: start with the service clock this many seconds ahead",
     &sv_cfg.clock_offset_s},
    {"callback_delay_h", AS_CFG_INT, "48", 0, 24 * 60,
     "hours after a ticket closes that its satisfaction callback is due (then moved into "
     "business hours 09:00-18:00 Asia/Shanghai)",
     &sv_cfg.callback_delay_h},
    {"callback_retry_h", AS_CFG_INT, "4", 1, 24 * 30,
     "business hours until the next try after an unreachable customer", &sv_cfg.callback_retry_h},
    {"callback_max_attempts", AS_CFG_INT, "3", 1, 20,
     "call attempts before a callback closes as unreachable", &sv_cfg.callback_max_attempts},
    {"low_score_milli", AS_CFG_INT, "3000", 1000, 5001,
     "a weighted score below this (thousandths: 3000 = 3.0) opens a complaint",
     &sv_cfg.low_score_milli},
    {"low_dimension", AS_CFG_INT, "1", 0, 5,
     "any dimension scored at or below this opens a complaint (0 = off)", &sv_cfg.low_dimension},
    {"general_ack_h", AS_CFG_INT, "24", 1, 24 * 365, "general complaints: hours to acknowledge",
     &sv_cfg.general_ack_h},
    {"general_resolve_h", AS_CFG_INT, "168", 1, 24 * 365, "general complaints: hours to resolve",
     &sv_cfg.general_resolve_h},
    {"serious_ack_h", AS_CFG_INT, "4", 1, 24 * 365, "serious complaints: hours to acknowledge",
     &sv_cfg.serious_ack_h},
    {"serious_resolve_h", AS_CFG_INT, "48", 1, 24 * 365, "serious complaints: hours to resolve",
     &sv_cfg.serious_resolve_h},
    {"serious_report_h", AS_CFG_INT, "48", 1, 24 * 365,
     "serious complaints: hours to file the written report", &sv_cfg.serious_report_h},
    {"critical_ack_h", AS_CFG_INT, "1", 1, 24 * 365, "critical complaints: hours to acknowledge",
     &sv_cfg.critical_ack_h},
    {"critical_resolve_h", AS_CFG_INT, "24", 1, 24 * 365, "critical complaints: hours to resolve",
     &sv_cfg.critical_resolve_h},
    {"deadline_poll_s", AS_CFG_INT, "30", 1, 3600,
     "the escalation timer re-reads the deadlines at least this often", &sv_cfg.deadline_poll_s},
    {"quality_tracking_days", AS_CFG_INT, "7", 0, 365,
     "days after a repaired ticket closes that its quality-tracking call is due (0 = none)",
     &sv_cfg.quality_tracking_days},
    {"maintenance_days_car", AS_CFG_INT, "180", 0, 3650,
     "days after a car's repair that its maintenance reminder is due (0 = none)",
     &sv_cfg.maintenance_days_car},
    {"maintenance_days_general", AS_CFG_INT, "365", 0, 3650,
     "days after an appliance's repair (category general) that its maintenance reminder is due "
     "(0 = none)",
     &sv_cfg.maintenance_days_general},
    {"maintenance_km_car", AS_CFG_INT, "5000", 0, 100000,
     "kilometres between a car's services: its reminder is due when the odometer is projected "
     "past its reading at intake plus this (0 = by date only)",
     &sv_cfg.maintenance_km_car},
    {"maintenance_km_per_day_car", AS_CFG_INT, "40", 1, 2000,
     "a car's expected kilometres a day when it has no earlier reading to measure it",
     &sv_cfg.maintenance_km_per_day_car},
};

static void on_intake_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "intake.TicketClosed") == 0) {
        const char *p[1] = {ev->json};
        as_db_stmt_t st = {"SELECT on_ticket_closed($1::jsonb)", 1, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    if (strcmp(ev->type, "intake.CallLogged") == 0) {
        const char *p[1] = {ev->json};
        as_db_stmt_t st = {"SELECT on_call_logged($1::jsonb)", 1, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    /* Every ticket's CustomerLinked and TicketOpened (the customer's tier: key / VIP complaints
     * start one severity higher; the ticket's customer for callbacks): collected, one
     * on_intake_events() statement per batch (decision 36). */
    int linked = strcmp(ev->type, "intake.CustomerLinked") == 0;
    if (linked || strcmp(ev->type, "intake.TicketOpened") == 0) {
        const char *type = linked ? "intake.CustomerLinked" : "intake.TicketOpened";
        const char *payload = ev->json && *ev->json ? ev->json : "{}";
        size_t cap = strlen(payload) + 64;
        char *item = malloc(cap);
        if (item) {
            snprintf(item, cap, "{\"type\":\"%s\",\"payload\":%s}", type, payload);
            as_event_collect(ev, "SELECT on_intake_events($1, $2::jsonb)", item);
            free(item);
            return;
        }
        const char *p[1] = {payload}; /* out of memory: the event goes alone, the old way */
        as_db_stmt_t st = {linked ? "SELECT on_customer_linked($1::jsonb)"
                                  : "SELECT on_ticket_opened($1::jsonb)",
                           1, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    if (strcmp(ev->type, "intake.CustomerChanged") == 0) {
        const char *p[1] = {ev->json};
        as_db_stmt_t st = {"SELECT on_customer_changed($1::jsonb)", 1, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    as_event_commit(ev, NULL, 0); /* not for us: just move past it */
}

/* The network from the people service: regions and centres opened or changed there, so a new
 * centre can have complaints and callbacks at once; the seed SQL is only the first load. */
static void on_people_event(as_event_t *ev, void *ud)
{
    (void)ud;
    const char *sql =
        strcmp(ev->type, "people.RegionCreated") == 0   ? "SELECT on_region_created($1::jsonb)"
        : strcmp(ev->type, "people.CenterChanged") == 0 ? "SELECT on_center_changed($1::jsonb)"
                                                        : NULL;
    if (!sql) {
        as_event_commit(ev, NULL, 0); /* not for us: just move past it */
        return;
    }
    const char *p[1] = {ev->json};
    as_db_stmt_t st = {sql, 1, p};
    as_event_commit(ev, &st, 1);
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_intake_event},
    {"people", on_people_event},
};

static as_due_t deadlines;

void sv_deadlines_kick(void)
{
    as_due_kick(&deadlines);
}

static int surveys_start(as_service_t *svc)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "callback_delay_h",
        (json_int_t)sv_cfg.callback_delay_h, "callback_retry_h",
        (json_int_t)sv_cfg.callback_retry_h, "callback_max_attempts",
        (json_int_t)sv_cfg.callback_max_attempts, "low_score_milli",
        (json_int_t)sv_cfg.low_score_milli, "low_dimension", (json_int_t)sv_cfg.low_dimension,
        "general_ack_h", (json_int_t)sv_cfg.general_ack_h, "general_resolve_h",
        (json_int_t)sv_cfg.general_resolve_h, "serious_ack_h", (json_int_t)sv_cfg.serious_ack_h,
        "serious_resolve_h", (json_int_t)sv_cfg.serious_resolve_h, "serious_report_h",
        (json_int_t)sv_cfg.serious_report_h, "critical_ack_h", (json_int_t)sv_cfg.critical_ack_h,
        "critical_resolve_h", (json_int_t)sv_cfg.critical_resolve_h);
    if (o) {
        json_object_set_new(o, "quality_tracking_days", json_integer(sv_cfg.quality_tracking_days));
        json_object_set_new(o, "maintenance_days_car", json_integer(sv_cfg.maintenance_days_car));
        json_object_set_new(o, "maintenance_days_general",
                            json_integer(sv_cfg.maintenance_days_general));
        json_object_set_new(o, "maintenance_km_car", json_integer(sv_cfg.maintenance_km_car));
        json_object_set_new(o, "maintenance_km_per_day_car",
                            json_integer(sv_cfg.maintenance_km_per_day_car));
    }
    as_due_def_t def = {.what = "deadline",
                        .escalated_msg = "complaints escalated or reminders published",
                        .escalate_sql = "SELECT escalate_due() + reminders_due()",
                        .next_sql = "SELECT next_check_ms()",
                        .poll_s = &sv_cfg.deadline_poll_s,
                        .test_mode = sv_cfg.test_mode,
                        .clock_offset_s = sv_cfg.clock_offset_s,
                        .settings = o};
    int rc = o ? as_due_start(&deadlines, svc, &def) : -1;
    json_decref(o);
    return rc;
}

static void surveys_stop(as_service_t *svc)
{
    (void)svc;
    as_due_stop(&deadlines);
}

int main(int argc, char **argv)
{
    as_service_def_t def = {
        .name = "surveys",
        .cmds = sv_commands,
        .ncmds = sv_ncommands,
        AS_DEF_SUBS(subscriptions),
        .publishes = 1,
        /* One series per severity the CHECK constraint allows, 0 while none is overdue. */
        .metrics_sql =
            "SELECT 'aftersales_complaints_overdue', format('severity=\"%s\"', k.severity), "
            "count(*) FILTER (WHERE c.state <> 'closed' AND complaint_overdue(c)), "
            "'open complaints past a deadline, by severity' FROM ("
            "SELECT (regexp_matches(pg_get_constraintdef(x.oid), '''([a-z_]+)''', 'g'))[1] "
            "AS severity FROM pg_constraint x WHERE x.conrelid = 'complaints'::regclass "
            "AND x.conname = 'complaints_severity_check' "
            "UNION SELECT DISTINCT severity FROM complaints) k "
            "LEFT JOIN complaints c ON c.severity = k.severity GROUP BY k.severity",
        AS_DEF_EXTRA(surveys_items),
        .start = surveys_start,
        .stop = surveys_stop,
    };
    return as_service_main(argc, argv, &def);
}
