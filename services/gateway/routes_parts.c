/* routes_parts.c — the HTTP routes of the parts service (stock, ledger, transfers, safety stock,
 * defective returns, loaners).
 *
 * Scope is decided by the parts service from the principal: the warehouse and admins act on
 * every site, a centre on its own site, a region reads its region's sites. The role bits below
 * only keep roles away from routes they never use. Action routes (ship, receive, cancel, return)
 * accept an empty body as well as a JSON object. */
#include "gateway.h"

#include "as/pbjson.h"

#include <stdlib.h>
#include <string.h>

#define READ         (R_ADMIN | R_WAREHOUSE | R_CENTER | R_REGION)
#define WRITE        (R_ADMIN | R_WAREHOUSE | R_CENTER)
#define WH           (R_ADMIN | R_WAREHOUSE)
#define RETURNS_READ (R_ADMIN | R_WAREHOUSE | R_CENTER | R_REGION | R_FINANCE | R_REVIEWER)

static void action_done(int status, const As__Reply *reply, void *ud)
{
    gw_respond_reply(ud, status, reply);
}

/* A POST whose body is optional: no body means {}; path parameters are merged in. */
static void action(as_http_req_t *r, const gw_route_t *rt, json_t *params, const gw_principal_t *p)
{
    size_t len = 0;
    const char *body = as_http_req_body(r, &len);
    json_t *args;
    if (len == 0) {
        args = json_object();
    } else {
        json_error_t jerr;
        args = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!args || !json_is_object(args)) {
            json_decref(args);
            as_http_respond_error(r, 400, "malformed_json", "the body must be a JSON object");
            return;
        }
    }
    if (params)
        json_object_update(args, params);
    const ProtobufCMessageDescriptor *d = as_registry_find(rt->cmd);
    ProtobufCMessage *m = NULL;
    char err[300];
    if (!d || as_pbjson_decode(d, args, NULL, &m, err, sizeof err) < 0) {
        json_decref(args);
        as_http_respond_error(r, 400, "invalid_field", d ? err : "unknown command");
        return;
    }
    json_decref(args);
    gw_call(r, rt, m, p, action_done, r); /* answers 503 itself when it cannot send */
    protobuf_c_message_free_unpacked(m, NULL);
}

