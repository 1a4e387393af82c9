/* cmd_parts.c — `asctl parts …`: the stockroom's and the warehouse's verbs (stock and its
 * ledger, goods receipts, adjustments, transfers, replenishment, defective returns, loaners). */
#include "asctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stock and its ledger ---------------------------------------------------------------- */

static const asctl_col_t STOCK_COLS[] = {
    {"SITE", "site", 5},           {"SKU", "sku", 15},
    {"ON_HAND", "on_hand", 7},     {"RESERVED", "reserved", 8},
    {"AVAIL", "available", 6},     {"DEFECT", "defective", 6},
    {"INBOUND", "inbound", 7},     {"BACKORD", "backordered", 7},
    {"SAFETY", "safety_level", 6}, {"LOW", "below_safety", 4},
    {"NAME", "name", 36},
};

static void print_stock(json_t *ans)
{
    json_t *items = json_object_get(ans, "items");
    if (!items) { /* one site and SKU: a single item */
        items = json_array();
        json_array_append(items, ans);
        asctl_print_table(items, STOCK_COLS, sizeof STOCK_COLS / sizeof STOCK_COLS[0]);
        json_decref(items);
        return;
    }
    asctl_print_table(items, STOCK_COLS, sizeof STOCK_COLS / sizeof STOCK_COLS[0]);
}

static const asctl_col_t MOVE_COLS[] = {
    {"ID", "id", 6},
    {"AT", "at", 24},
    {"SITE", "site", 5},
    {"SKU", "sku", 15},
    {"KIND", "kind", 16},
    {"QTY", "qty", 5},
    {"D_HAND", "on_hand_delta", 6},
    {"D_RES", "reserved_delta", 5},
    {"HAND", "on_hand_after", 5},
    {"RES", "reserved_after", 5},
    {"TICKET", "ticket_id", 10},
    {"TRANSFER", "transfer_id", 9},
    {"BY", "actor", 12},
    {"NOTE", "note", 30},
};

static const asctl_view_t MOVEMENTS_VIEW =
    ASCTL_VIEW("movements", MOVE_COLS,
               .more = "more: asctl parts movements --after %s (with the same filters)");

static void print_receipt(json_t *r)
{
    printf("received %lld row(s), %lld unit(s)  (ledger movements %lld..%lld)\n",
           (long long)json_integer_value(json_object_get(r, "rows")),
           (long long)json_integer_value(json_object_get(r, "units")),
           (long long)json_integer_value(json_object_get(r, "first_movement_id")),
           (long long)json_integer_value(json_object_get(r, "last_movement_id")));
    json_t *m = json_object_get(r, "movements");
    if (json_array_size(m) > 0)
        asctl_print_table(m, MOVE_COLS, sizeof MOVE_COLS / sizeof MOVE_COLS[0]);
}

