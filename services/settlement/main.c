/* main.c — the settlement service: charges, customer invoices, manufacturer claims, the
 * double-entry ledger and the finance reads.
 *
 * It follows intake's stream (RepairCompleted prices a ticket's work and posts it; TicketClosed
 * records the customer's payment, or a refund / exchange against the seller's account) and the
 * parts stream (DefectiveReturnOwed / DefectiveReturnRecorded: which claim lines wait for the
 * old part, and when it came back). Each event is one SQL call in the transaction that advances
 * the stream position (services/settlement/migrations), so its effects happen exactly once.
 *
 * Commands that change state (claims, period close, reversals) are validated here and run
 * through exec_command (idempotent by request id). Reads skip the idempotency table: they call
 * read_<what>(principal, args) directly and answer with its result, so a large export page is
 * never stored. */
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "settlement.pb-c.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation shared by writes and reads ---- */

/* Reply 400 with every problem of `msg`, or return 0 when it is fine. */
static int reject_invalid(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg)
{
    as_problems_t errs = {0};
    sv_validate(msg, &errs);
    return as_cmd_reject(ctx, &errs) ? -1 : 0;
}

/* A state-changing command: validate, then the SQL function through exec_command. */
static void write_cmd(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    if (reject_invalid(ctx, req) < 0)
        return;
    as_cmd_sql(ctx, as_cmd_def(ctx)->sql_fn, as_pbjson_encode(req));
}

/* ---- reads: read_<what>(principal jsonb, args jsonb) -> {"status", "body"} ---- */

static void read_done(const as_db_result_t *r, void *ud)
{
    as_cmd_ctx_t *ctx = ud;
    if (r->ok) {
        json_error_t jerr;
        json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            as_cmd_error(ctx, 500, "internal", "read returned no reply");
            return;
        }
        json_t *err = json_object_get(o, "error"); /* fail() caught by read_call */
        if (err) {
            const char *st = json_string_value(json_object_get(err, "sqlstate"));
            const char *m = json_string_value(json_object_get(err, "message"));
            const char *d = json_string_value(json_object_get(err, "detail"));
            int code = st && strlen(st) == 5 ? atoi(st + 2) : 500;
            as_cmd_reply(ctx, code >= 100 && code <= 599 ? code : 500, m ? m : "error",
                         d && *d ? d : (m ? m : "error"), NULL);
            json_decref(o);
            return;
        }
        int status = (int)json_integer_value(json_object_get(o, "status"));
        as_cmd_reply_json(ctx, status ? status : 200, json_object_get(o, "body"), 0);
        json_decref(o);
        return;
    }
    const char *st = r->sqlstate ? r->sqlstate : "";
    if (st[0] == 'A' && st[1] == 'S' && st[2] >= '1' && st[2] <= '5') {
        as_cmd_reply(ctx, atoi(st + 2), r->message,
                     r->detail && *r->detail ? r->detail : r->message, NULL);
        return;
    }
    if (strncmp(st, "22", 2) == 0) {
        as_cmd_error(ctx, 400, "invalid", "%s", r->message ? r->message : "invalid value");
        return;
    }
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "53300") == 0) {
        as_cmd_error(ctx, 503, "unavailable", "the database is unavailable; retry");
        return;
    }
    AS_ERROR("read failed", "req=%s fn=%s sqlstate=%s error=\"%s\"", as_cmd_request_id(ctx),
             as_cmd_def(ctx)->sql_fn, st, r->message ? r->message : "");
    as_cmd_error(ctx, 500, "internal", "internal error (request %s)", as_cmd_request_id(ctx));
}

static void read_on(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, as_db_t *db)
{
    if (reject_invalid(ctx, req) < 0)
        return;
    /* Through read_call (common/sql/020): a 404 comes back as a value, not a logged ERROR. */
    static const char sql[] = "SELECT read_call($1, $2::jsonb, $3::jsonb)::text";
    json_t *pj = as_principal_json(as_cmd_principal(ctx));
    json_t *aj = as_pbjson_encode(req);
    char *ps = json_dumps(pj, JSON_COMPACT), *as = aj ? json_dumps(aj, JSON_COMPACT) : NULL;
    json_decref(pj);
    json_decref(aj);
    if (!ps || !as) {
        free(ps);
        free(as);
        as_cmd_error(ctx, 500, "internal", "out of memory");
        return;
    }
    const char *params[3] = {as_cmd_def(ctx)->sql_fn, ps, as};
    as_db_stmt_t st = {sql, 3, params};
    int rc = as_db_submit(db, &st, 1, read_done, ctx); /* copies the parameters */
    free(ps);
    free(as);
    if (rc < 0)
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
}

/* One object's read: on the main connection, in order with the writes before it. */
static void read_cmd(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    read_on(ctx, req, as_cmd_db(ctx));
}

/* A list, a report or an export page: on the read connection, so a long one never holds up the
 * writes and one-object reads pipelined on the main connection (decisions 25 and 31). read_call()
 * runs it in a READ ONLY transaction. */
static void report_cmd(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    read_on(ctx, req, as_cmd_read_db(ctx));
}

