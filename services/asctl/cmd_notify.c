/* cmd_notify.c — integrators' webhooks and the event feed (the notify service). */
#include "asctl.h"

#include <stdio.h>
#include <string.h>

static const asctl_col_t WEBHOOK_COLS[] = {
    {"WEBHOOK", "id", 19},         {"STATE", "state", 7},   {"ROLE", "role", 8},
    {"CENTRE", "center", 6},       {"REGION", "region", 6}, {"PENDING", "pending", 7},
    {"DELIVERED", "delivered", 9}, {"FAILED", "failed", 6}, {"URL", "url", 40},
};

static const asctl_col_t DELIVERY_COLS[] = {
    {"ID", "id", 8},
    {"EVENT", "event_id", 16},
    {"TYPE", "type", 28},
    {"STATE", "state", 9},
    {"TRIES", "attempts", 5},
    {"HTTP", "last_status", 4},
    {"NEXT TRY", "next_attempt_at", 24},
    {"ERROR", "last_error", 30},
};

static const asctl_col_t EVENT_COLS[] = {
    {"POS", "position", 7},  {"EVENT", "id", 16},       {"TYPE", "type", 30},
    {"CENTRE", "center", 6}, {"AT", "occurred_at", 24},
};

static void print_webhooks(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "webhooks"), WEBHOOK_COLS,
                      sizeof WEBHOOK_COLS / sizeof WEBHOOK_COLS[0]);
}

static void print_webhook(json_t *w)
{
    json_t *rows = json_array(), *ans = json_object();
    json_array_append(rows, w);
    json_object_set_new(ans, "webhooks", rows);
    print_webhooks(ans);
    json_decref(ans);
}

static void print_deliveries(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "deliveries"), DELIVERY_COLS,
                      sizeof DELIVERY_COLS / sizeof DELIVERY_COLS[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl webhook deliveries ID --after %s\n", next);
}

static void print_events(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "events"), EVENT_COLS,
                      sizeof EVENT_COLS / sizeof EVENT_COLS[0]);
    json_t *next = json_object_get(ans, "next");
    if (json_is_integer(next))
        printf("\nnext: asctl events --after %lld\n", (long long)json_integer_value(next));
}

static const char *const WH_FIELDS[] = {
    "--url",         "url",         "s", "--types",  "event_types", "l", "--secret", "secret", "s",
    "--role",        "role",        "s", "--center", "center",      "s", "--region", "region", "s",
    "--description", "description", "s", NULL};
static const char *const WH_NEED[] = {"--url", "--types", "--secret", NULL};
static const char *const DELIVERY_QUERY[] = {"--state", "state", "--after", "after",
                                             "--limit", "limit", NULL};
static const char *const REDELIVER_FIELDS[] = {"--stream",      "stream", "s", "--from",
                                               "from_sequence", "i",      NULL};
static const char *const REDELIVER_NEED[] = {"--stream", "--from", NULL};
static const char *const EVENT_QUERY[] = {"--after", "after", "--limit", "limit",
                                          "--type",  "type",  NULL};

const asctl_cmd_t asctl_notify_cmds[] = {
    {"webhook", "create",
     "--url URL --types T1,T2 --secret S [--role admin|reviewer|region|center] [--center C] "
     "[--region R] [--description T]",
     "subscribe a URL to event types (signed deliveries)",
     ASCTL_CALL("POST", "/v1/webhooks", .body = WH_FIELDS, .need = WH_NEED,
                .print = print_webhook)},
    {"webhook", "list", "", "every webhook with its delivery counts",
     ASCTL_CALL("GET", "/v1/webhooks", .print = print_webhooks)},
    {"webhook", "show", "ID", "one webhook",
     ASCTL_CALL("GET", "/v1/webhooks/%s", .print = print_webhook)},
    {"webhook", "pause", "ID", "stop sending (deliveries keep queueing)",
     ASCTL_CALL("POST", "/v1/webhooks/%s/pause", .body = ASCTL_NO_FIELDS, .print = print_webhook)},
    {"webhook", "resume", "ID", "send the waiting deliveries, in order",
     ASCTL_CALL("POST", "/v1/webhooks/%s/resume", .body = ASCTL_NO_FIELDS, .print = print_webhook)},
    {"webhook", "delete", "ID", "nothing more is sent",
     ASCTL_CALL("DELETE", "/v1/webhooks/%s", .print = print_webhook)},
    {"webhook", "deliveries", "ID [--state pending|delivered|failed] [--after C] [--limit N]",
     "the delivery log, newest first",
     ASCTL_CALL("GET", "/v1/webhooks/%s/deliveries", .query = DELIVERY_QUERY,
                .print = print_deliveries)},
    {"webhook", "redeliver", "ID --stream S --from SEQ",
     "queue again every selected event of a stream from a sequence on",
     ASCTL_CALL("POST", "/v1/webhooks/%s/redeliver", .body = REDELIVER_FIELDS,
                .need = REDELIVER_NEED)},
    {"events", "list", "[--after CURSOR] [--limit N] [--type T]",
     "the pull feed of events after a cursor (scoped like reads)",
     ASCTL_CALL("GET", "/v1/events", .query = EVENT_QUERY, .print = print_events)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
