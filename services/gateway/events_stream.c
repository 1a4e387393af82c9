/* events_stream.c — Server-Sent Events on the integrators' event feed (issue 20.1;
 * docs/notify.md "The pull feed").
 *
 * GET /v1/events with `Accept: text/event-stream` keeps the connection and streams the feed from
 * the cursor: `Last-Event-ID` (a reconnecting EventSource sends the id of the last event it got)
 * or else `after`. The gateway asks notify for the next page (notify.ListEvents, as the caller,
 * so the scope and the masking are the pull feed's) every second, and at once again while pages
 * come back full; each event is written as
 *
 *   id: <position>\nevent: <type>\ndata: <the event, as the pull feed gives it>\n\n
 *
 * and a comment line (": heartbeat") goes out after sse_heartbeat_s without an event, so that
 * proxies and clients see a live connection.
 *
 * Bounded per connection: one request to notify at a time, one page (at most 100 events) in
 * memory, and no new page while more than 256 kB wait to be written to the client (the page is
 * asked for when the client has drained them); a stream ends after sse_max_duration_s (the
 * client reconnects with Last-Event-ID and loses nothing). Bounded per principal: at most
 * sse_max_streams_per_principal streams at once (429 beyond). When the gateway drains, every
 * stream is ended (the clients reconnect to another gateway), and so is a stream whose token is
 * revoked or whose user changes (disabled, password reset: the people stream says so) — the
 * client reconnects and is authenticated again. */
#include "as/log.h"
#include "events_stream.h"
#include "notify.pb-c.h"
#include "ratelimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <uv.h>

#define SSE_PAGE            100
#define SSE_POLL_MS         1000
#define SSE_HIGH_WATER      (256u * 1024u)
#define SSE_FAIL_BACKOFF_MS 3000

typedef struct sse sse_t;
struct sse {
    as_http_req_t *r;
    gw_principal_t p;
    char key[96];   /* the principal's key (the cap per principal) */
    char type[120]; /* the type filter, or "" */
    int64_t cursor;
    int64_t seen_head; /* the feed's head at the previous empty page (0: none) */
    uint64_t started_ms, last_write_ms;
    uv_timer_t timer;
    int in_call; /* a ListEvents is on its way */
    int closing; /* ended: waiting for the reply in flight (if any) and the timer's close */
    sse_t *next;
};

typedef struct count {
    char key[96];
    int n;
    UT_hash_handle hh;
} count_t;

static uv_loop_t *sse_loop;
static long sse_heartbeat_s = 15, sse_max_per_principal = 3, sse_max_duration_s = 3600;
static sse_t *streams;
static count_t *counts;
static unsigned n_streams;

void gw_sse_configure(uv_loop_t *loop, long heartbeat_s, long max_per_principal,
                      long max_duration_s)
{
    sse_loop = loop;
    sse_heartbeat_s = heartbeat_s;
    sse_max_per_principal = max_per_principal;
    sse_max_duration_s = max_duration_s;
}

unsigned gw_sse_count(void)
{
    return n_streams;
}

int gw_sse_wanted(as_http_req_t *r)
{
    const char *accept = as_http_req_header(r, "Accept");
    return accept && strstr(accept, "text/event-stream") != NULL;
}

static uint64_t now_ms(void)
{
    return uv_now(sse_loop);
}

static count_t *count_of(const char *key)
{
    count_t *c = NULL;
    HASH_FIND_STR(counts, key, c);
    return c;
}

static void freed(uv_handle_t *h)
{
    free(h->data);
}

/* Unlink, uncount and (once no reply is pending) free the stream. The HTTP request is ended by
 * the caller before. */
