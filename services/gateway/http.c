/* http.c — the gateway's HTTP/1.1 server layer (see http.h).
 *
 * Structure: one server (listening handle, an idle handle for deferred work, the connection
 * list) and per connection a TCP handle, a timer, an http-parser and a FIFO of requests. A
 * request enters the FIFO when its first byte is parsed and leaves it when its whole response
 * has been handed to libuv; only the FIFO head may write, so responses leave in request order.
 * Response bytes of a later request wait in that request until it becomes the head.
 *
 * Request states: PARSING (the layer's), PENDING and STREAMING (the application's), DONE (the
 * layer's again: the response is complete and waits for its turn). Closing a connection frees
 * the layer's requests and detaches the application's ones, marking them aborted; those are
 * freed by the application's final response call.
 *
 * The application's callbacks never run nested inside an as_http_* call it made: requests are
 * dispatched from the read callback or from the idle handle (for input left over when a full
 * pipeline drains), drain callbacks from write and close callbacks. */
#include "http.h"

#include "as/log.h"

#include <http_parser.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define READ_BUF_BYTES          16384 /* per-connection input buffer */
#define LINGER_MS               2000  /* how long to drain input after the final response */
#define LISTEN_BACKLOG          511
#define PEER_MAX                64
#define HEADER_OVERHEAD         4    /* ": " and CRLF counted per header line */
#define SHED_GRACE_MS           1000 /* a connection younger than this in its phase is not shed */
#define REFUSAL_LOGS_PER_SECOND 20   /* log lines about refusals; the rest are counted */

enum req_state { REQ_PARSING, REQ_PENDING, REQ_STREAMING, REQ_DONE };

typedef struct as_http_conn as_http_conn_t;

/* One buffer to write; owned by a request until submitted, then by libuv until on_write. */
typedef struct out_buf {
    uv_write_t wr;
    struct out_buf *next;
    as_http_conn_t *conn;
    size_t len;
    char data[];
} out_buf_t;

typedef struct hdr_ref {
    size_t name;  /* offset into hbuf */
    size_t value; /* offset into hbuf, SIZE_MAX when the header has no value */
} hdr_ref_t;

typedef struct query_kv {
    const char *key;
    const char *value;
} query_kv_t;

struct as_http_req {
    as_http_conn_t *conn; /* NULL once detached (aborted) */
    as_http_server_t *server;
    int hooked;          /* the response hook has seen this request */
    as_http_req_t *next; /* the connection's FIFO */
    enum req_state state;
    int aborted;
    int close_after;    /* last request of the connection */
    int is_head;        /* HEAD: no body in the response */
    int http10;         /* HTTP/1.0 (or 0.9) client */
    int headers_done;   /* later header callbacks are chunk trailers */
    int last_was_value; /* header parsing: the previous callback was a value */
    int no_body;        /* streamed response without a body (HEAD, 204, 304) */
    int chunked_out;    /* streamed response uses chunked framing */
    const char *method;
    char *url;
    size_t url_len, url_cap;
    char *path;
    char *qbuf;
    query_kv_t *query;
    size_t n_query;
    char *hbuf;
    size_t hbuf_len, hbuf_cap;
    hdr_ref_t *hdrs;
    size_t n_hdrs, hdrs_cap;
    char *body;
    size_t body_len, body_cap;
    char peer[PEER_MAX];
    void *user_data;
    out_buf_t *out_head, *out_tail;
    void (*drain_cb)(as_http_req_t *r, void *arg);
    void *drain_arg;
    size_t drain_low;
    uint64_t started_ms;        /* loop time of the first byte */
    uint64_t body_started_ms;   /* loop time the headers completed */
    as_http_conn_t *drain_conn; /* set while on a closed connection's notify list */
    as_http_req_t *drain_next;
    char *xhdr; /* header lines the application added (as_http_req_add_header) */
    size_t xhdr_len;
    int etag; /* as_http_req_want_etag: ETag on a 200, 304 on a matching If-None-Match */
};

struct as_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    as_http_server_t *server;
    as_http_conn_t *prev, *next;
    http_parser parser;
    int handles_open;
    int timer_ok;
    int closing;          /* uv_close called; freed in the last close callback */
    int reading;          /* uv_read_start is active */
    int processing;       /* inside conn_process_input */
    int reprocess;        /* conn_process_input was requested while processing */
    int resume_pending;   /* leftover input to parse from the idle handle */
    int no_more_requests; /* do not parse further input; discard it */
    int shutdown_started; /* final response queued, uv_shutdown issued */
    int lingering;        /* write side shut down, draining input until EOF or LINGER_MS */
    int peer_eof;
    int had_request;              /* at least one request began on this connection */
    uint64_t phase_ms;            /* loop time the current phase began (accept, request, idle) */
    uint64_t phase_bytes;         /* bytes read in the current phase */
    struct sockaddr_storage addr; /* the client's address (port ignored when compared) */
    as_http_req_t *head, *tail;   /* request FIFO */
    as_http_req_t *cur;           /* request being parsed (the tail) */
    as_http_req_t *completed;     /* request completed by the last parser run, to dispatch */
    unsigned complete_count;      /* FIFO entries not in REQ_PARSING */
    size_t buffered_bytes;        /* response bytes not yet submitted to libuv */
    uint64_t submitted_total;     /* bytes ever submitted to uv_write */
    uint64_t written_mark;        /* bytes written to the socket when the timer was armed */
    size_t header_bytes;          /* bytes of request line + headers of `cur` */
    int err_status;               /* error chosen by a parser callback */
    const char *err_code;
    const char *err_message;
    as_http_req_t *drain_list; /* aborted requests whose drain callback is still owed */
    char peer[PEER_MAX];
    size_t in_off, in_len;
    char inbuf[READ_BUF_BYTES];
};

/* A connection accepted beyond max_connections: closed at once. */
typedef struct reject {
    uv_tcp_t tcp;
    as_http_server_t *server;
} reject_t;

struct as_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_idle_t idle;
    int idle_ok;
    int idle_active;
    as_http_limits_t limits;
    as_http_request_cb cb;
    void *user_data;
    as_http_conn_t *conns;
    unsigned n_conns;
    unsigned n_closing; /* of n_conns: closed, waiting for their close callbacks */
    unsigned n_rejects;
    unsigned handles_open;
    int port;
    int stopping;
    int draining;        /* as_http_server_drain: no new connection nor keep-alive request */
    int listener_closed; /* the listening handle is closed (drain or stop) */
    void (*done)(void *);
    void *done_arg;
    as_http_response_hook hook;
    void *hook_ud;
    as_http_stats_t st;
    uint64_t log_second; /* refusal log rate limit: the current second, lines in it, dropped */
    unsigned log_lines;
    uint64_t log_dropped;
};

static void run_hook(as_http_req_t *r, int status);
static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_chunk_header(http_parser *p);
static int on_message_complete(http_parser *p);

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

static void conn_close(as_http_conn_t *c);
static void conn_flush(as_http_conn_t *c);
static void conn_process_input(as_http_conn_t *c);
static void conn_update_reading(as_http_conn_t *c);
static void on_conn_timer(uv_timer_t *t);
static void conn_touch(as_http_conn_t *c);
static void server_maybe_finish(as_http_server_t *s);
static void conn_parse_error(as_http_conn_t *c, enum http_errno err);

