/* metrics.c — counters and histograms behind /metrics, in Prometheus' text format. */
#include "metrics.h"

#include "as/log.h"
#include "as/proc.h"
#include "ratelimit.h"

#include <stdarg.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

static const double BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10};
#define NB (sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct hist {
    char key[200];
    char labels[200];
    uint64_t count;
    double sum;
    uint64_t bucket[NB];
    UT_hash_handle hh;
} hist_t;

typedef struct inflight {
    as_http_req_t *r;
    double start;
    const char *route;
    UT_hash_handle hh;
} inflight_t;

static hist_t *http_hists, *upstream_hists;
static inflight_t *inflight;
static const as_http_server_t *http_server;
static const gw_ratelimit_t *rl_principal, *rl_address;
static const gw_inflight_t *inflight_cap;

static const gw_process_load_t *process_load;
void gw_metrics_set_process_load(const gw_process_load_t *l)
{
    process_load = l;
}

void gw_metrics_set_inflight(const gw_inflight_t *f)
{
    inflight_cap = f;
}

void gw_metrics_set_limiters(const gw_ratelimit_t *principal, const gw_ratelimit_t *address)
{
    rl_principal = principal;
    rl_address = address;
}

void gw_metrics_set_server(const as_http_server_t *s)
{
    http_server = s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void observe(hist_t **table, const char *labels, double seconds)
{
    hist_t *h = NULL;
    HASH_FIND_STR(*table, labels, h);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return;
        snprintf(h->key, sizeof h->key, "%s", labels);
        snprintf(h->labels, sizeof h->labels, "%s", labels);
        HASH_ADD_STR(*table, key, h);
    }
    h->count++;
    h->sum += seconds;
    for (size_t i = 0; i < NB; i++)
        if (seconds <= BUCKETS[i])
            h->bucket[i]++;
}

void gw_metrics_begin(as_http_req_t *r, const char *route)
{
    inflight_t *f = NULL;
    HASH_FIND_PTR(inflight, &r, f);
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f)
            return;
        f->r = r;
        HASH_ADD_PTR(inflight, r, f);
    }
    f->start = now_s(); /* a new request may reuse a finished one's address */
    f->route = route;
}

void gw_metrics_on_response(as_http_req_t *r, int status, int aborted, void *ud)
{
    (void)ud;
    /* Refused requests are logged (rate-limited) with the client's address and the reason. */
    if (!aborted && (status == 401 || status == 403 || status == 413 || status == 429 ||
                     status == 431 || status == 408))
        as_http_req_log_refusal(r, status, as_http_status_text(status));
    inflight_t *f = NULL;
    HASH_FIND_PTR(inflight, &r, f);
    if (!f)
        return;
    HASH_DEL(inflight, f);
    char labels[200];
    snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%d\"",
             as_http_req_method(r), f->route ? f->route : "unmatched", aborted ? 499 : status);
    observe(&http_hists, labels, now_s() - f->start);
    free(f);
}

void gw_metrics_upstream(const char *service, int status, double seconds)
{
    char labels[200];
    snprintf(labels, sizeof labels, "service=\"%s\",outcome=\"%s\"", service,
             status == 504   ? "timeout"
             : status >= 500 ? "error"
                             : "ok");
    observe(&upstream_hists, labels, seconds);
}

/* ---- rendering ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return;
        b->p = np;
        b->cap = cap;
    }
}

static void render_hists(sbuf_t *b, hist_t *table, const char *name, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (hist_t *h = table; h; h = h->hh.next) {
        for (size_t i = 0; i < NB; i++)
            sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, h->labels, BUCKETS[i],
                      (unsigned long long)h->bucket[i]);
        sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, h->labels,
                  (unsigned long long)h->count);
        sb_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, h->labels, h->sum, name,
                  h->labels, (unsigned long long)h->count);
    }
}

typedef struct scrape {
    as_http_req_t *r;
    int pending, n;
    const char *names[8];
    As__HealthReply *health[8];
    As__MetricsReply *gauges[8];
    As__MetricsReply *stats[8]; /* each process's own figures (as.StatsRequest) */
} scrape_t;

typedef struct scrape_part {
    scrape_t *s;
    int idx;
    int kind; /* 0 health, 1 gauges, 2 process stats */
} scrape_part_t;

