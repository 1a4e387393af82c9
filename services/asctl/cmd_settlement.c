/* cmd_settlement.c — `asctl settlement …`: finance's verbs (charges, invoices, manufacturer
 * claims, accounting periods, the trial balance, cost analysis, journal entries) and the
 * streamed finance export, written to a file with its progress on stderr. */
#include "asctl.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A string field, or `dflt` when absent. */
static const char *str_or(json_t *obj, const char *field, const char *dflt)
{
    const char *v = json_string_value(json_object_get(obj, field));
    return v ? v : dflt;
}

/* An integer field as yuan text ("" when absent). */
static const char *yuan_of(json_t *obj, const char *field, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, field);
    if (!json_is_integer(v)) {
        buf[0] = '\0';
        return buf;
    }
    return asctl_verb_yuan(json_integer_value(v), buf, len);
}

/* ---- charges and invoices ---------------------------------------------------------------- */

static const char *const LINE_MONEY[] = {"unit_cents", "amount_cents", "cost_cents", NULL};

static const asctl_col_t CHARGE_LINE_COLS[] = {
    {"LINE", "line_no", 4},
    {"KIND", "kind", 8},
    {"CODE", "code", 14},
    {"DESCRIPTION", "description", 30},
    {"QTY", "qty", 3},
    {"UNIT", "unit_cents_yuan", 10},
    {"AMOUNT", "amount_cents_yuan", 10},
    {"PAYER", "payer", 12},
    {"BASIS", "basis", 5},
    {"COST", "cost_cents_yuan", 10},
    {"CLAIM", "claim_id", 22},
};

static void print_charges(json_t *c)
{
    char b[512], y1[48], y2[48], y3[48], y4[48], y5[48];
    printf("ticket         %s   centre %s (%s)   %s, payer %s\n",
           asctl_get(c, "ticket_id", b, sizeof b), json_string_value(json_object_get(c, "center")),
           str_or(c, "region", "-"), json_string_value(json_object_get(c, "kind")),
           json_string_value(json_object_get(c, "payer")));
    snprintf(b, sizeof b, "%s / %s", str_or(c, "warranty_status", "-"), str_or(c, "remedy", "-"));
    asctl_verb_line("warranty", b);
    asctl_verb_line("cause", json_string_value(json_object_get(c, "cause")));
    snprintf(b, sizeof b, "%s %s (%s)", str_or(c, "brand", ""), str_or(c, "category", ""),
             str_or(c, "manufacturer", "-"));
    asctl_verb_line("product", b);
    asctl_verb_line("business date", json_string_value(json_object_get(c, "business_date")));
    json_t *lines = json_object_get(c, "lines");
    asctl_verb_add_yuan(lines, LINE_MONEY);
    printf("\n");
    asctl_print_table(lines, CHARGE_LINE_COLS,
                      sizeof CHARGE_LINE_COLS / sizeof CHARGE_LINE_COLS[0]);
    printf("\ncustomer %s (VAT %s)   manufacturer %s   company %s   seller %s   %s\n",
           yuan_of(c, "customer_cents", y1, sizeof y1), yuan_of(c, "vat_cents", y2, sizeof y2),
           yuan_of(c, "manufacturer_cents", y3, sizeof y3),
           yuan_of(c, "company_cents", y4, sizeof y4), yuan_of(c, "seller_cents", y5, sizeof y5),
           str_or(c, "currency", ""));
    asctl_verb_line("invoice", json_string_value(json_object_get(c, "invoice_no")));
    if (json_object_get(c, "closed_outcome")) {
        snprintf(b, sizeof b, "%s on %s", json_string_value(json_object_get(c, "closed_outcome")),
                 str_or(c, "closed_date", "?"));
        asctl_verb_line("closed", b);
    }
    asctl_verb_line("entries", asctl_get(c, "entries", b, sizeof b));
    if (json_is_true(json_object_get(c, "incomplete")))
        printf("INCOMPLETE     a rate was missing: some line is priced 0\n");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(c, "notes"), i, n)
        asctl_verb_line("note", json_string_value(n));
}

static const char *const INVOICE_MONEY[] = {"net_cents", "vat_cents", "total_cents", NULL};

