/* routes_settlement.c — the HTTP routes of the settlement service: charges, invoices,
 * manufacturer claims, accounting periods, ledger entries, cost analysis and the finance export.
 *
 * Most routes use the generic command mapping. Two custom handlers live here:
 *   - optional_body: POST actions whose JSON body may be empty (submit a claim, close a period);
 *   - export: GET /v1/settlement/export streams the ledger as CSV or JSON. It fetches pages of
 *     settlement.ExportPage from the service (all pages bounded by the ledger head seen on the
 *     first page, so the export is a consistent cut) and writes each page as soon as it arrives,
 *     with back-pressure: the next page is asked for only when the client has drained most of
 *     what was written. Memory stays at about one page whatever the size of the export. When a
 *     page cannot be had after the head was sent (the service failed or timed out past the
 *     retries), the stream is cut, never ended normally: see export_fail. */
#include "as/log.h"
#include "as/pbjson.h"
#include "gateway.h"
#include "settlement.pb-c.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIN           (R_FINANCE | R_ADMIN)
#define MONEY_READERS (R_ADMIN | R_FINANCE | R_REGION | R_CENTER | R_REVIEWER)

#define EXPORT_PAGE_ROWS 1000
#define EXPORT_LOW_WATER (256u * 1024u) /* ask for the next page below this many queued bytes */
#define EXPORT_RETRIES   5

/* ---- POST with an optional JSON body ---- */

