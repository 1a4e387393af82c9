/* main.c — the intake service: repair tickets from the centres' front desks.
 *
 * Commands are validated here (field by field) and then run as one SQL function each
 * (services/intake/migrations), which applies the effect, writes the timeline and audit rows and
 * the outbox event in one transaction. Intake follows the warranty stream to move tickets on
 * when a decision arrives. */
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "intake.pb-c.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

static void open_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    Intake__OpenTicket *t = (Intake__OpenTicket *)msg; /* owned by ctx; normalised in place */
    const As__Principal *p = as_cmd_principal(ctx);
    if (!t->center && p && p->role && strcmp(p->role, "center") == 0 && p->site)
        t->center = strdup(p->site); /* a desk opens tickets for its own centre by default */
    iv_errors_t errs = {0};
    char warnings[4][160];
    int nwarn = 0;
    if (iv_open_ticket(t, &errs, warnings, &nwarn) > 0) {
        const char *fields[IV_MAX_ERRORS], *problems[IV_MAX_ERRORS];
        for (int i = 0; i < errs.n; i++) {
            fields[i] = errs.field[i];
            problems[i] = errs.problem[i];
        }
        char msgbuf[300];
        snprintf(msgbuf, sizeof msgbuf, "%s: %s%s", errs.field[0], errs.problem[0],
                 errs.n > 1 ? " (and more, see errors)" : "");
        as_cmd_reply_fields(ctx, msgbuf, errs.n, fields, problems);
        return;
    }
    json_t *args = as_pbjson_encode(msg);
    json_t *w = json_array();
    for (int i = 0; i < nwarn; i++)
        json_array_append_new(w, json_string(warnings[i]));
    json_object_set_new(args, "warnings", w);
    as_cmd_sql(ctx, "cmd_open_ticket", args);
}

/* Reply 400 with every collected problem, or return 0 when there are none. */
static int reject(as_cmd_ctx_t *ctx, const iv_errors_t *errs)
{
    if (errs->n == 0)
        return 0;
    const char *fields[IV_MAX_ERRORS], *problems[IV_MAX_ERRORS];
    for (int i = 0; i < errs->n; i++) {
        fields[i] = errs->field[i];
        problems[i] = errs->problem[i];
    }
    char msgbuf[300];
    snprintf(msgbuf, sizeof msgbuf, "%s: %s%s", errs->field[0], errs->problem[0],
             errs->n > 1 ? " (and more, see fields)" : "");
    as_cmd_reply_fields(ctx, msgbuf, errs->n, fields, problems);
    return 1;
}

static void check_id(iv_errors_t *e, const char *id)
{
    if (!id || !*id || strlen(id) > 32)
        iv_add(e, "id", "a ticket id is required");
}

static void check_note(iv_errors_t *e, const char *field, const char *note)
{
    if (note && strlen(note) > 2000)
        iv_add(e, field, "is longer than 2000 bytes");
}

static void check_lines(iv_errors_t *e, const char *field, Intake__PartLine **lines, size_t n,
                        int required)
{
    char name[64];
    if (required && n == 0)
        iv_add(e, field, "needs at least one part line");
    if (n > 50)
        iv_add(e, field, "has more than 50 lines");
    for (size_t i = 0; i < n && i < 50; i++) {
        if (!lines[i]->sku || !*lines[i]->sku || strlen(lines[i]->sku) > 32) {
            snprintf(name, sizeof name, "%s[%zu].sku", field, i);
            iv_add(e, name, "is required (at most 32 characters)");
        }
        if (!lines[i]->has_qty || lines[i]->qty < 1 || lines[i]->qty > 100) {
            snprintf(name, sizeof name, "%s[%zu].qty", field, i);
            iv_add(e, name, "must be between 1 and 100");
        }
    }
}