/* ---- small helpers ---- */

void as_http_limits_default(as_http_limits_t *l)
{
    if (!l)
        return;
    l->max_header_bytes = 16 * 1024;
    l->max_body_bytes = 1024 * 1024;
    l->idle_timeout_ms = 30000;
    l->max_connections = 1024;
    l->max_pipelined = 16;
    l->max_write_queue_bytes = 8 * 1024 * 1024;
    l->header_timeout_ms = 10000;
    l->body_grace_ms = 5000;
    l->body_min_rate = 1024;
    l->request_timeout_ms = 60000;
    l->max_conns_per_addr = 128;
}

/* Refusal log lines, at most REFUSAL_LOGS_PER_SECOND a second for the whole process (an attack
 * must not flood the log); the lines left out are counted and reported with the next one. */
static uint64_t refusal_second, refusal_dropped;
static unsigned refusal_lines;

void as_http_log_refusal(const char *peer, int status, const char *reason, const char *detail)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec;
    if (sec != refusal_second) {
        refusal_second = sec;
        refusal_lines = 0;
    }
    if (refusal_lines >= REFUSAL_LOGS_PER_SECOND) {
        refusal_dropped++;
        return;
    }
    refusal_lines++;
    uint64_t dropped = refusal_dropped;
    refusal_dropped = 0;
    AS_WARN("refused", "peer=%s status=%d reason=%s detail=\"%s\" not_logged_before=%llu",
            peer && *peer ? peer : "unknown", status, reason ? reason : "-", detail ? detail : "",
            (unsigned long long)dropped);
}

void as_http_req_log_refusal(const as_http_req_t *r, int status, const char *reason)
{
    as_http_log_refusal(r ? r->peer : NULL, status, reason, r && r->path ? r->path : "");
}

void as_http_server_stats(const as_http_server_t *s, as_http_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    *out = s->st;
    out->connections = s->n_conns - s->n_closing;
}

const char *as_http_status_text(int status)
{
    switch (status) {
#define XX(num, name, string)                                                                      \
    case num:                                                                                      \
        return #string;
        HTTP_STATUS_MAP(XX)
#undef XX
    default:
        return "Unknown";
    }
}

/* Append n bytes to a growable buffer, keeping it NUL-terminated. Returns 0 or -1. */
static int buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (n > SIZE_MAX / 4 - *len)
        return -1;
    size_t need = *len + n + 1;
    if (need > *cap) {
        size_t ncap = *cap ? *cap : 64;
        while (ncap < need)
            ncap *= 2;
        char *p = realloc(*buf, ncap);
        if (!p)
            return -1;
        *buf = p;
        *cap = ncap;
    }
    if (n)
        memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) in place and NUL-terminate it (s[len] must be writable). With
 * plus_space, '+' becomes ' '. Returns -1 on a malformed escape or a decoded NUL. */
static int pct_decode(char *s, size_t len, int plus_space)
{
    size_t i = 0, o = 0;
    while (i < len) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex_val((unsigned char)s[i + 1]), lo = hex_val((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 3;
        } else {
            if (plus_space && c == '+')
                c = ' ';
            i++;
        }
        if (c == '\0')
            return -1;
        s[o++] = c;
    }
    s[o] = '\0';
    return 0;
}

/* True when a decoded path has a ".." segment ('/' and '\' both separate segments). */
static int path_has_dotdot(const char *p)
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

static void http_date(char *out, size_t n)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11) {
        snprintf(out, n, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[64] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        uv_ip4_name(sin, ip, sizeof ip);
        snprintf(out, n, "%.46s:%u", ip, (unsigned)ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(sin6, ip, sizeof ip);
        snprintf(out, n, "[%.46s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
    } else {
        snprintf(out, n, "unknown");
    }
}

/* Append `s` to out[*n] as the inside of a JSON string; out has room for 6 bytes per char. */
static void json_escape(char *out, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c < 0x20) {
            memcpy(out + *n, "\\u00", 4);
            *n += 4;
            out[(*n)++] = hex[c >> 4];
            out[(*n)++] = hex[c & 15];
        } else {
            out[(*n)++] = (char)c;
        }
    }
}

/* The layer's error body; malloc'ed, length in *len, NULL when out of memory. */
static char *json_error_body(const char *code, const char *message, size_t *len)
{
    static const char p1[] = "{\"error\":{\"code\":\"", p2[] = "\",\"message\":\"", p3[] = "\"}}";
    size_t cl = code ? strlen(code) : 0, ml = message ? strlen(message) : 0;
    if (cl > SIZE_MAX / 16 || ml > SIZE_MAX / 16)
        return NULL;
    char *out = malloc(sizeof p1 + sizeof p2 + sizeof p3 + 6 * (cl + ml));
    if (!out)
        return NULL;
    size_t n = 0;
    memcpy(out, p1, sizeof p1 - 1);
    n += sizeof p1 - 1;
    json_escape(out, &n, code);
    memcpy(out + n, p2, sizeof p2 - 1);
    n += sizeof p2 - 1;
    json_escape(out, &n, message);
    memcpy(out + n, p3, sizeof p3);
    n += sizeof p3 - 1;
    *len = n;
    return out;
}

/* ---- requests ---- */

static out_buf_t *out_buf_new(size_t len)
{
    if (len > UINT_MAX || len > SIZE_MAX - sizeof(out_buf_t))
        return NULL;
    out_buf_t *ob = malloc(sizeof *ob + len);
    if (!ob)
        return NULL;
    ob->next = NULL;
    ob->conn = NULL;
    ob->len = len;
    return ob;
}

static void req_push_out(as_http_req_t *r, out_buf_t *ob)
{
    ob->next = NULL;
    if (r->out_tail)
        r->out_tail->next = ob;
    else
        r->out_head = ob;
    r->out_tail = ob;
    if (r->conn)
        r->conn->buffered_bytes += ob->len;
}

static void req_drop_out(as_http_req_t *r)
{
    while (r->out_head) {
        out_buf_t *ob = r->out_head;
        r->out_head = ob->next;
        if (r->conn)
            r->conn->buffered_bytes -= ob->len;
        free(ob);
    }
    r->out_tail = NULL;
}

static void req_free(as_http_req_t *r)
{
    if (!r)
        return;
    if (r->drain_conn) {
        as_http_req_t **pp = &r->drain_conn->drain_list;
        while (*pp && *pp != r)
            pp = &(*pp)->drain_next;
        if (*pp)
            *pp = r->drain_next;
        r->drain_conn = NULL;
    }
    req_drop_out(r);
    free(r->url);
    free(r->path);
    free(r->qbuf);
    free(r->query);
    free(r->hbuf);
    free(r->hdrs);
    free(r->body);
    free(r->xhdr);
    free(r);
}

static as_http_req_t *req_new(as_http_conn_t *c)
{
    as_http_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->conn = c;
    r->server = c->server;
    r->state = REQ_PARSING;
    c->had_request = 1;
    memcpy(r->peer, c->peer, sizeof r->peer);
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    return r;
}

