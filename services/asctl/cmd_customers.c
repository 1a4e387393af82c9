/* cmd_customers.c — `asctl customer …` and `asctl device show`: the customer register and the
 * device registry (kept by intake, docs/customers.md). */
#include "asctl.h"

#include <stdio.h>
#include <string.h>

static const asctl_col_t CUSTOMER_COLS[] = {
    {"ID", "id", 11},    {"NAME", "name", 20},           {"PHONES", "phones", 26},
    {"TIER", "tier", 8}, {"OWNER", "account_owner", 16}, {"CENTRE", "center", 8},
};
static const asctl_col_t HISTORY_COLS[] = {
    {"TICKET", "id", 10},      {"CENTRE", "center", 8},     {"STATE", "state", 14},
    {"REQUEST", "request", 8}, {"FAULT", "fault_code", 12}, {"OPENED", "opened_at", 24},
};
static const asctl_col_t DEVICE_COLS[] = {
    {"DEVICE", "key", 20},          {"BRAND", "brand", 10},
    {"MODEL", "model", 12},         {"PURCHASED", "purchase_date", 10},
    {"INVOICE", "invoice_ref", 12},
};

static void print_customer(json_t *c)
{
    char b[512];
    /* clang-format off */
    static const char *const fields[] = {
        "id", "id",
        "name", "name",
        "phones", "phones",
        "address", "address",
        "tier", "tier",
        "owner", "account_owner",
        NULL};
    /* clang-format on */
    asctl_print_lines(c, fields);
    size_t off = 0;
    const char *ch;
    json_t *yes;
    b[0] = '\0';
    json_object_foreach(json_object_get(c, "consent"), ch, yes)
    {
        if (off < sizeof b)
            off += (size_t)snprintf(b + off, sizeof b - off, "%s%s=%s", off ? "," : "", ch,
                                    json_is_true(yes) ? "yes" : "no");
    }
    asctl_verb_line("consent", b);
    asctl_verb_line("centre", asctl_get(c, "center", b, sizeof b));
    if (json_object_get(c, "erased_at"))
        asctl_verb_line("erased", asctl_get(c, "erased_at", b, sizeof b));
    json_t *d = json_object_get(c, "devices");
    if (json_array_size(d)) {
        printf("\ndevices:\n");
        asctl_print_table(d, DEVICE_COLS, sizeof DEVICE_COLS / sizeof DEVICE_COLS[0]);
    }
    json_t *t = json_object_get(c, "tickets");
    if (json_array_size(t)) {
        printf("\ntickets:\n");
        asctl_print_table(t, HISTORY_COLS, sizeof HISTORY_COLS / sizeof HISTORY_COLS[0]);
    }
}

static const asctl_view_t CUSTOMERS_VIEW =
    ASCTL_VIEW("customers", CUSTOMER_COLS, .more = "more: asctl customer list --after %s");

static void print_device(json_t *d)
{
    /* clang-format off */
    static const char *const fields[] = {
        "device", "key",
        "brand", "brand",
        "model", "model",
        "purchased", "purchase_date",
        "invoice", "invoice_ref",
        "owner", "customer_id",
        NULL};
    /* clang-format on */
    asctl_print_lines(d, fields);
    printf("\nhistory:\n");
    asctl_print_table(json_object_get(d, "history"), HISTORY_COLS,
                      sizeof HISTORY_COLS / sizeof HISTORY_COLS[0]);
}

static const asctl_view_t DEVICES_VIEW =
    ASCTL_VIEW("devices", DEVICE_COLS, .more = "more: asctl device list --after %s");

static void print_devices(json_t *ans)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(ans, "devices"), i, d)
    {
        if (i)
            printf("\n");
        print_device(d);
    }
}

/* --name/--phone(s)/--address/--tier/--owner/--center/--sms/--no-sms into a JSON body */
static const char *const FIELDS[] = {"--name",    "name",          "s", "--phones", "phones", "l",
                                     "--address", "address",       "s", "--tier",   "tier",   "s",
                                     "--owner",   "account_owner", "s", "--center", "center", "s",
                                     NULL};

