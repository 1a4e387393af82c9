/* report.c — what as-bench leaves behind: results.json, latency.svg (latency against achieved
 * throughput, one polyline per percentile and path) and the printed summary with each figure
 * next to its target. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T_TICKETS  5000.0 /* tickets opened per second */
#define T_JOURNEYS 1000.0 /* journeys per second */
#define T_P99_MS   20.0   /* open p99 at half the peak rate */
#define T_RSS_MIB  64.0   /* per service */

static const char *const STATUS_NAMES[8] = {"2xx", "400", "404", "409",
                                            "4xx", "503", "504", "other"};

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static json_t *lat_json(lat_t *l)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "samples", (json_int_t)l->n, "p50",
                     lat_pct(l, 50), "p95", lat_pct(l, 95), "p99", lat_pct(l, 99), "max",
                     lat_pct(l, 100), "mean", lat_mean(l));
}

static json_t *cpu_json(const cpu_usage_t *c)
{
    json_t *procs = json_object();
    for (int i = 0; i < c->n; i++)
        json_object_set_new(procs, c->g[i].name, json_real(round(c->g[i].pct * 10) / 10));
    return json_pack("{s:f, s:f, s:f, s:f, s:o}", "generator", round(c->self_pct * 10) / 10,
                     "machine", round(c->machine_pct * 10) / 10, "iowait",
                     round(c->iowait_pct * 10) / 10, "other_processes",
                     round(c->others_pct * 10) / 10, "processes", procs);
}

/* CPU time per success (ms), per process group, above what the group uses at rest (the idle
 * phase): CPU seconds are not stretched by waiting for a CPU the way latencies are, so this is
 * the figure to compare between machines and runs. Returns the total; fills `out`. */
static double cpu_per_success(const bench_report_t *r, const phase_res_t *p, json_t *out)
{
    if (p->throughput <= 0)
        return 0;
    double total = 0;
    for (int i = 0; i < p->cpu.n; i++) {
        double rest = 0;
        for (int k = 0; r->idle && k < r->idle->cpu.n; k++)
            if (strcmp(r->idle->cpu.g[k].name, p->cpu.g[i].name) == 0)
                rest = r->idle->cpu.g[k].pct;
        double pct = p->cpu.g[i].pct - rest;
        /* The generator's own sampling connection and pgbench are not the system's work. */
        if (pct <= 0 || strstr(p->cpu.g[i].name, "as-bench") || strstr(p->cpu.g[i].name, "pgbench"))
            continue;
        double ms = pct / 100.0 / p->throughput * 1000.0;
        total += ms;
        if (out)
            json_object_set_new(out, p->cpu.g[i].name, json_real(round(ms * 1000) / 1000));
    }
    double self = p->cpu.self_pct - (r->idle ? r->idle->cpu.self_pct : 0);
    if (out && self > 0)
        json_object_set_new(out, "as-bench (not counted in total)",
                            json_real(round(self / 100.0 / p->throughput * 1000.0 * 1000) / 1000));
    return total;
}

static double group_ms(const bench_report_t *r, const phase_res_t *p, const char *name)
{
    json_t *o = json_object();
    cpu_per_success(r, p, o);
    double v = json_real_value(json_object_get(o, name));
    json_decref(o);
    return v;
}

/* The phases that ran, in the order they ran (idle, the peaks, the sweeps, the journeys), into
 * `list` (20 at most); returns how many. */
static int phases_in_order(const bench_report_t *r, const phase_res_t *list[20])
{
    int n = 0;
    if (r->idle)
        list[n++] = r->idle;
    if (r->zmq_peak)
        list[n++] = r->zmq_peak;
    if (r->http_peak)
        list[n++] = r->http_peak;
    for (int via = 0; via < 2; via++)
        for (int i = 0; i < r->n_sweep[via] && n < 19; i++)
            list[n++] = r->sweep[via][i];
    if (r->journeys)
        list[n++] = r->journeys;
    return n;
}

