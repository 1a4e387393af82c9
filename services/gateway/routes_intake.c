/* routes_intake.c — the HTTP routes of the intake service (tickets). */
#include "gateway.h"
#include "intake.pb-c.h"
#include "parts.pb-c.h"

#include <stdlib.h>

#define DESK      (R_ADMIN | R_REGION | R_CENTER)
#define READERS   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER | R_FINANCE)
#define CUSTOMERS (R_ADMIN | R_CENTER)
#define DEVICES   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)
#define QUALITY   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)
#define SCORECARD (R_ADMIN | R_REGION | R_CENTER | R_FINANCE)

/* ---- the check-out of a service order: the parts used come from the technician's van ----
 *
 * A check-out that names parts used is taken in three steps. Intake first checks it without
 * recording anything (validate_only: fields, state, the check-in time); then parts issues the
 * lines from the order's technician's van (parts.IssueOrderParts, all or none, once per order);
 * only then does intake record the work done. A refusal at either of the first two steps answers
 * the request and nothing has changed: a van without the part is 409 with the order still on
 * site. A check-out refused at the last step after all (only a concurrent check-out of the same
 * order can do that) leaves the issue standing; the same lines again meet the same issue
 * (docs/onsite.md "Van stock"). A caller's own validate_only goes to intake alone. */

typedef struct checkout {
    as_http_req_t *r;
    const gw_route_t *rt;
    const gw_principal_t *p;
    ProtobufCMessage *m; /* the intake command, owned */
    int refused_status;  /* the check's refusal, kept while a replay is looked for */
    uint8_t *refused;    /* ... its packed reply (owned) */
    size_t refused_len;
} checkout_t;

static void checkout_reply(int status, const As__Reply *reply, void *ud)
{
    gw_respond_reply(ud, status, reply);
}

static void checkout_free(checkout_t *c)
{
    protobuf_c_message_free_unpacked(c->m, NULL);
    free(c->refused);
    free(c);
}

static int reply_ok(int status, const As__Reply *reply)
{
    int st = reply && reply->has_status ? reply->status : status;
    return st == 200 || st == 201;
}

static void checkout_parts_done(int status, const As__Reply *reply, void *ud)
{
    checkout_t *c = ud;
    if (reply_ok(status, reply))
        gw_call(c->r, c->rt, c->m, c->p, checkout_reply, c->r);
    else
        gw_respond_reply(c->r, status, reply);
    checkout_free(c);
}

/* A keyed check-out the check refused may be the replay of one taken already: when parts holds
 * the issue of these lines, the keyed intake call answers the stored check-out; otherwise the
 * check's refusal is the answer. */
static void checkout_replay_checked(int status, const As__Reply *reply, void *ud)
{
    checkout_t *c = ud;
    if (reply_ok(status, reply)) {
        gw_call(c->r, c->rt, c->m, c->p, checkout_reply, c->r);
    } else {
        As__Reply *saved = c->refused ? as__reply__unpack(NULL, c->refused_len, c->refused) : NULL;
        gw_respond_reply(c->r, c->refused_status, saved);
        if (saved)
            as__reply__free_unpacked(saved, NULL);
    }
    checkout_free(c);
}