/* The whole of a text file (or stdin for "-"), NUL-terminated; NULL with a message. */
static char *read_text(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 >= cap) {
            char *nb = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                fprintf(stderr, "asctl: %s is too large\n", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static int p_receive(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--site= --sku= --qty= --note= --file= --key=";
    static const char *const map[] = {"--site", "site", "s",      "--sku", "sku", "s", "--qty",
                                      "qty",    "i",    "--note", "note",  "s",   NULL};
    if (asctl_verb_check(argc, argv, spec, 0, 0, "parts receive") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    const char *file = asctl_opt(argc, argv, "--file");
    json_t *b = json_object();
    if (file) {
        if (asctl_opt(argc, argv, "--sku") || asctl_opt(argc, argv, "--qty")) {
            fprintf(stderr, "asctl: parts receive takes either --file CSV or --site/--sku/--qty\n");
            json_decref(b);
            return ASCTL_USAGE;
        }
        char *csv = read_text(file);
        if (!csv) {
            json_decref(b);
            return ASCTL_USAGE;
        }
        json_object_set_new(b, "csv", json_string(csv));
        free(csv);
        if (!json_object_get(b, "csv")) {
            fprintf(stderr, "asctl: %s is not UTF-8 text\n", file);
            json_decref(b);
            return ASCTL_USAGE;
        }
    } else if (!asctl_opt(argc, argv, "--site") || !asctl_opt(argc, argv, "--sku") ||
               !asctl_opt(argc, argv, "--qty")) {
        fprintf(stderr, "asctl: parts receive needs --site, --sku and --qty (or --file CSV with "
                        "the header site,sku,qty,note)\n");
        json_decref(b);
        return ASCTL_USAGE;
    } else if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", "/v1/parts/receipts", b, asctl_opt(argc, argv, "--key"),
                         print_receipt);
}

static const asctl_view_t MOVEMENT_VIEW = ASCTL_VIEW(NULL, MOVE_COLS);

/* ---- transfers --------------------------------------------------------------------------- */

static const asctl_col_t TRANSFER_COLS[] = {
    {"ID", "id", 9},
    {"FROM", "from", 5},
    {"TO", "to", 5},
    {"STATE", "state", 9},
    {"ORIGIN", "origin", 9},
    {"TICKET", "ticket_id", 10},
    {"LINES", "lines_text", 24},
    {"CREATED", "created_at", 24},
    {"NOTE", "note", 30},
};

/* "SKU x QTY, …" of a transfer's lines, kept as lines_text for the table. */
static void add_lines_text(json_t *t)
{
    char buf[256];
    size_t off = 0, i;
    json_t *l;
    buf[0] = '\0';
    json_array_foreach(json_object_get(t, "lines"), i, l)
    {
        if (off < sizeof buf)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s x%lld", i ? ", " : "",
                                    json_string_value(json_object_get(l, "sku")),
                                    (long long)json_integer_value(json_object_get(l, "qty")));
    }
    json_object_set_new(t, "lines_text", json_string(buf));
}

static void print_transfer(json_t *t)
{
    char b[256];
    printf("transfer       %s   %s -> %s   %s\n", asctl_get(t, "id", b, sizeof b),
           json_string_value(json_object_get(t, "from")),
           json_string_value(json_object_get(t, "to")),
           json_string_value(json_object_get(t, "state")));
    /* clang-format off */
    static const char *const fields[] = {
        "origin", "origin",
        "ticket", "ticket_id",
        "note", "note",
        "created", "created_at",
        "allocated", "allocated_at",
        "shipped", "shipped_at",
        "received", "received_at",
        "cancelled", "cancelled_at",
        NULL};
    /* clang-format on */
    asctl_print_lines(t, fields);
    static const asctl_col_t cols[] = {
        {"LINE", "line_no", 4}, {"SKU", "sku", 16}, {"QTY", "qty", 5}};
    printf("\n");
    asctl_print_table(json_object_get(t, "lines"), cols, sizeof cols / sizeof cols[0]);
    if (json_is_string(json_object_get(t, "state")) &&
        strcmp(json_string_value(json_object_get(t, "state")), "waiting") == 0)
        printf("\nwaiting: the source has not got the stock yet; it is allocated when it has\n");
}

static void print_transfers(json_t *ans)
{
    json_t *ts = json_object_get(ans, "transfers");
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t) add_lines_text(t);
    asctl_print_table(ts, TRANSFER_COLS, sizeof TRANSFER_COLS / sizeof TRANSFER_COLS[0]);
}

static int p_transfers(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--site",    "site",    "--state", "state", "--ticket",
                                    "ticket_id", "--limit", "limit",   NULL};
    const char *spec = "--site= --state= --ticket= --limit=";
    int n = asctl_verb_check(argc, argv, spec, 0, 1, "parts transfers");
    if (n < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[512] = "/v1/parts/transfers";
    if (n == 1) {
        if (asctl_verb_path(path, sizeof path, "/v1/parts/transfers/%s",
                            asctl_verb_pos(argc, argv, spec, 0)) < 0)
            return ASCTL_USAGE;
        return asctl_request(&o, "GET", path, NULL, NULL, print_transfer);
    }
    if (asctl_verb_query(path, sizeof path, argc, argv, q) < 0)
        return ASCTL_USAGE;
    return asctl_request(&o, "GET", path, NULL, NULL, print_transfers);
}

