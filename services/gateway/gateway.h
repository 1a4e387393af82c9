/* gateway.h — what a route table needs from the gateway: the route shape, the role bits, and
 * helpers to call a service and turn its reply into HTTP. Each service's routes live in their own
 * file (routes_<service>.c) and are listed in main.c (ROUTE_TABLES). */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <jansson.h>

#include "as/bus.h"
#include "auth.h"
#include "http.h"

enum {
    R_ADMIN = 1 << 0,
    R_REGION = 1 << 1,
    R_CENTER = 1 << 2,
    R_WAREHOUSE = 1 << 3,
    R_FINANCE = 1 << 4,
    R_REVIEWER = 1 << 5,
    R_ALL = 0x3f,
    R_PUBLIC = 1 << 6, /* no credentials needed (POST /v1/auth/login) */
};

typedef struct gw_route gw_route_t;

/* A custom handler: `params` holds the captured path segments (borrowed). It must finish the
 * request (as_http_respond… now or later). */
typedef void (*gw_handler_fn)(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                              const gw_principal_t *p);

struct gw_route {
    const char *method;
    const char *pattern;     /* "/v1/tickets/{id}/cancel": {id} fills the field "id" */
    unsigned roles;          /* R_* bits allowed */
    const char *service;     /* owning service */
    const char *cmd;         /* command type, e.g. "intake.CancelTicket" */
    int body;                /* 1: JSON body, merged with path params; 0: query parameters */
    const char *body_field;  /* if set, the raw JSON body is passed as this string field */
    const char *reply_field; /* if set, this string field of the reply is the raw JSON answer */
    gw_handler_fn handler;   /* NULL: the generic command mapping */
    const char *summary;     /* one line for the route listing */
    const char *query;       /* the query parameters, space-separated words. Handler routes:
                                every parameter the handler reads ("format from to after").
                                Any route: a word "name=v1|v2|..." declares that parameter an
                                enumeration of those values, "name=@pkg.Enum" of the values of
                                that enum of proto/ (a generic route names only its
                                enumerated filters here, its other parameters come from the
                                command). NULL: none. */
};

/* Query parameters. Every one a request carries must be accepted by its route, or the gateway
 * answers 400 bad_query before the handler runs (nothing reaches a service):
 *   - generic GET routes accept the fields of their command that are not path parameters;
 *   - handler routes accept exactly the names in `query`;
 *   - POST routes accept none (their arguments are the JSON body and the path);
 * and a name may appear only once. gw_route_query writes the names `rt` accepts,
 * space-separated, into buf ("" for none). */
void gw_route_query(const gw_route_t *rt, char *buf, size_t len);

/* The allowed values of query parameter `name` of `rt`, '|'-separated, into buf; 0 when the
 * parameter is an enumeration, -1 otherwise. A value outside the list is 400 bad_query naming
 * the allowed values. */
int gw_route_enum(const gw_route_t *rt, const char *name, char *buf, size_t len);

/* Route tables, one per service (NULL-terminated by a route with method NULL). */
extern const gw_route_t gw_routes_intake[];
extern const gw_route_t gw_routes_warranty[];
extern const gw_route_t gw_routes_parts[];
extern const gw_route_t gw_routes_settlement[];
extern const gw_route_t gw_routes_surveys[];
extern const gw_route_t gw_routes_people[];
extern const gw_route_t gw_routes_notify[];
extern const gw_route_t gw_routes_status[];

/* routes_status.c: the status page's own limiter per client address (requests a minute, burst). */
void gw_status_configure(long per_minute, long burst);
void gw_status_shutdown(void);
uint64_t gw_status_refused(void);
/* The client's address ("a.b.c.d:0" or "[v6]:0"; X-Forwarded-For from a trusted proxy). */
const char *gw_request_client(as_http_req_t *r);

/* The secret the caller presented (bearer token or session cookie), or NULL. Borrowed. */
const char *gw_request_secret(as_http_req_t *r);
/* routes_people.c: mark the session cookie Secure (behind TLS). */
void gw_people_configure(int secure_cookie);

/* Build the command of `rt` from the request (body or query, plus params) — as the generic
 * mapping does — and return it, or answer 400 and return NULL. Caller frees the message. */
ProtobufCMessage *gw_build_command(as_http_req_t *r, const gw_route_t *rt, json_t *params);

/* The request id of a keyed (Idempotency-Key) request: a fixed-length hash of subject, command
 * and key, written to out (at least 67 bytes). */
void gw_request_id(const char *subject, const char *cmd, const char *key, char *out, size_t len);

/* Send `msg` to the route's service as `rt->cmd` for principal `p`; `cb` gets the reply. Uses the
 * request's Idempotency-Key when present. Returns 0 or answers 503 itself and returns -1. */
int gw_call(as_http_req_t *r, const gw_route_t *rt, const ProtobufCMessage *msg,
            const gw_principal_t *p, as_client_cb cb, void *ud);
int gw_call_type(as_http_req_t *r, const char *service, const char *type,
                 const ProtobufCMessage *msg, const char *request_id, const gw_principal_t *p,
                 as_client_cb cb, void *ud);

/* The same without an HTTP request to answer on failure (fan-outs): returns -1 when the call
 * could not be queued (cb is then not called). */
int gw_call_service(const char *service, const char *type, const ProtobufCMessage *msg,
                    const char *request_id, const gw_principal_t *p, as_client_cb cb, void *ud);

/* Answer the HTTP request from a service reply: status, JSON body (by body_type) or the error
 * object {"error":{"code","message","fields"}}; 504/502 when there was no reply. */
void gw_respond_reply(as_http_req_t *r, int status, const As__Reply *reply);

/* The generic command mapping of a route (what a route without a handler does): a handler may
 * fall back to it. */
void gw_route_generic(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                      const gw_principal_t *p);

/* Decode a reply body of type `d`; NULL if absent or not that type. Caller frees. */
ProtobufCMessage *gw_reply_body(const As__Reply *reply, const ProtobufCMessageDescriptor *d);

void gw_respond_json(as_http_req_t *r, int status, json_t *body);

#endif
