/* bench.h — the load generator behind `make bench` (as-bench).
 *
 * One process, one zmq_poll loop: several DEALER sockets to intake's command endpoint, SUB
 * sockets on the event endpoints, and plain non-blocking TCP connections to the gateway (HTTP/1.1
 * keep-alive, pipelined), all watched by the same poll. Phases (closed loop, open loop at a fixed
 * schedule, full journeys) run one after the other; between them the generator waits until every
 * consumer has caught up with every stream so no phase pays for the previous one's backlog.
 *
 *   stats.c   latency samples and percentiles, CPU per process from /proc, peak RSS, machine
 *   http.c    the HTTP/1.1 client connections (http_parser for responses)
 *   load.c    the engine: requests in flight, phases, journeys, settling
 *   waits.c   what each service's database connection waits on (pg_stat_activity samples)
 *   report.c  results.json, latency.svg and the printed summary
 *   main.c    settings (environment) and the order of the phases */
#ifndef AS_BENCH_H
#define AS_BENCH_H

#include <jansson.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* ---- time ---- */
int64_t bench_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- latency samples (stats.c) ---- */
typedef struct lat {
    uint32_t *v; /* microseconds */
    size_t n, cap;
    int sorted;
} lat_t;
void lat_add(lat_t *l, int64_t ns);
/* The p-th percentile (0..100) in milliseconds, nearest-rank; 0 when empty. */
double lat_pct(lat_t *l, double p);
double lat_mean(const lat_t *l);
void lat_free(lat_t *l);

/* ---- string hash map (stats.c): key (< 40 bytes) -> int64 ---- */
typedef struct hmap {
    uint32_t cap, n;
    char (*key)[40];
    int64_t *val;
    uint8_t *used;
} hmap_t;
int hm_init(hmap_t *h, uint32_t cap); /* cap: a power of two */
int64_t *hm_get(hmap_t *h, const char *key);
int hm_put(hmap_t *h, const char *key, int64_t val); /* -1 when full */
int hm_del(hmap_t *h, const char *key);
void hm_clear(hmap_t *h);
void hm_free(hmap_t *h);

/* ---- processes watched for CPU and memory (stats.c) ---- */
#define CPU_MAX_GROUPS 24
typedef struct cpu_group {
    char name[40];
    double pct; /* % of one core over the window */
} cpu_group_t;
typedef struct cpu_usage {
    int n;
    cpu_group_t g[CPU_MAX_GROUPS];
    double self_pct;    /* the generator itself */
    double machine_pct; /* every CPU of the machine busy, in % of one core (max nproc*100) */
    double iowait_pct;  /* idle waiting for I/O, in % of one core */
    double others_pct;  /* machine busy minus everything above: other people's work */
} cpu_usage_t;

typedef struct cpu_snap cpu_snap_t;
/* `var` is the stack's state directory (pid files), `pg_pid` its postmaster (0: unknown). */
void procs_setup(const char *var, int pg_pid);
cpu_snap_t *cpu_snap_take(void);
void cpu_usage_between(const cpu_snap_t *a, const cpu_snap_t *b, cpu_usage_t *out);
void cpu_snap_free(cpu_snap_t *s);

typedef struct rss_entry {
    char name[24];
    int pid;
    double hwm_mib, rss_mib; /* VmHWM, VmRSS; -1 when unknown */
} rss_entry_t;
int rss_read(rss_entry_t *out, int max); /* the as-* programs of the stack */

/* A short description of the machine: CPUs, memory, the disk under `dir`, kernel; and a
 * 2-second fdatasync rate of 8 kB writes in `dir` (what bounds a serial commit rate). */
json_t *machine_describe(const char *dir, double *fsync_per_s);

/* ---- phases (load.c) ---- */
enum { VIA_ZMQ = 0, VIA_HTTP = 1 };
enum { MODE_CLOSED = 0, MODE_OPEN = 1, MODE_JOURNEY = 2, MODE_IDLE = 3 };

typedef struct phase_cfg {
    const char *name;
    int via, mode;
    double seconds, warmup;
    int window;              /* closed: requests kept in flight; journey: concurrent journeys */
    double rate;             /* open: requests per second on a fixed schedule */
    double offered_fraction; /* open: rate as a fraction of the measured peak (for the report) */
} phase_cfg_t;

#define N_STEPS    7
#define N_SERVICES 5
#define WAIT_N     5 /* idle, cpu, wal_flush, lock, other */
extern const char *const wait_names[WAIT_N];
extern const char *const step_names[N_STEPS];

