/* main.c — the gateway: the HTTP/JSON edge the centres, the warehouse and finance call.
 *
 * Stateless. For each request it authenticates the bearer token (hashed table, auth.c), finds the
 * route, checks the caller's role, refuses query parameters the route does not accept (400
 * bad_query: a typo never silently widens a list), turns path, query and JSON body into the
 * command's protobuf message (descriptor-driven, so unknown fields are refused), sends it to the
 * owning service over ZeroMQ with the principal in the envelope, and maps the reply back to HTTP
 * and JSON.
 * An Idempotency-Key header becomes the command's request id, so a retried POST is applied once. */
#include "as/enums.h"
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "auth.h"
#include "gateway.h"
#include "http.h"
#include "metrics.h"
#include "static.h"
#include "people.pb-c.h"
#include "events_stream.h"
#include "ratelimit.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

/* All route tables; a route appears in exactly one. */
static const gw_route_t *const ROUTE_TABLES[] = {
    gw_routes_intake,  gw_routes_warranty, gw_routes_parts,  gw_routes_settlement,
    gw_routes_surveys, gw_routes_people,   gw_routes_notify, gw_routes_status};
#define N_TABLES (sizeof ROUTE_TABLES / sizeof ROUTE_TABLES[0])

/* The services (deploy/services.conf, through the generated as_services.h). */
#define N_SVC AS_N_SERVICES
static const char *const SERVICES[N_SVC] = {AS_SERVICE_NAMES};

static char *cfg_http_host, *cfg_tokens_file, *cfg_log_level, *cfg_console_dir, *cfg_log_format,
    *cfg_cors_origins, *cfg_trusted_proxies;
static long cfg_drain_ms;
static long cfg_http_port, cfg_timeout_ms, cfg_max_body, cfg_auth_cache_ms, cfg_cookie_secure;
static long cfg_max_conns, cfg_max_conns_addr, cfg_header_timeout, cfg_body_grace, cfg_body_rate,
    cfg_request_timeout, cfg_idle_timeout, cfg_rl_token_rate, cfg_rl_token_burst, cfg_rl_addr_rate,
    cfg_rl_addr_burst, cfg_status_per_minute, cfg_status_burst, cfg_sse_heartbeat_s,
    cfg_sse_per_principal, cfg_sse_max_s, cfg_inflight_per_principal, cfg_inflight_process;

static as_config_item_t gateway_items[] = {
    AS_ENDPOINT_ITEMS,
    {"http_host", AS_CFG_STRING, "127.0.0.1", 0, 0, "address the HTTP server listens on",
     &cfg_http_host},
    {"http_port", AS_CFG_INT, "8480", 0, 65535, "HTTP port", &cfg_http_port},
    {"tokens_file", AS_CFG_STRING, "var/run/tokens", 0, 0,
     "file of hashed bearer tokens and their principals", &cfg_tokens_file},
    {"upstream_timeout_ms", AS_CFG_INT, "5000", 100, 120000,
     "how long to wait for a service before answering 504", &cfg_timeout_ms},
    {"max_body_bytes", AS_CFG_INT, "1048576", 1024, 64L << 20, "largest accepted request body",
     &cfg_max_body},
    {"log_level", AS_CFG_STRING, "info", 0, 0, "debug | info | warn | error", &cfg_log_level},
    {"log_format", AS_CFG_STRING, "text", 0, 0,
     "text (key=value lines) | json (one JSON object a line)", &cfg_log_format},
    {"cors_origins", AS_CFG_STRING, "", 0, 0,
     "browser origins allowed to call the API cross-site, space-separated "
     "(e.g. \"https://crm.example.com\"); empty: no CORS headers (reloaded on SIGHUP)",
     &cfg_cors_origins},
    {"trusted_proxies", AS_CFG_STRING, "", 0, 0,
     "addresses of the reverse proxies whose X-Forwarded-For/-Proto are believed, "
     "space-separated (e.g. \"127.0.0.1 ::1\"); empty: none (reloaded on SIGHUP)",
     &cfg_trusted_proxies},
    {"drain_timeout_ms", AS_CFG_INT, "15000", 0, 600000,
     "on SIGTERM, how long requests in flight may take to finish before the gateway exits",
     &cfg_drain_ms},
    {"http_max_connections", AS_CFG_INT, "1024", 16, 1000000,
     "open HTTP connections; when full the slowest or longest idle one is closed for a new one",
     &cfg_max_conns},
    {"http_max_connections_per_address", AS_CFG_INT, "128", 1, 1000000,
     "open HTTP connections from one client address", &cfg_max_conns_addr},
    {"http_header_timeout_ms", AS_CFG_INT, "10000", 100, 600000,
     "a request's line and headers must arrive within this", &cfg_header_timeout},
    {"http_body_grace_ms", AS_CFG_INT, "5000", 100, 600000,
     "a request body may start this late before the minimum rate applies", &cfg_body_grace},
    {"http_body_min_rate", AS_CFG_INT, "1024", 1, 1L << 30,
     "bytes per second a request body must keep after the grace", &cfg_body_rate},
    {"http_request_timeout_ms", AS_CFG_INT, "60000", 100, 3600000,
     "a whole request (headers and body) must arrive within this", &cfg_request_timeout},
    {"http_idle_timeout_ms", AS_CFG_INT, "30000", 100, 3600000,
     "an idle keep-alive connection is closed after this", &cfg_idle_timeout},
    {"rate_limit_per_principal", AS_CFG_INT, "100", 0, 1000000,
     "requests a second one principal may make (0: no limit); beyond, 429 with Retry-After",
     &cfg_rl_token_rate},
    {"rate_limit_per_principal_burst", AS_CFG_INT, "200", 1, 10000000,
     "requests one principal may make at once before its rate applies", &cfg_rl_token_burst},
    {"max_inflight_per_principal", AS_CFG_INT, "2", 0, 100000,
     "collection reads (GET of a list) one principal may have being handled at once (0: no "
     "limit); beyond, 429 too_many_in_flight with Retry-After: 1",
     &cfg_inflight_per_principal},
    {"max_inflight_requests", AS_CFG_INT, "512", 0, 1000000,
     "requests this gateway process may have waiting on the services at once, all principals "
     "together (0: no limit); beyond, 503 overloaded with Retry-After: 1 (reloaded on SIGHUP)",
     &cfg_inflight_process},
    {"rate_limit_per_address", AS_CFG_INT, "4000", 0, 10000000,
     "requests a second one client address may make (0: no limit); beyond, 429 with Retry-After",
     &cfg_rl_addr_rate},
    {"rate_limit_per_address_burst", AS_CFG_INT, "8000", 1, 100000000,
     "requests one client address may make at once before its rate applies", &cfg_rl_addr_burst},
    {"status_page_per_minute", AS_CFG_INT, "5", 1, 100000,
     "misses (404: unknown ticket or wrong digits) a minute one client address may make on "
     "the customer's status page (/v1/status/...); beyond, 429 with Retry-After",
     &cfg_status_per_minute},
    {"status_page_burst", AS_CFG_INT, "10", 1, 100000,
     "status page misses one client address may make at once before its rate applies",
     &cfg_status_burst},
    {"sse_heartbeat_s", AS_CFG_INT, "15", 1, 3600,
     "an event stream (GET /v1/events, Accept: text/event-stream) sends a comment line after "
     "this many seconds without an event",
     &cfg_sse_heartbeat_s},
    {"sse_max_streams_per_principal", AS_CFG_INT, "3", 1, 1000,
     "event streams one principal may hold open at once; beyond, 429", &cfg_sse_per_principal},
    {"sse_max_duration_s", AS_CFG_INT, "3600", 0, 86400,
     "an event stream is ended after this (the client reconnects with Last-Event-ID; 0: never)",
     &cfg_sse_max_s},
    {"auth_cache_ms", AS_CFG_INT, "10000", 0, 600000,
     "how long an identity the people service resolved is reused without asking again "
     "(revocations and disabled users drop it at once through the people stream)",
     &cfg_auth_cache_ms},
    {"cookie_secure", AS_CFG_INT, "0", 0, 1,
     "1 = mark the session cookie Secure (set it when clients reach the gateway over TLS)",
     &cfg_cookie_secure},
    {"console_dir", AS_CFG_STRING, "build/console", 0, 0,
     "directory of the browser console's files, served at /console/ (make builds it)",
     &cfg_console_dir},
};
#define N_ITEMS (sizeof gateway_items / sizeof gateway_items[0])

typedef struct gateway {
    uv_loop_t *loop;
    void *zctx;
    as_http_server_t *http;
    as_client_t *clients[N_SVC];
    as_zsock_t *people_sub; /* the people stream: revocations drop cached identities */
    uint64_t people_seq;
    gw_tokens_t *tokens;
    gw_ratelimit_t *rl_principal, *rl_address;
    gw_inflight_t *inflight; /* requests being handled, per principal */
    gw_process_load_t load;  /* requests waiting on the services, all principals together */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain;
    uint64_t drain_started;
    int draining;
    const char *config_file;
} gateway_t;

static gateway_t gw;

/* Every request's own state, from on_request until its answer is sent (request_done): its ids
 * for the logs and the services, and (authenticated routes) who is calling. */
typedef struct authreq {
    gw_principal_t p;
    const gw_route_t *rt;
    json_t *params;
    char secret[96];
    char hash[65];
    int via_cookie;
    int authed;            /* p holds the caller */
    char request_id[72];   /* X-Request-Id: the client's (well-formed) or ours */
    char trace_id[33];     /* W3C trace id: from traceparent, or new */
    char route[96];        /* the route template, for the access log */
    char client[64];       /* the client's address (X-Forwarded-For from a trusted proxy) */
    char proto[8];         /* http | https (X-Forwarded-Proto from a trusted proxy) */
    char inflight_key[96]; /* counted in gw.inflight until the answer ends ("" when not) */
    int in_process;        /* counted in gw.load until the answer ends */
    double start;
} authreq_t;

static double mono_s(void);

static as_client_t *client_for(const char *service)
{
    for (int i = 0; i < N_SVC; i++)
        if (strcmp(SERVICES[i], service) == 0)
            return gw.clients[i];
    return NULL;
}

