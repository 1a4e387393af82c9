/* db.c — the asynchronous, pipelined PostgreSQL connection described in db.h, and the blocking
 * migration runner used before the loop starts. */
#include "as/db.h"
#include "as/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_MAX_STMTS    256
#define DB_MAX_INFLIGHT 256
#define DB_BACKOFF_MIN  100
#define DB_BACKOFF_MAX  5000
/* A host that has not completed the connection after connect_timeout seconds
 * (DB_CONNECT_TIMEOUT_S when the string sets none) is given up, and the next attempt starts
 * with the host after it: libpq does not enforce connect_timeout in PQconnectPoll(), and a host
 * that drops packets (or accepts and never answers) would otherwise hold every attempt. */
#define DB_CONNECT_TIMEOUT_S 10

typedef struct db_job {
    struct db_job *next;
    int n;
    char **sql; /* the arrays below have n entries, allocated with the job */
    int *nparams;
    char ***params;
    PGresult **res;
    int cur; /* statement whose results are being read */
    as_db_cb cb;
    void *ud;
    uint64_t sent_ns; /* when its statements went to the server (monotonic) */
} db_job_t;

typedef enum { DB_DOWN, DB_CONNECTING, DB_READY } db_state_t;

struct as_db {
    uv_loop_t *loop;
    char *conninfo;
    PGconn *conn;
    uv_poll_t *poll; /* heap: freed in its close callback */
    uv_timer_t timer;
    uv_idle_t defer; /* runs failed-job callbacks outside of as_db_submit() */
    db_state_t state;
    int poll_events;
    uv_poll_cb poll_fn;
    int sock_fd;         /* the socket the poll watches, and its inode: libpq opens a new */
    ino_t sock_ino;      /* one for each host it tries while connecting */
    unsigned connect_ms; /* how long one host may take to connect */
    unsigned backoff_ms;
    unsigned max_queue;
    db_job_t *queue_head, *queue_tail; /* not yet sent */
    db_job_t *fly_head, *fly_tail;     /* sent, waiting for results */
    db_job_t *done_head, *done_tail;   /* failed before sending; callback deferred */
    unsigned queued, inflight, deferred;
    uint64_t jobs_ok, jobs_failed, reconnects;
    uint64_t rtt_count, rtt_sum_ns, rtt_last_ns; /* send to sync, of the jobs that succeeded */
    int closing;
};

static void db_connect_start(as_db_t *db);
static void db_pump(as_db_t *db);

static void job_free(db_job_t *j)
{
    for (int i = 0; i < j->n; i++) {
        free(j->sql[i]);
        if (j->params[i]) {
            for (int k = 0; k < j->nparams[i]; k++)
                free(j->params[i][k]);
            free(j->params[i]);
        }
        if (j->res[i])
            PQclear(j->res[i]);
    }
    free(j);
}

static void job_finish(db_job_t *j, const char *sqlstate, const char *message)
{
    as_db_result_t r = {
        .ok = 1, .n = j->n, .res = j->res, .sqlstate = "", .message = "", .detail = ""};
    if (sqlstate) {
        r.ok = 0;
        r.sqlstate = sqlstate;
        r.message = message;
    } else {
        for (int i = 0; i < j->n; i++) {
            ExecStatusType st = j->res[i] ? PQresultStatus(j->res[i]) : PGRES_FATAL_ERROR;
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                continue;
            r.ok = 0;
            if (j->res[i] && st == PGRES_FATAL_ERROR) {
                const char *s = PQresultErrorField(j->res[i], PG_DIAG_SQLSTATE);
                const char *m = PQresultErrorField(j->res[i], PG_DIAG_MESSAGE_PRIMARY);
                const char *d = PQresultErrorField(j->res[i], PG_DIAG_MESSAGE_DETAIL);
                r.sqlstate = s ? s : "XX000";
                r.message = m ? m : "database error";
                r.detail = d ? d : "";
                break;
            }
            if (!r.sqlstate[0]) {
                r.sqlstate = "XX000";
                r.message = "statement did not run";
            }
        }
    }
    if (j->cb)
        j->cb(&r, j->ud);
    job_free(j);
}

