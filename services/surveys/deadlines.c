/* deadlines.c — the service clock's settings and the complaint escalation timer.
 *
 * At start the service writes its settings into the `settings` table (so SQL schedules callbacks
 * and computes deadlines with the configured values, and svc_now() applies the test clock
 * offset), then rebuilds the timer from the earliest pending deadline in the database. Nothing
 * about deadlines is kept only in memory: a restart, a crash or a moved test clock all end in
 * the same place, because every check asks the database what is due by the service clock.
 *
 * One check is one transaction: escalate_due() (escalations, history, ComplaintEscalated in the
 * outbox) and next_check_ms() (when to look again). Checks never overlap; a kick that arrives
 * while one runs makes it run once more right after. */
#include "as/log.h"
#include "surveys.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000

static struct {
    as_service_t *svc;
    uv_timer_t timer;
    int running;       /* timer initialised and not stopped */
    int settings_done; /* settings are in the database: checks may run */
    int busy;          /* a database job of ours is in flight */
    int again;         /* a kick arrived while busy */
    char *settings_json;
} dl;

static void run_check(void);
static void write_settings(void);

static void on_timer(uv_timer_t *t)
{
    (void)t;
    if (!dl.settings_done)
        write_settings();
    else
        run_check();
}

static void arm(uint64_t ms)
{
    if (!dl.running)
        return;
    uint64_t poll = (uint64_t)sv_cfg.deadline_poll_s * 1000;
    uv_timer_start(&dl.timer, on_timer, ms < poll ? ms : poll, 0);
}

static void check_done(const as_db_result_t *r, void *ud)
{
    (void)ud;
    dl.busy = 0;
    if (!dl.running)
        return;
    uint64_t next = (uint64_t)sv_cfg.deadline_poll_s * 1000;
    if (r->ok) {
        long n = atol(as_db_value(r->res[0], 0, 0));
        if (n > 0) {
            AS_INFO("complaints escalated or reminders published", "count=%ld", n);
            if (dl.svc->relay)
                as_relay_kick(dl.svc->relay);
        }
        if (r->n > 1 && r->res[1] && !as_db_is_null(r->res[1], 0, 0)) {
            long long ms = atoll(as_db_value(r->res[1], 0, 0));
            next = ms < 0 ? 0 : (uint64_t)ms;
            AS_DEBUG("next deadline check", "in_ms=%lld", ms);
        }
    } else {
        AS_WARN("deadline check failed", "sqlstate=%s error=\"%s\"", r->sqlstate,
                r->message ? r->message : "");
        next = RETRY_MS;
    }
    if (dl.again) {
        dl.again = 0;
        next = 0;
    }
    arm(next);
}

static void run_check(void)
{
    if (!dl.running)
        return;
    if (dl.busy) {
        dl.again = 1;
        return;
    }
    as_db_stmt_t st[2] = {{"SELECT escalate_due() + reminders_due()", 0, NULL},
                          {"SELECT next_check_ms()", 0, NULL}};
    if (as_db_submit(dl.svc->db, st, 2, check_done, NULL) < 0) {
        AS_WARN("deadline check deferred", "reason=%s", "database queue full");
        arm(RETRY_MS);
        return;
    }
    dl.busy = 1;
}

static void settings_done(const as_db_result_t *r, void *ud)
{
    (void)ud;
    dl.busy = 0;
    if (!dl.running)
        return;
    if (!r->ok) {
        AS_WARN("cannot write the settings yet", "sqlstate=%s error=\"%s\"", r->sqlstate,
                r->message ? r->message : "");
        uv_timer_start(&dl.timer, on_timer, RETRY_MS, 0);
        return;
    }
    dl.settings_done = 1;
    dl.again = 0;
    AS_INFO("settings written; rebuilding the deadline timer", "test_mode=%ld clock_offset_s=%ld",
            sv_cfg.test_mode, sv_cfg.test_mode ? sv_cfg.clock_offset_s : 0L);
    run_check();
}

static void write_settings(void)
{
    const char *p[1] = {dl.settings_json};
    as_db_stmt_t st = {"INSERT INTO settings(name, value) "
                       "SELECT key, value::bigint FROM jsonb_each_text($1::jsonb) "
                       "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                       1, p};
    if (as_db_submit(dl.svc->db, &st, 1, settings_done, NULL) < 0) {
        uv_timer_start(&dl.timer, on_timer, RETRY_MS, 0);
        return;
    }
    dl.busy = 1;
}

int sv_deadlines_start(as_service_t *svc)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "test_mode",
        (json_int_t)sv_cfg.test_mode, "clock_offset_s",
        (json_int_t)(sv_cfg.test_mode ? sv_cfg.clock_offset_s : 0), "callback_delay_h",
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
    }
    dl.settings_json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!dl.settings_json)
        return -1;
    dl.svc = svc;
    uv_timer_init(svc->loop, &dl.timer);
    dl.running = 1;
    /* Submitted before the loop runs, so it precedes every event the consumer applies on this
     * connection (jobs on one connection run in order). */
    write_settings();
    return 0;
}

void sv_deadlines_kick(void)
{
    if (!dl.running || !dl.settings_done)
        return;
    uv_timer_stop(&dl.timer);
    run_check();
}

void sv_deadlines_stop(void)
{
    if (!dl.running)
        return;
    dl.running = 0;
    uv_timer_stop(&dl.timer);
    uv_close((uv_handle_t *)&dl.timer, NULL);
    free(dl.settings_json);
    dl.settings_json = NULL;
}
