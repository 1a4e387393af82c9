/* cmd_onsite.c — `asctl service-order …` and `asctl technician …`: on-site service orders and
 * the technicians who do them (kept by intake, docs/onsite.md). `service-order show` prints the
 * visit as the field-service record (外出服务记录表). */
#include "asctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const asctl_col_t ORDER_COLS[] = {
    {"ORDER", "id", 10},
    {"STATE", "state", 10},
    {"CENTRE", "center", 6},
    {"CATEGORY", "category", 12},
    {"TECHNICIAN", "technician", 16},
    {"WINDOW", "window_start", 24},
    {"RESPOND BY", "respond_by", 24},
    {"OVERDUE", "overdue", 7},
};
static const asctl_col_t TECH_COLS[] = {
    {"LOGIN", "login", 20},  {"NAME", "name", 16},     {"CENTRE", "center", 6},
    {"REGION", "region", 8}, {"SKILLS", "skills", 30}, {"ACTIVE", "active", 6},
};
static const asctl_col_t LOAD_COLS[] = {
    {"LOGIN", "login", 20},  {"NAME", "name", 16}, {"CENTRE", "center", 6},
    {"ORDERS", "orders", 6}, {"OPEN", "open", 4},  {"ORDER IDS", "order_ids", 40},
};

static void line(const char *label, json_t *o, const char *path)
{
    char b[1024];
    asctl_verb_line(label, asctl_get(o, path, b, sizeof b));
}

/* The field-service record: everything the customer signs for, in the order of the paper form. */
static void print_order(json_t *o)
{
    char b[256];
    printf("FIELD SERVICE RECORD 外出服务记录表  %s  (%s)\n\n", asctl_get(o, "id", b, sizeof b),
           json_string_value(json_object_get(o, "state")));
    line("centre", o, "center");
    line("customer", o, "customer.name");
    line("phone", o, "customer.phone");
    line("address", o, "address");
    line("device", o, "category");
    line("brand", o, "brand");
    line("model", o, "model");
    line("serial", o, "serial");
    line("fault", o, "fault");
    line("ticket", o, "ticket_id");
    line("call", o, "call_id");
    line("window from", o, "window_start");
    line("window to", o, "window_end");
    line("technician", o, "technician");
    line("tech. name", o, "technician_name");
    line("respond by", o, "respond_by");
    line("overdue", o, "overdue");
    line("dispatched", o, "dispatched_at");
    line("checked in", o, "checked_in_at");
    line("checked out", o, "checked_out_at");
    line("work done", o, "work_done");
    line("distance km", o, "distance_km");
    line("payer", o, "payer");
    json_t *parts = json_object_get(o, "parts_used");
    size_t i;
    json_t *x;
    json_array_foreach(parts, i, x)
    {
        snprintf(b, sizeof b, "%s x %lld", json_string_value(json_object_get(x, "sku")),
                 (long long)json_integer_value(json_object_get(x, "qty")));
        asctl_verb_line("part used", b);
    }
    line("confirmed by", o, "confirmed_by");
    line("signature", o, "signature");
    line("rating", o, "rating");
    line("confirmed at", o, "confirmed_at");
    line("cancelled", o, "cancel_reason");
    json_t *tl = json_object_get(o, "timeline");
    if (json_array_size(tl)) {
        printf("\ntimeline:\n");
        json_array_foreach(tl, i, x)
        {
            printf("  %s  %-18s %-16s %s\n", json_string_value(json_object_get(x, "at")),
                   json_string_value(json_object_get(x, "event")),
                   json_string_value(json_object_get(x, "actor")),
                   json_string_value(json_object_get(x, "note"))
                       ? json_string_value(json_object_get(x, "note"))
                       : "");
        }
    }
}

static const asctl_view_t ORDERS_VIEW =
    ASCTL_VIEW("orders", ORDER_COLS, .more = "more: asctl service-order list --after %s");

static const asctl_view_t TECHS_VIEW = ASCTL_VIEW("technicians", TECH_COLS);

static const asctl_view_t TECH_VIEW = ASCTL_VIEW(NULL, TECH_COLS);

static void print_load(json_t *ans)
{
    printf("date %s\n\n", json_string_value(json_object_get(ans, "date")));
    asctl_print_table(json_object_get(ans, "rows"), LOAD_COLS,
                      sizeof LOAD_COLS / sizeof LOAD_COLS[0]);
}

