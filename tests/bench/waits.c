/* waits.c — what each service's database connection is doing, sampled from pg_stat_activity
 * every 50 ms by a thread with its own connection (the cluster's superuser). Per phase it gives,
 * for every service's backend, the share of samples spent idle (waiting for the service to send
 * work), on CPU, waiting for the WAL to reach the disk, waiting for a lock, or on something else.
 * That says whether a service is held back by its database, by the disk, or by itself. */
#include "bench.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const wait_names[WAIT_N] = {"idle", "cpu", "wal_flush", "lock", "other"};
static const char *const SERVICES[N_SERVICES] = {"intake", "warranty", "parts", "settlement",
                                                 "surveys"};

static pthread_t g_thread;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_on, g_stop, g_counting;
static uint64_t g_count[N_SERVICES][WAIT_N], g_samples;
static char g_other[N_SERVICES][64]; /* the most recent "other" wait, for the report */

static int classify(const char *state, const char *type, const char *event)
{
    if (strcmp(state, "idle") == 0 || strcmp(event, "ClientRead") == 0)
        return 0;
    if (!*type)
        return 1;
    if (strcmp(event, "WALSync") == 0 || strcmp(event, "WALWrite") == 0 ||
        strcmp(event, "WALFlush") == 0 ||
        (strcmp(type, "LWLock") == 0 && strncmp(event, "WAL", 3) == 0))
        return 2;
    if (strcmp(type, "Lock") == 0)
        return 3;
    return 4;
}

