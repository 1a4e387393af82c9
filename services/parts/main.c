/* main.c — the parts service: catalogue, stock per site as an immutable ledger, reservations per
 * ticket line, transfers, safety stock, defective returns and loaner units.
 *
 * Commands are validated here field by field and then run as one SQL function each
 * (services/parts/migrations/102_commands.sql), which checks scope and state, posts the stock
 * movements, writes the audit rows and the outbox events in one transaction. A receipt file
 * (CSV) is read here, checked against the catalogue in one query so that every bad row is named,
 * and applied whole or not at all.
 *
 * The service follows intake's stream: PartsRequested reserves (or backorders) ticket lines,
 * RepairCompleted issues them and records the defective returns owed, TicketCancelled releases
 * them (101_events.sql). */
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "parts.pb-c.h"
#include "validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *cfg_warehouse;
static long cfg_return_days, cfg_window_days, cfg_lead_days;

static as_config_item_t parts_items[] = {
    {"warehouse_site", AS_CFG_STRING, "WH01", 0, 0,
     "the central warehouse: it supplies backorders and receives defective returns",
     &cfg_warehouse},
    {"defective_return_days", AS_CFG_INT, "15", 1, 365,
     "days after a warranty repair by which the replaced part must be back at the warehouse",
     &cfg_return_days},
    {"replenishment_window_days", AS_CFG_INT, "30", 1, 365,
     "consumption window of the replenishment suggestion", &cfg_window_days},
    {"default_lead_time_days", AS_CFG_INT, "7", 0, 365,
     "lead time assumed where a safety policy does not give one", &cfg_lead_days},
};

/* ---- validation ---- */

static const char *const MOVEMENT_KINDS[] = {
    "receipt", "transfer_out",     "transfer_in", "reserve",    "release",
    "issue",   "defective_return", "scrap",       "adjustment", NULL};
static const char *const TRANSFER_STATES[] = {
    "pending_approval", "waiting", "allocated", "shipped", "received", "cancelled", NULL};
static const char *const LINE_STATES[] = {"reserved", "backordered", "issued",
                                          "released", "cancelled",   NULL};
static const char *const RETURN_STATES[] = {"owed", "overdue", "returned", NULL};
static const char *const LOANER_STATES[] = {"available", "lent", "retired", NULL};
static const char *const SKU_CATEGORIES[] = {"part", "loaner", NULL};

/* An identifier of ours or intake's (T00000012, TR000003, DR000001): 1..32 letters and digits. */
static void check_id(as_problems_t *e, const char *field, const char *v, int required)
{
    if (!v || !*v) {
        if (required)
            as_problem(e, field, "is required");
        return;
    }
    size_t n = strlen(v);
    int ok = n <= 32;
    for (const char *s = v; ok && *s; s++)
        ok = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
             *s == '-' || *s == '_';
    if (!ok)
        as_problem(e, field, "is not an identifier (1 to 32 letters, digits, '-' or '_')");
}

static void check_limit(as_problems_t *e, int has, int32_t v, int32_t max)
{
    pv_int(e, "limit", has, v, 1, max, 0);
}