static int req_is_app_owned(const as_http_req_t *r)
{
    return r->state == REQ_PENDING || r->state == REQ_STREAMING;
}

static const char *req_find_header(const as_http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_hdrs; i++)
        if (strcasecmp(r->hbuf + r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value == SIZE_MAX ? "" : r->hbuf + r->hdrs[i].value;
    return NULL;
}

/* Queue status line, standard headers, `framing` (a Content-Length or Transfer-Encoding line
 * or ""), the caller's headers and `body` on the request. Returns 0 or -1. */
static int req_queue_response(as_http_req_t *r, int status, const char *content_type,
                              const char *extra_headers, const char *framing, const char *body,
                              size_t body_len)
{
    char date[64], head[512];
    http_date(date, sizeof date);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\n%s",
                     status, as_http_status_text(status), date,
                     r->close_after ? "close" : "keep-alive", framing);
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    /* A content type with a line break would inject headers: drop it. */
    size_t ct_len = content_type ? strlen(content_type) : 0;
    if (ct_len && strpbrk(content_type, "\r\n"))
        ct_len = 0;
    size_t ex_len = extra_headers ? strlen(extra_headers) : 0;
    int ex_crlf = ex_len && (ex_len < 2 || extra_headers[ex_len - 2] != '\r' ||
                             extra_headers[ex_len - 1] != '\n');
    if (ct_len > SIZE_MAX / 8 || ex_len > SIZE_MAX / 8 || body_len > SIZE_MAX / 4)
        return -1;
    size_t total = (size_t)n + (ct_len ? 16 + ct_len : 0) + ex_len + (ex_crlf ? 2 : 0) +
                   r->xhdr_len + 2 + body_len;
    out_buf_t *ob = out_buf_new(total);
    if (!ob)
        return -1;
    char *w = ob->data;
    memcpy(w, head, (size_t)n);
    w += n;
    if (ct_len) {
        memcpy(w, "Content-Type: ", 14);
        w += 14;
        memcpy(w, content_type, ct_len);
        w += ct_len;
        memcpy(w, "\r\n", 2);
        w += 2;
    }
    if (ex_len) {
        memcpy(w, extra_headers, ex_len);
        w += ex_len;
    }
    if (ex_crlf) {
        memcpy(w, "\r\n", 2);
        w += 2;
    }
    if (r->xhdr_len) {
        memcpy(w, r->xhdr, r->xhdr_len);
        w += r->xhdr_len;
    }
    memcpy(w, "\r\n", 2);
    w += 2;
    if (body_len) {
        memcpy(w, body, body_len);
        w += body_len;
    }
    req_push_out(r, ob);
    return 0;
}

static int req_queue_error(as_http_req_t *r, int status, const char *code, const char *message)
{
    size_t len = 0;
    char *body = json_error_body(code, message, &len);
    if (!body)
        return -1;
    char framing[64];
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    int rc = req_queue_response(r, status, "application/json", NULL, framing, body, len);
    free(body);
    return rc;
}

/* Decode the request target into path and query pairs. Returns 0 or -1 (sets the error). */
static int req_parse_target(as_http_conn_t *c, as_http_req_t *r, int is_connect)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (!r->url || http_parser_parse_url(r->url, r->url_len, is_connect, &u) != 0) {
        c->err_status = 400;
        c->err_code = "bad_request";
        c->err_message = "malformed request target";
        return -1;
    }
    const char *p = "/";
    size_t plen = 1;
    if (u.field_set & (1u << UF_PATH)) {
        p = r->url + u.field_data[UF_PATH].off;
        plen = u.field_data[UF_PATH].len;
    }
    r->path = malloc(plen + 1);
    if (!r->path)
        goto oom;
    memcpy(r->path, p, plen);
    if (pct_decode(r->path, plen, 0) != 0 || path_has_dotdot(r->path)) {
        c->err_status = 400;
        c->err_code = "bad_request";
        c->err_message = "invalid path";
        return -1;
    }
    if (u.field_set & (1u << UF_QUERY)) {
        size_t qlen = u.field_data[UF_QUERY].len, pairs = 1;
        r->qbuf = malloc(qlen + 1);
        if (!r->qbuf)
            goto oom;
        memcpy(r->qbuf, r->url + u.field_data[UF_QUERY].off, qlen);
        r->qbuf[qlen] = '\0';
        for (size_t i = 0; i < qlen; i++)
            pairs += r->qbuf[i] == '&';
        r->query = calloc(pairs, sizeof *r->query);
        if (!r->query)
            goto oom;
        for (char *s = r->qbuf;;) {
            char *end = strchr(s, '&');
            size_t seg = end ? (size_t)(end - s) : strlen(s);
            if (end)
                *end = '\0';
            if (seg) {
                char *eq = memchr(s, '=', seg);
                size_t klen = eq ? (size_t)(eq - s) : seg;
                char *val = eq ? eq + 1 : s + seg;
                size_t vlen = eq ? seg - klen - 1 : 0;
                if (eq)
                    *eq = '\0';
                if (pct_decode(s, klen, 1) != 0 || pct_decode(val, vlen, 1) != 0) {
                    c->err_status = 400;
                    c->err_code = "bad_request";
                    c->err_message = "invalid query string";
                    return -1;
                }
                r->query[r->n_query].key = s;
                r->query[r->n_query].value = val;
                r->n_query++;
            }
            if (!end)
                break;
            s = end + 1;
        }
    }
    return 0;
oom:
    c->err_status = 503;
    c->err_code = "unavailable";
    c->err_message = "out of memory";
    return -1;
}

/* ---- parser callbacks (run inside http_parser_execute; they never write or close) ---- */

static int conn_fail(as_http_conn_t *c, int status, const char *code, const char *message)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_code = code;
        c->err_message = message;
    }
    return -1;
}

static int conn_oom(as_http_conn_t *c)
{
    return conn_fail(c, 503, "unavailable", "out of memory");
}

static int count_header_bytes(as_http_conn_t *c, size_t n)
{
    if (n > c->server->limits.max_header_bytes ||
        c->header_bytes + n > c->server->limits.max_header_bytes)
        return conn_fail(c, 431, "headers_too_large", "request headers are too large");
    c->header_bytes += n;
    return 0;
}