typedef struct phase_res {
    char name[48];
    int via, mode;
    double seconds; /* the measured window (after warm-up) */
    double rate;    /* open loop: offered per second */
    double offered_fraction;
    int window;
    uint64_t sent, ok, errors, timeouts; /* in the window */
    uint64_t ok_arrived;                 /* successes whose answer arrived in the window */
    uint64_t late;                       /* open loop: sent > 1 ms after their slot */
    uint64_t unsent;                     /* open loop: due but never sent (drain limit) */
    uint64_t status_count[8];            /* 2xx 400 404 409 4xx 503 504 5xx */
    char first_error[200];
    double throughput; /* successes per second in the window */
    lat_t lat;         /* latency of the window's successes */
    cpu_usage_t cpu;
    double settle_s;  /* after the phase: time until every consumer caught up */
    uint64_t backlog; /* events not yet applied by some consumer when the phase ended */
    /* journeys */
    uint64_t commands;       /* commands answered in the window (journeys: 4 per journey) */
    uint64_t diag_retries;   /* Diagnose answered 409 before intake applied the decision */
    uint64_t journey_failed; /* journeys abandoned (error, timeout) in the window */
    lat_t steps[N_STEPS];    /* per-step latency of completed journeys */
    int last_step;           /* index of the journey's last step */
    char last_step_name[64];
    /* each service's database backend over the window (waits.c) */
    int wait_samples;
    double wait_pct[N_SERVICES][WAIT_N];
    char wait_other[N_SERVICES][64];
    /* the whole cluster over the window (pg_stat_database, pg_stat_wal) */
    int pg_rates_ok;
    double commits_per_s, rollbacks_per_s, wal_syncs_per_s, wal_writes_per_s, wal_mib_per_s;
} phase_res_t;

/* ---- waits.c ---- */
int waits_start(const char *conninfo); /* -1: sampling off */
void waits_begin(void);                /* the measured window starts */
void waits_end(phase_res_t *res);      /* ... and ends: the shares go into res */
void waits_stop(void);
/* The PL/pgSQL functions that took the most time over the whole run (pg_stat_user_functions). */
json_t *waits_functions(int limit);

typedef struct bench bench_t;

typedef struct bench_opts {
    const char *config; /* AS_CONFIG */
    const char *token;  /* AS_TOKEN_CENTER */
    const char *center; /* SH01 */
    const char *http_host;
    int http_port;
    int zmq_sockets;
    int http_conns, http_pipeline;
    const char *callback_event; /* surveys' "callback scheduled" event type */
} bench_opts_t;

bench_t *bench_new(const bench_opts_t *o, char *err, size_t errlen);
int bench_run_phase(bench_t *b, const phase_cfg_t *cfg, phase_res_t *res);
/* Wait (up to max_s) until every consumer applied every published event. Returns seconds
 * waited, or -1 when it gave up; *backlog receives the events outstanding at the start. */
double bench_settle(bench_t *b, double max_s, uint64_t *backlog);
/* Journey steps that exist in this build of the services (events registered and published). */
int bench_has_callback_event(const bench_t *b);
/* Tickets closed by the journey phase (for checking the callbacks afterwards). */
size_t bench_closed_tickets(const bench_t *b, const char *const **ids);
void bench_free(bench_t *b);

/* ---- http.c ---- */
typedef struct hclient hclient_t;
/* Called for every response (status 0 = the connection failed before an answer). */
typedef void (*hreply_fn)(void *ud, int slot, int status, const char *body, size_t body_len);
hclient_t *hc_new(const char *host, int port, int conns, int pipeline, hreply_fn fn, void *ud);
/* Queue a request on the least busy connection. -1 when every connection is full. */
int hc_send(hclient_t *c, int slot, const char *req, size_t len);
int hc_capacity(const hclient_t *c); /* conns * pipeline */
int hc_inflight(const hclient_t *c);
/* Poll items: fill up to `max` (fd, events); returns how many. */
struct zmq_pollitem_t;
int hc_pollitems(hclient_t *c, void *items, int max);
void hc_handle(hclient_t *c, const void *items, int n);
void hc_free(hclient_t *c);

/* ---- report.c ---- */
typedef struct bench_report {
    json_t *machine;
    double fsync_per_s;
    double pgbench_tps;
    char pgbench_note[200];
    phase_res_t *idle, *zmq_peak, *http_peak, *journeys;
    phase_res_t *sweep[2][8]; /* [via][i] */
    int n_sweep[2];
    rss_entry_t rss[8];
    int n_rss;
    int callbacks_checked; /* -1: not checked */
    long callbacks_found, callbacks_expected;
    char callback_note[240];
    json_t *settings;
    json_t *functions; /* waits_functions() */
    double total_s;
} bench_report_t;

json_t *report_json(const bench_report_t *r);
int report_svg(const bench_report_t *r, const char *path);
void report_print(const bench_report_t *r, FILE *out);

#endif
