/* main.c — the intake service: repair tickets from the centres' front desks.
 *
 * Commands are validated here (field by field) and then run as one SQL function each
 * (services/intake/migrations), which applies the effect, writes the timeline and audit rows and
 * the outbox event in one transaction. Intake follows the warranty stream to move tickets on
 * when a decision arrives. */
#include "as/due.h"
#include "as/enums.h"
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "intake.pb-c.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void open_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    Intake__OpenTicket *t = (Intake__OpenTicket *)msg; /* owned by ctx; normalised in place */
    const As__Principal *p = as_cmd_principal(ctx);
    if (!t->center && p && p->role && strcmp(p->role, "center") == 0 && p->site)
        t->center = strdup(p->site); /* a desk opens tickets for its own centre by default */
    as_problems_t errs = {0};
    char warnings[4][160];
    int nwarn = 0;
    if (iv_open_ticket(t, &errs, warnings, &nwarn) > 0 && as_cmd_reject(ctx, &errs))
        return;
    json_t *args = as_pbjson_encode(msg);
    json_t *w = json_array();
    for (int i = 0; i < nwarn; i++)
        json_array_append_new(w, json_string(warnings[i]));
    json_object_set_new(args, "warnings", w);
    as_cmd_sql(ctx, "cmd_open_ticket", args);
}

static void check_id(as_problems_t *e, const char *id)
{
    if (!id || !*id || strlen(id) > 32)
        as_problem(e, "id", "a ticket id is required");
}

static void check_note(as_problems_t *e, const char *field, const char *note)
{
    if (note && strlen(note) > 2000)
        as_problem(e, field, "is longer than 2000 bytes");
}

static void check_lines(as_problems_t *e, const char *field, Intake__PartLine **lines, size_t n,
                        int required)
{
    char name[64];
    if (required && n == 0)
        as_problem(e, field, "needs at least one part line");
    if (n > 50)
        as_problem(e, field, "has more than 50 lines");
    for (size_t i = 0; i < n && i < 50; i++) {
        if (!lines[i]->sku || !*lines[i]->sku || strlen(lines[i]->sku) > 32) {
            snprintf(name, sizeof name, "%s[%zu].sku", field, i);
            as_problem(e, name, "is required (at most 32 characters)");
        }
        if (!lines[i]->has_qty || lines[i]->qty < 1 || lines[i]->qty > 100) {
            snprintf(name, sizeof name, "%s[%zu].qty", field, i);
            as_problem(e, name, "must be between 1 and 100");
        }
    }
}