static void print_invoice(json_t *inv)
{
    char b[256], y1[48], y2[48], y3[48];
    printf("invoice        %s   ticket %s   centre %s   issued %s\n",
           asctl_get(inv, "invoice_no", b, sizeof b),
           json_string_value(json_object_get(inv, "ticket_id")),
           json_string_value(json_object_get(inv, "center")),
           json_string_value(json_object_get(inv, "issue_date")));
    json_t *lines = json_object_get(inv, "lines");
    asctl_verb_add_yuan(lines, LINE_MONEY);
    printf("\n");
    asctl_print_table(lines, CHARGE_LINE_COLS, 9);
    printf("\nnet %s + VAT %s (%s bp) = total %s %s   paid %s\n",
           yuan_of(inv, "net_cents", y1, sizeof y1), yuan_of(inv, "vat_cents", y2, sizeof y2),
           asctl_get(inv, "vat_rate_bp", b, sizeof b), yuan_of(inv, "total_cents", y3, sizeof y3),
           str_or(inv, "currency", ""), json_is_true(json_object_get(inv, "paid")) ? "yes" : "no");
}

static void print_invoices(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"INVOICE", "invoice_no", 18},     {"TICKET", "ticket_id", 10},
        {"CENTRE", "center", 6},           {"ISSUED", "issue_date", 10},
        {"NET", "net_cents_yuan", 10},     {"VAT", "vat_cents_yuan", 9},
        {"TOTAL", "total_cents_yuan", 10}, {"PAID", "paid", 4},
    };
    json_t *inv = json_object_get(ans, "invoices");
    asctl_verb_add_yuan(inv, INVOICE_MONEY);
    asctl_print_table(inv, cols, sizeof cols / sizeof cols[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl settlement invoices --after %s (with the same filters)\n", next);
}

/* ---- manufacturer claims ----------------------------------------------------------------- */

static const char *const CLAIM_MONEY[] = {"claimed_cents", "approved_cents", "paid_cents", NULL};

static void print_claim(json_t *c)
{
    char b[512], y1[48], y2[48], y3[48];
    printf("claim          %s   %s   period %s   batch %s   %s\n", asctl_get(c, "id", b, sizeof b),
           json_string_value(json_object_get(c, "manufacturer")),
           json_string_value(json_object_get(c, "period")), asctl_get(c, "batch", y1, sizeof y1),
           json_string_value(json_object_get(c, "state")));
    printf("amounts        claimed %s   approved %s   paid %s   %s\n",
           yuan_of(c, "claimed_cents", y1, sizeof y1), yuan_of(c, "approved_cents", y2, sizeof y2),
           yuan_of(c, "paid_cents", y3, sizeof y3), str_or(c, "currency", ""));
    /* clang-format off */
    static const char *const fields[] = {
        "created", "created_at",
        "submitted", "submitted_at",
        "decided", "decided_at",
        "paid", "paid_date",
        "reference", "reference",
        "deferred to", "deferred_to",
        NULL};
    /* clang-format on */
    asctl_print_lines(c, fields);
    if (json_array_size(json_object_get(c, "waiting_lines")) > 0)
        asctl_verb_line("waiting", asctl_get(c, "waiting_lines", b, sizeof b));
    static const asctl_col_t cols[] = {
        {"LINE", "line_no", 4},
        {"TICKET", "ticket_id", 10},
        {"CENTRE", "center", 6},
        {"KIND", "kind", 6},
        {"CODE", "code", 14},
        {"QTY", "qty", 3},
        {"CLAIMED", "claimed_cents_yuan", 10},
        {"APPROVED", "approved_cents_yuan", 10},
        {"STATE", "state", 18},
        {"RETURN", "return_required", 6},
        {"BACK", "returned", 4},
        {"REASON", "reason", 30},
    };
    static const char *const money[] = {"claimed_cents", "approved_cents", NULL};
    json_t *lines = json_object_get(c, "lines");
    if (json_array_size(lines) > 0) {
        asctl_verb_add_yuan(lines, money);
        printf("\n");
        asctl_print_table(lines, cols, sizeof cols / sizeof cols[0]);
    }
}

static void print_claims(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"CLAIM", "id", 24},
        {"MAKER", "manufacturer", 8},
        {"PERIOD", "period", 7},
        {"STATE", "state", 18},
        {"LINES", "line_count", 5},
        {"CLAIMED", "claimed_cents_yuan", 11},
        {"APPROVED", "approved_cents_yuan", 11},
        {"PAID", "paid_cents_yuan", 11},
        {"CREATED", "created_at", 24},
    };
    json_t *claims = json_object_get(ans, "claims");
    asctl_verb_add_yuan(claims, CLAIM_MONEY);
    asctl_print_table(claims, cols, sizeof cols / sizeof cols[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl settlement claims --after %s (with the same filters)\n", next);
}

static int claim_post(const asctl_opts_t *o, const char *id, const char *verb, json_t *body)
{
    char fmt[128], path[256];
    snprintf(fmt, sizeof fmt, "/v1/settlement/claims/%%s/%s", verb);
    if (asctl_verb_path(path, sizeof path, fmt, id) < 0) {
        json_decref(body);
        return ASCTL_USAGE;
    }
    return asctl_request(o, "POST", path, body, NULL, print_claim);
}

/* Yuan with exactly two decimals: "50.00" (the service checks the same). */
static int yuan_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || dot - s > 12 || strlen(dot) != 3)
        return 0;
    for (const char *p = s; *p; p++)
        if (p != dot && (*p < '0' || *p > '9'))
            return 0;
    return 1;
}

