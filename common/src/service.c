/* service.c — start-up, wiring and orderly shutdown shared by every database-backed service. */
#include "as/service.h"
#include "as/log.h"

#include <systemd/sd-daemon.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static const char *const peer_names[AS_N_SERVICES] = {AS_SERVICE_NAMES};
char *as_cfg_endpoints[2 * AS_N_SERVICES];
char *as_cfg_curve_keys;

static as_config_item_t endpoint_items[] = {AS_ENDPOINT_ITEMS};

/* Every service answers as.ListAudit from its schema's audit rows (common/sql/030). */
static const as_cmd_def_t audit_cmds[] = {
    {"as.ListAudit", &as__audit_list__descriptor, as_cmd_sql_default, "cmd_list_audit"},
};

const char *as_endpoint(const char *name, const char *kind)
{
    for (int i = 0; i < AS_N_SERVICES; i++)
        if (strcmp(peer_names[i], name) == 0)
            return as_cfg_endpoints[i * 2 + (strcmp(kind, "pub") == 0)];
    return NULL;
}

int as_endpoints_load(const char *service, const char *file, char *err, size_t errlen)
{
    return as_config_load(endpoint_items, sizeof endpoint_items / sizeof endpoint_items[0], service,
                          file, err, errlen);
}

/* ---- settings common to database services ---- */

static char *cfg_db, *cfg_log_level, *cfg_log_format, *cfg_migrations, *cfg_runtime_migrations,
    *cfg_sql, *cfg_runtime_sql, *cfg_bind_cmd, *cfg_bind_pub;
static long cfg_read_conn;
static as_db_t *read_db; /* collection reads (as_server_set_read_db), when cfg_read_conn */
static long cfg_max_msg, cfg_db_queue, cfg_prune_interval, cfg_prune_batch, cfg_reply_days,
    cfg_keyless_minutes, cfg_outbox_days;

static as_config_item_t common_items[] = {
    AS_ENDPOINT_ITEMS,
    {"db", AS_CFG_STRING, NULL, 0, 0, "libpq connection string of this service's database role",
     &cfg_db},
    {"log_level", AS_CFG_STRING, "info", 0, 0, "debug | info | warn | error", &cfg_log_level},
    {"log_format", AS_CFG_STRING, "text", 0, 0,
     "text (key=value lines) | json (one JSON object a line)", &cfg_log_format},
    {"migrations", AS_CFG_STRING, "", 0, 0,
     "directory of this service's numbered SQL migrations (default services/<name>/migrations)",
     &cfg_migrations},
    {"runtime_migrations", AS_CFG_STRING, "common/sql", 0, 0,
     "directory of the shared runtime migrations", &cfg_runtime_migrations},
    {"sql", AS_CFG_STRING, "", 0, 0,
     "directory of this service's SQL family files, applied after the migrations (default "
     "services/<name>/sql)",
     &cfg_sql},
    {"runtime_sql", AS_CFG_STRING, "common/sql/families", 0, 0,
     "directory of the shared runtime's SQL family files", &cfg_runtime_sql},
    {"bind_cmd", AS_CFG_STRING, "", 0, 0, "address to bind commands on (default: <name>_cmd)",
     &cfg_bind_cmd},
    {"bind_pub", AS_CFG_STRING, "", 0, 0, "address to bind events on (default: <name>_pub)",
     &cfg_bind_pub},
    {"max_msg_bytes", AS_CFG_INT, "1048576", 1024, 64L << 20, "largest accepted message",
     &cfg_max_msg},
    {"db_queue", AS_CFG_INT, "20000", 16, 1000000, "database jobs queued or in flight, at most",
     &cfg_db_queue},
    {"db_read_connection", AS_CFG_INT, "1", 0, 1,
     "1: collection reads (cmd_list_…) run on a second database connection, so that a heavy "
     "list never delays the other commands; 0: everything on one connection",
     &cfg_read_conn},
    /* Retention (docs/operations.md): pruned on a timer, in batches. */
    {"prune_interval_ms", AS_CFG_INT, "10000", 0, 86400000,
     "how often stored replies and applied outbox rows are pruned (0: never)", &cfg_prune_interval},
    {"prune_batch", AS_CFG_INT, "1000", 1, 100000, "rows of each kind pruned per round, at most",
     &cfg_prune_batch},
    {"command_reply_days", AS_CFG_INT, "7", 1, 3650,
     "days a reply to a request with an Idempotency-Key is kept (and replayed)", &cfg_reply_days},
    {"keyless_reply_minutes", AS_CFG_INT, "60", 5, 100000,
     "minutes any other reply is kept (covers the bus client's retries of one request id)",
     &cfg_keyless_minutes},
    {"outbox_floor_days", AS_CFG_INT, "30", 1, 3650,
     "days an event is kept at least, even when every consumer has applied it", &cfg_outbox_days},
};
#define N_COMMON (sizeof common_items / sizeof common_items[0])