static json_t *phase_json(const bench_report_t *rep, const phase_res_t *r)
{
    phase_res_t *m = (phase_res_t *)r;
    static const char *const modes[] = {"closed", "open", "journey", "idle"};
    json_t *st = json_object();
    for (int k = 0; k < 8; k++)
        if (r->status_count[k])
            json_object_set_new(st, STATUS_NAMES[k], json_integer((json_int_t)r->status_count[k]));
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:f, s:i, s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:f, s:I}", "name",
        r->name, "via", r->via == VIA_ZMQ ? "zmq" : "http", "loop", modes[r->mode], "seconds",
        r->seconds, "in_flight", r->window, "sent", (json_int_t)r->sent, "ok", (json_int_t)r->ok,
        "errors", (json_int_t)r->errors, "timeouts", (json_int_t)r->timeouts, "throughput_per_s",
        r->throughput, "latency_ms", lat_json(&m->lat), "statuses", st, "cpu_percent_of_a_core",
        cpu_json(&r->cpu), "settle_s", r->settle_s, "backlog_events", (json_int_t)r->backlog);
    if (r->mode == MODE_OPEN) {
        json_object_set_new(j, "offered_per_s", json_real(r->rate));
        json_object_set_new(j, "offered_fraction_of_peak", json_real(r->offered_fraction));
        json_object_set_new(j, "late_sends", json_integer((json_int_t)r->late));
        json_object_set_new(j, "never_sent", json_integer((json_int_t)r->unsent));
    }
    if (r->first_error[0])
        json_object_set_new(j, "first_error", json_string(r->first_error));
    if (r->wait_samples > 0) {
        static const char *const svc[N_SERVICES] = {"intake", "warranty", "parts", "settlement",
                                                    "surveys"};
        json_t *w = json_object();
        json_object_set_new(w, "samples", json_integer(r->wait_samples));
        for (int s = 0; s < N_SERVICES; s++) {
            json_t *o = json_object();
            for (int k = 0; k < WAIT_N; k++)
                json_object_set_new(o, wait_names[k],
                                    json_real(round(r->wait_pct[s][k] * 10) / 10));
            if (r->wait_other[s][0])
                json_object_set_new(o, "other_example", json_string(r->wait_other[s]));
            json_object_set_new(w, svc[s], o);
        }
        json_object_set_new(j, "db_backend_percent_of_samples", w);
    }
    if (r->throughput > 0 && r->cpu.n > 0) {
        json_t *c = json_object();
        double total = cpu_per_success(rep, r, c);
        json_object_set_new(c, "total", json_real(round(total * 1000) / 1000));
        json_object_set_new(j, "cpu_ms_per_success_above_idle", c);
    }
    if (r->pg_rates_ok) {
        double ops = r->throughput;
        json_object_set_new(
            j, "postgres_per_s",
            json_pack("{s:f, s:f, s:f, s:f, s:f, s:o}", "commits", round(r->commits_per_s),
                      "rollbacks", round(r->rollbacks_per_s), "wal_syncs",
                      round(r->wal_syncs_per_s), "wal_writes", round(r->wal_writes_per_s),
                      "wal_mib", round(r->wal_mib_per_s * 100) / 100, "commits_per_success",
                      ops > 0 ? json_real(round(r->commits_per_s / ops * 10) / 10) : json_null()));
        json_object_set_new(json_object_get(j, "postgres_per_s"), "wal_syncs_per_success",
                            ops > 0 ? json_real(round(r->wal_syncs_per_s / ops * 100) / 100)
                                    : json_null());
    }
    return j;
}

static json_t *target(const char *name, const char *cmp, double goal, double value,
                      const char *unit, int available)
{
    int met = !available               ? 0
              : strcmp(cmp, ">=") == 0 ? value >= goal
              : strcmp(cmp, "<=") == 0 ? value <= goal
                                       : value < goal;
    return json_pack("{s:s, s:s, s:f, s:f, s:s, s:o}", "name", name, "comparison", cmp, "target",
                     goal, "value", value, "unit", unit, "met",
                     available ? json_boolean(met) : json_null());
}