static int on_message_begin(http_parser *p)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = req_new(c);
    if (!r)
        return conn_oom(c);
    c->cur = r;
    c->header_bytes = 0;
    r->started_ms = uv_now(c->server->loop);
    if (!c->head || c->head == r) { /* the connection was idle: a request phase starts */
        c->phase_ms = r->started_ms;
        c->phase_bytes = 0;
    }
    conn_touch(c); /* the header deadline starts with the request; reads do not extend it */
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r || count_header_bytes(c, len))
        return -1;
    return buf_append(&r->url, &r->url_len, &r->url_cap, at, len) ? conn_oom(c) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    static const char nul = '\0';
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r)
        return -1;
    int new_header = r->n_hdrs == 0 || r->last_was_value;
    if (count_header_bytes(c, len + (new_header ? HEADER_OVERHEAD : 0)))
        return -1;
    if (r->headers_done)
        return 0; /* chunk trailer: counted, ignored */
    if (new_header) {
        if (r->n_hdrs == r->hdrs_cap) {
            size_t ncap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
            hdr_ref_t *h = realloc(r->hdrs, ncap * sizeof *h);
            if (!h)
                return conn_oom(c);
            r->hdrs = h;
            r->hdrs_cap = ncap;
        }
        if (r->n_hdrs && buf_append(&r->hbuf, &r->hbuf_len, &r->hbuf_cap, &nul, 1))
            return conn_oom(c);
        r->hdrs[r->n_hdrs].name = r->hbuf_len;
        r->hdrs[r->n_hdrs].value = SIZE_MAX;
        r->n_hdrs++;
        r->last_was_value = 0;
    }
    return buf_append(&r->hbuf, &r->hbuf_len, &r->hbuf_cap, at, len) ? conn_oom(c) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    static const char nul = '\0';
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r || count_header_bytes(c, len))
        return -1;
    if (r->headers_done)
        return 0;
    if (r->n_hdrs == 0)
        return -1;
    if (!r->last_was_value) {
        if (buf_append(&r->hbuf, &r->hbuf_len, &r->hbuf_cap, &nul, 1))
            return conn_oom(c);
        r->hdrs[r->n_hdrs - 1].value = r->hbuf_len;
        r->last_was_value = 1;
    }
    return buf_append(&r->hbuf, &r->hbuf_len, &r->hbuf_cap, at, len) ? conn_oom(c) : 0;
}

static int on_headers_complete(http_parser *p)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    const as_http_limits_t *lim = &c->server->limits;
    if (!r)
        return -1;
    r->headers_done = 1;
    r->body_started_ms = uv_now(c->server->loop);
    for (size_t i = 0; i < r->n_hdrs; i++) {
        if (r->hdrs[i].value == SIZE_MAX)
            continue;
        char *v = r->hbuf + r->hdrs[i].value;
        size_t l = strlen(v);
        while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
            v[--l] = '\0';
    }
    r->method = http_method_str((enum http_method)p->method);
    r->http10 = p->http_major == 0 || (p->http_major == 1 && p->http_minor == 0);
    r->is_head = p->method == HTTP_HEAD;
    if (p->method == HTTP_CONNECT)
        return conn_fail(c, 501, "not_implemented", "CONNECT is not supported");
    const char *te = req_find_header(r, "transfer-encoding");
    if (te && strcasecmp(te, "chunked") != 0)
        return conn_fail(c, 501, "unsupported_transfer_encoding",
                         "only chunked transfer encoding is supported");
    const char *expect = req_find_header(r, "expect");
    int want_continue = 0;
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return conn_fail(c, 417, "expectation_failed", "unsupported Expect header");
        want_continue = !r->http10;
    }
    int has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_length && p->content_length > lim->max_body_bytes)
        return conn_fail(c, 413, "body_too_large", "request body is too large");
    if (req_parse_target(c, r, 0) != 0)
        return -1;
    if (has_length && p->content_length > 0) {
        r->body = malloc((size_t)p->content_length + 1);
        if (!r->body)
            return conn_oom(c);
        r->body_cap = (size_t)p->content_length + 1;
        r->body[0] = '\0';
    }
    int expects_body = (has_length && p->content_length > 0) || (p->flags & F_CHUNKED);
    if (want_continue && expects_body) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        out_buf_t *ob = out_buf_new(sizeof cont - 1);
        if (!ob)
            return conn_oom(c);
        memcpy(ob->data, cont, sizeof cont - 1);
        req_push_out(r, ob); /* written by conn_flush after this parser run */
    }
    if (p->upgrade)
        r->close_after = 1; /* upgrades are not supported: serve it, then close */
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r)
        return -1;
    if (len > c->server->limits.max_body_bytes - r->body_len)
        return conn_fail(c, 413, "body_too_large", "request body is too large");
    return buf_append(&r->body, &r->body_len, &r->body_cap, at, len) ? conn_oom(c) : 0;
}

static int on_chunk_header(http_parser *p)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r)
        return -1;
    if (p->content_length > c->server->limits.max_body_bytes - r->body_len)
        return conn_fail(c, 413, "body_too_large", "request body is too large");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    as_http_conn_t *c = p->data;
    as_http_req_t *r = c->cur;
    if (!r)
        return -1;
    c->cur = NULL;
    r->state = REQ_PENDING;
    c->complete_count++;
    if (!http_should_keep_alive(p) || p->upgrade || r->close_after || c->server->draining) {
        r->close_after = 1;
        c->no_more_requests = 1;
    }
    c->completed = r;
    http_parser_pause(p, 1); /* dispatch outside the parser */
    return 0;
}

/* ---- connections ---- */

