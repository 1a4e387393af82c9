/* it_db_hosts.c — the event loop's database connection (common/src/db.c) with a multi-host
 * connection string, against the test stack's PostgreSQL: the first host refuses (a closed
 * port), the second is the stack's server; with target_session_attrs=read-write the connection
 * must go on to the second host and run a job there. A refused connect ends in POLLERR, which
 * libuv reports as an error status: the connection used to give up at that point instead of
 * letting libpq try the next host, so a service never reached a promoted standby
 * (docs/decisions/0035-standby-by-connection-string.md). A first host that accepts the TCP
 * connection and never answers (a listening socket nobody accepts from: what a hung or
 * partitioned server looks like) must be given up after connect_timeout and the second host
 * tried — libpq does not enforce connect_timeout for non-blocking connects. A connection whose
 * every host refuses must fail its job cleanly once the back-off is long, not hang.
 * Reads AS_VAR (for run/secrets/intake.pw) and AS_PG_PORT. Prints TAP lines. */
#include "as/db.h"
#include "as/log.h"
#include "it_tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int done, ok;
    char port[16], err[256];
} job_t;

static void job_cb(const as_db_result_t *r, void *ud)
{
    job_t *j = ud;
    j->done = 1;
    j->ok = r->ok;
    if (r->ok)
        snprintf(j->port, sizeof j->port, "%s", as_db_value(r->res[0], 0, 0));
    else
        snprintf(j->err, sizeof j->err, "%s %s", r->sqlstate, r->message);
}

/* A TCP port on 127.0.0.1 nobody listens on: bound, then closed. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

/* A socket listening on 127.0.0.1 that never accepts: connects succeed, nothing answers. */
static int silent_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

static void stop_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop until the job is done or `ms` have passed. */
static void run_until(uv_loop_t *loop, job_t *j, unsigned ms)
{
    uv_timer_t t, tick;
    uv_timer_init(loop, &t);
    uv_timer_init(loop, &tick);
    uv_timer_start(&t, stop_cb, ms, 0);
    uv_timer_start(&tick, stop_cb, 50, 50);
    while (!j->done && uv_is_active((uv_handle_t *)&t))
        uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

int main(void)
{
    const char *var = getenv("AS_VAR"), *pg_port = getenv("AS_PG_PORT");
    char path[1024], pw[128] = "", conninfo[1024], name[256];
    as_log_init("it_db_hosts", AS_LOG_WARN);
    if (!var || !pg_port) {
        check(0, "AS_VAR and AS_PG_PORT are set", "run me from tests/run.sh");
        return 1;
    }
    snprintf(path, sizeof path, "%s/run/secrets/intake.pw", var);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(pw, sizeof pw, f)) {
        check(0, "intake's database password is readable", path);
        return 1;
    }
    fclose(f);
    pw[strcspn(pw, "\r\n")] = '\0';
    int dead = closed_port(), dead2 = closed_port();
    uv_loop_t loop;
    uv_loop_init(&loop);
    const as_db_stmt_t st = {.sql = "SELECT inet_server_port()::text"};

    /* 1. refused, then the stack's server */
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1,127.0.0.1 port=%d,%s target_session_attrs=read-write "
             "connect_timeout=5 dbname=aftersales user=as_intake password=%s "
             "application_name=it_db_hosts",
             dead, pg_port, pw);
    as_db_t *db = NULL;
    job_t j = {0};
    if (as_db_new(&loop, conninfo, 100, &db) < 0 || as_db_submit(db, &st, 1, job_cb, &j) < 0) {
        check(0, "the connection and its job are created", "as_db_new/as_db_submit failed");
        return 1;
    }
    run_until(&loop, &j, 20000);
    snprintf(name, sizeof name,
             "first host refused (port %d): the connection goes on to the second and runs a job "
             "there",
             dead);
    check(j.done && j.ok, name, j.done ? j.err : "no answer in 20 s");
    snprintf(name, sizeof name, "the job ran on the second host (port %s)", pg_port);
    check(j.ok && strcmp(j.port, pg_port) == 0, name, j.port[0] ? j.port : "no port");
    as_db_stats_t s;
    as_db_get_stats(db, &s);
    check(s.connected == 1, "the connection counts as connected", "connected = 0");
    as_db_destroy(&db);
    uv_run(&loop, UV_RUN_NOWAIT);

    /* 2. the first host never answers: given up after connect_timeout (2 s), then the second */
    int silent_port = 0, silent = silent_listener(&silent_port);
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1,127.0.0.1 port=%d,%s target_session_attrs=read-write "
             "connect_timeout=2 dbname=aftersales user=as_intake password=%s "
             "application_name=it_db_hosts",
             silent_port, pg_port, pw);
    job_t h = {0};
    if (silent < 0 || as_db_new(&loop, conninfo, 100, &db) < 0 ||
        as_db_submit(db, &st, 1, job_cb, &h) < 0) {
        check(0, "a connection with a silent first host is created",
              "listener or as_db_new failed");
        return 1;
    }
    run_until(&loop, &h, 20000);
    snprintf(name, sizeof name,
             "first host accepts and never answers (port %d): after connect_timeout the next "
             "attempt starts with the second host, and the job runs there",
             silent_port);
    check(h.done && h.ok && strcmp(h.port, pg_port) == 0, name,
          h.done ? (h.ok ? h.port : h.err) : "no answer in 20 s");
    as_db_destroy(&db);
    uv_run(&loop, UV_RUN_NOWAIT);
    close(silent);

    /* 3. every host refuses: the job ends (08006 once the back-off is at its longest), the loop
     * is not stuck on a dead socket */
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1,127.0.0.1 port=%d,%d target_session_attrs=read-write "
             "connect_timeout=5 dbname=aftersales user=as_intake password=%s",
             dead, dead2, pw);
    job_t k = {0};
    if (as_db_new(&loop, conninfo, 100, &db) < 0) {
        check(0, "a connection to two refusing hosts is created", "as_db_new failed");
        return 1;
    }
    /* Wait for the back-off to reach its longest (100 ms doubling to 5 s: about 7 s), then a
     * job must be refused at once. */
    job_t w = {0};
    run_until(&loop, &w, 8000);
    as_db_get_stats(db, &s);
    snprintf(name, sizeof name, "with every host refusing it keeps trying (%llu attempts)",
             (unsigned long long)s.reconnects);
    check(!s.connected && s.reconnects >= 3, name, "not retrying");
    if (as_db_submit(db, &st, 1, job_cb, &k) == 0)
        run_until(&loop, &k, 2000);
    check(k.done && !k.ok && strncmp(k.err, "08006", 5) == 0,
          "... and a job then fails at once as 'database unavailable' (08006)",
          k.done ? k.err : "no answer");
    as_db_destroy(&db);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return failures ? 1 : 0;
}