static void list_push(db_job_t **head, db_job_t **tail, db_job_t *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static db_job_t *list_pop(db_job_t **head, db_job_t **tail)
{
    db_job_t *j = *head;
    if (j) {
        *head = j->next;
        if (!*head)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void defer_cb(uv_idle_t *h)
{
    as_db_t *db = h->data;
    db_job_t *j;
    while ((j = list_pop(&db->done_head, &db->done_tail))) {
        db->deferred--;
        db->jobs_failed++;
        job_finish(j, "08006", "database unavailable; outcome unknown");
    }
    uv_idle_stop(&db->defer);
}

static void poll_close_cb(uv_handle_t *h)
{
    free(h);
}

static void reconnect_cb(uv_timer_t *t)
{
    db_connect_start(t->data);
}

static void db_drop_connection(as_db_t *db, const char *why_in)
{
    /* `why_in` may point into the connection's own error buffer, freed by PQfinish below. */
    char why[256];
    snprintf(why, sizeof why, "%s", why_in ? why_in : "");
    why[strcspn(why, "\n")] = '\0';
    if (db->poll) {
        uv_poll_stop(db->poll);
        uv_close((uv_handle_t *)db->poll, poll_close_cb);
        db->poll = NULL;
    }
    db->sock_fd = -1;
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    if (db->state == DB_READY && db->closing)
        AS_INFO("database connection closed", "inflight=%u", db->inflight);
    else if (db->state == DB_READY)
        AS_WARN("database connection lost", "reason=\"%s\" inflight=%u", why, db->inflight);
    else if (!db->closing && db->reconnects % 20 == 0) {
        char esc[512];
        as_log_esc(why, esc, sizeof esc);
        AS_WARN("database connect failed", "error=\"%s\" retry_ms=%u", esc, db->backoff_ms);
    }
    db->state = DB_DOWN;
    db->poll_events = 0;
    db_job_t *j;
    while ((j = list_pop(&db->fly_head, &db->fly_tail))) {
        db->inflight--;
        db->jobs_failed++;
        job_finish(j, "08006", "database connection lost; outcome unknown");
    }
    if (db->closing)
        return;
    db->reconnects++;
    uv_timer_start(&db->timer, reconnect_cb, db->backoff_ms, 0);
    db->backoff_ms = db->backoff_ms * 2 > DB_BACKOFF_MAX ? DB_BACKOFF_MAX : db->backoff_ms * 2;
}

static void db_set_poll(as_db_t *db, int events)
{
    if (db->poll && events != db->poll_events) {
        db->poll_events = events;
        uv_poll_start(db->poll, events, db->poll_fn);
    }
}

static void db_read_results(as_db_t *db)
{
    if (!PQconsumeInput(db->conn)) {
        db_drop_connection(db, PQerrorMessage(db->conn));
        return;
    }
    while (db->fly_head) {
        if (PQisBusy(db->conn))
            break;
        PGresult *r = PQgetResult(db->conn);
        db_job_t *j = db->fly_head;
        if (!r) {
            if (j->cur < j->n)
                j->cur++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            list_pop(&db->fly_head, &db->fly_tail);
            db->inflight--;
            db->jobs_ok++;
            if (j->sent_ns) {
                uint64_t now = uv_hrtime();
                db->rtt_last_ns = now > j->sent_ns ? now - j->sent_ns : 0;
                db->rtt_sum_ns += db->rtt_last_ns;
                db->rtt_count++;
            }
            job_finish(j, NULL, NULL);
            if (!db->conn)
                return; /* a callback destroyed us mid-loop: not allowed, but be safe */
            continue;
        }
        if (j->cur < j->n && !j->res[j->cur])
            j->res[j->cur] = r;
        else
            PQclear(r);
    }
    if (PQstatus(db->conn) == CONNECTION_BAD)
        db_drop_connection(db, PQerrorMessage(db->conn));
}

static void db_flush(as_db_t *db)
{
    int f = PQflush(db->conn);
    if (f < 0) {
        db_drop_connection(db, PQerrorMessage(db->conn));
        return;
    }
    db_set_poll(db, f == 1 ? (UV_READABLE | UV_WRITABLE) : UV_READABLE);
}

/* Send as many queued jobs as the in-flight window allows. */
static void db_pump(as_db_t *db)
{
    if (db->state != DB_READY)
        return;
    int sent = 0;
    while (db->queue_head && db->inflight < DB_MAX_INFLIGHT) {
        db_job_t *j = list_pop(&db->queue_head, &db->queue_tail);
        db->queued--;
        j->sent_ns = uv_hrtime();
        for (int i = 0; i < j->n; i++) {
            if (!PQsendQueryParams(db->conn, j->sql[i], j->nparams[i], NULL,
                                   (const char *const *)j->params[i], NULL, NULL, 0)) {
                list_push(&db->fly_head, &db->fly_tail, j);
                db->inflight++;
                db_drop_connection(db, PQerrorMessage(db->conn));
                return;
            }
        }
        if (!PQpipelineSync(db->conn)) {
            list_push(&db->fly_head, &db->fly_tail, j);
            db->inflight++;
            db_drop_connection(db, PQerrorMessage(db->conn));
            return;
        }
        list_push(&db->fly_head, &db->fly_tail, j);
        db->inflight++;
        sent++;
    }
    if (sent)
        db_flush(db);
}

static void db_io_cb(uv_poll_t *h, int status, int events)
{
    as_db_t *db = h->data;
    if (status < 0) {
        db_drop_connection(db, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        db_flush(db);
        if (!db->conn)
            return;
    }
    if (events & UV_READABLE) {
        db_read_results(db);
        if (!db->conn)
            return;
    }
    db_pump(db);
}

/* libpq notices (RAISE NOTICE/WARNING in a function, server warnings) go into the log, one line
 * each, not to libpq's default stderr printer. */
static void db_notice(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char esc[512];
    as_log_esc(msg ? msg : "", esc, sizeof esc);
    as_log_level_t lvl = sev && (strcmp(sev, "WARNING") == 0) ? AS_LOG_WARN : AS_LOG_INFO;
    if (sev && (strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0))
        lvl = AS_LOG_DEBUG;
    AS_LOG_(lvl, "database notice", "severity=%s sqlstate=%s text=\"%s\"", sev ? sev : "-",
            st ? st : "-", esc);
}

void as_db_route_notices(PGconn *c)
{
    if (c)
        PQsetNoticeReceiver(c, db_notice, NULL);
}

/* Watch the connection's current socket. While connecting to a multi-host string libpq closes
 * the socket of a host that failed (or is not read-write when target_session_attrs asks for it)
 * and opens one to the next host — possibly under the same descriptor number — so after every
 * PQconnectPoll() the watched socket is compared by descriptor and inode and the poll handle
 * replaced when it changed. The old handle is stopped and closed first: that takes the number
 * out of the loop before the new socket is added. */
static int db_watch_socket(as_db_t *db)
{
    int fd = PQsocket(db->conn);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    if (db->poll && fd == db->sock_fd && st.st_ino == db->sock_ino)
        return 0; /* the same socket */
    if (db->poll) {
        uv_poll_stop(db->poll);
        uv_close((uv_handle_t *)db->poll, poll_close_cb);
        db->poll = NULL;
    }
    db->poll = malloc(sizeof *db->poll);
    if (!db->poll || uv_poll_init(db->loop, db->poll, fd) != 0) {
        free(db->poll);
        db->poll = NULL;
        return -1;
    }
    db->poll->data = db;
    db->sock_fd = fd;
    db->sock_ino = st.st_ino;
    db->poll_events = 0;
    return 1; /* a new socket: a new host (or address) is being tried */
}

/* Item i of a comma-separated list (libpq's host, hostaddr and port lists), into out. */
static void list_item(const char *list, int i, char *out, size_t n)
{
    const char *p = list;
    for (; i > 0 && p; i--) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    size_t len = p ? strcspn(p, ",") : 0;
    if (len >= n)
        len = n - 1;
    memcpy(out, p ? p : "", len);
    out[len] = '\0';
}

static int list_count(const char *list)
{
    int n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    return n;
}

/* Append `keyword='value' ` to buf (value quoted as libpq wants: \ and ' escaped). */
static void conn_append(char **buf, size_t *len, size_t *cap, const char *kw, const char *val)
{
    size_t need = *len + strlen(kw) + 2 * strlen(val) + 5;
    if (need > *cap) {
        size_t c = need * 2;
        char *b = realloc(*buf, c);
        if (!b)
            return;
        *buf = b;
        *cap = c;
    }
    char *o = *buf + *len;
    o += sprintf(o, "%s='", kw);
    for (const char *v = val; *v; v++) {
        if (*v == '\'' || *v == '\\')
            *o++ = '\\';
        *o++ = *v;
    }
    *o++ = '\'';
    *o++ = ' ';
    *o = '\0';
    *len = (size_t)(o - *buf);
}

/* After a host timed out: rewrite the connection string so that the next attempt starts with
 * the host after it (the lists of host, hostaddr and port rotated together), the one that
 * timed out last. With a single host nothing changes. */
static void db_rotate_hosts(as_db_t *db)
{
    const char *cur_h = PQhost(db->conn), *cur_p = PQport(db->conn);
    PQconninfoOption *opts = PQconninfoParse(db->conninfo, NULL);
    if (!opts)
        return;
    const char *hosts = NULL, *addrs = NULL, *ports = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        if (strcmp(o->keyword, "host") == 0)
            hosts = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            addrs = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            ports = o->val;
    }
    int n = hosts ? list_count(hosts) : addrs ? list_count(addrs) : 1;
    if (n < 2) {
        PQconninfoFree(opts);
        return;
    }
    int k = 1;
    for (int i = 0; i < n; i++) {
        char h[256] = "", a[256] = "", pt[32] = "5432";
        if (hosts)
            list_item(hosts, i, h, sizeof h);
        if (addrs)
            list_item(addrs, i, a, sizeof a);
        if (ports)
            list_item(ports, list_count(ports) == n ? i : 0, pt, sizeof pt);
        if (cur_h && (strcmp(cur_h, h) == 0 || strcmp(cur_h, a) == 0) &&
            (!cur_p || strcmp(cur_p, pt) == 0)) {
            k = i + 1;
            break;
        }
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        int rotate = (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
                      strcmp(o->keyword, "port") == 0) &&
                     list_count(o->val) == n;
        if (!rotate) {
            conn_append(&buf, &len, &cap, o->keyword, o->val);
            continue;
        }
        char *r = malloc(strlen(o->val) + 2), item[256];
        if (!r)
            continue;
        r[0] = '\0';
        for (int i = 0; i < n; i++) {
            list_item(o->val, (i + k) % n, item, sizeof item);
            if (i)
                strcat(r, ",");
            strcat(r, item);
        }
        conn_append(&buf, &len, &cap, o->keyword, r);
        free(r);
    }
    PQconninfoFree(opts);
    if (buf && len) {
        free(db->conninfo);
        db->conninfo = buf;
    } else {
        free(buf);
    }
}

static void connect_timeout_cb(uv_timer_t *t)
{
    as_db_t *db = t->data;
    if (db->state != DB_CONNECTING)
        return;
    AS_WARN("database connect timed out", "after_ms=%u host=%s port=%s", db->connect_ms,
            PQhost(db->conn) ? PQhost(db->conn) : "-", PQport(db->conn) ? PQport(db->conn) : "-");
    db_rotate_hosts(db);
    db_drop_connection(db, "connect timed out");
}

/* connect_timeout of the connection string (seconds, per host), in ms. */
static unsigned connect_budget_ms(const char *conninfo)
{
    unsigned per_host = DB_CONNECT_TIMEOUT_S;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (o->val && strcmp(o->keyword, "connect_timeout") == 0) {
            long v = strtol(o->val, NULL, 10);
            if (v >= 2 && v <= 3600)
                per_host = (unsigned)v;
        }
    }
    PQconninfoFree(opts);
    return per_host * 1000;
}

static void db_connect_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    as_db_t *db = h->data;
    /* libuv reports POLLERR on the socket (a connection refused or reset while connecting) as
     * an error status and stops watching it. That is not the end of the attempt: libpq reads
     * the socket's error in PQconnectPoll() and goes on to the next host of a multi-host
     * string. Only when it then still waits on the same socket is the attempt given up. */
    int fd = db->sock_fd;
    ino_t ino = db->sock_ino;
    if (status < 0)
        db->poll_events = 0;
    PostgresPollingStatusType ps = PQconnectPoll(db->conn);
    if (ps == PGRES_POLLING_READING || ps == PGRES_POLLING_WRITING) {
        int w = db_watch_socket(db);
        if (w < 0) {
            db_drop_connection(db, "cannot watch socket");
            return;
        }
        if (w == 1) /* the next host: its own connect_timeout */
            uv_timer_start(&db->timer, connect_timeout_cb, db->connect_ms, 0);
        if (status < 0 && db->sock_fd == fd && db->sock_ino == ino) {
            db_drop_connection(db, uv_strerror(status));
            return;
        }
    }
    switch (ps) {
    case PGRES_POLLING_READING:
        db_set_poll(db, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        db_set_poll(db, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(db->conn, 1) != 0 || !PQenterPipelineMode(db->conn) ||
            db_watch_socket(db) < 0) {
            db_drop_connection(db, PQerrorMessage(db->conn));
            return;
        }
        uv_timer_stop(&db->timer);
        db->state = DB_READY;
        db->backoff_ms = DB_BACKOFF_MIN;
        AS_INFO("database connected", "server_version=%d host=%s port=%s",
                PQserverVersion(db->conn), PQhost(db->conn) ? PQhost(db->conn) : "-",
                PQport(db->conn) ? PQport(db->conn) : "-");
        db->poll_events = -1;
        db->poll_fn = db_io_cb;
        db_set_poll(db, UV_READABLE);
        db_pump(db);
        break;
    default: {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(db->conn));
        msg[strcspn(msg, "\n")] = '\0';
        db_drop_connection(db, msg);
    }
    }
}

static void db_connect_start(as_db_t *db)
{
    if (db->closing || db->state != DB_DOWN)
        return;
    db->conn = PQconnectStart(db->conninfo);
    as_db_route_notices(db->conn);
    if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
        db_drop_connection(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
        return;
    }
    if (db_watch_socket(db) < 0) {
        db_drop_connection(db, "cannot watch socket");
        return;
    }
    db->state = DB_CONNECTING;
    db->poll_fn = db_connect_poll_cb;
    db_set_poll(db, UV_WRITABLE);
    uv_timer_start(&db->timer, connect_timeout_cb, db->connect_ms, 0);
}

int as_db_new(uv_loop_t *loop, const char *conninfo, unsigned max_queue, as_db_t **out)
{
    as_db_t *db = calloc(1, sizeof *db);
    if (!db)
        return -1;
    db->loop = loop;
    db->conninfo = strdup(conninfo);
    db->max_queue = max_queue ? max_queue : 10000;
    db->backoff_ms = DB_BACKOFF_MIN;
    db->sock_fd = -1;
    if (!db->conninfo) {
        free(db);
        return -1;
    }
    db->connect_ms = connect_budget_ms(conninfo);
    uv_timer_init(loop, &db->timer);
    db->timer.data = db;
    uv_idle_init(loop, &db->defer);
    db->defer.data = db;
    db_connect_start(db);
    *out = db;
    return 0;
}

static void db_handle_closed(uv_handle_t *h)
{
    as_db_t *db = h->data;
    if (--db->closing == 0) {
        free(db->conninfo);
        free(db);
    }
}

void as_db_destroy(as_db_t **db_p)
{
    if (!db_p || !*db_p)
        return;
    as_db_t *db = *db_p;
    *db_p = NULL;
    db->closing = 1;
    db_job_t *j;
    while ((j = list_pop(&db->queue_head, &db->queue_tail)))
        job_finish(j, "57P01", "service shutting down");
    while ((j = list_pop(&db->done_head, &db->done_tail)))
        job_finish(j, "57P01", "service shutting down");
    db_drop_connection(db, "shutdown");
    db->closing = 2;
    uv_timer_stop(&db->timer);
    uv_idle_stop(&db->defer);
    uv_close((uv_handle_t *)&db->timer, db_handle_closed);
    uv_close((uv_handle_t *)&db->defer, db_handle_closed);
}

int as_db_submit(as_db_t *db, const as_db_stmt_t *stmts, int n, as_db_cb cb, void *user_data)
{
    if (n < 1 || n > DB_MAX_STMTS || db->closing)
        return -1;
    if (db->queued + db->inflight + db->deferred >= db->max_queue)
        return -1;
    /* One allocation: the job, then its four arrays. */
    size_t arrays =
        (size_t)n * (sizeof(char *) + sizeof(int) + sizeof(char **) + sizeof(PGresult *));
    db_job_t *j = calloc(1, sizeof *j + arrays);
    if (!j)
        return -1;
    j->sql = (char **)(j + 1);
    j->params = (char ***)(j->sql + n);
    j->res = (PGresult **)(j->params + n);
    j->nparams = (int *)(j->res + n);
    j->n = n;
    j->cb = cb;
    j->ud = user_data;
    for (int i = 0; i < n; i++) {
        j->sql[i] = strdup(stmts[i].sql);
        if (!j->sql[i])
            goto oom;
        j->nparams[i] = stmts[i].nparams;
        if (stmts[i].nparams > 0) {
            j->params[i] = calloc((size_t)stmts[i].nparams, sizeof(char *));
            if (!j->params[i])
                goto oom;
            for (int k = 0; k < stmts[i].nparams; k++) {
                if (stmts[i].params[k] && !(j->params[i][k] = strdup(stmts[i].params[k])))
                    goto oom;
            }
        }
    }
    if (db->state != DB_READY && db->backoff_ms >= DB_BACKOFF_MAX) {
        /* Down for a while: fail fast instead of letting callers pile up behind it. */
        list_push(&db->done_head, &db->done_tail, j);
        db->deferred++;
        uv_idle_start(&db->defer, defer_cb);
        return 0;
    }
    list_push(&db->queue_head, &db->queue_tail, j);
    db->queued++;
    db_pump(db);
    return 0;
oom:
    j->cb = NULL;
    job_free(j);
    return -1;
}

void as_db_get_stats(const as_db_t *db, as_db_stats_t *out)
{
    out->jobs_ok = db->jobs_ok;
    out->jobs_failed = db->jobs_failed;
    out->reconnects = db->reconnects;
    out->queued = db->queued;
    out->inflight = db->inflight;
    out->connected = db->state == DB_READY;
    out->rtt_count = db->rtt_count;
    out->rtt_sum_s = (double)db->rtt_sum_ns / 1e9;
    out->rtt_last_s = (double)db->rtt_last_ns / 1e9;
}

int as_db_connected(const as_db_t *db)
{
    return db->state == DB_READY;
}

const char *as_db_value(const PGresult *res, int row, int col)
{
    if (!res || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res))
        return "";
    return PQgetvalue(res, row, col);
}

