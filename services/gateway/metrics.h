/* metrics.h — the gateway's Prometheus metrics: HTTP requests and latency per route and
 * status, command latency per service, and (gathered from the services at scrape time) health,
 * outbox backlog and consumer lag per stream, and each service's own gauges. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include "as/bus.h"
#include "http.h"

/* Remember when request `r` started and which route it took (NULL: none matched). */
void gw_metrics_begin(as_http_req_t *r, const char *route);

/* The HTTP server whose connection counters /metrics shows. */
void gw_metrics_set_server(const as_http_server_t *s);
/* The rate limiters whose 429 counts /metrics shows (ratelimit.h). */
struct gw_ratelimit;
void gw_metrics_set_limiters(const struct gw_ratelimit *principal,
                             const struct gw_ratelimit *address);
/* The per-principal cap of requests in flight whose 429 count /metrics shows (by="inflight"). */
struct gw_inflight;
void gw_metrics_set_inflight(const struct gw_inflight *f);
/* Requests this gateway process has waiting on the services (max_inflight_requests): how many
 * now, the cap, and how many were refused with 503 for it. */
typedef struct gw_process_load {
    uint64_t current, refused;
    long cap;
} gw_process_load_t;
void gw_metrics_set_process_load(const gw_process_load_t *l);
/* The response hook (as_http_server_on_response): records the request. */
void gw_metrics_on_response(as_http_req_t *r, int status, int aborted, void *ud);
/* Record one command round trip to `service` (status 504: no answer). */
void gw_metrics_upstream(const char *service, int status, double seconds);

/* Answer GET /metrics: asks every service for its health and gauges, then renders the text
 * format. `clients` are the five service clients in the order intake, warranty, parts,
 * settlement, surveys. */
void gw_metrics_scrape(as_http_req_t *r, as_client_t *const *clients, const char *const *names,
                       int n);

#endif
