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

static void print_orders(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "orders"), ORDER_COLS,
                      sizeof ORDER_COLS / sizeof ORDER_COLS[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl service-order list --after %s\n", next);
}

static void print_techs(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "technicians"), TECH_COLS,
                      sizeof TECH_COLS / sizeof TECH_COLS[0]);
}

static void print_tech(json_t *t)
{
    json_t *rows = json_array();
    json_array_append(rows, t);
    asctl_print_table(rows, TECH_COLS, sizeof TECH_COLS / sizeof TECH_COLS[0]);
    json_decref(rows);
}

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

static int so_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const q[] = {"--state",    "state",  "--center", "center",   "--technician",
                                    "technician", "--date", "date",     "--status", "status",
                                    "--after",    "after",  "--limit",  "limit",    "--order",
                                    "order",      NULL};
    return asctl_verb_list(o, argc, argv, "service-order list", "/v1/service-orders", q,
                           print_orders);
}

static int so_show(const asctl_opts_t *o0, int argc, char **argv)
{
    if (asctl_verb_check(argc, argv, "", 1, 1, "service-order show") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256];
    if (asctl_verb_path(path, sizeof path, "/v1/service-orders/%s",
                        asctl_verb_pos(argc, argv, "", 0)) < 0)
        return ASCTL_USAGE;
    return asctl_request(&o, "GET", path, NULL, NULL, print_order);
}