static uint64_t stream_head(scrape_t *s, const char *stream)
{
    for (int i = 0; i < s->n; i++) {
        As__HealthReply *h = s->health[i];
        for (size_t k = 0; h && k < h->n_streams; k++)
            if (h->streams[k]->stream && strcmp(h->streams[k]->stream, stream) == 0 &&
                h->streams[k]->has_head)
                return h->streams[k]->head;
    }
    return 0;
}

#ifndef AS_BUILD_COMMIT
#define AS_BUILD_COMMIT "unknown"
#endif

/* The gateway process itself: CPU seconds, resident memory, open and allowed descriptors, start
 * time (the usual process_* names), and the build it runs. */
static void render_process(sbuf_t *b)
{
    as_proc_t p;
    as_proc_read(&p);
    struct rlimit rl;
    unsigned long long maxfds =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur : 0;
    sb_printf(b,
              "# HELP process_cpu_seconds_total CPU time of the gateway process (user + system)\n"
              "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
              "# HELP process_resident_memory_bytes resident memory of the gateway process\n"
              "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n"
              "# HELP process_open_fds open file descriptors of the gateway process\n"
              "# TYPE process_open_fds gauge\nprocess_open_fds %u\n"
              "# HELP process_max_fds the gateway process's limit of open file descriptors\n"
              "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
              "# HELP process_start_time_seconds when the gateway process started (unix time)\n"
              "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.0f\n"
              "# HELP aftersales_build_info the build the gateway runs (value 1)\n"
              "# TYPE aftersales_build_info gauge\n"
              "aftersales_build_info{program=\"as-gateway\",commit=\"%s\"} 1\n",
              p.cpu_s, (long long)p.rss_bytes, p.fds, maxfds, p.start_s, AS_BUILD_COMMIT);
}

/* The services' process figures: one HELP/TYPE per name, then that name's series of every
 * service that answered, each with its service label first. */
static void render_stats(sbuf_t *b, scrape_t *s)
{
    for (int i = 0; i < s->n; i++) {
        As__MetricsReply *m = s->stats[i];
        for (size_t k = 0; m && k < m->n_metrics; k++) {
            const As__Metric *g = m->metrics[k];
            if (!g->name)
                continue;
            int seen = 0; /* already rendered with an earlier service or entry */
            for (int i2 = 0; i2 <= i && !seen; i2++) {
                As__MetricsReply *m2 = s->stats[i2];
                size_t end = i2 == i ? k : (m2 ? m2->n_metrics : 0);
                for (size_t k2 = 0; m2 && k2 < end && !seen; k2++)
                    seen = m2->metrics[k2]->name && strcmp(m2->metrics[k2]->name, g->name) == 0;
            }
            if (seen)
                continue;
            sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", g->name,
                      g->help && *g->help ? g->help : g->name, g->name,
                      g->kind && strcmp(g->kind, "counter") == 0 ? "counter" : "gauge");
            for (int j = i; j < s->n; j++) {
                As__MetricsReply *mj = s->stats[j];
                for (size_t q = 0; mj && q < mj->n_metrics; q++) {
                    const As__Metric *x = mj->metrics[q];
                    if (!x->name || strcmp(x->name, g->name) != 0)
                        continue;
                    sb_printf(b, "%s{service=\"%s\"%s%s} %.15g\n", x->name, s->names[j],
                              x->labels && *x->labels ? "," : "", x->labels ? x->labels : "",
                              x->value);
                }
            }
        }
    }
}

