/* fuzz_http.c — libFuzzer target: the gateway's HTTP/1.1 layer (services/gateway/http.c).
 *
 * Input: one control byte, then the bytes a client sends on one connection. The control byte
 * picks how the bytes are written (bits 0-1: one write, growing chunks, halves, 7-byte chunks),
 * whether the client shuts down its write side afterwards (bit 2), and how the application
 * answers (bits 3-7, combined with each request's position): at once, with an error, later
 * from the loop, as a stream of chunks (with a drain callback), bodiless (204/HEAD), or not
 * before the client has gone (the request is then aborted and the late answer only frees it).
 *
 * The server runs with small limits (1 KiB of headers, 2 KiB bodies, 3 pipelined requests, 4 KiB
 * write queue) so the 431/413/back-pressure paths are reachable with short inputs. The driver
 * (http_driver.c) checks that every answer is well-formed HTTP in request order and that each
 * connection is fully released; the application here checks what the accessors return. */
#include "fuzz_util.h"
#include "http_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum behaviour {
    B_NOW,      /* as_http_respond in the callback, echoing the request */
    B_ERROR,    /* as_http_respond_error in the callback */
    B_LATER,    /* as_http_respond two turns later */
    B_STREAM,   /* stream_begin now, a chunk per turn, end after three */
    B_BODILESS, /* 204 now (or 304) */
    B_LATE,     /* respond_error much later, usually after the client is gone */
    B_COUNT
};

typedef struct held {
    as_http_req_t *r;
    enum behaviour b;
    int wait; /* turns before the next step */
    int step; /* stream: chunks written so far */
    int draining;
    struct held *next;
} held_t;

static held_t *held;
static unsigned app_seed;
static unsigned req_index;

static int has_dotdot(const char *p)
{
    const char *seg = p;
    for (;;) {
        const char *e = seg;
        while (*e && *e != '/' && *e != '\\')
            e++;
        if (e - seg == 2 && seg[0] == '.' && seg[1] == '.')
            return 1;
        if (!*e)
            return 0;
        seg = e + 1;
    }
}

/* Everything the accessors return must be usable C strings; the path is decoded and safe. */
static void check_accessors(const as_http_req_t *r)
{
    const char *m = as_http_req_method(r), *p = as_http_req_path(r), *t = as_http_req_target(r);
    FUZZ_CHECK(m && *m, "empty method");
    FUZZ_CHECK(p && t, "no path or target");
    FUZZ_CHECK(!has_dotdot(p), "path with a '..' segment reached the application: %s", p);
    size_t len = 12345;
    const char *b = as_http_req_body(r, &len);
    FUZZ_CHECK(b && len <= 2048 && b[len] == '\0', "body of %zu bytes not NUL-terminated", len);
    static const char *const names[] = {"a", "id", "limit", "", "q"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = as_http_req_query(r, names[i]);
        if (v)
            (void)strlen(v);
    }
    static const char *const hdrs[] = {"Host", "content-type", "X-Trace-Id", "Authorization", ""};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        const char *v = as_http_req_header(r, hdrs[i]);
        if (v)
            FUZZ_CHECK(strpbrk(v, "\r\n") == NULL, "header %s has a line break", hdrs[i]);
    }
    FUZZ_CHECK(strlen(as_http_req_peer(r)) > 0, "no peer");
}

static void respond_now(as_http_req_t *r)
{
    char out[512];
    size_t len = 0;
    const char *body = as_http_req_body(r, &len);
    int n = snprintf(out, sizeof out, "{\"method\":\"%s\",\"bytes\":%zu,\"queries\":%d}",
                     as_http_req_method(r), len, as_http_req_query(r, "a") != NULL);
    /* Echo the body too when there is one: large answers exercise the write queue limit. */
    if (len) {
        char *big = malloc((size_t)n + len);
        FUZZ_CHECK(big != NULL, "out of memory");
        memcpy(big, out, (size_t)n);
        memcpy(big + n, body, len);
        as_http_respond(r, 200, "application/json", big, (size_t)n + len,
                        "X-Fuzz: 1\r\nCache-Control: no-store");
        free(big);
        return;
    }
    as_http_respond(r, 200, "application/json", out, (size_t)n, "X-Fuzz: 1\r\n");
}

