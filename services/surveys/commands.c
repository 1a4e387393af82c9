/* commands.c — the surveys service's commands: field-level validation in C (every problem named,
 * before anything touches the database), then one SQL function each (migrations/100_init.sql)
 * that checks scope and state, applies the effect, and writes history and audit rows in one
 * transaction. AdvanceClock (test mode only) also re-checks the deadlines once it committed. */
#include "as/enums.h"
#include "as/log.h"
#include "as/pbjson.h"
#include "surveys.h"
#include "surveys.pb-c.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation helpers ---- */

static int present(const char *s)
{
    return s && *s;
}

static void text(as_problems_t *e, const char *field, const char *s, size_t max, int required)
{
    as_check_text(e, field, s, max, required, 1);
}

/* A code: 1..max characters of [A-Za-z0-9_-]. */
static void code(as_problems_t *e, const char *field, const char *s, size_t max, int required)
{
    if (!present(s)) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    size_t n = strlen(s);
    int ok = n <= max;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
    if (!ok)
        as_problem(e, field, "must be 1..%zu letters, digits, '_' or '-'", max);
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static void choice(as_problems_t *e, const char *field, const char *s, const char *const *set,
                   const char *listed, int required)
{
    if (!present(s)) {
        if (required)
            as_problem(e, field, "is required (%s)", listed);
        return;
    }
    if (!one_of(s, set))
        as_problem(e, field, "'%.40s' is not one of %s", s, listed);
}

/* The same for a closed value set declared as a proto enum (as/enums.h). */
static void choice_enum(as_problems_t *e, const char *field, const char *s,
                        const ProtobufCEnumDescriptor *d, int required)
{
    char listed[256];
    as_enum_list(d, ", ", ", ", listed, sizeof listed);
    if (!present(s)) {
        if (required)
            as_problem(e, field, "is required (%s)", listed);
        return;
    }
    if (!as_enum_has(d, s))
        as_problem(e, field, "'%.40s' is not one of %s", s, listed);
}

static void date(as_problems_t *e, const char *field, const char *s, int required)
{
    if (!present(s)) {
        if (required)
            as_problem(e, field, "is required (YYYY-MM-DD)");
        return;
    }
    if (!as_date_valid(s))
        as_problem(e, field, "'%.20s' is not a date (YYYY-MM-DD)", s);
}

/* from <= to when both are valid dates (ISO dates compare as text). */
static void range(as_problems_t *e, const char *from, const char *to)
{
    if (as_date_valid(from) && as_date_valid(to) && strcmp(from, to) > 0)
        as_problem(e, "from", "is after to");
}

static void int_range(as_problems_t *e, const char *field, int has, long v, long lo, long hi,
                      int required)
{
    if (!has) {
        if (required)
            as_problem(e, field, "is required (%ld..%ld)", lo, hi);
        return;
    }
    if (v < lo || v > hi)
        as_problem(e, field, "%ld is outside %ld..%ld", v, lo, hi);
}

static void phone(as_problems_t *e, const char *field, const char *s)
{
    if (!present(s))
        return;
    text(e, field, s, 20, 0);
    size_t digits = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (!strchr("+- ", *p)) {
            as_problem(e, field, "may contain only digits, '+', '-' and spaces");
            return;
        }
    }
    if (digits < 5)
        as_problem(e, field, "needs at least 5 digits");
}

static const char *const CAUSES[] = {"attitude", "repair_quality", "overdue", "parts_unavailable",
                                     "price",    "other",          NULL};
#define CAUSES_TXT "attitude, repair_quality, overdue, parts_unavailable, price, other"
static const char *const FOLLOWUPS[] = {"satisfied", "unsatisfied", "unreachable", NULL};

/* Validation passed: run the command's SQL function with the request as JSON. */
static void run_sql(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg)
{
    as_cmd_sql(ctx, as_cmd_def(ctx)->sql_fn, as_pbjson_encode(msg));
}

/* ---- callbacks ---- */