/* Ask parts to issue the lines from the van (or, existing_only, whether it did already). */
static void checkout_parts(checkout_t *c, int existing_only, as_client_cb cb)
{
    Intake__CheckOutServiceOrder *co = (Intake__CheckOutServiceOrder *)c->m;
    size_t n = co->n_parts_used;
    Parts__Line *lines = calloc(n, sizeof *lines);
    Parts__Line **lp = calloc(n, sizeof *lp);
    if (!lines || !lp) {
        free(lines);
        free(lp);
        as_http_respond_error(c->r, 503, "overloaded", "out of memory");
        checkout_free(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        parts__line__init(&lines[i]);
        lines[i].sku = co->parts_used[i]->sku;
        lines[i].has_qty = co->parts_used[i]->has_qty;
        lines[i].qty = co->parts_used[i]->qty;
        lp[i] = &lines[i];
    }
    Parts__IssueOrderParts q = PARTS__ISSUE_ORDER_PARTS__INIT;
    q.order_id = co->id;
    q.n_parts_used = n;
    q.parts_used = lp;
    q.has_existing_only = existing_only;
    q.existing_only = existing_only;
    char rid[200];
    const char *key = as_http_req_header(c->r, "Idempotency-Key");
    if (key && !existing_only)
        gw_request_id(c->p->subject, "parts.IssueOrderParts", key, rid, sizeof rid);
    else
        as_new_id(rid);
    if (gw_call_type(c->r, "parts", "parts.IssueOrderParts", &q.base, rid, c->p, cb, c) < 0)
        checkout_free(c); /* answered 503 */
    free(lines);
    free(lp);
}

/* Intake would take the check-out: ask parts to issue the lines from the van. */
static void checkout_validated(int status, const As__Reply *reply, void *ud)
{
    checkout_t *c = ud;
    Intake__CheckOutServiceOrder *co = (Intake__CheckOutServiceOrder *)c->m;
    co->has_validate_only = 0;
    co->validate_only = 0;
    if (reply_ok(status, reply)) {
        checkout_parts(c, 0, checkout_parts_done);
        return;
    }
    if (!as_http_req_header(c->r, "Idempotency-Key") || !reply) {
        gw_respond_reply(c->r, status, reply);
        checkout_free(c);
        return;
    }
    c->refused_status = status;
    c->refused_len = as__reply__get_packed_size(reply);
    c->refused = malloc(c->refused_len ? c->refused_len : 1);
    if (c->refused)
        as__reply__pack(reply, c->refused);
    checkout_parts(c, 1, checkout_replay_checked);
}

static void check_out(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                      const gw_principal_t *p)
{
    ProtobufCMessage *m = gw_build_command(r, rt, params);
    if (!m)
        return;
    Intake__CheckOutServiceOrder *co = (Intake__CheckOutServiceOrder *)m;
    if (co->n_parts_used == 0 || !co->id || (co->has_validate_only && co->validate_only)) {
        gw_call(r, rt, m, p, checkout_reply, r);
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    checkout_t *c = calloc(1, sizeof *c);
    if (!c) {
        protobuf_c_message_free_unpacked(m, NULL);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    c->r = r;
    c->rt = rt;
    c->p = p;
    c->m = m;
    co->has_validate_only = 1;
    co->validate_only = 1;
    char rid[33];
    as_new_id(rid); /* a check, never stored nor replayed */
    if (gw_call_type(r, rt->service, rt->cmd, m, rid, p, checkout_validated, c) < 0)
        checkout_free(c); /* answered 503 */
}

const gw_route_t gw_routes_intake[] = {
    {"POST", "/v1/tickets", DESK, "intake", "intake.OpenTicket", 1, NULL, NULL, NULL,
     "open a repair ticket", NULL},
    {"GET", "/v1/tickets", READERS, "intake", "intake.ListTickets", 0, NULL, NULL, NULL,
     "list tickets (filters, cursor pagination; order=priority: key and VIP customers first)",
     "state=@intake.TicketState order=@intake.TicketOrder"},
    {"GET", "/v1/tickets/{id}", READERS, "intake", "intake.GetTicket", 0, NULL, NULL, NULL,
     "one ticket with its full timeline", NULL},
    {"POST", "/v1/tickets/{id}/diagnosis", DESK, "intake", "intake.Diagnose", 1, NULL, NULL, NULL,
     "record the diagnosis (and the estimate for paid work)", NULL},
    {"POST", "/v1/tickets/{id}/consent", DESK, "intake", "intake.Consent", 1, NULL, NULL, NULL,
     "the customer accepts or declines the estimate", NULL},
    {"POST", "/v1/tickets/{id}/revise-estimate", DESK, "intake", "intake.ReviseEstimate", 1, NULL,
     NULL, NULL, "the work needs more: a revised estimate, back to the customer for consent", NULL},
    {"POST", "/v1/tickets/{id}/parts-requests", DESK, "intake", "intake.RequestParts", 1, NULL,
     NULL, NULL, "ask the parts service for parts", NULL},
    {"POST", "/v1/tickets/{id}/repair-complete", DESK, "intake", "intake.CompleteRepair", 1, NULL,
     NULL, NULL, "the repair is done (parts used, labour)", NULL},
    {"POST", "/v1/tickets/{id}/handback", DESK, "intake", "intake.Handback", 1, NULL, NULL, NULL,
     "hand the product back (repaired, refunded or exchanged)", NULL},
    {"POST", "/v1/tickets/{id}/cancel", DESK, "intake", "intake.CancelTicket", 1, NULL, NULL, NULL,
     "cancel a ticket in an early state", NULL},
    {"POST", "/v1/tickets/{id}/return-unrepaired", DESK, "intake", "intake.ReturnUnrepaired", 1,
     NULL, NULL, NULL, "give the device back unrepaired (any state before the repair is done)",
     NULL},
    /* promised deadlines (docs/intake.md "Promised deadlines") */
    {"GET", "/v1/promises", DESK, "intake", "intake.ListPromises", 0, NULL, NULL, NULL,
     "running promises at risk or overdue, most urgent first", "status=at_risk|overdue|all"},
    {"GET", "/v1/reports/promises", READERS, "intake", "intake.GetPromiseReport", 0, NULL, NULL,
     NULL, "per centre: running, at-risk, overdue and escalated promises; kept and missed", NULL},
    {"GET", "/v1/service-levels", READERS, "intake", "intake.ListServiceLevels", 0, NULL, NULL,
     NULL, "the service levels (hours promised per centre and category)", NULL},
    {"POST", "/v1/service-levels", R_ADMIN, "intake", "intake.SetServiceLevel", 1, NULL, NULL, NULL,
     "set (or with hours 0 remove) a centre's service level for a category", NULL},
    /* the hotline's call log (docs/intake.md "Call log") */
    {"POST", "/v1/calls", DESK, "intake", "intake.RecordCall", 1, NULL, NULL, NULL,
     "record a call; a repair request opens its ticket, a complaint its complaint", NULL},
    {"GET", "/v1/calls", QUALITY, "intake", "intake.ListCalls", 0, NULL, NULL, NULL,
     "the call archive (phone, ticket, category, centre, dates, text; cursor pagination)",
     "category=consultation|repair_request|complaint|suggestion|praise|other"},
    {"GET", "/v1/calls/stats", QUALITY, "intake", "intake.GetCallStats", 0, NULL, NULL, NULL,
     "calls by category, centre and hour of the day", NULL},
    {"GET", "/v1/calls/{id}", QUALITY, "intake", "intake.GetCall", 0, NULL, NULL, NULL,
     "one call (the customer's phone in full; each read audited)", NULL},
    /* quality feedback (docs/intake.md "Quality report") */
    {"GET", "/v1/reports/quality", QUALITY, "intake", "intake.GetQualityReport", 0, NULL, NULL,
     NULL, "faults by brand, model, fault code, part and month; repeat hot spots; trend", NULL},
    {"GET", "/v1/reports/quality/csv", QUALITY, "intake", "intake.ExportQualityReport", 0, NULL,
     "csv", NULL, "the quality report as CSV (per manufacturer with ?manufacturer=)", NULL},
    /* the station scorecard and its rewards (docs/scorecard.md) */
    {"GET", "/v1/reports/scorecard", SCORECARD, "intake", "intake.GetScorecard", 0, NULL, NULL,
     NULL, "per centre: the eight service metrics, the weighted score and the rank in its region",
     NULL},
    {"POST", "/v1/reports/scorecard/rewards", R_ADMIN, "intake", "intake.PostScorecardRewards", 1,
     NULL, NULL, NULL,
     "a closed period's market-maintenance rewards, once per centre, posted to settlement", NULL},
    {"POST", "/v1/reports/scorecard/rewards/backfill", R_ADMIN, "intake",
     "intake.BackfillScorecardRewards", 1, NULL, NULL, NULL,
     "the rewards of every closed month in a range, each posted once (dry_run: recount only)",
     NULL},
    {"GET", "/v1/scorecard/weights", R_ADMIN | R_FINANCE, "intake", "intake.ListScorecardWeights",
     0, NULL, NULL, NULL, "the scorecard weight sets and reward rules, by version", NULL},
    {"POST", "/v1/scorecard/weights", R_ADMIN, "intake", "intake.AddScorecardWeights", 1, NULL,
     NULL, NULL, "a new scorecard weight set and reward rule, in force from effective_from", NULL},
    /* customers: personal data, for admin and the centre desks only (docs/roles.md) */
    {"POST", "/v1/customers", CUSTOMERS, "intake", "intake.CreateCustomer", 1, NULL, NULL, NULL,
     "register a customer (phones are unique: one customer per phone)", NULL},
    {"GET", "/v1/customers", CUSTOMERS, "intake", "intake.ListCustomers", 0, NULL, NULL, NULL,
     "find customers by phone or name prefix, or by a device they own (paged)", NULL},
    {"GET", "/v1/customers/{id}", CUSTOMERS, "intake", "intake.GetCustomer", 0, NULL, NULL, NULL,
     "one customer with devices and tickets (each read is audited)", NULL},
    {"PATCH", "/v1/customers/{id}", CUSTOMERS, "intake", "intake.UpdateCustomer", 1, NULL, NULL,
     NULL, "change a customer: address, consent, tier and account owner, more phones", NULL},
    {"GET", "/v1/customers/{id}/devices", CUSTOMERS, "intake", "intake.ListCustomerDevices", 0,
     NULL, NULL, NULL, "the devices a customer owns, each with its repair history", NULL},
    {"POST", "/v1/customers/{id}/erase", R_ADMIN, "intake", "intake.EraseCustomer", 1, NULL, NULL,
     NULL, "erase a customer's personal data (name, phones, address; tickets keep their ids)",
     NULL},
    {"GET", "/v1/devices", DEVICES, "intake", "intake.ListDevices", 0, NULL, NULL, NULL,
     "find devices by IMEI, serial or VIN prefix (paged, in scope)", NULL},
    {"GET", "/v1/devices/{imei}", DEVICES, "intake", "intake.GetDevice", 0, NULL, NULL, NULL,
     "a device (IMEI or VIN): owner and repair history at every centre", NULL},
    /* on-site service orders and technicians (docs/onsite.md) */
    {"POST", "/v1/service-orders", DESK, "intake", "intake.CreateServiceOrder", 1, NULL, NULL, NULL,
     "open an on-site service order (address, appointment window, fault)", NULL},
    {"GET", "/v1/service-orders", DESK, "intake", "intake.ListServiceOrders", 0, NULL, NULL, NULL,
     "list service orders (state, centre, technician, day; status=at_risk|overdue; "
     "order=priority: VIP and key customers first, then the response promise)",
     "state=requested|scheduled|dispatched|on_site|done|confirmed|cancelled "
     "status=at_risk|overdue order=@intake.TicketOrder"},
    {"GET", "/v1/service-orders/{id}", DESK, "intake", "intake.GetServiceOrder", 0, NULL, NULL,
     NULL, "one service order with its timeline (the field-service record)", NULL},
    {"POST", "/v1/service-orders/{id}/schedule", DESK, "intake", "intake.ScheduleServiceOrder", 1,
     NULL, NULL, NULL, "assign a technician (skill and region checked) and the window", NULL},
    {"POST", "/v1/service-orders/{id}/dispatch", DESK, "intake", "intake.DispatchServiceOrder", 1,
     NULL, NULL, NULL, "the technician sets off", NULL},
    {"POST", "/v1/service-orders/{id}/check-in", DESK, "intake", "intake.CheckInServiceOrder", 1,
     NULL, NULL, NULL, "the technician is on site (meets the response promise)", NULL},
    {"POST", "/v1/service-orders/{id}/check-out", DESK, "intake", "intake.CheckOutServiceOrder", 1,
     NULL, NULL, check_out,
     "the work is done (work done, distance; parts used are issued from the technician's van)",
     NULL},
    {"POST", "/v1/service-orders/{id}/confirm", DESK, "intake", "intake.ConfirmServiceOrder", 1,
     NULL, NULL, NULL, "the customer's confirmation (name as signed, signature)", NULL},
    {"POST", "/v1/service-orders/{id}/cancel", DESK, "intake", "intake.CancelServiceOrder", 1, NULL,
     NULL, NULL, "cancel an order not yet on site", NULL},
    {"POST", "/v1/technicians", DESK, "intake", "intake.SaveTechnician", 1, NULL, NULL, NULL,
     "register or change a technician (centre, skills, active)", NULL},
    {"GET", "/v1/technicians", DESK, "intake", "intake.ListTechnicians", 0, NULL, NULL, NULL,
     "the technicians in scope (by centre or skill)", NULL},
    {"GET", "/v1/technicians/workload", DESK, "intake", "intake.GetTechnicianWorkload", 0, NULL,
     NULL, NULL, "orders per technician on a day", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
