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

static const asctl_view_t WEBHOOKS_VIEW = ASCTL_VIEW("webhooks", WEBHOOK_COLS);

static const asctl_view_t WEBHOOK_VIEW = ASCTL_VIEW(NULL, WEBHOOK_COLS);

static const asctl_view_t DELIVERIES_VIEW =
    ASCTL_VIEW("deliveries", DELIVERY_COLS, .more = "more: asctl webhook deliveries ID --after %s");

static const asctl_view_t EVENTS_VIEW =
    ASCTL_VIEW("events", EVENT_COLS, .more = "next: asctl events --after %s");

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
     ASCTL_CALL("POST", "/v1/webhooks", .body = WH_FIELDS, .need = WH_NEED, .view = &WEBHOOK_VIEW)},
    {"webhook", "list", "", "every webhook with its delivery counts",
     ASCTL_CALL("GET", "/v1/webhooks", .view = &WEBHOOKS_VIEW)},
    {"webhook", "show", "ID", "one webhook",
     ASCTL_CALL("GET", "/v1/webhooks/%s", .view = &WEBHOOK_VIEW)},
    {"webhook", "pause", "ID", "stop sending (deliveries keep queueing)",
     ASCTL_CALL("POST", "/v1/webhooks/%s/pause", .body = ASCTL_NO_FIELDS, .view = &WEBHOOK_VIEW)},
    {"webhook", "resume", "ID", "send the waiting deliveries, in order",
     ASCTL_CALL("POST", "/v1/webhooks/%s/resume", .body = ASCTL_NO_FIELDS, .view = &WEBHOOK_VIEW)},
    {"webhook", "delete", "ID", "nothing more is sent",
     ASCTL_CALL("DELETE", "/v1/webhooks/%s", .view = &WEBHOOK_VIEW)},
    {"webhook", "deliveries", "ID [--state pending|delivered|failed] [--after C] [--limit N]",
     "the delivery log, newest first",
     ASCTL_CALL("GET", "/v1/webhooks/%s/deliveries", .query = DELIVERY_QUERY,
                .view = &DELIVERIES_VIEW)},
    {"webhook", "redeliver", "ID --stream S --from SEQ",
     "queue again every selected event of a stream from a sequence on",
     ASCTL_CALL("POST", "/v1/webhooks/%s/redeliver", .body = REDELIVER_FIELDS,
                .need = REDELIVER_NEED)},
    {"events", "list", "[--after CURSOR] [--limit N] [--type T]",
     "the pull feed of events after a cursor (scoped like reads)",
     ASCTL_CALL("GET", "/v1/events", .query = EVENT_QUERY, .view = &EVENTS_VIEW)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
