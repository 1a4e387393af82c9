/* fuzz_gateway_query.c — libFuzzer target: the gateway's request handling
 * (services/gateway/main.c and the route tables routes_*.c) behind its HTTP layer.
 *
 * Input: one control byte (as in fuzz_http: bits 0-1 chunking, bit 2 half-close), then the bytes
 * of one client connection. Every complete request goes to the gateway's own on_request: route
 * matching with {param} capture, bearer-token authentication (a token file made at start-up
 * with one token per role: "fuzz-admin", "fuzz-region", "fuzz-center", "fuzz-warehouse",
 * "fuzz-finance", "fuzz-reviewer"), the role check, and building the command from the query
 * string or the JSON body plus path parameters (gw_build_command, as_pbjson_decode). No service
 * is connected, so a request that gets that far is answered 503 by gw_call: everything before the
 * bus is exercised, metrics included (the response hook is installed as main() does). GET
 * /healthz and an admin's GET /metrics, which would wait for every service, are answered here.
 *
 * main.c keeps those functions static, so this file includes it with its main() renamed.
 * Properties, beyond the driver's (well-formed HTTP, connection released): every answer is a
 * JSON error object {"error":{"code","message"}} with a 4xx status or 503, and never 500 (a 500
 * here means a route names a command the registry does not know, or an internal failure). */
#define main as_gateway_main_unused
#include "../../services/gateway/main.c"
#undef main

#include "fuzz_util.h"
#include "http_driver.h"

#include <sodium.h>
#include <unistd.h>

/* The two requests that would wait for every service are answered here: GET /healthz, and
 * GET /metrics with an admin token (everything else about /metrics is the gateway's). */
static void on_fuzz_request(as_http_req_t *r, void *ud)
{
    const char *path = as_http_req_path(r), *auth = as_http_req_header(r, "Authorization");
    int get = strcmp(as_http_req_method(r), "GET") == 0;
    const gw_principal_t *pr =
        auth && strncasecmp(auth, "Bearer ", 7) == 0 ? gw_tokens_find(gw.tokens, auth + 7) : NULL;
    if (get && (strcmp(path, "/healthz") == 0 ||
                (strcmp(path, "/metrics") == 0 && pr && strcmp(pr->role, "admin") == 0))) {
        as_http_respond(r, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
        return;
    }
    on_request(r, ud);
}

static void on_response(int status, const char *body, size_t len, void *ud)
{
    (void)ud;
    if (strcmp(body, "{\"status\":\"ok\"}") == 0 && status == 200)
        return; /* our /healthz */
    if (strcmp(body, "{\"status\":\"live\"}") == 0 && status == 200)
        return; /* GET /livez: the gateway's own liveness, no service asked */
    if (status == 302 &&
        (strncmp(body, "see /console/", 13) == 0 || strncmp(body, "see /status/", 12) == 0))
        return; /* "/" and "/status" send a browser to a page: no service involved */
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if ((status == 200 || status == 304) && (i == len || (body[i] != '{' && body[i] != '[')))
        return; /* a file of the console or of the status page (HTML, JS, CSS, PNG): no service;
                 * an answer in JSON with 2xx would have needed one */
    FUZZ_CHECK((status >= 400 && status < 500) || status == 503,
               "the gateway answered %d without any service: %.*s", status, (int)len, body);
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    if (status == 503 && json_is_string(json_object_get(o, "status")) &&
        strcmp(json_string_value(json_object_get(o, "status")), "unavailable") == 0 &&
        json_is_object(json_object_get(o, "services"))) {
        json_decref(o);
        return; /* GET /readyz: not ready, no service answers (the readiness answer's own shape) */
    }
    json_t *e = json_object_get(o, "error");
    FUZZ_CHECK(json_is_object(e) && json_is_string(json_object_get(e, "code")) &&
                   json_is_string(json_object_get(e, "message")),
               "status %d: the body is not {\"error\":{\"code\",\"message\"}}: %.*s", status,
               (int)len, body);
    json_decref(o);
}

/* Write the token file the gateway loads: sha256(token) subject role site region. */
static void load_tokens(void)
{
    static const char *const lines[][5] = {
        {"fuzz-admin", "admin.hq", "admin", "-", "-"},
        {"fuzz-region", "region.east", "region", "-", "east"},
        {"fuzz-center", "desk.sh01", "center", "SH01", "east"},
        {"fuzz-warehouse", "wh.wh01", "warehouse", "WH01", "-"},
        {"fuzz-finance", "finance.hq", "finance", "-", "-"},
        {"fuzz-reviewer", "reviewer.hq", "reviewer", "-", "-"},
    };
    char path[] = "/tmp/fuzz-gateway-tokens-XXXXXX";
    int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    FUZZ_CHECK(f != NULL && sodium_init() >= 0, "fdopen or sodium_init failed");
    fprintf(f, "# fuzzing tokens\n");
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        crypto_hash_sha256(digest, (const unsigned char *)lines[i][0], strlen(lines[i][0]));
        sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
        fprintf(f, "%s %s %s %s %s\n", hex, lines[i][1], lines[i][2], lines[i][3], lines[i][4]);
    }
    fclose(f);
    char err[512];
    gw.tokens = gw_tokens_load(path, err, sizeof err);
    unlink(path);
    FUZZ_CHECK(gw.tokens != NULL && gw_tokens_count(gw.tokens) == 6, "tokens: %s", err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load_tokens();
    cfg_timeout_ms = 1000;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.idle_timeout_ms = 2000;
    fz_http_app_t app = {.on_request = on_fuzz_request, .on_response = on_response};
    fz_http_init(&lim, &app);
    as_http_server_on_response(fz_http_server(), request_done, NULL); /* as main() */
    /* Every route must name a command the registry knows (else every call answers 500). */
    for (size_t t = 0; t < N_TABLES; t++)
        for (const gw_route_t *x = ROUTE_TABLES[t]; x->method; x++)
            FUZZ_CHECK(x->handler || as_registry_find(x->cmd) != NULL,
                       "route %s %s names unknown command %s", x->method, x->pattern, x->cmd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_http_plan_t plan = {.chunking = data[0] & 3, .half_close = (data[0] >> 2) & 1};
    fz_http_exchange(data + 1, size - 1, &plan);
    return 0;
}