/* The sweep point at (about) half the peak. */
static phase_res_t *half(const bench_report_t *r, int via)
{
    phase_res_t *best = NULL;
    for (int i = 0; i < r->n_sweep[via]; i++)
        if (!best ||
            fabs(r->sweep[via][i]->offered_fraction - 0.5) < fabs(best->offered_fraction - 0.5))
            best = r->sweep[via][i];
    return best && fabs(best->offered_fraction - 0.5) < 0.01 ? best : NULL;
}

static json_t *targets_json(const bench_report_t *r)
{
    json_t *a = json_array();
    double zt = r->zmq_peak ? r->zmq_peak->throughput : 0;
    double ht = r->http_peak ? r->http_peak->throughput : 0;
    json_array_append_new(a, target("tickets opened per second (ZeroMQ)", ">=", T_TICKETS, zt,
                                    "per_s", r->zmq_peak != NULL));
    json_array_append_new(a, target("tickets opened per second (HTTP)", ">=", T_TICKETS, ht,
                                    "per_s", r->http_peak != NULL));
    json_array_append_new(a, target("journeys per second", ">=", T_JOURNEYS,
                                    r->journeys ? r->journeys->throughput : 0, "per_s",
                                    r->journeys != NULL));
    for (int via = 0; via < 2; via++) {
        phase_res_t *h = half(r, via);
        char name[80];
        snprintf(name, sizeof name, "open p99 at half the peak rate (%s)",
                 via == VIA_ZMQ ? "ZeroMQ" : "HTTP");
        json_array_append_new(
            a, target(name, "<=", T_P99_MS, h ? lat_pct(&h->lat, 99) : 0, "ms", h != NULL));
    }
    for (int i = 0; i < r->n_rss; i++) {
        char name[80];
        snprintf(name, sizeof name, "peak RSS %s", r->rss[i].name);
        json_array_append_new(
            a, target(name, "<", T_RSS_MIB, r->rss[i].hwm_mib, "MiB", r->rss[i].hwm_mib >= 0));
    }
    return a;
}