/* One --approve N, --reject N:REASON or --partial N:YUAN:REASON as a LineDecision. */
static json_t *line_decision(const char *opt, const char *v)
{
    char *end;
    long line = strtol(v, &end, 10);
    if (end == v || line <= 0 || (*end && *end != ':')) {
        fprintf(stderr, "asctl: %s expects a claim line number first, got '%s'\n", opt, v);
        return NULL;
    }
    json_t *d = json_pack("{s:i}", "line_no", (int)line);
    const char *rest = *end ? end + 1 : "";
    if (strcmp(opt, "--approve") == 0) {
        json_object_set_new(d, "approved", json_true());
        if (*rest)
            json_object_set_new(d, "reason", json_string(rest));
    } else if (strcmp(opt, "--reject") == 0) {
        if (!*rest) {
            fprintf(stderr, "asctl: --reject expects LINE:REASON (the reason is required)\n");
            json_decref(d);
            return NULL;
        }
        json_object_set_new(d, "approved", json_false());
        json_object_set_new(d, "reason", json_string(rest));
    } else {
        /* LINE:YUAN:REASON, the amount in yuan with two decimals (50.00): never a bare number
         * that could be read as cents or as yuan. */
        const char *colon = strchr(rest, ':');
        char amount[32];
        size_t n = colon ? (size_t)(colon - rest) : 0;
        if (!colon || n >= sizeof amount || !colon[1]) {
            fprintf(stderr,
                    "asctl: --partial expects LINE:YUAN:REASON (e.g. 2:50.00:capped), "
                    "got '%s'\n",
                    v);
            json_decref(d);
            return NULL;
        }
        memcpy(amount, rest, n);
        amount[n] = '\0';
        if (!yuan_ok(amount)) {
            fprintf(stderr,
                    "asctl: --partial amount '%s' must be yuan with two decimals (e.g. 50.00)\n",
                    amount);
            json_decref(d);
            return NULL;
        }
        json_object_set_new(d, "approved", json_true());
        json_object_set_new(d, "approved_amount", json_string(amount));
        json_object_set_new(d, "reason", json_string(colon + 1));
    }
    return d;
}

static int s_claim_decide(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--approve= --reject= --partial= --approve-others --correction= --file=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "settlement claim-decide") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    const char *file = asctl_opt(argc, argv, "--file");
    json_t *b;
    if (file) {
        b = asctl_verb_read_json(file);
        if (!b || !json_is_object(b)) {
            if (b)
                fprintf(stderr,
                        "asctl: %s must hold one JSON object {\"lines\": [...], "
                        "\"approve_others\": bool}\n",
                        file);
            json_decref(b);
            return ASCTL_USAGE;
        }
    } else {
        json_t *lines = json_array();
        for (int i = 0; i + 1 < argc; i++) {
            if (strcmp(argv[i], "--approve") != 0 && strcmp(argv[i], "--reject") != 0 &&
                strcmp(argv[i], "--partial") != 0)
                continue;
            json_t *d = line_decision(argv[i], argv[i + 1]);
            if (!d) {
                json_decref(lines);
                return ASCTL_USAGE;
            }
            json_array_append_new(lines, d);
            i++;
        }
        int others = asctl_flag(argc, argv, "--approve-others");
        if (json_array_size(lines) == 0 && !others) {
            fprintf(stderr, "asctl: settlement claim-decide needs line decisions (--approve N, "
                            "--reject N:REASON, --partial N:YUAN:REASON) and/or "
                            "--approve-others\n");
            json_decref(lines);
            return ASCTL_USAGE;
        }
        b = json_pack("{s:o}", "lines", lines);
        if (others)
            json_object_set_new(b, "approve_others", json_true());
        const char *corr = asctl_opt(argc, argv, "--correction");
        if (corr)
            json_object_set_new(b, "correction_reason", json_string(corr));
    }
    return claim_post(&o, asctl_verb_pos(argc, argv, spec, 0), "decision", b);
}

