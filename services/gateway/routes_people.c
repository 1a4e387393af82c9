/* routes_people.c — sign-in (/v1/auth/...) and the routes of the people service: staff accounts
 * (/v1/users), the network (/v1/regions, /v1/centers, /v1/brands) and the audit trail
 * (/v1/audit, every service's rows merged).
 *
 * Secrets are made here, never by the service: a session or personal token is 32 random bytes
 * the caller receives once; the people service is sent only its SHA-256. A browser session is an
 * HttpOnly, SameSite=Strict cookie plus a CSRF token (returned in the login answer) that every
 * unsafe request made with the cookie must echo in X-CSRF-Token. */
#include "gateway.h"

#include "as/log.h"
#include "as/pbjson.h"
#include "people.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANAGERS (R_ADMIN | R_REGION)

static int cookie_secure; /* set by gw_people_configure */

void gw_people_configure(int secure_cookie)
{
    cookie_secure = secure_cookie;
}

/* 32 random bytes as 64 hex digits, and their sha256. */
static void new_secret(char secret[65], char hash[65])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(secret, 65, b, sizeof b);
    sodium_memzero(b, sizeof b);
    gw_sha256_hex(secret, 64, hash);
}

/* The JSON body as an object ({} when empty), or answer 400 and return NULL. */
static json_t *body_object(as_http_req_t *r)
{
    size_t len = 0;
    const char *body = as_http_req_body(r, &len);
    if (len == 0)
        return json_object();
    json_error_t jerr;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        as_http_respond_error(r, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    return o;
}

/* Decode `args` as the route's command, or answer 400 and return NULL. Takes `args`. */
static ProtobufCMessage *decode(as_http_req_t *r, const char *type, json_t *args)
{
    const ProtobufCMessageDescriptor *d = as_registry_find(type);
    ProtobufCMessage *m = NULL;
    char err[300];
    if (!d || as_pbjson_decode(d, args, NULL, &m, err, sizeof err) < 0) {
        json_decref(args);
        as_http_respond_error(r, 400, "invalid_field", d ? err : "unknown command");
        return NULL;
    }
    json_decref(args);
    return m;
}

/* ---- POST /v1/auth/login ---- */

typedef struct login_req {
    as_http_req_t *r;
    char secret[65];
    char csrf[65];
} login_req_t;

static void login_done(int status, const As__Reply *reply, void *ud)
{
    login_req_t *l = ud;
    as_http_req_t *r = l->r;
    People__Session *s = status == 200
                             ? (People__Session *)gw_reply_body(reply, &people__session__descriptor)
                             : NULL;
    if (!s) {
        sodium_memzero(l, sizeof *l);
        free(l);
        gw_respond_reply(r, status, reply);
        return;
    }
    json_t *body = as_pbjson_encode(&s->base);
    json_object_set_new(body, "csrf_token", json_string(l->csrf));
    /* Programs that cannot keep cookies may send the session as a bearer token; browsers never
     * see it (HttpOnly). */
    json_object_set_new(body, "session_token", json_string(l->secret));
    char hdr[400];
    snprintf(hdr, sizeof hdr,
             "Set-Cookie: as_session=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n"
             "Cache-Control: no-store\r\n",
             l->secret, cookie_secure ? "; Secure" : "");
    char *txt = json_dumps(body, JSON_COMPACT);
    as_http_respond(r, 200, "application/json", txt ? txt : "{}", txt ? strlen(txt) : 2, hdr);
    if (txt) {
        sodium_memzero(txt, strlen(txt));
        free(txt);
    }
    json_decref(body);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    sodium_memzero(hdr, sizeof hdr);
    sodium_memzero(l, sizeof *l);
    free(l);
}

static void auth_login(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                       const gw_principal_t *p)
{
    (void)params;
    (void)p;
    json_t *a = body_object(r);
    if (!a)
        return;
    const char *login = json_string_value(json_object_get(a, "login"));
    const char *password = json_string_value(json_object_get(a, "password"));
    if (json_object_size(a) != 2 || !login || !password) {
        json_decref(a);
        as_http_respond_error(r, 400, "invalid_field",
                              "the body must be {\"login\": \"...\", \"password\": \"...\"}");
        return;
    }
    login_req_t *l = calloc(1, sizeof *l);
    if (!l) {
        json_decref(a);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    l->r = r;
    char hash[65], csrf_hash[65];
    new_secret(l->secret, hash);
    new_secret(l->csrf, csrf_hash);
    People__Login m = PEOPLE__LOGIN__INIT;
    m.login = (char *)login;
    m.password = (char *)password;
    m.token_hash = hash;
    m.csrf_hash = csrf_hash;
    gw_principal_t anon = {.subject = "anonymous", .role = "anonymous"};
    char rid[33];
    as_new_id(rid);
    if (gw_call_type(r, rt->service, rt->cmd, &m.base, rid, &anon, login_done, l) < 0) {
        sodium_memzero(l, sizeof *l);
        free(l);
    }
    json_decref(a); /* after the call: login and password point into it */
}

/* ---- POST /v1/auth/logout ---- */

static void logout_done(int status, const As__Reply *reply, void *ud)
{
    as_http_req_t *r = ud;
    if (status < 400 && reply) {
        const char *hdr =
            "Set-Cookie: as_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n";
        as_http_respond(r, 200, "application/json", "{}", 2, hdr);
        return;
    }
    gw_respond_reply(r, status, reply);
}

static void auth_logout(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                        const gw_principal_t *p)
{
    (void)params;
    if (p->kind == GW_FILE) {
        as_http_respond_error(r, 409, "not_a_session",
                              "this bearer token is a service account's, not a session");
        return;
    }
    People__Logout m = PEOPLE__LOGOUT__INIT;
    char hash[65];
    const char *secret = gw_request_secret(r);
    gw_sha256_hex(secret ? secret : "", secret ? strlen(secret) : 0, hash);
    m.token_hash = hash;
    gw_idcache_drop_token(p->token_id);
    gw_call(r, rt, &m.base, p, logout_done, r);
}

/* ---- GET /v1/auth/me ---- */

static void auth_me(as_http_req_t *r, const gw_route_t *rt, json_t *params, const gw_principal_t *p)
{
    (void)rt;
    (void)params;
    static const char *const kinds[] = {"service", "session", "token"};
    json_t *o = json_pack("{s:s, s:s, s:s}", "login", p->subject, "role", p->role, "auth",
                          kinds[p->kind >= 0 && p->kind <= 2 ? p->kind : 0]);
    if (p->display_name[0])
        json_object_set_new(o, "display_name", json_string(p->display_name));
    if (p->site[0])
        json_object_set_new(o, "site", json_string(p->site));
    if (p->region[0])
        json_object_set_new(o, "region", json_string(p->region));
    if (p->token_id[0])
        json_object_set_new(o, "token_id", json_string(p->token_id));
    gw_respond_json(r, 200, o);
    json_decref(o);
}

/* ---- POST /v1/auth/tokens ---- */

typedef struct token_req {
    as_http_req_t *r;
    char secret[65];
} token_req_t;

static void token_done(int status, const As__Reply *reply, void *ud)
{
    token_req_t *t = ud;
    as_http_req_t *r = t->r;
    People__Token *tok =
        status == 201 ? (People__Token *)gw_reply_body(reply, &people__token__descriptor) : NULL;
    if (!tok) {
        sodium_memzero(t, sizeof *t);
        free(t);
        gw_respond_reply(r, status, reply);
        return;
    }
    json_t *body = as_pbjson_encode(&tok->base);
    json_object_set_new(body, "token", json_string(t->secret));
    char *txt = json_dumps(body, JSON_COMPACT);
    as_http_respond(r, 201, "application/json", txt ? txt : "{}", txt ? strlen(txt) : 2,
                    "Cache-Control: no-store\r\n");
    if (txt) {
        sodium_memzero(txt, strlen(txt));
        free(txt);
    }
    json_decref(body);
    protobuf_c_message_free_unpacked(&tok->base, NULL);
    sodium_memzero(t, sizeof *t);
    free(t);
}

static void auth_create_token(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                              const gw_principal_t *p)
{
    (void)params;
    json_t *a = body_object(r);
    if (!a)
        return;
    json_object_del(a, "token_hash"); /* the gateway's to set */
    People__CreateToken *m = (People__CreateToken *)decode(r, rt->cmd, a);
    if (!m)
        return;
    token_req_t *t = calloc(1, sizeof *t);
    if (!t) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    t->r = r;
    char hash[65];
    new_secret(t->secret, hash);
    free(m->token_hash);
    m->token_hash = strdup(hash);
    if (gw_call(r, rt, &m->base, p, token_done, t) < 0) {
        sodium_memzero(t, sizeof *t);
        free(t);
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* ---- commands after which this gateway drops cached identities at once (other gateways do
 * when the people stream's event arrives, within milliseconds) ---- */

typedef struct drop_req {
    as_http_req_t *r;
    char token_id[24];
    char login[72];
} drop_req_t;

static void drop_done(int status, const As__Reply *reply, void *ud)
{
    drop_req_t *d = ud;
    if (status < 400 && reply) {
        if (d->token_id[0])
            gw_idcache_drop_token(d->token_id);
        if (d->login[0])
            gw_idcache_drop_login(d->login);
    }
    gw_respond_reply(d->r, status, reply);
    free(d);
}

static void call_and_drop(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                          const gw_principal_t *p)
{
    json_t *a = rt->body ? body_object(r) : json_object();
    if (!a)
        return;
    if (params)
        json_object_update(a, params);
    drop_req_t *d = calloc(1, sizeof *d);
    if (!d) {
        json_decref(a);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    d->r = r;
    const char *id = json_string_value(json_object_get(params, "id"));
    const char *login = json_string_value(json_object_get(params, "login"));
    snprintf(d->token_id, sizeof d->token_id, "%s", id ? id : "");
    snprintf(d->login, sizeof d->login, "%s", login ? login : "");
    ProtobufCMessage *m = decode(r, rt->cmd, a);
    if (!m) {
        free(d);
        return;
    }
    if (gw_call(r, rt, m, p, drop_done, d) < 0)
        free(d);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- GET /v1/audit: every service's rows, merged newest first ----
 * Each service answers as.ListAudit from its own schema (scope applied there); one that does not
 * answer makes the whole answer 503 — a partial trail would read as "nobody did anything". */

static const char *const AUDIT_SERVICES[] = {"intake",  "warranty", "parts", "settlement",
                                             "surveys", "people",   "notify"};
#define N_AUDIT (sizeof AUDIT_SERVICES / sizeof AUDIT_SERVICES[0])

typedef struct audit_req {
    as_http_req_t *r;
    json_t *entries;
    int pending, failed, limit;
} audit_req_t;

static int by_time_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "at"));
    return strcmp(y ? y : "", x ? x : "");
}

static void audit_finish(audit_req_t *q)
{
    if (--q->pending > 0)
        return;
    if (q->failed) {
        as_http_respond_error(q->r, 503, "unavailable",
                              "a service did not answer for its audit rows; retry shortly");
    } else {
        size_t n = json_array_size(q->entries);
        json_t **v = calloc(n ? n : 1, sizeof *v);
        for (size_t i = 0; v && i < n; i++)
            v[i] = json_array_get(q->entries, i);
        if (v)
            qsort(v, n, sizeof *v, by_time_desc);
        json_t *out = json_array();
        for (size_t i = 0; v && i < n && (int)i < q->limit; i++)
            json_array_append(out, v[i]);
        free(v);
        json_t *body = json_pack("{s:o}", "entries", out);
        gw_respond_json(q->r, 200, body);
        json_decref(body);
    }
    json_decref(q->entries);
    free(q);
}

static void audit_part(int status, const As__Reply *reply, void *ud)
{
    audit_req_t *q = ud;
    As__AuditList *l =
        status == 200 ? (As__AuditList *)gw_reply_body(reply, &as__audit_list__descriptor) : NULL;
    if (!l) {
        q->failed = 1;
    } else {
        json_t *o = as_pbjson_encode(&l->base);
        json_array_extend(q->entries, json_object_get(o, "entries"));
        json_decref(o);
        protobuf_c_message_free_unpacked(&l->base, NULL);
    }
    audit_finish(q);
}

/* An ISO date or date-time ("2026-12-07", "2026-12-07T10:00:00Z", "...+08:00"). */
static int iso_time_ok(const char *s)
{
    static const char *const shape = "dddd-dd-dd";
    size_t n = strlen(s);
    if (n < 10 || n > 35)
        return 0;
    for (int i = 0; i < 10; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    if (n > 10 && s[10] != 'T' && s[10] != ' ')
        return 0;
    for (size_t i = 11; i < n; i++)
        if (!strchr("0123456789:.+-Z", s[i]))
            return 0;
    return 1;
}

static void audit_list(as_http_req_t *r, const gw_route_t *rt, json_t *params,
                       const gw_principal_t *p)
{
    (void)rt;
    (void)params;
    As__ListAudit m = AS__LIST_AUDIT__INIT;
    m.subject = (char *)as_http_req_query(r, "subject");
    m.since = (char *)as_http_req_query(r, "since");
    m.until = (char *)as_http_req_query(r, "until");
    const char *lim = as_http_req_query(r, "limit");
    int limit = 200;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || v < 1 || v > 1000) {
            as_http_respond_error(r, 400, "bad_query", "limit must be an integer 1..1000");
            return;
        }
        limit = (int)v;
    }
    if ((m.since && !iso_time_ok(m.since)) || (m.until && !iso_time_ok(m.until))) {
        as_http_respond_error(r, 400, "bad_query",
                              "since and until must be ISO dates or times (2026-12-07, "
                              "2026-12-07T10:00:00Z)");
        return;
    }
    m.has_limit = 1;
    m.limit = limit;
    audit_req_t *q = calloc(1, sizeof *q);
    if (!q) {
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    q->r = r;
    q->entries = json_array();
    q->limit = limit;
    q->pending = (int)N_AUDIT + 1; /* +1: held until every call is sent */
    for (size_t i = 0; i < N_AUDIT; i++) {
        char rid[33];
        as_new_id(rid);
        if (gw_call_service(AUDIT_SERVICES[i], "as.ListAudit", &m.base, rid, p, audit_part, q) <
            0) {
            q->failed = 1;
            q->pending--;
        }
    }
    audit_finish(q); /* releases the hold */
}

const gw_route_t gw_routes_people[] = {
    {"POST", "/v1/auth/login", R_PUBLIC, "people", "people.Login", 1, NULL, NULL, auth_login,
     "sign in with login name and password: a session cookie and a CSRF token (no token needed)",
     NULL},
    {"POST", "/v1/auth/logout", R_ALL, "people", "people.Logout", 1, NULL, NULL, auth_logout,
     "end this session", NULL},
    {"GET", "/v1/auth/me", R_ALL, "people", NULL, 0, NULL, NULL, auth_me,
     "who the caller is (login, name, role, scope)", NULL},
    {"POST", "/v1/auth/tokens", R_ALL, "people", "people.CreateToken", 1, NULL, NULL,
     auth_create_token, "a personal API token for the caller's account (shown once)", NULL},
    {"GET", "/v1/auth/tokens", R_ALL, "people", "people.ListTokens", 0, NULL, NULL, NULL,
     "the caller's live sessions and tokens (admin: ?login= another user's)", NULL},
    {"DELETE", "/v1/auth/tokens/{id}", R_ALL, "people", "people.RevokeToken", 0, NULL, NULL,
     call_and_drop, "revoke a session or token: refused on every gateway at once", NULL},
    {"POST", "/v1/auth/password", R_ALL, "people", "people.ChangePassword", 1, NULL, NULL, NULL,
     "change the caller's own password", NULL},
    {"GET", "/v1/users", MANAGERS, "people", "people.ListUsers", 0, NULL, NULL, NULL,
     "staff accounts (a region manager: its centres' staff)", NULL},
    {"POST", "/v1/users", MANAGERS, "people", "people.CreateUser", 1, NULL, NULL, NULL,
     "create a staff account", NULL},
    {"GET", "/v1/users/{login}", MANAGERS, "people", "people.GetUser", 0, NULL, NULL, NULL,
     "one staff account", NULL},
    {"PATCH", "/v1/users/{login}", MANAGERS, "people", "people.UpdateUser", 1, NULL, NULL,
     call_and_drop, "change name, role, scope; \"active\": false disables (refused at once)", NULL},
    {"POST", "/v1/users/{login}/password", MANAGERS, "people", "people.ResetPassword", 1, NULL,
     NULL, call_and_drop, "set a new password, unlock the account, end its sessions", NULL},
    {"GET", "/v1/regions", R_ALL, "people", "people.ListRegions", 0, NULL, NULL, NULL,
     "the regions", NULL},
    {"POST", "/v1/regions", R_ADMIN, "people", "people.CreateRegion", 1, NULL, NULL, NULL,
     "create a region", NULL},
    {"GET", "/v1/centers", R_ALL, "people", "people.ListCenters", 0, NULL, NULL, NULL,
     "the service centres (filters region, state)", NULL},
    {"POST", "/v1/centers", MANAGERS, "people", "people.OpenCenter", 1, NULL, NULL, NULL,
     "open a service centre", NULL},
    {"GET", "/v1/centers/{code}", R_ALL, "people", "people.GetCenter", 0, NULL, NULL, NULL,
     "one service centre", NULL},
    {"POST", "/v1/centers/{code}/suspend", MANAGERS, "people", "people.SuspendCenter", 1, NULL,
     NULL, NULL, "suspend a centre", NULL},
    {"POST", "/v1/centers/{code}/reopen", MANAGERS, "people", "people.ReopenCenter", 1, NULL, NULL,
     NULL, "reopen a suspended centre", NULL},
    {"POST", "/v1/centers/{code}/close", MANAGERS, "people", "people.CloseCenter", 1, NULL, NULL,
     NULL, "close a centre for good", NULL},
    {"GET", "/v1/brands", R_ALL, "people", "people.ListBrands", 0, NULL, NULL, NULL,
     "brands, their manufacturers and models", NULL},
    {"POST", "/v1/brands", R_ADMIN, "people", "people.CreateBrand", 1, NULL, NULL, NULL,
     "add a brand (manufacturer, models)", NULL},
    {"POST", "/v1/brands/{name}/models", R_ADMIN, "people", "people.AddModels", 1, NULL, NULL, NULL,
     "add models to a brand", NULL},
    {"GET", "/v1/audit", MANAGERS, "people", NULL, 0, NULL, NULL, audit_list,
     "who did what: every service's audit rows, newest first (region: its region's people)",
     "subject since until limit"},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