json_t *report_json(const bench_report_t *r)
{
    json_t *j = json_object();
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_set_new(j, "finished_at", json_string(when));
    json_object_set_new(j, "duration_s", json_real(round(r->total_s * 10) / 10));
    json_object_set_new(j, "machine", json_incref(r->machine));
    json_object_set_new(j, "settings", json_incref(r->settings));
    json_object_set_new(j, "pgbench",
                        json_pack("{s:f, s:s, s:i, s:i, s:i, s:s}", "tps", r->pgbench_tps, "mode",
                                  "TPC-B", "clients", 8, "threads", 2, "scale", 10, "note",
                                  r->pgbench_note));
    json_t *t = json_object();
    if (r->zmq_peak)
        json_object_set_new(t, "zmq", json_real(r->zmq_peak->throughput));
    if (r->http_peak)
        json_object_set_new(t, "http", json_real(r->http_peak->throughput));
    json_object_set_new(j, "tickets_opened_per_s", t);

    json_t *sweep = json_object();
    for (int via = 0; via < 2; via++) {
        if (!r->n_sweep[via])
            continue;
        json_t *a = json_array();
        for (int i = 0; i < r->n_sweep[via]; i++) {
            phase_res_t *p = r->sweep[via][i];
            json_array_append_new(
                a, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "offered_fraction",
                             p->offered_fraction, "offered_per_s", p->rate, "achieved_per_s",
                             p->throughput, "p50_ms", lat_pct(&p->lat, 50), "p95_ms",
                             lat_pct(&p->lat, 95), "p99_ms", lat_pct(&p->lat, 99), "errors",
                             (json_int_t)p->errors, "timeouts", (json_int_t)p->timeouts));
        }
        json_object_set_new(sweep, via == VIA_ZMQ ? "zmq" : "http", a);
    }
    json_object_set_new(j, "latency_sweep", sweep);

    if (r->journeys) {
        phase_res_t *p = r->journeys;
        json_t *steps = json_array();
        for (int s = 0; s <= p->last_step; s++)
            json_array_append_new(steps, json_pack("{s:s, s:f, s:f, s:f}", "step", step_names[s],
                                                   "p50_ms", lat_pct(&p->steps[s], 50), "p95_ms",
                                                   lat_pct(&p->steps[s], 95), "p99_ms",
                                                   lat_pct(&p->steps[s], 99)));
        json_t *jj = json_pack(
            "{s:f, s:i, s:I, s:I, s:I, s:f, s:o, s:o, s:s, s:s}", "per_s", p->throughput,
            "concurrency", p->window, "completed", (json_int_t)p->ok, "failed",
            (json_int_t)p->journey_failed, "diagnose_retries", (json_int_t)p->diag_retries,
            "commands_per_s", (double)p->commands / p->seconds, "latency_ms", lat_json(&p->lat),
            "steps", steps, "last_step", p->last_step_name, "path",
            p->last_step == 6 ? "open -> WarrantyDecided -> Diagnose -> CompleteRepair -> "
                                "Handback -> settlement.Charged + callback event"
                              : "open -> WarrantyDecided -> Diagnose -> CompleteRepair -> "
                                "Handback -> settlement.Charged (surveys publishes no callback "
                                "event: step not measured)");
        json_t *cb = json_object();
        json_object_set_new(cb, "closed_tickets", json_integer(r->callbacks_expected));
        if (r->callbacks_checked == 1)
            json_object_set_new(cb, "callbacks_found", json_integer(r->callbacks_found));
        if (r->callback_note[0])
            json_object_set_new(cb, "note", json_string(r->callback_note));
        json_object_set_new(jj, "callbacks_after_run", cb);
        json_object_set_new(j, "journeys", jj);
    }

    json_t *phases = json_array();
    const phase_res_t *list[20];
    int n = phases_in_order(r, list);
    for (int i = 0; i < n; i++)
        json_array_append_new(phases, phase_json(r, list[i]));
    json_object_set_new(j, "phases", phases);

    json_t *rss = json_array();
    for (int i = 0; i < r->n_rss; i++)
        json_array_append_new(rss, json_pack("{s:s, s:i, s:f, s:f}", "program", r->rss[i].name,
                                             "pid", r->rss[i].pid, "vmhwm_mib", r->rss[i].hwm_mib,
                                             "vmrss_mib", r->rss[i].rss_mib));
    json_object_set_new(j, "peak_rss", rss);

    double tps = r->pgbench_tps;
    json_object_set_new(j, "ratios",
                        json_pack("{s:f, s:f, s:f}", "tickets_zmq_per_pgbench_tps",
                                  ratio(r->zmq_peak ? r->zmq_peak->throughput : 0, tps),
                                  "tickets_http_per_pgbench_tps",
                                  ratio(r->http_peak ? r->http_peak->throughput : 0, tps),
                                  "journeys_per_pgbench_tps",
                                  ratio(r->journeys ? r->journeys->throughput : 0, tps)));
    json_object_set_new(j, "targets", targets_json(r));
    if (r->functions)
        json_object_set_new(j, "sql_functions_by_self_time", json_incref(r->functions));
    return j;
}

/* ---- the chart ---- */

static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