const gw_route_t gw_routes_parts[] = {
    {"GET", "/v1/parts/skus", R_ALL, "parts", "parts.ListSkus", 0, NULL, NULL, NULL,
     "the parts catalogue (filters brand, model, q)", NULL},
    {"POST", "/v1/parts/skus", WH, "parts", "parts.PutSku", 1, NULL, NULL, NULL,
     "add or change a catalogue entry", NULL},
    {"GET", "/v1/parts/stock", READ, "parts", "parts.GetStock", 0, NULL, NULL, NULL,
     "stock per site and SKU: on hand, reserved, available, defective, inbound, backordered", NULL},
    {"POST", "/v1/parts/stock/safety", WH, "parts", "parts.SetSafetyStock", 1, NULL, NULL, NULL,
     "set the safety level, reorder point and lead time of a site and SKU", NULL},
    {"GET", "/v1/parts/movements", READ, "parts", "parts.ListMovements", 0, NULL, NULL, NULL,
     "the stock ledger (filters site, sku, kind, ticket_id; cursor after, limit)",
     "kind=receipt|transfer_out|transfer_in|reserve|release|issue|defective_return|scrap|"
     "adjustment"},
    {"POST", "/v1/parts/receipts", WRITE, "parts", "parts.ReceiveStock", 1, NULL, NULL, NULL,
     "receive goods: one line, or a CSV file (site,sku,qty,note) applied whole or not at all",
     NULL},
    {"POST", "/v1/parts/adjustments", WRITE, "parts", "parts.AdjustStock", 1, NULL, NULL, NULL,
     "correct on-hand stock with a reason", NULL},
    {"POST", "/v1/parts/scrap", WRITE, "parts", "parts.ScrapStock", 1, NULL, NULL, NULL,
     "scrap defective (or good) units with a reason", NULL},
    {"GET", "/v1/parts/transfers", READ, "parts", "parts.ListTransfers", 0, NULL, NULL, NULL,
     "transfers from or to the caller's sites",
     "state=pending_approval|waiting|allocated|shipped|received|cancelled"},
    {"POST", "/v1/parts/transfers", WRITE, "parts", "parts.CreateTransfer", 1, NULL, NULL, NULL,
     "request a transfer between sites (allocated at the source when it has the stock)", NULL},
    {"GET", "/v1/parts/transfers/{id}", READ, "parts", "parts.GetTransfer", 0, NULL, NULL, NULL,
     "one transfer", NULL},
    {"POST", "/v1/parts/transfers/{id}/ship", WRITE, "parts", "parts.ShipTransfer", 1, NULL, NULL,
     action, "the source ships an allocated transfer", NULL},
    {"POST", "/v1/parts/transfers/{id}/receive", WRITE, "parts", "parts.ReceiveTransfer", 1, NULL,
     NULL, action, "the destination confirms a shipped transfer's arrival (short or damaged lines)",
     NULL},
    {"POST", "/v1/parts/transfers/{id}/cancel", WRITE, "parts", "parts.CancelTransfer", 1, NULL,
     NULL, action, "cancel a transfer that has not left", NULL},
    {"POST", "/v1/parts/transfers/{id}/approve", WRITE, "parts", "parts.ApproveTransfer", 1, NULL,
     NULL, action, "the source site approves a transfer pending its approval", NULL},
    {"POST", "/v1/parts/transfers/{id}/reject", WRITE, "parts", "parts.RejectTransfer", 1, NULL,
     NULL, action, "the source site (or the requester) refuses a transfer pending approval", NULL},
    {"GET", "/v1/parts/reservations", READ, "parts", "parts.ListReservations", 0, NULL, NULL, NULL,
     "ticket lines and their reservations (filters ticket_id, site, state)",
     "state=reserved|backordered|issued|released|cancelled"},
    {"GET", "/v1/parts/replenishment", READ, "parts", "parts.GetReplenishment", 0, NULL, NULL, NULL,
     "what to reorder, with a suggested quantity", NULL},
    {"GET", "/v1/parts/returns", RETURNS_READ, "parts", "parts.ListReturns", 0, NULL, NULL, NULL,
     "defective returns (status owed | overdue | returned)", "status=owed|overdue|returned"},
    {"POST", "/v1/parts/returns/{id}/receive", WH, "parts", "parts.ReceiveReturn", 1, NULL, NULL,
     action, "the warehouse receives a defective part", NULL},
    {"GET", "/v1/parts/loaners", READ, "parts", "parts.ListLoaners", 0, NULL, NULL, NULL,
     "loaner units and who holds them", "state=available|lent|retired"},
    {"POST", "/v1/parts/loaners", WH, "parts", "parts.RegisterLoaner", 1, NULL, NULL, NULL,
     "register a loaner unit at a site", NULL},
    {"POST", "/v1/parts/loaners/{serial}/lend", WRITE, "parts", "parts.LendLoaner", 1, NULL, NULL,
     NULL, "lend a loaner unit to a ticket's customer", NULL},
    {"POST", "/v1/parts/loaners/{serial}/return", WRITE, "parts", "parts.ReturnLoaner", 1, NULL,
     NULL, action, "take a loaner unit back", NULL},
    {"GET", "/v1/parts/vans", READ, "parts", "parts.ListVans", 0, NULL, NULL, NULL,
     "technicians' vans (sites of kind van) in scope (filters center, technician)", NULL},
    {"POST", "/v1/parts/vans", WRITE, "parts", "parts.SaveVan", 1, NULL, NULL, NULL,
     "register or change a technician's van (a site owned by a centre)", NULL},
    {"GET", "/v1/parts/ledger/check", WH, "parts", "parts.CheckLedger", 0, NULL, NULL, NULL,
     "prove that every balance equals its ledger", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
