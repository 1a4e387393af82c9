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

static int wh_create(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {
        "--url",         "url",         "s", "--types",  "event_types", "l",
        "--secret",      "secret",      "s", "--role",   "role",        "s",
        "--center",      "center",      "s", "--region", "region",      "s",
        "--description", "description", "s", NULL};
    if (asctl_verb_check(argc, argv,
                         "--url= --types= --secret= --role= --center= --region= --description=", 0,
                         0, "webhook create") < 0)
        return ASCTL_USAGE;
    if (!asctl_opt(argc, argv, "--url") || !asctl_opt(argc, argv, "--types") ||
        !asctl_opt(argc, argv, "--secret")) {
        fprintf(stderr, "asctl: webhook create needs --url, --types and --secret\n");
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", "/v1/webhooks", b, NULL, print_webhook);
}

static int wh_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {NULL};
    return asctl_verb_list(o, argc, argv, "webhook list", "/v1/webhooks", map, print_webhooks);
}

static int wh_id(const asctl_opts_t *o0, int argc, char **argv, const char *cmd, const char *method,
                 const char *fmt)
{
    if (asctl_verb_check(argc, argv, "", 1, 1, cmd) < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256];
    if (asctl_verb_path(path, sizeof path, fmt, asctl_verb_pos(argc, argv, "", 0)) < 0)
        return ASCTL_USAGE;
    return asctl_request(&o, method, path, strcmp(method, "POST") == 0 ? json_object() : NULL, NULL,
                         print_webhook);
}

static int wh_show(const asctl_opts_t *o, int argc, char **argv)
{
    return wh_id(o, argc, argv, "webhook show", "GET", "/v1/webhooks/%s");
}
static int wh_pause(const asctl_opts_t *o, int argc, char **argv)
{
    return wh_id(o, argc, argv, "webhook pause", "POST", "/v1/webhooks/%s/pause");
}
static int wh_resume(const asctl_opts_t *o, int argc, char **argv)
{
    return wh_id(o, argc, argv, "webhook resume", "POST", "/v1/webhooks/%s/resume");
}
static int wh_delete(const asctl_opts_t *o, int argc, char **argv)
{
    return wh_id(o, argc, argv, "webhook delete", "DELETE", "/v1/webhooks/%s");
}

static int wh_deliveries(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--state", "state", "--after", "after",
                                    "--limit", "limit", NULL};
    const char *spec = "--state= --after= --limit=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "webhook deliveries") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[1024];
    if (asctl_verb_path(path, sizeof path, "/v1/webhooks/%s/deliveries",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0 ||
        asctl_verb_query(path, sizeof path, argc, argv, q) < 0)
        return ASCTL_USAGE;
    return asctl_request(&o, "GET", path, NULL, NULL, print_deliveries);
}

static int wh_redeliver(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {"--stream",      "stream", "s", "--from",
                                      "from_sequence", "i",      NULL};
    const char *spec = "--stream= --from=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "webhook redeliver") < 0)
        return ASCTL_USAGE;
    if (!asctl_opt(argc, argv, "--stream") || !asctl_opt(argc, argv, "--from")) {
        fprintf(stderr, "asctl: webhook redeliver needs --stream and --from\n");
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[256];
    if (asctl_verb_path(path, sizeof path, "/v1/webhooks/%s/redeliver",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0)
        return ASCTL_USAGE;
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", path, b, NULL, NULL);
}

static int ev_list(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--after", "after", "--limit", "limit",
                                      "--type",  "type",  NULL};
    return asctl_verb_list(o, argc, argv, "events list", "/v1/events", map, print_events);
}

const asctl_cmd_t asctl_notify_cmds[] = {
    {"webhook", "create",
     "--url URL --types T1,T2 --secret S [--role admin|reviewer|region|center] [--center C] "
     "[--region R] [--description T]",
     "subscribe a URL to event types (signed deliveries)", wh_create},
    {"webhook", "list", "", "every webhook with its delivery counts", wh_list},
    {"webhook", "show", "ID", "one webhook", wh_show},
    {"webhook", "pause", "ID", "stop sending (deliveries keep queueing)", wh_pause},
    {"webhook", "resume", "ID", "send the waiting deliveries, in order", wh_resume},
    {"webhook", "delete", "ID", "nothing more is sent", wh_delete},
    {"webhook", "deliveries", "ID [--state pending|delivered|failed] [--after C] [--limit N]",
     "the delivery log, newest first", wh_deliveries},
    {"webhook", "redeliver", "ID --stream S --from SEQ",
     "queue again every selected event of a stream from a sequence on", wh_redeliver},
    {"events", "list", "[--after CURSOR] [--limit N] [--type T]",
     "the pull feed of events after a cursor (scoped like reads)", ev_list},
    {NULL, NULL, NULL, NULL, NULL},
};