static int consent(json_t *b, int argc, char **argv)
{
    const char *v = asctl_opt(argc, argv, "--consent");
    if (!v)
        return 0;
    /* --consent sms=yes,phone=no,email=no */
    json_t *c = json_object();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || (strcmp(eq + 1, "yes") != 0 && strcmp(eq + 1, "no") != 0)) {
            fprintf(stderr, "asctl: --consent takes channel=yes|no,… (e.g. sms=yes,phone=no)\n");
            json_decref(c);
            return -1;
        }
        *eq = '\0';
        json_object_set_new(c, tok, json_boolean(strcmp(eq + 1, "yes") == 0));
    }
    json_object_set_new(b, "consent", c);
    return 0;
}

static int c_add(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--name= --phones= --address= --tier= --owner= --center= --consent=";
    if (asctl_verb_check(argc, argv, spec, 0, 0, "customer add") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, FIELDS) < 0 || consent(b, argc, argv) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", "/v1/customers", b, NULL, print_customer);
}

static int c_update(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--name= --phones= --address= --tier= --owner= --consent=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "customer update") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256];
    json_t *b = json_object();
    if (asctl_verb_path(path, sizeof path, "/v1/customers/%s",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0 ||
        asctl_verb_body(b, argc, argv, FIELDS) < 0 || consent(b, argc, argv) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "PATCH", path, b, NULL, print_customer);
}

static int c_erase(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--reason=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "customer erase") < 0)
        return ASCTL_USAGE;
    const char *reason = asctl_opt(argc, argv, "--reason");
    if (!reason || !*reason) {
        fprintf(stderr, "asctl: customer erase needs --reason TEXT\n");
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256];
    if (asctl_verb_path(path, sizeof path, "/v1/customers/%s/erase",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0)
        return ASCTL_USAGE;
    json_t *b = json_object();
    json_object_set_new(b, "reason", json_string(reason));
    return asctl_request(&o, "POST", path, b, NULL, print_customer);
}

static const char *const CUSTOMER_QUERY[] = {"--phone", "phone", "--name",  "name",
                                             "--imei",  "imei",  "--after", "after",
                                             "--limit", "limit", NULL};
static const char *const DEVICE_QUERY[] = {"--imei",  "imei",  "--serial", "serial", "--vin", "vin",
                                           "--after", "after", "--limit",  "limit",  NULL};

const asctl_cmd_t asctl_customer_cmds[] = {
    {"customer", "list", "[--phone PREFIX] [--name PREFIX] [--imei IMEI] [--limit N] [--after ID]",
     "find customers (admin, centre desks)",
     ASCTL_CALL("GET", "/v1/customers", .query = CUSTOMER_QUERY, .view = &CUSTOMERS_VIEW)},
    {"customer", "show", "ID", "a customer with devices and tickets (the read is audited)",
     ASCTL_CALL("GET", "/v1/customers/%s", .print = print_customer)},
    {"customer", "add",
     "--name N --phones P[,P…] [--address A] [--tier regular|key|vip --owner NAME] [--center C] "
     "[--consent sms=yes,phone=no,…]",
     "register a customer", c_add, NULL},
    {"customer", "update",
     "ID [--name N] [--phones P,…] [--address A] [--tier T] [--owner NAME] [--consent …]",
     "change a customer (phones are added)", c_update, NULL},
    {"customer", "devices", "ID", "the customer's devices with their history",
     ASCTL_CALL("GET", "/v1/customers/%s/devices", .print = print_devices)},
    {"customer", "erase", "ID --reason TEXT",
     "erase a customer's personal data (admin; tickets keep their ids and states)", c_erase, NULL},
    {"device", "show", "IMEI|VIN", "a device: owner and repair history at every centre",
     ASCTL_CALL("GET", "/v1/devices/%s", .print = print_device)},
    {"device", "list", "[--imei PREFIX] [--serial PREFIX] [--vin PREFIX] [--limit N] [--after KEY]",
     "find devices by IMEI, serial or VIN prefix",
     ASCTL_CALL("GET", "/v1/devices", .query = DEVICE_QUERY, .view = &DEVICES_VIEW)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
