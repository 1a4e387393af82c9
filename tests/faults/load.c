/* load.c — the fault suite's load driver (as-faults-load): N repair tickets, each taken through
 * its whole journey over HTTP by one of C worker threads, while the suite breaks things.
 *
 *   open -> (warranty decides) -> diagnosis -> [consent] -> parts request -> (parts reserves)
 *        -> repair complete -> hand-back            (awaiting_review: cancel; refund/exchange
 *                                                    granted: hand-back at once)
 *
 * Every POST carries an Idempotency-Key made of the run id, the ticket's index and the step, and
 * is retried with the same key until it gets an answer: a retry after a lost answer is applied
 * once (the service stores the reply with the effect). So a ticket is ACKNOWLEDGED when its open
 * request got 201 (or the stored 201 again), and the suite then proves every acknowledged ticket
 * exists and reached a final state.
 *
 * Every failed attempt (no answer, 5xx) is counted and logged with its time, so the suite can
 * tell how many requests the clients saw fail during each fault and for how long.
 *
 * Usage:
 *   as-faults-load --url URL --token T [--token T2 ...] --tickets N [--concurrency C]
 *                  [--run ID] [--sku-request SKU] [--sku-use SKU] [--acks FILE]
 *                  [--errors FILE] [--progress FILE] [--ticket-timeout S] [--rate R]
 * Prints a summary (key=value lines) at the end; exit 0 when every ticket was acknowledged and
 * reached a final state, 1 otherwise, 2 on bad usage. */
#include "as/check.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKENS 8

static const char *opt_url;
static const char *opt_tokens[MAX_TOKENS];
static int opt_ntokens;
static long opt_tickets = 100, opt_conc = 16, opt_ticket_timeout = 900;
static double opt_rate; /* tickets opened per second, at most (0: no limit) */
static const char *opt_run = "run";
static const char *opt_sku_request = "FLT-PORT", *opt_sku_use;
static const char *opt_acks, *opt_errors, *opt_progress;

static atomic_long next_ticket, n_acked, n_final, n_abandoned, n_requests, n_failed_attempts,
    n_transport, n_5xx, n_unexpected, n_500, n_502, n_503, n_504, n_409;
static atomic_int done_workers;
static long outcome_counts[8];
static const char *outcome_names[8] = {"closed",    "cancelled", "declined", "refunded",
                                       "exchanged", "other",     NULL,       NULL};
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *acks_f, *errors_f;
static double t_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

typedef struct worker {
    CURL *curl;
    buf_t body;
    unsigned seed;
} worker_t;

static void log_failure(const char *method, const char *path, long status, const char *what)
{
    if (!errors_f)
        return;
    pthread_mutex_lock(&out_mu);
    fprintf(errors_f, "%.3f %s %s %ld %s\n", now_s(), method, path, status, what);
    fflush(errors_f);
    pthread_mutex_unlock(&out_mu);
}

