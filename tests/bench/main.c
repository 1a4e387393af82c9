/* main.c — as-bench: drives the phases of `make bench` against a running stack and writes
 * results.json, latency.svg and summary.txt. tests/bench/run.sh brings the stack up, runs
 * pgbench and then this program; see docs/benchmark.md.
 *
 * Settings come from the environment (the stack's env file provides the AS_* ones):
 *   AS_CONFIG, AS_TOKEN_CENTER, AS_CENTER_CODE, AS_HTTP_PORT, AS_VAR   the stack
 *   BENCH_SECONDS (20)        measured seconds of each phase
 *   BENCH_WARMUP (2)          seconds before each phase's measurement starts
 *   BENCH_ZMQ_SOCKETS (4)     DEALER sockets to intake
 *   BENCH_ZMQ_INFLIGHT (256)  requests in flight in the ZeroMQ peak phase
 *   BENCH_HTTP_CONNS (32), BENCH_HTTP_PIPELINE (4)   keep-alive connections, requests each
 *   BENCH_HTTP_INFLIGHT       requests in flight in the HTTP peak phase (default: 250 ms
 *                             worth of the ZeroMQ peak, at most CONNS x PIPELINE)
 *   BENCH_IDLE_SECONDS (5)    a phase without load first: CPU of each process at rest
 *   BENCH_JOURNEYS (64)       concurrent journeys
 *   BENCH_RATES (25,50,75,100)  offered rates of the latency sweep, % of the measured peak
 *   BENCH_SWEEP (zmq,http)    which peaks get a latency sweep
 *   BENCH_PHASES (peak-zmq,peak-http,sweep,journeys)   the phases to run
 *   BENCH_CALLBACK_EVENT (surveys.CallbackScheduled)   surveys' event for a scheduled callback
 *   BENCH_PG_PID              the stack's postmaster (CPU of its backends)
 *   BENCH_PG_CONNINFO         superuser connection for sampling pg_stat_activity (waits.c)
 *   BENCH_PGBENCH_TPS, BENCH_PGBENCH_NOTE   the baseline measured by run.sh
 *   BENCH_OUT (build/bench)   where the results go */