static void list_due(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__ListDue *m = (const Surveys__ListDue *)msg;
    as_problems_t e = {0};
    date(&e, "date", m->date, 0);
    code(&e, "center", m->center, 16, 0);
    code(&e, "ticket_id", m->ticket_id, 32, 0);
    int_range(&e, "limit", m->has_limit, m->limit, 1, 500, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void by_id(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    /* Every message routed here has `id` as its first field (a string). */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "id");
    const char *id = f ? *(char *const *)((const char *)msg + f->offset) : NULL;
    as_problems_t e = {0};
    code(&e, "id", id, 32, 1);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void answer_callback(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__AnswerCallback *m = (const Surveys__AnswerCallback *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    int_range(&e, "attitude", m->has_attitude, m->attitude, 1, 5, 1);
    int_range(&e, "repair_quality", m->has_repair_quality, m->repair_quality, 1, 5, 1);
    int_range(&e, "timeliness", m->has_timeliness, m->timeliness, 1, 5, 1);
    int_range(&e, "price", m->has_price, m->price, 1, 5, 1);
    int_range(&e, "facilities", m->has_facilities, m->facilities, 1, 5, 1);
    int_range(&e, "nps", m->has_nps, m->nps, 0, 10, 1);
    text(&e, "comment", m->comment, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void callback_note(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    /* RefuseCallback and MarkUnreachable share the shape {id, note}. */
    const Surveys__RefuseCallback *m = (const Surveys__RefuseCallback *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    text(&e, "note", m->note, 1000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void proactive_done(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__CompleteProactiveCall *m = (const Surveys__CompleteProactiveCall *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    text(&e, "note", m->note, 1000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

/* ---- weights and the satisfaction report ---- */

static void add_weight_set(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__AddWeightSet *m = (const Surveys__AddWeightSet *)msg;
    as_problems_t e = {0};
    date(&e, "effective_from", m->effective_from, 1);
    int_range(&e, "attitude", m->has_attitude, m->attitude, 0, 1000, 1);
    int_range(&e, "repair_quality", m->has_repair_quality, m->repair_quality, 0, 1000, 1);
    int_range(&e, "timeliness", m->has_timeliness, m->timeliness, 0, 1000, 1);
    int_range(&e, "price", m->has_price, m->price, 0, 1000, 1);
    int_range(&e, "facilities", m->has_facilities, m->facilities, 0, 1000, 1);
    text(&e, "note", m->note, 500, 0);
    if (e.n == 0) {
        long sum = (long)m->attitude + m->repair_quality + m->timeliness + m->price + m->facilities;
        if (sum != 1000)
            as_problem(&e, "weights",
                       "the five weights are thousandths and must sum to 1000 (got %ld)", sum);
    }
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void satisfaction_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__GetSatisfactionReport *m = (const Surveys__GetSatisfactionReport *)msg;
    static const char *const GROUPS[] = {"center", "region", NULL};
    as_problems_t e = {0};
    choice(&e, "group", m->group, GROUPS, "center, region", 0);
    date(&e, "from", m->from, 0);
    date(&e, "to", m->to, 0);
    range(&e, m->from, m->to);
    if (!as_cmd_reject(ctx, &e)) /* read-only: the read connection */
        as_cmd_sql_read(ctx, as_cmd_def(ctx)->sql_fn, as_pbjson_encode(msg));
}

/* ---- complaints ---- */

static void open_complaint(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__OpenComplaint *m = (const Surveys__OpenComplaint *)msg;
    as_problems_t e = {0};
    choice_enum(&e, "channel", m->channel, &surveys__channel__descriptor, 1);
    choice(&e, "cause", m->cause, CAUSES, CAUSES_TXT, 1);
    text(&e, "description", m->description, 4000, 1);
    code(&e, "ticket_id", m->ticket_id, 32, 0);
    code(&e, "center", m->center, 16, 0);
    text(&e, "customer_name", m->customer_name, 100, 0);
    phone(&e, "customer_phone", m->customer_phone);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void list_complaints(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__ListComplaints *m = (const Surveys__ListComplaints *)msg;
    as_problems_t e = {0};
    choice_enum(&e, "state", m->state, &surveys__complaint_state__descriptor, 0);
    choice_enum(&e, "severity", m->severity, &surveys__severity__descriptor, 0);
    choice(&e, "cause", m->cause, CAUSES, CAUSES_TXT, 0);
    code(&e, "center", m->center, 16, 0);
    code(&e, "ticket_id", m->ticket_id, 32, 0);
    code(&e, "after", m->after, 32, 0);
    int_range(&e, "limit", m->has_limit, m->limit, 1, 200, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void complaint_note(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    /* AcknowledgeComplaint and ReopenComplaint: {id, note|reason}, the text optional. */
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const ProtobufCFieldDescriptor *fid = protobuf_c_message_descriptor_get_field_by_name(d, "id");
    const ProtobufCFieldDescriptor *fnote = &d->fields[1];
    const char *id = *(char *const *)((const char *)msg + fid->offset);
    const char *note = *(char *const *)((const char *)msg + fnote->offset);
    as_problems_t e = {0};
    code(&e, "id", id, 32, 1);
    text(&e, fnote->name, note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void resolve_complaint(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__ResolveComplaint *m = (const Surveys__ResolveComplaint *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    text(&e, "resolution", m->resolution, 4000, 1);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void close_complaint(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__CloseComplaint *m = (const Surveys__CloseComplaint *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    choice(&e, "followup_outcome", m->followup_outcome, FOLLOWUPS,
           "satisfied, unsatisfied, unreachable — the outcome of the follow-up callback", 1);
    text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void raise_severity(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__RaiseSeverity *m = (const Surveys__RaiseSeverity *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    choice_enum(&e, "severity", m->severity, &surveys__severity__descriptor, 1);
    text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void file_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__FileReport *m = (const Surveys__FileReport *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    text(&e, "report", m->report, 20000, 1);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void assign_complaint(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__AssignComplaint *m = (const Surveys__AssignComplaint *)msg;
    as_problems_t e = {0};
    code(&e, "id", m->id, 32, 1);
    text(&e, "owner", m->owner, 128, 1);
    text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void list_overdue(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__ListOverdue *m = (const Surveys__ListOverdue *)msg;
    as_problems_t e = {0};
    code(&e, "center", m->center, 16, 0);
    int_range(&e, "limit", m->has_limit, m->limit, 1, 500, 0);
    if (!as_cmd_reject(ctx, &e))
        run_sql(ctx, msg);
}

static void complaint_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__GetComplaintReport *m = (const Surveys__GetComplaintReport *)msg;
    static const char *const GROUPS[] = {"cause", "severity", "center", NULL};
    as_problems_t e = {0};
    choice(&e, "group", m->group, GROUPS, "cause, severity, center", 0);
    date(&e, "from", m->from, 0);
    date(&e, "to", m->to, 0);
    range(&e, m->from, m->to);
    if (!as_cmd_reject(ctx, &e)) /* read-only: the read connection */
        as_cmd_sql_read(ctx, as_cmd_def(ctx)->sql_fn, as_pbjson_encode(msg));
}

/* ---- the test clock ----
 *
 * Runs exec_command itself (same idempotency and reply storage as as_cmd_sql) so that, once the
 * new offset is committed, the deadline timer re-checks at once: breaches the jump created are
 * escalated by the timer path, as they would be in production. */

static void advance_done(const as_db_result_t *r, void *ud)
{
    as_cmd_ctx_t *ctx = ud;
    if (!r->ok) {
        const char *st = r->sqlstate ? r->sqlstate : "";
        if (st[0] == 'A' && st[1] == 'S')
            as_cmd_reply(ctx, atoi(st + 2), r->message,
                         r->detail && *r->detail ? r->detail : r->message, NULL);
        else if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0)
            as_cmd_error(ctx, 503, "unavailable",
                         "the database is unavailable; retry with the same request id");
        else {
            AS_ERROR("advance clock failed", "req=%s sqlstate=%s error=\"%s\"",
                     as_cmd_request_id(ctx), st, r->message ? r->message : "");
            as_cmd_error(ctx, 500, "internal", "internal error (request %s)",
                         as_cmd_request_id(ctx));
        }
        return;
    }
    json_error_t jerr;
    json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        as_cmd_error(ctx, 500, "internal", "command returned no reply");
        return;
    }
    int status = (int)json_integer_value(json_object_get(o, "status"));
    int replayed = json_is_true(json_object_get(o, "replayed"));
    json_t *body = json_object_get(o, "body");
    const char *now = json_string_value(json_object_get(body, "now"));
    AS_WARN("test clock moved", "req=%s now=%s", as_cmd_request_id(ctx), now ? now : "?");
    as_cmd_reply_json(ctx, status ? status : 200, body, replayed);
    json_decref(o);
    sv_deadlines_kick();
}

static void advance_clock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Surveys__AdvanceClock *m = (const Surveys__AdvanceClock *)msg;
    if (!sv_cfg.test_mode) {
        as_cmd_error(ctx, 403, "test_mode_off",
                     "the clock can be moved only when the service runs in test mode "
                     "(setting test_mode, AS_SURVEYS_TEST_MODE=1)");
        return;
    }
    as_problems_t e = {0};
    int_range(&e, "seconds", m->has_seconds, (long)m->seconds, 0, 10L * 365 * 86400, 1);
    if (as_cmd_reject(ctx, &e))
        return;
    json_t *pj = as_principal_json(as_cmd_principal(ctx));
    json_t *aj = as_pbjson_encode(msg);
    char *ps = json_dumps(pj, JSON_COMPACT), *args = json_dumps(aj, JSON_COMPACT);
    json_decref(pj);
    json_decref(aj);
    const char *params[3] = {as_cmd_request_id(ctx), ps, args};
    as_db_stmt_t st = {"SELECT exec_command($1, 'cmd_advance_clock', $2::jsonb, $3::jsonb)::text",
                       3, params};
    int rc = ps && args ? as_db_submit(as_cmd_db(ctx), &st, 1, advance_done, ctx) : -1;
    free(ps);
    free(args);
    if (rc < 0)
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
}

/* ---- the table ---- */

const as_cmd_def_t sv_commands[] = {
    {"surveys.ListDue", &surveys__callback_list__descriptor, list_due, "cmd_list_due"},
    {"surveys.GetCallback", &surveys__callback__descriptor, by_id, "cmd_get_callback"},
    {"surveys.AnswerCallback", &surveys__callback__descriptor, answer_callback,
     "cmd_answer_callback"},
    {"surveys.RefuseCallback", &surveys__callback__descriptor, callback_note,
     "cmd_refuse_callback"},
    {"surveys.CompleteProactiveCall", &surveys__proactive_call__descriptor, proactive_done,
     "cmd_complete_proactive"},
    {"surveys.MarkUnreachable", &surveys__callback__descriptor, callback_note,
     "cmd_mark_unreachable"},
    {"surveys.AddWeightSet", &surveys__weight_set__descriptor, add_weight_set,
     "cmd_add_weight_set"},
    {"surveys.ListWeightSets", &surveys__weight_set_list__descriptor, as_cmd_sql_default,
     "cmd_list_weight_sets"},
    {"surveys.GetSatisfactionReport", &surveys__satisfaction_report__descriptor,
     satisfaction_report, "cmd_satisfaction_report"},
    {"surveys.OpenComplaint", &surveys__complaint__descriptor, open_complaint,
     "cmd_open_complaint"},
    {"surveys.GetComplaint", &surveys__complaint__descriptor, by_id, "cmd_get_complaint"},
    {"surveys.ListComplaints", &surveys__complaint_list__descriptor, list_complaints,
     "cmd_list_complaints"},
    {"surveys.AcknowledgeComplaint", &surveys__complaint__descriptor, complaint_note,
     "cmd_acknowledge_complaint"},
    {"surveys.ResolveComplaint", &surveys__complaint__descriptor, resolve_complaint,
     "cmd_resolve_complaint"},
    {"surveys.CloseComplaint", &surveys__complaint__descriptor, close_complaint,
     "cmd_close_complaint"},
    {"surveys.ReopenComplaint", &surveys__complaint__descriptor, complaint_note,
     "cmd_reopen_complaint"},
    {"surveys.RaiseSeverity", &surveys__complaint__descriptor, raise_severity,
     "cmd_raise_severity"},
    {"surveys.FileReport", &surveys__complaint__descriptor, file_report, "cmd_file_report"},
    {"surveys.AssignComplaint", &surveys__complaint__descriptor, assign_complaint,
     "cmd_assign_complaint"},
    {"surveys.ListOverdue", &surveys__complaint_list__descriptor, list_overdue, "cmd_list_overdue"},
    {"surveys.GetComplaintReport", &surveys__complaint_report__descriptor, complaint_report,
     "cmd_complaint_report"},
    {"surveys.AdvanceClock", &surveys__clock__descriptor, advance_clock, "cmd_advance_clock"},
};
const size_t sv_ncommands = sizeof sv_commands / sizeof sv_commands[0];