void gw_respond_json(as_http_req_t *r, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    if (!s) {
        as_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    as_http_respond(r, status, "application/json", s, strlen(s), NULL);
    free(s);
}

/* ---- /healthz: every service answers, or we say which does not ---- */

typedef struct health_req {
    int detailed; /* the admin asked: every service's answer; otherwise only up or down */
    as_http_req_t *r;
    json_t *services;
    int pending, all_ok;
} health_req_t;

typedef struct health_part {
    health_req_t *h;
    const char *name;
} health_part_t;

static void health_done(int status, const As__Reply *reply, void *ud)
{
    health_part_t *part = ud;
    health_req_t *h = part->h;
    json_t *s = NULL;
    if (status == 200 && reply && reply->has_body) {
        As__HealthReply *hr = as__health_reply__unpack(NULL, reply->body.len, reply->body.data);
        if (hr) {
            s = as_pbjson_encode(&hr->base);
            if (!hr->status || strcmp(hr->status, "ok") != 0)
                h->all_ok = 0;
            as__health_reply__free_unpacked(hr, NULL);
        }
    }
    if (!s) {
        h->all_ok = 0;
        s = json_pack("{s:s, s:s}", "status", "unreachable", "error",
                      status == 504 ? "no answer before the deadline" : "bad answer");
    }
    json_object_set_new(h->services, part->name, s);
    free(part);
    if (--h->pending == 0) {
        json_t *body = h->detailed
                           ? json_pack("{s:s, s:O}", "status", h->all_ok ? "ok" : "degraded",
                                       "services", h->services)
                           : json_pack("{s:s}", "status", h->all_ok ? "ok" : "degraded");
        gw_respond_json(h->r, h->all_ok ? 200 : 503, body);
        json_decref(body);
        json_decref(h->services);
        free(h);
    }
}

static void healthz(as_http_req_t *r, int detailed)
{
    health_req_t *h = calloc(1, sizeof *h);
    if (!h) {
        as_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    h->r = r;
    h->detailed = detailed;
    h->services = json_object();
    h->all_ok = 1;
    h->pending = N_SVC;
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    for (int i = 0; i < N_SVC; i++) {
        health_part_t *part = malloc(sizeof *part);
        if (part) {
            part->h = h;
            part->name = SERVICES[i];
        }
        if (!part || as_client_call(gw.clients[i], "as.HealthRequest", &hq.base, NULL, NULL, NULL,
                                    2000, health_done, part) < 0) {
            if (part)
                health_done(503, NULL, part);
        }
    }
}

/* ---- routed commands ---- */

/* How many {name} parameters `pattern` has. */
static size_t pattern_params(const char *pattern)
{
    size_t n = 0;
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{'))
        n++;
    return n;
}

/* Match `path` against `pattern`; captured {name} segments go into `params` as strings. */
static int route_match(const char *pattern, const char *path, json_t *params)
{
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (pl > 2 && pattern[0] == '{' && pattern[pl - 1] == '}') {
            if (sl == 0 || sl > 128)
                return 0;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(pl - 2), pattern + 1);
            if (params)
                json_object_set_new(params, name, json_stringn(path, sl));
        } else if (pl != sl || strncmp(pattern, path, pl) != 0) {
            return 0;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

/* Scope fails closed: a centre principal needs its site, a region principal its region. */
static int principal_scoped(const gw_principal_t *p)
{
    if (strcmp(p->role, "center") == 0)
        return p->site[0] != '\0';
    if (strcmp(p->role, "region") == 0)
        return p->region[0] != '\0';
    return 1;
}

static unsigned role_bit(const char *role)
{
    static const char *const names[] = {"admin",     "region",  "center",
                                        "warehouse", "finance", "reviewer"};
    for (int i = 0; i < 6; i++)
        if (strcmp(names[i], role) == 0)
            return 1u << i;
    return 0;
}

ProtobufCMessage *gw_reply_body(const As__Reply *reply, const ProtobufCMessageDescriptor *d)
{
    if (!reply || !reply->has_body || !reply->body_type || strcmp(reply->body_type, d->name) != 0)
        return NULL;
    return protobuf_c_message_unpack(d, NULL, reply->body.len, reply->body.data);
}

static int route_match(const char *pattern, const char *path, json_t *params);
static size_t pattern_params(const char *pattern);

/* 201: Location names the new resource, when a GET route "<this path>/{param}" exists and the
 * body carries that param (or "id"). */
static void created_location(as_http_req_t *r, json_t *body)
{
    const char *path = as_http_req_path(r);
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
    for (size_t t = 0; t < N_TABLES; t++)
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            if (strcmp(x->method, "GET") != 0)
                continue;
            const char *brace = strrchr(x->pattern, '{');
            if (!brace || brace == x->pattern || brace[-1] != '/' || strchr(brace, '}')[1] != '\0')
                continue;
            char parent[256], pname[64];
            snprintf(parent, sizeof parent, "%.*s", (int)(brace - 1 - x->pattern), x->pattern);
            if (!route_match(parent, path, NULL) || pattern_params(parent) != 0 ||
                strlen(parent) != pl)
                continue;
            snprintf(pname, sizeof pname, "%.*s", (int)(strlen(brace) - 2), brace + 1);
            json_t *v = json_object_get(body, pname);
            if (!v)
                v = json_object_get(body, "id");
            char val[160];
            if (json_is_string(v))
                snprintf(val, sizeof val, "%s", json_string_value(v));
            else if (json_is_integer(v))
                snprintf(val, sizeof val, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else
                continue;
            char loc[512];
            size_t o = (size_t)snprintf(loc, sizeof loc, "%.*s/", (int)pl, path);
            for (const unsigned char *c = (const unsigned char *)val; *c && o + 4 < sizeof loc;
                 c++) {
                if (isalnum(*c) || strchr("-._~", *c))
                    loc[o++] = (char)*c;
                else
                    o += (size_t)snprintf(loc + o, sizeof loc - o, "%%%02X", *c);
            }
            loc[o] = '\0';
            as_http_req_add_header(r, "Location", loc);
            return;
        }
}

void gw_respond_reply(as_http_req_t *r, int status, const As__Reply *reply)
{
    if (!reply) {
        if (status == 504)
            as_http_respond_error(r, 504, "upstream_timeout",
                                  "the service did not answer in time; the outcome is unknown — "
                                  "retry with the same Idempotency-Key");
        else
            as_http_respond_error(r, 502, "bad_gateway", "the service sent no valid answer");
        return;
    }
    int st = reply->has_status ? reply->status : 200;
    if (st < 100 || st > 599)
        st = 502;
    json_t *body = NULL;
    if (reply->has_body && reply->body_type) {
        const ProtobufCMessageDescriptor *d = as_registry_find(reply->body_type);
        ProtobufCMessage *m =
            d ? protobuf_c_message_unpack(d, NULL, reply->body.len, reply->body.data) : NULL;
        if (m) {
            body = as_pbjson_encode(m);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    if (st >= 400) {
        json_t *err = json_pack("{s:s, s:s}", "code", reply->code ? reply->code : "error",
                                "message", reply->message ? reply->message : "");
        if (reply->n_errors) {
            json_t *fields = json_array();
            for (size_t i = 0; i < reply->n_errors; i++)
                json_array_append_new(
                    fields,
                    json_pack("{s:s, s:s}", "field",
                              reply->errors[i]->field ? reply->errors[i]->field : "", "problem",
                              reply->errors[i]->problem ? reply->errors[i]->problem : ""));
            json_object_set_new(err, "fields", fields);
        }
        json_t *o = json_pack("{s:o}", "error", err);
        gw_respond_json(r, st, o);
        json_decref(o);
        json_decref(body);
        return;
    }
    if (!body)
        body = json_object();
    if (st == 201)
        created_location(r, body);
    const char *extra =
        reply->has_replayed && reply->replayed ? "Idempotent-Replayed: true\r\n" : NULL;
    char *s = json_dumps(body, JSON_COMPACT);
    as_http_respond(r, st, "application/json", s ? s : "{}", s ? strlen(s) : 2, extra);
    free(s);
    json_decref(body);
}

typedef struct call {
    as_http_req_t *r;
    const gw_route_t *route;
} call_t;

/* Generic reply: the JSON of the reply body, or (reply_field) the raw JSON text it carries. */
static void call_done(int status, const As__Reply *reply, void *ud)
{
    call_t *c = ud;
    as_http_req_t *r = c->r;
    const gw_route_t *rt = c->route;
    free(c);
    if (rt->reply_field && reply && reply->has_status && reply->status < 400 && reply->body_type) {
        const ProtobufCMessageDescriptor *d = as_registry_find(reply->body_type);
        ProtobufCMessage *m = d ? gw_reply_body(reply, d) : NULL;
        const ProtobufCFieldDescriptor *f =
            m ? protobuf_c_message_descriptor_get_field_by_name(d, rt->reply_field) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_STRING) {
            const char *raw = *(char *const *)((const char *)m + f->offset);
            /* a reply_field named "csv" carries a CSV document (e.g. the quality report) */
            int csv = strcmp(rt->reply_field, "csv") == 0;
            as_http_respond(r, reply->status,
                            csv ? "text/csv; charset=utf-8; header=present" : "application/json",
                            raw ? raw : (csv ? "" : "{}"), raw ? strlen(raw) : (csv ? 0 : 2), NULL);
            protobuf_c_message_free_unpacked(m, NULL);
            return;
        }
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    gw_respond_reply(r, status, reply);
}

/* Put the query parameters that name fields of `d` into `args`, typed by the field (any other
 * parameter was refused by handle_route before). */
static int query_args(as_http_req_t *r, const ProtobufCMessageDescriptor *d, json_t *args,
                      char *err, size_t errlen)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *v = as_http_req_query(r, f->name);
        if (!v)
            continue;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_UINT64: {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || !*v || *end) {
                snprintf(err, errlen, "query parameter '%s' must be an integer", f->name);
                return -1;
            }
            json_object_set_new(args, f->name, json_integer(n));
            break;
        }
        case PROTOBUF_C_TYPE_BOOL:
            if (strcmp(v, "true") && strcmp(v, "false")) {
                snprintf(err, errlen, "query parameter '%s' must be true or false", f->name);
                return -1;
            }
            json_object_set_new(args, f->name, json_boolean(strcmp(v, "true") == 0));
            break;
        default:
            json_object_set_new(args, f->name, json_string(v));
        }
    }
    return 0;
}

/* ---- query parameters: every one must be accepted by its route (see gateway.h) ---- */

/* Is {name} a path parameter of `pattern`? */
static int pattern_has_param(const char *pattern, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{'))
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '}')
            return 1;
    return 0;
}

/* Is `name` one of the space-separated words of `list`? */
static int word_in(const char *list, const char *name)
{
    if (!list || !name)
        return 0; /* an unset list (no configuration loaded) holds nothing */
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w && w == n && strncmp(p, name, n) == 0)
            return 1;
        p += w;
    }
    return 0;
}