typedef struct runner {
    as_service_t svc;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain;
    uv_timer_t prune;
    int drain_ticks;
    int stopping;
    int pruning; /* a round is in flight */
} runner_t;

static void prune_done(const as_db_result_t *res, void *ud)
{
    runner_t *r = ud;
    r->pruning = 0;
    if (!res->ok)
        AS_WARN("pruning failed", "error=\"%s\"", res->message);
    else if (PQntuples(res->res[0]) == 1)
        AS_DEBUG("pruned", "rows=%s", as_db_value(res->res[0], 0, 0));
}

/* One pruning round (prune_runtime(), common/sql/families/outbox.sql), unless one is still running.
 */
static void prune_tick(uv_timer_t *t)
{
    runner_t *r = t->data;
    if (r->pruning || r->stopping || !r->svc.db)
        return;
    char batch[24], days[24], mins[24], floor_days[24];
    snprintf(batch, sizeof batch, "%ld", cfg_prune_batch);
    snprintf(days, sizeof days, "%ld", cfg_reply_days);
    snprintf(mins, sizeof mins, "%ld", cfg_keyless_minutes);
    snprintf(floor_days, sizeof floor_days, "%ld", cfg_outbox_days);
    const char *params[4] = {batch, days, mins, floor_days};
    as_db_stmt_t st = {"SELECT prune_runtime($1::int, $2::int, $3::int, $4::int)::text", 4, params};
    if (as_db_submit(r->svc.db, &st, 1, prune_done, r) == 0)
        r->pruning = 1;
}

static void health_cb(as_server_t *s, As__HealthReply *h, void *ud)
{
    (void)s;
    runner_t *r = ud;
    as_service_t *svc = &r->svc;
    h->has_schema_version = 1;
    h->schema_version = svc->schema_version;
    h->version = (char *)"1.0.0";
    size_t n = (svc->relay ? 1 : 0) + svc->def->nsubs;
    h->streams = calloc(n ? n : 1, sizeof *h->streams);
    if (!h->streams)
        return;
    if (svc->relay) {
        As__StreamStatus *st = malloc(sizeof *st);
        if (st) {
            as__stream_status__init(st);
            st->stream = (char *)svc->def->name;
            st->has_published = 1;
            st->published = as_relay_published(svc->relay);
            st->has_head = 1;
            st->head = as_relay_head(svc->relay);
            h->streams[h->n_streams++] = st;
        }
    }
    for (size_t i = 0; i < svc->def->nsubs && i < AS_SERVICE_MAX_SUBS; i++) {
        As__StreamStatus *st = malloc(sizeof *st);
        if (!st || !svc->consumers[i]) {
            free(st);
            continue;
        }
        as__stream_status__init(st);
        st->stream = (char *)svc->def->subs[i].stream;
        st->has_applied = 1;
        st->applied = as_consumer_applied(svc->consumers[i]);
        h->streams[h->n_streams++] = st;
    }
    if (svc->def->health)
        svc->def->health(svc, h);
}