int report_svg(const bench_report_t *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const int W = 820, H = 500, L = 80, R = 200, T = 50, B = 60;
    const int pw = W - L - R, ph = H - T - B;
    double xmax = 0, ymin = 1e9, ymax = 0;
    for (int via = 0; via < 2; via++)
        for (int i = 0; i < r->n_sweep[via]; i++) {
            phase_res_t *p = r->sweep[via][i];
            if (p->throughput > xmax)
                xmax = p->throughput;
            if (p->rate > xmax)
                xmax = p->rate;
            double lo = lat_pct(&p->lat, 50), hi = lat_pct(&p->lat, 99);
            if (lo > 0 && lo < ymin)
                ymin = lo;
            if (hi > ymax)
                ymax = hi;
        }
    if (xmax <= 0)
        xmax = 100;
    if (ymax <= 0)
        ymin = 1, ymax = 100;
    if (ymax < T_P99_MS)
        ymax = T_P99_MS;
    double xstep = nice_step(xmax, 6);
    xmax = ceil(xmax * 1.05 / xstep) * xstep;
    double y0 = pow(10, floor(log10(ymin))), y1 = pow(10, ceil(log10(ymax)));
    if (y1 / y0 < 100)
        y0 = y1 / 100;
#define XP(x) (L + (x) / xmax * pw)
#define YP(y) (T + ph - (log10(y) - log10(y0)) / (log10(y1) - log10(y0)) * ph)

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f,
            "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Open-ticket latency "
            "against throughput (open loop, fixed schedule)</text>\n",
            L);
    /* grid and ticks */
    for (double x = 0; x <= xmax + 1e-9; x += xstep) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
                XP(x), T, XP(x), T + ph);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", XP(x),
                T + ph + 18, x);
    }
    for (double d = y0; d <= y1 * 1.0001; d *= 10)
        for (int m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
            double y = d * m;
            if (y > y1 * 1.0001)
                break;
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", L,
                    YP(y), L + pw, YP(y), m == 1 ? "#d0d0d0" : "#eeeeee");
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6,
                    YP(y) + 4, y);
        }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            L, T, pw, ph);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">achieved throughput (tickets "
            "opened per second, 201 received)</text>\n",
            L + pw / 2, H - 16);
    fprintf(f,
            "<text transform=\"translate(20 %d) rotate(-90)\" text-anchor=\"middle\">latency "
            "from scheduled send to 201 (ms, log scale)</text>\n",
            T + ph / 2);
    /* the target */
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\" "
            "stroke-dasharray=\"2 3\"/>\n",
            L, YP(T_P99_MS), L + pw, YP(T_P99_MS));
    fprintf(f,
            "<text x=\"%d\" y=\"%.1f\" fill=\"#666\" text-anchor=\"end\">p99 target %g "
            "ms at half the peak</text>\n",
            L + pw - 4, YP(T_P99_MS) - 4, T_P99_MS);
    static const char *const colors[3] = {"#1f77b4", "#ff7f0e", "#d62728"};
    static const double pcts[3] = {50, 95, 99};
    int ly = T + 10;
    for (int via = 0; via < 2; via++) {
        if (!r->n_sweep[via])
            continue;
        for (int k = 0; k < 3; k++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                    colors[k], via == VIA_HTTP ? " stroke-dasharray=\"7 4\"" : "");
            for (int i = 0; i < r->n_sweep[via]; i++) {
                phase_res_t *p = r->sweep[via][i];
                double y = lat_pct(&p->lat, pcts[k]);
                fprintf(f, "%.1f,%.1f ", XP(p->throughput), YP(y < y0 ? y0 : y));
            }
            fprintf(f, "\"/>\n");
            for (int i = 0; i < r->n_sweep[via]; i++) {
                phase_res_t *p = r->sweep[via][i];
                double y = lat_pct(&p->lat, pcts[k]);
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        XP(p->throughput), YP(y < y0 ? y0 : y), colors[k]);
                if (k == 2)
                    fprintf(f,
                            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">%.0f%%"
                            "</text>\n",
                            XP(p->throughput) + 5, YP(y < y0 ? y0 : y) - 5,
                            p->offered_fraction * 100);
            }
            fprintf(f,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2\"%s/>\n",
                    L + pw + 14, ly, L + pw + 44, ly, colors[k],
                    via == VIA_HTTP ? " stroke-dasharray=\"7 4\"" : "");
            fprintf(f, "<text x=\"%d\" y=\"%d\">p%.0f %s</text>\n", L + pw + 50, ly + 4, pcts[k],
                    via == VIA_ZMQ ? "ZeroMQ direct" : "HTTP gateway");
            ly += 20;
        }
        ly += 8;
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#444\">labels: offered rate,</text>\n"
            "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#444\">%% of the measured peak"
            "</text>\n",
            L + pw + 14, ly + 6, L + pw + 14, ly + 19);
    fprintf(f, "</svg>\n");
#undef XP
#undef YP
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the summary ---- */

static const char *verdict(int met)
{
    return met ? "met" : "NOT met";
}

static void line_target(FILE *o, const char *name, double v, const char *unit, const char *cmp,
                        double goal, int met)
{
    char vb[40], gb[40];
    snprintf(vb, sizeof vb, "%.1f %s", v, unit);
    snprintf(gb, sizeof gb, "%s %g %s", cmp, goal, unit);
    fprintf(o, "  %-44s %16s   target %-14s %s\n", name, vb, gb, verdict(met));
}