int gw_route_enum(const gw_route_t *rt, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = rt->query ? rt->query : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w > n && p[n] == '=' && strncmp(p, name, n) == 0) {
            snprintf(buf, len, "%.*s", (int)(w - n - 1), p + n + 1);
            if (buf[0] == '@') { /* "name=@pkg.Enum": the values of that proto enum */
                const ProtobufCEnumDescriptor *d = as_registry_find_enum(buf + 1);
                if (!d)
                    return -1;
                as_enum_list(d, "|", "|", buf, len);
            }
            return 0;
        }
        p += w;
    }
    return -1;
}

/* Is `v` one of the '|'-separated values of `list`? */
static int value_in(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, "|");
        if (w == n && strncmp(p, v, n) == 0)
            return 1;
        p += w;
        if (*p == '|')
            p++;
    }
    return 0;
}

static void shown_name(const char *s, char *out, size_t cap);

/* Answer 400 bad_query and return -1 when a query parameter the route declares as an
 * enumeration has a value outside it; the message lists the allowed values. */
static int query_enum_check(as_http_req_t *r, const gw_route_t *rt)
{
    const char *k, *v;
    char allowed[600], list[1200], shown[80], msg[1400];
    for (size_t i = 0; as_http_req_query_at(r, i, &k, &v) == 0; i++) {
        if (gw_route_enum(rt, k, allowed, sizeof allowed) < 0 || value_in(allowed, v ? v : ""))
            continue;
        size_t o = 0;
        for (const char *a = allowed; *a && o + 3 < sizeof list; a++) {
            if (*a == '|') {
                list[o++] = ',';
                list[o++] = ' ';
            } else {
                list[o++] = *a;
            }
        }
        list[o] = '\0';
        shown_name(v ? v : "", shown, sizeof shown);
        snprintf(msg, sizeof msg, "query parameter '%s' must be one of: %s (got '%s')", k, list,
                 shown);
        as_http_respond_error(r, 400, "bad_query", msg);
        return -1;
    }
    return 0;
}

void gw_route_query(const gw_route_t *rt, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (strcmp(rt->method, "GET") != 0)
        return;
    if (rt->handler) {
        /* the declared words, without their "=values" */
        size_t o = 0;
        for (const char *q = rt->query ? rt->query : ""; *q && o + 1 < len; q++) {
            if (*q == '=') {
                while (q[1] && q[1] != ' ')
                    q++;
                continue;
            }
            buf[o++] = *q;
        }
        buf[o] = '\0';
        return;
    }
    const ProtobufCMessageDescriptor *d = rt->cmd ? as_registry_find(rt->cmd) : NULL;
    size_t off = 0;
    for (unsigned i = 0; d && i < d->n_fields; i++) {
        const char *name = d->fields[i].name;
        if (pattern_has_param(rt->pattern, name))
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? " " : "", name);
        if (n < 0 || (size_t)n >= len - off) {
            buf[off] = '\0';
            return;
        }
        off += (size_t)n;
    }
}

/* A client's parameter name for an error message: at most 64 bytes of it, control characters
 * and bytes that are not UTF-8 replaced by '?'. */
static void shown_name(const char *s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, limit = cap - 4 < 64 ? cap - 4 : 64;
    while (*p && o < limit) {
        size_t n = as_utf8_seq_len(p, strlen((const char *)p));
        if (n == 1 && (*p < 0x20 || *p == 0x7F))
            n = 0;
        if (n == 0) {
            out[o++] = '?';
            p++;
            continue;
        }
        if (o + n > limit)
            break;
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    if (*p) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Answer 400 bad_query and return -1 unless every query parameter of `r` is in `accepts`
 * (space-separated names), given once, and not a path parameter of `pattern` (may be NULL).
 * `method` is the route's: only GET routes take query parameters. */
static int query_check(as_http_req_t *r, const char *method, const char *pattern,
                       const char *accepts)
{
    const char *k, *v, *k2;
    char name[80], msg[1400];
    for (size_t i = 0; as_http_req_query_at(r, i, &k, &v) == 0; i++) {
        shown_name(k, name, sizeof name);
        if (pattern && pattern_has_param(pattern, k)) {
            snprintf(msg, sizeof msg,
                     "query parameter '%s' is a path parameter of this route (%s); give it in "
                     "the path only",
                     name, pattern);
        } else if (strcmp(method, "GET") != 0) {
            snprintf(msg, sizeof msg,
                     "%s routes take no query parameters (got '%s'); send the fields in the JSON "
                     "body",
                     method, name);
        } else if (!word_in(accepts, k)) {
            char list[1024];
            size_t o = 0;
            for (const char *a = accepts; *a && o + 3 < sizeof list; a++) {
                if (*a == ' ') {
                    list[o++] = ',';
                    list[o++] = ' ';
                } else {
                    list[o++] = *a;
                }
            }
            list[o] = '\0';
            if (o)
                snprintf(msg, sizeof msg, "unknown query parameter '%s' (this route accepts: %s)",
                         name, list);
            else
                snprintf(msg, sizeof msg,
                         "unknown query parameter '%s' (this route takes no query parameters)",
                         name);
        } else {
            size_t j = 0;
            while (j < i && as_http_req_query_at(r, j, &k2, NULL) == 0 && strcmp(k, k2) != 0)
                j++;
            if (j == i)
                continue;
            snprintf(msg, sizeof msg, "query parameter '%s' is given more than once", name);
        }
        as_http_respond_error(r, 400, "bad_query", msg);
        return -1;
    }
    return 0;
}

/* The request id of a keyed request: "k:" and the hex SHA-256 of (subject, command, key), each
 * ended by a NUL, so it has one fixed length (66) whatever the lengths of its parts: two distinct
 * keys never map to one id (they used to be cut at 126 bytes), and the id is scoped to the caller
 * and the command. */
void gw_request_id(const char *subject, const char *cmd, const char *key, char *out, size_t len)
{
    crypto_hash_sha256_state st;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)subject, strlen(subject) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)cmd, strlen(cmd) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)key, strlen(key) + 1);
    crypto_hash_sha256_final(&st, d);
    char hex[2 * sizeof d + 1];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    snprintf(out, len, "k:%s", hex);
}

static int idempotency_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 80)
        return 0;
    for (; *k; k++)
        if (!isgraph((unsigned char)*k))
            return 0;
    return 1;
}

ProtobufCMessage *gw_build_command(as_http_req_t *r, const gw_route_t *rt, json_t *params)
{
    char err[300];
    const ProtobufCMessageDescriptor *d = as_registry_find(rt->cmd);
    if (!d) {
        as_http_respond_error(r, 500, "internal", "route names an unknown command");
        return NULL;
    }
    json_t *args = NULL;
    size_t len = 0;
    const char *body = rt->body ? as_http_req_body(r, &len) : NULL;
    if (rt->body && rt->body_field) {
        args = json_object();
        json_object_set_new(args, rt->body_field, json_stringn(body ? body : "", len));
    } else if (rt->body) {
        json_error_t jerr;
        args = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        if (!args) {
            snprintf(err, sizeof err, "the body is not valid JSON: %s (line %d)", jerr.text,
                     jerr.line);
            as_http_respond_error(r, 400, "malformed_json", len ? err : "a JSON body is required");
            return NULL;
        }
        if (!json_is_object(args)) {
            json_decref(args);
            as_http_respond_error(r, 400, "malformed_json", "the body must be a JSON object");
            return NULL;
        }
    } else {
        args = json_object();
        if (query_args(r, d, args, err, sizeof err) < 0) {
            json_decref(args);
            as_http_respond_error(r, 400, "bad_query", err);
            return NULL;
        }
    }
    if (params && rt->body && !rt->body_field) {
        /* A body field that names a path parameter must agree with the path. */
        const char *k;
        json_t *pv;
        json_object_foreach(params, k, pv)
        {
            json_t *bv = json_object_get(args, k);
            if (!bv)
                continue;
            char num[32];
            const char *b = json_is_string(bv) ? json_string_value(bv) : NULL;
            if (json_is_integer(bv)) {
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(bv));
                b = num;
            }
            if (!b || strcmp(b, json_string_value(pv)) != 0) {
                snprintf(err, sizeof err,
                         "the body's '%s' disagrees with the path; leave it out of the body or "
                         "give the same value",
                         k);
                json_decref(args);
                as_http_respond_error(r, 400, "invalid_field", err);
                return NULL;
            }
        }
    }
    if (params)
        json_object_update(args, params);
    ProtobufCMessage *m = NULL;
    if (as_pbjson_decode(d, args, NULL, &m, err, sizeof err) < 0) {
        json_decref(args);
        as_http_respond_error(r, 400, "invalid_field", err);
        return NULL;
    }
    json_decref(args);
    return m;
}

/* Times every command round trip for /metrics, then hands the reply on. */
typedef struct timed_call {
    as_client_cb cb;
    void *ud;
    const char *service;
    double start;
} timed_call_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void timed_done(int status, const As__Reply *reply, void *ud)
{
    timed_call_t *t = ud;
    gw_metrics_upstream(t->service, status, mono_s() - t->start);
    t->cb(status, reply, t->ud);
    free(t);
}

int gw_call_type(as_http_req_t *r, const char *service, const char *type,
                 const ProtobufCMessage *msg, const char *request_id, const gw_principal_t *pr,
                 as_client_cb cb, void *ud)
{
    timed_call_t *t = malloc(sizeof *t);
    if (!t) {
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return -1;
    }
    t->cb = cb;
    t->ud = ud;
    t->service = service;
    t->start = mono_s();
    As__Principal p = AS__PRINCIPAL__INIT;
    p.subject = (char *)pr->subject;
    p.role = (char *)pr->role;
    p.site = pr->site[0] ? (char *)pr->site : NULL;
    p.region = pr->region[0] ? (char *)pr->region : NULL;
    p.display_name = pr->display_name[0] ? (char *)pr->display_name : NULL;
    authreq_t *a = as_http_req_data(r);
    const char *trace = a && a->trace_id[0] ? a->trace_id : NULL;
    as_client_t *c = client_for(service);
    if (!c || as_client_call(c, type, msg, request_id, &p, trace, (unsigned)cfg_timeout_ms,
                             timed_done, t) < 0) {
        free(t);
        as_http_respond_error(r, 503, "overloaded", "the gateway is busy; retry shortly");
        return -1;
    }
    return 0;
}