int as_db_is_null(const PGresult *res, int row, int col)
{
    if (!res || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res))
        return 1;
    return PQgetisnull(res, row, col);
}

/* ---- blocking start-up helpers ---- */

PGconn *as_db_connect_blocking(const char *conninfo, int wait_ms, char *err, size_t errlen)
{
    int waited = 0;
    for (;;) {
        PGconn *c = PQconnectdb(conninfo);
        if (c && PQstatus(c) == CONNECTION_OK) {
            as_db_route_notices(c);
            return c;
        }
        snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
        err[strcspn(err, "\n")] = '\0';
        PQfinish(c);
        if (waited >= wait_ms)
            return NULL;
        usleep(200 * 1000);
        waited += 200;
    }
}

typedef struct mig_file {
    int version;
    char name[256];
    char path[1024];
} mig_file_t;

static int mig_cmp(const void *a, const void *b)
{
    return ((const mig_file_t *)a)->version - ((const mig_file_t *)b)->version;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
            if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
                free(buf);
                buf = NULL;
            } else {
                buf[len] = '\0';
            }
        }
    }
    fclose(f);
    return buf;
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    /* PGRES_EMPTY_QUERY: a migration whose functions were folded into family files keeps only a
     * comment. */
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const mig_file_t *)a)->name, ((const mig_file_t *)b)->name);
}