static size_t conn_queued(as_http_conn_t *c)
{
    return c->buffered_bytes + uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

/* Bytes that must leave before `r` can make progress: the socket's write queue plus what the
 * requests up to and including `r` still buffer. Answers to later pipelined requests wait behind
 * `r` and do not count (counting them could stall a stream's back-pressure forever). */
static size_t req_queued(as_http_req_t *r)
{
    as_http_conn_t *c = r->conn;
    size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    for (as_http_req_t *x = c->head; x; x = x->next) {
        for (out_buf_t *ob = x->out_head; ob; ob = ob->next)
            n += ob->len;
        if (x == r)
            break;
    }
    return n;
}

/* Bytes libuv has written to the socket so far. */
static uint64_t conn_written(as_http_conn_t *c)
{
    return c->submitted_total - uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

/* When the request being received must be complete: its headers within header_timeout_ms of
 * its first byte; then the body may start within body_grace_ms and must keep body_min_rate
 * bytes a second; the whole request within request_timeout_ms. Reads do not push these back
 * except by the bytes they bring. */
static uint64_t req_receive_deadline(const as_http_conn_t *c, const as_http_req_t *r)
{
    const as_http_limits_t *l = &c->server->limits;
    uint64_t whole = r->started_ms + l->request_timeout_ms;
    if (!r->headers_done) {
        uint64_t h = r->started_ms + l->header_timeout_ms;
        return h < whole ? h : whole;
    }
    uint64_t body = r->body_started_ms + l->body_grace_ms +
                    (l->body_min_rate ? (uint64_t)r->body_len * 1000 / l->body_min_rate : 0);
    return body < whole ? body : whole;
}

static void conn_touch(as_http_conn_t *c)
{
    if (c->closing || c->lingering || !c->timer_ok)
        return;
    c->written_mark = conn_written(c);
    uint64_t ms = c->server->limits.idle_timeout_ms;
    if (c->cur && !c->no_more_requests) {
        uint64_t now = uv_now(c->server->loop), dl = req_receive_deadline(c, c->cur);
        uint64_t left = dl > now ? dl - now : 0;
        if (left < ms)
            ms = left;
    }
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* Free the layer's requests and detach the application's ones (they become aborted). */
static void conn_abort_requests(as_http_conn_t *c)
{
    as_http_req_t *r = c->head;
    while (r) {
        as_http_req_t *next = r->next;
        r->next = NULL;
        req_drop_out(r);
        if (req_is_app_owned(r)) {
            r->aborted = 1;
            r->conn = NULL;
            run_hook(r, 499); /* the client left: the hook sees it now, while the server lives */
            r->server = NULL; /* the server may be freed before the owner answers */
            if (r->drain_cb) {
                r->drain_conn = c;
                r->drain_next = c->drain_list;
                c->drain_list = r;
            }
        } else {
            r->conn = NULL;
            req_free(r);
        }
        r = next;
    }
    c->head = c->tail = c->cur = c->completed = NULL;
    c->complete_count = 0;
}

static void on_conn_closed(uv_handle_t *h)
{
    as_http_conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    as_http_server_t *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Owed drain callbacks: the request is aborted; the callback typically ends the stream. */
    while (c->drain_list) {
        as_http_req_t *r = c->drain_list;
        c->drain_list = r->drain_next;
        r->drain_next = NULL;
        r->drain_conn = NULL;
        void (*cb)(as_http_req_t *, void *) = r->drain_cb;
        r->drain_cb = NULL;
        if (cb)
            cb(r, r->drain_arg);
    }
    free(c);
    s->n_conns--;
    s->n_closing--;
    server_maybe_finish(s);
}

/* Close at once: pending writes are cancelled, the application's requests become aborted. */
static void conn_close(as_http_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->server->n_closing++;
    c->reading = 0;
    conn_abort_requests(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    if (c->timer_ok)
        uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    as_http_conn_t *c = req->handle->data;
    if (c->closing)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    /* Keep reading (and discarding) for a while so that unread request bytes do not make the
     * kernel reset the connection before the client has read the final response. */
    c->lingering = 1;
    unsigned ms = c->server->limits.idle_timeout_ms < LINGER_MS ? c->server->limits.idle_timeout_ms
                                                                : LINGER_MS;
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
    conn_update_reading(c);
}

/* The final response is queued: shut down the write side once it is written, then close. */
static void conn_begin_linger(as_http_conn_t *c)
{
    if (c->closing || c->shutdown_started)
        return;
    c->shutdown_started = 1;
    c->no_more_requests = 1;
    c->in_off = c->in_len = 0;
    conn_abort_requests(c); /* requests pipelined behind the last one */
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_update_reading(c);
}

static void on_conn_timer(uv_timer_t *t)
{
    as_http_conn_t *c = t->data;
    if (c->closing)
        return;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (c->cur && !c->no_more_requests) {
        as_http_server_t *s = c->server;
        if (uv_now(s->loop) >= req_receive_deadline(c, c->cur)) {
            s->st.timed_out++;
            char detail[96];
            snprintf(detail, sizeof detail, "%s after %llu ms, %zu body bytes",
                     c->cur->headers_done ? "body too slow" : "headers too slow",
                     (unsigned long long)(uv_now(s->loop) - c->cur->started_ms), c->cur->body_len);
            as_http_log_refusal(c->peer, 408, "request_timeout", detail);
            c->err_status = 408;
            c->err_code = "request_timeout";
            c->err_message = "the request did not arrive in time";
            c->no_more_requests = 1;
            conn_parse_error(c, HPE_OK);
            if (!c->closing)
                conn_touch(c); /* the 408 must leave within the idle period */
            return;
        }
    }
    /* Bytes waiting for the socket: fine while they move (one large write completes only at
     * its end), but no progress for a whole period means the client stopped reading. */
    if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > 0) {
        if (conn_written(c) > c->written_mark)
            conn_touch(c);
        else
            conn_close(c);
        return;
    }
    for (as_http_req_t *r = c->head; r; r = r->next) {
        if (req_is_app_owned(r)) {
            conn_touch(c); /* waiting for the application is not idleness */
            return;
        }
    }
    if (c->cur && !c->no_more_requests) {
        conn_touch(c); /* receiving within its deadline */
        return;
    }
    conn_close(c);
}

static void on_write(uv_write_t *wr, int status)
{
    out_buf_t *ob = wr->data;
    as_http_conn_t *c = ob->conn;
    free(ob);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->head && !c->cur) { /* everything answered: an idle phase starts */
        c->phase_ms = uv_now(c->server->loop);
        c->phase_bytes = 0;
    }
    conn_touch(c);
    /* Drain callbacks; each may finish requests, so rescan after every call. */
    for (;;) {
        if (c->closing)
            return;
        as_http_req_t *r = c->head;
        while (r && !(r->drain_cb && req_queued(r) <= r->drain_low))
            r = r->next;
        if (!r)
            return;
        void (*cb)(as_http_req_t *, void *) = r->drain_cb;
        r->drain_cb = NULL;
        cb(r, r->drain_arg);
    }
}

static int conn_submit(as_http_conn_t *c, out_buf_t *ob)
{
    ob->conn = c;
    ob->wr.data = ob;
    uv_buf_t buf = uv_buf_init(ob->data, (unsigned int)ob->len);
    c->submitted_total += ob->len;
    int rc = uv_write(&ob->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc != 0)
        free(ob);
    return rc;
}

static void on_idle(uv_idle_t *h)
{
    as_http_server_t *s = h->data;
    uv_idle_stop(h);
    s->idle_active = 0;
    /* Connections leave the list only in close callbacks, so the walk is stable. */
    for (as_http_conn_t *c = s->conns; c; c = c->next) {
        if (!c->resume_pending)
            continue;
        c->resume_pending = 0;
        if (!c->closing)
            conn_process_input(c);
    }
}

static void conn_schedule_resume(as_http_conn_t *c)
{
    as_http_server_t *s = c->server;
    c->resume_pending = 1;
    if (!s->idle_active && !s->stopping && uv_idle_start(&s->idle, on_idle) == 0)
        s->idle_active = 1;
}

/* Write what the FIFO head has, retire finished heads, and resume input when room is made. */
static void conn_flush(as_http_conn_t *c)
{
    while (!c->closing && c->head) {
        as_http_req_t *r = c->head;
        while (r->out_head) {
            out_buf_t *ob = r->out_head;
            r->out_head = ob->next;
            if (!r->out_head)
                r->out_tail = NULL;
            c->buffered_bytes -= ob->len;
            if (conn_submit(c, ob) != 0) {
                conn_close(c);
                return;
            }
        }
        if (r->state != REQ_DONE)
            break;
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        c->complete_count--;
        int close_after = r->close_after;
        r->conn = NULL;
        req_free(r);
        if (close_after) {
            conn_begin_linger(c);
            return;
        }
    }
    if (c->closing || c->no_more_requests || c->complete_count >= c->server->limits.max_pipelined)
        return;
    if (c->in_off < c->in_len) {
        if (!c->processing)
            conn_schedule_resume(c);
    } else {
        conn_update_reading(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    as_http_conn_t *c = h->data;
    if (c->no_more_requests || c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0) {
        memmove(c->inbuf, c->inbuf + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    *buf = uv_buf_init(c->inbuf + c->in_len, (unsigned int)(sizeof c->inbuf - c->in_len));
}

static void conn_on_eof(as_http_conn_t *c, ssize_t nread)
{
    if (nread != UV_EOF) {
        conn_close(c);
        return;
    }
    c->peer_eof = 1;
    conn_update_reading(c);
    if (c->shutdown_started) {
        if (c->lingering)
            conn_close(c);
        return; /* on_shutdown closes */
    }
    if (c->cur) {
        conn_close(c); /* gone in the middle of a request */
        return;
    }
    for (as_http_req_t *r = c->head; r; r = r->next) {
        if (req_is_app_owned(r)) {
            conn_close(c); /* gone while its request is being handled */
            return;
        }
    }
    if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > 0)
        conn_begin_linger(c); /* half-closed: finish writing, then close */
    else
        conn_close(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    as_http_conn_t *c = stream->data;
    if (c->closing)
        return;
    if (nread < 0) {
        conn_on_eof(c, nread);
        return;
    }
    if (nread == 0)
        return;
    if (c->no_more_requests) {
        c->in_off = c->in_len = 0; /* discard */
        return;
    }
    c->in_len += (size_t)nread;
    c->phase_bytes += (uint64_t)nread;
    conn_process_input(c);
    if (!c->closing)
        conn_touch(c); /* a request being received keeps its deadline (see conn_touch) */
}

static void conn_update_reading(as_http_conn_t *c)
{
    if (c->closing)
        return;
    int want = !c->peer_eof &&
               (c->no_more_requests ||
                (c->in_off == c->in_len && c->complete_count < c->server->limits.max_pipelined));
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            conn_close(c);
            return;
        }
        c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* Answer a malformed or refused request in its place in the FIFO, then close. */
static void conn_parse_error(as_http_conn_t *c, enum http_errno err)
{
    int status = 400;
    const char *code = "bad_request", *message = http_errno_description(err);
    if (c->err_status) {
        status = c->err_status;
        code = c->err_code;
        message = c->err_message;
    } else if (err == HPE_HEADER_OVERFLOW) {
        status = 431;
        code = "headers_too_large";
        message = "request headers are too large";
    }
    c->err_status = 0;
    c->no_more_requests = 1;
    c->server->st.refused++;
    if (status != 408) /* a timeout was logged with its detail */
        as_http_log_refusal(c->peer, status, code, message);
    as_http_req_t *r = c->cur;
    c->cur = NULL;
    if (!r)
        r = req_new(c);
    if (!r) {
        conn_close(c);
        return;
    }
    r->state = REQ_DONE;
    r->close_after = 1;
    c->complete_count++;
    req_drop_out(r); /* never half an interim response; 100 Continue is complete or absent */
    if (req_queue_error(r, status, code, message) != 0) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

/* Parse buffered input, dispatching each complete request, until the input is used up, the
 * pipeline is full or the connection takes no more requests. */
static void conn_process_input(as_http_conn_t *c)
{
    if (c->processing) {
        c->reprocess = 1;
        return;
    }
    as_http_server_t *s = c->server;
    c->processing = 1;
    do {
        c->reprocess = 0;
        while (!c->closing && !c->no_more_requests && c->in_off < c->in_len &&
               c->complete_count < s->limits.max_pipelined) {
            size_t n = http_parser_execute(&c->parser, &parser_settings, c->inbuf + c->in_off,
                                           c->in_len - c->in_off);
            c->in_off += n;
            enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
            if (err == HPE_OK && n == 0)
                break; /* no progress (cannot happen with http-parser 2.x) */
            if (err == HPE_PAUSED) {
                http_parser_pause(&c->parser, 0);
                as_http_req_t *r = c->completed;
                c->completed = NULL;
                conn_flush(c);
                if (r)
                    s->cb(r, s->user_data);
            } else if (err != HPE_OK) {
                conn_parse_error(c, err);
            } else {
                conn_flush(c); /* e.g. 100 Continue */
            }
        }
    } while (c->reprocess && !c->closing);
    c->processing = 0;
    if (c->closing)
        return;
    if (c->no_more_requests || c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    conn_update_reading(c);
}

/* ---- server ---- */

static void server_maybe_finish(as_http_server_t *s)
{
    if (!s->stopping || s->handles_open || s->n_conns || s->n_rejects)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s);
    if (done)
        done(arg);
}

static void on_server_handle_closed(uv_handle_t *h)
{
    as_http_server_t *s = h->data;
    s->handles_open--;
    server_maybe_finish(s);
}

static void on_reject_closed(uv_handle_t *h)
{
    reject_t *rj = h->data;
    as_http_server_t *s = rj->server;
    free(rj);
    s->n_rejects--;
    server_maybe_finish(s);
}

static void server_reject(as_http_server_t *s)
{
    reject_t *rj = malloc(sizeof *rj);
    if (!rj)
        return; /* cannot accept: libuv pauses the listener until the next accept */
    if (uv_tcp_init(s->loop, &rj->tcp) != 0) {
        free(rj);
        return;
    }
    rj->server = s;
    rj->tcp.data = rj;
    s->n_rejects++;
    (void)uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&rj->tcp);
    uv_close((uv_handle_t *)&rj->tcp, on_reject_closed);
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return 0;
}

/* The connection to give up for a new one when every slot is taken: one that holds no work of
 * the application's (nothing being handled or answered), has been in its current phase (idle,
 * or receiving a request) for at least SHED_GRACE_MS, and brought the fewest bytes a second in
 * it; idle keep-alive connections bring none and go first, the oldest of them first. NULL when
 * every connection is busy with real work. */
static as_http_conn_t *pick_victim(as_http_server_t *s, const as_http_conn_t *except)
{
    uint64_t now = uv_now(s->loop);
    as_http_conn_t *best = NULL;
    uint64_t best_rate = UINT64_MAX, best_age = 0;
    for (as_http_conn_t *c = s->conns; c; c = c->next) {
        if (c == except || c->closing || c->shutdown_started || c->lingering)
            continue;
        int busy = 0;
        for (as_http_req_t *r = c->head; r && !busy; r = r->next)
            busy = r->state != REQ_PARSING;
        if (busy || now < c->phase_ms + SHED_GRACE_MS)
            continue;
        uint64_t age = now - c->phase_ms;
        uint64_t rate = c->phase_bytes * 1000 / age;
        if (rate < best_rate || (rate == best_rate && age > best_age)) {
            best = c;
            best_rate = rate;
            best_age = age;
        }
    }
    return best;
}

static void on_connection(uv_stream_t *listener, int status)
{
    as_http_server_t *s = listener->data;
    if (status < 0 || s->stopping)
        return;
    if (s->n_conns - s->n_closing >= s->limits.max_connections && !pick_victim(s, NULL)) {
        s->st.rejected_full++;
        as_http_log_refusal("unknown", 503, "connections_full",
                            "every connection slot holds a request being handled");
        server_reject(s);
        return;
    }
    as_http_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        server_reject(s);
        return;
    }
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        server_reject(s);
        return;
    }
    c->server = s;
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 1;
    if (uv_timer_init(s->loop, &c->timer) == 0) {
        c->timer_ok = 1;
        c->handles_open = 2;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    snprintf(c->peer, sizeof c->peer, "unknown");
    if (!c->timer_ok || uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    int sslen = (int)sizeof c->addr;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->addr, &sslen) == 0)
        format_peer(&c->addr, c->peer, sizeof c->peer);
    c->phase_ms = uv_now(s->loop);
    /* One address may hold at most max_conns_per_addr connections. */
    if (c->addr.ss_family == AF_INET || c->addr.ss_family == AF_INET6) {
        unsigned same = 0;
        for (as_http_conn_t *o = s->conns; o; o = o->next)
            if (o != c && !o->closing && same_address(&o->addr, &c->addr))
                same++;
        if (same >= s->limits.max_conns_per_addr) {
            s->st.rejected_addr++;
            as_http_log_refusal(c->peer, 503, "too_many_connections",
                                "the address has its maximum of connections");
            conn_close(c);
            return;
        }
    }
    /* Full: make room by closing the slowest or longest idle connection. */
    if (s->n_conns - s->n_closing > s->limits.max_connections) {
        as_http_conn_t *v = pick_victim(s, c);
        if (!v) {
            s->st.rejected_full++;
            as_http_log_refusal(c->peer, 503, "connections_full",
                                "every connection slot holds a request being handled");
            conn_close(c);
            return;
        }
        char detail[128];
        uint64_t age = uv_now(s->loop) - v->phase_ms;
        snprintf(detail, sizeof detail, "%s for %llu ms with %llu bytes; room for %s",
                 v->cur ? "receiving a request" : "idle", (unsigned long long)age,
                 (unsigned long long)v->phase_bytes, c->peer);
        s->st.shed++;
        as_http_log_refusal(v->peer, 0, "connection_shed", detail);
        conn_close(v);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    conn_touch(c);
    conn_update_reading(c);
}

int as_http_server_start(uv_loop_t *loop, const char *host, int port,
                         const as_http_limits_t *limits, as_http_request_cb cb, void *user_data,
                         as_http_server_t **out)
{
    struct sockaddr_storage addr;
    as_http_server_t *s = NULL;
    int rc;
    if (!loop || !host || !cb || !out || port < 0 || port > 65535)
        return UV_EINVAL;
    *out = NULL;
    memset(&addr, 0, sizeof addr);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
        return UV_EINVAL;
    /* libuv writes with write(2): a peer that went away would raise SIGPIPE and kill the
     * process. Ignore it unless the program installed its own disposition. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return UV_ENOMEM;
    as_http_limits_default(&s->limits);
    if (limits) {
        if (limits->max_header_bytes)
            s->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_body_bytes)
            s->limits.max_body_bytes = limits->max_body_bytes;
        if (limits->idle_timeout_ms)
            s->limits.idle_timeout_ms = limits->idle_timeout_ms;
        if (limits->max_connections)
            s->limits.max_connections = limits->max_connections;
        if (limits->max_pipelined)
            s->limits.max_pipelined = limits->max_pipelined;
        if (limits->max_write_queue_bytes)
            s->limits.max_write_queue_bytes = limits->max_write_queue_bytes;
        if (limits->header_timeout_ms)
            s->limits.header_timeout_ms = limits->header_timeout_ms;
        if (limits->body_grace_ms)
            s->limits.body_grace_ms = limits->body_grace_ms;
        if (limits->body_min_rate)
            s->limits.body_min_rate = limits->body_min_rate;
        if (limits->request_timeout_ms)
            s->limits.request_timeout_ms = limits->request_timeout_ms;
        if (limits->max_conns_per_addr)
            s->limits.max_conns_per_addr = limits->max_conns_per_addr;
    }
    s->loop = loop;
    s->cb = cb;
    s->user_data = user_data;
    s->port = -1;
    rc = uv_tcp_init(loop, &s->listener);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->listener.data = s;
    s->handles_open = 1;
    rc = uv_idle_init(loop, &s->idle);
    if (rc != 0)
        goto fail;
    s->idle.data = s;
    s->idle_ok = 1;
    s->handles_open = 2;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc != 0)
        goto fail;
    rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0)
        goto fail;
    struct sockaddr_storage bound;
    int blen = (int)sizeof bound;
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    if (rc != 0)
        goto fail;
    s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = s;
    return 0;
fail:
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    if (s->idle_ok)
        uv_close((uv_handle_t *)&s->idle, on_server_handle_closed);
    return rc;
}

int as_http_server_port(const as_http_server_t *s)
{
    return s ? s->port : -1;
}

void as_http_server_drain(as_http_server_t *s)
{
    if (!s || s->stopping || s->draining)
        return;
    s->draining = 1;
    s->listener_closed = 1;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    /* Idle keep-alive connections go now; the others after the responses they owe (close_after).
     * A connection that has not sent its first request yet may be sending it: it is served. */
    for (as_http_conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->head && !c->closing && c->had_request)
            conn_close(c);
        else
            for (as_http_req_t *r = c->head; r; r = r->next)
                if (r->state != REQ_PARSING)
                    r->close_after = 1;
        if (c->head && !c->cur)
            c->no_more_requests = 1;
    }
}

void as_http_server_stop(as_http_server_t *s, void (*done)(void *), void *arg)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    if (!s->listener_closed)
        uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    s->listener_closed = 1;
    if (s->idle_ok)
        uv_close((uv_handle_t *)&s->idle, on_server_handle_closed);
    for (as_http_conn_t *c = s->conns; c; c = c->next)
        conn_close(c);
}

/* ---- request accessors ---- */

const char *as_http_req_method(const as_http_req_t *r)
{
    return r && r->method ? r->method : "";
}

const char *as_http_req_path(const as_http_req_t *r)
{
    return r && r->path ? r->path : "/";
}

const char *as_http_req_target(const as_http_req_t *r)
{
    return r && r->url ? r->url : "";
}

const char *as_http_req_query(const as_http_req_t *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, name) == 0)
            return r->query[i].value;
    return NULL;
}

size_t as_http_req_query_count(const as_http_req_t *r)
{
    return r ? r->n_query : 0;
}

int as_http_req_query_at(const as_http_req_t *r, size_t i, const char **name, const char **value)
{
    const char *k = NULL, *v = NULL;
    int rc = -1;
    if (r && i < r->n_query) {
        k = r->query[i].key;
        v = r->query[i].value;
        rc = 0;
    }
    if (name)
        *name = k;
    if (value)
        *value = v;
    return rc;
}

const char *as_http_req_header(const as_http_req_t *r, const char *name)
{
    return r && name ? req_find_header(r, name) : NULL;
}

size_t as_http_req_header_count(const as_http_req_t *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; r && name && i < r->n_hdrs; i++)
        n += strcasecmp(r->hbuf + r->hdrs[i].name, name) == 0;
    return n;
}