/* One HTTP exchange. Returns the status (0 = no answer: connection refused, reset, timeout). */
static long http_once(worker_t *w, const char *method, const char *path, const char *token,
                      const char *key, const char *json, char *cerr, size_t cerrlen)
{
    char url[512], auth[256], idem[160];
    snprintf(url, sizeof url, "%s%s", opt_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    if (json)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        h = curl_slist_append(h, idem);
    }
    w->body.n = 0;
    if (w->body.p)
        w->body.p[0] = 0;
    CURL *c = w->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &w->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (json) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(cerr, cerrlen, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    atomic_fetch_add(&n_requests, 1);
    return status;
}

/* A request retried (same idempotency key) until it gets an answer that is not a server-side
 * failure, or until `deadline`. Returns the final status (0 when it never got one). */
static long http_retry(worker_t *w, const char *method, const char *path, const char *token,
                       const char *key, const char *json, double deadline)
{
    long backoff = 50;
    int same500 = 0;
    for (;;) {
        char cerr[128] = "";
        long st = http_once(w, method, path, token, key, json, cerr, sizeof cerr);
        if (st != 0 && st < 500)
            return st;
        atomic_fetch_add(&n_failed_attempts, 1);
        if (st == 0) {
            atomic_fetch_add(&n_transport, 1);
            log_failure(method, path, 0, cerr[0] ? cerr : "no answer");
        } else {
            atomic_fetch_add(&n_5xx, 1);
            if (st == 500)
                atomic_fetch_add(&n_500, 1);
            else if (st == 502)
                atomic_fetch_add(&n_502, 1);
            else if (st == 503)
                atomic_fetch_add(&n_503, 1);
            else if (st == 504)
                atomic_fetch_add(&n_504, 1);
            char what[200];
            const char *b = w->body.p ? w->body.p : "";
            snprintf(what, sizeof what, "%.*s", 180, b);
            for (char *q = what; *q; q++)
                if (*q == '\n')
                    *q = ' ';
            log_failure(method, path, st, what);
            /* A 500 is a bug, not an outage: the same key gets the same stored answer. */
            if (st == 500 && ++same500 >= 3)
                return st;
        }
        if (now_s() > deadline)
            return st;
        sleep_ms(backoff + (long)(rand_r(&w->seed) % 50));
        if (backoff < 1000)
            backoff *= 2;
    }
}

static void luhn_imei(char out[16], unsigned long long base)
{
    snprintf(out, 16, "35%012llu", base % 1000000000000ULL);
    as_imei_finish(out);
}

static unsigned long long run_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int is_final(const char *st)
{
    static const char *f[] = {"closed", "cancelled", "declined", "refunded", "exchanged"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(st, f[i]) == 0)
            return (int)i;
    return -1;
}

static void unexpected(long idx, const char *step, long st, const char *body)
{
    atomic_fetch_add(&n_unexpected, 1);
    fprintf(stderr, "ticket #%ld: %s answered %ld: %.300s\n", idx, step, st, body ? body : "");
}

/* Take ticket `idx` through its journey. Returns 1 when it ended in a final state. */
static int journey(worker_t *w, long idx)
{
    char key[160], path[256], imei[16], inv[16], json[1024], id[64] = "";
    const char *token = opt_tokens[idx % opt_ntokens];
    double started = now_s(), deadline = started + (double)opt_ticket_timeout;
    luhn_imei(imei, run_hash(opt_run) % 1000000ULL * 1000000ULL + (unsigned long long)idx);
    time_t t = time(NULL) - 40 * 86400 + 8 * 3600; /* 40 days ago, Asia/Shanghai */
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(inv, sizeof inv, "%Y-%m-%d", &tm);
    snprintf(json, sizeof json,
             "{\"customer\":{\"name\":\"flt-%s\",\"phone\":\"136%08ld\"},"
             "\"device\":{\"category\":\"phone_host\",\"brand\":\"Huaxin\",\"model\":\"HX-10\","
             "\"imei\":\"%s\"},\"purchase\":{\"invoice_date\":\"%s\",\"price_cents\":150000,"
             "\"invoice\":true,\"warranty_card\":true},\"fault\":{\"code\":\"NO_DISPLAY\","
             "\"listed\":true},\"request\":\"repair\"}",
             opt_run, idx % 100000000L, imei, inv);
    snprintf(key, sizeof key, "flt-%s-%ld-open", opt_run, idx);
    long st = http_retry(w, "POST", "/v1/tickets", token, key, json, deadline);
    if (st != 201 && st != 200) {
        unexpected(idx, "open", st, w->body.p);
        return 0;
    }
    json_t *j = json_loads(w->body.p, 0, NULL);
    const char *s = j ? json_string_value(json_object_get(j, "id")) : NULL;
    if (s)
        snprintf(id, sizeof id, "%s", s);
    json_decref(j);
    if (!id[0]) {
        unexpected(idx, "open (no id)", st, w->body.p);
        return 0;
    }
    atomic_fetch_add(&n_acked, 1);
    if (acks_f) {
        pthread_mutex_lock(&out_mu);
        fprintf(acks_f, "%ld %s\n", idx, id);
        fflush(acks_f);
        pthread_mutex_unlock(&out_mu);
    }

    long poll = 100;
    int fresh = 0; /* w->body holds the ticket as the last command answered it */
    while (now_s() < deadline) {
        snprintf(path, sizeof path, "/v1/tickets/%s", id);
        if (!fresh) {
            st = http_retry(w, "GET", path, token, NULL, NULL, deadline);
            if (st != 200) {
                unexpected(idx, "get", st, w->body.p);
                sleep_ms(500);
                continue;
            }
        }
        fresh = 0;
        j = json_loads(w->body.p, 0, NULL);
        const char *state = j ? json_string_value(json_object_get(j, "state")) : NULL;
        if (!state) {
            json_decref(j);
            unexpected(idx, "get (no state)", st, w->body.p);
            sleep_ms(500);
            continue;
        }
        int fin = is_final(state);
        if (fin >= 0) {
            pthread_mutex_lock(&out_mu);
            outcome_counts[fin]++;
            pthread_mutex_unlock(&out_mu);
            json_decref(j);
            return 1;
        }
        const char *step = NULL;
        char body[512] = "{}";
        json_t *dec = json_object_get(j, "decision");
        json_t *work = json_object_get(j, "work");
        json_t *req = work ? json_object_get(work, "requested") : NULL;
        if (strcmp(state, "received") == 0 || strcmp(state, "awaiting_parts") == 0) {
            json_decref(j);
            sleep_ms(poll);
            if (poll < 1000)
                poll += 100;
            continue;
        }
        poll = 100;
        if (strcmp(state, "awaiting_review") == 0) {
            step = "cancel";
            snprintf(body, sizeof body, "{\"reason\":\"fault suite: no reviewer on duty\"}");
        } else if (strcmp(state, "adjudicated") == 0) {
            const char *dst = dec ? json_string_value(json_object_get(dec, "status")) : NULL;
            const char *rem = dec ? json_string_value(json_object_get(dec, "remedy")) : NULL;
            if (dst && rem &&
                (!strcmp(dst, "granted") || !strcmp(dst, "granted_with_depreciation")) &&
                (!strcmp(rem, "refund") || !strcmp(rem, "exchange"))) {
                step = "handback";
            } else {
                step = "diagnosis";
                snprintf(body, sizeof body,
                         "{\"fault_code\":\"NO_DISPLAY\",\"estimate_cents\":12000,"
                         "\"parts\":[{\"sku\":\"%s\",\"qty\":1}]}",
                         opt_sku_request);
            }
        } else if (strcmp(state, "estimate_pending") == 0) {
            step = "consent";
            snprintf(body, sizeof body, "{\"accept\":true}");
        } else if (strcmp(state, "in_repair") == 0) {
            if (!req || json_array_size(req) == 0) {
                step = "parts-requests";
                snprintf(body, sizeof body, "{\"parts\":[{\"sku\":\"%s\",\"qty\":1}]}",
                         opt_sku_request);
            } else {
                /* The reserved part is used (issued); --sku-use names another one to make
                 * parts release the reservation and issue from free stock instead. */
                step = "repair-complete";
                snprintf(body, sizeof body,
                         "{\"parts_used\":[{\"sku\":\"%s\",\"qty\":1}],\"labour_minutes\":30,"
                         "\"cause\":\"manufacturing_quality\"}",
                         opt_sku_use ? opt_sku_use : opt_sku_request);
            }
        } else if (strcmp(state, "ready") == 0) {
            step = "handback";
        } else {
            json_decref(j);
            unexpected(idx, "state", 0, state);
            return 0;
        }
        json_decref(j);
        snprintf(path, sizeof path, "/v1/tickets/%s/%s", id, step);
        snprintf(key, sizeof key, "flt-%s-%ld-%s", opt_run, idx, step);
        st = http_retry(w, "POST", path, token, key, body, deadline);
        if (st == 200) {
            fresh = 1;
        } else if (st == 409) {
            atomic_fetch_add(&n_409, 1); /* the ticket moved meanwhile: read it again */
        } else {
            unexpected(idx, step, st, w->body.p);
            sleep_ms(500);
        }
    }
    fprintf(stderr, "ticket #%ld (%s): no final state after %ld s\n", idx, id, opt_ticket_timeout);
    return 0;
}

static void *worker_main(void *arg)
{
    (void)arg;
    worker_t w = {0};
    w.curl = curl_easy_init();
    w.seed = (unsigned)(uintptr_t)&w ^ (unsigned)time(NULL);
    for (;;) {
        long idx = atomic_fetch_add(&next_ticket, 1);
        if (idx >= opt_tickets)
            break;
        if (opt_rate > 0) {
            double due = t_start + (double)idx / opt_rate, now = now_s();
            if (due > now)
                sleep_ms((long)((due - now) * 1000));
        }
        if (journey(&w, idx))
            atomic_fetch_add(&n_final, 1);
        else
            atomic_fetch_add(&n_abandoned, 1);
    }
    curl_easy_cleanup(w.curl);
    free(w.body.p);
    atomic_fetch_add(&done_workers, 1);
    return NULL;
}

static void write_progress(void)
{
    if (!opt_progress)
        return;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt_progress);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f,
            "elapsed=%.1f started=%ld acked=%ld final=%ld abandoned=%ld requests=%ld failed=%ld\n",
            now_s() - t_start,
            atomic_load(&next_ticket) < opt_tickets ? atomic_load(&next_ticket) : opt_tickets,
            atomic_load(&n_acked), atomic_load(&n_final), atomic_load(&n_abandoned),
            atomic_load(&n_requests), atomic_load(&n_failed_attempts));
    fclose(f);
    rename(tmp, opt_progress);
}

