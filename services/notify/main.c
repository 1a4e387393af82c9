/* main.c — the notify service: integrators' webhooks and the pull feed of events.
 *
 * It follows the streams of intake, warranty, parts, settlement and surveys. Each event is
 * applied once (the runtime's consumer advances the position in the same transaction):
 * on_event() in SQL records it in the feed (`events`, the cursor of GET /v1/events) and queues
 * one delivery row per webhook whose event types and scope select it. The sender (deliver.c)
 * posts those rows. Commands (webhooks, deliveries, redelivery, the feed) are one SQL function
 * each (migrations/100_notify.sql) behind field checks here. */
#include "as/log.h"
#include "as/pbjson.h"
#include "notify.h"
#include "notify.pb-c.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nt_settings_t nt_cfg;

static as_config_item_t notify_items[] = {
    {"poll_ms", AS_CFG_INT, "250", 20, 60000,
     "the sender looks for due deliveries at least this often (milliseconds)", &nt_cfg.poll_ms},
    {"max_inflight", AS_CFG_INT, "32", 1, 1024, "deliveries in flight at once",
     &nt_cfg.max_inflight},
    {"timeout_s", AS_CFG_INT, "10", 1, 300, "time limit of one delivery attempt (seconds)",
     &nt_cfg.timeout_s},
    {"retry_base_ms", AS_CFG_INT, "1000", 10, 3600000,
     "wait before the first retry of a failed delivery; doubles at each failure",
     &nt_cfg.retry_base_ms},
    {"retry_max_s", AS_CFG_INT, "3600", 1, 86400, "longest wait between two attempts (seconds)",
     &nt_cfg.retry_max_s},
    {"max_attempts", AS_CFG_INT, "20", 1, 1000,
     "attempts before a delivery is marked failed (the next one of its stream then goes)",
     &nt_cfg.max_attempts},
    {"allow_private", AS_CFG_INT, "0", 0, 1,
     "1 = webhook URLs may name loopback and private addresses (tests, on-premises receivers)",
     &nt_cfg.allow_private},
    {"sms_url", AS_CFG_STRING, "", 0, 0,
     "the SMS provider's HTTP API: customer notifications are POSTed here as JSON "
     "{to, text, ref} (empty = no SMS)",
     &nt_cfg.sms_url},
    {"sms_key", AS_CFG_STRING, "", 0, 0,
     "the SMS provider's API key, sent as `Authorization: Bearer <key>`", &nt_cfg.sms_key},
    {"customer_webhook_url", AS_CFG_STRING, "", 0, 0,
     "a generic webhook that receives every customer notification as signed JSON (empty = off)",
     &nt_cfg.customer_webhook_url},
    {"customer_webhook_secret", AS_CFG_STRING, "", 0, 0,
     "the HMAC secret of the customer-notification webhook", &nt_cfg.customer_webhook_secret},
    {"quiet_start_h", AS_CFG_INT, "21", 0, 23,
     "customer notifications are held from this hour (Asia/Shanghai) ...", &nt_cfg.quiet_start_h},
    {"quiet_end_h", AS_CFG_INT, "8", 0, 23,
     "... until this hour (equal to quiet_start_h: no quiet hours)", &nt_cfg.quiet_end_h},
    {"status_page_url", AS_CFG_STRING, "", 0, 0,
     "the customer's status page (e.g. https://service.example.com/status/): customer "
     "notifications end with it and the ticket number (?t=T00000042); empty = omitted",
     &nt_cfg.status_page_url},
};

/* ---- the consumer: every event of the followed streams ---- */

/* Each event is one item of the batch's on_events() call (decision 36): the consumer runs one
 * statement for a batch of up to 32 events instead of an on_event() call per event. */