const char *as_http_req_body(const as_http_req_t *r, size_t *len)
{
    if (len)
        *len = r ? r->body_len : 0;
    return r && r->body ? r->body : "";
}

const char *as_http_req_peer(const as_http_req_t *r)
{
    return r ? r->peer : "";
}

void as_http_req_set_data(as_http_req_t *r, void *p)
{
    if (r)
        r->user_data = p;
}

void *as_http_req_data(const as_http_req_t *r)
{
    return r ? r->user_data : NULL;
}

int as_http_req_add_header(as_http_req_t *r, const char *name, const char *value)
{
    if (!r || !name || !value || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return -1;
    size_t nl = strlen(name), vl = strlen(value), add = nl + 2 + vl + 2;
    if (!nl || r->xhdr_len + add > 8192)
        return -1;
    char *x = realloc(r->xhdr, r->xhdr_len + add + 1);
    if (!x)
        return -1;
    r->xhdr = x;
    snprintf(x + r->xhdr_len, add + 1, "%s: %s\r\n", name, value);
    r->xhdr_len += add;
    return 0;
}

int as_http_req_has_added_header(const as_http_req_t *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r && r->xhdr ? r->xhdr : ""; *p;) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return 1;
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        p = e + 2;
    }
    return 0;
}

void as_http_req_want_etag(as_http_req_t *r)
{
    if (r)
        r->etag = 1;
}