static int p_transfer(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--from= --to= --part= --note=";
    if (asctl_verb_check(argc, argv, spec, 0, 0, "parts transfer") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *lines = asctl_parts(argc, argv, "--part");
    if (!lines)
        return ASCTL_USAGE;
    if (!asctl_opt(argc, argv, "--from") || !asctl_opt(argc, argv, "--to") ||
        json_array_size(lines) == 0) {
        fprintf(stderr, "asctl: parts transfer needs --from SITE --to SITE and at least one "
                        "--part SKU:QTY\n");
        json_decref(lines);
        return ASCTL_USAGE;
    }
    json_t *b = json_pack("{s:s, s:s, s:o}", "from", asctl_opt(argc, argv, "--from"), "to",
                          asctl_opt(argc, argv, "--to"), "lines", lines);
    if (asctl_opt(argc, argv, "--note"))
        json_object_set_new(b, "note", json_string(asctl_opt(argc, argv, "--note")));
    return asctl_request(&o, "POST", "/v1/parts/transfers", b, NULL, print_transfer);
}

/* ---- reservations, replenishment --------------------------------------------------------- */

static const asctl_col_t RES_COLS[] = {
    {"TICKET", "ticket_id", 10},
    {"LINE", "line_no", 4},
    {"SITE", "site", 5},
    {"SKU", "sku", 15},
    {"QTY", "qty", 4},
    {"STATE", "state", 11},
    {"TRANSFER", "transfer_id", 9},
    {"REQUESTED", "requested_at", 24},
    {"RESERVED", "reserved_at", 24},
    {"NOTE", "note", 24},
};

static const asctl_view_t RESERVATIONS_VIEW = ASCTL_VIEW("reservations", RES_COLS);

static void print_replenishment(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"SITE", "site", 5},
        {"SKU", "sku", 15},
        {"AVAIL", "available", 5},
        {"INBOUND", "inbound", 7},
        {"BACKORD", "backordered", 7},
        {"SAFETY", "safety_level", 6},
        {"REORDER", "reorder_point", 7},
        {"LEAD_D", "lead_time_days", 6},
        {"USED", "consumed", 5},
        {"TARGET", "target", 6},
        {"SUGGEST", "suggested_qty", 7},
        {"UNIT_COST", "unit_cost_cents_yuan", 10},
        {"NAME", "name", 30},
    };
    static const char *const money[] = {"unit_cost_cents", NULL};
    json_t *items = json_object_get(ans, "items");
    asctl_verb_add_yuan(items, money);
    asctl_print_table(items, cols, sizeof cols / sizeof cols[0]);
    char b[256];
    printf("\nconsumption window %s days", asctl_get(ans, "window_days", b, sizeof b));
    if (json_string_value(json_object_get(ans, "formula")))
        printf("; %s", json_string_value(json_object_get(ans, "formula")));
    printf("\n");
}

/* ---- defective returns ------------------------------------------------------------------- */

static const asctl_col_t RET_COLS[] = {
    {"ID", "id", 8},
    {"TICKET", "ticket_id", 10},
    {"LINE", "line_no", 4},
    {"SKU", "sku", 15},
    {"QTY", "qty", 4},
    {"SITE", "site", 5},
    {"MAKER", "manufacturer", 8},
    {"STATUS", "status", 8},
    {"DUE", "due_date", 10},
    {"RETURNED", "returned_at", 24},
    {"BY", "received_by", 10},
};

static const asctl_view_t RETURNS_VIEW = ASCTL_VIEW("returns", RET_COLS);

static void print_return(json_t *r)
{
    asctl_print_row(r, NULL, RET_COLS, ASCTL_NCOLS(RET_COLS));
}

/* ---- loaners ----------------------------------------------------------------------------- */

static const asctl_col_t LOANER_COLS[] = {
    {"SERIAL", "serial", 12}, {"SITE", "site", 5},         {"MODEL", "model", 14},
    {"STATE", "state", 9},    {"TICKET", "ticket_id", 10}, {"CUSTOMER", "customer", 14},
    {"PHONE", "phone", 13},   {"LENT", "lent_at", 24},     {"DAYS", "days_out", 4},
};

static const asctl_view_t LOANERS_VIEW = ASCTL_VIEW("loaners", LOANER_COLS);

static void print_loaner(json_t *l)
{
    asctl_print_row(l, NULL, LOANER_COLS, ASCTL_NCOLS(LOANER_COLS));
}

/* ---- catalogue and ledger check ---------------------------------------------------------- */

static void print_skus(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"SKU", "sku", 15},
        {"BRAND", "brand", 8},
        {"MAKER", "manufacturer", 8},
        {"KIND", "category", 6},
        {"COST", "unit_cost_cents_yuan", 10},
        {"LIST", "list_price_cents_yuan", 10},
        {"RETURN", "defective_return_required", 6},
        {"ACTIVE", "active", 6},
        {"NAME", "name", 40},
    };
    static const char *const money[] = {"unit_cost_cents", "list_price_cents", NULL};
    json_t *skus = json_object_get(ans, "skus");
    asctl_verb_add_yuan(skus, money);
    asctl_print_table(skus, cols, sizeof cols / sizeof cols[0]);
}