static int so_create(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--name= --phone= --address= --category= --brand= --model= --serial= "
                       "--fault= --from= --to= --center= --ticket= --note=";
    static const char *const map[] = {
        "--address", "address",      "s", "--category", "category",   "s",
        "--brand",   "brand",        "s", "--model",    "model",      "s",
        "--serial",  "serial",       "s", "--fault",    "fault",      "s",
        "--from",    "window_start", "s", "--to",       "window_end", "s",
        "--center",  "center",       "s", "--ticket",   "ticket_id",  "s",
        "--note",    "note",         "s", NULL};
    if (asctl_verb_check(argc, argv, spec, 0, 0, "service-order create") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    const char *name = asctl_opt(argc, argv, "--name"), *phone = asctl_opt(argc, argv, "--phone");
    if (name || phone) {
        json_t *c = json_object();
        if (name)
            json_object_set_new(c, "name", json_string(name));
        if (phone)
            json_object_set_new(c, "phone", json_string(phone));
        json_object_set_new(b, "customer", c);
    }
    return asctl_request(&o, "POST", "/v1/service-orders", b, NULL, print_order);
}

static int so_schedule(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {
        "--technician", "technician", "s", "--from", "window_start", "s", "--to", "window_end", "s",
        "--note",       "note",       "s", NULL};
    return order_action(o, argc, argv, "--technician= --from= --to= --note=", "schedule", map,
                        NULL);
}

static int so_dispatch(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--note", "note", "s", NULL};
    return order_action(o, argc, argv, "--note=", "dispatch", map, NULL);
}

static int so_check_in(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--at", "at", "s", NULL};
    return order_action(o, argc, argv, "--at=", "check-in", map, NULL);
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

/* The customer pays the visit's invoice (settlement): the answer is printed as JSON. */
static int so_pay(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--method= --reference= --date=";
    static const char *const map[] = {"--method", "method", "s",         "--reference", "reference",
                                      "s",        "--date", "paid_date", "s",           NULL};
    char path[256];
    if (asctl_verb_check(argc, argv, spec, 1, 1, "service-order pay") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_path(path, sizeof path, "/v1/service-orders/%s/payment",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0 ||
        asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", path, b, NULL, NULL);
}

/* Vans (parts sites of kind van) and travel rates: answers printed as JSON. */
static int van_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const q[] = {"--center", "center", "--technician", "technician", NULL};
    return asctl_verb_list(o, argc, argv, "van list", "/v1/parts/vans", q, NULL);
}

static int van_save(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--name= --center= --technician= --inactive";
    static const char *const map[] = {"--name", "name",         "s",          "--center", "center",
                                      "s",      "--technician", "technician", "s",        NULL};
    if (asctl_verb_check(argc, argv, spec, 1, 1, "van save") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    json_object_set_new(b, "code", json_string(asctl_verb_pos(argc, argv, spec, 0)));
    json_object_set_new(b, "active", json_boolean(!asctl_flag(argc, argv, "--inactive")));
    return asctl_request(&o, "POST", "/v1/parts/vans", b, NULL, NULL);
}

static int tr_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const q[] = {"--date", "date", "--category", "category", NULL};
    return asctl_verb_list(o, argc, argv, "travel-rate list", "/v1/settlement/travel-rates", q,
                           NULL);
}

static int tr_set(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--category= --from= --list= --claim=";
    static const char *const map[] = {
        "--category", "category",          "s", "--from",  "effective_from",     "s",
        "--list",     "list_cents_per_km", "i", "--claim", "claim_cents_per_km", "i",
        NULL};
    if (asctl_verb_check(argc, argv, spec, 0, 0, "travel-rate set") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", "/v1/settlement/rates/travel", b, NULL, NULL);
}

static int so_confirm(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {
        "--by", "confirmed_by", "s",    "--signature", "signature", "s", "--rating",
        "i",    "--note",       "note", "s",           NULL};
    return order_action(o, argc, argv, "--by= --signature= --rating= --note=", "confirm", map,
                        NULL);
}

static int so_cancel(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--reason", "reason", "s", NULL};
    return order_action(o, argc, argv, "--reason=", "cancel", map, NULL);
}

static int te_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const q[] = {"--center", "center", "--skill", "skill", NULL};
    return asctl_verb_list(o, argc, argv, "technician list", "/v1/technicians", q, print_techs);
}

static int te_workload(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const q[] = {"--date", "date", "--center", "center", NULL};
    return asctl_verb_list(o, argc, argv, "technician workload", "/v1/technicians/workload", q,
                           print_load);
}

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
    return asctl_request(&o, "POST", "/v1/technicians", b, NULL, print_tech);
}

const asctl_cmd_t asctl_onsite_cmds[] = {
    {"service-order", "list",
     "[--state S] [--center C] [--technician LOGIN] [--date YYYY-MM-DD] "
     "[--status at_risk|overdue] [--order newest|priority] [--limit N] [--after ID]",
     "on-site service orders in scope", so_list},
    {"service-order", "show", "ID", "one order as the field-service record (外出服务记录表)",
     so_show},
    {"service-order", "create",
     "--name N --phone P --address A --category C --fault TEXT --from TS --to TS [--brand B] "
     "[--model M] [--serial S] [--center C] [--ticket ID] [--note TEXT]",
     "open an on-site service order", so_create},
    {"service-order", "schedule", "ID --technician LOGIN [--from TS --to TS] [--note TEXT]",
     "assign the technician (skill and region are checked)", so_schedule},
    {"service-order", "dispatch", "ID [--note TEXT]", "the technician sets off", so_dispatch},
    {"service-order", "check-in", "ID [--at TS]", "the technician is on site", so_check_in},
    {"service-order", "check-out",
     "ID --work TEXT --km N [--part SKU:QTY]... [--odometer KM] [--at TS]",
     "the work is done (the distance prices the travel fee)", so_check_out},
    {"service-order", "confirm", "ID --by NAME [--signature S] [--rating 1-5] [--note TEXT]",
     "the customer's confirmation", so_confirm},
    {"service-order", "cancel", "ID --reason TEXT", "cancel an order not yet on site", so_cancel},
    {"service-order", "pay", "ID --method M [--reference R] [--date YYYY-MM-DD]",
     "the customer pays the visit's invoice (posted once)", so_pay},
    {"van", "list", "[--center C] [--technician LOGIN]", "technicians' vans in scope", van_list},
    {"van", "save", "CODE --center C --technician LOGIN [--name N] [--inactive]",
     "register or change a technician's van (a parts site)", van_save},
    {"travel-rate", "list", "[--date YYYY-MM-DD] [--category C]",
     "the travel rates per km, in force on a date", tr_list},
    {"travel-rate", "set", "--category C|* --from YYYY-MM-DD --list CENTS --claim CENTS",
     "a travel rate per km from a date (today or later)", tr_set},
    {"technician", "list", "[--center C] [--skill CATEGORY]", "the technicians in scope", te_list},
    {"technician", "save", "LOGIN --name N --center C --skills CAT[,CAT…] [--inactive]",
     "register or change a technician", te_save},
    {"technician", "workload", "[--date YYYY-MM-DD] [--center C]", "orders per technician on a day",
     te_workload},
    {NULL, NULL, NULL, NULL, NULL},
};
