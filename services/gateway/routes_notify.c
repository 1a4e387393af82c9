/* routes_notify.c — the HTTP routes of the notify service: integrators' webhooks (head office
 * manages them) and the pull feed of events (scoped by the service like every read: a centre
 * sees its own centre's events, a region its region's; personal data masked for roles that do
 * not call customers); the customer's notification outbox and opt-outs. */
#include "events_stream.h"
#include "gateway.h"

#define FEED (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)

/* GET /v1/events: the pull feed, or with Accept: text/event-stream the same feed as Server-Sent
 * Events (events_stream.c). */
static void events(as_http_req_t *r, const gw_route_t *rt, json_t *params, const gw_principal_t *p)
{
    if (gw_sse_wanted(r))
        gw_sse_start(r, p);
    else
        gw_route_generic(r, rt, params, p);
}

const gw_route_t gw_routes_notify[] = {
    {"POST", "/v1/webhooks", R_ADMIN, "notify", "notify.CreateWebhook", 1, NULL, NULL, NULL,
     "subscribe a URL to event types (signed deliveries, scoped like a reader of `role`)", NULL},
    {"GET", "/v1/webhooks", R_ADMIN, "notify", "notify.ListWebhooks", 0, NULL, NULL, NULL,
     "every webhook with its delivery counts", NULL},
    {"GET", "/v1/webhooks/{id}", R_ADMIN, "notify", "notify.GetWebhook", 0, NULL, NULL, NULL,
     "one webhook with its delivery counts", NULL},
    {"POST", "/v1/webhooks/{id}/pause", R_ADMIN, "notify", "notify.PauseWebhook", 1, NULL, NULL,
     NULL, "stop sending (deliveries keep queueing)", NULL},
    {"POST", "/v1/webhooks/{id}/resume", R_ADMIN, "notify", "notify.ResumeWebhook", 1, NULL, NULL,
     NULL, "send again, from the oldest waiting delivery", NULL},
    {"DELETE", "/v1/webhooks/{id}", R_ADMIN, "notify", "notify.DeleteWebhook", 0, NULL, NULL, NULL,
     "delete the subscription (nothing more is sent)", NULL},
    {"GET", "/v1/webhooks/{id}/deliveries", R_ADMIN, "notify", "notify.ListDeliveries", 0, NULL,
     NULL, NULL, "the delivery log, newest first (cursor pagination)",
     "state=pending|delivered|failed"},
    {"POST", "/v1/webhooks/{id}/redeliver", R_ADMIN, "notify", "notify.Redeliver", 1, NULL, NULL,
     NULL, "queue again every selected event of a stream from a sequence on", NULL},
    {"GET", "/v1/events", FEED, "notify", "notify.ListEvents", 0, NULL, "json", events,
     "the pull feed: events after a cursor, scoped like reads (Accept: text/event-stream: "
     "Server-Sent Events from the cursor or Last-Event-ID)",
     "after limit type"},
    /* the customer's notifications */
    {"GET", "/v1/notifications", FEED, "notify", "notify.ListNotifications", 0, NULL, NULL, NULL,
     "the customer notification outbox with delivery status (scoped)",
     "state=pending|sent|failed|suppressed channel=sms|webhook"},
    {"POST", "/v1/notifications/opt-out", R_ADMIN | R_CENTER, "notify", "notify.OptOut", 1, NULL,
     NULL, NULL, "the customer with this phone is told nothing more", NULL},
    {"POST", "/v1/notifications/opt-in", R_ADMIN | R_CENTER, "notify", "notify.OptIn", 1, NULL,
     NULL, NULL, "the customer with this phone is told again", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