static int s_claim_pay(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--amount= --amount-cents= --date= --reference=";
    static const char *const map[] = {
        "--amount",  "paid_amount", "s",           "--amount-cents", "paid_cents", "i", "--date",
        "paid_date", "s",           "--reference", "reference",      "s",          NULL};
    if (asctl_verb_check(argc, argv, spec, 1, 1, "settlement claim-pay") < 0)
        return ASCTL_USAGE;
    const char *amount = asctl_opt(argc, argv, "--amount");
    if (amount && !yuan_ok(amount)) {
        fprintf(stderr,
                "asctl: --amount '%s' must be yuan with two decimals (e.g. 175.00); "
                "or give --amount-cents N\n",
                amount);
        return ASCTL_USAGE;
    }
    if (amount && asctl_opt(argc, argv, "--amount-cents")) {
        fprintf(stderr, "asctl: give --amount (yuan) or --amount-cents, not both\n");
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return claim_post(&o, asctl_verb_pos(argc, argv, spec, 0), "payment", b);
}

/* ---- refunds payable and their payouts ---------------------------------------------------- */

static const char *const REFUND_MONEY[] = {"payable_cents", "paid_cents", "outstanding_cents",
                                           NULL};
static const asctl_col_t REFUND_COLS[] = {
    {"TICKET", "ticket_id", 12},
    {"CENTRE", "center", 6},
    {"KIND", "kind", 9},
    {"PAYABLE", "payable_cents_yuan", 12},
    {"PAID", "paid_cents_yuan", 12},
    {"OUTSTANDING", "outstanding_cents_yuan", 12},
};

static const asctl_view_t REFUNDS_VIEW = ASCTL_VIEW("refunds", REFUND_COLS, .money = REFUND_MONEY);

static void print_refund(json_t *r)
{
    asctl_print_row(r, REFUND_MONEY, REFUND_COLS, ASCTL_NCOLS(REFUND_COLS));
    static const char *const pm[] = {"amount_cents", NULL};
    static const asctl_col_t cols[] = {
        {"PAYOUT", "id", 6},      {"DATE", "paid_date", 10},
        {"METHOD", "method", 13}, {"AMOUNT", "amount_cents_yuan", 12},
        {"ENTRY", "entry_no", 6}, {"REFERENCE", "reference", 24},
    };
    json_t *p = json_object_get(r, "payouts");
    if (json_array_size(p) > 0) {
        printf("\n");
        asctl_verb_add_yuan(p, pm);
        asctl_print_table(p, cols, sizeof cols / sizeof cols[0]);
    }
}

/* ---- periods, balance, costs, entries ---------------------------------------------------- */

static const char *const DC_MONEY[] = {"debit_cents", "credit_cents", "balance_cents", NULL};

static const asctl_col_t PERIOD_COLS[] = {
    {"PERIOD", "period", 7},
    {"STATE", "state", 6},
    {"ENTRIES", "entries", 7},
    {"DEBIT", "debit_cents_yuan", 14},
    {"CREDIT", "credit_cents_yuan", 14},
    {"CLOSED_AT", "closed_at", 24},
    {"BY", "closed_by", 12},
};

static const asctl_view_t PERIODS_VIEW = ASCTL_VIEW("periods", PERIOD_COLS, .money = DC_MONEY);

static const asctl_view_t PERIOD_VIEW = ASCTL_VIEW(NULL, PERIOD_COLS, .money = DC_MONEY);

static void print_balance(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"ACCOUNT", "account", 7},
        {"KIND", "kind", 9},
        {"DEBIT", "debit_cents_yuan", 14},
        {"CREDIT", "credit_cents_yuan", 14},
        {"BALANCE", "balance_cents_yuan", 14},
        {"NAME", "name", 44},
    };
    char y1[48], y2[48], b[32];
    json_t *acc = json_object_get(ans, "accounts");
    asctl_verb_add_yuan(acc, DC_MONEY);
    asctl_print_table(acc, cols, sizeof cols / sizeof cols[0]);
    printf("\n%s entries   debits %s   credits %s   balanced %s\n",
           asctl_get(ans, "entries", b, sizeof b), yuan_of(ans, "debit_cents", y1, sizeof y1),
           yuan_of(ans, "credit_cents", y2, sizeof y2),
           json_is_true(json_object_get(ans, "balanced")) ? "yes" : "NO");
}