static void cpu_line(FILE *o, const phase_res_t *p, long ncpu)
{
    fprintf(o, "  %-18s", p->name);
    for (int i = 0; i < p->cpu.n && i < 8; i++)
        if (p->cpu.g[i].pct >= 1)
            fprintf(o, " %s %.0f,", p->cpu.g[i].name, p->cpu.g[i].pct);
    fprintf(o, " as-bench %.0f | machine busy %.0f of %ld, iowait %.0f, other processes %.0f\n",
            p->cpu.self_pct, p->cpu.machine_pct, ncpu * 100, p->cpu.iowait_pct, p->cpu.others_pct);
}

static const char *js(json_t *m, const char *key)
{
    const char *v = json_string_value(json_object_get(m, key));
    return v ? v : "?";
}

void report_print(const bench_report_t *r, FILE *o)
{
    json_t *m = r->machine;
    fprintf(o, "\n==== aftersales benchmark ====\n");
    fprintf(o,
            "machine: %lld CPUs (%s), %lld MiB RAM, disk %s (%s, %.0f GiB), fdatasync %.0f/s, "
            "load at start %s\n",
            (long long)json_integer_value(json_object_get(m, "nproc")), js(m, "cpu"),
            (long long)json_integer_value(json_object_get(m, "memory_mib")), js(m, "disk_device"),
            js(m, "filesystem"), json_real_value(json_object_get(m, "disk_size_gib")),
            r->fsync_per_s, js(m, "loadavg_at_start"));
    char *settings = json_dumps(r->settings, JSON_COMPACT);
    fprintf(o, "settings: %s\n", settings ? settings : "");
    free(settings);
    fprintf(o, "\nbaseline\n  %-44s %12.1f tps   %s\n", "pgbench TPC-B, -c 8 -j 2, scale 10",
            r->pgbench_tps, r->pgbench_note);

    fprintf(o, "\nthroughput (durably committed: a 201 arrived)\n");
    if (r->zmq_peak)
        line_target(o, "tickets opened/s, ZeroMQ direct", r->zmq_peak->throughput, "/s",
                    ">=", T_TICKETS, r->zmq_peak->throughput >= T_TICKETS);
    if (r->http_peak)
        line_target(o, "tickets opened/s, HTTP via gateway", r->http_peak->throughput, "/s",
                    ">=", T_TICKETS, r->http_peak->throughput >= T_TICKETS);
    if (r->journeys) {
        char name[80];
        snprintf(name, sizeof name, "journeys/s (to %s)", r->journeys->last_step_name);
        line_target(o, name, r->journeys->throughput, "/s", ">=", T_JOURNEYS,
                    r->journeys->throughput >= T_JOURNEYS);
    }
    for (int via = 0; via < 2; via++) {
        phase_res_t *h = half(r, via);
        if (h)
            line_target(o,
                        via == VIA_ZMQ ? "open p99 at 50% of peak, ZeroMQ"
                                       : "open p99 at 50% of peak, HTTP",
                        lat_pct(&h->lat, 99), "ms", "<=", T_P99_MS,
                        lat_pct(&h->lat, 99) <= T_P99_MS);
    }
    for (int i = 0; i < r->n_rss; i++) {
        char name[80];
        snprintf(name, sizeof name, "peak RSS (VmHWM) %s", r->rss[i].name);
        line_target(o, name, r->rss[i].hwm_mib, "MiB", "<", T_RSS_MIB,
                    r->rss[i].hwm_mib >= 0 && r->rss[i].hwm_mib < T_RSS_MIB);
    }

    double tps = r->pgbench_tps;
    fprintf(o, "\nratios to pgbench tps (%.0f)\n", tps);
    if (r->zmq_peak)
        fprintf(o, "  tickets/s (ZeroMQ) / pgbench tps      %.3f\n",
                ratio(r->zmq_peak->throughput, tps));
    if (r->http_peak)
        fprintf(o, "  tickets/s (HTTP)   / pgbench tps      %.3f\n",
                ratio(r->http_peak->throughput, tps));
    if (r->journeys)
        fprintf(o, "  journeys/s         / pgbench tps      %.3f\n",
                ratio(r->journeys->throughput, tps));

    fprintf(o, "\nopen-ticket latency, open loop (ms from the scheduled send to the 201)\n");
    fprintf(o, "  %-6s %8s %10s %10s %8s %8s %8s %8s %8s\n", "path", "offered", "offered/s",
            "achieved/s", "p50", "p95", "p99", "errors", "late");
    for (int via = 0; via < 2; via++)
        for (int i = 0; i < r->n_sweep[via]; i++) {
            phase_res_t *p = r->sweep[via][i];
            fprintf(o, "  %-6s %7.0f%% %10.1f %10.1f %8.2f %8.2f %8.2f %8llu %8llu\n",
                    via == VIA_ZMQ ? "zmq" : "http", p->offered_fraction * 100, p->rate,
                    p->throughput, lat_pct(&p->lat, 50), lat_pct(&p->lat, 95), lat_pct(&p->lat, 99),
                    (unsigned long long)(p->errors + p->timeouts), (unsigned long long)p->late);
        }
    if (r->zmq_peak || r->http_peak) {
        fprintf(o, "  closed loop at the peak:");
        if (r->zmq_peak)
            fprintf(o, " zmq (%d in flight) p50 %.1f p99 %.1f ms;", r->zmq_peak->window,
                    lat_pct(&r->zmq_peak->lat, 50), lat_pct(&r->zmq_peak->lat, 99));
        if (r->http_peak)
            fprintf(o, " http (%d in flight) p50 %.1f p99 %.1f ms", r->http_peak->window,
                    lat_pct(&r->http_peak->lat, 50), lat_pct(&r->http_peak->lat, 99));
        fprintf(o, "\n");
    }

    if (r->journeys) {
        phase_res_t *p = r->journeys;
        fprintf(o,
                "\njourneys (%d concurrent): %.1f/s, %llu completed, %llu failed, latency p50 "
                "%.1f p95 %.1f p99 %.1f ms; %.0f commands/s; Diagnose retried %llu times\n",
                p->window, p->throughput, (unsigned long long)p->ok,
                (unsigned long long)p->journey_failed, lat_pct(&p->lat, 50), lat_pct(&p->lat, 95),
                lat_pct(&p->lat, 99), (double)p->commands / p->seconds,
                (unsigned long long)p->diag_retries);
        for (int s = 0; s <= p->last_step; s++)
            fprintf(o, "  %-36s p50 %8.2f  p95 %8.2f  p99 %8.2f ms\n", step_names[s],
                    lat_pct(&p->steps[s], 50), lat_pct(&p->steps[s], 95),
                    lat_pct(&p->steps[s], 99));
        if (p->last_step < 6)
            fprintf(o, "  %-36s NOT MEASURED: %s\n", step_names[6], r->callback_note);
        if (r->callbacks_checked == 1)
            fprintf(o, "  callbacks found in surveys after the run: %ld of %ld closed tickets\n",
                    r->callbacks_found, r->callbacks_expected);
        if (p->first_error[0])
            fprintf(o, "  first failure: %s\n", p->first_error);
    }

    long ncpu = (long)json_integer_value(json_object_get(m, "nproc"));
    const phase_res_t *costed[3] = {r->zmq_peak, r->http_peak, r->journeys};
    static const char *const what[3] = {"ticket (ZeroMQ peak)", "ticket (HTTP peak)", "journey"};
    int any = 0;
    for (int k = 0; k < 3; k++) {
        const phase_res_t *p = costed[k];
        if (!p || p->throughput <= 0)
            continue;
        if (!any)
            fprintf(o, "\nCPU per success above the idle level (ms of CPU; independent of how "
                       "busy the machine was)\n");
        any = 1;
        json_t *g = json_object();
        double total = cpu_per_success(r, p, g);
        fprintf(o, "  per %-22s total %6.2f ms:", what[k], total);
        const char *key;
        json_t *v;
        json_object_foreach(g, key, v)
        {
            if (json_real_value(v) >= 0.01)
                fprintf(o, " %s %.2f,", key, json_real_value(v));
        }
        fprintf(o, "\n");
        /* Ceilings these costs imply on an otherwise idle machine like this one. */
        double db = group_ms(r, p, "postgres:intake");
        fprintf(o, "    => at most ~%.0f/s with all %ld cores",
                total > 0 ? ncpu * 1000.0 / total : 0, ncpu);
        if (db > 0)
            fprintf(o,
                    "; intake's single database connection (one backend, one core) at most "
                    "~%.0f/s",
                    1000.0 / db);
        fprintf(o, "\n");
        json_decref(g);
    }

    fprintf(o, "\nCPU during each phase (%% of one core; the machine has %lld cores)\n",
            (long long)json_integer_value(json_object_get(m, "nproc")));
    const phase_res_t *list[20];
    int n = phases_in_order(r, list);
    for (int i = 0; i < n; i++)
        cpu_line(o, list[i], (long)json_integer_value(json_object_get(m, "nproc")));
    fprintf(o, "\neach service's database connection, %% of pg_stat_activity samples:\n"
               "  c = on CPU, w = waiting for the WAL flush (fsync), l = lock, i = idle (waiting "
               "for the service), o = other\n");
    fprintf(o, "  %-18s", "");
    static const char *const svc[N_SERVICES] = {"intake", "warranty", "parts", "settlement",
                                                "surveys"};
    for (int s = 0; s < N_SERVICES; s++)
        fprintf(o, " %-22s", svc[s]);
    fprintf(o, "\n");
    for (int i = 0; i < n; i++) {
        if (list[i]->wait_samples == 0)
            continue;
        fprintf(o, "  %-18s", list[i]->name);
        for (int s = 0; s < N_SERVICES; s++) {
            char cell[64];
            const double *w = list[i]->wait_pct[s];
            snprintf(cell, sizeof cell, "c%.0f w%.0f l%.0f i%.0f o%.0f", w[1], w[2], w[3], w[0],
                     w[4]);
            fprintf(o, " %-22s", cell);
        }
        fprintf(o, "\n");
    }
    fprintf(o, "\nPostgreSQL, whole cluster, per second of each phase (commits include read-only "
               "transactions: see the idle line; per success = per ticket or journey)\n");
    for (int i = 0; i < n; i++) {
        const phase_res_t *p = list[i];
        if (!p->pg_rates_ok)
            continue;
        fprintf(o, "  %-18s commits %7.0f  rollbacks %5.0f  WAL syncs %6.0f  WAL %5.2f MiB",
                p->name, p->commits_per_s, p->rollbacks_per_s, p->wal_syncs_per_s,
                p->wal_mib_per_s);
        if (p->throughput > 0)
            fprintf(o, "  per success: commits %.1f, WAL syncs %.2f",
                    p->commits_per_s / p->throughput, p->wal_syncs_per_s / p->throughput);
        fprintf(o, "\n");
    }
    if (r->functions && json_array_size(r->functions) > 0) {
        fprintf(o, "\nSQL functions by time spent in them over the whole run (self time)\n");
        size_t i;
        json_t *f;
        json_array_foreach(r->functions, i, f)
        {
            if (i >= 12)
                break;
            char name[96];
            snprintf(name, sizeof name, "%s.%s", js(f, "schema"), js(f, "function"));
            fprintf(o, "  %-40s calls %8lld  self %9.0f ms  %7.1f us/call\n", name,
                    (long long)json_integer_value(json_object_get(f, "calls")),
                    json_real_value(json_object_get(f, "self_ms")),
                    json_real_value(json_object_get(f, "self_us_per_call")));
        }
    }
    fprintf(o, "\nbacklog after each phase (events not yet applied by a consumer) and catch-up "
               "time:\n ");
    for (int i = 0; i < n; i++)
        fprintf(o, " %s: %llu in %.1f s;", list[i]->name, (unsigned long long)list[i]->backlog,
                list[i]->settle_s);
    fprintf(o, "\n\nrun took %.0f s\n", r->total_s);
}