static void diagnose(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Diagnose *d = (const Intake__Diagnose *)msg;
    iv_errors_t e = {0};
    check_id(&e, d->id);
    if (d->fault_code && strlen(d->fault_code) > 32)
        iv_add(&e, "fault_code", "is longer than 32 characters");
    if (d->labour_code && strlen(d->labour_code) > 32)
        iv_add(&e, "labour_code", "is longer than 32 characters");
    check_lines(&e, "parts", d->parts, d->n_parts, 0);
    if (d->has_estimate_cents && (d->estimate_cents < 0 || d->estimate_cents > 10000000000LL))
        iv_add(&e, "estimate_cents", "must be between 0 and 10000000000");
    int32_t day;
    if (d->promised_date && iv_date_parse(d->promised_date, &day) < 0)
        iv_add(&e, "promised_date", "is not a date (YYYY-MM-DD)");
    check_note(&e, "note", d->note);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void consent(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Consent *c = (const Intake__Consent *)msg;
    iv_errors_t e = {0};
    check_id(&e, c->id);
    if (!c->has_accept)
        iv_add(&e, "accept", "is required: true (go ahead) or false (declined)");
    check_note(&e, "note", c->note);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void revise_estimate(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ReviseEstimate *r = (const Intake__ReviseEstimate *)msg;
    iv_errors_t e = {0};
    check_id(&e, r->id);
    if (!r->has_estimate_cents || r->estimate_cents <= 0 || r->estimate_cents > 10000000000LL)
        iv_add(&e, "estimate_cents", "is required, above zero and at most 10000000000");
    check_note(&e, "note", r->note);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void request_parts(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__RequestParts *r = (const Intake__RequestParts *)msg;
    iv_errors_t e = {0};
    check_id(&e, r->id);
    check_lines(&e, "parts", r->parts, r->n_parts, 1);
    check_note(&e, "note", r->note);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static const char *const CAUSES[] = {"service_station",       "customer_visit", "design_quality",
                                     "manufacturing_quality", "parts_problem",  "other"};

static void complete_repair(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CompleteRepair *c = (const Intake__CompleteRepair *)msg;
    iv_errors_t e = {0};
    check_id(&e, c->id);
    check_lines(&e, "parts_used", c->parts_used, c->n_parts_used, 0);
    if (c->has_labour_minutes && (c->labour_minutes < 0 || c->labour_minutes > 100000))
        iv_add(&e, "labour_minutes", "must be between 0 and 100000");
    if (c->cause) {
        int ok = 0;
        for (size_t i = 0; i < sizeof CAUSES / sizeof CAUSES[0]; i++)
            ok |= strcmp(CAUSES[i], c->cause) == 0;
        if (!ok)
            iv_add(&e, "cause",
                   "must be one of service_station, customer_visit, design_quality, "
                   "manufacturing_quality, parts_problem, other");
    }
    check_note(&e, "note", c->note);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static const char *const PAYMENT_METHODS[] = {"cash", "card", "wechat_pay", "alipay",
                                              "bank_transfer"};

static void handback(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__Handback *h = (const Intake__Handback *)msg;
    iv_errors_t e = {0};
    check_id(&e, h->id);
    check_note(&e, "note", h->note);
    if (h->loaner_unit && strlen(h->loaner_unit) > 40)
        iv_add(&e, "loaner_unit", "is longer than 40 characters");
    if (h->payment_method) {
        int ok = 0;
        for (size_t i = 0; i < sizeof PAYMENT_METHODS / sizeof PAYMENT_METHODS[0]; i++)
            ok |= strcmp(PAYMENT_METHODS[i], h->payment_method) == 0;
        if (!ok)
            iv_add(&e, "payment_method",
                   "must be one of cash, card, wechat_pay, alipay, bank_transfer");
    }
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void cancel_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__CancelTicket *c = (const Intake__CancelTicket *)msg;
    iv_errors_t e = {0};
    check_id(&e, c->id);
    if (!c->reason || !*c->reason)
        iv_add(&e, "reason", "is required");
    check_note(&e, "reason", c->reason);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void return_unrepaired(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ReturnUnrepaired *r = (const Intake__ReturnUnrepaired *)msg;
    iv_errors_t e = {0};
    check_id(&e, r->id);
    if (!r->reason || !*r->reason)
        iv_add(&e, "reason", "is required");
    check_note(&e, "reason", r->reason);
    if (r->loaner_unit && strlen(r->loaner_unit) > 40)
        iv_add(&e, "loaner_unit", "is longer than 40 characters");
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void get_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    iv_errors_t e = {0};
    check_id(&e, ((const Intake__GetTicket *)msg)->id);
    if (!reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_tickets(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Intake__ListTickets *l = (const Intake__ListTickets *)msg;
    iv_errors_t e = {0};
    int32_t day;
    if (l->from && iv_date_parse(l->from, &day) < 0)
        iv_add(&e, "from", "is not a date (YYYY-MM-DD)");
    if (l->to && iv_date_parse(l->to, &day) < 0)
        iv_add(&e, "to", "is not a date (YYYY-MM-DD)");
    if (l->has_limit && (l->limit < 1 || l->limit > 200))
        iv_add(&e, "limit", "must be between 1 and 200");
    if (l->imei && strlen(l->imei) > 20)
        iv_add(&e, "imei", "is too long");
    if (!reject(ctx, &e))
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
};

/* Event type -> SQL handler taking the payload as jsonb. Other types are passed over. */
typedef struct event_route {
    const char *type;
    const char *sql;
} event_route_t;

static const event_route_t EVENT_ROUTES[] = {
    {"warranty.WarrantyDecided", "SELECT on_warranty_decided($1::jsonb)"},
    {"parts.PartsReserved", "SELECT on_parts_reserved($1::jsonb)"},
    {"parts.PartsBackordered", "SELECT on_parts_backordered($1::jsonb)"},
    {"parts.PartsIssued", "SELECT on_parts_issued($1::jsonb)"},
    {"parts.PartsReleased", "SELECT on_parts_released($1::jsonb)"},
    {"parts.LoanerLent", "SELECT on_loaner_lent($1::jsonb)"},
    {"parts.LoanerReturned", "SELECT on_loaner_returned($1::jsonb)"},
    {"settlement.Charged", "SELECT on_charged($1::jsonb)"},
    {"surveys.CallbackScheduled", "SELECT on_callback_scheduled($1::jsonb)"},
    {"surveys.ComplaintOpened", "SELECT on_complaint_opened($1::jsonb)"},
    {"people.RegionCreated", "SELECT on_region_created($1::jsonb)"},
    {"people.CenterChanged", "SELECT on_center_changed($1::jsonb)"},
    {"people.BrandChanged", "SELECT on_brand_changed($1::jsonb)"},
};

static void on_event(as_event_t *ev, void *ud)
{
    (void)ud;
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
    {"surveys", on_event},  {"people", on_event}, /* the network: regions, centres, brands */
};

static const as_service_def_t intake_service = {
    .name = "intake",
    .cmds = commands,
    .ncmds = sizeof commands / sizeof commands[0],
    .subs = subscriptions,
    .nsubs = sizeof subscriptions / sizeof subscriptions[0],
    .publishes = 1,
    .metrics_sql = "SELECT 'aftersales_tickets', format('state=\"%s\"', state), count(*), "
                   "'tickets by state' FROM tickets GROUP BY state",
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &intake_service);
}