int gw_call_service(const char *service, const char *type, const ProtobufCMessage *msg,
                    const char *request_id, const gw_principal_t *pr, as_client_cb cb, void *ud)
{
    As__Principal p = AS__PRINCIPAL__INIT;
    p.subject = (char *)pr->subject;
    p.role = (char *)pr->role;
    p.site = pr->site[0] ? (char *)pr->site : NULL;
    p.region = pr->region[0] ? (char *)pr->region : NULL;
    p.display_name = pr->display_name[0] ? (char *)pr->display_name : NULL;
    as_client_t *c = client_for(service);
    return c ? as_client_call(c, type, msg, request_id, &p, NULL, (unsigned)cfg_timeout_ms, cb, ud)
             : -1;
}

int gw_call(as_http_req_t *r, const gw_route_t *rt, const ProtobufCMessage *msg,
            const gw_principal_t *pr, as_client_cb cb, void *ud)
{
    char rid[200];
    const char *key = as_http_req_header(r, "Idempotency-Key");
    if (key && strcmp(rt->method, "GET") != 0) {
        if (!idempotency_key_ok(key)) {
            as_http_respond_error(r, 400, "bad_idempotency_key",
                                  "Idempotency-Key must be 1..80 visible ASCII characters");
            return -1;
        }
        gw_request_id(pr->subject, rt->cmd, key, rid, sizeof rid);
        as_client_t *c = client_for(rt->service);
        if (c && as_client_has_pending(c, rid)) {
            as_http_respond_error(r, 409, "in_progress",
                                  "a request with this Idempotency-Key is still being answered; "
                                  "retry it with the same key for its answer");
            return -1;
        }
    } else {
        /* Reads are never stored nor replayed: a GET's key (if any) is ignored. */
        as_new_id(rid);
    }
    return gw_call_type(r, rt->service, rt->cmd, msg, rid, pr, cb, ud);
}

static void handle_route(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                         const gw_principal_t *pr)
{
    if (as_http_req_query_count(r) > 0) {
        char accepts[1024];
        gw_route_query(rt, accepts, sizeof accepts);
        if (query_check(r, rt->method, rt->pattern, accepts) < 0 || query_enum_check(r, rt) < 0)
            return;
    }
    if (rt->handler) {
        rt->handler(r, rt, params, pr);
        return;
    }
    gw_route_generic(r, rt, params, pr);
}

void gw_route_generic(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                      const gw_principal_t *pr)
{
    ProtobufCMessage *m = gw_build_command(r, rt, params);
    if (!m)
        return;
    call_t *c = malloc(sizeof *c);
    if (!c) {
        protobuf_c_message_free_unpacked(m, NULL);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    c->r = r;
    c->route = rt;
    if (gw_call(r, rt, m, pr, call_done, c) < 0)
        free(c);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* 429 with Retry-After when `rl` has no request left for `key`; returns 1 when it answered. */
static int rate_limited(as_http_req_t *r, gw_ratelimit_t *rl, const char *key, const char *by)
{
    if (!rl)
        return 0;
    unsigned wait_s = gw_rl_take(rl, key, uv_hrtime() / 1000000); /* monotonic ms */
    if (!wait_s)
        return 0;
    char body[256], hdr[64];
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many requests "
                     "from this %s; retry in %u s\"}}",
                     by, wait_s);
    snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", wait_s);
    as_http_respond(r, 429, "application/json", body, (size_t)n, hdr);
    return 1;
}

/* ---- who is calling: the tokens file, or the people service (cached) ----
 *
 * A request's credentials are a bearer token or the session cookie. Bearer tokens of the
 * tokens file are service accounts and the bootstrap principals; anything else is hashed and
 * looked up in the identity cache, and on a miss the people service is asked (people.Resolve).
 * The request's principal is a copy owned by the request (freed when its answer is sent), so
 * an identity dropped from the cache meanwhile is never used after free. */

const char *gw_request_client(as_http_req_t *r)
{
    static char key[80]; /* the loop is single-threaded */
    authreq_t *a = as_http_req_data(r);
    const char *c = a && a->client[0] ? a->client : "unknown";
    snprintf(key, sizeof key, strchr(c, ':') ? "[%s]:0" : "%s:0", c);
    return key;
}

const char *gw_request_secret(as_http_req_t *r)
{
    authreq_t *a = as_http_req_data(r);
    return a && a->secret[0] ? a->secret : NULL;
}

/* The value of cookie `name` in the Cookie header into out; 0 when found. */
static int cookie_value(as_http_req_t *r, const char *name, char *out, size_t cap)
{
    const char *c = as_http_req_header(r, "Cookie");
    size_t n = strlen(name);
    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        size_t w = strcspn(c, ";");
        if (w > n && strncmp(c, name, n) == 0 && c[n] == '=') {
            size_t vl = w - n - 1;
            if (vl == 0 || vl >= cap)
                return -1;
            memcpy(out, c + n + 1, vl);
            out[vl] = '\0';
            return 0;
        }
        c += w;
    }
    return -1;
}

/* ---- If-Match on changes (issue 20.4) ----
 * A change to a resource that has a generic GET route ("/v1/tickets/{id}/cancel" under
 * "/v1/tickets/{id}") may carry If-Match with the ETag its GET gave: the gateway reads the
 * resource first, as the same caller, and answers 412 when it has changed since. The check and
 * the change are two steps; a change between them is caught by the service's state rules. */

typedef struct if_match {
    as_http_req_t *r;
    const gw_route_t *rt;
    json_t *params;
    const gw_principal_t *pr;
} if_match_t;

static const gw_route_t *resource_route(const gw_route_t *rt)
{
    if (strcmp(rt->method, "GET") == 0)
        return NULL;
    for (size_t t = 0; t < N_TABLES; t++)
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            size_t n = strlen(x->pattern);
            if (strcmp(x->method, "GET") == 0 && !x->handler && !x->reply_field && x->cmd &&
                x->pattern[n - 1] == '}' && strncmp(rt->pattern, x->pattern, n) == 0 &&
                rt->pattern[n] == '/' && strcmp(x->service, rt->service) == 0)
                return x;
        }
    return NULL;
}

static void if_match_done(int status, const As__Reply *reply, void *ud)
{
    if_match_t *m = ud;
    as_http_req_t *r = m->r;
    const char *want = as_http_req_header(r, "If-Match");
    int st = reply && reply->has_status ? reply->status : status;
    if (st != 200 || !reply) {
        gw_respond_reply(r, status, reply); /* 404, 403, 504: as the read would answer */
    } else {
        json_t *body = NULL;
        const ProtobufCMessageDescriptor *d =
            reply->body_type ? as_registry_find(reply->body_type) : NULL;
        ProtobufCMessage *msg =
            d && reply->has_body
                ? protobuf_c_message_unpack(d, NULL, reply->body.len, reply->body.data)
                : NULL;
        if (msg) {
            body = as_pbjson_encode(msg);
            protobuf_c_message_free_unpacked(msg, NULL);
        }
        if (!body)
            body = json_object();
        char *txt = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        char tag[24];
        as_http_etag_of(txt ? txt : "{}", txt ? strlen(txt) : 2, tag);
        free(txt);
        if (!as_http_etag_matches(want, tag)) {
            char msgtxt[200];
            snprintf(msgtxt, sizeof msgtxt,
                     "the resource changed since it was read (it is now %s): read it again and "
                     "decide anew",
                     tag);
            as_http_req_add_header(r, "ETag", tag);
            as_http_respond_error(r, 412, "precondition_failed", msgtxt);
        } else {
            handle_route(r, m->rt, m->params, m->pr);
        }
    }
    json_decref(m->params);
    free(m);
}

/* 1 when it took the request over (If-Match on a change with a readable resource). */
static int if_match_check(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                          const gw_principal_t *pr)
{
    const char *want = as_http_req_header(r, "If-Match");
    const gw_route_t *get = want ? resource_route(rt) : NULL;
    if (!get)
        return 0;
    if (strpbrk(want, "\r\n") || !*want) {
        as_http_respond_error(r, 400, "bad_if_match", "If-Match must be an ETag or *");
        return 1;
    }
    if_match_t *m = calloc(1, sizeof *m);
    json_t *only = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        if (pattern_has_param(get->pattern, k))
            json_object_set(only, k, v);
    }
    const ProtobufCMessageDescriptor *d = as_registry_find(get->cmd);
    ProtobufCMessage *q = NULL;
    char err[256];
    if (!m || !d || as_pbjson_decode(d, only, NULL, &q, err, sizeof err) < 0) {
        json_decref(only);
        free(m);
        as_http_respond_error(r, 500, "internal", "cannot read the resource for If-Match");
        return 1;
    }
    json_decref(only);
    m->r = r;
    m->rt = rt;
    m->params = json_incref(params);
    m->pr = pr;
    char rid[33];
    as_new_id(rid);
    if (gw_call_type(r, get->service, get->cmd, q, rid, pr, if_match_done, m) < 0) {
        json_decref(m->params);
        free(m);
    }
    protobuf_c_message_free_unpacked(q, NULL);
    return 1;
}

/* A read of a collection (GET of a route whose last segment is not a {parameter}: the ticket
 * list, the audit, an export), as opposed to one object's read or a write. */
static int collection_read(as_http_req_t *r, const gw_route_t *rt)
{
    if (strcmp(as_http_req_method(r), "GET") != 0 || !rt || !rt->pattern)
        return 0;
    /* An event stream stays open for up to an hour: it has its own cap per principal
     * (sse_max_streams_per_principal) and must not hold one of the list-read slots. */
    if (gw_sse_wanted(r))
        return 0;
    const char *last = strrchr(rt->pattern, '/');
    return last && last[1] != '{';
}

static const gw_route_t METRICS_ROUTE, HEALTHZ_ROUTE;

/* The cap of the whole process (max_inflight_requests): however many principals send, this
 * gateway has at most that many requests waiting on the services; beyond, 503 at once, without
 * reaching a service. Event streams (their own cap), /metrics and /healthz (the operator's view of
 * an overloaded stack) are not counted. Returns 1 when it answered. */