#include "bench.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *env_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static double env_num(const char *name, double def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    double d = strtod(v, &end);
    if (*end) {
        fprintf(stderr, "as-bench: %s=%s is not a number\n", name, v);
        exit(2);
    }
    return d;
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ',' || p[-1] == ' ') && (p[n] == ',' || p[n] == ' ' || !p[n]))
            return 1;
    return 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("bench: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static void settle(bench_t *b, phase_res_t *after, const char *what)
{
    uint64_t backlog = 0;
    double s = bench_settle(b, env_num("BENCH_SETTLE_MAX", 180), &backlog);
    if (after) {
        after->settle_s = s;
        after->backlog = backlog;
    }
    if (s < 0)
        say("  consumers did not catch up within BENCH_SETTLE_MAX after %s (backlog %llu)", what,
            (unsigned long long)backlog);
    else if (backlog > 0)
        say("  consumers caught up with %llu outstanding events in %.1f s",
            (unsigned long long)backlog, s);
}

static void show(const phase_res_t *r)
{
    phase_res_t *m = (phase_res_t *)r;
    say("  %-26s %8.1f/s ok  p50 %7.2f  p95 %7.2f  p99 %7.2f ms  errors %llu  timeouts %llu  "
        "generator CPU %.0f%%",
        r->name, r->throughput, lat_pct(&m->lat, 50), lat_pct(&m->lat, 95), lat_pct(&m->lat, 99),
        (unsigned long long)r->errors, (unsigned long long)r->timeouts, r->cpu.self_pct);
    if (r->first_error[0])
        say("    first error: %s", r->first_error);
}

/* The [surveys] db connection string from the stack's configuration file. */
static int surveys_conninfo(const char *config, char *out, size_t len)
{
    FILE *f = fopen(config, "r");
    if (!f)
        return -1;
    char line[2048];
    int in = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '[') {
            in = strcmp(line, "[surveys]") == 0;
            continue;
        }
        if (in && strncmp(line, "db = ", 5) == 0) {
            snprintf(out, len, "%s", line + 5);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* After the run: how many of the journeys' closed tickets have a callback in surveys. This is
 * a count read from the surveys schema after everything settled — not a timed step. */
static void check_callbacks(bench_t *b, const char *config, bench_report_t *rep)
{
    const char *const *ids;
    size_t n = bench_closed_tickets(b, &ids);
    rep->callbacks_expected = (long)n;
    rep->callbacks_checked = -1;
    char ci[2048];
    if (n == 0 || surveys_conninfo(config, ci, sizeof ci) < 0)
        return;
    size_t cap = n * 40 + 8, off = 0;
    char *arr = malloc(cap);
    if (!arr)
        return;
    arr[off++] = '{';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(arr + off, cap - off, "%s\"%s\"", i ? "," : "", ids[i]);
    snprintf(arr + off, cap - off, "}");
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) == CONNECTION_OK) {
        const char *p[1] = {arr};
        PGresult *r = PQexecParams(
            c, "SELECT count(*) FROM surveys.callbacks WHERE ticket_id = ANY($1::text[])", 1, NULL,
            p, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            rep->callbacks_found = atol(PQgetvalue(r, 0, 0));
            rep->callbacks_checked = 1;
        } else {
            snprintf(rep->callback_note, sizeof rep->callback_note, "callbacks not counted: %s",
                     PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    PQfinish(c);
    free(arr);
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: as-bench   (settings in the environment; see docs/benchmark.md)\n");
        return 2;
    }
    int64_t t_begin = bench_now_ns();
    const char *out = env_str("BENCH_OUT", "build/bench");
    const char *config = getenv("AS_CONFIG");
    const char *var = env_str("AS_VAR", "var/bench");
    if (!config) {
        fprintf(stderr, "as-bench: AS_CONFIG is not set (source the stack's run/env)\n");
        return 2;
    }
    double seconds = env_num("BENCH_SECONDS", 20), warmup = env_num("BENCH_WARMUP", 2);
    int journeys = (int)env_num("BENCH_JOURNEYS", 64);
    int zmq_inflight = (int)env_num("BENCH_ZMQ_INFLIGHT", 256);
    const char *phases = env_str("BENCH_PHASES", "peak-zmq,peak-http,sweep,journeys");
    const char *rates = env_str("BENCH_RATES", "25,50,75,100");
    const char *sweep = env_str("BENCH_SWEEP", "zmq,http");

    bench_opts_t o = {
        .config = config,
        .token = env_str("AS_TOKEN_CENTER", ""),
        .center = env_str("AS_CENTER_CODE", "SH01"),
        .http_host = "127.0.0.1",
        .http_port = (int)env_num("AS_HTTP_PORT", 8560),
        .zmq_sockets = (int)env_num("BENCH_ZMQ_SOCKETS", 4),
        .http_conns = (int)env_num("BENCH_HTTP_CONNS", 32),
        .http_pipeline = (int)env_num("BENCH_HTTP_PIPELINE", 4),
        .callback_event = env_str("BENCH_CALLBACK_EVENT", "surveys.CallbackScheduled"),
    };
    procs_setup(var, (int)env_num("BENCH_PG_PID", 0));

    bench_report_t rep;
    memset(&rep, 0, sizeof rep);
    rep.callbacks_checked = -1;
    rep.pgbench_tps = env_num("BENCH_PGBENCH_TPS", 0);
    snprintf(rep.pgbench_note, sizeof rep.pgbench_note, "%s", env_str("BENCH_PGBENCH_NOTE", ""));
    rep.machine = machine_describe(var, &rep.fsync_per_s);
    rep.settings = json_pack("{s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:s}", "seconds",
                             seconds, "warmup", warmup, "zmq_sockets", o.zmq_sockets,
                             "zmq_inflight", zmq_inflight, "http_conns", o.http_conns,
                             "http_pipeline", o.http_pipeline, "journeys", journeys, "rates", rates,
                             "sweep", sweep, "phases", phases, "callback_event", o.callback_event);

    if (mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "as-bench: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char err[512];
    bench_t *b = bench_new(&o, err, sizeof err);
    if (!b) {
        fprintf(stderr, "as-bench: %s\n", err);
        return 1;
    }
    say("fdatasync of 8 kB in %s: %.0f per second", var, rep.fsync_per_s);
    if (waits_start(getenv("BENCH_PG_CONNINFO")) < 0)
        say("pg_stat_activity sampling is off (BENCH_PG_CONNINFO unset or unusable)");
    settle(b, NULL, "start-up");

    static phase_res_t idle, zpk, hpk, jr, sw[2][8];
    phase_cfg_t c;

    double idle_s = env_num("BENCH_IDLE_SECONDS", 5);
    if (idle_s > 0) {
        say("idle: no load for %.0f s (CPU of each process at rest)", idle_s);
        c = (phase_cfg_t){"idle", VIA_ZMQ, MODE_IDLE, idle_s, 0.5, 0, 0, 0};
        bench_run_phase(b, &c, &idle);
        rep.idle = &idle;
    }

    if (has_word(phases, "peak-zmq")) {
        say("tickets opened per second over ZeroMQ: %d in flight on %d DEALER sockets, %.0f s",
            zmq_inflight, o.zmq_sockets, seconds);
        c = (phase_cfg_t){"peak zmq", VIA_ZMQ, MODE_CLOSED, seconds, warmup, zmq_inflight, 0, 0};
        bench_run_phase(b, &c, &zpk);
        show(&zpk);
        settle(b, &zpk, c.name);
        rep.zmq_peak = &zpk;
    }
    if (has_word(phases, "peak-http")) {
        /* The gateway resends a request it has no answer to after 500 ms (same request id, so
         * it is applied once, but the service does the work of answering twice). Keep the
         * queue short enough that answers come in well under that: about 250 ms of the
         * ZeroMQ peak in flight, within the connections' capacity. */
        int window = o.http_conns * o.http_pipeline;
        int auto_window = (int)env_num("BENCH_HTTP_INFLIGHT", 0);
        if (auto_window <= 0 && rep.zmq_peak && rep.zmq_peak->throughput > 0) {
            auto_window = (int)(rep.zmq_peak->throughput * 0.25);
            if (auto_window < 8)
                auto_window = 8;
        }
        if (auto_window > 0 && auto_window < window)
            window = auto_window;
        say("tickets opened per second over HTTP: %d in flight on %d keep-alive connections (up "
            "to %d pipelined each), %.0f s",
            window, o.http_conns, o.http_pipeline, seconds);
        c = (phase_cfg_t){"peak http", VIA_HTTP, MODE_CLOSED, seconds, warmup, window, 0, 0};
        bench_run_phase(b, &c, &hpk);
        show(&hpk);
        settle(b, &hpk, c.name);
        rep.http_peak = &hpk;
    }
    if (has_word(phases, "sweep")) {
        for (int via = 0; via < 2; via++) {
            const phase_res_t *peak = via == VIA_ZMQ ? rep.zmq_peak : rep.http_peak;
            if (!has_word(sweep, via == VIA_ZMQ ? "zmq" : "http") || !peak || peak->throughput <= 0)
                continue;
            char list[128];
            snprintf(list, sizeof list, "%s", rates);
            for (char *tok = strtok(list, ", "); tok && rep.n_sweep[via] < 8;
                 tok = strtok(NULL, ", ")) {
                double frac = atof(tok) / 100.0;
                if (frac <= 0)
                    continue;
                phase_res_t *r = &sw[via][rep.n_sweep[via]];
                char name[48];
                snprintf(name, sizeof name, "%s %.0f%% of peak", via == VIA_ZMQ ? "zmq" : "http",
                         frac * 100);
                say("open loop %s: %.0f tickets/s offered (%.0f%% of the peak), %.0f s",
                    via == VIA_ZMQ ? "ZeroMQ" : "HTTP", frac * peak->throughput, frac * 100,
                    seconds);
                c = (phase_cfg_t){name, via, MODE_OPEN, seconds, warmup, 0, frac * peak->throughput,
                                  frac};
                bench_run_phase(b, &c, r);
                show(r);
                settle(b, r, name);
                rep.sweep[via][rep.n_sweep[via]++] = r;
            }
        }
    }
    if (has_word(phases, "journeys")) {
        say("full journeys: %d concurrent, %.0f s; the last step is %s", journeys, seconds,
            bench_has_callback_event(b) ? o.callback_event : "settlement.Charged");
        if (!bench_has_callback_event(b))
            say("  NOTE: surveys publishes no '%s' event (not in proto/surveys.proto): journeys "
                "are timed up to settlement.Charged; callbacks are only counted afterwards",
                o.callback_event);
        c = (phase_cfg_t){"journeys", VIA_ZMQ, MODE_JOURNEY, seconds, warmup, journeys, 0, 0};
        bench_run_phase(b, &c, &jr);
        show(&jr);
        say("    commands answered %.0f/s, Diagnose retried %llu times (decision not yet "
            "applied by intake), journeys failed %llu",
            jr.commands / seconds, (unsigned long long)jr.diag_retries,
            (unsigned long long)jr.journey_failed);
        settle(b, &jr, c.name);
        rep.journeys = &jr;
        check_callbacks(b, config, &rep);
    }
    if (!bench_has_callback_event(b))
        snprintf(rep.callback_note + strlen(rep.callback_note),
                 sizeof rep.callback_note - strlen(rep.callback_note),
                 "%ssurveys publishes no %s event: journeys end at settlement.Charged",
                 rep.callback_note[0] ? "; " : "", o.callback_event);
    rep.n_rss = rss_read(rep.rss, 8);
    rep.functions = waits_functions(15);
    rep.total_s = (bench_now_ns() - t_begin) / 1e9;

    char path[700];
    json_t *j = report_json(&rep);
    snprintf(path, sizeof path, "%s/results.json", out);
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
        fprintf(stderr, "as-bench: cannot write %s\n", path);
    json_decref(j);
    snprintf(path, sizeof path, "%s/latency.svg", out);
    if (report_svg(&rep, path) < 0)
        fprintf(stderr, "as-bench: cannot write %s\n", path);
    snprintf(path, sizeof path, "%s/summary.txt", out);
    FILE *f = fopen(path, "w");
    if (f) {
        report_print(&rep, f);
        fclose(f);
    }
    waits_stop();
    bench_free(b);
    json_decref(rep.machine);
    json_decref(rep.settings);
    json_decref(rep.functions);
    return 0;
}