/* POST /v1/service-orders/ID/ACTION with the body from `map` (plus `extra` fields). */
static int order_action(const asctl_opts_t *o0, int argc, char **argv, const char *spec,
                        const char *action, const char *const *map, json_t *extra)
{
    char cmd[64], fmt[96], path[256];
    snprintf(cmd, sizeof cmd, "service-order %s", action);
    if (asctl_verb_check(argc, argv, spec, 1, 1, cmd) < 0) {
        json_decref(extra);
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    snprintf(fmt, sizeof fmt, "/v1/service-orders/%%s/%s", action);
    json_t *b = extra ? extra : json_object();
    if (asctl_verb_path(path, sizeof path, fmt, asctl_verb_pos(argc, argv, spec, 0)) < 0 ||
        asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", path, b, NULL, print_order);
}

static int so_check_out(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--at", "at",         "s",           "--work", "work_done",
                                      "s",    "--odometer", "odometer_km", "i",      NULL};
    json_t *b = json_object(), *parts = asctl_parts(argc, argv, "--part");
    const char *km = asctl_opt(argc, argv, "--km");
    if (!parts) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    if (km) {
        char *end;
        double v = strtod(km, &end);
        if (end == km || *end) {
            fprintf(stderr, "asctl: --km takes a number of kilometres (e.g. 12.5)\n");
            json_decref(b);
            json_decref(parts);
            return ASCTL_USAGE;
        }
        json_object_set_new(b, "distance_km", json_real(v));
    }
    if (json_array_size(parts))
        json_object_set_new(b, "parts_used", parts);
    else
        json_decref(parts);
    return order_action(o, argc, argv, "--at= --work= --km= --part= --odometer=", "check-out", map,
                        b);
}

/* A visit's payment (settlement), vans (parts sites of kind van) and travel rates: answers
 * printed as JSON. */
static const char *const PAY_FIELDS[] = {
    "--method", "method", "s", "--reference", "reference", "s", "--date", "paid_date", "s", NULL};
static const char *const VAN_QUERY[] = {"--center", "center", "--technician", "technician", NULL};
static const char *const VAN_FIELDS[] = {
    "--name",     "name", "s",          "--center", "center", "s", "--technician",
    "technician", "s",    "--inactive", "active",   "!",      NULL};
static const char *const TRAVEL_QUERY[] = {"--date", "date", "--category", "category", NULL};
static const char *const TRAVEL_FIELDS[] = {
    "--category", "category",          "s", "--from",  "effective_from",     "s",
    "--list",     "list_cents_per_km", "i", "--claim", "claim_cents_per_km", "i",
    NULL};

static int te_save(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--name= --center= --skills= --inactive";
    static const char *const map[] = {"--name", "name",     "s",      "--center", "center",
                                      "s",      "--skills", "skills", "l",        NULL};
    if (asctl_verb_check(argc, argv, spec, 1, 1, "technician save") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    json_object_set_new(b, "login", json_string(asctl_verb_pos(argc, argv, spec, 0)));
    json_object_set_new(b, "active", json_boolean(!asctl_flag(argc, argv, "--inactive")));
    return asctl_request_view(&o, "POST", "/v1/technicians", b, NULL, &TECH_VIEW);
}

static const char *const ORDER_QUERY[] = {
    "--state", "state",    "--center", "center",  "--technician", "technician", "--date",
    "date",    "--status", "status",   "--after", "after",        "--limit",    "limit",
    "--order", "order",    NULL};
static const char *const SCHEDULE_FIELDS[] = {
    "--technician", "technician", "s", "--from", "window_start", "s", "--to", "window_end", "s",
    "--note",       "note",       "s", NULL};
static const char *const NOTE_FIELD[] = {"--note", "note", "s", NULL};
static const char *const AT_FIELD[] = {"--at", "at", "s", NULL};
static const char *const CONFIRM_FIELDS[] = {
    "--by", "confirmed_by", "s",    "--signature", "signature", "s", "--rating", "rating",
    "i",    "--note",       "note", "s",           NULL};
static const char *const REASON_FIELD[] = {"--reason", "reason", "s", NULL};
static const char *const TECH_QUERY[] = {"--center", "center", "--skill", "skill", NULL};
static const char *const LOAD_QUERY[] = {"--date", "date", "--center", "center", NULL};

static const char *const ORDER_FIELDS[] = {
    "--name",    "customer.name", "s", "--phone",    "customer.phone", "s",
    "--address", "address",       "s", "--category", "category",       "s",
    "--brand",   "brand",         "s", "--model",    "model",          "s",
    "--serial",  "serial",        "s", "--fault",    "fault",          "s",
    "--from",    "window_start",  "s", "--to",       "window_end",     "s",
    "--center",  "center",        "s", "--ticket",   "ticket_id",      "s",
    "--note",    "note",          "s", NULL};

const asctl_cmd_t asctl_onsite_cmds[] = {
    {"service-order", "list",
     "[--state S] [--center C] [--technician LOGIN] [--date YYYY-MM-DD] "
     "[--status at_risk|overdue] [--order newest|priority] [--limit N] [--after ID]",
     "on-site service orders in scope",
     ASCTL_CALL("GET", "/v1/service-orders", .query = ORDER_QUERY, .view = &ORDERS_VIEW)},
    {"service-order", "show", "ID", "one order as the field-service record (外出服务记录表)",
     ASCTL_CALL("GET", "/v1/service-orders/%s", .print = print_order)},
    {"service-order", "create",
     "--name N --phone P --address A --category C --fault TEXT --from TS --to TS [--brand B] "
     "[--model M] [--serial S] [--center C] [--ticket ID] [--note TEXT]",
     "open an on-site service order",
     ASCTL_CALL("POST", "/v1/service-orders", .body = ORDER_FIELDS, .print = print_order)},
    {"service-order", "schedule", "ID --technician LOGIN [--from TS --to TS] [--note TEXT]",
     "assign the technician (skill and region are checked)",
     ASCTL_CALL("POST", "/v1/service-orders/%s/schedule", .body = SCHEDULE_FIELDS,
                .print = print_order)},
    {"service-order", "dispatch", "ID [--note TEXT]", "the technician sets off",
     ASCTL_CALL("POST", "/v1/service-orders/%s/dispatch", .body = NOTE_FIELD,
                .print = print_order)},
    {"service-order", "check-in", "ID [--at TS]", "the technician is on site",
     ASCTL_CALL("POST", "/v1/service-orders/%s/check-in", .body = AT_FIELD, .print = print_order)},
    {"service-order", "check-out",
     "ID --work TEXT --km N [--part SKU:QTY]... [--odometer KM] [--at TS]",
     "the work is done (the distance prices the travel fee)", so_check_out, NULL},
    {"service-order", "confirm", "ID --by NAME [--signature S] [--rating 1-5] [--note TEXT]",
     "the customer's confirmation",
     ASCTL_CALL("POST", "/v1/service-orders/%s/confirm", .body = CONFIRM_FIELDS,
                .print = print_order)},
    {"service-order", "cancel", "ID --reason TEXT", "cancel an order not yet on site",
     ASCTL_CALL("POST", "/v1/service-orders/%s/cancel", .body = REASON_FIELD,
                .print = print_order)},
    {"service-order", "pay", "ID --method M [--reference R] [--date YYYY-MM-DD]",
     "the customer pays the visit's invoice (posted once)",
     ASCTL_CALL("POST", "/v1/service-orders/%s/payment", .body = PAY_FIELDS)},
    {"van", "list", "[--center C] [--technician LOGIN]", "technicians' vans in scope",
     ASCTL_CALL("GET", "/v1/parts/vans", .query = VAN_QUERY)},
    {"van", "save", "CODE --center C --technician LOGIN [--name N] [--inactive]",
     "register or change a technician's van (a parts site)",
     ASCTL_CALL("POST", "/v1/parts/vans", .body = VAN_FIELDS, .arg = "code")},
    {"travel-rate", "list", "[--date YYYY-MM-DD] [--category C]",
     "the travel rates per km, in force on a date",
     ASCTL_CALL("GET", "/v1/settlement/travel-rates", .query = TRAVEL_QUERY)},
    {"travel-rate", "set", "--category C|* --from YYYY-MM-DD --list CENTS --claim CENTS",
     "a travel rate per km from a date (today or later)",
     ASCTL_CALL("POST", "/v1/settlement/rates/travel", .body = TRAVEL_FIELDS)},
    {"technician", "list", "[--center C] [--skill CATEGORY]", "the technicians in scope",
     ASCTL_CALL("GET", "/v1/technicians", .query = TECH_QUERY, .view = &TECHS_VIEW)},
    {"technician", "save", "LOGIN --name N --center C --skills CAT[,CAT…] [--inactive]",
     "register or change a technician", te_save, NULL},
    {"technician", "workload", "[--date YYYY-MM-DD] [--center C]", "orders per technician on a day",
     ASCTL_CALL("GET", "/v1/technicians/workload", .query = LOAD_QUERY, .print = print_load)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