static void print_ledger_check(json_t *ans)
{
    char b[64], c[64];
    printf("ledger %s: %s movement(s), %s balance(s)\n",
           json_is_true(json_object_get(ans, "ok")) ? "OK" : "MISMATCH",
           asctl_get(ans, "movements", b, sizeof b), asctl_get(ans, "balances", c, sizeof c));
    json_t *m = json_object_get(ans, "mismatches");
    if (json_array_size(m) > 0) {
        static const asctl_col_t cols[] = {{"SITE", "site", 5},
                                           {"SKU", "sku", 15},
                                           {"PROBLEM", "problem", 30},
                                           {"BALANCE", "balance", 7},
                                           {"EXPECTED", "expected", 8}};
        asctl_print_table(m, cols, sizeof cols / sizeof cols[0]);
    }
}

static int p_ledger_check(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--site", "site", NULL};
    if (asctl_verb_check(argc, argv, "--site=", 0, 0, "parts ledger-check") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256] = "/v1/parts/ledger/check";
    if (asctl_verb_query(path, sizeof path, argc, argv, q) < 0)
        return ASCTL_USAGE;
    int status;
    json_t *ans;
    if (asctl_http(&o, "GET", path, NULL, NULL, &status, &ans) < 0)
        return ASCTL_FAILED;
    if (status >= 400 || status == 0) {
        int code = asctl_report_error(status, ans);
        json_decref(ans);
        return code;
    }
    if (o.json)
        asctl_print_json(ans);
    else
        print_ledger_check(ans);
    /* A mismatch is the system answering "no": scripts see it in the exit code. */
    int code = json_is_true(json_object_get(ans, "ok")) ? ASCTL_OK : ASCTL_REJECTED;
    json_decref(ans);
    return code;
}

static const char *const STOCK_QUERY[] = {"--site", "site", "--sku", "sku", NULL};
static const char *const MOVE_QUERY[] = {"--site",  "site",     "--sku",     "sku",     "--kind",
                                         "kind",    "--ticket", "ticket_id", "--after", "after",
                                         "--limit", "limit",    NULL};
static const char *const ADJUST_FIELDS[] = {"--site",  "site",  "s", "--sku",    "sku",    "s",
                                            "--delta", "delta", "i", "--reason", "reason", "s",
                                            "--note",  "note",  "s", NULL};
static const char *const ADJUST_NEED[] = {"--site", "--sku", "--delta", "--reason", NULL};
static const char *const SCRAP_FIELDS[] = {"--site", "site",      "s", "--sku",    "sku",    "s",
                                           "--qty",  "qty",       "i", "--reason", "reason", "s",
                                           "--good", "defective", "!", NULL};
static const char *const SCRAP_NEED[] = {"--site", "--sku", "--qty", "--reason", NULL};
static const char *const SAFETY_FIELDS[] = {
    "--site",      "site",           "s", "--sku",     "sku",           "s",
    "--level",     "safety_level",   "i", "--reorder", "reorder_point", "i",
    "--lead-days", "lead_time_days", "i", NULL};
static const char *const SITE_SKU[] = {"--site", "--sku", NULL};
static const char *const NOTE_FIELD[] = {"--note", "note", "s", NULL};
static const char *const REASON_FIELD[] = {"--reason", "reason", "s", NULL};
static const char *const REASON[] = {"--reason", NULL};
static const char *const RES_QUERY[] = {"--ticket", "ticket_id", "--site", "site", "--state",
                                        "state",    "--limit",   "limit",  NULL};
static const char *const RET_QUERY[] = {"--status",  "status",  "--site", "site", "--ticket",
                                        "ticket_id", "--limit", "limit",  NULL};
static const char *const LOANER_QUERY[] = {"--site", "site", "--state", "state", NULL};
static const char *const LEND_FIELDS[] = {
    "--ticket", "ticket_id", "s",      "--customer", "customer", "s", "--phone",
    "phone",    "s",         "--note", "note",       "s",        NULL};
static const char *const TICKET[] = {"--ticket", NULL};
static const char *const SKU_QUERY[] = {"--brand", "brand", "--model", "model", "--q", "q", NULL};