static void scrape_render(scrape_t *s)
{
    sbuf_t b = {0};
    render_process(&b);
    render_hists(&b, http_hists, "aftersales_http_request_duration_seconds",
                 "HTTP requests by route and status, with latency");
    render_hists(&b, upstream_hists, "aftersales_command_duration_seconds",
                 "command round trips from the gateway to each service");
    as_http_stats_t hs;
    as_http_server_stats(http_server, &hs);
    sb_printf(&b,
              "# HELP aftersales_http_connections HTTP connections open now\n"
              "# TYPE aftersales_http_connections gauge\n"
              "aftersales_http_connections %u\n"
              "# HELP aftersales_http_connections_refused_total connections the gateway closed "
              "to protect itself, by reason\n"
              "# TYPE aftersales_http_connections_refused_total counter\n"
              "aftersales_http_connections_refused_total{reason=\"timeout\"} %llu\n"
              "aftersales_http_connections_refused_total{reason=\"shed\"} %llu\n"
              "aftersales_http_connections_refused_total{reason=\"full\"} %llu\n"
              "aftersales_http_connections_refused_total{reason=\"per_address\"} %llu\n"
              "# HELP aftersales_http_refused_total requests refused by the HTTP layer "
              "(malformed, too large, too slow)\n"
              "# TYPE aftersales_http_refused_total counter\n"
              "aftersales_http_refused_total %llu\n",
              hs.connections, (unsigned long long)hs.timed_out, (unsigned long long)hs.shed,
              (unsigned long long)hs.rejected_full, (unsigned long long)hs.rejected_addr,
              (unsigned long long)hs.refused);
    sb_printf(&b,
              "# HELP aftersales_http_rate_limited_total requests answered 429, by the limit "
              "they hit\n# TYPE aftersales_http_rate_limited_total counter\n"
              "aftersales_http_rate_limited_total{by=\"principal\"} %llu\n"
              "aftersales_http_rate_limited_total{by=\"address\"} %llu\n"
              "aftersales_http_rate_limited_total{by=\"inflight\"} %llu\n",
              (unsigned long long)gw_rl_refused(rl_principal),
              (unsigned long long)gw_rl_refused(rl_address),
              (unsigned long long)gw_if_refused(inflight_cap));
    if (process_load)
        sb_printf(&b,
                  "# HELP aftersales_http_inflight_requests requests waiting on the services "
                  "now, all principals together\n"
                  "# TYPE aftersales_http_inflight_requests gauge\n"
                  "aftersales_http_inflight_requests %llu\n"
                  "# HELP aftersales_http_inflight_requests_limit max_inflight_requests (0: no "
                  "limit)\n# TYPE aftersales_http_inflight_requests_limit gauge\n"
                  "aftersales_http_inflight_requests_limit %ld\n"
                  "# HELP aftersales_http_overloaded_total requests answered 503 because the "
                  "gateway had max_inflight_requests waiting on the services\n"
                  "# TYPE aftersales_http_overloaded_total counter\n"
                  "aftersales_http_overloaded_total %llu\n",
                  (unsigned long long)process_load->current, process_load->cap,
                  (unsigned long long)process_load->refused);
    sb_printf(&b, "# HELP aftersales_service_up 1 when the service answered its health check "
                  "and reaches its database\n# TYPE aftersales_service_up gauge\n");
    for (int i = 0; i < s->n; i++) {
        As__HealthReply *h = s->health[i];
        sb_printf(&b, "aftersales_service_up{service=\"%s\"} %d\n", s->names[i],
                  h && h->status && strcmp(h->status, "ok") == 0);
    }
    sb_printf(&b, "# HELP aftersales_clock_skew_ms the gateway's clock minus the service's, as "
                  "the service saw it on the last command's arrival (transit included)\n"
                  "# TYPE aftersales_clock_skew_ms gauge\n");
    for (int i = 0; i < s->n; i++) {
        As__HealthReply *h = s->health[i];
        if (h && h->has_clock_skew_ms)
            sb_printf(&b, "aftersales_clock_skew_ms{service=\"%s\"} %lld\n", s->names[i],
                      (long long)h->clock_skew_ms);
    }
    sb_printf(&b, "# HELP aftersales_outbox_backlog events committed but not yet published\n"
                  "# TYPE aftersales_outbox_backlog gauge\n");
    for (int i = 0; i < s->n; i++) {
        As__HealthReply *h = s->health[i];
        for (size_t k = 0; h && k < h->n_streams; k++) {
            As__StreamStatus *st = h->streams[k];
            if (st->has_published && st->stream)
                sb_printf(
                    &b, "aftersales_outbox_backlog{stream=\"%s\"} %llu\n", st->stream,
                    (unsigned long long)(st->head > st->published ? st->head - st->published : 0));
        }
    }
    sb_printf(&b, "# HELP aftersales_consumer_lag events of a stream a consumer has not applied "
                  "yet\n# TYPE aftersales_consumer_lag gauge\n");
    for (int i = 0; i < s->n; i++) {
        As__HealthReply *h = s->health[i];
        for (size_t k = 0; h && k < h->n_streams; k++) {
            As__StreamStatus *st = h->streams[k];
            if (!st->has_applied || !st->stream)
                continue;
            uint64_t head = stream_head(s, st->stream);
            sb_printf(&b, "aftersales_consumer_lag{service=\"%s\",stream=\"%s\"} %llu\n",
                      s->names[i], st->stream,
                      (unsigned long long)(head > st->applied ? head - st->applied : 0));
        }
    }
    sb_printf(&b, "# HELP aftersales_commands_total commands answered since the service started\n"
                  "# TYPE aftersales_commands_total counter\n");
    for (int i = 0; i < s->n; i++)
        if (s->health[i])
            sb_printf(&b, "aftersales_commands_total{service=\"%s\"} %llu\n", s->names[i],
                      (unsigned long long)s->health[i]->commands);
    /* The services' own gauges, one HELP/TYPE per name. */
    for (int i = 0; i < s->n; i++) {
        As__MetricsReply *m = s->gauges[i];
        for (size_t k = 0; m && k < m->n_metrics; k++) {
            As__Metric *g = m->metrics[k];
            int first = 1;
            for (size_t j = 0; j < k; j++)
                if (strcmp(m->metrics[j]->name, g->name) == 0)
                    first = 0;
            if (first)
                sb_printf(&b, "# HELP %s %s\n# TYPE %s gauge\n", g->name,
                          g->help && *g->help ? g->help : g->name, g->name);
            sb_printf(&b, "%s{%s%s} %g\n", g->name, g->labels ? g->labels : "",
                      g->labels && *g->labels ? "" : "", g->value);
        }
    }
    render_stats(&b, s);
    as_http_respond(s->r, 200, "text/plain; version=0.0.4", b.p ? b.p : "", b.len, NULL);
    free(b.p);
    for (int i = 0; i < s->n; i++) {
        if (s->health[i])
            as__health_reply__free_unpacked(s->health[i], NULL);
        if (s->gauges[i])
            as__metrics_reply__free_unpacked(s->gauges[i], NULL);
        if (s->stats[i])
            as__metrics_reply__free_unpacked(s->stats[i], NULL);
    }
    free(s);
}