static void *sampler(void *arg)
{
    PGconn *c = arg;
    const char *q = "SELECT usename, coalesce(state, ''), coalesce(wait_event_type, ''), "
                    "coalesce(wait_event, '') FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND usename LIKE 'as\\_%'";
    for (;;) {
        pthread_mutex_lock(&g_mu);
        int stop = g_stop, counting = g_counting;
        pthread_mutex_unlock(&g_mu);
        if (stop)
            break;
        if (counting) {
            PGresult *r = PQexec(c, q);
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                pthread_mutex_lock(&g_mu);
                if (g_counting) {
                    g_samples++;
                    for (int i = 0; i < PQntuples(r); i++) {
                        const char *user = PQgetvalue(r, i, 0) + 3;
                        for (int s = 0; s < N_SERVICES; s++)
                            if (strcmp(user, SERVICES[s]) == 0) {
                                int k = classify(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                                 PQgetvalue(r, i, 3));
                                g_count[s][k]++;
                                if (k == 4)
                                    snprintf(g_other[s], sizeof g_other[s], "%.30s:%.30s",
                                             PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
                            }
                    }
                }
                pthread_mutex_unlock(&g_mu);
            }
            PQclear(r);
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    PQfinish(c);
    return NULL;
}

/* The main thread's own connection: cluster-wide counters at the edges of each window, and
 * the function profile at the end. */
static PGconn *g_stats;
static double g_c0[5];
static int64_t g_t0;

/* commits, rollbacks, WAL syncs, WAL writes, WAL bytes — cumulative, the whole cluster. */
static int counters(double out[5])
{
    if (!g_stats)
        return -1;
    PGresult *r = PQexec(g_stats, "SELECT pg_stat_clear_snapshot()");
    PQclear(r);
    r = PQexec(g_stats, "SELECT (SELECT sum(xact_commit) FROM pg_stat_database), "
                        "(SELECT sum(xact_rollback) FROM pg_stat_database), "
                        "wal_sync, wal_write, wal_bytes FROM pg_stat_wal");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    for (int i = 0; ok && i < 5; i++)
        out[i] = atof(PQgetvalue(r, 0, i));
    PQclear(r);
    return ok ? 0 : -1;
}

static void exec_quiet(const char *sql)
{
    PGresult *r = PQexec(g_stats, sql);
    PQclear(r);
}

int waits_start(const char *conninfo)
{
    if (!conninfo || !*conninfo)
        return -1;
    g_stats = PQconnectdb(conninfo);
    if (PQstatus(g_stats) != CONNECTION_OK) {
        PQfinish(g_stats);
        g_stats = NULL;
    } else {
        /* Time every PL/pgSQL and SQL function (a few clock reads per call; inlined SQL functions
         * are not seen): the profile at the end. */
        exec_quiet("ALTER SYSTEM SET track_functions = 'all'");
        exec_quiet("SELECT pg_reload_conf()");
        exec_quiet("SELECT pg_stat_reset()");
    }
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "as-bench: wait sampling off: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    if (pthread_create(&g_thread, NULL, sampler, c) != 0) {
        PQfinish(c);
        return -1;
    }
    g_on = 1;
    return 0;
}

void waits_begin(void)
{
    pthread_mutex_lock(&g_mu);
    memset(g_count, 0, sizeof g_count);
    memset(g_other, 0, sizeof g_other);
    g_samples = 0;
    g_counting = 1;
    pthread_mutex_unlock(&g_mu);
    if (counters(g_c0) < 0)
        g_c0[0] = -1;
    g_t0 = bench_now_ns();
}

void waits_end(phase_res_t *res)
{
    pthread_mutex_lock(&g_mu);
    g_counting = 0;
    res->wait_samples = g_on ? (int)g_samples : 0;
    for (int s = 0; s < N_SERVICES; s++) {
        uint64_t tot = 0;
        for (int k = 0; k < WAIT_N; k++)
            tot += g_count[s][k];
        for (int k = 0; k < WAIT_N; k++)
            res->wait_pct[s][k] = tot ? 100.0 * (double)g_count[s][k] / (double)tot : 0;
        memcpy(res->wait_other[s], g_other[s], sizeof res->wait_other[s]);
    }
    pthread_mutex_unlock(&g_mu);
    /* Counters are flushed by each backend at most once a second: over a window of many
     * seconds the rates are good to a few per cent. */
    double c1[5];
    double dt = (bench_now_ns() - g_t0) / 1e9;
    if (g_c0[0] >= 0 && dt > 0 && counters(c1) == 0) {
        res->pg_rates_ok = 1;
        res->commits_per_s = (c1[0] - g_c0[0]) / dt;
        res->rollbacks_per_s = (c1[1] - g_c0[1]) / dt;
        res->wal_syncs_per_s = (c1[2] - g_c0[2]) / dt;
        res->wal_writes_per_s = (c1[3] - g_c0[3]) / dt;
        res->wal_mib_per_s = (c1[4] - g_c0[4]) / dt / (1024.0 * 1024.0);
    }
}

json_t *waits_functions(int limit)
{
    if (!g_stats)
        return NULL;
    char q[600];
    snprintf(
        q, sizeof q,
        "SELECT schemaname, funcname, calls, round(total_time::numeric, 1), "
        "round(self_time::numeric, 1), round((1000 * self_time / greatest(calls, 1))::numeric, 1) "
        "FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT %d",
        limit);
    PGresult *r = PQexec(g_stats, q);
    json_t *a = json_array();
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:f, s:f, s:f}", "schema",
                                               PQgetvalue(r, i, 0), "function", PQgetvalue(r, i, 1),
                                               "calls", (json_int_t)atoll(PQgetvalue(r, i, 2)),
                                               "total_ms", atof(PQgetvalue(r, i, 3)), "self_ms",
                                               atof(PQgetvalue(r, i, 4)), "self_us_per_call",
                                               atof(PQgetvalue(r, i, 5))));
    PQclear(r);
    return a;
}

void waits_stop(void)
{
    if (g_stats) {
        exec_quiet("ALTER SYSTEM RESET track_functions");
        exec_quiet("SELECT pg_reload_conf()");
        PQfinish(g_stats);
        g_stats = NULL;
    }
    if (!g_on)
        return;
    pthread_mutex_lock(&g_mu);
    g_stop = 1;
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL);
    g_on = 0;
}