/* The runtime's part of as.StatsRequest: database round trips and queue, events published
 * and applied, outbox backlog. Every series is there from the start (zero until it moves). */
static void stats_cb(as_stats_t *st, void *ud)
{
    runner_t *r = ud;
    as_service_t *svc = &r->svc;
    as_db_stats_t ds = {0};
    if (svc->db)
        as_db_get_stats(svc->db, &ds);
    as_stats_add(st, "gauge", "aftersales_service_db_connected", NULL, ds.connected,
                 "1 while the service holds its database connection");
    as_stats_add(st, "counter", "aftersales_service_db_round_trips_total", NULL,
                 (double)ds.rtt_count, "database jobs completed (one pipeline sync each)");
    as_stats_add(st, "counter", "aftersales_service_db_round_trip_seconds_total", NULL,
                 ds.rtt_sum_s, "time from sending a database job to its last result, summed");
    as_stats_add(st, "gauge", "aftersales_service_db_round_trip_last_seconds", NULL, ds.rtt_last_s,
                 "the last database job's round trip");
    as_stats_add(st, "counter", "aftersales_service_db_jobs_failed_total", NULL,
                 (double)ds.jobs_failed,
                 "database jobs that failed (an error or a lost connection)");
    as_stats_add(st, "gauge", "aftersales_service_db_jobs_queued", NULL,
                 (double)ds.queued + ds.inflight, "database jobs waiting or in flight");
    uint64_t head = svc->relay ? as_relay_head(svc->relay) : 0;
    uint64_t pub = svc->relay ? as_relay_published(svc->relay) : 0;
    as_stats_add(st, "counter", "aftersales_service_events_published_total", NULL,
                 svc->relay ? (double)as_relay_sent(svc->relay) : 0,
                 "events this process published on its stream since it started");
    as_stats_add(st, "gauge", "aftersales_service_outbox_backlog", NULL,
                 head > pub ? (double)(head - pub) : 0,
                 "events committed to the service's outbox and not published yet");
    uint64_t applied = 0;
    for (size_t i = 0; i < svc->def->nsubs && i < AS_SERVICE_MAX_SUBS; i++)
        if (svc->consumers[i])
            applied += as_consumer_applied_count(svc->consumers[i]);
    as_stats_add(st, "counter", "aftersales_service_events_applied_total", NULL, (double)applied,
                 "events of other services' streams this process applied since it started");
}

static void close_all(runner_t *r)
{
    as_service_t *svc = &r->svc;
    if (svc->def->stop)
        svc->def->stop(svc);
    for (int i = 0; i < AS_SERVICE_MAX_SUBS; i++)
        as_consumer_destroy(&svc->consumers[i]);
    as_relay_destroy(&svc->relay);
    as_server_destroy(&svc->server);
    as_db_destroy(&svc->db);
    as_db_destroy(&read_db);
    as_curve_shutdown();
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->drain, NULL);
    uv_close((uv_handle_t *)&r->prune, NULL);
}

