/* deliver.c — the webhook sender: durable delivery rows posted with libcurl on the libuv loop.
 *
 * A fetch (due_deliveries() in SQL) returns the next due delivery of each (webhook, stream)
 * that has none in flight, so a receiver sees each stream in order. Each one becomes a curl easy
 * handle on one multi handle driven by the loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION with
 * uv_poll and uv_timer). The body is the stored JSON; the headers carry the event id and a
 * signature: HMAC-SHA256 with the webhook's secret over "<timestamp>.<body>". When the answer
 * is in, delivery_done() records it (2xx: delivered for good; otherwise a retry with back-off)
 * and only then is the pair free again. A kill at any moment leaves the row pending: it is sent
 * again with the same Event-Id (receivers dedupe by it); a recorded delivery is never resent. */
#include "as/log.h"
#include "notify.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    struct job *next;
    char kind; /* 'w' a webhook delivery, 'n' a customer notification */
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char pair[96]; /* "webhook stream", or "n:<id>" for a notification */
    char id[24];
    char error[CURL_ERROR_SIZE];
} job_t;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
} sock_ctx_t;

static struct {
    as_service_t *svc;
    CURLM *multi;
    uv_timer_t curl_timer, poll_timer;
    int started, stopping, fetching, refetch;
    job_t *jobs; /* in flight or being recorded */
    unsigned njobs;
} nd;

static void fetch(void);

/* ---- libcurl on the loop ---- */

static void check_done(void);

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_ctx_t *s = h->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(nd.multi, s->fd, flags, &running);
    check_done();
}