static void on_any_event(as_event_t *ev, void *ud)
{
    (void)ud;
    json_t *type = json_string(ev->type ? ev->type : "");
    char *qtype = type ? json_dumps(type, JSON_ENCODE_ANY) : NULL;
    json_decref(type);
    const char *payload = ev->json && *ev->json ? ev->json : "{}";
    size_t cap = strlen(payload) + (qtype ? strlen(qtype) : 2) + 96;
    char *item = malloc(cap);
    if (!item || !qtype) { /* out of memory: the event goes alone, the old way */
        free(item);
        free(qtype);
        char seq[24], occ[24];
        snprintf(seq, sizeof seq, "%" PRIu64, ev->sequence);
        snprintf(occ, sizeof occ, "%" PRId64,
                 ev->env && ev->env->has_occurred_at_ms ? ev->env->occurred_at_ms : (int64_t)0);
        const char *p[5] = {ev->stream, seq, ev->type, occ, payload};
        as_db_stmt_t st = {"SELECT on_event($1, $2::bigint, $3, $4::bigint, $5::jsonb)", 5, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    snprintf(item, cap, "{\"seq\":%" PRIu64 ",\"type\":%s,\"occ\":%" PRId64 ",\"payload\":%s}",
             ev->sequence, qtype,
             ev->env && ev->env->has_occurred_at_ms ? ev->env->occurred_at_ms : (int64_t)0,
             payload);
    as_event_collect(ev, "SELECT on_events($1, $2::jsonb)", item);
    free(item);
    free(qtype);
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_any_event},     {"warranty", on_any_event}, {"parts", on_any_event},
    {"settlement", on_any_event}, {"surveys", on_any_event},
};

static const char *const STREAMS[] = {"intake", "warranty", "parts", "settlement", "surveys"};

/* ---- field checks ---- */

#define NT_MAX_ERRORS 8

typedef struct nt_errors {
    int n;
    char field[NT_MAX_ERRORS][48];
    char problem[NT_MAX_ERRORS][160];
} nt_errors_t;

static void err_add(nt_errors_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_add(nt_errors_t *e, const char *field, const char *fmt, ...)
{
    if (e->n >= NT_MAX_ERRORS)
        return;
    snprintf(e->field[e->n], sizeof e->field[0], "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->problem[e->n], sizeof e->problem[0], fmt, ap);
    va_end(ap);
    e->n++;
}

static int reply_errors(as_cmd_ctx_t *ctx, const nt_errors_t *e)
{
    if (e->n == 0)
        return 0;
    const char *fields[NT_MAX_ERRORS], *problems[NT_MAX_ERRORS];
    for (int i = 0; i < e->n; i++) {
        fields[i] = e->field[i];
        problems[i] = e->problem[i];
    }
    char msg[260];
    snprintf(msg, sizeof msg, "%s: %s%s", e->field[0], e->problem[0],
             e->n > 1 ? " (and more, see errors)" : "");
    as_cmd_reply_fields(ctx, msg, e->n, fields, problems);
    return 1;
}

static int present(const char *s)
{
    return s && *s;
}

static int printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f)
            return 0;
    return 1;
}

static int is_code(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int known_stream(const char *s)
{
    for (size_t i = 0; i < sizeof STREAMS / sizeof STREAMS[0]; i++)
        if (strcmp(STREAMS[i], s) == 0)
            return 1;
    return 0;
}

/* "*", "<stream>.*" or "<stream>.<Type>" of a followed stream. */
static int event_type_ok(const char *t)
{
    if (strcmp(t, "*") == 0)
        return 1;
    const char *dot = strchr(t, '.');
    if (!dot || dot == t || (size_t)(dot - t) > 20)
        return 0;
    char stream[24];
    snprintf(stream, sizeof stream, "%.*s", (int)(dot - t), t);
    if (!known_stream(stream))
        return 0;
    const char *rest = dot + 1;
    if (strcmp(rest, "*") == 0)
        return 1;
    if (!(*rest >= 'A' && *rest <= 'Z') || strlen(rest) > 60)
        return 0;
    for (; *rest; rest++)
        if (!((*rest >= 'A' && *rest <= 'Z') || (*rest >= 'a' && *rest <= 'z') ||
              (*rest >= '0' && *rest <= '9')))
            return 0;
    return 1;
}

static void check_url(nt_errors_t *e, const char *url)
{
    if (!present(url)) {
        err_add(e, "url", "is required");
        return;
    }
    if (strlen(url) > 2000) {
        err_add(e, "url", "is longer than 2000 bytes");
        return;
    }
    if (!printable(url)) {
        err_add(e, "url", "contains spaces or control characters");
        return;
    }
    const char *host;
    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else {
        err_add(e, "url", "must start with http:// or https://");
        return;
    }
    if (!*host || *host == '/' || *host == ':') {
        err_add(e, "url", "names no host");
        return;
    }
    if (!nt_cfg.allow_private) {
        static const char *const priv[] = {"localhost", "127.", "10.", "192.168.", "169.254.",
                                           "[::1]",     "0.",   "[fc", "[fd",      "[fe80"};
        for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
            if (strncmp(host, priv[i], strlen(priv[i])) == 0) {
                err_add(e, "url",
                        "names a loopback or private address (refused unless the service runs "
                        "with allow_private=1)");
                return;
            }
    }
}

static void create_webhook(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const Notify__CreateWebhook *m = (const Notify__CreateWebhook *)req;
    nt_errors_t e = {0};
    check_url(&e, m->url);
    if (m->n_event_types == 0)
        err_add(&e, "event_types", "is required: at least one type (\"*\" for all)");
    else if (m->n_event_types > 50)
        err_add(&e, "event_types", "at most 50 entries");
    for (size_t i = 0; i < m->n_event_types; i++)
        if (!event_type_ok(m->event_types[i])) {
            err_add(&e, "event_types",
                    "'%.60s' is not \"*\", \"<stream>.*\" or \"<stream>.<EventType>\" of the "
                    "streams intake, warranty, parts, settlement, surveys",
                    m->event_types[i]);
            break;
        }
    if (!present(m->secret))
        err_add(&e, "secret", "is required (16 to 200 printable characters)");
    else if (strlen(m->secret) < 16 || strlen(m->secret) > 200 || !printable(m->secret))
        err_add(&e, "secret", "must be 16 to 200 printable characters without spaces");
    const char *role = present(m->role) ? m->role : "admin";
    int is_center = strcmp(role, "center") == 0, is_region = strcmp(role, "region") == 0;
    if (!is_center && !is_region && strcmp(role, "admin") != 0 && strcmp(role, "reviewer") != 0)
        err_add(&e, "role", "one of admin, reviewer, region, center");
    if (is_center && !(present(m->center) && is_code(m->center, 16)))
        err_add(&e, "center", "is required for role center (a centre code)");
    if (!is_center && present(m->center))
        err_add(&e, "center", "only with role center");
    if (is_region && !(present(m->region) && is_code(m->region, 16)))
        err_add(&e, "region", "is required for role region (a region code)");
    if (!is_region && present(m->region))
        err_add(&e, "region", "only with role region");
    if (present(m->description) && strlen(m->description) > 200)
        err_add(&e, "description", "is longer than 200 bytes");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static void by_id(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    /* GetWebhook, PauseWebhook, ResumeWebhook, DeleteWebhook: the field `id` */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "id");
    const char *id = f ? *(char *const *)((const char *)req + f->offset) : NULL;
    nt_errors_t e = {0};
    if (!present(id) || !is_code(id, 40))
        err_add(&e, "id", "is required (a webhook id)");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static void list_deliveries(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const Notify__ListDeliveries *m = (const Notify__ListDeliveries *)req;
    nt_errors_t e = {0};
    if (!present(m->id) || !is_code(m->id, 40))
        err_add(&e, "id", "is required (a webhook id)");
    if (m->has_limit && (m->limit < 1 || m->limit > 500))
        err_add(&e, "limit", "must be 1..500");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static void redeliver(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const Notify__Redeliver *m = (const Notify__Redeliver *)req;
    nt_errors_t e = {0};
    if (!present(m->id) || !is_code(m->id, 40))
        err_add(&e, "id", "is required (a webhook id)");
    if (!present(m->stream) || !known_stream(m->stream))
        err_add(&e, "stream", "one of intake, warranty, parts, settlement, surveys");
    if (!m->has_from_sequence || m->from_sequence < 1)
        err_add(&e, "from_sequence", "is required (1 or more)");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static void list_events(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const Notify__ListEvents *m = (const Notify__ListEvents *)req;
    nt_errors_t e = {0};
    if (m->has_after && m->after < 0)
        err_add(&e, "after", "must be 0 or more (the `next` of the previous page)");
    if (m->has_limit && (m->limit < 1 || m->limit > 1000))
        err_add(&e, "limit", "must be 1..1000");
    if (present(m->type) && !event_type_ok(m->type))
        err_add(&e, "type", "\"<stream>.*\" or \"<stream>.<EventType>\"");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

/* A phone number as the desks type it: 5..20 digits, optionally a leading + . */
static int phone_ok(const char *s)
{
    size_t n = 0;
    if (*s == '+')
        s++;
    for (; *s; s++, n++)
        if (*s < '0' || *s > '9')
            return 0;
    return n >= 5 && n <= 20;
}

static void opt_phone(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "phone");
    const char *phone = f ? *(char *const *)((const char *)req + f->offset) : NULL;
    nt_errors_t e = {0};
    if (!present(phone) || !phone_ok(phone))
        err_add(&e, "phone", "is required: 5 to 20 digits, optionally after a +");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static void list_notifications(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *ud)
{
    (void)ud;
    const Notify__ListNotifications *m = (const Notify__ListNotifications *)req;
    nt_errors_t e = {0};
    if (m->has_limit && (m->limit < 1 || m->limit > 500))
        err_add(&e, "limit", "must be 1..500");
    if (reply_errors(ctx, &e))
        return;
    as_cmd_sql_default(ctx, req, NULL);
}

static const as_cmd_def_t commands[] = {
    {"notify.CreateWebhook", &notify__webhook__descriptor, create_webhook, "cmd_create_webhook"},
    {"notify.ListWebhooks", &notify__webhook_list__descriptor, as_cmd_sql_default,
     "cmd_list_webhooks"},
    {"notify.GetWebhook", &notify__webhook__descriptor, by_id, "cmd_get_webhook"},
    {"notify.PauseWebhook", &notify__webhook__descriptor, by_id, "cmd_pause_webhook"},
    {"notify.ResumeWebhook", &notify__webhook__descriptor, by_id, "cmd_resume_webhook"},
    {"notify.DeleteWebhook", &notify__webhook__descriptor, by_id, "cmd_delete_webhook"},
    {"notify.ListDeliveries", &notify__delivery_list__descriptor, list_deliveries,
     "cmd_list_deliveries"},
    {"notify.Redeliver", &notify__redelivered__descriptor, redeliver, "cmd_redeliver"},
    {"notify.ListEvents", &notify__event_page__descriptor, list_events, "cmd_list_events"},
    {"notify.ListNotifications", &notify__notification_list__descriptor, list_notifications,
     "cmd_list_notifications"},
    {"notify.OptOut", &notify__opt_status__descriptor, opt_phone, "cmd_opt_out"},
    {"notify.OptIn", &notify__opt_status__descriptor, opt_phone, "cmd_opt_in"},
};

static int notify_start(as_service_t *svc)
{
    return nt_deliver_start(svc);
}

static void notify_stop(as_service_t *svc)
{
    (void)svc;
    nt_deliver_stop();
}

int main(int argc, char **argv)
{
    as_service_def_t def = {
        .name = "notify",
        AS_DEF_CMDS(commands),
        AS_DEF_SUBS(subscriptions),
        .publishes = 0,
        /* One series per state the CHECK constraint allows, 0 while none is in it. */
        .metrics_sql =
            "SELECT 'aftersales_webhook_deliveries', format('state=\"%s\"', k.state), "
            "count(d.state), 'webhook deliveries by state' FROM ("
            "SELECT (regexp_matches(pg_get_constraintdef(x.oid), '''([a-z_]+)''', 'g'))[1] "
            "AS state FROM pg_constraint x WHERE x.conrelid = 'deliveries'::regclass "
            "AND x.conname = 'deliveries_state_check' "
            "UNION SELECT DISTINCT state FROM deliveries) k "
            "LEFT JOIN deliveries d ON d.state = k.state GROUP BY k.state",
        AS_DEF_EXTRA(notify_items),
        .start = notify_start,
        .stop = notify_stop,
    };
    return as_service_main(argc, argv, &def);
}