static const as_cmd_def_t commands[] = {
    /* changes, idempotent by request id */
    {"settlement.SubmitClaim", &settlement__claim__descriptor, write_cmd, "cmd_submit_claim"},
    {"settlement.DecideClaim", &settlement__claim__descriptor, write_cmd, "cmd_decide_claim"},
    {"settlement.PayClaim", &settlement__claim__descriptor, write_cmd, "cmd_pay_claim_amount"},
    {"settlement.ClosePeriod", &settlement__period__descriptor, write_cmd, "cmd_close_period"},
    {"settlement.ReverseEntry", &settlement__entry__descriptor, write_cmd, "cmd_reverse_entry"},
    {"settlement.PayRefund", &settlement__refund__descriptor, write_cmd, "cmd_pay_refund"},
    {"settlement.SetLabourRate", &settlement__labour_rate__descriptor, write_cmd,
     "cmd_set_labour_rate"},
    {"settlement.SetPartPrice", &settlement__part_price__descriptor, write_cmd,
     "cmd_set_part_price"},
    {"settlement.SetFeeRate", &settlement__fee_rate__descriptor, write_cmd, "cmd_set_fee_rate"},
    {"settlement.SetClaimHandling", &settlement__claim_handling__descriptor, write_cmd,
     "cmd_set_claim_handling"},
    {"settlement.SetTravelRate", &settlement__travel_rate__descriptor, write_cmd,
     "cmd_set_travel_rate"},
    {"settlement.PayOrderInvoice", &settlement__order_payment__descriptor, write_cmd,
     "cmd_pay_order_invoice"},
    /* reads */
    {"settlement.GetCharges", &settlement__charge_set__descriptor, read_cmd, "read_charges"},
    {"settlement.GetInvoice", &settlement__invoice__descriptor, read_cmd, "read_invoice"},
    {"settlement.ListInvoices", &settlement__invoice_list__descriptor, report_cmd, "read_invoices"},
    {"settlement.GetClaim", &settlement__claim__descriptor, read_cmd, "read_claim"},
    {"settlement.ListClaims", &settlement__claim_list__descriptor, report_cmd, "read_claims"},
    {"settlement.ListPeriods", &settlement__period_list__descriptor, report_cmd, "read_periods"},
    {"settlement.GetEntry", &settlement__entry__descriptor, read_cmd, "read_entry"},
    {"settlement.GetBalance", &settlement__balance__descriptor, report_cmd, "read_balance"},
    {"settlement.ExportPage", &settlement__export_rows__descriptor, report_cmd, "read_export_page"},
    {"settlement.GetCosts", &settlement__cost_report__descriptor, report_cmd, "read_costs"},
    {"settlement.GetRefund", &settlement__refund__descriptor, read_cmd, "read_refund"},
    {"settlement.ListRefunds", &settlement__refund_list__descriptor, report_cmd, "read_refunds"},
    {"settlement.GetRates", &settlement__rate_tables__descriptor, read_cmd, "read_rates"},
    {"settlement.ListTravelRates", &settlement__travel_rate_list__descriptor, read_cmd,
     "read_travel_rates"},
};

/* ---- events ---- */

/* Apply `fn($1::jsonb)` with the event's payload, or just move past the event. */
static void apply_event(as_event_t *ev, const char *sql)
{
    const char *p[1] = {ev->json};
    as_db_stmt_t st = {sql, 1, p};
    AS_DEBUG("event", "stream=%s seq=%llu type=%s", ev->stream, (unsigned long long)ev->sequence,
             ev->type);
    as_event_commit(ev, &st, 1);
}

static void on_intake_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "intake.RepairCompleted") == 0)
        apply_event(ev, "SELECT on_repair_completed($1::jsonb)");
    else if (strcmp(ev->type, "intake.TicketClosed") == 0)
        apply_event(ev, "SELECT on_ticket_closed($1::jsonb)");
    else if (strcmp(ev->type, "intake.ServiceOrderChanged") == 0)
        apply_event(ev, "SELECT on_service_order_changed($1::jsonb)"); /* the travel fee */
    else if (strcmp(ev->type, "intake.CenterRewardPosted") == 0)
        apply_event(ev, "SELECT on_center_reward($1::jsonb)");
    else
        as_event_commit(ev, NULL, 0); /* not for us: just move past it */
}

static void on_parts_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "parts.DefectiveReturnRecorded") == 0)
        apply_event(ev, "SELECT on_defective_return($1::jsonb)");
    else if (strcmp(ev->type, "parts.DefectiveReturnOwed") == 0)
        apply_event(ev, "SELECT on_defective_return_owed($1::jsonb)");
    else if (strcmp(ev->type, "parts.StockValued") == 0)
        apply_event(ev, "SELECT on_stock_valued($1::jsonb)");
    else
        as_event_commit(ev, NULL, 0);
}

/* The people service's brands: which manufacturers the price list may name. */
static void on_people_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "people.BrandChanged") == 0)
        apply_event(ev, "SELECT on_brand_changed($1::jsonb)");
    else
        as_event_commit(ev, NULL, 0);
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_intake_event},
    {"parts", on_parts_event},
    {"people", on_people_event},
};

static const as_service_def_t settlement_service = {
    .name = "settlement",
    AS_DEF_CMDS(commands),
    AS_DEF_SUBS(subscriptions),
    .publishes = 1,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &settlement_service);
}
