/* http_driver.c — one in-process HTTP server, one client connection per input (see
 * http_driver.h). Everything runs on the fuzzer's thread: the client socket is non-blocking and
 * the loop is turned by hand between client actions, so the order of events is reproducible. */
#include "http_driver.h"

#include "fuzz_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DISPATCHED 8192      /* requests one connection can carry (inputs are small) */
#define SEEN_KEEP      4096      /* server output kept for failure reports */
#define BODY_MAX       (1 << 20) /* response body kept for checks */
#define RELEASE_MS     5000      /* the server must release a closed connection within this */
#define SETTLE_MS      3000      /* and answer what it can within this after the input ended */
#define STR_(x)        #x
#define STR(x)         STR_(x)

enum resp_kind { RESP_INTERIM, RESP_APP, RESP_APP_HEAD, RESP_LAYER };

static struct {
    uv_loop_t loop;
    as_http_server_t *server;
    uv_timer_t ticker; /* wakes UV_RUN_ONCE while we wait for the server */
    struct sockaddr_in addr;
    int baseline; /* handles on the loop with no connection */
    fz_http_app_t app;
    int app_busy;

    /* One exchange. */
    int fd;
    int eof, reset;
    unsigned char heads[MAX_DISPATCHED]; /* per dispatched request: was it HEAD */
    size_t n_dispatched, n_answered, n_responses;
    http_parser rp;
    enum resp_kind kind;
    char *body;
    size_t body_len, body_cap;
    char seen[SEEN_KEEP];
    size_t seen_len, seen_total;
} D = {.fd = -1};

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