void as_http_etag_of(const char *body, size_t len, char out[24])
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)body[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

int as_http_etag_matches(const char *header, const char *etag)
{
    if (!header)
        return 0;
    size_t el = strlen(etag);
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison: the W/ prefix does not matter */
        size_t w = strcspn(p, ", \t");
        if (w == el && strncmp(p, etag, el) == 0)
            return 1;
        p += w;
    }
    return 0;
}

int as_http_req_aborted(const as_http_req_t *r)
{
    return !r || r->aborted;
}

/* ---- responses ---- */

static int clamp_status(int status)
{
    return status < 200 || status > 599 ? 500 : status;
}

static void run_hook(as_http_req_t *r, int status)
{
    if (!r->hooked && r->server && r->server->hook) {
        r->hooked = 1;
        r->server->hook(r, status, r->aborted, r->server->hook_ud);
    }
}

void as_http_server_on_response(as_http_server_t *s, as_http_response_hook fn, void *ud)
{
    s->hook = fn;
    s->hook_ud = ud;
}

void as_http_respond(as_http_req_t *r, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers)
{
    if (!r)
        return;
    run_hook(r, status);
    if (r->aborted) {
        req_free(r);
        return;
    }
    if (r->state != REQ_PENDING)
        return; /* misuse: already streaming */
    as_http_conn_t *c = r->conn;
    status = clamp_status(status);
    if (!body)
        len = 0;
    if (status == 401 && !as_http_req_has_added_header(r, "WWW-Authenticate"))
        as_http_req_add_header(r, "WWW-Authenticate", "Bearer realm=\"aftersales\"");
    if (r->etag && status == 200) {
        char tag[24];
        as_http_etag_of(body ? body : "", len, tag);
        if (!as_http_req_has_added_header(r, "ETag"))
            as_http_req_add_header(r, "ETag", tag);
        if (as_http_etag_matches(req_find_header(r, "If-None-Match"), tag))
            status = 304;
    }
    int bodiless = status == 204 || status == 304;
    char framing[64] = "";
    if (!bodiless)
        snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    if (conn_queued(c) >= c->server->limits.max_write_queue_bytes ||
        req_queue_response(r, status, content_type, extra_headers, framing, body,
                           bodiless || r->is_head ? 0 : len) != 0) {
        conn_close(c); /* the request is now aborted */
        req_free(r);
        return;
    }
    r->state = REQ_DONE;
    conn_flush(c);
}