static int process_overloaded(as_http_req_t *r, authreq_t *a, const gw_route_t *rt)
{
    if (a->in_process || gw_sse_wanted(r) || rt == &METRICS_ROUTE || rt == &HEALTHZ_ROUTE)
        return 0;
    if (cfg_inflight_process > 0 && gw.load.current >= (uint64_t)cfg_inflight_process) {
        gw.load.refused++;
        as_http_req_log_refusal(r, 503, "overloaded");
        static const char body[] =
            "{\"error\":{\"code\":\"overloaded\",\"message\":\"the gateway has the most "
            "requests allowed waiting on the services; retry shortly\"}}";
        as_http_respond(r, 503, "application/json", body, sizeof body - 1, "Retry-After: 1\r\n");
        return 1;
    }
    gw.load.current++;
    a->in_process = 1;
    return 0;
}

static void authorized(as_http_req_t *r, authreq_t *a)
{
    const gw_route_t *rt = a->rt;
    json_t *params = a->params;
    a->params = NULL;
    const char *m = as_http_req_method(r);
    if (a->via_cookie && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        const char *t = as_http_req_header(r, "X-CSRF-Token");
        char h[65];
        if (t)
            gw_sha256_hex(t, strlen(t), h);
        if (!t || !a->p.csrf_hash[0] || sodium_memcmp(h, a->p.csrf_hash, 64) != 0) {
            json_decref(params);
            as_http_respond_error(r, 403, "csrf",
                                  "a request with the session cookie must carry the session's "
                                  "X-CSRF-Token header");
            return;
        }
    }
    if (!principal_scoped(&a->p)) {
        json_decref(params);
        as_http_respond_error(r, 403, "forbidden",
                              "this principal has no site or region to scope it");
        return;
    }
    char rl_key[96];
    if (rate_limited(r, gw.rl_principal, gw_rl_principal_key(&a->p, rl_key, sizeof rl_key),
                     "principal")) {
        json_decref(params);
        return;
    }
    /* Fair share of the services' queues: a principal's collection reads (the heavy ones) beyond
     * its cap in flight are refused at once rather than queued in the service ahead of
     * everybody else's commands (decision 25). */
    int in = collection_read(r, rt)
                 ? gw_if_enter(gw.inflight, rl_key, (unsigned)cfg_inflight_per_principal)
                 : 0;
    if (in < 0) {
        json_decref(params);
        static const char body[] =
            "{\"error\":{\"code\":\"too_many_in_flight\",\"message\":\"this principal "
            "already has the most list reads allowed being handled; retry when one is "
            "answered\"}}";
        as_http_respond(r, 429, "application/json", body, sizeof body - 1, "Retry-After: 1\r\n");
        return;
    }
    if (in > 0)
        snprintf(a->inflight_key, sizeof a->inflight_key, "%s", rl_key);
    if (!(rt->roles & role_bit(a->p.role))) {
        json_decref(params);
        as_http_respond_error(r, 403, "forbidden", "your role may not use this route");
        return;
    }
    if (process_overloaded(r, a, rt)) {
        json_decref(params);
        return;
    }
    if (if_match_check(r, rt, params, &a->p)) {
        json_decref(params);
        return;
    }
    handle_route(r, rt, params, &a->p);
    json_decref(params);
}

static void resolved(int status, const As__Reply *reply, void *ud)
{
    as_http_req_t *r = ud;
    authreq_t *a = as_http_req_data(r);
    People__Identity *id =
        status == 200 ? (People__Identity *)gw_reply_body(reply, &people__identity__descriptor)
                      : NULL;
    if (!id) {
        json_decref(a->params);
        a->params = NULL;
        if (status != 401)
            AS_WARN("cannot resolve credentials", "status=%d code=%s message=\"%s\"", status,
                    reply && reply->code ? reply->code : "-",
                    reply && reply->message ? reply->message : "-");
        if (status == 401)
            as_http_respond_error(r, 401, "unauthorized",
                                  "unknown, expired or revoked credentials: sign in again");
        else
            as_http_respond_error(r, 503, "auth_unavailable",
                                  "cannot check credentials right now; retry shortly");
        return;
    }
    gw_principal_t *p = &a->p;
    snprintf(p->subject, sizeof p->subject, "%s", id->login ? id->login : "");
    snprintf(p->role, sizeof p->role, "%s", id->role ? id->role : "");
    snprintf(p->site, sizeof p->site, "%s", id->site ? id->site : "");
    snprintf(p->region, sizeof p->region, "%s", id->region ? id->region : "");
    snprintf(p->display_name, sizeof p->display_name, "%s",
             id->display_name ? id->display_name : "");
    snprintf(p->token_id, sizeof p->token_id, "%s", id->token_id ? id->token_id : "");
    snprintf(p->csrf_hash, sizeof p->csrf_hash, "%s", id->csrf_hash ? id->csrf_hash : "");
    p->kind = id->kind && strcmp(id->kind, "session") == 0 ? GW_SESSION : GW_TOKEN;
    int64_t now = as_now_ms(), until = now + cfg_auth_cache_ms;
    if (id->has_expires_at_ms && id->expires_at_ms < until)
        until = id->expires_at_ms;
    if (until > now)
        gw_idcache_put(a->hash, p, until);
    protobuf_c_message_free_unpacked(&id->base, NULL);
    a->authed = 1;
    authorized(r, a);
}

static void authenticate(as_http_req_t *r, const gw_route_t *rt, json_t *params)
{
    authreq_t *a = as_http_req_data(r);
    a->rt = rt;
    a->params = params;
    const char *auth = as_http_req_header(r, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        snprintf(a->secret, sizeof a->secret, "%s", auth + 7);
    } else if (!auth && cookie_value(r, "as_session", a->secret, sizeof a->secret) == 0) {
        a->via_cookie = 1;
    }
    if (!a->secret[0] || strlen(auth && !a->via_cookie ? auth + 7 : a->secret) >= 95) {
        json_decref(params);
        a->params = NULL;
        as_http_respond_error(r, 401, "unauthorized", "a valid bearer token is required");
        return;
    }
    const gw_principal_t *pr = a->via_cookie ? NULL : gw_tokens_find(gw.tokens, a->secret);
    if (pr) {
        a->p = *pr;
        a->p.kind = GW_FILE;
        a->authed = 1;
        authorized(r, a);
        return;
    }
    gw_sha256_hex(a->secret, strlen(a->secret), a->hash);
    pr = gw_idcache_find(a->hash, as_now_ms());
    if (pr) {
        a->p = *pr;
        a->authed = 1;
        authorized(r, a);
        return;
    }
    People__Resolve q = PEOPLE__RESOLVE__INIT;
    q.token_hash = a->hash;
    As__Principal gp = AS__PRINCIPAL__INIT;
    gp.subject = "gateway";
    gp.role = "service";
    as_client_t *c = client_for("people");
    if (!c ||
        as_client_call(c, "people.Resolve", &q.base, NULL, &gp, NULL, 2000, resolved, r) < 0) {
        json_decref(params);
        a->params = NULL;
        as_http_respond_error(r, 503, "overloaded", "the gateway is busy; retry shortly");
    }
}

/* Every answer sent (or abandoned): the metrics, and the request's principal freed. */
static void request_done(as_http_req_t *r, int status, int aborted, void *ud)
{
    gw_metrics_on_response(r, status, aborted, ud);
    authreq_t *a = as_http_req_data(r);
    if (a && a->inflight_key[0])
        gw_if_leave(gw.inflight, a->inflight_key);
    if (a && a->in_process && gw.load.current > 0)
        gw.load.current--;
    if (a) {
        /* The access log: one line per request. */
        char route[200], subject[160];
        as_log_esc(a->route[0] ? a->route : "-", route, sizeof route);
        as_log_esc(a->authed ? a->p.subject : "-", subject, sizeof subject);
        AS_INFO("request",
                "method=%s route=\"%s\" status=%d duration_ms=%.1f subject=\"%s\" role=%s "
                "client=%s proto=%s request_id=%s trace=%s aborted=%d",
                as_http_req_method(r), route, status, (mono_s() - a->start) * 1000.0, subject,
                a->authed && a->p.role[0] ? a->p.role : "-", a->client, a->proto, a->request_id,
                a->trace_id, aborted);
        as_http_req_set_data(r, NULL);
        json_decref(a->params);
        sodium_memzero(a, sizeof *a);
        free(a);
    }
}

/* The people stream: a revoked token, a disabled user, a reset password drop the cached
 * identities at once. A gap in the sequence (a dropped message) clears the whole cache. */
static void on_people_event(as_zsock_t *zs, const void *const *frames, const size_t *lens,
                            int nframes, void *ud)
{
    (void)zs;
    (void)ud;
    if (nframes != 2)
        return;
    As__Envelope *env = as__envelope__unpack(NULL, lens[1], frames[1]);
    if (!env)
        return;
    if (gw.people_seq && env->sequence != gw.people_seq + 1)
        gw_idcache_clear();
    gw.people_seq = env->sequence;
    const char *type = env->type ? env->type : "";
    if (strcmp(type, "people.TokenRevoked") == 0 && env->has_payload) {
        People__TokenRevoked *ev =
            people__token_revoked__unpack(NULL, env->payload.len, env->payload.data);
        if (ev && ev->token_id) {
            gw_idcache_drop_token(ev->token_id);
            gw_sse_drop(ev->token_id, NULL);
        } else
            gw_idcache_clear();
        if (ev)
            people__token_revoked__free_unpacked(ev, NULL);
    } else if (strcmp(type, "people.UserChanged") == 0 && env->has_payload) {
        People__UserChanged *ev =
            people__user_changed__unpack(NULL, env->payload.len, env->payload.data);
        if (ev && ev->change && strcmp(ev->change, "announced") == 0) {
            /* an account re-announced as it is (an upgrade's copy for intake): nothing changed */
        } else if (ev && ev->login) {
            gw_idcache_drop_login(ev->login);
            gw_sse_drop(NULL, ev->login);
        } else
            gw_idcache_clear();
        if (ev)
            people__user_changed__free_unpacked(ev, NULL);
    }
    as__envelope__free_unpacked(env, NULL);
}

/* ---- request ids and traces (issue 20.2) ---- */