static int handles(void)
{
    int n = 0;
    uv_walk(&D.loop, count_handle, &n);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((noreturn)) static void fail_with_output(const char *what, const char *detail)
{
    fuzz_fail(__FILE__, __LINE__, what,
              "%s\n-- %zu requests reached the application, %zu responses came back; the server "
              "sent %zu bytes, the first %zu:\n%.*s\n--",
              detail, D.n_dispatched, D.n_responses, D.seen_total, D.seen_len, (int)D.seen_len,
              D.seen);
}

/* ---- the server side: every request passes here on its way to the application ---- */

static void on_request(as_http_req_t *r, void *ud)
{
    (void)ud;
    FUZZ_CHECK(D.n_dispatched < MAX_DISPATCHED, "more than %d requests on one connection",
               MAX_DISPATCHED);
    FUZZ_CHECK(!as_http_req_aborted(r), "a request was dispatched already aborted");
    D.heads[D.n_dispatched++] = strcmp(as_http_req_method(r), "HEAD") == 0;
    D.app.on_request(r, D.app.ud);
}

/* ---- the client side: the answers must be well-formed HTTP responses ---- */

static int rp_begin(http_parser *p)
{
    (void)p;
    D.body_len = 0;
    return 0;
}

static int rp_headers_complete(http_parser *p)
{
    int st = (int)p->status_code;
    if (st == 100) {
        D.kind = RESP_INTERIM;
        return 0;
    }
    if (st < 200 || st > 599) {
        char why[64];
        snprintf(why, sizeof why, "final response with status %d", st);
        fail_with_output("status in 200..599", why);
    }
    if (D.n_answered < D.n_dispatched) {
        D.kind = D.heads[D.n_answered++] ? RESP_APP_HEAD : RESP_APP;
        return D.kind == RESP_APP_HEAD ? 1 : 0; /* 1: a HEAD answer has no body */
    }
    /* No request of the application is waiting: only the layer's own error may come. */
    if (st < 400)
        fail_with_output("response matches a request", "a success response nobody asked for");
    D.kind = RESP_LAYER;
    return 0;
}

static int rp_body(http_parser *p, const char *at, size_t len)
{
    (void)p;
    if (len > BODY_MAX - D.body_len)
        len = BODY_MAX - D.body_len;
    if (D.body_len + len + 1 > D.body_cap) {
        size_t cap = D.body_cap ? D.body_cap : 4096;
        while (cap < D.body_len + len + 1)
            cap *= 2;
        char *b = realloc(D.body, cap);
        FUZZ_CHECK(b != NULL, "out of memory");
        D.body = b;
        D.body_cap = cap;
    }
    memcpy(D.body + D.body_len, at, len);
    D.body_len += len;
    return 0;
}

/* The layer's own errors are {"error":{"code":"...","message":"..."}}. */
static void check_layer_error(int status)
{
    json_error_t jerr;
    json_t *o = json_loadb(D.body ? D.body : "", D.body_len, 0, &jerr);
    json_t *e = json_object_get(o, "error");
    if (!json_is_object(o) || !json_is_string(json_object_get(e, "code")) ||
        !json_is_string(json_object_get(e, "message"))) {
        char why[160];
        snprintf(why, sizeof why, "status %d: the layer's error body is not its JSON shape (%s)",
                 status, o ? "wrong shape" : jerr.text);
        fail_with_output("layer error body", why);
    }
    json_decref(o);
}

static int rp_complete(http_parser *p)
{
    int st = (int)p->status_code;
    if (D.body_cap == 0)
        rp_body(p, "", 0);
    D.body[D.body_len] = '\0';
    if (D.kind != RESP_INTERIM)
        D.n_responses++;
    if (D.kind == RESP_LAYER)
        check_layer_error(st);
    else if (D.kind == RESP_APP && D.app.on_response && st != 204 && st != 304)
        D.app.on_response(st, D.body, D.body_len, D.app.ud);
    return 0;
}

static const http_parser_settings rp_settings = {
    .on_message_begin = rp_begin,
    .on_headers_complete = rp_headers_complete,
    .on_body = rp_body,
    .on_message_complete = rp_complete,
};

static void feed(const char *buf, size_t n)
{
    if (D.seen_len < SEEN_KEEP) {
        size_t k = n < SEEN_KEEP - D.seen_len ? n : SEEN_KEEP - D.seen_len;
        memcpy(D.seen + D.seen_len, buf, k);
        D.seen_len += k;
    }
    D.seen_total += n;
    size_t used = http_parser_execute(&D.rp, &rp_settings, buf, n);
    enum http_errno err = HTTP_PARSER_ERRNO(&D.rp);
    if (err != HPE_OK || used != n) {
        char why[200];
        snprintf(why, sizeof why, "the answer is not valid HTTP: %s (%s) after %zu bytes",
                 http_errno_name(err), http_errno_description(err), D.seen_total - n + used);
        fail_with_output("well-formed responses", why);
    }
}

static void client_read(void)
{
    char buf[16384];
    while (D.fd >= 0 && !D.eof && !D.reset) {
        ssize_t n = recv(D.fd, buf, sizeof buf, 0);
        if (n > 0) {
            feed(buf, (size_t)n);
        } else if (n == 0) {
            D.eof = 1;
            /* Tell the parser: a body delimited by the close (HTTP/1.0 streaming) ends here. A
             * response cut short is not checked: the server may drop a connection mid-stream. */
            http_parser_execute(&D.rp, &rp_settings, NULL, 0);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            D.reset = 1; /* the server closed with our input unread: the kernel sent RST */
        }
    }
}

/* ---- turning the loop ---- */

/* One turn: run ready events without blocking (or wait for the next, with `block`), let the
 * application do deferred work, read what arrived. */
static void turn(int block)
{
    uv_run(&D.loop, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    D.app_busy = D.app.tick ? D.app.tick(D.app.ud) : 0;
    client_read();
}

static void ticker_cb(uv_timer_t *t)
{
    (void)t;
}

void fz_http_init(const as_http_limits_t *limits, const fz_http_app_t *app)
{
    D.app = *app;
    FUZZ_CHECK(uv_loop_init(&D.loop) == 0, "uv_loop_init");
    int rc = as_http_server_start(&D.loop, "127.0.0.1", 0, limits, on_request, NULL, &D.server);
    FUZZ_CHECK(rc == 0, "as_http_server_start: %s", uv_strerror(rc));
    FUZZ_CHECK(uv_timer_init(&D.loop, &D.ticker) == 0, "uv_timer_init");
    memset(&D.addr, 0, sizeof D.addr);
    D.addr.sin_family = AF_INET;
    D.addr.sin_port = htons((uint16_t)as_http_server_port(D.server));
    D.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    D.baseline = handles();
}

as_http_server_t *fz_http_server(void)
{
    return D.server;
}

static size_t chunk_len(unsigned chunking, unsigned step, size_t left)
{
    static const size_t growing[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987};
    size_t n = left;
    if (step >= 64)
        return left;
    switch (chunking & 3) {
    case 1:
        n = growing[step < 15 ? step : 14];
        break;
    case 2:
        n = step == 0 ? (left + 1) / 2 : left;
        break;
    case 3:
        n = 7;
        break;
    default:
        break;
    }
    return n < left ? n : left;
}

/* Write all n bytes, turning the loop while the socket is full. Returns -1 if the server is
 * gone (the rest of the input cannot be delivered). */
static int client_write(const uint8_t *p, size_t n)
{
    int64_t deadline = now_ms() + RELEASE_MS;
    while (n > 0) {
        ssize_t w = send(D.fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            FUZZ_CHECK(now_ms() < deadline, "the server has not read its input for %d ms",
                       RELEASE_MS);
            turn(0);
        } else {
            return -1;
        }
    }
    return 0;
}

/* Connect the client socket (non-blocking). On loopback the kernel completes the handshake
 * before the server accepts; libFuzzer's SIGALRM may interrupt the wait, hence poll. */
static void client_connect(void)
{
    D.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(D.fd >= 0, "socket: %s", strerror(errno));
    if (connect(D.fd, (struct sockaddr *)&D.addr, sizeof D.addr) == 0)
        return;
    FUZZ_CHECK(errno == EINPROGRESS || errno == EINTR, "connect: %s", strerror(errno));
    struct pollfd pfd = {.fd = D.fd, .events = POLLOUT};
    int rc;
    do
        rc = poll(&pfd, 1, RELEASE_MS);
    while (rc < 0 && errno == EINTR);
    int err = 0;
    socklen_t len = sizeof err;
    FUZZ_CHECK(rc == 1 && getsockopt(D.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0,
               "connect: %s", rc == 1 ? strerror(err) : "timed out");
}

void fz_http_exchange(const uint8_t *data, size_t size, const fz_http_plan_t *plan)
{
    D.eof = D.reset = 0;
    D.n_dispatched = D.n_answered = D.n_responses = 0;
    D.seen_len = D.seen_total = 0;
    D.body_len = 0;
    http_parser_init(&D.rp, HTTP_RESPONSE);

    client_connect();
    int64_t deadline = now_ms() + RELEASE_MS;
    uv_timer_start(&D.ticker, ticker_cb, 1, 1);
    while (handles() == D.baseline) {
        FUZZ_CHECK(now_ms() < deadline, "the server did not accept within %d ms", RELEASE_MS);
        turn(1);
    }
    uv_timer_stop(&D.ticker);

    /* The input, chunk by chunk, the server getting a turn after each. */
    size_t off = 0;
    for (unsigned step = 0; off < size && !D.eof && !D.reset; step++) {
        size_t n = chunk_len(plan->chunking, step, size - off);
        if (client_write(data + off, n) != 0)
            break;
        off += n;
        turn(0);
        turn(0);
    }
    if (plan->half_close && !D.eof && !D.reset) {
        shutdown(D.fd, SHUT_WR);
    }
    /* Let the server and the application answer: until three quiet turns in a row. */
    deadline = now_ms() + SETTLE_MS;
    for (int quiet = 0; quiet < 3;) {
        if (now_ms() >= deadline)
            fail_with_output(
                "the exchange settles",
                D.app_busy
                    ? "the application still holds a request " STR(
                          SETTLE_MS) " ms after the input ended: a response that cannot "
                                     "finish while the client waits"
                    : "the server is still sending " STR(SETTLE_MS) " ms after the input ended");
        size_t before = D.seen_total;
        turn(0);
        quiet = D.seen_total == before && !D.app_busy ? quiet + 1 : 0;
    }
    close(D.fd);
    D.fd = -1;

    /* The server must now release the connection, and the application its requests. */
    deadline = now_ms() + RELEASE_MS;
    uv_timer_start(&D.ticker, ticker_cb, 1, 1);
    for (int turns = 0; handles() != D.baseline || D.app_busy; turns++) {
        if (now_ms() >= deadline)
            fail_with_output("connection released",
                             handles() != D.baseline
                                 ? "the server kept the connection's handles after the client "
                                   "closed"
                                 : "the application still holds requests");
        turn(turns > 20);
    }
    uv_timer_stop(&D.ticker);
}