void as_http_respond_error(as_http_req_t *r, int status, const char *code, const char *message)
{
    size_t len = 0;
    char *body = json_error_body(code, message, &len);
    if (!body) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        as_http_respond(r, 500, "application/json", fallback, sizeof fallback - 1, NULL);
        return;
    }
    as_http_respond(r, status, "application/json", body, len, NULL);
    free(body);
}

void as_http_stream_begin(as_http_req_t *r, int status, const char *content_type,
                          const char *extra_headers)
{
    if (r)
        run_hook(r, status);
    if (!r || r->aborted || r->state != REQ_PENDING)
        return;
    as_http_conn_t *c = r->conn;
    status = clamp_status(status);
    int bodiless = status == 204 || status == 304;
    r->no_body = bodiless || r->is_head;
    if (r->http10)
        r->close_after = 1; /* the body ends when the connection closes */
    r->chunked_out = !r->http10 && !r->no_body;
    const char *framing = !r->http10 && !bodiless ? "Transfer-Encoding: chunked\r\n" : "";
    if (conn_queued(c) >= c->server->limits.max_write_queue_bytes ||
        req_queue_response(r, status, content_type, extra_headers, framing, NULL, 0) != 0) {
        conn_close(c); /* aborted; as_http_stream_end frees */
        return;
    }
    r->state = REQ_STREAMING;
    conn_flush(c);
}

size_t as_http_stream_write(as_http_req_t *r, const char *data, size_t len)
{
    if (!r || r->aborted || r->state != REQ_STREAMING)
        return 0;
    as_http_conn_t *c = r->conn;
    if (len == 0 || !data || r->no_body)
        return req_queued(r);
    if (conn_queued(c) >= c->server->limits.max_write_queue_bytes) {
        conn_close(c);
        return 0;
    }
    char size_line[32] = "";
    int n = 0;
    if (r->chunked_out)
        n = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
    out_buf_t *ob = (n < 0 || len > SIZE_MAX - 64) ? NULL : out_buf_new((size_t)n + len + 2);
    if (!ob) {
        conn_close(c);
        return 0;
    }
    memcpy(ob->data, size_line, (size_t)n);
    memcpy(ob->data + n, data, len);
    if (r->chunked_out)
        memcpy(ob->data + n + len, "\r\n", 2);
    else
        ob->len = len;
    req_push_out(r, ob);
    conn_flush(c);
    return r->aborted ? 0 : req_queued(r);
}

void as_http_stream_end(as_http_req_t *r)
{
    if (!r)
        return;
    if (r->aborted) {
        req_free(r);
        return;
    }
    if (r->state != REQ_STREAMING)
        return;
    as_http_conn_t *c = r->conn;
    r->drain_cb = NULL;
    if (r->chunked_out) {
        static const char last[] = "0\r\n\r\n";
        out_buf_t *ob = out_buf_new(sizeof last - 1);
        if (!ob) {
            conn_close(c);
            req_free(r);
            return;
        }
        memcpy(ob->data, last, sizeof last - 1);
        req_push_out(r, ob);
    }
    r->state = REQ_DONE;
    conn_flush(c);
}

void as_http_stream_abort(as_http_req_t *r, const char *marker)
{
    if (!r)
        return;
    if (r->aborted) {
        req_free(r);
        return;
    }
    if (r->state != REQ_STREAMING)
        return; /* misuse: not streaming */
    r->drain_cb = NULL;
    size_t len = marker ? strlen(marker) : 0;
    if (len) {
        as_http_stream_write(r, marker, len); /* may close the connection (write queue cap) */
        if (r->aborted) {
            req_free(r);
            return;
        }
    }
    /* No "0\r\n\r\n": the response ends with the connection, which closes once the queued
     * bytes are written (conn_flush retires the request and shuts the write side down). */
    as_http_conn_t *c = r->conn;
    r->close_after = 1;
    r->state = REQ_DONE;
    conn_flush(c);
}

int as_http_stream_on_drain(as_http_req_t *r, size_t low_water,
                            void (*cb)(as_http_req_t *r, void *arg), void *arg)
{
    if (!r || !cb || r->aborted || r->state != REQ_STREAMING)
        return 1;
    if (req_queued(r) <= low_water) {
        r->drain_cb = NULL;
        return 1;
    }
    r->drain_cb = cb;
    r->drain_arg = arg;
    r->drain_low = low_water;
    return 0;
}