static int all_hex(const char *s, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

/* A W3C traceparent "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" (lower case, ids
 * not all zero; a later version may append "-…"): its trace id into out. */
static int traceparent_parse(const char *v, char out[33])
{
    if (!v || strlen(v) < 55)
        return -1;
    if (!all_hex(v, 2) && strncmp(v, "00", 2) != 0)
        return -1;
    if (strncmp(v, "ff", 2) == 0 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -1;
    if (!((v[0] >= '0' && v[0] <= '9') || (v[0] >= 'a' && v[0] <= 'f')) ||
        !((v[1] >= '0' && v[1] <= '9') || (v[1] >= 'a' && v[1] <= 'f')))
        return -1;
    if (!all_hex(v + 3, 32) || !all_hex(v + 36, 16))
        return -1;
    if (!((v[53] >= '0' && v[53] <= '9') || (v[53] >= 'a' && v[53] <= 'f')) ||
        !((v[54] >= '0' && v[54] <= '9') || (v[54] >= 'a' && v[54] <= 'f')))
        return -1;
    if (strncmp(v, "00", 2) == 0 ? v[55] != '\0' : (v[55] != '\0' && v[55] != '-'))
        return -1;
    memcpy(out, v + 3, 32);
    out[32] = '\0';
    return 0;
}

/* A client's X-Request-Id is kept when it is 1..64 of [A-Za-z0-9._-]. */
static int request_id_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 1 || n > 64)
        return 0;
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && *v != '.' && *v != '_' && *v != '-')
            return 0;
    return 1;
}

/* Is the address part of "ip:port" / "[ip]:port" one of the space-separated `list`? */
static int peer_in(const char *peer, const char *list, char *ip, size_t cap)
{
    const char *p = peer;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        const char *c = strrchr(p, ':');
        n = c ? (size_t)(c - p) : strlen(p);
    }
    snprintf(ip, cap, "%.*s", (int)n, p);
    return word_in(list, ip);
}

/* The client's address and scheme: the peer's, or (from a trusted proxy) the last address of
 * X-Forwarded-For that is not itself a trusted proxy, and X-Forwarded-Proto. */
static void client_of(as_http_req_t *r, authreq_t *a)
{
    char ip[64];
    int trusted = peer_in(as_http_req_peer(r), cfg_trusted_proxies, ip, sizeof ip);
    snprintf(a->client, sizeof a->client, "%s", ip);
    snprintf(a->proto, sizeof a->proto, "http");
    if (!trusted)
        return;
    const char *xff = as_http_req_header(r, "X-Forwarded-For");
    if (xff) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", xff);
        for (;;) {
            char *comma = strrchr(buf, ',');
            char *item = comma ? comma + 1 : buf;
            while (*item == ' ')
                item++;
            size_t il = strcspn(item, " ");
            item[il] = '\0';
            int ok = il > 0 && il < sizeof a->client;
            for (size_t i = 0; ok && i < il; i++)
                ok = isxdigit((unsigned char)item[i]) || item[i] == '.' || item[i] == ':';
            if (!ok)
                break; /* not an address: keep what we have */
            memcpy(a->client, item, il + 1);
            if (!comma || !word_in(cfg_trusted_proxies, item))
                break;
            *comma = '\0';
        }
    }
    const char *xfp = as_http_req_header(r, "X-Forwarded-Proto");
    if (xfp && (strcmp(xfp, "https") == 0 || strcmp(xfp, "http") == 0))
        snprintf(a->proto, sizeof a->proto, "%s", xfp);
}

/* CORS (issue 20.4): an allowed Origin gets Access-Control-Allow-Origin on every answer. A
 * preflight (OPTIONS with Access-Control-Request-Method) is answered here: 204 with the methods
 * and headers, or 403 for an origin not on the list. Returns 1 when it answered. */
static int cors(as_http_req_t *r, const char *allow)
{
    const char *origin = as_http_req_header(r, "Origin");
    int allowed = origin && cfg_cors_origins && cfg_cors_origins[0] &&
                  word_in(cfg_cors_origins, origin) && !strpbrk(origin, "\r\n");
    if (allowed) {
        as_http_req_add_header(r, "Access-Control-Allow-Origin", origin);
        as_http_req_add_header(r, "Access-Control-Allow-Credentials", "true");
        as_http_req_add_header(r, "Access-Control-Expose-Headers",
                               "ETag, Location, Retry-After, X-Request-Id, X-Trace-Id, "
                               "Idempotent-Replayed, WWW-Authenticate, Allow");
    }
    if (cfg_cors_origins && cfg_cors_origins[0])
        as_http_req_add_header(r, "Vary", "Origin");
    if (strcmp(as_http_req_method(r), "OPTIONS") != 0 ||
        !as_http_req_header(r, "Access-Control-Request-Method"))
        return 0;
    if (!origin || !allowed) {
        as_http_respond_error(r, 403, "cors_origin",
                              "this origin may not call the API from a browser (cors_origins)");
        return 1;
    }
    as_http_req_add_header(r, "Access-Control-Allow-Methods", allow && *allow ? allow : "GET");
    as_http_req_add_header(r, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Idempotency-Key, If-Match, "
                           "If-None-Match, X-CSRF-Token, X-Request-Id, traceparent");
    as_http_req_add_header(r, "Access-Control-Max-Age", "600");
    as_http_respond(r, 204, NULL, NULL, 0, NULL);
    return 1;
}

/* The methods a known path takes ("GET, HEAD, POST"), for Allow and CORS; "" when unknown. */
static void allowed_methods(const char *path, char *out, size_t cap)
{
    int get = 0, post = 0, put = 0, patch = 0, del = 0;
    for (size_t t = 0; t < N_TABLES; t++)
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            if (!route_match(x->pattern, path, NULL))
                continue;
            get |= strcmp(x->method, "GET") == 0;
            post |= strcmp(x->method, "POST") == 0;
            put |= strcmp(x->method, "PUT") == 0;
            patch |= strcmp(x->method, "PATCH") == 0;
            del |= strcmp(x->method, "DELETE") == 0;
        }
    snprintf(out, cap, "%s%s%s%s%s", get ? "GET, HEAD, " : "", post ? "POST, " : "",
             put ? "PUT, " : "", patch ? "PATCH, " : "", del ? "DELETE, " : "");
    size_t n = strlen(out);
    if (n >= 2)
        out[n - 2] = '\0';
}

static void method_not_allowed(as_http_req_t *r, const char *allow)
{
    as_http_req_add_header(r, "Allow", allow);
    as_http_respond_error(r, 405, "method_not_allowed", "this path does not take that method");
}

/* ---- /livez, /readyz (issue 20.3) ---- */

typedef struct ready_req {
    as_http_req_t *r;
    json_t *services;
    int pending, up;
    const char *only; /* /readyz/{service}: that one */
} ready_req_t;

typedef struct ready_part {
    ready_req_t *q;
    const char *name;
} ready_part_t;

static void ready_done(int status, const As__Reply *reply, void *ud)
{
    ready_part_t *part = ud;
    ready_req_t *q = part->q;
    int ok = 0;
    if (status == 200 && reply && reply->has_body) {
        As__HealthReply *hr = as__health_reply__unpack(NULL, reply->body.len, reply->body.data);
        ok = hr && hr->has_db && hr->db;
        if (hr)
            as__health_reply__free_unpacked(hr, NULL);
    }
    q->up += ok;
    json_object_set_new(q->services, part->name, json_string(ok ? "ready" : "unavailable"));
    free(part);
    if (--q->pending > 0)
        return;
    /* The gateway can serve while at least one service answers (what is down answers 503 per
     * route); a single service's readiness is that service's. */
    int serving = !gw.draining && q->up > 0;
    json_t *body = json_pack("{s:s, s:O}", "status",
                             gw.draining ? "draining"
                             : serving   ? "ready"
                                         : "unavailable",
                             "services", q->services);
    gw_respond_json(q->r, serving ? 200 : 503, body);
    json_decref(body);
    json_decref(q->services);
    free(q);
}