static void print_costs(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"KEY", "key", 22},
        {"TICKETS", "tickets", 7},
        {"LABOUR", "labour_cents_yuan", 11},
        {"PARTS", "parts_cents_yuan", 11},
        {"FEES", "fees_cents_yuan", 9},
        {"PARTS_COST", "parts_cost_cents_yuan", 11},
        {"CUSTOMER", "customer_cents_yuan", 11},
        {"MAKER", "manufacturer_cents_yuan", 11},
        {"COMPANY", "company_cents_yuan", 11},
        {"SELLER", "seller_cents_yuan", 11},
        {"WARRANTY", "warranty_cost_cents_yuan", 11},
    };
    static const char *const money[] = {"labour_cents",
                                        "parts_cents",
                                        "fees_cents",
                                        "parts_cost_cents",
                                        "customer_cents",
                                        "manufacturer_cents",
                                        "company_cents",
                                        "seller_cents",
                                        "warranty_cost_cents",
                                        "total_cost_cents",
                                        NULL};
    json_t *rows = json_deep_copy(json_object_get(ans, "rows"));
    if (!rows)
        rows = json_array();
    if (json_object_get(ans, "total"))
        json_array_append(rows, json_object_get(ans, "total"));
    asctl_verb_add_yuan(rows, money);
    char b[64];
    printf("cost analysis by %s, %s .. %s (%s)\n\n", asctl_get(ans, "group", b, sizeof b),
           str_or(ans, "from", "start"), str_or(ans, "to", "today"), str_or(ans, "currency", ""));
    asctl_print_table(rows, cols, sizeof cols / sizeof cols[0]);
    json_decref(rows);
}

static void print_entry(json_t *e)
{
    char b[512];
    printf("entry          %s   %s   business %s   posted %s (%s)\n",
           asctl_get(e, "entry_no", b, sizeof b), json_string_value(json_object_get(e, "kind")),
           json_string_value(json_object_get(e, "business_date")),
           json_string_value(json_object_get(e, "posting_date")),
           json_string_value(json_object_get(e, "posting_period")));
    /* clang-format off */
    static const char *const fields[] = {
        "memo", "memo",
        "ticket", "ticket_id",
        "invoice", "invoice_no",
        "claim", "claim_id",
        "reverses", "reverses",
        "reversed by", "reversed_by",
        NULL};
    /* clang-format on */
    asctl_print_lines(e, fields);
    static const asctl_col_t cols[] = {
        {"LINE", "line_no", 4},
        {"ACCOUNT", "account", 7},
        {"DEBIT", "debit_cents_yuan", 12},
        {"CREDIT", "credit_cents_yuan", 12},
        {"PAYER", "payer", 12},
        {"CENTRE", "center", 6},
        {"MAKER", "manufacturer", 8},
        {"NAME", "account_name", 40},
    };
    json_t *lines = json_object_get(e, "lines");
    asctl_verb_add_yuan(lines, DC_MONEY);
    printf("\n");
    asctl_print_table(lines, cols, sizeof cols / sizeof cols[0]);
}

/* ---- the finance export ------------------------------------------------------------------ */

/* The state of one streamed export: where the body goes, what has been counted, and the error
 * answer when the gateway refused. */
typedef struct export_state {
    CURL *curl;
    FILE *out;
    int csv;
    long status;     /* HTTP status, read when the first body byte arrives */
    int write_errno; /* a write to `out` failed */
    long long bytes, rows, records, markers;
    int in_quotes, at_line_start;
    char tail[1024]; /* the last bytes of the body (JSON: to check its end; CSV: #error) */
    size_t tail_len;
    char *err; /* the body of an error answer */
    size_t err_len;
    char head[32]; /* X-Export-Head: the last ledger entry the export covers */
    int show;      /* progress lines on stderr */
    int tty;
    struct timespec last;
} export_state_t;

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void human_bytes(long long n, char *buf, size_t len)
{
    if (n < 10 * 1024)
        snprintf(buf, len, "%lld B", n);
    else if (n < 10LL * 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, len, "%.1f MiB", (double)n / (1024.0 * 1024.0));
}

/* Progress on stderr while the body streams: rewritten in place on a terminal (5 times a
 * second), one line every 5 seconds otherwise (logs stay readable). */
static void progress(export_state_t *s)
{
    if (!s->show || since(&s->last) < (s->tty ? 0.2 : 5.0))
        return;
    clock_gettime(CLOCK_MONOTONIC, &s->last);
    char hb[32];
    human_bytes(s->bytes, hb, sizeof hb);
    if (s->tty)
        fprintf(stderr, "\rasctl: export: %lld rows, %s so far", s->rows, hb);
    else
        fprintf(stderr, "asctl: export: %lld rows, %s so far\n", s->rows, hb);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    export_state_t *s = ud;
    size_t len = size * n;
    static const char name[] = "x-export-head:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1, k = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && p[i] >= '0' && p[i] <= '9' && k + 1 < sizeof s->head)
            s->head[k++] = p[i++];
        s->head[k] = '\0';
    }
    return len;
}

/* Count the rows of the body as it streams. CSV: records end at a line break outside quotes
 * (a memo may hold one inside quotes); the first record is the header, and a record starting
 * with '#' is the gateway's "#error" line, not a row (a row starts with its cursor). JSON: every
 * row is a line starting with '{', and so is the document's first line. */