static void sse_release(sse_t *s)
{
    if (!s->closing) {
        s->closing = 1;
        for (sse_t **pp = &streams; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
        n_streams--;
        count_t *c = count_of(s->key);
        if (c && --c->n <= 0) {
            HASH_DEL(counts, c);
            free(c);
        }
        uv_timer_stop(&s->timer);
    }
    if (!s->in_call)
        uv_close((uv_handle_t *)&s->timer, freed);
}

static void sse_end(sse_t *s)
{
    if (s->closing)
        return;
    as_http_stream_end(s->r);
    s->r = NULL;
    sse_release(s);
}

static void write_text(sse_t *s, const char *data, size_t len)
{
    if (!len)
        len = strlen(data);
    as_http_stream_write(s->r, data, len);
    s->last_write_ms = now_ms();
}

static void schedule(sse_t *s, uint64_t ms);

static void drained(as_http_req_t *r, void *arg)
{
    (void)r;
    sse_t *s = arg;
    if (!s->closing)
        schedule(s, 0);
}

static void page_done(int status, const As__Reply *reply, void *ud)
{
    sse_t *s = ud;
    s->in_call = 0;
    if (s->closing) {
        sse_release(s);
        return;
    }
    if (as_http_req_aborted(s->r)) {
        sse_end(s);
        return;
    }
    Notify__EventPage *pg =
        status == 200 ? (Notify__EventPage *)gw_reply_body(reply, &notify__event_page__descriptor)
                      : NULL;
    json_t *page = pg && pg->json ? json_loads(pg->json, 0, NULL) : NULL;
    if (pg)
        protobuf_c_message_free_unpacked(&pg->base, NULL);
    if (!page) {
        /* notify refused (e.g. the role lost the feed) or did not answer: say so, try later */
        int code = reply && reply->has_status ? (int)reply->status : status;
        if (code == 401 || code == 403) {
            write_text(s, "event: error\ndata: {\"code\":\"forbidden\"}\n\n", 0);
            sse_end(s);
            return;
        }
        schedule(s, SSE_FAIL_BACKOFF_MS);
        return;
    }
    json_t *events = json_object_get(page, "events");
    size_t i, n = json_array_size(events);
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char *data = json_dumps(ev, JSON_COMPACT);
        if (!data)
            continue;
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_int_t pos = json_integer_value(json_object_get(ev, "position"));
        size_t cap = strlen(data) + 200;
        char *buf = malloc(cap);
        if (buf) {
            int len = snprintf(buf, cap, "id: %" JSON_INTEGER_FORMAT "\nevent: %s\ndata: %s\n\n",
                               pos, type ? type : "event", data);
            if (len > 0)
                write_text(s, buf, (size_t)len);
            free(buf);
        }
        free(data);
        if (pos > s->cursor)
            s->cursor = pos;
    }
    /* With nothing to send, the cursor moves past what this principal may not see (or the type
     * filter skips) — but only to the head seen one poll earlier: positions are taken before
     * their events commit, so a position just below the head may still be on its way. A poll
     * later it has committed (it would have been in this page) or was never this stream's. */
    json_t *next = json_object_get(page, "next");
    if (n == 0 && json_is_integer(next)) {
        int64_t head = json_integer_value(next);
        if (s->seen_head > s->cursor && s->seen_head <= head)
            s->cursor = s->seen_head;
        s->seen_head = head;
    } else {
        s->seen_head = 0;
    }
    json_decref(page);
    if (as_http_req_aborted(s->r)) {
        sse_end(s);
        return;
    }
    if (sse_max_duration_s > 0 && now_ms() - s->started_ms >= (uint64_t)sse_max_duration_s * 1000) {
        sse_end(s); /* the client reconnects with Last-Event-ID */
        return;
    }
    if (as_http_stream_on_drain(s->r, SSE_HIGH_WATER, drained, s) == 0)
        return; /* too much waits for the client: the next page when it has read it */
    schedule(s, n >= SSE_PAGE ? 0 : SSE_POLL_MS);
}