const asctl_cmd_t asctl_parts_cmds[] = {
    {"parts", "stock", "[--site S] [--sku K]",
     "stock per site and SKU: on hand, reserved, available, defective, inbound",
     ASCTL_CALL("GET", "/v1/parts/stock", .query = STOCK_QUERY, .print = print_stock)},
    {"parts", "movements", "[--site S] [--sku K] [--kind K] [--ticket T] [--limit N] [--after ID]",
     "the stock ledger, oldest first",
     ASCTL_CALL("GET", "/v1/parts/movements", .query = MOVE_QUERY, .view = &MOVEMENTS_VIEW)},
    {"parts", "receive", "--site S --sku K --qty N [--note T] | --file CSV|-",
     "receive goods (a CSV site,sku,qty,note is applied whole or not at all)", p_receive, NULL},
    {"parts", "adjust", "--site S --sku K --delta N --reason R [--note T]",
     "correct on-hand stock after a count",
     ASCTL_CALL("POST", "/v1/parts/adjustments", .body = ADJUST_FIELDS, .need = ADJUST_NEED,
                .view = &MOVEMENT_VIEW)},
    {"parts", "scrap", "--site S --sku K --qty N --reason R [--good]",
     "scrap defective units (--good: good ones)",
     ASCTL_CALL("POST", "/v1/parts/scrap", .body = SCRAP_FIELDS, .need = SCRAP_NEED,
                .view = &MOVEMENT_VIEW)},
    {"parts", "safety", "--site S --sku K [--level N] [--reorder N] [--lead-days N]",
     "set the safety stock of a site and SKU",
     ASCTL_CALL("POST", "/v1/parts/stock/safety", .body = SAFETY_FIELDS, .need = SITE_SKU,
                .print = print_stock)},
    {"parts", "transfers", "[ID] [--site S] [--state S] [--ticket T]",
     "transfers from or to your sites, or one transfer", p_transfers, NULL},
    {"parts", "transfer", "--from S --to S --part SKU:QTY... [--note T]",
     "request a transfer (allocated at the source when it has the stock)", p_transfer, NULL},
    {"parts", "ship", "ID [--note T]", "the source ships an allocated transfer",
     ASCTL_CALL("POST", "/v1/parts/transfers/%s/ship", .body = NOTE_FIELD,
                .print = print_transfer)},
    {"parts", "receive-transfer", "ID [--note T]",
     "the destination receives a shipped transfer (fills backorders)",
     ASCTL_CALL("POST", "/v1/parts/transfers/%s/receive", .body = NOTE_FIELD,
                .print = print_transfer)},
    {"parts", "cancel-transfer", "ID --reason T", "cancel a transfer that has not left",
     ASCTL_CALL("POST", "/v1/parts/transfers/%s/cancel", .body = REASON_FIELD, .need = REASON,
                .print = print_transfer)},
    {"parts", "reservations", "[--ticket T] [--site S] [--state S]",
     "ticket part lines and their reservations",
     ASCTL_CALL("GET", "/v1/parts/reservations", .query = RES_QUERY, .view = &RESERVATIONS_VIEW)},
    {"parts", "replenishment", "[--site S] [--sku K]", "what to reorder, with a suggested quantity",
     ASCTL_CALL("GET", "/v1/parts/replenishment", .query = STOCK_QUERY,
                .print = print_replenishment)},
    {"parts", "returns", "[--status owed|overdue|returned] [--site S] [--ticket T]",
     "defective parts owed back to the warehouse",
     ASCTL_CALL("GET", "/v1/parts/returns", .query = RET_QUERY, .view = &RETURNS_VIEW)},
    {"parts", "receive-return", "ID [--note T]", "the warehouse receives a defective part",
     ASCTL_CALL("POST", "/v1/parts/returns/%s/receive", .body = NOTE_FIELD, .print = print_return)},
    {"parts", "loaners", "[--site S] [--state available|lent|retired]",
     "loaner units and who holds them",
     ASCTL_CALL("GET", "/v1/parts/loaners", .query = LOANER_QUERY, .view = &LOANERS_VIEW)},
    {"parts", "lend", "SERIAL --ticket T [--customer NAME] [--phone P] [--note T]",
     "lend a loaner unit to a ticket's customer",
     ASCTL_CALL("POST", "/v1/parts/loaners/%s/lend", .body = LEND_FIELDS, .need = TICKET,
                .print = print_loaner)},
    {"parts", "return-loaner", "SERIAL [--note T]", "take a loaner unit back",
     ASCTL_CALL("POST", "/v1/parts/loaners/%s/return", .body = NOTE_FIELD, .print = print_loaner)},
    {"parts", "skus", "[--brand B] [--model M] [--q TEXT]", "the parts catalogue",
     ASCTL_CALL("GET", "/v1/parts/skus", .query = SKU_QUERY, .print = print_skus)},
    {"parts", "ledger-check", "[--site S]",
     "prove every balance equals its ledger (exit 3 on a mismatch)", p_ledger_check, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