static void count_rows(export_state_t *s, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (s->csv) {
            if (c == '#' && s->at_line_start && !s->in_quotes)
                s->markers++;
            if (c == '"')
                s->in_quotes = !s->in_quotes;
            else if (c == '\n' && !s->in_quotes)
                s->records++;
        } else if (s->at_line_start && c == '{') {
            s->records++;
        }
        s->at_line_start = c == '\n';
    }
    long long n = s->records - s->markers - 1;
    s->rows = n > 0 ? n : 0;
}

static void keep_tail(export_state_t *s, const char *p, size_t len)
{
    if (len >= sizeof s->tail) {
        memcpy(s->tail, p + len - sizeof s->tail, sizeof s->tail);
        s->tail_len = sizeof s->tail;
        return;
    }
    size_t keep = s->tail_len + len > sizeof s->tail ? sizeof s->tail - len : s->tail_len;
    memmove(s->tail, s->tail + s->tail_len - keep, keep);
    memcpy(s->tail + keep, p, len);
    s->tail_len = keep + len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    export_state_t *s = ud;
    size_t len = size * n;
    if (s->status == 0)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) {
        /* An error answer (small JSON): kept to be reported, never written to the output. */
        if (s->err_len > 65536)
            return len;
        char *ne = realloc(s->err, s->err_len + len + 1);
        if (!ne)
            return 0;
        memcpy(ne + s->err_len, p, len);
        s->err = ne;
        s->err_len += len;
        s->err[s->err_len] = '\0';
        return len;
    }
    if (fwrite(p, 1, len, s->out) != len) {
        s->write_errno = errno ? errno : EIO;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    s->bytes += (long long)len;
    count_rows(s, p, len);
    keep_tail(s, p, len);
    progress(s);
    return len;
}

/* Does a JSON export end as a complete document whose "count" is the number of rows seen? The
 * gateway leaves a JSON export unterminated when it stops early. */
static int json_complete(const export_state_t *s)
{
    char t[sizeof s->tail + 1];
    memcpy(t, s->tail, s->tail_len);
    t[s->tail_len] = '\0';
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
        n--;
    const char *c = strstr(t, "\"count\":");
    return c && n > 0 && t[n - 1] == '}' && strtoll(c + 8, NULL, 10) == s->rows;
}

/* Did the gateway end a CSV export with its error line ("#error,<reason>", written when the
 * export fails after the head was sent)? Returns 1 with the reason (CSV-unquoted) in `why`. */
static int csv_error_line(const export_state_t *s, char *why, size_t len)
{
    char t[sizeof s->tail + 1];
    memcpy(t, s->tail, s->tail_len);
    t[s->tail_len] = '\0';
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
        t[--n] = '\0';
    char *line = strrchr(t, '\n');
    line = line ? line + 1 : ((long long)s->tail_len == s->bytes ? t : NULL);
    if (!line || strncmp(line, "#error", 6) != 0)
        return 0;
    const char *v = line[6] == ',' ? line + 7 : line + 6;
    size_t k = 0;
    if (*v == '"') {
        for (v++; *v && k + 1 < len; v++) {
            if (*v == '"' && v[1] != '"')
                break;
            if (*v == '"')
                v++;
            why[k++] = *v;
        }
    } else {
        while (*v && k + 1 < len)
            why[k++] = *v++;
    }
    why[k] = '\0';
    return 1;
}