static void drain_tick(uv_timer_t *t)
{
    runner_t *r = t->data;
    as_server_stats_t st = {0};
    if (r->svc.server)
        as_server_get_stats(r->svc.server, &st);
    if (st.inflight == 0 || ++r->drain_ticks > 100) {
        AS_INFO("stopped", "unfinished_commands=%u", st.inflight);
        uv_timer_stop(t);
        close_all(r);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    runner_t *r = h->data;
    if (r->stopping)
        return;
    r->stopping = 1;
    AS_INFO("stopping", "signal=%d", signum);
    sd_notify(0, "STOPPING=1");
    uv_timer_start(&r->drain, drain_tick, 0, 50);
}

static void usage(const as_service_def_t *def)
{
    fprintf(stderr,
            "usage: as-%s [--config FILE] [--migrate-only] [--help]\n"
            "  --migrate-only  apply the migrations and SQL family files, then exit\n\n",
            def->name);
    as_config_usage(common_items, N_COMMON, def->name);
    if (def->nextra)
        as_config_usage(def->extra, def->nextra, def->name);
}

int as_service_main(int argc, char **argv, const as_service_def_t *def)
{
    const char *config_file = NULL;
    int migrate_only = 0;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"migrate-only", no_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            config_file = optarg;
        else if (ch == 'm')
            migrate_only = 1;
        else {
            usage(def);
            return ch == 'h' ? 0 : 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    /* One table, so that a file may hold the common and the service's own settings. */
    size_t nall = N_COMMON + def->nextra;
    as_config_item_t *all = calloc(nall, sizeof *all);
    if (!all)
        return 1;
    memcpy(all, common_items, sizeof common_items);
    if (def->nextra)
        memcpy(all + N_COMMON, def->extra, def->nextra * sizeof *all);
    if (as_config_load(all, nall, def->name, config_file, err, sizeof err) < 0) {
        fprintf(stderr, "as-%s: %s\n", def->name, err);
        free(all);
        return 2;
    }
    int lvl = as_log_level_parse(cfg_log_level);
    if (lvl < 0) {
        fprintf(stderr, "as-%s: setting 'log_level': '%s' is not debug|info|warn|error\n",
                def->name, cfg_log_level);
        as_config_free(all, nall);
        free(all);
        return 2;
    }
    int fmt = as_log_format_parse(cfg_log_format);
    if (fmt < 0) {
        fprintf(stderr, "as-%s: setting 'log_format': '%s' is not text|json\n", def->name,
                cfg_log_format);
        as_config_free(all, nall);
        free(all);
        return 2;
    }
    as_log_init(def->name, (as_log_level_t)lvl);
    as_log_set_json(fmt);

    /* Schema first: refuse to run against a schema we do not understand. */
    PGconn *mc = as_db_connect_blocking(cfg_db, 30000, err, sizeof err);
    if (!mc) {
        AS_ERROR("cannot reach the database", "error=\"%s\"", err);
        as_config_free(all, nall);
        free(all);
        return 1;
    }
    char own_dir[512];
    if (cfg_migrations[0])
        snprintf(own_dir, sizeof own_dir, "%s", cfg_migrations);
    else
        snprintf(own_dir, sizeof own_dir, "services/%s/migrations", def->name);
    const char *dirs[2] = {cfg_runtime_migrations, own_dir};
    char own_sql[512];
    if (cfg_sql[0])
        snprintf(own_sql, sizeof own_sql, "%s", cfg_sql);
    else
        snprintf(own_sql, sizeof own_sql, "services/%s/sql", def->name);
    const char *sql_dirs[2] = {cfg_runtime_sql, own_sql};
    const char *sql_labels[2] = {"common", def->name};
    runner_t r;
    memset(&r, 0, sizeof r);
    as_service_t *svc = &r.svc;
    svc->def = def;
    svc->max_msg = cfg_max_msg;
    int mrc = as_db_migrate(mc, def->name, dirs, 2, sql_dirs, sql_labels, 2, &svc->schema_version,
                            err, sizeof err);
    PQfinish(mc);
    if (mrc < 0) {
        AS_ERROR("migrations failed", "error=\"%s\"", err);
        as_config_free(all, nall);
        free(all);
        return 1;
    }
    if (migrate_only) {
        AS_INFO("migrated", "schema=%s version=%d", def->name, svc->schema_version);
        as_config_free(all, nall);
        free(all);
        return 0;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    svc->loop = &loop;
    svc->zctx = zmq_ctx_new();
    int rc = 1;
    if (as_curve_setup(svc->zctx, &loop, as_cfg_curve_keys, def->name, err, sizeof err) < 0) {
        AS_ERROR("cannot set up CURVE", "error=\"%s\"", err);
        goto out;
    }
    if (as_db_new(&loop, cfg_db, (unsigned)cfg_db_queue, &svc->db) < 0) {
        AS_ERROR("cannot create the database connection", "%s", "");
        goto out;
    }
    const char *bind_cmd = cfg_bind_cmd[0] ? cfg_bind_cmd : as_endpoint(def->name, "cmd");
    const char *bind_pub = cfg_bind_pub[0] ? cfg_bind_pub : as_endpoint(def->name, "pub");
    svc->server =
        as_server_new(&loop, svc->zctx, bind_cmd, cfg_max_msg, def->name, err, sizeof err);
    if (!svc->server) {
        AS_ERROR("cannot bind the command endpoint", "error=\"%s\"", err);
        goto out;
    }
    if (def->publishes) {
        svc->relay = as_relay_new(&loop, svc->zctx, bind_pub, svc->db, def->name, def->name, err,
                                  sizeof err);
        if (!svc->relay) {
            AS_ERROR("cannot bind the event endpoint", "error=\"%s\"", err);
            goto out;
        }
    }
    as_server_add(svc->server, def->cmds, def->ncmds, svc);
    as_server_add(svc->server, audit_cmds, 1, svc);
    if (def->metrics_sql)
        as_server_set_metrics(svc->server, def->metrics_sql);
    as_server_attach(svc->server, svc->db, svc->relay, health_cb, &r);
    as_server_set_stats(svc->server, stats_cb, &r);
    if (cfg_read_conn) {
        if (as_db_new(&loop, cfg_db, (unsigned)cfg_db_queue, &read_db) < 0) {
            AS_ERROR("cannot create the read connection", "%s", "");
            goto out;
        }
        as_server_set_read_db(svc->server, read_db);
    }
    for (size_t i = 0; i < def->nsubs && i < AS_SERVICE_MAX_SUBS; i++) {
        const char *pub = as_endpoint(def->subs[i].stream, "pub");
        const char *cmd = as_endpoint(def->subs[i].stream, "cmd");
        if (!pub || !cmd) {
            AS_ERROR("unknown stream", "stream=%s", def->subs[i].stream);
            goto out;
        }
        if (!as_stream_consumed_by(def->subs[i].stream, def->name)) {
            /* The publisher would refuse our key: say why now, not with a silent stall. */
            AS_ERROR("consumer not declared",
                     "stream=%s service=%s hint=\"add it to STREAM_CONSUMERS in "
                     "common/src/curve.c\"",
                     def->subs[i].stream, def->name);
            goto out;
        }
        svc->consumers[i] = as_consumer_new(&loop, svc->zctx, svc->db, def->subs[i].stream, pub,
                                            cmd, def->name, def->subs[i].fn, svc, err, sizeof err);
        if (!svc->consumers[i]) {
            AS_ERROR("cannot start consumer", "stream=%s error=\"%s\"", def->subs[i].stream, err);
            goto out;
        }
        as_consumer_set_relay(svc->consumers[i], svc->relay);
    }
    if (def->start && def->start(svc) != 0) {
        AS_ERROR("service start failed", "%s", "");
        goto out;
    }
    uv_signal_init(&loop, &r.sigterm);
    uv_signal_init(&loop, &r.sigint);
    uv_timer_init(&loop, &r.drain);
    uv_timer_init(&loop, &r.prune);
    r.sigterm.data = r.sigint.data = r.drain.data = r.prune.data = &r;
    if (cfg_prune_interval > 0)
        uv_timer_start(&r.prune, prune_tick, (uint64_t)cfg_prune_interval,
                       (uint64_t)cfg_prune_interval);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    AS_INFO("started", "cmd=%s pub=%s schema_version=%d", bind_cmd, def->publishes ? bind_pub : "-",
            svc->schema_version);
    sd_notify(0, "READY=1");
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (rc != 0) {
        for (int i = 0; i < AS_SERVICE_MAX_SUBS; i++)
            as_consumer_destroy(&svc->consumers[i]);
        as_relay_destroy(&svc->relay);
        as_server_destroy(&svc->server);
        as_db_destroy(&svc->db);
        as_db_destroy(&read_db);
        as_curve_shutdown();
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        AS_WARN("loop closed with handles still open", "%s", "");
    zmq_ctx_term(svc->zctx);
    as_config_free(all, nall);
    free(all);
    return rc;
}