static void hold(as_http_req_t *r, enum behaviour b, int wait)
{
    held_t *h = calloc(1, sizeof *h);
    FUZZ_CHECK(h != NULL, "out of memory");
    h->r = r;
    h->b = b;
    h->wait = wait;
    h->next = held;
    held = h;
    as_http_req_set_data(r, h);
}

static void on_drain(as_http_req_t *r, void *arg)
{
    held_t *h = arg;
    FUZZ_CHECK(h->r == r, "drain callback for another request");
    h->draining = 0;
}

static void on_request(as_http_req_t *r, void *ud)
{
    (void)ud;
    FUZZ_CHECK(as_http_req_data(r) == NULL, "a new request carries application data");
    check_accessors(r);
    enum behaviour b = (enum behaviour)((app_seed + req_index++) % B_COUNT);
    switch (b) {
    case B_NOW:
        respond_now(r);
        break;
    case B_ERROR:
        as_http_respond_error(r, 400 + (int)(strlen(as_http_req_path(r)) % 200), "fuzz\"code",
                              "a message with \"quotes\", a \\ and a \x01 control");
        break;
    case B_BODILESS:
        as_http_respond(r, app_seed & 1 ? 304 : 204, NULL, "ignored", 7, NULL);
        break;
    case B_STREAM:
        as_http_stream_begin(r, 200, "text/plain", NULL);
        hold(r, b, 1);
        break;
    case B_LATER:
        hold(r, b, 2);
        break;
    case B_LATE:
        hold(r, b, 40);
        break;
    case B_COUNT:
        break;
    }
}

/* One step of a held request; returns 1 when the request is finished. */
static int step(held_t *h)
{
    as_http_req_t *r = h->r;
    if (h->wait > 0 && !(h->b == B_LATE && as_http_req_aborted(r))) {
        h->wait--;
        return 0;
    }
    if (!as_http_req_aborted(r))
        check_accessors(r);
    switch (h->b) {
    case B_LATER:
        respond_now(r);
        return 1;
    case B_LATE:
        as_http_respond_error(r, 503, "late", "answered late");
        return 1;
    case B_STREAM:
        if (as_http_req_aborted(r) || h->step == 3) {
            as_http_stream_end(r);
            return 1;
        }
        if (h->draining)
            return 0;
        char chunk[64];
        int n = snprintf(chunk, sizeof chunk, "chunk %d of %s\n", h->step, as_http_req_method(r));
        h->step++;
        size_t queued = as_http_stream_write(r, chunk, (size_t)n);
        if (queued > 64 && as_http_stream_on_drain(r, 16, on_drain, h) == 0)
            h->draining = 1;
        return 0;
    default:
        return 1;
    }
}

static int tick(void *ud)
{
    (void)ud;
    for (held_t **pp = &held; *pp;) {
        held_t *h = *pp;
        if (step(h)) {
            *pp = h->next;
            free(h);
        } else {
            pp = &h->next;
        }
    }
    return held != NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_header_bytes = 1024;
    lim.max_body_bytes = 2048;
    lim.max_pipelined = 3;
    lim.max_write_queue_bytes = 4096;
    lim.idle_timeout_ms = 2000;
    fz_http_app_t app = {.on_request = on_request, .tick = tick};
    fz_http_init(&lim, &app);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_http_plan_t plan = {.chunking = data[0] & 3, .half_close = (data[0] >> 2) & 1};
    app_seed = data[0] >> 3;
    req_index = 0;
    fz_http_exchange(data + 1, size - 1, &plan);
    FUZZ_CHECK(held == NULL, "the application still holds requests");
    return 0;
}
