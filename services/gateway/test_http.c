/* test_http.c — tests for the gateway's HTTP server layer (http.c).
 *
 * Every test starts a real server on 127.0.0.1 with an ephemeral port, runs its libuv loop on
 * a thread and talks to it through plain POSIX sockets, reading responses byte for byte (so
 * framing errors show). Stopping the server must leave the loop closable (uv_loop_close == 0),
 * which fixture_stop asserts for every test. Build with ASan/UBSan (see the module brief). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define EXPORT_CHUNK 65536
#define EXPORT_HIGH  (256 * 1024)
#define EXPORT_LOW   (64 * 1024)
#define FLOOD_GUARD  ((size_t)512 * 1024 * 1024)

/* ---- server fixture: loop on a thread, handler with test routes ---- */

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop_async;
    pthread_t thread;
    as_http_server_t *server;
    int port;
    atomic_int requests;
    atomic_int done_called;
    atomic_int hold_finished;
    atomic_int export_finished;
    atomic_int flood_finished;
    /* written on the loop thread before the matching *_finished flag, read after it */
    int hold_saw_abort;
    int hold_fields_ok;
    int export_aborted;
    size_t export_sent;
    int flood_aborted;
    size_t flood_written;
    as_http_req_t *parked;
} fixture_t;

typedef struct timed {
    uv_timer_t timer;
    fixture_t *fx;
    as_http_req_t *req;
    const char *body;
    int ticks;
} timed_t;

typedef struct export_job {
    fixture_t *fx;
    size_t sent, total;
} export_job_t;

static void timed_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_slow_timer(uv_timer_t *t)
{
    timed_t *tm = t->data;
    as_http_req_t *req = tm->req;
    /* application data and the raw target survive until the response */
    const char *body =
        as_http_req_data(req) == tm && strncmp(as_http_req_target(req), "/slow", 5) == 0 ? tm->body
                                                                                         : "wrong";
    as_http_respond(req, 200, "text/plain", body, strlen(body), NULL);
    uv_close((uv_handle_t *)t, timed_closed);
}

/* /hold: poll every 10 ms until the client is gone (at most 5 s), then answer late. */
static void on_hold_timer(uv_timer_t *t)
{
    timed_t *tm = t->data;
    if (!as_http_req_aborted(tm->req) && ++tm->ticks < 500)
        return;
    fixture_t *fx = tm->fx;
    fx->hold_saw_abort = as_http_req_aborted(tm->req);
    const char *xt = as_http_req_header(tm->req, "X-Test");
    size_t blen = 0;
    const char *body = as_http_req_body(tm->req, &blen);
    fx->hold_fields_ok = strcmp(as_http_req_path(tm->req), "/hold") == 0 && xt &&
                         strcmp(xt, "still-here") == 0 && blen == 4 && strcmp(body, "data") == 0 &&
                         strcmp(as_http_req_method(tm->req), "POST") == 0;
    as_http_respond(tm->req, 200, "text/plain", "late", 4, NULL);
    uv_close((uv_handle_t *)t, timed_closed);
    atomic_store(&fx->hold_finished, 1);
}

/* /stream-abort: the stream fails after its first rows. */
static void on_abort_timer(uv_timer_t *t)
{
    timed_t *tm = t->data;
    as_http_stream_write(tm->req, "3,4\r\n", 5);
    as_http_stream_abort(tm->req, tm->body);
    uv_close((uv_handle_t *)t, timed_closed);
}

static void start_timer(fixture_t *fx, as_http_req_t *req, const char *body, uv_timer_cb cb,
                        uint64_t timeout, uint64_t repeat)
{
    timed_t *tm = calloc(1, sizeof *tm);
    if (!tm) {
        as_http_respond(req, 500, NULL, NULL, 0, NULL);
        return;
    }
    tm->fx = fx;
    tm->req = req;
    tm->body = body;
    as_http_req_set_data(req, tm);
    uv_timer_init(&fx->loop, &tm->timer);
    tm->timer.data = tm;
    uv_timer_start(&tm->timer, cb, timeout, repeat);
}

static void fill_pattern(char *buf, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (off + i) % 26);
}

/* /export: n chunks of 64 KiB, pausing on the drain callback above EXPORT_HIGH. */
static void export_pump(as_http_req_t *req, void *arg)
{
    export_job_t *job = arg;
    fixture_t *fx = job->fx;
    char *chunk = malloc(EXPORT_CHUNK);
    while (chunk && !as_http_req_aborted(req) && job->sent < job->total) {
        size_t n = job->total - job->sent < EXPORT_CHUNK ? job->total - job->sent : EXPORT_CHUNK;
        fill_pattern(chunk, job->sent, n);
        size_t queued = as_http_stream_write(req, chunk, n);
        if (as_http_req_aborted(req))
            break;
        job->sent += n;
        if (queued > EXPORT_HIGH &&
            as_http_stream_on_drain(req, EXPORT_LOW, export_pump, job) == 0) {
            free(chunk);
            return;
        }
    }
    free(chunk);
    fx->export_aborted = as_http_req_aborted(req);
    fx->export_sent = job->sent;
    as_http_stream_end(req);
    free(job);
    atomic_store(&fx->export_finished, 1);
}