/* Whether a family file is for this schema: a file whose first line is "-- schemas: a b c" is
 * applied only to those schemas (helpers several services share, defined once); any other file
 * is applied to every schema that reads its directory. */
static int file_for_schema(const char *body, const char *schema)
{
    static const char tag[] = "-- schemas:";
    if (strncmp(body, tag, sizeof tag - 1) != 0)
        return 1;
    const char *p = body + sizeof tag - 1, *end = strchr(p, '\n');
    size_t n = strlen(schema);
    if (!end)
        end = p + strlen(p);
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if ((size_t)(p - w) == n && strncmp(w, schema, n) == 0)
            return 1;
    }
    return 0;
}

/* The family files (every file named *.sql in a directory) of each directory in order, by name
 * within one directory, for `schema` (file_for_schema). Inside the caller's transaction: a file
 * whose checksum is the one recorded in schema_sql_files is skipped, unless `force` (a migration
 * ran in this start) or a migration was applied after the file (a start that died between its
 * migrations and its family files). */
static int apply_sql_dirs(PGconn *conn, const char *schema, const char *const *dirs,
                          const char *const *labels, int ndirs, int force, char *err, size_t errlen)
{
    if (exec_ok(conn, "SET LOCAL check_function_bodies = off", err, errlen) < 0)
        return -1;
    for (int d = 0; d < ndirs; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) {
            if (errno == ENOENT)
                continue; /* a service without functions of its own */
            snprintf(err, errlen, "cannot open SQL directory %s: %s", dirs[d], strerror(errno));
            return -1;
        }
        mig_file_t *files = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".sql") != 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                mig_file_t *nf = realloc(files, cap * sizeof *files);
                if (!nf) {
                    rc = -1;
                    snprintf(err, errlen, "out of memory");
                    break;
                }
                files = nf;
            }
            /* recorded as "<label>/<file>": the same file found elsewhere keeps its checksum */
            int wn = snprintf(files[n].name, sizeof files[n].name, "%s/%s", labels[d], e->d_name);
            int wp = snprintf(files[n].path, sizeof files[n].path, "%s/%s", dirs[d], e->d_name);
            if (wn < 0 || (size_t)wn >= sizeof files[n].name || wp < 0 ||
                (size_t)wp >= sizeof files[n].path) {
                rc = -1;
                snprintf(err, errlen, "SQL file name too long: %s/%s", dirs[d], e->d_name);
                break;
            }
            n++;
        }
        closedir(dir);
        if (files)
            qsort(files, n, sizeof *files, name_cmp);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char *body = read_file(files[i].path);
            if (!body) {
                snprintf(err, errlen, "cannot read %s", files[i].path);
                rc = -1;
                break;
            }
            if (!file_for_schema(body, schema)) {
                free(body);
                continue;
            }
            const char *params[2] = {files[i].name, body};
            PGresult *r = PQexecParams(conn,
                                       "SELECT 1 FROM schema_sql_files WHERE name = $1 AND "
                                       "checksum = md5($2) AND applied_at >= (SELECT "
                                       "coalesce(max(applied_at), '-infinity') FROM "
                                       "schema_migrations)",
                                       2, NULL, params, NULL, NULL, 0);
            int same = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                snprintf(err, errlen, "%s", PQresultErrorMessage(r));
                rc = -1;
            }
            PQclear(r);
            if (rc == 0 && (force || !same)) {
                if (exec_ok(conn, body, err, errlen) < 0) {
                    char inner[400];
                    snprintf(inner, sizeof inner, "%s", err);
                    snprintf(err, errlen, "SQL file %s failed: %s", files[i].path, inner);
                    rc = -1;
                } else {
                    r = PQexecParams(conn,
                                     "INSERT INTO schema_sql_files(name, checksum) VALUES ($1, "
                                     "md5($2)) ON CONFLICT (name) DO UPDATE SET checksum = "
                                     "EXCLUDED.checksum, applied_at = now()",
                                     2, NULL, params, NULL, NULL, 0);
                    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
                        rc = -1;
                    }
                    PQclear(r);
                    if (rc == 0)
                        AS_INFO("SQL file applied", "file=%s", files[i].path);
                }
            }
            free(body);
        }
        free(files);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int as_db_migrate(PGconn *conn, const char *schema, const char *const *dirs, int ndirs,
                  const char *const *sql_dirs, const char *const *sql_labels, int nsql,
                  int *version_out, char *err, size_t errlen)
{
    int applied_any = 0;
    mig_file_t *files = NULL;
    size_t nfiles = 0, cap = 0;
    int rc = -1;
    char sql[512];

    for (int d = 0; d < ndirs; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) {
            snprintf(err, errlen, "cannot open migrations directory %s: %s", dirs[d],
                     strerror(errno));
            goto out;
        }
        struct dirent *e;
        while ((e = readdir(dir))) {
            int v;
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 ||
                sscanf(e->d_name, "%d_", &v) != 1)
                continue;
            if (nfiles == cap) {
                cap = cap ? cap * 2 : 16;
                mig_file_t *nf = realloc(files, cap * sizeof *files);
                if (!nf) {
                    closedir(dir);
                    snprintf(err, errlen, "out of memory");
                    goto out;
                }
                files = nf;
            }
            files[nfiles].version = v;
            snprintf(files[nfiles].name, sizeof files[nfiles].name, "%s", e->d_name);
            snprintf(files[nfiles].path, sizeof files[nfiles].path, "%s/%s", dirs[d], e->d_name);
            nfiles++;
        }
        closedir(dir);
    }
    qsort(files, nfiles, sizeof *files, mig_cmp);
    for (size_t i = 1; i < nfiles; i++) {
        if (files[i].version == files[i - 1].version) {
            snprintf(err, errlen, "two migrations share version %d: %s and %s", files[i].version,
                     files[i - 1].path, files[i].path);
            goto out;
        }
    }
    snprintf(sql, sizeof sql,
             "SET search_path = %s; CREATE TABLE IF NOT EXISTS schema_migrations ("
             "version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
             "DEFAULT now()); CREATE TABLE IF NOT EXISTS schema_sql_files (name text PRIMARY KEY, "
             "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
             schema);
    if (exec_ok(conn, sql, err, errlen) < 0)
        goto out;
    int newest_known = nfiles ? files[nfiles - 1].version : 0;
    /* Each round, under the schema's migration lock: apply the lowest-numbered file that is not
     * in schema_migrations yet. Membership, not "above the highest applied": a runtime migration
     * (common/sql, numbered below 100) added after a service's own 1xx files still applies to an
     * existing database. When nothing is left, the family files (sql_dirs: every function's one
     * current definition, CREATE OR REPLACE) and then the post-migration hook run in the same
     * locked transaction (rebuild_dispatch(): the command dispatcher over the schema's cmd_
     * functions). */
    for (;;) {
        if (exec_ok(conn, "BEGIN", err, errlen) < 0)
            goto out;
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(hashtext('%s.migrate'))", schema);
        if (exec_ok(conn, sql, err, errlen) < 0)
            goto rollback;
        PGresult *r = PQexec(conn, "SELECT version FROM schema_migrations ORDER BY version");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
            PQclear(r);
            goto rollback;
        }
        int napplied = PQntuples(r), current = 0;
        size_t next = nfiles; /* the first file not applied */
        for (size_t i = 0, k = 0; i < nfiles; i++) {
            while (k < (size_t)napplied && atoi(PQgetvalue(r, (int)k, 0)) < files[i].version)
                k++;
            if (k >= (size_t)napplied || atoi(PQgetvalue(r, (int)k, 0)) != files[i].version) {
                next = i;
                break;
            }
        }
        if (napplied)
            current = atoi(PQgetvalue(r, napplied - 1, 0));
        PQclear(r);
        if (current > newest_known) {
            snprintf(err, errlen,
                     "schema %s is at version %d but this binary knows only up to %d; "
                     "refusing to start",
                     schema, current, newest_known);
            goto rollback;
        }
        if (next >= nfiles) {
            if (apply_sql_dirs(conn, schema, sql_dirs, sql_labels, nsql, applied_any, err, errlen) <
                0)
                goto rollback;
            r = PQexec(conn, "SELECT rebuild_dispatch() WHERE to_regproc('rebuild_dispatch') "
                             "IS NOT NULL");
            int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            if (!ok)
                snprintf(err, errlen, "rebuild_dispatch: %s", PQresultErrorMessage(r));
            PQclear(r);
            if (!ok || exec_ok(conn, "COMMIT", err, errlen) < 0)
                goto rollback;
            *version_out = current;
            rc = 0;
            goto out;
        }
        size_t i = next;
        char *body = read_file(files[i].path);
        if (!body) {
            snprintf(err, errlen, "cannot read %s", files[i].path);
            goto rollback;
        }
        int ok = exec_ok(conn, body, err, errlen);
        free(body);
        if (ok < 0) {
            char inner[400];
            snprintf(inner, sizeof inner, "%s", err);
            snprintf(err, errlen, "migration %s failed: %s", files[i].name, inner);
            goto rollback;
        }
        const char *params[2];
        char vbuf[16];
        snprintf(vbuf, sizeof vbuf, "%d", files[i].version);
        params[0] = vbuf;
        params[1] = files[i].name;
        r = PQexecParams(conn, "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", 2,
                         NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        if (!ok || exec_ok(conn, "COMMIT", err, errlen) < 0)
            goto rollback;
        applied_any = 1;
        AS_INFO("migration applied", "schema=%s version=%d name=%s", schema, files[i].version,
                files[i].name);
    }
rollback : {
    char keep[1];
    exec_ok(conn, "ROLLBACK", keep, sizeof keep);
}
out:
    free(files);
    return rc;
}