static int s_export(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--from", "from",    "--to",  "to", "--format",
                                    "format", "--after", "after", NULL};
    if (asctl_verb_check(argc, argv, "--from= --to= --format= --after= --out= --quiet", 0, 0,
                         "settlement export") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    const char *format = asctl_opt(argc, argv, "--format");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "asctl: settlement export --format is csv or json\n");
        return ASCTL_USAGE;
    }
    char path[512] = "/v1/settlement/export";
    if (asctl_verb_query(path, sizeof path, argc, argv, q) < 0)
        return ASCTL_USAGE;
    const char *out = asctl_opt(argc, argv, "--out");
    if (out && strcmp(out, "-") == 0)
        out = NULL;

    export_state_t s = {0};
    s.csv = !format || strcmp(format, "csv") == 0;
    s.at_line_start = 1;
    s.show = !asctl_flag(argc, argv, "--quiet");
    s.tty = isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &s.last);
    char part[4096];
    if (out) {
        /* Written beside the target and renamed when complete: FILE is always a whole export. */
        if ((size_t)snprintf(part, sizeof part, "%s.part", out) >= sizeof part) {
            fprintf(stderr, "asctl: the --out path is too long\n");
            return ASCTL_USAGE;
        }
        s.out = fopen(part, "wb");
        if (!s.out) {
            fprintf(stderr, "asctl: cannot write %s: %s\n", part, strerror(errno));
            return ASCTL_USAGE;
        }
    } else {
        s.out = stdout;
    }

    s.curl = curl_easy_init();
    if (!s.curl) {
        if (out) {
            fclose(s.out);
            remove(part);
        }
        return ASCTL_FAILED;
    }
    char url[2048], auth[512];
    snprintf(url, sizeof url, "%s%s", o.url, path);
    struct curl_slist *h = NULL;
    if (o.token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o.token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(s.curl, CURLOPT_URL, url);
    curl_easy_setopt(s.curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s.curl, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s.curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.curl, CURLOPT_NOSIGNAL, 1L);
    /* No overall timeout (an export may be large): give up only when the stream stalls. */
    curl_easy_setopt(s.curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(s.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s.curl, CURLOPT_LOW_SPEED_TIME, 60L);
    if (o.verbose)
        fprintf(stderr, "> GET %s\n", url);
    CURLcode rc = curl_easy_perform(s.curl);
    if (s.status == 0)
        curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &s.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(s.curl);
    if (s.show && s.tty && s.bytes > 0)
        fprintf(stderr, "\r\033[K");

    int code = ASCTL_OK;
    const char *why = NULL;
    char whybuf[4400], reason[1024] = "";
    /* A failure after the head: the gateway ends a CSV with "#error,<reason>" and closes the
     * connection without the chunked encoding's last chunk (CURLE_PARTIAL_FILE). That line is
     * not a row. */
    int cut = s.status == 200 && s.csv && csv_error_line(&s, reason, sizeof reason);
    if (s.status != 200 && s.status != 0) {
        json_error_t je;
        json_t *ans = s.err ? json_loads(s.err, 0, &je) : NULL;
        code = asctl_report_error((int)s.status, ans);
        json_decref(ans);
    } else if (s.write_errno) {
        snprintf(whybuf, sizeof whybuf, "cannot write the output: %s", strerror(s.write_errno));
        why = whybuf;
        code = ASCTL_FAILED;
    } else if (cut || rc == CURLE_PARTIAL_FILE) {
        snprintf(whybuf, sizeof whybuf, "the gateway cut the export short: %s",
                 reason[0] ? reason : "the transfer ended before the end of the export");
        why = whybuf;
        code = ASCTL_FAILED;
    } else if (rc != CURLE_OK) {
        snprintf(whybuf, sizeof whybuf, "the transfer failed: %s", curl_easy_strerror(rc));
        why = whybuf;
        code = ASCTL_FAILED;
    } else if (!s.csv && !json_complete(&s)) {
        why = "the export ended early (the JSON document is not complete)";
        code = ASCTL_FAILED;
    }
    free(s.err);
    if (fflush(s.out) != 0 && code == ASCTL_OK) {
        snprintf(whybuf, sizeof whybuf, "cannot write the output: %s", strerror(errno));
        why = whybuf;
        code = ASCTL_FAILED;
    }
    if (out) {
        if (fclose(s.out) != 0 && code == ASCTL_OK) {
            snprintf(whybuf, sizeof whybuf, "cannot write %s: %s", part, strerror(errno));
            why = whybuf;
            code = ASCTL_FAILED;
        }
        if (code == ASCTL_OK && rename(part, out) != 0) {
            snprintf(whybuf, sizeof whybuf, "cannot rename %s: %s", part, strerror(errno));
            why = whybuf;
            code = ASCTL_FAILED;
        }
        if (code != ASCTL_OK)
            remove(part);
    }
    if (why)
        fprintf(stderr, "asctl: export failed after %lld rows: %s%s\n", s.rows, why,
                out           ? " (nothing written)"
                : s.bytes > 0 ? " (the output written so far is incomplete)"
                              : "");
    if (code == ASCTL_OK && s.show) {
        char hb[32];
        human_bytes(s.bytes, hb, sizeof hb);
        fprintf(stderr, "asctl: exported %lld rows (%s) up to ledger entry %s%s%s\n", s.rows, hb,
                s.head[0] ? s.head : "?", out ? " to " : "", out ? out : "");
    }
    return code;
}

static const char *const INVOICE_QUERY[] = {"--center", "center",  "--year", "year", "--after",
                                            "after",    "--limit", "limit",  NULL};
static const char *const CLAIM_QUERY[] = {"--manufacturer", "manufacturer", "--period", "period",
                                          "--state",        "state",        "--after",  "after",
                                          "--limit",        "limit",        NULL};
static const char *const DEFER_FIELD[] = {"--defer-waiting", "defer_waiting", "b", NULL};
static const char *const REFUND_FIELDS[] = {
    "--method", "method",    "s", "--amount-cents", "amount_cents", "i",
    "--date",   "paid_date", "s", "--reference",    "reference",    "s",
    NULL};
static const char *const METHOD[] = {"--method", NULL};
static const char *const BALANCE_QUERY[] = {"--period", "period", "--from", "from",
                                            "--to",     "to",     NULL};
static const char *const COSTS_QUERY[] = {"--group", "group", "--from", "from", "--to", "to", NULL};
static const char *const REASON_FIELD[] = {"--reason", "reason", "s", NULL};
static const char *const REASON[] = {"--reason", NULL};

const asctl_cmd_t asctl_settlement_cmds[] = {
    {"settlement", "charges", "TICKET", "a ticket's charge lines, payers, totals and entries",
     ASCTL_CALL("GET", "/v1/settlement/charges/%s", .print = print_charges)},
    {"settlement", "invoices", "[NO] [--center C] [--year Y] [--after NO] [--limit N]",
     "customer invoices, or one invoice with its lines",
     ASCTL_CALL("GET", "/v1/settlement/invoices", .query = INVOICE_QUERY, .print = print_invoices,
                .one = "/v1/settlement/invoices/%s", .print_one = print_invoice)},
    {"settlement", "claims", "[ID] [--manufacturer M] [--period YYYY-MM] [--state S]",
     "manufacturer claims, or one claim with its lines",
     ASCTL_CALL("GET", "/v1/settlement/claims", .query = CLAIM_QUERY, .print = print_claims,
                .one = "/v1/settlement/claims/%s", .print_one = print_claim)},
    {"settlement", "claim-submit", "ID [--defer-waiting]",
     "submit an open claim (--defer-waiting: lines without their returned part move on)",
     ASCTL_CALL("POST", "/v1/settlement/claims/%s/submit", .body = DEFER_FIELD,
                .print = print_claim)},
    {"settlement", "claim-decide",
     "ID [--approve N] [--reject N:REASON] [--partial N:YUAN:REASON] [--approve-others] "
     "[--correction REASON] | "
     "--file F",
     "record the manufacturer's decision per line", s_claim_decide, NULL},
    {"settlement", "claim-pay",
     "ID [--amount YUAN (e.g. 175.00) | --amount-cents N] [--date YYYY-MM-DD] [--reference R]",
     "record the manufacturer's payment (default: the approved amount, today)", s_claim_pay, NULL},
    {"settlement", "refunds", "[TICKET]",
     "refunds owed to customers not paid out yet, or one ticket's refund and payouts",
     ASCTL_CALL("GET", "/v1/settlement/refunds", .view = &REFUNDS_VIEW,
                .one = "/v1/settlement/refunds/%s", .print_one = print_refund)},
    {"settlement", "refund-pay",
     "TICKET --method cash|card|wechat_pay|alipay|bank_transfer [--amount-cents N] "
     "[--date YYYY-MM-DD] [--reference R]",
     "record the payout of a refund owed to the customer (default: all that is outstanding)",
     ASCTL_CALL("POST", "/v1/settlement/refunds/%s/payout", .body = REFUND_FIELDS, .need = METHOD,
                .print = print_refund)},
    {"settlement", "periods", "", "accounting periods, their state and totals",
     ASCTL_CALL("GET", "/v1/settlement/periods", .view = &PERIODS_VIEW)},
    {"settlement", "close", "YYYY-MM", "close an accounting period that has ended",
     ASCTL_CALL("POST", "/v1/settlement/periods/%s/close", .body = ASCTL_NO_FIELDS,
                .view = &PERIOD_VIEW)},
    {"settlement", "balance", "[--period YYYY-MM | --from D --to D]", "the trial balance",
     ASCTL_CALL("GET", "/v1/settlement/balance", .query = BALANCE_QUERY, .print = print_balance)},
    {"settlement", "costs", "[--group region|center|cause] [--from D] [--to D]",
     "service cost analysis",
     ASCTL_CALL("GET", "/v1/settlement/costs", .query = COSTS_QUERY, .print = print_costs)},
    {"settlement", "entry", "NO", "one journal entry with its lines",
     ASCTL_CALL("GET", "/v1/settlement/entries/%s", .print = print_entry)},
    {"settlement", "reverse", "NO --reason TEXT", "post the reversal of a journal entry",
     ASCTL_CALL("POST", "/v1/settlement/entries/%s/reverse", .body = REASON_FIELD, .need = REASON,
                .print = print_entry)},
    {"settlement", "export",
     "[--from D] [--to D] [--format csv|json] [--out FILE] [--after CURSOR] [--quiet]",
     "the finance export (streamed; progress on stderr)", s_export, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