/* /flood: ignore back-pressure until the layer gives up on the connection. */
static void flood(fixture_t *fx, as_http_req_t *req)
{
    char *chunk = malloc(EXPORT_CHUNK);
    size_t written = 0;
    as_http_stream_begin(req, 200, "application/octet-stream", NULL);
    while (chunk && !as_http_req_aborted(req) && written < FLOOD_GUARD) {
        fill_pattern(chunk, written, EXPORT_CHUNK);
        as_http_stream_write(req, chunk, EXPORT_CHUNK);
        if (!as_http_req_aborted(req))
            written += EXPORT_CHUNK;
    }
    free(chunk);
    fx->flood_aborted = as_http_req_aborted(req);
    fx->flood_written = written;
    as_http_stream_end(req);
    atomic_store(&fx->flood_finished, 1);
}

static void handler(as_http_req_t *req, void *user_data)
{
    fixture_t *fx = user_data;
    atomic_fetch_add(&fx->requests, 1);
    const char *path = as_http_req_path(req);
    if (strcmp(path, "/hello") == 0) {
        as_http_respond(req, 200, "text/plain", "hello", 5, NULL);
    } else if (strcmp(path, "/fast") == 0) {
        as_http_respond(req, 200, "text/plain", "fast", 4, NULL);
    } else if (strcmp(path, "/echo") == 0) {
        size_t len = 0;
        const char *body = as_http_req_body(req, &len);
        const char *xt = as_http_req_header(req, "x-test");
        char extra[512];
        snprintf(extra, sizeof extra, "X-Method: %s\r\nX-Peer: %s\r\nX-Test-Echo: %s\r\n",
                 as_http_req_method(req), as_http_req_peer(req), xt ? xt : "-");
        as_http_respond(req, 200, "application/octet-stream", body, len, extra);
    } else if (strcmp(path, "/slow") == 0) {
        const char *ms = as_http_req_query(req, "ms");
        start_timer(fx, req, "slow", on_slow_timer, ms ? (uint64_t)atoi(ms) : 100, 0);
    } else if (strcmp(path, "/hold") == 0) {
        start_timer(fx, req, NULL, on_hold_timer, 10, 10);
    } else if (strcmp(path, "/park") == 0) {
        fx->parked = req;
    } else if (strcmp(path, "/query") == 0) {
        char body[512];
        const char *a = as_http_req_query(req, "a"), *b = as_http_req_query(req, "b");
        const char *c = as_http_req_query(req, "c"), *f = as_http_req_query(req, "flag");
        const char *d = as_http_req_query(req, "d");
        int n = snprintf(body, sizeof body, "a=[%s] b=[%s] c=[%s] flag=[%s] d=%s", a ? a : "?",
                         b ? b : "?", c ? c : "?", f ? f : "?", d ? "present" : "absent");
        as_http_respond(req, 200, "text/plain", body, (size_t)n, NULL);
    } else if (strcmp(path, "/pairs") == 0) {
        char body[512];
        size_t n = as_http_req_query_count(req), off = 0;
        const char *k, *v;
        off += (size_t)snprintf(body, sizeof body, "%zu:", n);
        for (size_t i = 0; as_http_req_query_at(req, i, &k, &v) == 0 && off < sizeof body; i++)
            off += (size_t)snprintf(body + off, sizeof body - off, " [%s]=[%s]", k, v);
        if (off < sizeof body && as_http_req_query_at(req, n, &k, &v) == -1 && !k && !v)
            off += (size_t)snprintf(body + off, sizeof body - off, " end");
        as_http_respond(req, 200, "text/plain", body, off < sizeof body ? off : sizeof body - 1,
                        NULL);
    } else if (strcmp(path, "/stream") == 0) {
        static const char big_char = 'x';
        char big[3000];
        memset(big, big_char, sizeof big);
        as_http_stream_begin(req, 200, "text/plain", "X-Export: yes\r\n");
        as_http_stream_write(req, "alpha", 5);
        as_http_stream_write(req, "", 0); /* must not end the stream */
        as_http_stream_write(req, "beta-gamma", 10);
        as_http_stream_write(req, big, sizeof big);
        as_http_stream_end(req);
    } else if (strcmp(path, "/stream-abort") == 0) {
        /* two chunks now, then (from a timer, once they are on the wire) one more and the
         * abort with its marker */
        as_http_stream_begin(req, 200, "text/csv", NULL);
        as_http_stream_write(req, "a,b\r\n", 5);
        as_http_stream_write(req, "1,2\r\n", 5);
        start_timer(fx, req, as_http_req_query(req, "quiet") ? NULL : "#error,boom\r\n",
                    on_abort_timer, 30, 0);
    } else if (strcmp(path, "/export") == 0) {
        const char *n = as_http_req_query(req, "n");
        export_job_t *job = calloc(1, sizeof *job);
        if (!job) {
            as_http_respond(req, 500, NULL, NULL, 0, NULL);
            return;
        }
        job->fx = fx;
        job->total = (size_t)(n ? atoi(n) : 1) * EXPORT_CHUNK;
        as_http_stream_begin(req, 200, "application/octet-stream", NULL);
        export_pump(req, job);
    } else if (strcmp(path, "/flood") == 0) {
        flood(fx, req);
    } else if (strcmp(path, "/nocontent") == 0) {
        as_http_respond(req, 204, NULL, "ignored", 7, NULL);
    } else {
        as_http_respond_error(req, 404, "not_found", "no such \"route\"\n");
    }
}