static void diagnose(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Diagnose *d = (const Intake__Diagnose *)msg;
    as_problems_t e = {0};
    check_id(&e, d->id);
    if (d->fault_code && strlen(d->fault_code) > 32)
        as_problem(&e, "fault_code", "is longer than 32 characters");
    if (d->labour_code && strlen(d->labour_code) > 32)
        as_problem(&e, "labour_code", "is longer than 32 characters");
    check_lines(&e, "parts", d->parts, d->n_parts, 0);
    if (d->has_estimate_cents && (d->estimate_cents < 0 || d->estimate_cents > 10000000000LL))
        as_problem(&e, "estimate_cents", "must be between 0 and 10000000000");
    int32_t day;
    if (d->promised_date && iv_date_parse(d->promised_date, &day) < 0)
        as_problem(&e, "promised_date", "is not a date (YYYY-MM-DD)");
    check_note(&e, "note", d->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void consent(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Consent *c = (const Intake__Consent *)msg;
    as_problems_t e = {0};
    check_id(&e, c->id);
    if (!c->has_accept)
        as_problem(&e, "accept", "is required: true (go ahead) or false (declined)");
    check_note(&e, "note", c->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void revise_estimate(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ReviseEstimate *r = (const Intake__ReviseEstimate *)msg;
    as_problems_t e = {0};
    check_id(&e, r->id);
    if (!r->has_estimate_cents || r->estimate_cents <= 0 || r->estimate_cents > 10000000000LL)
        as_problem(&e, "estimate_cents", "is required, above zero and at most 10000000000");
    check_note(&e, "note", r->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void request_parts(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__RequestParts *r = (const Intake__RequestParts *)msg;
    as_problems_t e = {0};
    check_id(&e, r->id);
    check_lines(&e, "parts", r->parts, r->n_parts, 1);
    check_note(&e, "note", r->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void complete_repair(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CompleteRepair *c = (const Intake__CompleteRepair *)msg;
    as_problems_t e = {0};
    check_id(&e, c->id);
    check_lines(&e, "parts_used", c->parts_used, c->n_parts_used, 0);
    if (c->has_labour_minutes && (c->labour_minutes < 0 || c->labour_minutes > 100000))
        as_problem(&e, "labour_minutes", "must be between 0 and 100000");
    if (c->cause && !as_enum_has(&intake__repair_cause__descriptor, c->cause)) {
        char set[200];
        as_problem(&e, "cause", "must be one of %s",
                   as_enum_list(&intake__repair_cause__descriptor, ", ", ", ", set, sizeof set));
    }
    check_note(&e, "note", c->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void handback(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Handback *h = (const Intake__Handback *)msg;
    as_problems_t e = {0};
    check_id(&e, h->id);
    check_note(&e, "note", h->note);
    if (h->loaner_unit && strlen(h->loaner_unit) > 40)
        as_problem(&e, "loaner_unit", "is longer than 40 characters");
    if (h->payment_method && !as_enum_has(&intake__payment_method__descriptor, h->payment_method)) {
        char set[200];
        as_problem(&e, "payment_method", "must be one of %s",
                   as_enum_list(&intake__payment_method__descriptor, ", ", ", ", set, sizeof set));
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void cancel_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CancelTicket *c = (const Intake__CancelTicket *)msg;
    as_problems_t e = {0};
    check_id(&e, c->id);
    if (!c->reason || !*c->reason)
        as_problem(&e, "reason", "is required");
    check_note(&e, "reason", c->reason);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void erase_customer(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__EraseCustomer *c = (const Intake__EraseCustomer *)msg;
    as_problems_t e = {0};
    if (!c->id || !*c->id || strlen(c->id) > 32)
        as_problem(&e, "id", "a customer id is required");
    const char *r = c->reason;
    while (r && (*r == ' ' || *r == '\t'))
        r++;
    if (!r || !*r)
        as_problem(&e, "reason", "is required");
    else if (strlen(c->reason) > 500)
        as_problem(&e, "reason", "is longer than 500 bytes");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void return_unrepaired(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ReturnUnrepaired *r = (const Intake__ReturnUnrepaired *)msg;
    as_problems_t e = {0};
    check_id(&e, r->id);
    if (!r->reason || !*r->reason)
        as_problem(&e, "reason", "is required");
    check_note(&e, "reason", r->reason);
    if (r->loaner_unit && strlen(r->loaner_unit) > 40)
        as_problem(&e, "loaner_unit", "is longer than 40 characters");
    if (r->payment_method && !as_enum_has(&intake__payment_method__descriptor, r->payment_method)) {
        char set[200];
        as_problem(&e, "payment_method", "must be one of %s",
                   as_enum_list(&intake__payment_method__descriptor, ", ", ", ", set, sizeof set));
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void get_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    check_id(&e, ((const Intake__GetTicket *)msg)->id);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* from and to, when given, must be dates (YYYY-MM-DD); with `ordered`, from must not be after to
 * (checked only when nothing was wrong before). The days go to *from_day and *to_day. */
static void check_dates(as_problems_t *e, const char *from, const char *to, int ordered,
                        int32_t *from_day, int32_t *to_day)
{
    *from_day = *to_day = 0;
    if (from && iv_date_parse(from, from_day) < 0)
        as_problem(e, "from", "is not a date (YYYY-MM-DD)");
    if (to && iv_date_parse(to, to_day) < 0)
        as_problem(e, "to", "is not a date (YYYY-MM-DD)");
    if (ordered && from && to && e->n == 0 && *from_day > *to_day)
        as_problem(e, "from", "is after to");
}

static void check_limit(as_problems_t *e, protobuf_c_boolean has_limit, int32_t limit)
{
    if (has_limit && (limit < 1 || limit > 200))
        as_problem(e, "limit", "must be between 1 and 200");
}

static void list_tickets(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListTickets *l = (const Intake__ListTickets *)msg;
    as_problems_t e = {0};
    int32_t from, to;
    check_dates(&e, l->from, l->to, 0, &from, &to);
    check_limit(&e, l->has_limit, l->limit);
    if (l->imei && strlen(l->imei) > 20)
        as_problem(&e, "imei", "is too long");
    if (l->order && !as_enum_has(&intake__ticket_order__descriptor, l->order))
        as_problem(&e, "order", "must be newest or priority");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* ---- promised deadlines (issue 19.2; SQL in migrations/200_promised_deadlines.sql) ---- */

static const char *const SL_CATEGORIES[] = {"*",
                                            "phone_host",
                                            "phone_battery",
                                            "phone_charger",
                                            "phone_headset",
                                            "phone_data_card",
                                            "phone_terminal_card",
                                            "car",
                                            "general"};

static void check_center(as_problems_t *e, const char *field, const char *c, int required)
{
    if (required && (!c || !*c))
        as_problem(e, field, "is required");
    else if (c && (!*c || strlen(c) > 16))
        as_problem(e, field, "must be a centre code of at most 16 characters");
}

static void list_promises(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListPromises *l = (const Intake__ListPromises *)msg;
    as_problems_t e = {0};
    check_center(&e, "center", l->center, 0);
    if (l->status && strcmp(l->status, "at_risk") != 0 && strcmp(l->status, "overdue") != 0 &&
        strcmp(l->status, "all") != 0)
        as_problem(&e, "status", "must be one of at_risk, overdue, all");
    check_limit(&e, l->has_limit, l->limit);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void promise_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__GetPromiseReport *r = (const Intake__GetPromiseReport *)msg;
    as_problems_t e = {0};
    int32_t from = 0, to = 0;
    check_center(&e, "center", r->center, 0);
    check_dates(&e, r->from, r->to, 1, &from, &to);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

static void list_service_levels(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    check_center(&e, "center", ((const Intake__ListServiceLevels *)msg)->center, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void set_service_level(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__SetServiceLevel *s = (const Intake__SetServiceLevel *)msg;
    as_problems_t e = {0};
    check_center(&e, "center", s->center, 1);
    int ok = 0;
    for (size_t i = 0; s->category && i < sizeof SL_CATEGORIES / sizeof SL_CATEGORIES[0]; i++)
        ok |= strcmp(SL_CATEGORIES[i], s->category) == 0;
    if (!ok)
        as_problem(&e, "category",
                   "is required: * or one of phone_host, phone_battery, phone_charger, "
                   "phone_headset, phone_data_card, phone_terminal_card, car, general");
    if (!s->has_hours || s->hours < 0 || s->hours > 8760)
        as_problem(&e, "hours", "is required, between 0 (remove) and 8760");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* ---- the hotline's call log (issue 19.1; SQL in migrations/201_call_log.sql) ---- */

static int one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return 1;
    return 0;
}

#define N_OF(a) (sizeof(a) / sizeof(a)[0])
static const char *const CALL_DIRECTIONS[] = {"inbound", "outbound"};
static const char *const CALL_CHANNELS[] = {"phone",  "hotline_400", "hotline_12315",
                                            "wechat", "online",      "other"};
static const char *const CALL_CATEGORIES[] = {"consultation", "repair_request", "complaint",
                                              "suggestion",   "praise",         "other"};
static const char *const CALL_OUTCOMES[] = {"answered", "transferred", "callback_needed"};
static const char *const COMPLAINT_CAUSES[] = {"attitude",          "repair_quality", "overdue",
                                               "parts_unavailable", "price",          "other"};

static int rfc3339_like(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS then an optional fraction and a zone: PostgreSQL parses the rest */
    int32_t day;
    char d[11];
    if (!s || strlen(s) < 20 || strlen(s) > 35)
        return 0;
    memcpy(d, s, 10);
    d[10] = 0;
    return iv_date_parse(d, &day) == 0 && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           (s[strlen(s) - 1] == 'Z' || strchr(s + 19, '+') || strchr(s + 19, '-'));
}

/* ---- on-site service orders (issue 19.3; SQL in sql/visits.sql, docs/onsite.md) ---- */

/* "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)" -> seconds since the epoch; -1 when it is not. */
static long long ts_epoch(const char *s)
{
    int32_t day;
    char d[11];
    int hh, mm, ss, zh = 0, zm = 0, sign = 0;
    if (!rfc3339_like(s))
        return -1;
    memcpy(d, s, 10);
    d[10] = 0;
    if (iv_date_parse(d, &day) < 0 || sscanf(s + 11, "%2d:%2d:%2d", &hh, &mm, &ss) != 3 ||
        hh > 23 || mm > 59 || ss > 60)
        return -1;
    const char *z = s + 19;
    while (*z == '.' || (*z >= '0' && *z <= '9'))
        z++;
    if (*z == '+' || *z == '-') {
        sign = *z == '+' ? 1 : -1;
        if (sscanf(z + 1, "%2d:%2d", &zh, &zm) != 2 || zh > 23 || zm > 59)
            return -1;
    } else if (strcmp(z, "Z") != 0) {
        return -1;
    }
    return (long long)day * 86400 + hh * 3600 + mm * 60 + ss - sign * (zh * 3600 + zm * 60);
}

static void check_text(as_problems_t *e, const char *field, const char *v, size_t max, int required)
{
    if (required && (!v || !*v))
        as_problem(e, field, "is required");
    else if (v && strlen(v) > max)
        as_problem(e, field, "is longer than %zu bytes", max);
}

static void check_so_id(as_problems_t *e, const char *id)
{
    if (!id || !*id || strlen(id) > 32)
        as_problem(e, "id", "a service order id is required");
}

static void check_category(as_problems_t *e, const char *field, const char *c, int required)
{
    char set[200];
    if (!c && !required)
        return;
    if (!c || !as_enum_has(&intake__device_category__descriptor, c))
        as_problem(e, field, "%s one of %s", required ? "is required:" : "must be",
                   as_enum_list(&intake__device_category__descriptor, ", ", ", ", set, sizeof set));
}

/* The fields of a new order; `pre` prefixes the field names ("service_order." in a call). */
static void check_new_order(as_problems_t *e, const char *pre, const Intake__CreateServiceOrder *o)
{
    char f[96];
#define F(name) (snprintf(f, sizeof f, "%s%s", pre, name), f)
    if (!o->customer) {
        as_problem(e, F("customer"), "is required: name and phone");
    } else {
        check_text(e, F("customer.name"), o->customer->name, 100, 1);
        if (!o->customer->phone || strlen(o->customer->phone) < 5 ||
            strlen(o->customer->phone) > 20)
            as_problem(e, F("customer.phone"), "is required: 5 to 20 characters");
    }
    check_text(e, F("address"), o->address, 300, 1);
    check_category(e, F("category"), o->category, 1);
    check_text(e, F("brand"), o->brand, 64, 0);
    check_text(e, F("model"), o->model, 64, 0);
    check_text(e, F("serial"), o->serial, 64, 0);
    check_text(e, F("fault"), o->fault, 2000, 1);
    check_text(e, F("note"), o->note, 2000, 0);
    long long ws = -1, we = -1;
    if (!o->window_start || (ws = ts_epoch(o->window_start)) < 0)
        as_problem(e, F("window_start"), "is required: a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    if (!o->window_end || (we = ts_epoch(o->window_end)) < 0)
        as_problem(e, F("window_end"), "is required: a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    else if (ws >= 0 && we <= ws)
        as_problem(e, F("window_end"), "must be after window_start");
    else if (ws >= 0 && we - ws > 7 * 86400)
        as_problem(e, F("window_end"), "is more than 7 days after window_start");
    check_center(e, F("center"), o->center, 0);
    if (o->ticket_id && (!*o->ticket_id || strlen(o->ticket_id) > 32))
        as_problem(e, F("ticket_id"), "must be a ticket id");
#undef F
}

static void create_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    check_new_order(&e, "", (const Intake__CreateServiceOrder *)msg);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void get_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    check_so_id(&e, ((const Intake__GetServiceOrder *)msg)->id);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_service_orders(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListServiceOrders *l = (const Intake__ListServiceOrders *)msg;
    as_problems_t e = {0};
    int32_t day;
    static const char *const STATES[] = {"requested", "scheduled", "dispatched", "on_site",
                                         "done",      "confirmed", "cancelled"};
    int ok = 0;
    for (size_t i = 0; l->state && i < sizeof STATES / sizeof STATES[0]; i++)
        ok |= strcmp(l->state, STATES[i]) == 0;
    if (l->state && !ok)
        as_problem(&e, "state",
                   "must be one of requested, scheduled, dispatched, on_site, done, confirmed, "
                   "cancelled");
    check_center(&e, "center", l->center, 0);
    check_text(&e, "technician", l->technician, 64, 0);
    if (l->date && iv_date_parse(l->date, &day) < 0)
        as_problem(&e, "date", "is not a date (YYYY-MM-DD)");
    if (l->status && strcmp(l->status, "at_risk") != 0 && strcmp(l->status, "overdue") != 0)
        as_problem(&e, "status", "must be one of at_risk, overdue");
    if (l->has_limit && (l->limit < 1 || l->limit > 200))
        as_problem(&e, "limit", "must be between 1 and 200");
    if (l->order && strcmp(l->order, "newest") != 0 && strcmp(l->order, "priority") != 0)
        as_problem(&e, "order", "must be one of newest, priority");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void schedule_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ScheduleServiceOrder *s = (const Intake__ScheduleServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, s->id);
    check_text(&e, "technician", s->technician, 64, 1);
    check_note(&e, "note", s->note);
    long long ws = -1, we = -1;
    if (!s->window_start != !s->window_end)
        as_problem(&e, s->window_start ? "window_end" : "window_start",
                   "is required with the other end of the window");
    if (s->window_start && (ws = ts_epoch(s->window_start)) < 0)
        as_problem(&e, "window_start", "is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    if (s->window_end && (we = ts_epoch(s->window_end)) < 0)
        as_problem(&e, "window_end", "is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    else if (s->window_end && ws >= 0 && we <= ws)
        as_problem(&e, "window_end", "must be after window_start");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void dispatch_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__DispatchServiceOrder *d = (const Intake__DispatchServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, d->id);
    check_note(&e, "note", d->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void check_in_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CheckInServiceOrder *c = (const Intake__CheckInServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, c->id);
    if (c->at && ts_epoch(c->at) < 0)
        as_problem(&e, "at", "is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void check_out_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CheckOutServiceOrder *c = (const Intake__CheckOutServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, c->id);
    if (c->at && ts_epoch(c->at) < 0)
        as_problem(&e, "at", "is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    check_text(&e, "work_done", c->work_done, 2000, 1);
    if (!c->has_distance_km || !(c->distance_km >= 0 && c->distance_km <= 2000))
        as_problem(&e, "distance_km", "is required: 0 to 2000 (kilometres, the round trip)");
    check_lines(&e, "parts_used", c->parts_used, c->n_parts_used, 0);
    if (c->has_odometer_km && (c->odometer_km < 0 || c->odometer_km > 10000000))
        as_problem(&e, "odometer_km", "must be between 0 and 10000000");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void confirm_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ConfirmServiceOrder *c = (const Intake__ConfirmServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, c->id);
    check_text(&e, "confirmed_by", c->confirmed_by, 100, 1);
    check_text(&e, "signature", c->signature, 4000, 0);
    if (c->has_rating && (c->rating < 1 || c->rating > 5))
        as_problem(&e, "rating", "must be between 1 and 5");
    check_note(&e, "note", c->note);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void cancel_service_order(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CancelServiceOrder *c = (const Intake__CancelServiceOrder *)msg;
    as_problems_t e = {0};
    check_so_id(&e, c->id);
    check_text(&e, "reason", c->reason, 2000, 1);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void save_technician(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__SaveTechnician *t = (const Intake__SaveTechnician *)msg;
    as_problems_t e = {0};
    char name[48];
    check_text(&e, "login", t->login, 64, 1);
    check_text(&e, "name", t->name, 100, 1);
    check_center(&e, "center", t->center, 1);
    if (t->n_skills == 0 || t->n_skills > 16)
        as_problem(&e, "skills", "is required: 1 to 16 device categories");
    for (size_t i = 0; i < t->n_skills && i < 16; i++) {
        snprintf(name, sizeof name, "skills[%zu]", i);
        check_category(&e, name, t->skills[i], 1);
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_technicians(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListTechnicians *l = (const Intake__ListTechnicians *)msg;
    as_problems_t e = {0};
    check_center(&e, "center", l->center, 0);
    check_category(&e, "skill", l->skill, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void technician_workload(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__GetTechnicianWorkload *w = (const Intake__GetTechnicianWorkload *)msg;
    as_problems_t e = {0};
    int32_t day;
    if (w->date && iv_date_parse(w->date, &day) < 0)
        as_problem(&e, "date", "is not a date (YYYY-MM-DD)");
    check_center(&e, "center", w->center, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

static void record_call(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    Intake__RecordCall *c = (Intake__RecordCall *)msg; /* owned by ctx; normalised in place */
    const As__Principal *p = as_cmd_principal(ctx);
    as_problems_t e = {0};
    if (!one_of(c->direction, CALL_DIRECTIONS, N_OF(CALL_DIRECTIONS)))
        as_problem(&e, "direction", "is required: inbound or outbound");
    if (c->channel && !one_of(c->channel, CALL_CHANNELS, N_OF(CALL_CHANNELS)))
        as_problem(&e, "channel",
                   "must be one of phone, hotline_400, hotline_12315, wechat, online, other");
    if (!one_of(c->category, CALL_CATEGORIES, N_OF(CALL_CATEGORIES)))
        as_problem(
            &e, "category",
            "is required: consultation, repair_request, complaint, suggestion, praise or other");
    if (c->outcome && !one_of(c->outcome, CALL_OUTCOMES, N_OF(CALL_OUTCOMES)))
        as_problem(&e, "outcome", "must be one of answered, transferred, callback_needed");
    if (!c->summary || !*c->summary)
        as_problem(&e, "summary", "is required");
    check_note(&e, "summary", c->summary);
    if (c->has_duration_s && (c->duration_s < 0 || c->duration_s > 86400))
        as_problem(&e, "duration_s", "must be between 0 and 86400");
    if (c->started_at && !rfc3339_like(c->started_at))
        as_problem(&e, "started_at", "is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    if (c->ticket_id && (!*c->ticket_id || strlen(c->ticket_id) > 32))
        as_problem(&e, "ticket_id", "must be a ticket id");
    if (c->complaint_id && (!*c->complaint_id || strlen(c->complaint_id) > 32))
        as_problem(&e, "complaint_id", "must be a complaint id");
    check_center(&e, "center", c->center, 0);
    if (c->customer) {
        if (c->customer->phone &&
            (strlen(c->customer->phone) < 5 || strlen(c->customer->phone) > 20))
            as_problem(&e, "customer.phone", "must be 5 to 20 characters");
        if (c->customer->name && strlen(c->customer->name) > 100)
            as_problem(&e, "customer.name", "is longer than 100 bytes");
    }
    int is_repair = c->category && strcmp(c->category, "repair_request") == 0;
    int is_complaint = c->category && strcmp(c->category, "complaint") == 0;
    if (c->ticket && !is_repair)
        as_problem(&e, "ticket", "is only for a repair_request call");
    if (c->ticket && c->ticket_id)
        as_problem(&e, "ticket", "opens a new ticket: leave ticket_id out");
    if (c->service_order && !is_repair)
        as_problem(&e, "service_order", "is only for a repair_request call");
    if (c->service_order) {
        if (!c->service_order->center && c->center)
            c->service_order->center = strdup(c->center);
        if (!c->service_order->customer && c->customer && c->customer->name && c->customer->phone) {
            Intake__Customer *cu = calloc(1, sizeof *cu);
            intake__customer__init(cu);
            cu->name = strdup(c->customer->name);
            cu->phone = strdup(c->customer->phone);
            c->service_order->customer = cu;
        }
        check_new_order(&e, "service_order.", c->service_order);
    }
    if (c->complaint && !is_complaint)
        as_problem(&e, "complaint", "is only for a complaint call");
    if (c->complaint) {
        if (!one_of(c->complaint->cause, COMPLAINT_CAUSES, N_OF(COMPLAINT_CAUSES)))
            as_problem(
                &e, "complaint.cause",
                "is required: attitude, repair_quality, overdue, parts_unavailable, price or "
                "other");
        if (!c->complaint->description || !*c->complaint->description)
            as_problem(&e, "complaint.description", "is required");
        check_note(&e, "complaint.description", c->complaint->description);
    }
    char warnings[4][160];
    int nwarn = 0;
    if (c->ticket && e.n == 0) {
        Intake__OpenTicket *t = c->ticket;
        if (!t->center && c->center)
            t->center = strdup(c->center);
        if (!t->center && p && p->role && strcmp(p->role, "center") == 0 && p->site)
            t->center = strdup(p->site);
        as_problems_t te = {0};
        if (iv_open_ticket(t, &te, warnings, &nwarn) > 0)
            for (int i = 0; i < te.n; i++) {
                char name[72];
                snprintf(name, sizeof name, "ticket.%.56s", te.field[i]);
                as_problem(&e, name, "%s", te.problem[i]);
            }
    }
    if (as_cmd_reject(ctx, &e))
        return;
    json_t *args = as_pbjson_encode(msg);
    if (c->ticket) {
        json_t *w = json_array();
        for (int i = 0; i < nwarn; i++)
            json_array_append_new(w, json_string(warnings[i]));
        json_object_set_new(json_object_get(args, "ticket"), "warnings", w);
    }
    as_cmd_sql(ctx, "cmd_record_call", args);
}

static void get_call(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const char *id = ((const Intake__GetCall *)msg)->id;
    as_problems_t e = {0};
    if (!id || !*id || strlen(id) > 32)
        as_problem(&e, "id", "a call id is required");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_calls(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListCalls *l = (const Intake__ListCalls *)msg;
    as_problems_t e = {0};
    int32_t from = 0, to = 0;
    check_dates(&e, l->from, l->to, 0, &from, &to);
    if (l->category && !one_of(l->category, CALL_CATEGORIES, N_OF(CALL_CATEGORIES)))
        as_problem(
            &e, "category",
            "must be one of consultation, repair_request, complaint, suggestion, praise, other");
    if (l->phone && strlen(l->phone) > 20)
        as_problem(&e, "phone", "is too long");
    if (l->q && (strlen(l->q) < 2 || strlen(l->q) > 100))
        as_problem(&e, "q", "must be 2 to 100 bytes");
    check_center(&e, "center", l->center, 0);
    check_limit(&e, l->has_limit, l->limit);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void call_stats(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__GetCallStats *r = (const Intake__GetCallStats *)msg;
    as_problems_t e = {0};
    int32_t from = 0, to = 0;
    check_center(&e, "center", r->center, 0);
    check_dates(&e, r->from, r->to, 1, &from, &to);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

/* ---- quality feedback (issue 19.6; SQL in migrations/202_quality_report.sql) ---- */

static void check_quality(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud,
                          const Intake__GetQualityReport *r)
{
    as_problems_t e = {0};
    int32_t from, to;
    check_dates(&e, r->from, r->to, 1, &from, &to);
    if (r->from && r->to && e.n == 0 && to - from > 731)
        as_problem(&e, "to", "is more than two years after from");
    if (r->manufacturer && (!*r->manufacturer || strlen(r->manufacturer) > 64))
        as_problem(&e, "manufacturer", "must be 1 to 64 characters");
    if (r->brand && (!*r->brand || strlen(r->brand) > 64))
        as_problem(&e, "brand", "must be 1 to 64 characters");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

static void quality_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    check_quality(ctx, msg, ud, (const Intake__GetQualityReport *)msg);
}

static void quality_export(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ExportQualityReport *x = (const Intake__ExportQualityReport *)msg;
    Intake__GetQualityReport r = INTAKE__GET_QUALITY_REPORT__INIT;
    r.from = x->from;
    r.to = x->to;
    r.manufacturer = x->manufacturer;
    r.brand = x->brand;
    check_quality(ctx, msg, ud, &r);
}

/* The status page (no credentials): the ticket number and the last four digits of its phone. */
static void check_status_keys(as_problems_t *e, const char *ticket_no, const char *last4)
{
    if (!ticket_no || !*ticket_no || strlen(ticket_no) > 32)
        as_problem(e, "ticket_no", "a ticket number is required");
    if (!last4 || strlen(last4) != 4 || strspn(last4, "0123456789") != 4)
        as_problem(e, "phone_last4", "must be the last four digits of the phone");
}

static void ticket_status(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__GetTicketStatus *g = (const Intake__GetTicketStatus *)msg;
    as_problems_t e = {0};
    check_status_keys(&e, g->ticket_no, g->phone_last4);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void decide_estimate(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__DecideEstimate *d = (const Intake__DecideEstimate *)msg;
    as_problems_t e = {0};
    check_status_keys(&e, d->ticket_no, d->phone_last4);
    if (!d->decision || !as_enum_has(&intake__estimate_decision__descriptor, d->decision))
        as_problem(&e, "decision", "is required: accept or decline");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* ---- station scorecard and rewards (issue 19.5; SQL in sql/scorecard.sql) ---- */

static void check_period(as_problems_t *e, const char *f, const char *t, int required)
{
    int32_t from = 0, to = 0;
    if (required && !f)
        as_problem(e, "from", "is required (YYYY-MM-DD)");
    if (required && !t)
        as_problem(e, "to", "is required (YYYY-MM-DD)");
    if (f && iv_date_parse(f, &from) < 0)
        as_problem(e, "from", "is not a date (YYYY-MM-DD)");
    if (t && iv_date_parse(t, &to) < 0)
        as_problem(e, "to", "is not a date (YYYY-MM-DD)");
    if (f && t && e->n == 0 && from > to)
        as_problem(e, "from", "is after to");
    if (f && t && e->n == 0 && to - from > 366)
        as_problem(e, "to", "is more than a year after from");
}

static void check_region(as_problems_t *e, const char *r)
{
    if (r && (!*r || strlen(r) > 32))
        as_problem(e, "region", "must be a region code of at most 32 characters");
}

static void scorecard(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__GetScorecard *r = (const Intake__GetScorecard *)msg;
    as_problems_t e = {0};
    check_period(&e, r->from, r->to, 0);
    check_region(&e, r->region);
    check_center(&e, "center", r->center, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

static void scorecard_rewards(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__PostScorecardRewards *r = (const Intake__PostScorecardRewards *)msg;
    as_problems_t e = {0};
    check_period(&e, r->from, r->to, 1);
    check_region(&e, r->region);
    check_center(&e, "center", r->center, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* A month "YYYY-MM" (the backfill's range). */
static int month_ok(const char *m)
{
    if (!m || strlen(m) != 7 || m[4] != '-')
        return 0;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (m[i] < '0' || m[i] > '9'))
            return 0;
    int y = atoi(m), mo = atoi(m + 5);
    return y >= 2000 && y <= 2999 && mo >= 1 && mo <= 12;
}

static void scorecard_backfill(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__BackfillScorecardRewards *r = (const Intake__BackfillScorecardRewards *)msg;
    as_problems_t e = {0};
    if (!month_ok(r->from_month))
        as_problem(&e, "from_month", "is required: a month YYYY-MM");
    if (!month_ok(r->to_month))
        as_problem(&e, "to_month", "is required: a month YYYY-MM");
    if (e.n == 0 && strcmp(r->from_month, r->to_month) > 0)
        as_problem(&e, "from_month", "is after to_month");
    check_region(&e, r->region);
    check_center(&e, "center", r->center, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void weight(as_problems_t *e, const char *field, protobuf_c_boolean has, int32_t v)
{
    if (!has || v < 0 || v > 1000)
        as_problem(e, field, "is required, in thousandths between 0 and 1000");
}

static void add_scorecard_weights(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__AddScorecardWeights *w = (const Intake__AddScorecardWeights *)msg;
    as_problems_t e = {0};
    int32_t day;
    if (!w->effective_from)
        as_problem(&e, "effective_from", "is required (YYYY-MM-DD)");
    else if (iv_date_parse(w->effective_from, &day) < 0)
        as_problem(&e, "effective_from", "is not a date (YYYY-MM-DD)");
    weight(&e, "turnaround", w->has_turnaround, w->turnaround);
    weight(&e, "first_time_fix", w->has_first_time_fix, w->first_time_fix);
    weight(&e, "repeat_repairs", w->has_repeat_repairs, w->repeat_repairs);
    weight(&e, "promise_kept", w->has_promise_kept, w->promise_kept);
    weight(&e, "satisfaction", w->has_satisfaction, w->satisfaction);
    weight(&e, "nps", w->has_nps, w->nps);
    weight(&e, "complaints", w->has_complaints, w->complaints);
    weight(&e, "cost_per_repair", w->has_cost_per_repair, w->cost_per_repair);
    weight(&e, "parts_fill", w->has_parts_fill, w->parts_fill);
    if (!w->has_reward_base_cents || w->reward_base_cents < 0 || w->reward_base_cents > 100000000)
        as_problem(&e, "reward_base_cents", "is required, between 0 and 100000000");
    if (w->n_reward_bands < 1 || w->n_reward_bands > 10)
        as_problem(&e, "reward_bands", "needs 1 to 10 bands {min_score, pct}");
    for (size_t i = 0; i < w->n_reward_bands && i < 10; i++) {
        char name[48];
        const Intake__RewardBand *b = w->reward_bands[i];
        if (!b->has_min_score || b->min_score < 0 || b->min_score > 100) {
            snprintf(name, sizeof name, "reward_bands[%zu].min_score", i);
            as_problem(&e, name, "is required, between 0 and 100");
        } else if (i > 0 && w->reward_bands[i - 1]->min_score >= b->min_score) {
            snprintf(name, sizeof name, "reward_bands[%zu].min_score", i);
            as_problem(&e, name, "must be above the previous band's");
        }
        if (!b->has_pct || b->pct < 0 || b->pct > 1000) {
            snprintf(name, sizeof name, "reward_bands[%zu].pct", i);
            as_problem(&e, name, "is required, between 0 and 1000");
        }
    }
    if (w->note && strlen(w->note) > 500)
        as_problem(&e, "note", "is longer than 500 bytes");
    if (e.n == 0) {
        long sum = (long)w->turnaround + w->first_time_fix + w->repeat_repairs + w->promise_kept +
                   w->satisfaction + w->nps + w->complaints + w->cost_per_repair + w->parts_fill;
        if (sum != 1000)
            as_problem(&e, "weights",
                       "the nine weights are thousandths and must sum to 1000 (got %ld)", sum);
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static const as_cmd_def_t commands[] = {
    {"intake.OpenTicket", &intake__ticket__descriptor, open_ticket, NULL},
    {"intake.GetTicket", &intake__ticket__descriptor, get_ticket, "cmd_get_ticket"},
    {"intake.ListTickets", &intake__ticket_list__descriptor, list_tickets, "cmd_list_tickets"},
    {"intake.Diagnose", &intake__ticket__descriptor, diagnose, "cmd_diagnose"},
    {"intake.Consent", &intake__ticket__descriptor, consent, "cmd_consent"},
    {"intake.ReviseEstimate", &intake__ticket__descriptor, revise_estimate, "cmd_revise_estimate"},
    {"intake.RequestParts", &intake__ticket__descriptor, request_parts, "cmd_request_parts"},
    {"intake.CompleteRepair", &intake__ticket__descriptor, complete_repair, "cmd_complete_repair"},
    {"intake.Handback", &intake__ticket__descriptor, handback, "cmd_handback"},
    {"intake.CancelTicket", &intake__ticket__descriptor, cancel_ticket, "cmd_cancel_ticket"},
    {"intake.ReturnUnrepaired", &intake__ticket__descriptor, return_unrepaired,
     "cmd_return_unrepaired"},
    {"intake.ListPromises", &intake__ticket_list__descriptor, list_promises, "cmd_list_promises"},
    {"intake.GetPromiseReport", &intake__promise_report__descriptor, promise_report,
     "cmd_promise_report"},
    {"intake.ListServiceLevels", &intake__service_level_list__descriptor, list_service_levels,
     "cmd_list_service_levels"},
    {"intake.SetServiceLevel", &intake__service_level__descriptor, set_service_level,
     "cmd_set_service_level"},
    {"intake.RecordCall", &intake__call__descriptor, record_call, NULL},
    {"intake.GetCall", &intake__call__descriptor, get_call, "cmd_get_call"},
    {"intake.ListCalls", &intake__call_list__descriptor, list_calls, "cmd_list_calls"},
    {"intake.GetCallStats", &intake__call_stats__descriptor, call_stats, "cmd_call_stats"},
    /* on-site service orders and technicians (sql/visits.sql) */
    {"intake.CreateServiceOrder", &intake__service_order__descriptor, create_service_order,
     "cmd_create_service_order"},
    {"intake.GetServiceOrder", &intake__service_order__descriptor, get_service_order,
     "cmd_get_service_order"},
    {"intake.ListServiceOrders", &intake__service_order_list__descriptor, list_service_orders,
     "cmd_list_service_orders"},
    {"intake.ScheduleServiceOrder", &intake__service_order__descriptor, schedule_service_order,
     "cmd_schedule_service_order"},
    {"intake.DispatchServiceOrder", &intake__service_order__descriptor, dispatch_service_order,
     "cmd_dispatch_service_order"},
    {"intake.CheckInServiceOrder", &intake__service_order__descriptor, check_in_service_order,
     "cmd_check_in_service_order"},
    {"intake.CheckOutServiceOrder", &intake__service_order__descriptor, check_out_service_order,
     "cmd_check_out_service_order"},
    {"intake.ConfirmServiceOrder", &intake__service_order__descriptor, confirm_service_order,
     "cmd_confirm_service_order"},
    {"intake.CancelServiceOrder", &intake__service_order__descriptor, cancel_service_order,
     "cmd_cancel_service_order"},
    {"intake.SaveTechnician", &intake__technician__descriptor, save_technician,
     "cmd_save_technician"},
    {"intake.ListTechnicians", &intake__technician_list__descriptor, list_technicians,
     "cmd_list_technicians"},
    {"intake.GetTechnicianWorkload", &intake__technician_workload__descriptor, technician_workload,
     "cmd_technician_workload"},
    {"intake.GetQualityReport", &intake__quality_report__descriptor, quality_report,
     "cmd_quality_report"},
    {"intake.ExportQualityReport", &intake__quality_csv__descriptor, quality_export,
     "cmd_quality_csv"},
    {"intake.GetScorecard", &intake__scorecard__descriptor, scorecard, "cmd_scorecard"},
    {"intake.ListScorecardWeights", &intake__scorecard_weights_list__descriptor, as_cmd_sql_default,
     "cmd_list_scorecard_weights"},
    {"intake.AddScorecardWeights", &intake__scorecard_weights__descriptor, add_scorecard_weights,
     "cmd_add_scorecard_weights"},
    {"intake.PostScorecardRewards", &intake__scorecard_rewards__descriptor, scorecard_rewards,
     "cmd_scorecard_rewards"},
    {"intake.BackfillScorecardRewards", &intake__scorecard_backfill__descriptor, scorecard_backfill,
     "cmd_scorecard_backfill"},
    /* customers and the device registry: validated in SQL (migration 193) */
    {"intake.CreateCustomer", &intake__customer_record__descriptor, as_cmd_sql_default,
     "cmd_create_customer"},
    {"intake.UpdateCustomer", &intake__customer_record__descriptor, as_cmd_sql_default,
     "cmd_update_customer"},
    {"intake.GetCustomer", &intake__customer_record__descriptor, as_cmd_sql_default,
     "cmd_get_customer"},
    {"intake.ListCustomers", &intake__customer_list__descriptor, as_cmd_sql_default,
     "cmd_list_customers"},
    {"intake.ListCustomerDevices", &intake__device_list__descriptor, as_cmd_sql_default,
     "cmd_list_customer_devices"},
    {"intake.GetDevice", &intake__device_record__descriptor, as_cmd_sql_default, "cmd_get_device"},
    {"intake.ListDevices", &intake__device_list__descriptor, as_cmd_sql_default,
     "cmd_list_devices"},
    {"intake.EraseCustomer", &intake__customer_record__descriptor, erase_customer,
     "cmd_erase_customer"},
    /* the customer's status page (sql/status_page.sql) */
    {"intake.GetTicketStatus", &intake__ticket_status__descriptor, ticket_status,
     "cmd_ticket_status"},
    {"intake.DecideEstimate", &intake__ticket_status__descriptor, decide_estimate,
     "cmd_decide_estimate"},
};

/* Event type -> SQL handler taking the payload as jsonb. Other types are passed over.
 * warranty.WarrantyDecided is collected per batch instead (on_event below). */
typedef struct event_route {
    const char *type;
    const char *sql;
} event_route_t;

static const event_route_t EVENT_ROUTES[] = {
    {"parts.PartsReserved", "SELECT on_parts_reserved($1::jsonb)"},
    {"parts.PartsBackordered", "SELECT on_parts_backordered($1::jsonb)"},
    {"parts.PartsIssued", "SELECT on_parts_issued($1::jsonb)"},
    {"parts.PartsReleased", "SELECT on_parts_released($1::jsonb)"},
    {"parts.SkuChanged", "SELECT on_sku_changed($1::jsonb)"},
    {"parts.LoanerLent", "SELECT on_loaner_lent($1::jsonb)"},
    {"parts.LoanerReturned", "SELECT on_loaner_returned($1::jsonb)"},
    {"settlement.Charged", "SELECT on_charged($1::jsonb)"},
    {"surveys.CallbackScheduled", "SELECT on_callback_scheduled($1::jsonb)"},
    {"surveys.ComplaintOpened", "SELECT on_complaint_opened($1::jsonb)"},
    {"surveys.CallComplaintOpened", "SELECT on_call_complaint_opened($1::jsonb)"},
    {"surveys.SurveyAnswered", "SELECT on_survey_answered($1::jsonb)"},
    {"people.RegionCreated", "SELECT on_region_created($1::jsonb)"},
    {"people.CenterChanged", "SELECT on_center_changed($1::jsonb)"},
    {"people.BrandChanged", "SELECT on_brand_changed($1::jsonb)"},
    {"people.UserChanged", "SELECT on_user_changed($1::jsonb)"}, /* technicians' logins */
};

static void on_event(as_event_t *ev, void *ud)
{
    (void)ud;
    /* Decisions arrive one per ticket: a batch of them is one statement (decision 36) that
     * applies each with on_warranty_decided() in order. */
    if (strcmp(ev->type, "warranty.WarrantyDecided") == 0) {
        as_event_collect(ev, "SELECT on_warranty_decisions($1, $2::jsonb)", ev->json);
        return;
    }
    for (size_t i = 0; i < sizeof EVENT_ROUTES / sizeof EVENT_ROUTES[0]; i++) {
        if (strcmp(ev->type, EVENT_ROUTES[i].type) == 0) {
            const char *p[1] = {ev->json};
            as_db_stmt_t st = {EVENT_ROUTES[i].sql, 1, p};
            as_event_commit(ev, &st, 1);
            return;
        }
    }
    as_event_commit(ev, NULL, 0); /* not for us: just move past it */
}

static const as_sub_def_t subscriptions[] = {
    {"warranty", on_event}, {"parts", on_event},  {"settlement", on_event},
    {"surveys", on_event},  {"people", on_event}, /* the network, and staff accounts */
};

/* intake's settings: the test clock and the promised deadlines (issue 19.2). */
static struct {
    long test_mode;      /* 1 enables the test clock offset; 0 (default) locks it */
    long clock_offset_s; /* test mode only: the service clock runs this far ahead */
    long promise_default_h, promise_at_risk_pct, promise_region_after_h;
    long order_response_h; /* on-site service orders: hours to a technician on site */
    long promise_poll_s;   /* the timer re-reads the promises at least this often */
} in_cfg;

static as_config_item_t intake_items[] = {
    {"test_mode", AS_CFG_INT, "0", 0, 1,
     "1 = tests may run the service clock ahead (clock_offset_s); never in production",
     &in_cfg.test_mode},
    {"clock_offset_s", AS_CFG_INT, "0", 0, 20L * 365 * 86400,
     "test mode only: start with the service clock this many seconds ahead",
     &in_cfg.clock_offset_s},
    {"promise_default_h", AS_CFG_INT, "72", 1, 8760,
     "hours promised to the customer when no service level matches the centre and category",
     &in_cfg.promise_default_h},
    {"promise_at_risk_pct", AS_CFG_INT, "25", 1, 100,
     "a running promise is at risk in this last share (%) of its time",
     &in_cfg.promise_at_risk_pct},
    {"promise_region_after_h", AS_CFG_INT, "24", 1, 8760,
     "hours after a missed promise went to the centre manager that it goes to the region",
     &in_cfg.promise_region_after_h},
    {"order_response_h", AS_CFG_INT, "24", 1, 8760,
     "hours within which an on-site service order promises a technician on site",
     &in_cfg.order_response_h},
    {"promise_poll_s", AS_CFG_INT, "30", 1, 3600,
     "the promise timer re-reads the database at least this often", &in_cfg.promise_poll_s},
};

/* Promises live in the database (tickets.promise_next_check_at); the due-timer is armed for the
 * earliest one (at most promise_poll_s ahead) and, when it fires, runs escalate_promises_due()
 * — which escalates, writes the timeline and publishes intake.PromiseEscalated in one
 * transaction — and re-arms. The same timer as the complaint deadlines in surveys. */
static as_due_t promises;

static int intake_start(as_service_t *svc)
{
    json_t *o =
        json_pack("{s:I, s:I, s:I, s:I}", "promise_default_h", (json_int_t)in_cfg.promise_default_h,
                  "promise_at_risk_pct", (json_int_t)in_cfg.promise_at_risk_pct,
                  "promise_region_after_h", (json_int_t)in_cfg.promise_region_after_h,
                  "order_response_h", (json_int_t)in_cfg.order_response_h);
    as_due_def_t def = {.what = "promise",
                        .escalated_msg = "promises escalated",
                        .escalate_sql = "SELECT escalate_promises_due()",
                        .next_sql = "SELECT promise_next_check_ms()",
                        .poll_s = &in_cfg.promise_poll_s,
                        .test_mode = in_cfg.test_mode,
                        .clock_offset_s = in_cfg.clock_offset_s,
                        .settings = o};
    int rc = o ? as_due_start(&promises, svc, &def) : -1;
    json_decref(o);
    return rc;
}

static void intake_stop(as_service_t *svc)
{
    (void)svc;
    as_due_stop(&promises);
}

static const as_service_def_t intake_service = {
    .name = "intake",
    AS_DEF_CMDS(commands),
    AS_DEF_SUBS(subscriptions),
    .publishes = 1,
    /* Every state the table's CHECK constraint allows has its series, at 0 while no ticket is
     * in it, so that a dashboard or an alert sees the state before its first ticket. */
    .metrics_sql =
        "SELECT 'aftersales_tickets', format('state=\"%s\"', k.state), count(t.state), "
        "'tickets by state' FROM ("
        "SELECT (regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g'))[1] AS state "
        "FROM pg_constraint c WHERE c.conrelid = 'tickets'::regclass "
        "AND c.conname = 'tickets_state_check' "
        "UNION SELECT DISTINCT state FROM tickets) k "
        "LEFT JOIN tickets t ON t.state = k.state GROUP BY k.state",
    AS_DEF_EXTRA(intake_items),
    .start = intake_start,
    .stop = intake_stop,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &intake_service);
}