static void scrape_done(int status, const As__Reply *reply, void *ud)
{
    scrape_part_t *p = ud;
    scrape_t *s = p->s;
    if (status == 200 && reply && reply->has_body) {
        if (p->kind == 0)
            s->health[p->idx] = as__health_reply__unpack(NULL, reply->body.len, reply->body.data);
        else if (p->kind == 1)
            s->gauges[p->idx] = as__metrics_reply__unpack(NULL, reply->body.len, reply->body.data);
        else
            s->stats[p->idx] = as__metrics_reply__unpack(NULL, reply->body.len, reply->body.data);
    }
    free(p);
    if (--s->pending == 0)
        scrape_render(s);
}

void gw_metrics_scrape(as_http_req_t *r, as_client_t *const *clients, const char *const *names,
                       int n)
{
    scrape_t *s = calloc(1, sizeof *s);
    if (!s || n > 8) {
        free(s);
        as_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    s->r = r;
    s->n = n;
    s->pending = 3 * n;
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    As__MetricsRequest mq = AS__METRICS_REQUEST__INIT;
    As__StatsRequest sq = AS__STATS_REQUEST__INIT;
    static const char *const types[3] = {"as.HealthRequest", "as.MetricsRequest",
                                         "as.StatsRequest"};
    const ProtobufCMessage *reqs[3] = {&hq.base, &mq.base, &sq.base};
    for (int i = 0; i < n; i++) {
        s->names[i] = names[i];
        for (int kind = 0; kind < 3; kind++) {
            scrape_part_t *p = malloc(sizeof *p);
            if (p) {
                p->s = s;
                p->idx = i;
                p->kind = kind;
            }
            if (!p || as_client_call(clients[i], types[kind], reqs[kind], NULL, NULL, NULL, 2000,
                                     scrape_done, p) < 0) {
                if (p)
                    scrape_done(503, NULL, p);
                else if (--s->pending == 0)
                    scrape_render(s);
            }
        }
    }
}