static void readyz(as_http_req_t *r, const char *only)
{
    ready_req_t *q = calloc(1, sizeof *q);
    if (!q) {
        as_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    q->r = r;
    q->services = json_object();
    q->only = only;
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    for (int i = 0; i < N_SVC; i++)
        q->pending += !only || strcmp(only, SERVICES[i]) == 0;
    int n = q->pending;
    for (int i = 0; i < N_SVC && n > 0; i++) {
        if (only && strcmp(only, SERVICES[i]) != 0)
            continue;
        n--;
        ready_part_t *part = malloc(sizeof *part);
        if (part) {
            part->q = q;
            part->name = SERVICES[i];
        }
        if (!part || as_client_call(gw.clients[i], "as.HealthRequest", &hq.base, NULL, NULL, NULL,
                                    1500, ready_done, part) < 0) {
            if (part)
                ready_done(503, NULL, part);
        }
    }
}

/* /metrics and /healthz go through authenticate() like every route (a tokens-file token, a
 * personal token or a signed-in admin's session cookie). */
static void metrics_handler(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                            const gw_principal_t *p)
{
    (void)rt;
    (void)params;
    (void)p;
    gw_metrics_scrape(r, gw.clients, SERVICES, N_SVC);
}

static void healthz_handler(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                            const gw_principal_t *p)
{
    (void)rt;
    (void)params;
    /* Anyone may ask whether the stack is up; which service is down, versions, streams and
     * clock skews are for the admin. */
    healthz(r, strcmp(p->role, "admin") == 0);
}

static const gw_route_t METRICS_ROUTE = {
    "GET",           "/metrics",           R_ADMIN, "-", NULL, 0, NULL, NULL,
    metrics_handler, "Prometheus metrics", NULL};
static const gw_route_t HEALTHZ_ROUTE = {"GET",
                                         "/healthz",
                                         R_ADMIN | R_REGION | R_CENTER | R_WAREHOUSE | R_FINANCE |
                                             R_REVIEWER,
                                         "-",
                                         NULL,
                                         0,
                                         NULL,
                                         NULL,
                                         healthz_handler,
                                         "health of every service",
                                         NULL};

static int has_credentials(as_http_req_t *r)
{
    char tmp[96];
    return as_http_req_header(r, "Authorization") ||
           cookie_value(r, "as_session", tmp, sizeof tmp) == 0;
}

static void on_request(as_http_req_t *r, void *ud)
{
    (void)ud;
    const char *method = as_http_req_method(r), *path = as_http_req_path(r);
    authreq_t *a = calloc(1, sizeof *a);
    if (!a) {
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    as_http_req_set_data(r, a);
    a->start = mono_s();
    const char *xrid = as_http_req_header(r, "X-Request-Id");
    if (request_id_ok(xrid))
        snprintf(a->request_id, sizeof a->request_id, "%s", xrid);
    else
        as_new_id(a->request_id);
    if (traceparent_parse(as_http_req_header(r, "traceparent"), a->trace_id) < 0)
        as_new_id(a->trace_id); /* absent or malformed: a new trace starts here */
    as_http_req_add_header(r, "X-Request-Id", a->request_id);
    as_http_req_add_header(r, "X-Trace-Id", a->trace_id);
    client_of(r, a);
    snprintf(a->route, sizeof a->route, "%s", "-");
    int head = strcmp(method, "HEAD") == 0;
    const char *m = head ? "GET" : method; /* HEAD is GET without the body */
    char rl_key[96], peer_key[80];
    snprintf(peer_key, sizeof peer_key, strchr(a->client, ':') ? "[%s]:0" : "%s:0", a->client);
    if (rate_limited(r, gw.rl_address, gw_rl_address_key(peer_key, rl_key, sizeof rl_key),
                     "address"))
        return;
    if (strcmp(path, "/livez") == 0 || strcmp(path, "/readyz") == 0 ||
        strncmp(path, "/readyz/", 8) == 0) {
        snprintf(a->route, sizeof a->route, "%s",
                 path[1] == 'l' ? "/livez"
                 : path[7]      ? "/readyz/{service}"
                                : "/readyz");
        gw_metrics_begin(r, path[1] == 'l' ? "/livez" : path[7] ? "/readyz/{service}" : "/readyz");
        if (cors(r, "GET, HEAD"))
            return;
        if (strcmp(m, "GET") != 0) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        if (query_check(r, "GET", NULL, "") < 0)
            return;
        if (path[1] == 'l') {
            static const char live[] = "{\"status\":\"live\"}";
            as_http_respond(r, 200, "application/json", live, sizeof live - 1, NULL);
            return;
        }
        const char *only = NULL;
        if (path[7]) {
            for (int i = 0; i < N_SVC; i++)
                if (strcmp(path + 8, SERVICES[i]) == 0)
                    only = SERVICES[i];
            if (!only) {
                as_http_respond_error(r, 404, "not_found", "no such service");
                return;
            }
        }
        readyz(r, only);
        return;
    }
    if (strcmp(path, "/metrics") == 0 || strcmp(path, "/healthz") == 0) {
        const gw_route_t *rt = path[1] == 'm' ? &METRICS_ROUTE : &HEALTHZ_ROUTE;
        snprintf(a->route, sizeof a->route, "%s", rt->pattern);
        gw_metrics_begin(r, rt->pattern);
        if (cors(r, "GET, HEAD"))
            return;
        if (strcmp(m, "GET") != 0) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        if (rt == &HEALTHZ_ROUTE && !has_credentials(r)) {
            if (query_check(r, "GET", NULL, "") == 0)
                healthz(r, 0);
            return;
        }
        authenticate(r, rt, json_object());
        return;
    }
    if (strcmp(path, "/") == 0 || strncmp(path, "/console", 8) == 0 ||
        strcmp(path, "/status") == 0 || strncmp(path, "/status/", 8) == 0) {
        const char *area = strncmp(path, "/status", 7) == 0 ? "/status/" : "/console/";
        snprintf(a->route, sizeof a->route, "%s", area);
        gw_metrics_begin(r, area);
        if (gw_static_handle(r))
            return;
    }
    const gw_route_t *rt = NULL;
    int path_known = 0;
    json_t *params = json_object();
    for (size_t t = 0; t < N_TABLES && !rt; t++) {
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            if (!route_match(x->pattern, path, NULL))
                continue;
            if (!path_known)
                snprintf(a->route, sizeof a->route, "%s", x->pattern);
            path_known = 1;
            if (strcmp(x->method, m) == 0) {
                rt = x;
                snprintf(a->route, sizeof a->route, "%s", x->pattern);
                route_match(rt->pattern, path, params);
                break;
            }
        }
    }
    gw_metrics_begin(r, rt ? rt->pattern : NULL);
    char allow[64] = "";
    if (path_known) {
        allowed_methods(path, allow, sizeof allow);
        if (cors(r, allow)) {
            json_decref(params);
            return;
        }
    }
    if (rt && json_object_size(params) != pattern_params(rt->pattern)) {
        /* a segment that is not text (json_stringn refused it): never let a body field of the
         * same name stand in for it */
        json_decref(params);
        as_http_respond_error(r, 400, "invalid_path",
                              "a path parameter is not valid UTF-8 text; give it in the path");
        return;
    }
    if (!rt) {
        json_decref(params);
        if (path_known)
            method_not_allowed(r, allow);
        else
            as_http_respond_error(r, 404, "not_found", "no such route");
        return;
    }
    if (strcmp(rt->method, "GET") == 0)
        as_http_req_want_etag(r);
    if (as_http_req_header_count(r, "Authorization") > 1) {
        json_decref(params);
        as_http_respond_error(r, 400, "bad_request", "give one Authorization header, not several");
        return;
    }
    if (rt->roles & R_PUBLIC) {
        static const gw_principal_t anonymous = {.subject = "anonymous", .role = "anonymous"};
        if (process_overloaded(r, a, rt)) {
            json_decref(params);
            return;
        }
        handle_route(r, rt, params, &anonymous);
        json_decref(params);
        return;
    }
    authenticate(r, rt, params);
}

static void closed_done(void *arg)
{
    (void)arg;
}

static void shutdown_now(void)
{
    gw_sse_shutdown();
    as_http_server_stop(gw.http, closed_done, NULL);
    gw.http = NULL;
    for (int i = 0; i < N_SVC; i++)
        as_client_destroy(&gw.clients[i]);
    as_zsock_destroy(&gw.people_sub);
    as_curve_shutdown();
    uv_close((uv_handle_t *)&gw.sigterm, NULL);
    uv_close((uv_handle_t *)&gw.sigint, NULL);
    uv_close((uv_handle_t *)&gw.sighup, NULL);
    uv_close((uv_handle_t *)&gw.drain, NULL);
}

/* While draining: exit once every connection is done, or at drain_timeout_ms. */
static void drain_tick(uv_timer_t *t)
{
    as_http_stats_t st;
    as_http_server_stats(gw.http, &st);
    uint64_t waited = uv_now(gw.loop) - gw.drain_started;
    if (st.connections > 0 && waited < (uint64_t)cfg_drain_ms)
        return;
    uv_timer_stop(t);
    if (st.connections > 0)
        AS_WARN("drain timed out", "connections=%u waited_ms=%" PRIu64, st.connections, waited);
    else
        AS_INFO("drained", "waited_ms=%" PRIu64, waited);
    shutdown_now();
}

/* SIGTERM / SIGINT: stop accepting (the listening socket closes: new connections are refused),
 * finish the requests in flight, then exit. A second signal exits at once. */
static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (gw.draining) {
        AS_INFO("stopping now", "signal=%d", signum);
        uv_timer_stop(&gw.drain);
        shutdown_now();
        return;
    }
    gw.draining = 1;
    AS_INFO("stopping", "signal=%d drain_timeout_ms=%ld", signum, cfg_drain_ms);
    sd_notify(0, "STOPPING=1");
    as_http_server_drain(gw.http);
    gw_sse_shutdown(); /* event streams never finish by themselves: their clients reconnect */
    gw.drain_started = uv_now(gw.loop);
    uv_timer_start(&gw.drain, drain_tick, 0, 20);
}

/* SIGHUP: reload the tokens file and the settings that can change without a restart
 * (log_level, log_format, rate limits, cors_origins, trusted_proxies, upstream_timeout_ms,
 * auth_cache_ms, drain_timeout_ms). Anything wrong keeps the old values and says why. */
static void on_reload(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    char err[512];
    gw_tokens_t *t = gw_tokens_load(cfg_tokens_file, err, sizeof err);
    if (!t) {
        AS_ERROR("reload: tokens file refused; keeping the old tokens", "error=\"%s\"", err);
    } else {
        gw_tokens_free(&gw.tokens);
        gw.tokens = t;
    }
    /* Settings: load into a copy, then take over only the reloadable ones. */
    char *log_level = NULL, *log_format = NULL, *cors_o = NULL, *proxies = NULL, *tf = NULL;
    long timeout = 0, cache = 0, drain = 0, rt = 0, rb = 0, ra = 0, rab = 0, cap = 0, pcap = 0;
    as_config_item_t items[N_ITEMS];
    memcpy(items, gateway_items, sizeof items);
    for (size_t i = 0; i < N_ITEMS; i++) {
        static char *sink_s[N_ITEMS];
        static long sink_l[N_ITEMS];
        const char *n = items[i].name;
        void *ptr = items[i].type == AS_CFG_STRING ? (void *)&sink_s[i] : (void *)&sink_l[i];
        if (strcmp(n, "log_level") == 0)
            ptr = &log_level;
        else if (strcmp(n, "log_format") == 0)
            ptr = &log_format;
        else if (strcmp(n, "cors_origins") == 0)
            ptr = &cors_o;
        else if (strcmp(n, "trusted_proxies") == 0)
            ptr = &proxies;
        else if (strcmp(n, "tokens_file") == 0)
            ptr = &tf;
        else if (strcmp(n, "upstream_timeout_ms") == 0)
            ptr = &timeout;
        else if (strcmp(n, "auth_cache_ms") == 0)
            ptr = &cache;
        else if (strcmp(n, "drain_timeout_ms") == 0)
            ptr = &drain;
        else if (strcmp(n, "rate_limit_per_principal") == 0)
            ptr = &rt;
        else if (strcmp(n, "rate_limit_per_principal_burst") == 0)
            ptr = &rb;
        else if (strcmp(n, "rate_limit_per_address") == 0)
            ptr = &ra;
        else if (strcmp(n, "rate_limit_per_address_burst") == 0)
            ptr = &rab;
        else if (strcmp(n, "max_inflight_per_principal") == 0)
            ptr = &cap;
        else if (strcmp(n, "max_inflight_requests") == 0)
            ptr = &pcap;
        items[i].ptr = ptr;
    }
    int lvl = -1, fmt = -1;
    if (as_config_load(items, N_ITEMS, "gateway", gw.config_file, err, sizeof err) < 0) {
        AS_ERROR("reload: settings refused; keeping the old ones", "error=\"%s\"", err);
    } else if ((lvl = as_log_level_parse(log_level)) < 0 ||
               (fmt = as_log_format_parse(log_format)) < 0) {
        AS_ERROR("reload: log_level or log_format refused; keeping the old settings",
                 "log_level=%s log_format=%s", log_level ? log_level : "-",
                 log_format ? log_format : "-");
    } else {
        as_log_level = (as_log_level_t)lvl;
        as_log_set_json(fmt);
        char **sv[] = {&cfg_log_level, &cfg_log_format, &cfg_cors_origins, &cfg_trusted_proxies};
        char **nv[] = {&log_level, &log_format, &cors_o, &proxies};
        for (size_t i = 0; i < 4; i++) {
            free(*sv[i]);
            *sv[i] = *nv[i];
            *nv[i] = NULL;
        }
        cfg_timeout_ms = timeout;
        cfg_auth_cache_ms = cache;
        cfg_drain_ms = drain;
        cfg_inflight_per_principal = cap;
        cfg_inflight_process = pcap;
        gw.load.cap = pcap;
        if (rt != cfg_rl_token_rate || rb != cfg_rl_token_burst || ra != cfg_rl_addr_rate ||
            rab != cfg_rl_addr_burst) {
            gw_rl_free(&gw.rl_principal);
            gw_rl_free(&gw.rl_address);
            cfg_rl_token_rate = rt;
            cfg_rl_token_burst = rb;
            cfg_rl_addr_rate = ra;
            cfg_rl_addr_burst = rab;
            gw.rl_principal = gw_rl_new((double)rt, (double)rb);
            gw.rl_address = gw_rl_new((double)ra, (double)rab);
            gw_metrics_set_limiters(gw.rl_principal, gw.rl_address);
        }
    }
    free(log_level);
    free(log_format);
    free(cors_o);
    free(proxies);
    free(tf);
    for (size_t i = 0; i < N_ITEMS; i++)
        if (items[i].type == AS_CFG_STRING && items[i].ptr != &log_level &&
            items[i].ptr != &log_format && items[i].ptr != &cors_o && items[i].ptr != &proxies &&
            items[i].ptr != &tf) {
            char **p = items[i].ptr;
            free(*p);
            *p = NULL;
        }
    AS_INFO("reloaded", "tokens=%zu log_level=%s cors_origins=\"%s\" trusted_proxies=\"%s\"",
            gw_tokens_count(gw.tokens), cfg_log_level, cfg_cors_origins, cfg_trusted_proxies);
}