static void reply_cb(int status, const As__Reply *reply, void *ud)
{
    gw_respond_reply((as_http_req_t *)ud, status, reply);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* The command of `rt` from an optional JSON object body plus the path parameters. */
static void optional_body(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                          const gw_principal_t *p)
{
    const ProtobufCMessageDescriptor *d = as_registry_find(rt->cmd);
    if (!d) {
        as_http_respond_error(r, 500, "internal", "route names an unknown command");
        return;
    }
    size_t len = 0;
    const char *body = as_http_req_body(r, &len);
    json_t *args;
    if (!body || blank(body, len)) {
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
    json_object_update(args, params);
    ProtobufCMessage *m = NULL;
    char err[300];
    int rc = as_pbjson_decode(d, args, NULL, &m, err, sizeof err);
    json_decref(args);
    if (rc < 0) {
        as_http_respond_error(r, 400, "invalid_field", err);
        return;
    }
    gw_call(r, rt, m, p, reply_cb, r); /* answers 503 itself when it cannot send */
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- the finance export ---- */

/* A growing byte buffer for one page of output. */
typedef struct sbuf {
    char *data;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void csv_field(sbuf_t *b, const char *s, int first)
{
    if (!first)
        sb_put(b, ",", 1);
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        sb_str(b, s);
        return;
    }
    sb_put(b, "\"", 1);
    for (const char *q = s; *q; q++) {
        if (*q == '"')
            sb_put(b, "\"\"", 2);
        else
            sb_put(b, q, 1);
    }
    sb_put(b, "\"", 1);
}

/* Cents as a decimal yuan amount: -1234 -> "-12.34". */
static void yuan(int64_t cents, char out[32])
{
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, 32, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", a / 100, a % 100);
}

static const char CSV_HEADER[] =
    "cursor,entry_no,line_no,business_date,posting_date,posting_period,kind,account,"
    "account_name,debit_cents,credit_cents,debit_yuan,credit_yuan,currency,ticket_id,"
    "invoice_no,claim_id,center,region,manufacturer,payer,memo,reverses\r\n";

static void csv_row(sbuf_t *b, const Settlement__ExportRow *x)
{
    char n1[32], n2[32], n3[32], n4[32], y1[32], y2[32], rv[32] = "";
    snprintf(n1, sizeof n1, "%" PRId64, x->entry_no);
    snprintf(n2, sizeof n2, "%d", x->line_no);
    snprintf(n3, sizeof n3, "%" PRId64, x->debit_cents);
    snprintf(n4, sizeof n4, "%" PRId64, x->credit_cents);
    yuan(x->debit_cents, y1);
    yuan(x->credit_cents, y2);
    if (x->has_reverses)
        snprintf(rv, sizeof rv, "%" PRId64, x->reverses);
    const char *f[] = {x->cursor,
                       n1,
                       n2,
                       x->business_date,
                       x->posting_date,
                       x->posting_period,
                       x->kind,
                       x->account,
                       x->account_name,
                       n3,
                       n4,
                       y1,
                       y2,
                       x->currency,
                       x->ticket_id,
                       x->invoice_no,
                       x->claim_id,
                       x->center,
                       x->region,
                       x->manufacturer,
                       x->payer,
                       x->memo,
                       rv};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        csv_field(b, f[i], i == 0);
    sb_put(b, "\r\n", 2);
}

static void json_row(sbuf_t *b, const Settlement__ExportRow *x, int first)
{
    json_t *o = as_pbjson_encode(&x->base);
    if (!o) {
        b->oom = 1;
        return;
    }
    char y[32];
    yuan(x->debit_cents, y);
    json_object_set_new(o, "debit_yuan", json_string(y));
    yuan(x->credit_cents, y);
    json_object_set_new(o, "credit_yuan", json_string(y));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) {
        b->oom = 1;
        return;
    }
    if (!first)
        sb_put(b, ",\n", 2);
    sb_str(b, s);
    free(s);
}

typedef struct export_job {
    as_http_req_t *r;
    gw_principal_t p;
    int csv;
    int started; /* the response head has been sent */
    int retries;
    char from[16], to[16];
    char after[48]; /* the cursor of the last row written (or the caller's) */
    int64_t upto;   /* the ledger head of the first page */
    int has_upto;
    int64_t rows;
} export_job_t;

static void export_fetch(export_job_t *j);

/* End the export: the response is finished (or the aborted request freed) and the job freed. */
static void export_finish(export_job_t *j)
{
    if (j->started)
        as_http_stream_end(j->r);
    else
        as_http_respond_error(j->r, 502, "bad_gateway",
                              "the export stopped"); /* frees if aborted */
    free(j);
}

/* The export cannot go on. Before the head: an error answer. After it (the status line said 200)
 * the body is cut so that no client can take it for a whole export: a CSV gets a last line
 * "#error,<reason>", a JSON document stays unterminated (no closing bracket, so it does not
 * parse), and the connection closes without the last chunk of the chunked encoding (curl exits
 * 18). A client that already left needs nothing. Frees the job. */
static void export_fail(export_job_t *j, const char *reason)
{
    as_http_req_t *r = j->r;
    if (!j->started || as_http_req_aborted(r)) {
        export_finish(j);
        return;
    }
    AS_ERROR("export aborted", "subject=%s rows=%" PRId64 " after=%s reason=\"%s\"", j->p.subject,
             j->rows, j->after[0] ? j->after : "-", reason);
    if (j->csv) {
        sbuf_t b = {0};
        sb_str(&b, "#error");
        csv_field(&b, reason, 0);
        sb_put(&b, "\r\n", 2);
        as_http_stream_abort(r, b.oom ? "#error\r\n" : b.data);
        free(b.data);
    } else {
        as_http_stream_abort(r, NULL);
    }
    free(j);
}

static void export_resume(as_http_req_t *r, void *arg)
{
    export_job_t *j = arg;
    (void)r;
    if (as_http_req_aborted(j->r)) {
        export_finish(j);
        return;
    }
    export_fetch(j);
}

static void export_page_done(int status, const As__Reply *reply, void *ud)
{
    export_job_t *j = ud;
    as_http_req_t *r = j->r;
    if (as_http_req_aborted(r)) {
        export_finish(j);
        return;
    }
    Settlement__ExportRows *page = NULL;
    if (status == 200 && reply && (!reply->has_status || reply->status == 200))
        page = (Settlement__ExportRows *)gw_reply_body(reply, &settlement__export_rows__descriptor);
    if (!page) {
        if (!j->started) {
            /* Nothing sent yet: the caller gets the service's answer (400, 403, 504...). */
            if (status == 200 && reply && (!reply->has_status || reply->status == 200))
                as_http_respond_error(r, 502, "bad_gateway", "the service sent no export page");
            else
                gw_respond_reply(r, status, reply);
            free(j);
            return;
        }
        if (j->retries++ < EXPORT_RETRIES && (status == 503 || status == 504 || !reply)) {
            export_fetch(j); /* reads are safe to repeat */
            return;
        }
        /* The head is sent: the body stops short, marked so (see export_fail). */
        char why[300];
        if (status == 504)
            snprintf(why, sizeof why,
                     "the settlement service did not answer in time (%d attempts); the export "
                     "is incomplete",
                     j->retries);
        else if (status == 200 && reply && (!reply->has_status || reply->status == 200))
            snprintf(why, sizeof why,
                     "the settlement service sent no export page; the export is incomplete");
        else
            snprintf(why, sizeof why,
                     "the settlement service failed (status %d%s%s); the export is incomplete",
                     reply && reply->has_status ? reply->status : status,
                     reply && reply->code ? ", " : "", reply && reply->code ? reply->code : "");
        export_fail(j, why);
        return;
    }
    j->retries = 0;
    sbuf_t b = {0};
    if (!j->started) {
        j->upto = page->has_head ? page->head : 0;
        j->has_upto = 1;
        char extra[256];
        snprintf(extra, sizeof extra,
                 "Content-Disposition: attachment; filename=\"settlement-export.%s\"\r\n"
                 "X-Export-Head: %" PRId64 "\r\nCache-Control: no-store\r\n",
                 j->csv ? "csv" : "json", j->upto);
        as_http_stream_begin(
            r, 200, j->csv ? "text/csv; charset=utf-8; header=present" : "application/json", extra);
        j->started = 1;
        if (j->csv)
            sb_put(&b, CSV_HEADER, sizeof CSV_HEADER - 1);
        else
            sb_printf(&b, "{\"head\":%" PRId64 ",\"rows\":[\n", j->upto);
    }
    for (size_t i = 0; i < page->n_rows; i++) {
        const Settlement__ExportRow *x = page->rows[i];
        if (j->csv)
            csv_row(&b, x);
        else
            json_row(&b, x, j->rows == 0);
        j->rows++;
        if (x->cursor)
            snprintf(j->after, sizeof j->after, "%s", x->cursor);
    }
    int more = page->next != NULL && page->n_rows > 0;
    protobuf_c_message_free_unpacked(&page->base, NULL);
    if (!more && !j->csv) {
        json_t *nx = json_string(j->after);
        char *nxs = nx ? json_dumps(nx, JSON_ENCODE_ANY) : NULL;
        sb_printf(&b, "\n],\"count\":%" PRId64 ",\"next\":", j->rows);
        sb_str(&b, nxs ? nxs : "\"\"");
        sb_str(&b, "}\n");
        free(nxs);
        json_decref(nx);
    }
    if (b.oom) {
        free(b.data);
        export_fail(j, "the gateway ran out of memory; the export is incomplete");
        return;
    }
    if (b.len)
        as_http_stream_write(r, b.data, b.len);
    free(b.data);
    if (as_http_req_aborted(r) || !more) {
        export_finish(j);
        return;
    }
    if (as_http_stream_on_drain(r, EXPORT_LOW_WATER, export_resume, j) == 1)
        export_fetch(j);
}

static void export_fetch(export_job_t *j)
{
    Settlement__ExportPage q = SETTLEMENT__EXPORT_PAGE__INIT;
    q.from = j->from[0] ? j->from : NULL;
    q.to = j->to[0] ? j->to : NULL;
    q.after = j->after[0] ? j->after : NULL;
    q.has_limit = 1;
    q.limit = EXPORT_PAGE_ROWS;
    q.has_upto = j->has_upto;
    q.upto = j->upto;
    if (gw_call_type(j->r, "settlement", "settlement.ExportPage", &q.base, NULL, &j->p,
                     export_page_done, j) < 0) {
        /* Before the head this already answered 503; while streaming it could not. */
        if (j->started)
            export_fail(j, "the gateway could not ask the settlement service for the next page; "
                           "the export is incomplete");
        else
            free(j);
    }
}

/* GET /v1/settlement/export?from=&to=&format=csv|json&after= (the route's `query` lists the
 * parameters; the gateway refuses any other before this runs) */
static void export_handler(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                           const gw_principal_t *p)
{
    (void)rt;
    (void)params;
    const char *format = as_http_req_query(r, "format");
    const char *from = as_http_req_query(r, "from"), *to = as_http_req_query(r, "to");
    const char *after = as_http_req_query(r, "after");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        as_http_respond_error(r, 400, "bad_query", "format must be csv or json");
        return;
    }
    if ((from && strlen(from) > 10) || (to && strlen(to) > 10)) {
        as_http_respond_error(r, 400, "bad_query", "from and to must be dates YYYY-MM-DD");
        return;
    }
    if (after && strlen(after) > 40) {
        as_http_respond_error(r, 400, "bad_query", "after must be a cursor from an earlier export");
        return;
    }
    export_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    j->r = r;
    j->p = *p;
    j->csv = !format || strcmp(format, "csv") == 0;
    snprintf(j->from, sizeof j->from, "%s", from ? from : "");
    snprintf(j->to, sizeof j->to, "%s", to ? to : "");
    snprintf(j->after, sizeof j->after, "%s", after ? after : "");
    export_fetch(j);
}

const gw_route_t gw_routes_settlement[] = {
    {"GET", "/v1/settlement/charges/{ticket_id}", MONEY_READERS, "settlement",
     "settlement.GetCharges", 0, NULL, NULL, NULL,
     "a ticket's charge lines, payers, totals and ledger entries", NULL},
    {"GET", "/v1/settlement/invoices", FIN | R_REGION | R_CENTER, "settlement",
     "settlement.ListInvoices", 0, NULL, NULL, NULL,
     "customer invoices (center, year; cursor pagination)", NULL},
    {"GET", "/v1/settlement/invoices/{invoice_no}", FIN | R_REGION | R_CENTER, "settlement",
     "settlement.GetInvoice", 0, NULL, NULL, NULL, "one customer invoice with its lines", NULL},
    {"GET", "/v1/settlement/claims", FIN, "settlement", "settlement.ListClaims", 0, NULL, NULL,
     NULL, "manufacturer claims (manufacturer, period, state; cursor pagination)",
     "state=open|submitted|approved|partially_approved|rejected|paid"},
    {"GET", "/v1/settlement/claims/{id}", FIN, "settlement", "settlement.GetClaim", 0, NULL, NULL,
     NULL, "one manufacturer claim with its lines", NULL},
    {"POST", "/v1/settlement/claims/{id}/submit", FIN, "settlement", "settlement.SubmitClaim", 1,
     NULL, NULL, optional_body,
     "submit an open claim (409 while a line waits for its defective part)", NULL},
    {"POST", "/v1/settlement/claims/{id}/decision", FIN, "settlement", "settlement.DecideClaim", 1,
     NULL, NULL, NULL, "record the manufacturer's decision per line", NULL},
    {"POST", "/v1/settlement/claims/{id}/payment", FIN, "settlement", "settlement.PayClaim", 1,
     NULL, NULL, optional_body, "record the manufacturer's payment of a decided claim", NULL},
    {"GET", "/v1/settlement/refunds", FIN, "settlement", "settlement.ListRefunds", 0, NULL, NULL,
     NULL, "refunds payable (2241) not cleared yet, per ticket", NULL},
    {"GET", "/v1/settlement/refunds/{ticket_id}", FIN, "settlement", "settlement.GetRefund", 0,
     NULL, NULL, NULL, "a ticket's refund payable, payouts and what is outstanding", NULL},
    {"POST", "/v1/settlement/refunds/{ticket_id}/payout", FIN, "settlement", "settlement.PayRefund",
     1, NULL, NULL, NULL, "record the payout of a refund payable (method, reference)", NULL},
    {"GET", "/v1/settlement/periods", FIN, "settlement", "settlement.ListPeriods", 0, NULL, NULL,
     NULL, "accounting periods with their state and totals", NULL},
    {"POST", "/v1/settlement/periods/{period}/close", FIN, "settlement", "settlement.ClosePeriod",
     1, NULL, NULL, optional_body, "close an accounting period (YYYY-MM)", NULL},
    {"GET", "/v1/settlement/entries/{id}", FIN, "settlement", "settlement.GetEntry", 0, NULL, NULL,
     NULL, "one journal entry with its lines", NULL},
    {"POST", "/v1/settlement/entries/{id}/reverse", FIN, "settlement", "settlement.ReverseEntry", 1,
     NULL, NULL, NULL, "post the reversal of a journal entry", NULL},
    {"GET", "/v1/settlement/balance", FIN, "settlement", "settlement.GetBalance", 0, NULL, NULL,
     NULL, "trial balance by account (period, or from/to posting dates)", NULL},
    {"GET", "/v1/settlement/costs", FIN | R_REGION, "settlement", "settlement.GetCosts", 0, NULL,
     NULL, NULL, "service cost analysis by region, center or cause", "group=region|center|cause"},
    {"GET", "/v1/settlement/rates", MONEY_READERS, "settlement", "settlement.GetRates", 0, NULL,
     NULL, NULL, "the price list: labour, parts, fees and VAT in force on a date (default today)",
     "date"},
    {"POST", "/v1/settlement/rates/labour", FIN, "settlement", "settlement.SetLabourRate", 1, NULL,
     NULL, NULL, "a new version of a labour rate, in force from a date (today or later)", NULL},
    {"POST", "/v1/settlement/rates/parts", FIN, "settlement", "settlement.SetPartPrice", 1, NULL,
     NULL, NULL, "a new version of a part's price, in force from a date (today or later)", NULL},
    {"POST", "/v1/settlement/rates/fees", FIN, "settlement", "settlement.SetFeeRate", 1, NULL, NULL,
     NULL, "a new version of a fee (or its withdrawal), in force from a date", NULL},
    {"POST", "/v1/settlement/rates/handling", FIN, "settlement", "settlement.SetClaimHandling", 1,
     NULL, NULL, NULL, "a new version of a manufacturer's claim handling surcharge, from a date",
     NULL},
    {"POST", "/v1/settlement/rates/travel", FIN, "settlement", "settlement.SetTravelRate", 1, NULL,
     NULL, NULL, "a new version of the on-site travel rate per km, from a date", NULL},
    {"GET", "/v1/settlement/travel-rates", MONEY_READERS, "settlement",
     "settlement.ListTravelRates", 0, NULL, NULL, NULL,
     "the travel rates per km of on-site visits, by category and effective date", NULL},
    {"POST", "/v1/service-orders/{id}/payment", FIN | R_CENTER, "settlement",
     "settlement.PayOrderInvoice", 1, NULL, NULL, NULL,
     "the customer pays an on-site visit's invoice (method, reference): posted once", NULL},
    {"GET", "/v1/settlement/export", R_FINANCE, "settlement", "settlement.ExportPage", 0, NULL,
     NULL, export_handler, "finance export of the ledger (CSV or JSON, streamed, cursor)",
     "format=csv|json from to after"},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