static void tick(uv_timer_t *t)
{
    sse_t *s = t->data;
    if (s->closing || s->in_call)
        return;
    if (as_http_req_aborted(s->r)) {
        sse_end(s);
        return;
    }
    if (now_ms() - s->last_write_ms >= (uint64_t)sse_heartbeat_s * 1000)
        write_text(s, ": heartbeat\n\n", 0);
    Notify__ListEvents m = NOTIFY__LIST_EVENTS__INIT;
    m.has_after = 1;
    m.after = s->cursor;
    m.has_limit = 1;
    m.limit = SSE_PAGE;
    m.type = s->type[0] ? s->type : NULL;
    char rid[40];
    as_new_id(rid);
    s->in_call = 1;
    if (gw_call_service("notify", "notify.ListEvents", &m.base, rid, &s->p, page_done, s) < 0) {
        s->in_call = 0;
        schedule(s, SSE_FAIL_BACKOFF_MS);
    }
}

static void schedule(sse_t *s, uint64_t ms)
{
    uv_timer_start(&s->timer, tick, ms, 0);
}

static int parse_cursor(const char *v, int64_t *out)
{
    if (!v || !*v || strlen(v) > 18)
        return -1;
    for (const char *c = v; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    *out = strtoll(v, NULL, 10);
    return 0;
}

void gw_sse_start(as_http_req_t *r, const gw_principal_t *p)
{
    int64_t cursor = 0;
    const char *last = as_http_req_header(r, "Last-Event-ID");
    const char *after = as_http_req_query(r, "after");
    if (last ? parse_cursor(last, &cursor) < 0 : after && parse_cursor(after, &cursor) < 0) {
        as_http_respond_error(r, 400, "bad_query",
                              last ? "Last-Event-ID: the position of an event (digits)"
                                   : "after: a position (0 or more)");
        return;
    }
    const char *type = as_http_req_query(r, "type");
    if (type && strlen(type) >= 120) {
        as_http_respond_error(r, 400, "bad_query", "type: too long");
        return;
    }
    char key[96];
    gw_rl_principal_key(p, key, sizeof key);
    count_t *c = count_of(key);
    if (c && c->n >= sse_max_per_principal) {
        char hdr[40], msg[160];
        snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", 5);
        int n = snprintf(msg, sizeof msg,
                         "{\"error\":{\"code\":\"too_many_streams\",\"message\":\"at most %ld "
                         "event streams at once per principal\"}}",
                         sse_max_per_principal);
        as_http_respond(r, 429, "application/json", msg, (size_t)n, hdr);
        return;
    }
    sse_t *s = calloc(1, sizeof *s);
    if (!c)
        c = calloc(1, sizeof *c);
    if (!s || !c) {
        free(s);
        if (c && !count_of(key))
            free(c);
        as_http_respond_error(r, 503, "overloaded", "out of memory");
        return;
    }
    if (!count_of(key)) {
        snprintf(c->key, sizeof c->key, "%s", key);
        HASH_ADD_STR(counts, key, c);
    }
    c->n++;
    s->r = r;
    s->p = *p;
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->type, sizeof s->type, "%s", type ? type : "");
    s->cursor = cursor;
    s->started_ms = s->last_write_ms = now_ms();
    uv_timer_init(sse_loop, &s->timer);
    s->timer.data = s;
    s->next = streams;
    streams = s;
    n_streams++;
    as_http_stream_begin(r, 200, "text/event-stream; charset=utf-8",
                         "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
    write_text(s, "retry: 3000\n: stream of the event feed\n\n", 0);
    schedule(s, 0);
}

void gw_sse_drop(const char *token_id, const char *login)
{
    sse_t *s = streams, *next;
    for (; s; s = next) {
        next = s->next;
        if (s->p.kind == GW_FILE)
            continue; /* the tokens file's principals change only with a reload */
        if ((token_id && s->p.token_id[0] && strcmp(s->p.token_id, token_id) == 0) ||
            (login && strcmp(s->p.subject, login) == 0)) {
            AS_INFO("event stream ended: its identity changed", "subject=%s", s->p.subject);
            sse_end(s);
        }
    }
}

void gw_sse_shutdown(void)
{
    while (streams)
        sse_end(streams);
}