/* `as-gateway --routes`: the route table as tab-separated lines (method, path, roles, service,
 * command, summary), for the API reference and the tests that keep the two in step. */
static void print_routes(void)
{
    static const char *const role_names[] = {"admin",     "region",  "center",
                                             "warehouse", "finance", "reviewer"};
    printf("GET\t/healthz\t-\t-\t-\thealth of every service (no token)\n");
    printf("GET\t/livez\t-\t-\t-\tthe gateway process is up (no token)\n");
    printf("GET\t/readyz\t-\t-\t-\tthis gateway can serve: which services answer (no token)\n");
    printf("GET\t/readyz/{service}\t-\t-\t-\tone service answers with its database (no "
           "token)\n");
    printf("GET\t/metrics\tadmin\t-\t-\tPrometheus metrics\n");
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            printf("%s\t%s\t", x->method, x->pattern);
            if (x->roles & R_PUBLIC)
                printf("-");
            int first = 1;
            for (int i = 0; i < 6; i++) {
                if (x->roles & (1u << i)) {
                    printf("%s%s", first ? "" : ",", role_names[i]);
                    first = 0;
                }
            }
            printf("\t%s\t%s\t%s\n", x->service, x->cmd ? x->cmd : "-",
                   x->summary ? x->summary : "");
        }
    }
}

/* `as-gateway --query-params`: the query parameters each route accepts, as tab-separated lines
 * (method, path, comma-separated names or "-", the enumerated ones as "name=v1|v2;..." or "-"),
 * for the tests that hold the API reference to them. */
static void print_query_params(void)
{
    printf("GET\t/healthz\t-\t-\nGET\t/livez\t-\t-\nGET\t/readyz\t-\t-\nGET\t/readyz/"
           "{service}\t-\t-\nGET\t/metrics\t-\t-\n");
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++) {
            char q[1024], e[1024] = "", vals[600];
            gw_route_query(x, q, sizeof q);
            /* the enumerated ones: "name=v1|v2;name2=..." */
            size_t eo = 0;
            for (char *p = q; *p;) {
                size_t w = strcspn(p, " ");
                char name[80];
                snprintf(name, sizeof name, "%.*s", (int)w, p);
                if (strcmp(x->method, "GET") == 0 &&
                    gw_route_enum(x, name, vals, sizeof vals) == 0) {
                    int n = snprintf(e + eo, sizeof e - eo, "%s%s=%s", eo ? ";" : "", name, vals);
                    if (n > 0 && (size_t)n < sizeof e - eo)
                        eo += (size_t)n;
                }
                p += w;
                while (*p == ' ')
                    p++;
            }
            for (char *p = q; *p; p++)
                if (*p == ' ')
                    *p = ',';
            printf("%s\t%s\t%s\t%s\n", x->method, x->pattern, q[0] ? q : "-", e[0] ? e : "-");
        }
    }
}

int main(int argc, char **argv)
{
    const char *config_file = NULL;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"routes", no_argument, NULL, 'r'},
                                         {"query-params", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hrq", opts, NULL)) != -1) {
        if (ch == 'c')
            config_file = optarg;
        else if (ch == 'r') {
            print_routes();
            return 0;
        } else if (ch == 'q') {
            print_query_params();
            return 0;
        } else {
            fprintf(stderr, "usage: as-gateway [--config FILE] [--routes] [--query-params]\n\n");
            as_config_usage(gateway_items, N_ITEMS, "gateway");
            return ch == 'h' ? 0 : 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per HTTP connection: the soft limit (often 1024) goes up to the hard one,
     * so that http_max_connections, not EMFILE, bounds them. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    char err[512];
    if (as_config_load(gateway_items, N_ITEMS, "gateway", config_file, err, sizeof err) < 0) {
        fprintf(stderr, "as-gateway: %s\n", err);
        return 2;
    }
    int lvl = as_log_level_parse(cfg_log_level);
    as_log_init("gateway", lvl < 0 ? AS_LOG_INFO : (as_log_level_t)lvl);
    int fmt = as_log_format_parse(cfg_log_format);
    if (fmt < 0) {
        fprintf(stderr, "as-gateway: setting 'log_format': '%s' is not text|json\n",
                cfg_log_format);
        return 2;
    }
    as_log_set_json(fmt);
    gw.config_file = config_file;
    gw.tokens = gw_tokens_load(cfg_tokens_file, err, sizeof err);
    if (!gw.tokens) {
        AS_ERROR("cannot load tokens", "error=\"%s\"", err);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    gw.loop = &loop;
    gw.zctx = zmq_ctx_new();
    int rc = 1;
    if (as_curve_setup(gw.zctx, &loop, as_cfg_curve_keys, "gateway", err, sizeof err) < 0) {
        AS_ERROR("cannot set up CURVE", "error=\"%s\"", err);
        goto out;
    }
    for (int i = 0; i < N_SVC; i++) {
        gw.clients[i] = as_client_new(&loop, gw.zctx, as_endpoint(SERVICES[i], "cmd"), 16 << 20,
                                      "gateway", err, sizeof err);
        if (!gw.clients[i]) {
            AS_ERROR("cannot connect", "service=%s error=\"%s\"", SERVICES[i], err);
            goto out;
        }
    }
    gw.rl_principal = gw_rl_new((double)cfg_rl_token_rate, (double)cfg_rl_token_burst);
    gw.rl_address = gw_rl_new((double)cfg_rl_addr_rate, (double)cfg_rl_addr_burst);
    gw.inflight = gw_if_new();
    gw_metrics_set_inflight(gw.inflight);
    gw.load.cap = cfg_inflight_process;
    gw_metrics_set_process_load(&gw.load);
    gw_metrics_set_limiters(gw.rl_principal, gw.rl_address);
    gw_status_configure(cfg_status_per_minute, cfg_status_burst);
    gw_sse_configure(&loop, cfg_sse_heartbeat_s, cfg_sse_per_principal, cfg_sse_max_s);
    gw.people_sub = as_zsock_new(&loop, gw.zctx, ZMQ_SUB, as_endpoint("people", "pub"), 0, 1 << 20,
                                 100000, on_people_event, NULL, err, sizeof err);
    if (!gw.people_sub) {
        AS_ERROR("cannot follow the people stream", "error=\"%s\"", err);
        goto out;
    }
    zmq_setsockopt(as_zsock_raw(gw.people_sub), ZMQ_SUBSCRIBE, "people", 6);
    gw_people_configure((int)cfg_cookie_secure);
    gw_static_configure(cfg_console_dir);
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_body_bytes = (size_t)cfg_max_body;
    lim.max_connections = (unsigned)cfg_max_conns;
    lim.max_conns_per_addr = (unsigned)cfg_max_conns_addr;
    lim.header_timeout_ms = (unsigned)cfg_header_timeout;
    lim.body_grace_ms = (unsigned)cfg_body_grace;
    lim.body_min_rate = (unsigned)cfg_body_rate;
    lim.request_timeout_ms = (unsigned)cfg_request_timeout;
    lim.idle_timeout_ms = (unsigned)cfg_idle_timeout;
    if (as_http_server_start(&loop, cfg_http_host, (int)cfg_http_port, &lim, on_request, NULL,
                             &gw.http) != 0) {
        AS_ERROR("cannot listen", "host=%s port=%ld", cfg_http_host, cfg_http_port);
        goto out;
    }
    as_http_server_on_response(gw.http, request_done, NULL);
    gw_metrics_set_server(gw.http);
    uv_signal_init(&loop, &gw.sigterm);
    uv_signal_init(&loop, &gw.sigint);
    uv_signal_init(&loop, &gw.sighup);
    uv_timer_init(&loop, &gw.drain);
    uv_signal_start(&gw.sigterm, on_signal, SIGTERM);
    uv_signal_start(&gw.sigint, on_signal, SIGINT);
    uv_signal_start(&gw.sighup, on_reload, SIGHUP);
    AS_INFO("started", "http=%s:%d tokens=%zu", cfg_http_host, as_http_server_port(gw.http),
            gw_tokens_count(gw.tokens));
    sd_notify(0, "READY=1");
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (rc) {
        for (int i = 0; i < N_SVC; i++)
            as_client_destroy(&gw.clients[i]);
        as_zsock_destroy(&gw.people_sub);
        as_curve_shutdown();
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    zmq_ctx_term(gw.zctx);
    gw_tokens_free(&gw.tokens);
    gw_if_free(&gw.inflight);
    gw_rl_free(&gw.rl_principal);
    gw_rl_free(&gw.rl_address);
    gw_status_shutdown();
    as_config_free(gateway_items, N_ITEMS);
    return rc;
}