static void *loop_main(void *arg)
{
    fixture_t *fx = arg;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_server_done(void *arg)
{
    fixture_t *fx = arg;
    atomic_fetch_add(&fx->done_called, 1);
}

static void on_stop_async(uv_async_t *a)
{
    fixture_t *fx = a->data;
    as_http_server_stop(fx->server, on_server_done, fx);
    as_http_server_stop(fx->server, on_server_done, fx); /* second call: no-op */
    uv_close((uv_handle_t *)a, NULL);
}

static fixture_t *fixture_start(const as_http_limits_t *limits)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(uv_async_init(&fx->loop, &fx->stop_async, on_stop_async), 0);
    fx->stop_async.data = fx;
    assert_int_equal(
        as_http_server_start(&fx->loop, "127.0.0.1", 0, limits, handler, fx, &fx->server), 0);
    fx->port = as_http_server_port(fx->server);
    assert_true(fx->port > 0);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_IGN);
    assert_int_equal(pthread_create(&fx->thread, NULL, loop_main, fx), 0);
    return fx;
}

/* Stop the server from the loop thread, run the loop to completion, close it. */
static void fixture_stop(fixture_t *fx)
{
    assert_int_equal(uv_async_send(&fx->stop_async), 0);
    assert_int_equal(pthread_join(fx->thread, NULL), 0);
    assert_int_equal(atomic_load(&fx->done_called), 1);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void fixture_free(fixture_t *fx)
{
    fixture_stop(fx);
    free(fx);
}

static int wait_for(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms; i += 5) {
        if (atomic_load(v) >= want)
            return 1;
        usleep(5000);
    }
    return atomic_load(v) >= want;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- raw socket client ---- */

typedef struct client {
    int fd;
    size_t off, len;
    char buf[65536];
} client_t;

static client_t *client_open(int port)
{
    client_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static void client_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void client_send(client_t *c, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void client_send_str(client_t *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Receive more bytes: count, 0 on EOF, -1 on error or timeout. */
static ssize_t client_fill(client_t *c)
{
    if (c->off == c->len) {
        c->off = c->len = 0;
    } else if (c->off) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n;
    do
        n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

static int client_read_line(client_t *c, char *line, size_t cap)
{
    for (;;) {
        char *start = c->buf + c->off;
        char *crlf = memmem(start, c->len - c->off, "\r\n", 2);
        if (crlf) {
            size_t l = (size_t)(crlf - start);
            if (l >= cap)
                return -1;
            memcpy(line, start, l);
            line[l] = '\0';
            c->off += l + 2;
            return 0;
        }
        if (client_fill(c) <= 0)
            return -1;
    }
}

static int client_read_exact(client_t *c, char *out, size_t n)
{
    while (n) {
        if (c->off == c->len && client_fill(c) <= 0)
            return -1;
        size_t take = c->len - c->off < n ? c->len - c->off : n;
        memcpy(out, c->buf + c->off, take);
        c->off += take;
        out += take;
        n -= take;
    }
    return 0;
}

/* True when the server closed the connection (EOF or reset) within the receive timeout;
 * any data still arriving is discarded. */
static int client_wait_closed(client_t *c)
{
    for (;;) {
        c->off = c->len = 0;
        ssize_t n = client_fill(c);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0)
            return 0;
    }
}

typedef struct response {
    int status;
    int n_headers;
    char names[64][64];
    char values[64][1024];
    char *body;
    size_t body_len;
    int n_chunks;
    size_t chunk_sizes[64];
} response_t;

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *resp_header(const response_t *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static void response_free(response_t *r)
{
    free(r->body);
    r->body = NULL;
}

static int body_append(response_t *r, client_t *c, size_t n)
{
    char *p = realloc(r->body, r->body_len + n + 1);
    if (!p)
        return -1;
    r->body = p;
    if (client_read_exact(c, r->body + r->body_len, n) != 0)
        return -1;
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* Read the status line and headers of one response into `r` (body empty). Returns 0 or -1. */
static int read_head(client_t *c, response_t *r)
{
    char line[2048];
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    if (!r->body || client_read_line(c, line, sizeof line) != 0)
        return -1;
    if (sscanf(line, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    for (;;) {
        if (client_read_line(c, line, sizeof line) != 0)
            return -1;
        if (!line[0])
            break;
        char *colon = strchr(line, ':');
        if (!colon || r->n_headers == 64)
            return -1;
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        copy_trunc(r->names[r->n_headers], sizeof r->names[0], line);
        copy_trunc(r->values[r->n_headers], sizeof r->values[0], v);
        r->n_headers++;
    }
    return 0;
}

/* Read a chunked response that may be cut short: the chunks go to r->body until the
 * zero-length last chunk (*terminated = 1) or the end of the connection (*terminated = 0).
 * Returns 0, or -1 when the framing is broken. */
static int read_chunks_until_end(client_t *c, response_t *r, int *terminated)
{
    char line[2048];
    *terminated = 0;
    if (read_head(c, r) != 0)
        return -1;
    for (;;) {
        char *end = NULL;
        if (client_read_line(c, line, sizeof line) != 0)
            return c->off == c->len ? 0 : -1; /* the connection ended between chunks */
        unsigned long size = strtoul(line, &end, 16);
        if (end == line || *end)
            return -1;
        if (size == 0) {
            *terminated = 1;
            return client_read_line(c, line, sizeof line) == 0 && !line[0] ? 0 : -1;
        }
        if (r->n_chunks < 64)
            r->chunk_sizes[r->n_chunks] = size;
        r->n_chunks++;
        if (body_append(r, c, size) != 0 || client_read_line(c, line, sizeof line) != 0 || line[0])
            return -1;
    }
}

/* Read one response strictly; `no_body` for answers to HEAD. Returns 0 or -1. */
static int read_response(client_t *c, response_t *r, int no_body)
{
    char line[2048];
    if (read_head(c, r) != 0)
        return -1;
    if (no_body || r->status < 200 || r->status == 204 || r->status == 304)
        return 0;
    const char *te = resp_header(r, "Transfer-Encoding");
    const char *cl = resp_header(r, "Content-Length");
    if (te) {
        if (strcmp(te, "chunked") != 0 || cl)
            return -1;
        for (;;) {
            char *end = NULL;
            if (client_read_line(c, line, sizeof line) != 0)
                return -1;
            unsigned long size = strtoul(line, &end, 16);
            if (end == line || *end)
                return -1;
            if (size == 0)
                break;
            if (r->n_chunks < 64)
                r->chunk_sizes[r->n_chunks] = size;
            r->n_chunks++;
            if (body_append(r, c, size) != 0 || client_read_line(c, line, sizeof line) != 0 ||
                line[0])
                return -1;
        }
        if (client_read_line(c, line, sizeof line) != 0 || line[0])
            return -1; /* no trailers expected */
        return 0;
    }
    if (cl)
        return body_append(r, c, strtoul(cl, NULL, 10));
    /* close-delimited */
    for (;;) {
        size_t avail = c->len - c->off;
        if (avail && body_append(r, c, avail) != 0)
            return -1;
        ssize_t n = client_fill(c);
        if (n == 0)
            return 0;
        if (n < 0)
            return -1;
    }
}

/* One request on a fresh connection; returns the status, body copied to `body`. */
static int one_shot(int port, const char *request, char *body, size_t cap, int *closed)
{
    client_t *c = client_open(port);
    response_t r;
    client_send_str(c, request);
    int rc = read_response(c, &r, 0);
    int status = rc == 0 ? r.status : -1;
    if (body && cap)
        snprintf(body, cap, "%s", rc == 0 && r.body ? r.body : "");
    if (closed)
        *closed = client_wait_closed(c);
    response_free(&r);
    client_close(c);
    return status;
}

/* ---- tests ---- */

static void a_simple_get_returns_the_handler_response(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_string_equal(resp_header(&r, "Content-Length"), "5");
    assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    const char *date = resp_header(&r, "Date");
    assert_non_null(date);
    assert_non_null(strstr(date, " GMT"));
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void a_post_body_reaches_the_handler_intact(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "POST /echo HTTP/1.1\r\nHost: test\r\nx-TEST:  spaced value \r\n"
                       "Content-Type: text/plain\r\nContent-Length: 17\r\n\r\nname=widget&qty=3");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "name=widget&qty=3");
    assert_string_equal(resp_header(&r, "X-Method"), "POST");
    assert_string_equal(resp_header(&r, "X-Test-Echo"), "spaced value");
    assert_memory_equal(resp_header(&r, "X-Peer"), "127.0.0.1:", 10);
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void two_requests_share_one_keep_alive_connection(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(r.body, "hello");
    response_free(&r);
    client_send_str(c, "PUT /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abc");
    assert_string_equal(resp_header(&r, "X-Method"), "PUT");
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void http10_closes_unless_keep_alive_and_connection_close_is_honoured(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(r.body, "hello");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(client_wait_closed(c));
    response_free(&r);
    client_close(c);

    c = client_open(fx->port);
    client_send_str(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    response_free(&r);
    client_send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                       "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(r.body, "fast");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(client_wait_closed(c)); /* the request after "close" is not served */
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void pipelined_requests_answered_out_of_order_arrive_in_order(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nlast");
    const char *expect[] = {"slow", "fast", "last"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_response(c, &r, 0), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, expect[i]);
        response_free(&r);
    }
    client_close(c);
    fixture_free(fx);
}

static void a_pipeline_deeper_than_the_limit_is_parsed_as_responses_drain(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_pipelined = 2;
    fixture_t *fx = fixture_start(&lim);
    client_t *c = client_open(fx->port);
    response_t r;
    char req[2048] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 7; i++)
        strcat(req, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    strcat(req, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    client_send_str(c, req);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(read_response(c, &r, 0), 0);
        assert_string_equal(r.body, i == 0 || i == 8 ? "slow" : i == 9 ? "hello" : "fast");
        response_free(&r);
    }
    client_close(c);
    fixture_free(fx);
}

static void a_big_content_length_gets_413_without_the_body_being_sent(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_non_null(strstr(r.body, "{\"error\":{\"code\":\"body_too_large\",\"message\":\""));
    assert_true(client_wait_closed(c));
    response_free(&r);
    client_close(c);
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->requests), 0);
    free(fx);
}

static void huge_headers_get_431(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    char *req = malloc(40000);
    assert_non_null(req);
    strcpy(req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    size_t n = strlen(req);
    memset(req + n, 'a', 20000);
    strcpy(req + n + 20000, "\r\n\r\n");
    char body[256];
    int closed = 0;
    assert_int_equal(one_shot(fx->port, req, body, sizeof body, &closed), 431);
    assert_non_null(strstr(body, "\"code\":\"headers_too_large\""));
    assert_true(closed);
    /* many small headers add up too; so does a long request line */
    strcpy(req, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 1200; i++)
        strcat(req, "X-H: 0123456789\r\n");
    strcat(req, "\r\n");
    assert_int_equal(one_shot(fx->port, req, NULL, 0, NULL), 431);
    strcpy(req, "GET /");
    memset(req + 5, 'p', 17000);
    strcpy(req + 5 + 17000, " HTTP/1.1\r\n\r\n");
    assert_int_equal(one_shot(fx->port, req, NULL, 0, NULL), 431);
    free(req);
    fixture_free(fx);
}

static void garbage_gets_400_and_the_connection_closes(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    char body[256];
    int closed = 0;
    assert_int_equal(
        one_shot(fx->port, "\x16\x03\x01\x02 garbage\r\n\r\n", body, sizeof body, &closed), 400);
    assert_non_null(strstr(body, "{\"error\":{\"code\":\"bad_request\""));
    assert_true(closed);
    assert_int_equal(
        one_shot(fx->port, "GET /hello HTTP/1.1\r\nBroken header\r\n\r\n", NULL, 0, &closed), 400);
    assert_true(closed);
    /* request smuggling shapes */
    assert_int_equal(
        one_shot(fx->port,
                 "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
                 "abcd",
                 NULL, 0, NULL),
        400);
    assert_int_equal(one_shot(fx->port,
                              "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                              NULL, 0, NULL),
                     400);
    /* a valid request pipelined before garbage is still answered first */
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nBLAH\x01\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(r.body, "slow");
    response_free(&r);
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 400);
    response_free(&r);
    assert_true(client_wait_closed(c));
    client_close(c);
    fixture_free(fx);
}

static void a_path_with_dot_dot_nul_or_bad_escapes_gets_400(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    const char *bad[] = {"/a/../hello", "/..",    "/a/%2e%2E/hello", "/a/..%2fhello", "/a%00b",
                         "/bad%zz",     "/bad%4", "/query?a=%00",    "/query?a=%g1"};
    char req[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);
        assert_int_equal(one_shot(fx->port, req, NULL, 0, NULL), 400);
    }
    /* dots that are not a ".." segment are fine */
    assert_int_equal(one_shot(fx->port, "GET /a..b HTTP/1.1\r\n\r\n", NULL, 0, NULL), 404);
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->requests), 1);
    free(fx);
}

static void a_chunked_request_body_is_reassembled(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                      "X-Test: dribbled\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                      "X-Trailer: ignored\r\n\r\n";
    /* one byte at a time: every parser callback sees split data */
    for (const char *p = req; *p; p++) {
        client_send(c, p, 1);
        usleep(300);
    }
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(resp_header(&r, "X-Test-Echo"), "dribbled");
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void a_chunked_body_over_the_limit_gets_413(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_body_bytes = 1024;
    fixture_t *fx = fixture_start(&lim);
    char body[256];
    int closed = 0;
    /* announced by one chunk header */
    assert_int_equal(one_shot(fx->port,
                              "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n",
                              body, sizeof body, &closed),
                     413);
    assert_non_null(strstr(body, "body_too_large"));
    assert_true(closed);
    /* accumulated over several chunks */
    char *req = malloc(4096);
    assert_non_null(req);
    strcpy(req, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        strcat(req, "190\r\n");
        size_t n = strlen(req);
        memset(req + n, 'z', 400);
        strcpy(req + n + 400, "\r\n");
    }
    strcat(req, "0\r\n\r\n");
    assert_int_equal(one_shot(fx->port, req, NULL, 0, NULL), 413);
    /* and exactly at the limit is fine */
    strcpy(req, "POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n");
    size_t n = strlen(req);
    memset(req + n, 'q', 1024);
    req[n + 1024] = '\0';
    assert_int_equal(one_shot(fx->port, req, NULL, 0, NULL), 200);
    free(req);
    fixture_free(fx);
}

static void expect_100_continue_gets_an_interim_response_before_the_body(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                       "Content-Length: 11\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 100);
    response_free(&r);
    client_send_str(c, "hello world");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    client_close(c);
    /* too large: refused without 100 Continue */
    c = client_open(fx->port);
    client_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                       "Content-Length: 99999999\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 413);
    response_free(&r);
    assert_true(client_wait_closed(c));
    client_close(c);
    fixture_free(fx);
}

static void unsupported_transfer_encoding_gets_501_and_unknown_expect_gets_417(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    char body[256];
    int closed = 0;
    assert_int_equal(
        one_shot(fx->port,
                 "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", body,
                 sizeof body, &closed),
        501);
    assert_non_null(strstr(body, "\"code\":\"unsupported_transfer_encoding\""));
    assert_true(closed);
    assert_int_equal(one_shot(fx->port, "GET /hello HTTP/1.1\r\nExpect: teapot\r\n\r\n", body,
                              sizeof body, &closed),
                     417);
    assert_non_null(strstr(body, "\"code\":\"expectation_failed\""));
    assert_true(closed);
    assert_int_equal(one_shot(fx->port, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", NULL, 0, NULL),
                     501);
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->requests), 0);
    free(fx);
}

static void a_client_that_disconnects_before_the_async_response_is_handled_cleanly(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    client_send_str(c, "POST /hold HTTP/1.1\r\nHost: t\r\nX-Test: still-here\r\n"
                       "Content-Length: 4\r\n\r\ndata");
    assert_true(wait_for(&fx->requests, 1, 5000));
    client_close(c); /* gone while the handler still owns the request */
    assert_true(wait_for(&fx->hold_finished, 1, 5000));
    /* gone in the middle of a request: headers, then half a body */
    c = client_open(fx->port);
    client_send_str(c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf");
    usleep(50 * 1000);
    client_close(c);
    c = client_open(fx->port);
    client_send_str(c, "GET /hello HTTP/1.1\r\nX-Partial: ");
    usleep(50 * 1000);
    client_close(c);
    usleep(50 * 1000);
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->requests), 1);
    assert_true(fx->hold_saw_abort);
    assert_true(fx->hold_fields_ok);
    free(fx);
}

static void a_streamed_response_uses_valid_chunked_framing(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
    assert_null(resp_header(&r, "Content-Length"));
    assert_string_equal(resp_header(&r, "X-Export"), "yes");
    assert_int_equal(r.n_chunks, 3);
    assert_int_equal(r.chunk_sizes[0], 5);
    assert_int_equal(r.chunk_sizes[1], 10);
    assert_int_equal(r.chunk_sizes[2], 3000);
    assert_int_equal(r.body_len, 3015);
    assert_memory_equal(r.body, "alphabeta-gammaxxx", 18);
    response_free(&r);
    /* the framing ended exactly: the connection carries on */
    client_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_string_equal(r.body, "hello");
    response_free(&r);
    client_close(c);
    /* HTTP/1.0: no chunking, the body ends with the connection */
    c = client_open(fx->port);
    client_send_str(c, "GET /stream HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_null(resp_header(&r, "Transfer-Encoding"));
    assert_int_equal(r.body_len, 3015);
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void an_aborted_stream_ends_with_its_marker_and_no_last_chunk(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    int terminated = -1;
    /* a second request pipelined behind: it must not be answered on the cut connection */
    client_send_str(c, "GET /stream-abort HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_chunks_until_end(c, &r, &terminated), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
    assert_false(terminated); /* no "0\r\n\r\n" */
    assert_int_equal(r.n_chunks, 4);
    assert_string_equal(r.body, "a,b\r\n1,2\r\n3,4\r\n#error,boom\r\n");
    assert_true(client_wait_closed(c)); /* and nothing after it: the connection is closed */
    response_free(&r);
    client_close(c);

    /* without a marker: the same cut, nothing extra */
    c = client_open(fx->port);
    client_send_str(c, "GET /stream-abort?quiet HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_chunks_until_end(c, &r, &terminated), 0);
    assert_false(terminated);
    assert_string_equal(r.body, "a,b\r\n1,2\r\n3,4\r\n");
    assert_true(client_wait_closed(c));
    response_free(&r);
    client_close(c);

    /* HTTP/1.0 (no chunking): the marker is the last line before the close */
    c = client_open(fx->port);
    client_send_str(c, "GET /stream-abort HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_null(resp_header(&r, "Transfer-Encoding"));
    assert_string_equal(r.body, "a,b\r\n1,2\r\n3,4\r\n#error,boom\r\n");
    response_free(&r);
    client_close(c);

    /* the server carries on */
    char body[64];
    assert_int_equal(one_shot(fx->port, "GET /hello HTTP/1.1\r\n\r\n", body, sizeof body, NULL),
                     200);
    assert_string_equal(body, "hello");
    fixture_free(fx);
}

static void a_large_export_streams_with_back_pressure(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /export?n=128 HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(200 * 1000); /* let the server run into back-pressure before reading */
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, (size_t)128 * EXPORT_CHUNK);
    char *want = malloc(r.body_len);
    assert_non_null(want);
    fill_pattern(want, 0, r.body_len);
    assert_memory_equal(r.body, want, r.body_len);
    free(want);
    response_free(&r);
    assert_true(wait_for(&fx->export_finished, 1, 5000));
    client_close(c);
    fixture_stop(fx);
    assert_false(fx->export_aborted);
    assert_int_equal(fx->export_sent, (size_t)128 * EXPORT_CHUNK);
    free(fx);
}

static void a_client_leaving_mid_export_aborts_the_stream(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    char buf[100000];
    client_send_str(c, "GET /export?n=1024 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(client_read_exact(c, buf, sizeof buf), 0);
    usleep(100 * 1000);
    client_close(c);
    assert_true(wait_for(&fx->export_finished, 1, 5000));
    fixture_stop(fx);
    assert_true(fx->export_aborted);
    assert_true(fx->export_sent < (size_t)1024 * EXPORT_CHUNK);
    free(fx);
}

static void a_client_that_never_reads_is_cut_off_at_the_write_queue_cap(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_write_queue_bytes = 256 * 1024;
    fixture_t *fx = fixture_start(&lim);
    client_t *c = client_open(fx->port);
    client_send_str(c, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(wait_for(&fx->flood_finished, 1, 10000));
    assert_true(client_wait_closed(c));
    client_close(c);
    fixture_stop(fx);
    assert_true(fx->flood_aborted);
    assert_true(fx->flood_written < FLOOD_GUARD);
    free(fx);
}

static void query_parameters_and_path_are_percent_decoded(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    char body[512];
    assert_int_equal(one_shot(fx->port,
                              "GET /q%75ery?a=hello%20world&b=x+y%2Bz&&c=%E2%82%AC&a=second&flag "
                              "HTTP/1.1\r\n\r\n",
                              body, sizeof body, NULL),
                     200);
    assert_string_equal(body, "a=[hello world] b=[x y+z] c=[\xE2\x82\xAC] flag=[] d=absent");
    assert_int_equal(one_shot(fx->port, "GET /query HTTP/1.1\r\n\r\n", body, sizeof body, NULL),
                     200);
    assert_string_equal(body, "a=[?] b=[?] c=[?] flag=[?] d=absent");
    /* every pair in order, repeats included, empty segments skipped */
    assert_int_equal(one_shot(fx->port, "GET /pairs?a=1&&b=x+y&a=2&flag&=v HTTP/1.1\r\n\r\n", body,
                              sizeof body, NULL),
                     200);
    assert_string_equal(body, "5: [a]=[1] [b]=[x y] [a]=[2] [flag]=[] []=[v] end");
    assert_int_equal(one_shot(fx->port, "GET /pairs HTTP/1.1\r\n\r\n", body, sizeof body, NULL),
                     200);
    assert_string_equal(body, "0: end");
    /* absolute-form target */
    assert_int_equal(one_shot(fx->port, "GET http://example.com/hello?x=1 HTTP/1.1\r\n\r\n", body,
                              sizeof body, NULL),
                     200);
    assert_string_equal(body, "hello");
    fixture_free(fx);
}

/* A body that trickles in below the minimum rate is cut off with 408, however often bytes come;
 * one address gets at most max_conns_per_addr connections. */
static void slow_bodies_time_out_and_addresses_are_capped(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.body_grace_ms = 300;
    lim.body_min_rate = 1000;
    lim.max_conns_per_addr = 3;
    fixture_t *fx = fixture_start(&lim);
    client_t *c = client_open(fx->port);
    client_send_str(c, "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    long t0 = now_ms();
    char got[512];
    size_t have = 0;
    int closed = 0;
    while (!closed && now_ms() - t0 < 5000) {
        char ch = 'a';
        send(c->fd, &ch, 1, MSG_NOSIGNAL);
        usleep(50 * 1000);
        ssize_t n = recv(c->fd, got + have, sizeof got - 1 - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    got[have] = '\0';
    assert_true(closed);
    assert_non_null(strstr(got, "HTTP/1.1 408"));
    assert_true(now_ms() - t0 < 3000);
    client_close(c);
    /* three connections from 127.0.0.1 stay open, the fourth is closed at once */
    client_t *k[4];
    for (int i = 0; i < 4; i++)
        k[i] = client_open(fx->port);
    assert_true(client_wait_closed(k[3]));
    client_send_str(k[0], "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(k[0], &r, 0), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    for (int i = 0; i < 4; i++)
        client_close(k[i]);
    fixture_stop(fx);
    free(fx);
}

static void an_idle_connection_is_closed_after_the_timeout(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.idle_timeout_ms = 200;
    lim.header_timeout_ms = 200; /* the header deadline is its own limit */
    fixture_t *fx = fixture_start(&lim);
    /* silent after connecting */
    client_t *c = client_open(fx->port);
    long t0 = now_ms();
    assert_true(client_wait_closed(c));
    long dt = now_ms() - t0;
    assert_true(dt >= 150 && dt < 3000);
    client_close(c);
    /* silent after a keep-alive response */
    c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    response_free(&r);
    assert_true(client_wait_closed(c));
    client_close(c);
    /* headers dribbled byte by byte do not extend the header deadline: the server closes the
     * connection while the client is still dribbling (a deadline that each byte extended would
     * keep it open for the whole 3 s). The 408 answer is read whole, so that the close is seen
     * at once; no bound on the time beyond that window (a loaded machine, the sanitizer build). */
    c = client_open(fx->port);
    client_send_str(c, "GET /hello HTTP/1.1\r\nX-Slow: ");
    t0 = now_ms();
    int closed = 0;
    while (!closed && now_ms() - t0 < 3000) {
        char ch = 'a', tmp[1024];
        send(c->fd, &ch, 1, MSG_NOSIGNAL);
        usleep(50 * 1000);
        ssize_t n;
        while ((n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT)) > 0)
            ;
        closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    assert_true(closed);
    client_close(c);
    fixture_stop(fx);
    assert_int_equal(atomic_load(&fx->requests), 1);
    free(fx);
}

static void a_handler_slower_than_the_idle_timeout_keeps_its_connection(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.idle_timeout_ms = 200;
    fixture_t *fx = fixture_start(&lim);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "GET /slow?ms=700 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow");
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void a_client_that_stops_reading_is_closed_after_the_idle_timeout(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.idle_timeout_ms = 300;
    fixture_t *fx = fixture_start(&lim);
    client_t *c = client_open(fx->port);
    client_send_str(c, "GET /export?n=1024 HTTP/1.1\r\nHost: t\r\n\r\n");
    long t0 = now_ms();
    assert_true(wait_for(&fx->export_finished, 1, 5000)); /* never read a byte */
    assert_true(now_ms() - t0 >= 250);
    assert_true(client_wait_closed(c));
    client_close(c);
    fixture_stop(fx);
    assert_true(fx->export_aborted);
    free(fx);
}

static void connections_beyond_the_limit_are_closed_at_once(void **state)
{
    (void)state;
    as_http_limits_t lim;
    as_http_limits_default(&lim);
    lim.max_connections = 1;
    fixture_t *fx = fixture_start(&lim);
    client_t *c1 = client_open(fx->port);
    response_t r;
    client_send_str(c1, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c1, &r, 0), 0);
    response_free(&r);
    client_t *c2 = client_open(fx->port);
    assert_true(client_wait_closed(c2));
    client_close(c2);
    client_send_str(c1, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c1, &r, 0), 0);
    assert_string_equal(r.body, "hello");
    response_free(&r);
    client_close(c1);
    fixture_free(fx);
}

static void head_and_204_responses_carry_no_body(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *c = client_open(fx->port);
    response_t r;
    client_send_str(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 1), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Length"), "5");
    response_free(&r);
    client_send_str(c, "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 204);
    assert_null(resp_header(&r, "Content-Length"));
    response_free(&r);
    /* nothing stray on the wire: the next response starts right away */
    client_send_str(c, "GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, 0), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(
        r.body,
        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such \\\"route\\\"\\u000a\"}}");
    response_free(&r);
    client_close(c);
    fixture_free(fx);
}

static void stop_with_open_connections_leaves_the_loop_closable(void **state)
{
    (void)state;
    fixture_t *fx = fixture_start(NULL);
    client_t *parked = client_open(fx->port);
    client_t *idle = client_open(fx->port);
    client_t *partial = client_open(fx->port);
    client_send_str(parked, "GET /park?id=7 HTTP/1.1\r\nHost: t\r\n\r\n");
    client_send_str(partial, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    assert_true(wait_for(&fx->requests, 1, 5000));
    usleep(50 * 1000);
    fixture_stop(fx);
    /* the loop is closed; the application still owns the parked request */
    assert_non_null(fx->parked);
    assert_true(as_http_req_aborted(fx->parked));
    assert_string_equal(as_http_req_path(fx->parked), "/park");
    assert_string_equal(as_http_req_query(fx->parked, "id"), "7");
    as_http_respond(fx->parked, 200, "text/plain", "too late", 8, NULL); /* frees it */
    assert_true(client_wait_closed(parked));
    assert_true(client_wait_closed(idle));
    assert_true(client_wait_closed(partial));
    client_close(parked);
    client_close(idle);
    client_close(partial);
    free(fx);
}

static void start_rejects_bad_arguments_and_a_busy_port_cleanly(void **state)
{
    (void)state;
    uv_loop_t loop;
    as_http_server_t *a = NULL, *b = NULL;
    as_http_limits_t lim;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(as_http_server_start(&loop, "not-an-ip", 0, NULL, handler, NULL, &b),
                     UV_EINVAL);
    assert_int_equal(as_http_server_start(&loop, "127.0.0.1", 70000, NULL, handler, NULL, &b),
                     UV_EINVAL);
    assert_int_equal(as_http_server_start(&loop, "127.0.0.1", 0, NULL, NULL, NULL, &b), UV_EINVAL);
    as_http_limits_default(&lim);
    assert_int_equal(lim.max_header_bytes, 16384);
    assert_int_equal(lim.max_body_bytes, 1048576);
    assert_int_equal(lim.idle_timeout_ms, 30000);
    assert_int_equal(lim.max_connections, 1024);
    assert_int_equal(lim.max_pipelined, 16);
    assert_int_equal(as_http_server_start(&loop, "127.0.0.1", 0, &lim, handler, NULL, &a), 0);
    assert_int_equal(
        as_http_server_start(&loop, "127.0.0.1", as_http_server_port(a), NULL, handler, NULL, &b),
        UV_EADDRINUSE);
    assert_null(b);
    as_http_server_stop(a, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* IPv6 loopback, where available */
    assert_int_equal(uv_loop_init(&loop), 0);
    if (as_http_server_start(&loop, "::1", 0, NULL, handler, NULL, &a) == 0) {
        assert_true(as_http_server_port(a) > 0);
        as_http_server_stop(a, NULL, NULL);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void status_texts_cover_the_codes_the_gateway_uses(void **state)
{
    (void)state;
    const int codes[] = {100, 200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410,
                         412, 413, 415, 417, 422, 429, 431, 500, 501, 502, 503, 504};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_string_not_equal(as_http_status_text(codes[i]), "Unknown");
    assert_string_equal(as_http_status_text(404), "Not Found");
    assert_string_equal(as_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(as_http_status_text(799), "Unknown");
}

int main(void)
{
    /* SIGPIPE is deliberately left alone: the server must protect itself (as_http_server_start
     * ignores it), and the client side only sends with MSG_NOSIGNAL. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_simple_get_returns_the_handler_response),
        cmocka_unit_test(a_post_body_reaches_the_handler_intact),
        cmocka_unit_test(two_requests_share_one_keep_alive_connection),
        cmocka_unit_test(http10_closes_unless_keep_alive_and_connection_close_is_honoured),
        cmocka_unit_test(pipelined_requests_answered_out_of_order_arrive_in_order),
        cmocka_unit_test(a_pipeline_deeper_than_the_limit_is_parsed_as_responses_drain),
        cmocka_unit_test(a_big_content_length_gets_413_without_the_body_being_sent),
        cmocka_unit_test(huge_headers_get_431),
        cmocka_unit_test(garbage_gets_400_and_the_connection_closes),
        cmocka_unit_test(a_path_with_dot_dot_nul_or_bad_escapes_gets_400),
        cmocka_unit_test(a_chunked_request_body_is_reassembled),
        cmocka_unit_test(a_chunked_body_over_the_limit_gets_413),
        cmocka_unit_test(expect_100_continue_gets_an_interim_response_before_the_body),
        cmocka_unit_test(unsupported_transfer_encoding_gets_501_and_unknown_expect_gets_417),
        cmocka_unit_test(a_client_that_disconnects_before_the_async_response_is_handled_cleanly),
        cmocka_unit_test(a_streamed_response_uses_valid_chunked_framing),
        cmocka_unit_test(an_aborted_stream_ends_with_its_marker_and_no_last_chunk),
        cmocka_unit_test(a_large_export_streams_with_back_pressure),
        cmocka_unit_test(a_client_leaving_mid_export_aborts_the_stream),
        cmocka_unit_test(a_client_that_never_reads_is_cut_off_at_the_write_queue_cap),
        cmocka_unit_test(query_parameters_and_path_are_percent_decoded),
        cmocka_unit_test(an_idle_connection_is_closed_after_the_timeout),
        cmocka_unit_test(slow_bodies_time_out_and_addresses_are_capped),
        cmocka_unit_test(a_handler_slower_than_the_idle_timeout_keeps_its_connection),
        cmocka_unit_test(a_client_that_stops_reading_is_closed_after_the_idle_timeout),
        cmocka_unit_test(connections_beyond_the_limit_are_closed_at_once),
        cmocka_unit_test(head_and_204_responses_carry_no_body),
        cmocka_unit_test(stop_with_open_connections_leaves_the_loop_closable),
        cmocka_unit_test(start_rejects_bad_arguments_and_a_busy_port_cleanly),
        cmocka_unit_test(status_texts_cover_the_codes_the_gateway_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