static void usage(void)
{
    fprintf(stderr, "usage: as-faults-load --url URL --token T [--token T2] --tickets N "
                    "[--concurrency C] [--run ID] [--acks FILE] [--errors FILE] "
                    "[--progress FILE] [--ticket-timeout S] [--rate R] [--sku-request SKU] "
                    "[--sku-use SKU]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--url"))
            opt_url = v;
        else if (!strcmp(a, "--token") && opt_ntokens < MAX_TOKENS)
            opt_tokens[opt_ntokens++] = v;
        else if (!strcmp(a, "--tickets"))
            opt_tickets = atol(v);
        else if (!strcmp(a, "--concurrency"))
            opt_conc = atol(v);
        else if (!strcmp(a, "--run"))
            opt_run = v;
        else if (!strcmp(a, "--acks"))
            opt_acks = v;
        else if (!strcmp(a, "--errors"))
            opt_errors = v;
        else if (!strcmp(a, "--progress"))
            opt_progress = v;
        else if (!strcmp(a, "--ticket-timeout"))
            opt_ticket_timeout = atol(v);
        else if (!strcmp(a, "--rate"))
            opt_rate = atof(v);
        else if (!strcmp(a, "--sku-request"))
            opt_sku_request = v;
        else if (!strcmp(a, "--sku-use"))
            opt_sku_use = v;
        else
            usage();
        i++;
    }
    if (!opt_url || opt_ntokens == 0 || opt_tickets < 1 || opt_conc < 1 || opt_conc > 1024)
        usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (opt_acks && !(acks_f = fopen(opt_acks, "w"))) {
        perror(opt_acks);
        return 2;
    }
    if (opt_errors && !(errors_f = fopen(opt_errors, "w"))) {
        perror(opt_errors);
        return 2;
    }
    t_start = now_s();
    long nthreads = opt_conc < opt_tickets ? opt_conc : opt_tickets;
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!th)
        return 2;
    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker_main, NULL) != 0) {
            fprintf(stderr, "cannot start worker %ld\n", i);
            return 2;
        }
    while (atomic_load(&done_workers) < nthreads) {
        write_progress();
        sleep_ms(500);
    }
    for (long i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    write_progress();
    free(th);
    double el = now_s() - t_start;
    printf("tickets=%ld\nacknowledged=%ld\nfinal=%ld\nabandoned=%ld\n", opt_tickets,
           atomic_load(&n_acked), atomic_load(&n_final), atomic_load(&n_abandoned));
    for (int i = 0; outcome_names[i]; i++)
        printf("outcome_%s=%ld\n", outcome_names[i], outcome_counts[i]);
    printf("requests=%ld\nfailed_attempts=%ld\ntransport_errors=%ld\nhttp_5xx=%ld\nhttp_500=%ld\n"
           "http_502=%ld\nhttp_503=%ld\nhttp_504=%ld\nhttp_409=%ld\nunexpected=%ld\n"
           "elapsed_s=%.1f\ntickets_per_s=%.1f\n",
           atomic_load(&n_requests), atomic_load(&n_failed_attempts), atomic_load(&n_transport),
           atomic_load(&n_5xx), atomic_load(&n_500), atomic_load(&n_502), atomic_load(&n_503),
           atomic_load(&n_504), atomic_load(&n_409), atomic_load(&n_unexpected), el,
           (double)opt_tickets / (el > 0 ? el : 1));
    if (acks_f)
        fclose(acks_f);
    if (errors_f)
        fclose(errors_f);
    curl_global_cleanup();
    return atomic_load(&n_final) == opt_tickets ? 0 : 1;
}
