/* due.c — escalating deadlines on a timer that survives restarts (see as/due.h).
 *
 * The timer's whole state is in as_due_t: settings_done (the settings are in the database, so
 * checks may run), busy (one database job of ours in flight; checks never overlap) and again (a
 * kick arrived while busy: run once more right after). */
#include "as/due.h"
#include "as/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000

static void run_check(as_due_t *d);
static void write_settings(as_due_t *d);

static void on_timer(uv_timer_t *t)
{
    as_due_t *d = t->data;
    if (!d->settings_done)
        write_settings(d);
    else
        run_check(d);
}

static void arm(as_due_t *d, uint64_t ms)
{
    if (!d->running)
        return;
    uint64_t poll = (uint64_t)*d->def.poll_s * 1000;
    uv_timer_start(&d->timer, on_timer, ms < poll ? ms : poll, 0);
}

static void check_done(const as_db_result_t *r, void *ud)
{
    as_due_t *d = ud;
    char msg[96];
    d->busy = 0;
    if (!d->running)
        return;
    uint64_t next = (uint64_t)*d->def.poll_s * 1000;
    if (r->ok) {
        long n = atol(as_db_value(r->res[0], 0, 0));
        if (n > 0) {
            AS_INFO(d->def.escalated_msg, "escalations=%ld", n);
            if (d->svc->relay)
                as_relay_kick(d->svc->relay);
        }
        if (r->n > 1 && r->res[1] && !as_db_is_null(r->res[1], 0, 0)) {
            long long ms = atoll(as_db_value(r->res[1], 0, 0));
            next = ms < 0 ? 0 : (uint64_t)ms;
            snprintf(msg, sizeof msg, "next %s check", d->def.what);
            AS_DEBUG(msg, "in_ms=%lld", ms);
        }
    } else {
        snprintf(msg, sizeof msg, "%s check failed", d->def.what);
        AS_WARN(msg, "sqlstate=%s error=\"%s\"", r->sqlstate, r->message ? r->message : "");
        next = RETRY_MS;
    }
    if (d->again) {
        d->again = 0;
        next = 0;
    }
    arm(d, next);
}

static void run_check(as_due_t *d)
{
    if (!d->running)
        return;
    if (d->busy) {
        d->again = 1;
        return;
    }
    as_db_stmt_t st[2] = {{d->def.escalate_sql, 0, NULL}, {d->def.next_sql, 0, NULL}};
    if (as_db_submit(d->svc->db, st, 2, check_done, d) < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s check deferred", d->def.what);
        AS_WARN(msg, "reason=%s", "database queue full");
        arm(d, RETRY_MS);
        return;
    }
    d->busy = 1;
}

static void settings_done(const as_db_result_t *r, void *ud)
{
    as_due_t *d = ud;
    d->busy = 0;
    if (!d->running)
        return;
    if (!r->ok) {
        AS_WARN("cannot write the settings yet", "sqlstate=%s error=\"%s\"", r->sqlstate,
                r->message ? r->message : "");
        uv_timer_start(&d->timer, on_timer, RETRY_MS, 0);
        return;
    }
    d->settings_done = 1;
    d->again = 0;
    char msg[96];
    snprintf(msg, sizeof msg, "settings written; rebuilding the %s timer", d->def.what);
    AS_INFO(msg, "test_mode=%ld clock_offset_s=%ld", d->def.test_mode,
            d->def.test_mode ? d->def.clock_offset_s : 0L);
    run_check(d);
}

static void write_settings(as_due_t *d)
{
    const char *p[1] = {d->settings};
    as_db_stmt_t st = {"INSERT INTO settings(name, value) "
                       "SELECT key, value::bigint FROM jsonb_each_text($1::jsonb) "
                       "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                       1, p};
    if (as_db_submit(d->svc->db, &st, 1, settings_done, d) < 0) {
        uv_timer_start(&d->timer, on_timer, RETRY_MS, 0);
        return;
    }
    d->busy = 1;
}

/* The service's settings plus the clock's two, as one compact JSON object (malloc'd). */
static char *settings_text(const as_due_def_t *def)
{
    json_t *o = def->settings ? json_deep_copy(def->settings) : json_object();
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "test_mode", json_integer(def->test_mode));
    json_object_set_new(o, "clock_offset_s",
                        json_integer(def->test_mode ? def->clock_offset_s : 0));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

int as_due_start(as_due_t *d, as_service_t *svc, const as_due_def_t *def)
{
    if (!def->test_mode && def->clock_offset_s != 0) {
        AS_ERROR("refusing to start", "reason=\"clock_offset_s=%ld needs test_mode=1\"",
                 def->clock_offset_s);
        return -1;
    }
    if (def->test_mode)
        AS_WARN("TEST MODE: the service clock runs ahead; never run this in production",
                "clock_offset_s=%ld", def->clock_offset_s);
    memset(d, 0, sizeof *d);
    d->def = *def;
    d->def.settings = NULL;
    d->settings = settings_text(def);
    if (!d->settings)
        return -1;
    d->svc = svc;
    uv_timer_init(svc->loop, &d->timer);
    d->timer.data = d;
    d->running = 1;
    /* Submitted before the loop runs, so it precedes every command and event on this
     * connection (jobs on one connection run in order). */
    write_settings(d);
    return 0;
}

void as_due_kick(as_due_t *d)
{
    if (!d->running || !d->settings_done)
        return;
    uv_timer_stop(&d->timer);
    run_check(d);
}

void as_due_stop(as_due_t *d)
{
    if (!d->running)
        return;
    d->running = 0;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, NULL);
    free(d->settings);
    d->settings = NULL;
}
