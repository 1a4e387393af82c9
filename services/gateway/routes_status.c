/* routes_status.c — the customer's status page (docs/intake.md "Status page"): no credentials;
 * the ticket number and the last four digits of the ticket's phone are checked by intake, which
 * answers the same 404 for an unknown ticket and a wrong phone.
 *
 * Both routes are public, so they are guarded by a limiter of their own, per client address
 * (X-Forwarded-For from a trusted proxy, like the gateway's other limits): by default 5
 * misses a minute with a burst of 10 (status_page_per_minute, status_page_burst), on top of
 * the gateway-wide limits. Only a miss (404: an unknown ticket or the wrong digits) keeps the
 * request it took; answers and malformed requests give it back. Guessing the 10,000 possible
 * last four digits of one ticket then takes an address more than a day. Every call reaches intake
 * as the principal "the customer, via the status page" (role customer), which is what the timeline
 * and the audit trail show. */
#include "gateway.h"
#include "intake.pb-c.h"
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static gw_ratelimit_t *status_rl;

static const gw_principal_t STATUS_PRINCIPAL = {
    .subject = "customer:status-page",
    .role = "customer",
    .display_name = "the customer, via the status page",
};

void gw_status_configure(long per_minute, long burst)
{
    gw_rl_free(&status_rl);
    status_rl = gw_rl_new((double)per_minute / 60.0, (double)burst);
}

void gw_status_shutdown(void)
{
    gw_rl_free(&status_rl);
}

uint64_t gw_status_refused(void)
{
    return gw_rl_refused(status_rl);
}

typedef struct status_call {
    as_http_req_t *r;
    char key[96];
} status_call_t;

/* Only a miss (404: no such ticket, or the wrong digits) costs the address its request: a
 * customer reading the page again, or a malformed request, is given its request back. */
static void status_done(int status, const As__Reply *reply, void *ud)
{
    status_call_t *c = ud;
    int answered = reply && reply->has_status ? (int)reply->status : status;
    if (answered != 404)
        gw_rl_refund(status_rl, c->key);
    gw_respond_reply(c->r, status, reply);
    free(c);
}

static void status_call(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                        const gw_principal_t *p)
{
    (void)p;
    char key[96];
    unsigned wait_s = gw_rl_take(
        status_rl, gw_rl_address_key(gw_request_client(r), key, sizeof key), uv_hrtime() / 1000000);
    if (wait_s) {
        char body[200], hdr[64];
        int n = snprintf(body, sizeof body,
                         "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many status "
                         "page requests from this address; retry in %u s\"}}",
                         wait_s);
        snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", wait_s);
        as_http_respond(r, 429, "application/json", body, (size_t)n, hdr);
        return;
    }
    ProtobufCMessage *m = gw_build_command(r, rt, params);
    if (!m) {
        gw_rl_refund(status_rl, key); /* malformed: no guess was made */
        return;
    }
    status_call_t *c = malloc(sizeof *c);
    if (!c) {
        protobuf_c_message_free_unpacked(m, NULL);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    c->r = r;
    snprintf(c->key, sizeof c->key, "%s", key);
    if (gw_call(r, rt, m, &STATUS_PRINCIPAL, status_done, c) < 0)
        free(c);
    protobuf_c_message_free_unpacked(m, NULL);
}

const gw_route_t gw_routes_status[] = {
    {"GET", "/v1/status/{ticket_no}", R_PUBLIC, "intake", "intake.GetTicketStatus", 0, NULL, NULL,
     status_call,
     "the customer's status page: progress, a waiting estimate, pickup (no credentials: the "
     "ticket number and the phone's last four digits; rate-limited per address)",
     "phone_last4"},
    {"POST", "/v1/status/{ticket_no}/estimate", R_PUBLIC, "intake", "intake.DecideEstimate", 1,
     NULL, NULL, status_call,
     "the customer accepts or declines the waiting estimate through the status page", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