static void get_stock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__GetStock *m = (const Parts__GetStock *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_sku(&e, "sku", m->sku, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_movements(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListMovements *m = (const Parts__ListMovements *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_sku(&e, "sku", m->sku, 0);
    pv_int(&e, "after", m->has_after, m->after, 0, INT64_MAX, 0);
    check_limit(&e, m->has_limit, m->limit, 1000);
    pv_oneof(&e, "kind", m->kind, MOVEMENT_KINDS);
    check_id(&e, "ticket_id", m->ticket_id, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void adjust_stock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__AdjustStock *m = (const Parts__AdjustStock *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 1);
    pv_sku(&e, "sku", m->sku, 1);
    pv_int(&e, "delta", m->has_delta, m->delta, -PV_MAX_QTY, PV_MAX_QTY, 1);
    if (m->has_delta && m->delta == 0)
        as_problem(&e, "delta", "must not be zero");
    pv_text(&e, "reason", m->reason, 200, 1);
    pv_text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void scrap_stock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ScrapStock *m = (const Parts__ScrapStock *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 1);
    pv_sku(&e, "sku", m->sku, 1);
    pv_int(&e, "qty", m->has_qty, m->qty, 1, PV_MAX_QTY, 1);
    pv_text(&e, "reason", m->reason, 200, 1);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void set_safety_stock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__SetSafetyStock *m = (const Parts__SetSafetyStock *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 1);
    pv_sku(&e, "sku", m->sku, 1);
    pv_int(&e, "safety_level", m->has_safety_level, m->safety_level, 0, PV_MAX_QTY, 1);
    pv_int(&e, "reorder_point", m->has_reorder_point, m->reorder_point, 0, PV_MAX_QTY, 0);
    pv_int(&e, "lead_time_days", m->has_lead_time_days, m->lead_time_days, 0, 365, 0);
    if (m->has_safety_level && m->has_reorder_point && m->reorder_point < m->safety_level)
        as_problem(&e, "reorder_point", "must not be below safety_level");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void create_transfer(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__CreateTransfer *m = (const Parts__CreateTransfer *)msg;
    as_problems_t e = {0};
    pv_site(&e, "from", m->from, 1);
    pv_site(&e, "to", m->to, 1);
    if (m->from && m->to && strcmp(m->from, m->to) == 0)
        as_problem(&e, "to", "must differ from 'from'");
    if (m->n_lines == 0)
        as_problem(&e, "lines", "needs at least one line");
    if (m->n_lines > 50)
        as_problem(&e, "lines", "has more than 50 lines");
    char name[64];
    for (size_t i = 0; i < m->n_lines && i < 50; i++) {
        const Parts__Line *l = m->lines[i];
        snprintf(name, sizeof name, "lines[%zu].sku", i);
        pv_sku(&e, name, l->sku, 1);
        for (size_t j = 0; j < i && l->sku; j++)
            if (m->lines[j]->sku && strcmp(m->lines[j]->sku, l->sku) == 0) {
                as_problem(&e, name, "repeats the SKU of lines[%zu]", j);
                break;
            }
        snprintf(name, sizeof name, "lines[%zu].qty", i);
        pv_int(&e, name, l->has_qty, l->qty, 1, PV_MAX_QTY, 1);
    }
    pv_text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* Ship, receive, get, cancel a transfer; receive a defective return: an id and a note. */
static void id_and_note(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        const char *v = *(char *const *)((const char *)msg + f->offset);
        if (strcmp(f->name, "id") == 0)
            check_id(&e, "id", v, 1);
        else
            pv_text(&e, f->name, v, 2000, 0);
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* ReceiveTransfer: the id, the note, and per SKU what arrived good and damaged. */
static void receive_transfer(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ReceiveTransfer *m = (const Parts__ReceiveTransfer *)msg;
    as_problems_t e = {0};
    check_id(&e, "id", m->id, 1);
    pv_text(&e, "note", m->note, 2000, 0);
    if (m->n_lines > 500)
        as_problem(&e, "lines", "at most 500 lines");
    for (size_t i = 0; i < m->n_lines && i < 500; i++) {
        const Parts__ReceivedLine *l = m->lines[i];
        char f[48];
        snprintf(f, sizeof f, "lines[%zu].sku", i);
        pv_sku(&e, f, l->sku, 1);
        if (l->has_qty && l->qty < 0) {
            snprintf(f, sizeof f, "lines[%zu].qty", i);
            as_problem(&e, f, "must not be negative");
        }
        if (l->has_damaged && l->damaged < 0) {
            snprintf(f, sizeof f, "lines[%zu].damaged", i);
            as_problem(&e, f, "must not be negative");
        }
        snprintf(f, sizeof f, "lines[%zu].note", i);
        pv_text(&e, f, l->note, 500, 0);
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_transfers(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListTransfers *m = (const Parts__ListTransfers *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_oneof(&e, "state", m->state, TRANSFER_STATES);
    check_id(&e, "ticket_id", m->ticket_id, 0);
    check_limit(&e, m->has_limit, m->limit, 500);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_reservations(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListReservations *m = (const Parts__ListReservations *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_oneof(&e, "state", m->state, LINE_STATES);
    check_id(&e, "ticket_id", m->ticket_id, 0);
    check_limit(&e, m->has_limit, m->limit, 500);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void get_replenishment(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__GetReplenishment *m = (const Parts__GetReplenishment *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_sku(&e, "sku", m->sku, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_returns(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListReturns *m = (const Parts__ListReturns *)msg;
    as_problems_t e = {0};
    pv_oneof(&e, "status", m->status, RETURN_STATES);
    pv_site(&e, "site", m->site, 0);
    check_id(&e, "ticket_id", m->ticket_id, 0);
    check_limit(&e, m->has_limit, m->limit, 500);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void check_serial(as_problems_t *e, const char *v)
{
    size_t n = v ? strlen(v) : 0;
    int ok = n >= 3 && n <= 40;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') ||
             (v[i] >= '0' && v[i] <= '9') || (v[i] == '-' && i > 0);
    if (!ok)
        as_problem(e, "serial", "is not a loaner serial (3 to 40 letters, digits and '-')");
}

static void lend_loaner(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__LendLoaner *m = (const Parts__LendLoaner *)msg;
    as_problems_t e = {0};
    check_serial(&e, m->serial);
    check_id(&e, "ticket_id", m->ticket_id, 1);
    pv_text(&e, "customer", m->customer, 100, 1);
    if (m->phone) {
        size_t n = strlen(m->phone), digits = 0;
        int ok = n <= 24;
        for (size_t i = 0; ok && i < n; i++) {
            char c = m->phone[i];
            digits += c >= '0' && c <= '9';
            ok = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == ' ';
        }
        if (!ok || digits < 5)
            as_problem(&e, "phone", "is not a phone number");
    }
    pv_text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void return_loaner(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ReturnLoaner *m = (const Parts__ReturnLoaner *)msg;
    as_problems_t e = {0};
    check_serial(&e, m->serial);
    pv_text(&e, "note", m->note, 2000, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_loaners(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListLoaners *m = (const Parts__ListLoaners *)msg;
    as_problems_t e = {0};
    pv_site(&e, "site", m->site, 0);
    pv_oneof(&e, "state", m->state, LOANER_STATES);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void register_loaner(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__RegisterLoaner *m = (const Parts__RegisterLoaner *)msg;
    as_problems_t e = {0};
    check_serial(&e, m->serial);
    pv_site(&e, "site", m->site, 1);
    pv_sku(&e, "sku", m->sku, 0);
    pv_text(&e, "model", m->model, 100, 1);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_skus(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListSkus *m = (const Parts__ListSkus *)msg;
    as_problems_t e = {0};
    pv_text(&e, "brand", m->brand, 64, 0);
    pv_text(&e, "model", m->model, 64, 0);
    pv_text(&e, "q", m->q, 64, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void put_sku(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__PutSku *m = (const Parts__PutSku *)msg;
    as_problems_t e = {0};
    pv_sku(&e, "sku", m->sku, 1);
    pv_text(&e, "name", m->name, 200, 1);
    pv_text(&e, "brand", m->brand, 64, 1);
    pv_text(&e, "manufacturer", m->manufacturer, 64, 0);
    pv_oneof(&e, "category", m->category, SKU_CATEGORIES);
    if (m->n_compatible_models > 50)
        as_problem(&e, "compatible_models", "has more than 50 models");
    for (size_t i = 0; i < m->n_compatible_models && i < 50; i++) {
        char name[64];
        snprintf(name, sizeof name, "compatible_models[%zu]", i);
        pv_text(&e, name, m->compatible_models[i], 64, 1);
    }
    pv_int(&e, "unit_cost_cents", m->has_unit_cost_cents, m->unit_cost_cents, 0, 100000000000LL, 1);
    pv_int(&e, "list_price_cents", m->has_list_price_cents, m->list_price_cents, 0, 100000000000LL,
           1);
    if (m->currency && (strlen(m->currency) != 3 || m->currency[0] < 'A' || m->currency[0] > 'Z' ||
                        m->currency[1] < 'A' || m->currency[1] > 'Z' || m->currency[2] < 'A' ||
                        m->currency[2] > 'Z'))
        as_problem(&e, "currency", "is not an ISO 4217 code (three capital letters)");
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void check_ledger(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    as_problems_t e = {0};
    pv_site(&e, "site", ((const Parts__CheckLedger *)msg)->site, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_report(ctx, msg, ud); /* read-only: the read connection */
}

/* ---- receipts: one line, or a CSV file applied whole or not at all ---- */

typedef struct receipt_job {
    as_cmd_ctx_t *ctx;
    json_t *args; /* {"rows": [...], "source": ...}, owned */
    int csv;
    as_problems_t errs;
} receipt_job_t;

/* The line of the file where data row `row` starts (0 if unknown). */
static int row_line(const json_t *rows, int row)
{
    size_t i;
    const json_t *o;
    json_array_foreach(rows, i, o)
    {
        if (json_integer_value(json_object_get(o, "row")) == row)
            return (int)json_integer_value(json_object_get(o, "line"));
    }
    return 0;
}

/* The catalogue check answered: name every bad row, or apply the receipt. */
static void receipt_checked(const as_db_result_t *r, void *ud)
{
    receipt_job_t *job = ud;
    as_cmd_ctx_t *ctx = job->ctx;
    if (!r->ok) {
        AS_WARN("receipt check failed", "req=%s sqlstate=%s error=\"%s\"", as_cmd_request_id(ctx),
                r->sqlstate, r->message);
        as_cmd_error(ctx, 503, "unavailable", "the database is unavailable; retry");
        json_decref(job->args);
        free(job);
        return;
    }
    PGresult *res = r->res[0];
    for (int i = 0; i < PQntuples(res); i++) {
        int row = atoi(as_db_value(res, i, 0));
        const char *col = as_db_value(res, i, 1), *problem = as_db_value(res, i, 2);
        if (!job->csv && strcmp(col, "scope") == 0) {
            /* One line at a site out of the caller's scope: that is a 403, not a typo. */
            as_cmd_error(ctx, 403, "forbidden", "%s", problem);
            json_decref(job->args);
            free(job);
            return;
        }
        if (strcmp(col, "scope") == 0)
            col = "site";
        if (job->csv)
            pv_add_row(&job->errs, row, col, "row %d (line %d): %s", row,
                       row_line(json_object_get(job->args, "rows"), row), problem);
        else
            as_problem(&job->errs, col, "%s", problem);
    }
    if (job->errs.n) {
        as_cmd_reject(ctx, &job->errs);
        json_decref(job->args);
    } else {
        as_cmd_sql(ctx, "cmd_receive_stock", job->args); /* takes the args */
    }
    free(job);
}

static void receive_stock(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Parts__ReceiveStock *m = (const Parts__ReceiveStock *)msg;
    receipt_job_t *job = calloc(1, sizeof *job);
    json_t *rows = json_array();
    if (!job || !rows) {
        free(job);
        json_decref(rows);
        as_cmd_error(ctx, 503, "overloaded", "out of memory");
        return;
    }
    job->ctx = ctx;
    as_problems_t *e = &job->errs;
    if (m->csv) {
        job->csv = 1;
        if (m->site || m->sku || m->has_qty || m->note)
            as_problem(e, "csv", "give either a csv file or site, sku, qty and note, not both");
        else
            pv_csv_rows(m->csv, rows, e);
    } else {
        pv_site(e, "site", m->site, 1);
        pv_sku(e, "sku", m->sku, 1);
        pv_int(e, "qty", m->has_qty, m->qty, 1, PV_MAX_QTY, 1);
        pv_text(e, "note", m->note, 500, 0);
        if (e->n == 0) {
            json_t *o = json_pack("{s:i, s:s, s:s, s:i}", "row", 1, "site", m->site, "sku", m->sku,
                                  "qty", (int)m->qty);
            if (m->note && *m->note)
                json_object_set_new(o, "note", json_string(m->note));
            json_array_append_new(rows, o);
        }
    }
    if (json_array_size(rows) == 0) {
        if (e->n == 0)
            as_problem(e, "csv", "the file has no rows");
        as_cmd_reject(ctx, e);
        json_decref(rows);
        free(job);
        return;
    }
    job->args = json_pack("{s:o, s:s}", "rows", rows, "source", job->csv ? "csv" : "single");
    /* Ask the database about every row that is well formed (sites, SKUs, scope) so that one
     * answer names every bad row, even when some rows were already malformed. */
    json_t *pj = as_principal_json(as_cmd_principal(ctx));
    char *p_s = json_dumps(pj, JSON_COMPACT);
    char *rows_s = json_dumps(json_object_get(job->args, "rows"), JSON_COMPACT);
    json_decref(pj);
    const char *params[2] = {p_s, rows_s};
    as_db_stmt_t st = {"SELECT row_no, field, problem FROM receipt_problems($1::jsonb, $2::jsonb) "
                       "ORDER BY row_no, field LIMIT 64",
                       2, params};
    int rc = (p_s && rows_s) ? as_db_submit(as_cmd_db(ctx), &st, 1, receipt_checked, job) : -1;
    free(p_s);
    free(rows_s);
    if (rc < 0) {
        json_decref(job->args);
        free(job);
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
    }
}

/* Vans (docs/onsite.md "Van stock"): a van's code, its centre and technician. */
static void save_van(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__SaveVan *m = (const Parts__SaveVan *)msg;
    as_problems_t e = {0};
    pv_site(&e, "code", m->code, 1);
    pv_site(&e, "center", m->center, 1);
    pv_text(&e, "technician", m->technician, 64, 1);
    pv_text(&e, "name", m->name, 200, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static void list_vans(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__ListVans *m = (const Parts__ListVans *)msg;
    as_problems_t e = {0};
    pv_site(&e, "center", m->center, 0);
    pv_text(&e, "technician", m->technician, 64, 0);
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

/* The parts used on a service order: the fields are named as in the check-out's body. */
static void issue_order_parts(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Parts__IssueOrderParts *m = (const Parts__IssueOrderParts *)msg;
    as_problems_t e = {0};
    check_id(&e, "order_id", m->order_id, 1);
    if (m->n_parts_used == 0)
        as_problem(&e, "parts_used", "needs at least one line");
    if (m->n_parts_used > 50)
        as_problem(&e, "parts_used", "has more than 50 lines");
    char name[64];
    for (size_t i = 0; i < m->n_parts_used && i < 50; i++) {
        const Parts__Line *l = m->parts_used[i];
        snprintf(name, sizeof name, "parts_used[%zu].sku", i);
        pv_sku(&e, name, l->sku, 1);
        snprintf(name, sizeof name, "parts_used[%zu].qty", i);
        pv_int(&e, name, l->has_qty, l->qty, 1, 100, 1);
    }
    if (!as_cmd_reject(ctx, &e))
        as_cmd_sql_default(ctx, msg, ud);
}

static const as_cmd_def_t commands[] = {
    {"parts.ListSkus", &parts__sku_list__descriptor, list_skus, "cmd_list_skus"},
    {"parts.PutSku", &parts__sku__descriptor, put_sku, "cmd_put_sku"},
    {"parts.GetStock", &parts__stock_list__descriptor, get_stock, "cmd_get_stock"},
    {"parts.SetSafetyStock", &parts__stock_item__descriptor, set_safety_stock,
     "cmd_set_safety_stock"},
    {"parts.ListMovements", &parts__movement_list__descriptor, list_movements,
     "cmd_list_movements"},
    {"parts.ReceiveStock", &parts__receipt_result__descriptor, receive_stock, "cmd_receive_stock"},
    {"parts.AdjustStock", &parts__movement__descriptor, adjust_stock, "cmd_adjust_stock"},
    {"parts.ScrapStock", &parts__movement__descriptor, scrap_stock, "cmd_scrap_stock"},
    {"parts.CreateTransfer", &parts__transfer__descriptor, create_transfer, "cmd_create_transfer"},
    {"parts.ShipTransfer", &parts__transfer__descriptor, id_and_note, "cmd_ship_transfer"},
    {"parts.ReceiveTransfer", &parts__transfer__descriptor, receive_transfer,
     "cmd_receive_transfer"},
    {"parts.ApproveTransfer", &parts__transfer__descriptor, id_and_note, "cmd_approve_transfer"},
    {"parts.RejectTransfer", &parts__transfer__descriptor, id_and_note, "cmd_reject_transfer"},
    {"parts.CancelTransfer", &parts__transfer__descriptor, id_and_note, "cmd_cancel_transfer"},
    {"parts.GetTransfer", &parts__transfer__descriptor, id_and_note, "cmd_get_transfer"},
    {"parts.ListTransfers", &parts__transfer_list__descriptor, list_transfers,
     "cmd_list_transfers"},
    {"parts.ListReservations", &parts__reservation_list__descriptor, list_reservations,
     "cmd_list_reservations"},
    {"parts.GetReplenishment", &parts__replenishment__descriptor, get_replenishment,
     "cmd_get_replenishment"},
    {"parts.ListReturns", &parts__return_list__descriptor, list_returns, "cmd_list_returns"},
    {"parts.ReceiveReturn", &parts__defective_return__descriptor, id_and_note,
     "cmd_receive_return"},
    {"parts.LendLoaner", &parts__loaner__descriptor, lend_loaner, "cmd_lend_loaner"},
    {"parts.ReturnLoaner", &parts__loaner__descriptor, return_loaner, "cmd_return_loaner"},
    {"parts.ListLoaners", &parts__loaner_list__descriptor, list_loaners, "cmd_list_loaners"},
    {"parts.RegisterLoaner", &parts__loaner__descriptor, register_loaner, "cmd_register_loaner"},
    {"parts.CheckLedger", &parts__ledger_check__descriptor, check_ledger, "cmd_check_ledger"},
    {"parts.SaveVan", &parts__van__descriptor, save_van, "cmd_save_van"},
    {"parts.ListVans", &parts__van_list__descriptor, list_vans, "cmd_list_vans"},
    {"parts.IssueOrderParts", &parts__order_issue__descriptor, issue_order_parts,
     "cmd_issue_order_parts"},
};

/* ---- intake's events ---- */

static int handled_event(const char *type)
{
    return strcmp(type, "intake.PartsRequested") == 0 ||
           strcmp(type, "intake.RepairCompleted") == 0 ||
           strcmp(type, "intake.TicketCancelled") == 0 ||
           strcmp(type, "intake.TicketOpened") == 0 || strcmp(type, "intake.TicketClosed") == 0 ||
           strcmp(type, "intake.ServiceOrderChanged") == 0;
}

static void on_intake_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (!handled_event(ev->type)) {
        as_event_commit(ev, NULL, 0); /* not for us: just move past it */
        return;
    }
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, ev->sequence);
    const char *p[3] = {ev->type, ev->json, seq};
    as_db_stmt_t st = {"SELECT apply_intake_event($1, $2::jsonb, $3::bigint)", 3, p};
    as_event_commit(ev, &st, 1);
}

/* The network from the people service: a centre opened or changed there becomes (or updates) a
 * site here, so it can take stock and transfers at once; the seed SQL is only the first load. */
static void on_people_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "people.CenterChanged") != 0) {
        as_event_commit(ev, NULL, 0); /* not for us: just move past it */
        return;
    }
    const char *p[1] = {ev->json};
    as_db_stmt_t st = {"SELECT on_center_changed($1::jsonb)", 1, p};
    as_event_commit(ev, &st, 1);
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_intake_event},
    {"people", on_people_event},
};

/* ---- start: the settings the SQL reads ---- */

static void settings_done(const as_db_result_t *r, void *ud)
{
    (void)ud;
    if (r->ok)
        AS_INFO("settings applied", "warehouse=%s defective_return_days=%ld window_days=%ld",
                cfg_warehouse, cfg_return_days, cfg_window_days);
    else
        AS_ERROR("settings not applied", "sqlstate=%s error=\"%s\"", r->sqlstate, r->message);
}

/* Write this process's settings into the schema before any command or event is applied: the
 * job is queued on the same connection ahead of anything the loop will submit. */
static int parts_start(as_service_t *svc)
{
    if (!pv_site_ok(cfg_warehouse)) {
        AS_ERROR("setting 'warehouse_site' is not a site code", "value=%s", cfg_warehouse);
        return -1;
    }
    json_t *s = json_object();
    json_object_set_new(s, "warehouse", json_string(cfg_warehouse));
    char buf[3][24];
    snprintf(buf[0], sizeof buf[0], "%ld", cfg_return_days);
    snprintf(buf[1], sizeof buf[1], "%ld", cfg_window_days);
    snprintf(buf[2], sizeof buf[2], "%ld", cfg_lead_days);
    json_object_set_new(s, "defective_return_days", json_string(buf[0]));
    json_object_set_new(s, "replenishment_window_days", json_string(buf[1]));
    json_object_set_new(s, "default_lead_time_days", json_string(buf[2]));
    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    if (!text)
        return -1;
    const char *p[1] = {text};
    as_db_stmt_t st = {"SELECT apply_settings($1::jsonb)", 1, p};
    int rc = as_db_submit(svc->db, &st, 1, settings_done, NULL);
    free(text);
    return rc < 0 ? -1 : 0;
}

static const as_service_def_t parts_service = {
    .name = "parts",
    AS_DEF_CMDS(commands),
    AS_DEF_SUBS(subscriptions),
    .publishes = 1,
    AS_DEF_EXTRA(parts_items),
    .start = parts_start,
    .metrics_sql = "SELECT name, labels, value, help FROM parts_metrics()",
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &parts_service);
}