static void free_sock(uv_handle_t *h)
{
    free(h->data);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    (void)userp;
    sock_ctx_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            curl_multi_assign(nd.multi, fd, NULL);
            uv_close((uv_handle_t *)&s->poll, free_sock);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->fd = fd;
        if (uv_poll_init_socket(nd.svc->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(nd.multi, fd, s);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    (void)t;
    int running;
    curl_multi_socket_action(nd.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done();
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    (void)userp;
    if (timeout_ms < 0)
        uv_timer_stop(&nd.curl_timer);
    else
        uv_timer_start(&nd.curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- jobs ---- */

static void job_free(job_t *j)
{
    for (job_t **p = &nd.jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    nd.njobs--;
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    free(j);
}

static void recorded(const as_db_result_t *r, void *ud)
{
    job_t *j = ud;
    if (!r->ok)
        AS_WARN("cannot record a delivery attempt", "delivery=%s error=\"%s\"", j->id,
                r->message ? r->message : "");
    job_free(j);
    if (!nd.stopping)
        fetch();
}

static void check_done(void)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(nd.multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        job_t *j = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        char status[16], err[CURL_ERROR_SIZE + 40];
        const char *errp = NULL;
        if (msg->data.result != CURLE_OK) {
            code = 0;
            snprintf(err, sizeof err, "%s",
                     j->error[0] ? j->error : curl_easy_strerror(msg->data.result));
            errp = err;
        } else if (code < 200 || code > 299) {
            snprintf(err, sizeof err, "the receiver answered HTTP %ld", code);
            errp = err;
        }
        curl_multi_remove_handle(nd.multi, msg->easy_handle);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
        snprintf(status, sizeof status, "%ld", code);
        AS_INFO(j->kind == 'n' ? "customer notification" : "webhook delivery", "id=%s status=%ld",
                j->id, code);
        const char *p[3] = {j->id, status, errp};
        as_db_stmt_t st = {j->kind == 'n' ? "SELECT notification_done($1::bigint, $2::int, $3)"
                                          : "SELECT delivery_done($1::bigint, $2::int, $3)",
                           3, p};
        if (as_db_submit(nd.svc->db, &st, 1, recorded, j) < 0) {
            /* The queue is full: the row stays pending and is sent again later. */
            job_free(j);
        }
    }
}

static void hex(const unsigned char *in, unsigned n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int add_header(job_t *j, const char *fmt, const char *value)
{
    char line[512];
    snprintf(line, sizeof line, fmt, value);
    struct curl_slist *n = curl_slist_append(j->headers, line);
    if (!n)
        return -1;
    j->headers = n;
    return 0;
}

/* "v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>" into out. Returns 0 or -1. */
static int sign(const char *secret, const char *ts, const char *body, size_t blen, char *out,
                size_t outlen)
{
    size_t tlen = strlen(ts);
    unsigned char *text = malloc(tlen + 1 + blen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    char machex[2 * EVP_MAX_MD_SIZE + 4];
    if (!text)
        return -1;
    memcpy(text, ts, tlen);
    text[tlen] = '.';
    memcpy(text + tlen + 1, body, blen);
    int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), text, tlen + 1 + blen, mac, &maclen) !=
             NULL;
    free(text);
    if (!ok)
        return -1;
    hex(mac, maclen, machex);
    snprintf(out, outlen, "v1=%s", machex);
    return 0;
}

static job_t *job_new(char kind, const char *id, const char *body)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->body = strdup(body);
    j->easy = curl_easy_init();
    j->next = nd.jobs;
    nd.jobs = j;
    nd.njobs++;
    if (!j->body || !j->easy) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* POST j->body to url with j->headers on the multi handle. */
static void launch(job_t *j, const char *url)
{
    if (add_header(j, "Content-Type: %s", "application/json") < 0 ||
        add_header(j, "User-Agent: %s", "aftersales-notify/1") < 0 ||
        add_header(j, "Expect:%s", "") < 0) {
        job_free(j);
        return;
    }
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, nt_cfg.timeout_s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, nt_cfg.timeout_s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
    if (curl_multi_add_handle(nd.multi, e) != CURLM_OK)
        job_free(j);
}

/* Start one webhook delivery: row (id, url, secret, webhook_id, event_id, type, body,
 * attempts). */
static void start_delivery(const PGresult *res, int row)
{
    job_t *j = job_new('w', as_db_value(res, row, 0), as_db_value(res, row, 6));
    if (!j)
        return;
    const char *event_id = as_db_value(res, row, 4);
    const char *colon = strrchr(event_id, ':');
    snprintf(j->pair, sizeof j->pair, "%s %.*s", as_db_value(res, row, 3),
             colon ? (int)(colon - event_id) : 0, event_id);
    char ts[24], sig[2 * EVP_MAX_MD_SIZE + 8];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    if (sign(as_db_value(res, row, 2), ts, j->body, strlen(j->body), sig, sizeof sig) < 0 ||
        add_header(j, "Event-Id: %s", event_id) < 0 ||
        add_header(j, "Event-Type: %s", as_db_value(res, row, 5)) < 0 ||
        add_header(j, "Webhook-Id: %s", as_db_value(res, row, 3)) < 0 ||
        add_header(j, "Webhook-Timestamp: %s", ts) < 0 ||
        add_header(j, "Webhook-Signature: %s", sig) < 0) {
        job_free(j);
        return;
    }
    launch(j, as_db_value(res, row, 1));
}

/* ---- the customer's channels: one adapter each, behind one interface ----
 * An adapter names its URL and adds its headers; the body (JSON) was made by SQL
 * (due_notifications), the POST, the retries and the record are shared. */

typedef struct nt_channel {
    const char *name;
    char **url;
    int (*headers)(job_t *j);
} nt_channel_t;

/* A generic SMS provider's HTTP API: POST {to, text, ref} with the API key as a bearer token
 * and the notification's reference as the idempotency key (providers dedupe on it). */
static int sms_headers(job_t *j)
{
    char ref[40];
    snprintf(ref, sizeof ref, "ntf-%s", j->id);
    if (nt_cfg.sms_key && *nt_cfg.sms_key &&
        add_header(j, "Authorization: Bearer %s", nt_cfg.sms_key) < 0)
        return -1;
    return add_header(j, "Idempotency-Key: %s", ref);
}

/* A generic webhook: the notification as JSON, signed like the integrators' webhooks. */
static int webhook_headers(job_t *j)
{
    char ref[40], ts[24], sig[2 * EVP_MAX_MD_SIZE + 8];
    snprintf(ref, sizeof ref, "ntf-%s", j->id);
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    const char *secret = nt_cfg.customer_webhook_secret ? nt_cfg.customer_webhook_secret : "";
    if (sign(secret, ts, j->body, strlen(j->body), sig, sizeof sig) < 0)
        return -1;
    if (add_header(j, "Event-Id: %s", ref) < 0 ||
        add_header(j, "Event-Type: %s", "notify.CustomerNotification") < 0 ||
        add_header(j, "Webhook-Timestamp: %s", ts) < 0 ||
        add_header(j, "Webhook-Signature: %s", sig) < 0)
        return -1;
    return 0;
}

static const nt_channel_t CHANNELS[] = {
    {"sms", &nt_cfg.sms_url, sms_headers},
    {"webhook", &nt_cfg.customer_webhook_url, webhook_headers},
};

/* Start one notification: row (id, channel, body). */
static void start_notification(const PGresult *res, int row)
{
    const char *channel = as_db_value(res, row, 1);
    const nt_channel_t *c = NULL;
    for (size_t i = 0; i < sizeof CHANNELS / sizeof CHANNELS[0]; i++)
        if (strcmp(CHANNELS[i].name, channel) == 0)
            c = &CHANNELS[i];
    if (!c || !*c->url || !**c->url)
        return; /* not configured in this process: it waits */
    job_t *j = job_new('n', as_db_value(res, row, 0), as_db_value(res, row, 2));
    if (!j)
        return;
    snprintf(j->pair, sizeof j->pair, "n:%s", j->id);
    if (c->headers(j) < 0) {
        job_free(j);
        return;
    }
    launch(j, *c->url);
}

/* ---- fetching due rows ---- */

static void fetched(const as_db_result_t *r, void *ud)
{
    (void)ud;
    nd.fetching = 0;
    if (nd.stopping)
        return;
    if (!r->ok) {
        AS_WARN("cannot read due deliveries", "error=\"%s\"", r->message ? r->message : "");
        return;
    }
    const PGresult *res = r->res[0];
    int n = PQntuples(res);
    for (int i = 0; i < n && nd.njobs < (unsigned)nt_cfg.max_inflight; i++)
        start_delivery(res, i);
    res = r->res[1];
    n = PQntuples(res);
    for (int i = 0; i < n && nd.njobs < (unsigned)nt_cfg.max_inflight; i++)
        start_notification(res, i);
    if (nd.refetch) {
        nd.refetch = 0;
        fetch();
    }
}

static void fetch(void)
{
    if (nd.stopping)
        return;
    if (nd.fetching) {
        nd.refetch = 1;
        return;
    }
    if (nd.njobs >= (unsigned)nt_cfg.max_inflight)
        return;
    /* the pairs in flight, as a text[] literal (ids and stream names are plain words) */
    size_t cap = 8 + (size_t)nd.njobs * (sizeof nd.jobs->pair + 4), len = 0;
    char *busy = malloc(cap);
    if (!busy)
        return;
    busy[len++] = '{';
    for (job_t *j = nd.jobs; j; j = j->next)
        len += (size_t)snprintf(busy + len, cap - len, "%s\"%s\"", len > 1 ? "," : "", j->pair);
    busy[len++] = '}';
    busy[len] = 0;
    char lim[16];
    snprintf(lim, sizeof lim, "%ld", nt_cfg.max_inflight - (long)nd.njobs);
    const char *p[2] = {lim, busy};
    as_db_stmt_t st[2] = {{"SELECT * FROM due_deliveries($1::int, $2::text[])", 2, p},
                          {"SELECT * FROM due_notifications($1::int, $2::text[])", 2, p}};
    nd.fetching = 1;
    if (as_db_submit(nd.svc->db, st, 2, fetched, NULL) < 0)
        nd.fetching = 0;
    free(busy);
}

static void on_poll_timer(uv_timer_t *t)
{
    (void)t;
    fetch();
}

static void settings_done(const as_db_result_t *r, void *ud)
{
    (void)ud;
    if (!r->ok)
        AS_WARN("cannot write the settings", "error=\"%s\"", r->message ? r->message : "");
}

int nt_deliver_start(as_service_t *svc)
{
    nd.svc = svc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        AS_ERROR("cannot initialise libcurl", "library=libcurl");
        return -1;
    }
    nd.multi = curl_multi_init();
    if (!nd.multi)
        return -1;
    curl_multi_setopt(nd.multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(nd.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    uv_timer_init(svc->loop, &nd.curl_timer);
    uv_timer_init(svc->loop, &nd.poll_timer);
    nd.started = 1;
    /* SQL decides the back-off with the same values as this process */
    char base[24], max[24], att[24];
    snprintf(base, sizeof base, "%ld", nt_cfg.retry_base_ms);
    snprintf(max, sizeof max, "%ld", nt_cfg.retry_max_s);
    snprintf(att, sizeof att, "%ld", nt_cfg.max_attempts);
    const char *p[3] = {base, max, att};
    char qs[8], qe[8];
    snprintf(qs, sizeof qs, "%ld", nt_cfg.quiet_start_h);
    snprintf(qe, sizeof qe, "%ld", nt_cfg.quiet_end_h);
    const char *pq[2] = {qs, qe};
    const char *pc[2] = {nt_cfg.sms_url && *nt_cfg.sms_url ? "true" : "false",
                         nt_cfg.customer_webhook_url && *nt_cfg.customer_webhook_url ? "true"
                                                                                     : "false"};
    const char *pu[1] = {nt_cfg.status_page_url ? nt_cfg.status_page_url : ""};
    as_db_stmt_t st[4] = {
        {"UPDATE settings SET value = CASE name WHEN 'retry_base_ms' THEN $1::bigint "
         "WHEN 'retry_max_s' THEN $2::bigint ELSE $3::bigint END "
         "WHERE name IN ('retry_base_ms', 'retry_max_s', 'max_attempts')",
         3, p},
        {"UPDATE settings SET value = CASE name WHEN 'quiet_start_h' THEN $1::bigint "
         "ELSE $2::bigint END WHERE name IN ('quiet_start_h', 'quiet_end_h')",
         2, pq},
        {"INSERT INTO channels(name, enabled) VALUES ('sms', $1::boolean), "
         "('webhook', $2::boolean) ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
         2, pc},
        {"INSERT INTO text_settings(name, value) VALUES ('status_page_url', $1) "
         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
         1, pu},
    };
    if (as_db_submit(svc->db, st, 4, settings_done, NULL) < 0)
        AS_WARN("cannot write the settings", "reason=\"database queue full\"");
    uv_timer_start(&nd.poll_timer, on_poll_timer, (uint64_t)nt_cfg.poll_ms,
                   (uint64_t)nt_cfg.poll_ms);
    AS_INFO("webhook sender started", "poll_ms=%ld max_inflight=%ld", nt_cfg.poll_ms,
            nt_cfg.max_inflight);
    return 0;
}

void nt_deliver_stop(void)
{
    if (!nd.started)
        return;
    nd.stopping = 1;
    uv_timer_stop(&nd.poll_timer);
    uv_timer_stop(&nd.curl_timer);
    /* Attempts in flight are abandoned: their rows stay pending and go again after a restart. */
    for (job_t *j = nd.jobs, *next; j; j = next) {
        next = j->next;
        if (j->easy) {
            curl_multi_remove_handle(nd.multi, j->easy);
            job_free(j);
        }
    }
    curl_multi_cleanup(nd.multi);
    nd.multi = NULL;
    uv_close((uv_handle_t *)&nd.poll_timer, NULL);
    uv_close((uv_handle_t *)&nd.curl_timer, NULL);
    nd.started = 0;
}
