/* server.c — the command side of a service: a ROUTER socket that decodes envelopes, refuses bad
 * frames with an error reply, dispatches to handlers, and runs SQL-backed commands through the
 * schema's idempotent exec_command() wrapper. Also answers the built-in as.HealthRequest and
 * as.ReplayRequest. */
#include "as/proc.h"
#include "as/bus.h"
#include "as/log.h"
#include "as/pbjson.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uthash.h>
#include <zmq.h>

#define SERVER_MAX_INFLIGHT 8192
#define SQL_RETRIES         3
#define SQL_BATCH           32 /* commands per transaction, at most */
/* Transactions of commands in flight, at most. While they commit (the disk flush is most of a
 * small transaction's time), new commands gather into the next batch: group commit that adapts
 * to the load, with no timer. */
#define SQL_BATCHES_INFLIGHT 2

typedef struct cmd_entry {
    const char *type;
    const as_cmd_def_t *def;
    const ProtobufCMessageDescriptor *req_desc;
    void *ud;
    uint64_t handled; /* commands of this type received since start */
    UT_hash_handle hh;
} cmd_entry_t;

/* The built-in commands, counted like the others. */
enum { BI_HEALTH, BI_METRICS, BI_REPLAY, BI_STATS, BI_N };
static const char *const builtin_types[BI_N] = {"as.HealthRequest", "as.MetricsRequest",
                                                "as.ReplayRequest", "as.StatsRequest"};

/* Event loop lag: a timer due every LAG_TICK_MS notes how late it runs; the answer is the
 * largest lateness of the current and the previous window of LAG_WINDOW ticks (10-20 s). */
#define LAG_TICK_MS 250
#define LAG_WINDOW  40

struct as_stats {
    As__Metric *m;
    size_t n, cap;
};

struct as_server {
    uv_loop_t *loop;
    as_zsock_t *zs;
    cmd_entry_t *cmds;
    as_db_t *db;
    as_db_t *read_db; /* collection reads, when set (as_server_set_read_db) */
    as_relay_t *relay;
    void (*health)(as_server_t *, As__HealthReply *, void *);
    void *health_ud;
    int64_t max_msg;
    char service[32];
    as_server_stats_t st;
    int closing;
    /* SQL-backed commands waiting to be sent as one transaction at the end of this loop
     * iteration (or as soon as SQL_BATCH are waiting). */
    as_cmd_ctx_t *batch[SQL_BATCH];
    int nbatch;
    int batches_inflight;
    const char *metrics_sql;
    uv_check_t *flush;     /* heap: freed in its close callback */
    int64_t clock_skew_ms; /* the last caller's clock minus ours (see note_skew) */
    int has_skew;
    uint64_t skew_logged; /* uv_now of the last skew warning */
    uint64_t builtin_handled[BI_N];
    uint64_t started_ns;   /* uv_hrtime at creation */
    uv_timer_t *lag_timer; /* heap: freed in its close callback */
    uint64_t lag_due_ns;
    uint64_t lag_max_ns, lag_prev_max_ns;
    int lag_ticks;
    void (*stats_fn)(as_stats_t *, void *);
    void *stats_ud;
};

struct as_cmd_ctx {
    as_server_t *s;
    uint8_t ident[256];
    size_t ident_len;
    int delimiter;        /* the caller used REQ: echo the empty frame */
    char request_id[128]; /* as the caller sent it (echoed in the reply) */
    /* The idempotency key: request_id scoped to the sender's CURVE key ("<id>@<key name>"), so
     * the same id from two keys is two requests; the bare id when CURVE is off. 127 + 1 + 31
     * bytes at most (commands.request_id allows 159: common/sql/040_scoped_request_ids.sql). */
    char scoped_id[160];
    char sender[32];                 /* the sender key's name (User-Id), "" when CURVE is off */
    const As__Principal *principal;  /* env->principal, or the service principal of a service key */
    As__Principal service_principal; /* {role: service, subject: sender} for a service key */
    char trace_id[64];
    As__Envelope *env;
    ProtobufCMessage *req;
    const cmd_entry_t *entry;
    int retries;
    char *sql_fn;
    char *sql_args;
    char *sql_principal;
    int read_only; /* as_cmd_sql_read: a report for the read connection */
};

void as_relay_serve_replay(as_relay_t *r, as_cmd_ctx_t *ctx, const As__ReplayRequest *req);

static void server_free(as_server_t *s)
{
    cmd_entry_t *e, *tmp;
    HASH_ITER(hh, s->cmds, e, tmp)
    {
        HASH_DEL(s->cmds, e);
        free(e);
    }
    free(s);
}

static void ctx_free(as_cmd_ctx_t *ctx)
{
    as_server_t *s = ctx->s;
    if (ctx->req)
        protobuf_c_message_free_unpacked(ctx->req, NULL);
    if (ctx->env)
        as__envelope__free_unpacked(ctx->env, NULL);
    free(ctx->sql_fn);
    free(ctx->sql_args);
    free(ctx->sql_principal);
    free(ctx);
    s->st.inflight--;
    if (s->closing && s->st.inflight == 0 && !s->zs)
        server_free(s);
}

/* One line per answered command, with the request and trace ids a caller's log line carries:
 * INFO for the service's commands, DEBUG for the built-ins (health, metrics, replay). */
static void cmd_log(const as_cmd_ctx_t *ctx, int status, const char *code, int replayed)
{
    const char *subject = ctx->principal && ctx->principal->subject ? ctx->principal->subject : "-";
    char esc[160];
    as_log_esc(subject, esc, sizeof esc);
    as_log_level_t lvl = !ctx->entry ? AS_LOG_DEBUG : status >= 500 ? AS_LOG_WARN : AS_LOG_INFO;
    AS_LOG_(lvl, "command", "type=%s req=%s trace=%s subject=\"%s\" status=%d code=%s replayed=%d",
            ctx->entry                   ? ctx->entry->type
            : ctx->env && ctx->env->type ? ctx->env->type
                                         : "?",
            ctx->request_id, ctx->trace_id[0] ? ctx->trace_id : "-", esc, status,
            code && *code ? code : "-", replayed);
}

/* Send a reply envelope to `ident`. */
static void send_reply(as_server_t *s, const uint8_t *ident, size_t ident_len, int delimiter,
                       const char *request_id, const char *trace_id, const As__Reply *reply)
{
    if (!s->zs)
        return;
    size_t rlen, elen;
    uint8_t *rbuf = as_pack(&reply->base, &rlen);
    if (!rbuf)
        return;
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)"as.Reply";
    env.request_id = (char *)request_id;
    env.trace_id = trace_id && *trace_id ? (char *)trace_id : NULL;
    env.source = s->service;
    env.has_payload = 1;
    env.payload.data = rbuf;
    env.payload.len = rlen;
    uint8_t *ebuf = as_pack(&env.base, &elen);
    free(rbuf);
    if (!ebuf)
        return;
    const void *frames[3] = {ident, "", ebuf};
    size_t lens[3] = {ident_len, 0, elen};
    if (delimiter) {
        as_zsock_send(s->zs, frames, lens, 3);
    } else {
        frames[1] = ebuf;
        lens[1] = elen;
        as_zsock_send(s->zs, frames, lens, 2);
    }
    free(ebuf);
}

static void reply_error_raw(as_server_t *s, const uint8_t *ident, size_t ident_len, int delim,
                            const char *request_id, int status, const char *code,
                            const char *message)
{
    As__Reply r = AS__REPLY__INIT;
    r.has_status = 1;
    r.status = status;
    r.code = (char *)code;
    r.message = (char *)message;
    send_reply(s, ident, ident_len, delim, request_id ? request_id : "", NULL, &r);
}

void as_cmd_reply(as_cmd_ctx_t *ctx, int status, const char *code, const char *message,
                  const ProtobufCMessage *body)
{
    As__Reply r = AS__REPLY__INIT;
    r.has_status = 1;
    r.status = status;
    r.code = (char *)code;
    r.message = (char *)message;
    uint8_t *bbuf = NULL;
    if (body) {
        size_t blen;
        bbuf = as_pack(body, &blen);
        if (bbuf) {
            r.body_type = (char *)body->descriptor->name;
            r.has_body = 1;
            r.body.data = bbuf;
            r.body.len = blen;
        }
    }
    send_reply(ctx->s, ctx->ident, ctx->ident_len, ctx->delimiter, ctx->request_id, ctx->trace_id,
               &r);
    free(bbuf);
    cmd_log(ctx, status, code, 0);
    ctx_free(ctx);
}

void as_cmd_reply_fields(as_cmd_ctx_t *ctx, const char *message, int n, const char *const *fields,
                         const char *const *problems)
{
    As__Reply r = AS__REPLY__INIT;
    As__FieldError fe[32], *fp[32];
    if (n > 32)
        n = 32;
    for (int i = 0; i < n; i++) {
        as__field_error__init(&fe[i]);
        fe[i].field = (char *)fields[i];
        fe[i].problem = (char *)problems[i];
        fp[i] = &fe[i];
    }
    r.has_status = 1;
    r.status = 400;
    r.code = (char *)"validation";
    r.message = (char *)message;
    r.n_errors = (size_t)n;
    r.errors = fp;
    send_reply(ctx->s, ctx->ident, ctx->ident_len, ctx->delimiter, ctx->request_id, ctx->trace_id,
               &r);
    cmd_log(ctx, 400, "validation", 0);
    ctx_free(ctx);
}

int as_cmd_reject(as_cmd_ctx_t *ctx, as_problems_t *e)
{
    if (e->n == 0)
        return 0;
    as_problems_sort(e);
    const char *fields[AS_PROBLEMS_MAX], *problems[AS_PROBLEMS_MAX];
    for (int i = 0; i < e->n; i++) {
        fields[i] = e->field[i];
        problems[i] = e->problem[i];
    }
    char msg[400];
    as_problems_message(e, msg, sizeof msg);
    as_cmd_reply_fields(ctx, msg, e->n, fields, problems);
    return 1;
}

void as_cmd_reply_field(as_cmd_ctx_t *ctx, const char *field, const char *problem)
{
    as_problems_t e = {0};
    as_problem(&e, field, "%s", problem);
    as_cmd_reject(ctx, &e);
}

void as_cmd_error(as_cmd_ctx_t *ctx, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    as_cmd_reply(ctx, status, code, msg, NULL);
}

void as_cmd_reply_json(as_cmd_ctx_t *ctx, int status, const json_t *body, int replayed)
{
    const ProtobufCMessageDescriptor *d = ctx->entry ? ctx->entry->def->reply : NULL;
    ProtobufCMessage *m = NULL;
    if (d && body && json_is_object(body)) {
        char err[256];
        if (as_pbjson_decode(d, body, NULL, &m, err, sizeof err) < 0) {
            AS_ERROR("reply does not match its schema", "req=%s type=%s error=\"%s\"",
                     ctx->request_id, d->name, err);
            as_cmd_error(ctx, 500, "internal", "reply does not match its schema: %s", err);
            return;
        }
    }
    As__Reply r = AS__REPLY__INIT;
    r.has_status = 1;
    r.status = status;
    r.has_replayed = replayed != 0;
    r.replayed = replayed != 0;
    uint8_t *bbuf = NULL;
    if (m) {
        size_t blen;
        bbuf = as_pack(m, &blen);
        r.body_type = (char *)d->name;
        r.has_body = bbuf != NULL;
        r.body.data = bbuf;
        r.body.len = bbuf ? blen : 0;
    }
    if (replayed)
        ctx->s->st.replayed++;
    send_reply(ctx->s, ctx->ident, ctx->ident_len, ctx->delimiter, ctx->request_id, ctx->trace_id,
               &r);
    free(bbuf);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    cmd_log(ctx, status, NULL, replayed);
    ctx_free(ctx);
}

json_t *as_principal_json(const As__Principal *p)
{
    json_t *o = json_object();
    if (p) {
        if (p->subject)
            json_object_set_new(o, "subject", json_string(p->subject));
        if (p->role)
            json_object_set_new(o, "role", json_string(p->role));
        if (p->site)
            json_object_set_new(o, "site", json_string(p->site));
        if (p->region)
            json_object_set_new(o, "region", json_string(p->region));
        if (p->display_name)
            json_object_set_new(o, "display_name", json_string(p->display_name));
    }
    return o;
}

static void sql_submit(as_cmd_ctx_t *ctx);

/* Finish one command from its exec_command() reply, or from an error (sqlstate, message,
 * detail) raised by its SQL function or by the database. */
static void sql_finish(as_cmd_ctx_t *ctx, json_t *reply, const char *st, const char *message,
                       const char *detail)
{
    if (reply) {
        int status = (int)json_integer_value(json_object_get(reply, "status"));
        int replayed = json_is_true(json_object_get(reply, "replayed"));
        as_cmd_reply_json(ctx, status ? status : 200, json_object_get(reply, "body"), replayed);
        return;
    }
    if (st[0] == 'A' && st[1] == 'S' && st[2] >= '1' && st[2] <= '5') {
        int status = atoi(st + 2);
        as_cmd_reply(ctx, status, message, detail && *detail ? detail : message, NULL);
        return;
    }
    int retriable =
        strcmp(st, "23505") == 0 || strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
    if (retriable && ctx->retries++ < SQL_RETRIES) {
        sql_submit(ctx);
        return;
    }
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0) {
        as_cmd_error(ctx, 503, "unavailable",
                     "the database is unavailable; retry with the same request id");
        return;
    }
    if (strcmp(st, "23514") == 0 || strcmp(st, "23505") == 0 || strcmp(st, "23503") == 0) {
        as_cmd_error(ctx, 409, "conflict", "%s", message);
        return;
    }
    if (strcmp(st, "22P02") == 0 || strcmp(st, "22003") == 0 || strcmp(st, "22007") == 0 ||
        strcmp(st, "22008") == 0 || strcmp(st, "22001") == 0) {
        as_cmd_error(ctx, 400, "invalid", "%s", message);
        return;
    }
    AS_ERROR("command sql failed", "req=%s fn=%s sqlstate=%s error=\"%s\"", ctx->scoped_id,
             ctx->sql_fn, st, message);
    as_cmd_error(ctx, 500, "internal", "internal error (request %s)", ctx->request_id);
}

typedef struct sql_batch {
    as_server_t *s;
    int n;
    int read; /* sent on the read connection: not one of the batches in flight */
    as_cmd_ctx_t *ctx[SQL_BATCH];
} sql_batch_t;

static void batch_flush(as_server_t *s);
static void flush_cb(uv_check_t *h);

static void batch_done(const as_db_result_t *r, void *ud)
{
    sql_batch_t *b = ud;
    as_server_t *srv = b->s;
    if (!b->read)
        srv->batches_inflight--;
    json_t *arr = NULL;
    int answered = 0; /* commands that ran now (not errors, not replays): they may have emitted */
    if (r->ok) {
        json_error_t jerr;
        arr = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
    }
    for (int i = 0; i < b->n; i++) {
        as_cmd_ctx_t *ctx = b->ctx[i];
        if (!r->ok) {
            sql_finish(ctx, NULL, r->sqlstate, r->message, r->detail);
            continue;
        }
        json_t *rep = json_array_get(arr, (size_t)i);
        json_t *err = json_object_get(rep, "error");
        if (!rep || !json_is_object(rep)) {
            sql_finish(ctx, NULL, "XX000", "command returned no reply", "");
        } else if (err) {
            sql_finish(ctx, NULL, json_string_value(json_object_get(err, "sqlstate")),
                       json_string_value(json_object_get(err, "message")),
                       json_string_value(json_object_get(err, "detail")));
        } else {
            answered += !json_is_true(json_object_get(rep, "replayed"));
            sql_finish(ctx, rep, NULL, NULL, NULL);
        }
    }
    if (answered && srv->relay)
        as_relay_kick(srv->relay); /* once per transaction: what it emitted goes out now */
    json_decref(arr);
    free(b);
    if (srv->nbatch > 0 && srv->flush) /* what gathered meanwhile goes now */
        uv_check_start(srv->flush, flush_cb);
}

/* Append `v` to `*buf` as a JSON string. */
static int put_json_string(char **buf, size_t *len, size_t *cap, const char *v)
{
    json_t *j = json_string(v ? v : "");
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!t)
        return -1;
    size_t n = strlen(t);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            free(t);
            return -1;
        }
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, t, n + 1);
    *len += n;
    free(t);
    return 0;
}

static int put_raw(char **buf, size_t *len, size_t *cap, const char *v)
{
    size_t n = strlen(v);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, v, n + 1);
    *len += n;
    return 0;
}

/* Send `n` commands as one transaction through exec_batch(), on the read connection (`read`:
 * a collection read, alone) or the main one (a batch). */
static void batch_send(as_server_t *s, as_cmd_ctx_t *const *ctxs, int n, int read)
{
    sql_batch_t *b = calloc(1, sizeof *b);
    char *text = NULL;
    size_t len = 0, cap = 0;
    int ok = b != NULL && put_raw(&text, &len, &cap, "[") == 0;
    for (int i = 0; ok && i < n; i++) {
        as_cmd_ctx_t *c = ctxs[i];
        ok = put_raw(&text, &len, &cap, i ? ",{\"r\":" : "{\"r\":") == 0 &&
             put_json_string(&text, &len, &cap, c->scoped_id) == 0 &&
             put_raw(&text, &len, &cap, ",\"f\":") == 0 &&
             put_json_string(&text, &len, &cap, c->sql_fn) == 0 &&
             put_raw(&text, &len, &cap, ",\"p\":") == 0 &&
             put_raw(&text, &len, &cap, c->sql_principal) == 0 &&
             put_raw(&text, &len, &cap, ",\"a\":") == 0 &&
             put_raw(&text, &len, &cap, c->sql_args) == 0 &&
             put_raw(&text, &len, &cap, ",\"t\":") == 0 &&
             put_json_string(&text, &len, &cap, c->trace_id) == 0 &&
             put_raw(&text, &len, &cap, "}") == 0;
    }
    ok = ok && put_raw(&text, &len, &cap, "]") == 0;
    if (ok) {
        b->s = s;
        b->n = n;
        b->read = read;
        memcpy(b->ctx, ctxs, (size_t)n * sizeof *b->ctx);
        const char *params[1] = {text};
        /* The read connection runs its commands in READ ONLY transactions (decision 31). */
        as_db_stmt_t st = {read ? "SELECT exec_read_batch($1::jsonb)::text"
                                : "SELECT exec_batch($1::jsonb)::text",
                           1, params};
        as_db_t *db = read ? s->read_db : s->db;
        ok = db && as_db_submit(db, &st, 1, batch_done, b) == 0;
        if (ok && !read)
            s->batches_inflight++;
    }
    free(text);
    if (!ok) {
        free(b);
        for (int i = 0; i < n; i++) {
            s->st.overloaded++;
            as_cmd_error(ctxs[i], 503, "overloaded", "the service is busy; retry shortly");
        }
    }
}

/* Send the waiting commands as one transaction through exec_batch(). */
static void batch_flush(as_server_t *s)
{
    if (s->nbatch == 0)
        return;
    as_cmd_ctx_t *ctxs[SQL_BATCH];
    int n = s->nbatch;
    memcpy(ctxs, s->batch, (size_t)n * sizeof *ctxs);
    s->nbatch = 0;
    batch_send(s, ctxs, n, 0);
}

static void flush_cb(uv_check_t *h)
{
    as_server_t *s = h->data;
    uv_check_stop(h);
    if (s->batches_inflight < SQL_BATCHES_INFLIGHT)
        batch_flush(s);
}

/* A collection read (its SQL function is cmd_list_…) or a report (as_cmd_sql_read) goes alone
 * on the read connection when the service has one: a heavy list or report then never holds up
 * the one-object reads and the writes pipelined behind it on the main connection (decisions 25
 * and 31). */
static int is_collection_read(const as_cmd_ctx_t *ctx)
{
    return ctx->read_only || (ctx->sql_fn && strncmp(ctx->sql_fn, "cmd_list_", 9) == 0);
}

static void sql_submit(as_cmd_ctx_t *ctx)
{
    as_server_t *s = ctx->s;
    if (s->read_db && is_collection_read(ctx)) {
        batch_send(s, &ctx, 1, 1);
        return;
    }
    if (s->nbatch == SQL_BATCH)
        batch_flush(s); /* full: it goes now, whatever is in flight */
    s->batch[s->nbatch++] = ctx;
    if (s->flush && s->batches_inflight < SQL_BATCHES_INFLIGHT)
        uv_check_start(s->flush, flush_cb);
}

void as_cmd_sql(as_cmd_ctx_t *ctx, const char *fn, json_t *args)
{
    json_t *p = as_principal_json(ctx->principal);
    ctx->sql_fn = strdup(fn);
    ctx->sql_args = json_dumps(args ? args : json_object(), JSON_COMPACT);
    ctx->sql_principal = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    json_decref(args);
    if (!ctx->sql_fn || !ctx->sql_args || !ctx->sql_principal) {
        as_cmd_error(ctx, 500, "internal", "out of memory");
        return;
    }
    sql_submit(ctx);
}

void as_cmd_sql_read(as_cmd_ctx_t *ctx, const char *fn, json_t *args)
{
    ctx->read_only = 1;
    as_cmd_sql(ctx, fn, args);
}

void as_cmd_sql_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *user_data)
{
    (void)user_data;
    as_cmd_sql_read(ctx, ctx->entry->def->sql_fn, as_pbjson_encode(req));
}

as_db_t *as_cmd_read_db(const as_cmd_ctx_t *ctx)
{
    return ctx->s->read_db ? ctx->s->read_db : ctx->s->db;
}

void as_cmd_sql_default(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *user_data)
{
    (void)user_data;
    as_cmd_sql(ctx, ctx->entry->def->sql_fn, as_pbjson_encode(req));
}

const char *as_cmd_request_id(const as_cmd_ctx_t *ctx)
{
    return ctx->scoped_id;
}
const char *as_cmd_sender(const as_cmd_ctx_t *ctx)
{
    return ctx->sender;
}

const char *as_cmd_source(const as_cmd_ctx_t *ctx)
{
    return ctx->env ? ctx->env->source : NULL;
}
const As__Principal *as_cmd_principal(const as_cmd_ctx_t *ctx)
{
    return ctx->principal;
}
const as_cmd_def_t *as_cmd_def(const as_cmd_ctx_t *ctx)
{
    return ctx->entry ? ctx->entry->def : NULL;
}
as_server_t *as_cmd_server(const as_cmd_ctx_t *ctx)
{
    return ctx->s;
}
as_db_t *as_cmd_db(const as_cmd_ctx_t *ctx)
{
    return ctx->s->db;
}

/* Clocks are not trusted across processes. A command's deadline is the budget it carries,
 * counted from its arrival on this process's clock (only budget 0 has passed on arrival). The
 * wall-clock deadline_ms only serves to see the sender's clock: deadline_ms - budget_ms is its
 * time of sending, and the difference to ours (transit included) is kept for /healthz and
 * /metrics and logged (at most once a minute) when it exceeds a second. A sender without a
 * budget (an older one) is refused only when its wall-clock deadline is more than a minute
 * past, so a skew of up to a minute changes nothing. */
#define SKEW_LOG_MS       1000
#define LEGACY_SKEW_MS    60000
#define SKEW_LOG_EVERY_MS 60000
static int deadline_passed(as_server_t *s, const As__Envelope *env)
{
    int64_t now = as_now_ms();
    if (env->has_budget_ms) {
        if (env->has_deadline_ms && env->deadline_ms > 0) {
            int64_t skew = env->deadline_ms - (int64_t)env->budget_ms - now;
            s->clock_skew_ms = skew;
            s->has_skew = 1;
            uint64_t mono = uv_now(s->loop);
            if ((skew > SKEW_LOG_MS || skew < -SKEW_LOG_MS) &&
                (s->skew_logged == 0 || mono - s->skew_logged >= SKEW_LOG_EVERY_MS)) {
                s->skew_logged = mono ? mono : 1;
                AS_WARN("clock skew", "source=%s skew_ms=%lld",
                        env->source ? env->source : "unknown", (long long)skew);
            }
        }
        return env->budget_ms == 0;
    }
    return env->has_deadline_ms && env->deadline_ms > 0 && env->deadline_ms + LEGACY_SKEW_MS < now;
}

static void builtin_health(as_cmd_ctx_t *ctx)
{
    As__HealthReply h = AS__HEALTH_REPLY__INIT;
    h.service = ctx->s->service;
    h.status = (char *)"ok";
    h.has_db = 1;
    h.db = ctx->s->db ? as_db_connected(ctx->s->db) : 0;
    h.has_commands = 1;
    h.commands = ctx->s->st.commands;
    h.has_rejected = 1;
    h.rejected = ctx->s->st.rejected;
    h.has_clock_skew_ms = ctx->s->has_skew;
    h.clock_skew_ms = ctx->s->clock_skew_ms;
    if (!h.db)
        h.status = (char *)"degraded";
    if (ctx->s->health)
        ctx->s->health(ctx->s, &h, ctx->s->health_ud);
    as_cmd_reply(ctx, 200, NULL, NULL, &h.base);
    for (size_t i = 0; i < h.n_streams; i++)
        free(h.streams[i]);
    free(h.streams);
}

static void metrics_done(const as_db_result_t *r, void *ud)
{
    as_cmd_ctx_t *ctx = ud;
    As__MetricsReply m = AS__METRICS_REPLY__INIT;
    int n = r->ok ? PQntuples(r->res[0]) : 0;
    As__Metric *items = calloc((size_t)(n ? n : 1), sizeof *items);
    As__Metric **ptrs = calloc((size_t)(n ? n : 1), sizeof *ptrs);
    if (!r->ok || !items || !ptrs) {
        free(items);
        free(ptrs);
        as_cmd_error(ctx, 503, "unavailable", "metrics are unavailable: %s",
                     r->ok ? "out of memory" : r->message);
        return;
    }
    for (int i = 0; i < n; i++) {
        as__metric__init(&items[i]);
        items[i].name = (char *)as_db_value(r->res[0], i, 0);
        items[i].labels = (char *)as_db_value(r->res[0], i, 1);
        items[i].has_value = 1;
        items[i].value = atof(as_db_value(r->res[0], i, 2));
        items[i].help = (char *)as_db_value(r->res[0], i, 3);
        ptrs[i] = &items[i];
    }
    m.n_metrics = (size_t)n;
    m.metrics = ptrs;
    as_cmd_reply(ctx, 200, NULL, NULL, &m.base);
    free(items);
    free(ptrs);
}

static void builtin_metrics(as_cmd_ctx_t *ctx)
{
    if (!ctx->s->metrics_sql || !ctx->s->db) {
        As__MetricsReply m = AS__METRICS_REPLY__INIT;
        as_cmd_reply(ctx, 200, NULL, NULL, &m.base);
        return;
    }
    as_db_stmt_t st = {ctx->s->metrics_sql, 0, NULL};
    if (as_db_submit(ctx->s->db, &st, 1, metrics_done, ctx) < 0)
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
}

void as_server_set_metrics(as_server_t *s, const char *sql)
{
    s->metrics_sql = sql;
}

void as_server_set_read_db(as_server_t *s, as_db_t *db)
{
    s->read_db = db;
}

void as_server_set_stats(as_server_t *s, void (*fn)(as_stats_t *, void *), void *ud)
{
    s->stats_fn = fn;
    s->stats_ud = ud;
}

void as_stats_add(as_stats_t *st, const char *kind, const char *name, const char *labels,
                  double value, const char *help)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        As__Metric *m = realloc(st->m, cap * sizeof *m);
        if (!m)
            return;
        st->m = m;
        st->cap = cap;
    }
    As__Metric *m = &st->m[st->n];
    as__metric__init(m);
    m->name = strdup(name);
    m->labels = strdup(labels ? labels : "");
    m->help = strdup(help ? help : "");
    m->kind = strdup(kind);
    m->has_value = 1;
    m->value = value;
    if (!m->name || !m->labels || !m->help || !m->kind) {
        free(m->name);
        free(m->labels);
        free(m->help);
        free(m->kind);
        return;
    }
    st->n++;
}

static void lag_tick(uv_timer_t *t)
{
    as_server_t *s = t->data;
    uint64_t now = uv_hrtime();
    uint64_t late = now > s->lag_due_ns ? now - s->lag_due_ns : 0;
    if (late > s->lag_max_ns)
        s->lag_max_ns = late;
    if (++s->lag_ticks >= LAG_WINDOW) {
        s->lag_prev_max_ns = s->lag_max_ns;
        s->lag_max_ns = 0;
        s->lag_ticks = 0;
    }
    s->lag_due_ns = now + (uint64_t)LAG_TICK_MS * 1000000u;
}

/* This process's CPU seconds (user + system), resident bytes and open descriptors. */
static void process_figures(double *cpu, double *rss, double *fds)
{
    as_proc_t p;
    as_proc_read(&p);
    *cpu = p.cpu_s;
    *rss = p.rss_bytes;
    *fds = p.fds;
}

#ifndef AS_BUILD_COMMIT
#define AS_BUILD_COMMIT "unknown"
#endif

static void builtin_stats(as_cmd_ctx_t *ctx)
{
    as_server_t *s = ctx->s;
    as_stats_t st = {0};
    double cpu, rss, fds;
    process_figures(&cpu, &rss, &fds);
    uint64_t lag = s->lag_max_ns > s->lag_prev_max_ns ? s->lag_max_ns : s->lag_prev_max_ns;
    as_stats_add(&st, "gauge", "aftersales_service_resident_memory_bytes", NULL, rss,
                 "resident memory of the service process");
    as_stats_add(&st, "counter", "aftersales_service_cpu_seconds_total", NULL, cpu,
                 "CPU time of the service process (user + system)");
    as_stats_add(&st, "gauge", "aftersales_service_open_fds", NULL, fds,
                 "open file descriptors of the service process");
    as_stats_add(&st, "gauge", "aftersales_service_uptime_seconds", NULL,
                 (double)(uv_hrtime() - s->started_ns) / 1e9,
                 "seconds since the service process started");
    as_stats_add(&st, "gauge", "aftersales_service_loop_lag_seconds", NULL, (double)lag / 1e9,
                 "the largest delay of the service's event loop in the last 10 to 20 seconds");
    as_stats_add(&st, "gauge", "aftersales_service_commands_inflight", NULL, s->st.inflight,
                 "commands received and not answered yet");
    char labels[160];
    snprintf(labels, sizeof labels, "commit=\"%s\"", AS_BUILD_COMMIT);
    as_stats_add(&st, "gauge", "aftersales_service_build_info", labels, 1,
                 "the build the service runs (value 1)");
    for (cmd_entry_t *e = s->cmds; e; e = e->hh.next) {
        snprintf(labels, sizeof labels, "type=\"%s\"", e->type);
        as_stats_add(&st, "counter", "aftersales_service_commands_handled_total", labels,
                     (double)e->handled, "commands received since the service started, by type");
    }
    for (int i = 0; i < BI_N; i++) {
        snprintf(labels, sizeof labels, "type=\"%s\"", builtin_types[i]);
        as_stats_add(&st, "counter", "aftersales_service_commands_handled_total", labels,
                     (double)s->builtin_handled[i],
                     "commands received since the service started, by type");
    }
    as_stats_add(&st, "counter", "aftersales_service_commands_refused_total", NULL,
                 (double)(s->st.rejected + s->st.overloaded),
                 "commands refused before running (malformed, forbidden, late, overloaded)");
    if (s->stats_fn)
        s->stats_fn(&st, s->stats_ud);
    As__MetricsReply m = AS__METRICS_REPLY__INIT;
    As__Metric **ptrs = calloc(st.n ? st.n : 1, sizeof *ptrs);
    if (ptrs) {
        for (size_t i = 0; i < st.n; i++)
            ptrs[i] = &st.m[i];
        m.n_metrics = st.n;
        m.metrics = ptrs;
        as_cmd_reply(ctx, 200, NULL, NULL, &m.base);
    } else {
        as_cmd_error(ctx, 500, "internal", "out of memory");
    }
    free(ptrs);
    for (size_t i = 0; i < st.n; i++) {
        free(st.m[i].name);
        free(st.m[i].labels);
        free(st.m[i].help);
        free(st.m[i].kind);
    }
    free(st.m);
}

static void on_frame(as_zsock_t *zs, const void *const *frames, const size_t *lens, int n, void *ud)
{
    as_server_t *s = ud;
    if (s->closing)
        return;
    if (n < 2 || n > 3 || lens[0] > sizeof(((as_cmd_ctx_t *)0)->ident) ||
        (n == 3 && lens[1] != 0)) {
        s->st.rejected++;
        if (n >= 1 && lens[0] <= sizeof(((as_cmd_ctx_t *)0)->ident))
            reply_error_raw(s, frames[0], lens[0], 0, "", 400, "malformed_frame",
                            "expected [identity, envelope]");
        return;
    }
    int delim = n == 3;
    const uint8_t *data = frames[n - 1];
    size_t len = lens[n - 1];
    if ((int64_t)len > s->max_msg) {
        s->st.rejected++;
        char msg[128];
        snprintf(msg, sizeof msg, "message of %zu bytes exceeds the limit of %lld", len,
                 (long long)s->max_msg);
        reply_error_raw(s, frames[0], lens[0], delim, "", 413, "too_large", msg);
        return;
    }
    As__Envelope *env = as__envelope__unpack(NULL, len, data);
    if (!env) {
        s->st.rejected++;
        reply_error_raw(s, frames[0], lens[0], delim, "", 400, "malformed_envelope",
                        "the frame is not a valid envelope");
        return;
    }
    const char *rid = env->request_id ? env->request_id : "";
    if (!*rid || strlen(rid) >= sizeof(((as_cmd_ctx_t *)0)->request_id) || !env->type) {
        s->st.rejected++;
        reply_error_raw(s, frames[0], lens[0], delim, "", 400, "malformed_envelope",
                        "request_id (1..127 bytes) and type are required");
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    /* Identity: the principal a message may carry, and the scope of its request id, come from
     * the CURVE key that carried it (its name on the allow-list, the connection's User-Id). */
    const char *who = as_zsock_user_id(zs);
    const char *why = NULL;
    if (as_curve_authorize(who, env->principal, &why) < 0) {
        s->st.rejected++;
        char msg[160];
        snprintf(msg, sizeof msg, "principal refused: %s", why);
        AS_WARN("principal refused", "req=%.64s key=%s type=%.64s reason=\"%s\"", rid,
                who ? who : "-", env->type, why);
        reply_error_raw(s, frames[0], lens[0], delim, rid, 403, "forbidden", msg);
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    if (deadline_passed(s, env)) {
        s->st.rejected++;
        reply_error_raw(s, frames[0], lens[0], delim, rid, 504, "deadline_passed",
                        "the request arrived after its deadline");
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    if (s->st.inflight >= SERVER_MAX_INFLIGHT) {
        s->st.overloaded++;
        reply_error_raw(s, frames[0], lens[0], delim, rid, 503, "overloaded",
                        "the service is busy; retry shortly");
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    cmd_entry_t *e = NULL;
    HASH_FIND_STR(s->cmds, env->type, e);
    int builtin_health_req = strcmp(env->type, "as.HealthRequest") == 0;
    int builtin_replay = strcmp(env->type, "as.ReplayRequest") == 0;
    int builtin_metrics_req = strcmp(env->type, "as.MetricsRequest") == 0;
    int builtin_stats_req = strcmp(env->type, "as.StatsRequest") == 0;
    if (!e && !builtin_health_req && !builtin_replay && !builtin_metrics_req &&
        !builtin_stats_req) {
        s->st.rejected++;
        char msg[200];
        snprintf(msg, sizeof msg, "unknown command type '%.100s'", env->type);
        reply_error_raw(s, frames[0], lens[0], delim, rid, 400, "unknown_type", msg);
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    const ProtobufCMessageDescriptor *d = e                     ? e->req_desc
                                          : builtin_health_req  ? &as__health_request__descriptor
                                          : builtin_metrics_req ? &as__metrics_request__descriptor
                                          : builtin_stats_req   ? &as__stats_request__descriptor
                                                                : &as__replay_request__descriptor;
    ProtobufCMessage *req =
        protobuf_c_message_unpack(d, NULL, env->has_payload ? env->payload.len : 0,
                                  env->has_payload ? env->payload.data : (const uint8_t *)"");
    if (!req) {
        s->st.rejected++;
        char msg[200];
        snprintf(msg, sizeof msg, "payload is not a valid %s", d->name);
        reply_error_raw(s, frames[0], lens[0], delim, rid, 400, "malformed_payload", msg);
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    as_cmd_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        protobuf_c_message_free_unpacked(req, NULL);
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    ctx->s = s;
    memcpy(ctx->ident, frames[0], lens[0]);
    ctx->ident_len = lens[0];
    ctx->delimiter = delim;
    snprintf(ctx->request_id, sizeof ctx->request_id, "%s", rid);
    snprintf(ctx->sender, sizeof ctx->sender, "%s", who ? who : "");
    if (who)
        snprintf(ctx->scoped_id, sizeof ctx->scoped_id, "%s@%s", rid, who);
    else
        snprintf(ctx->scoped_id, sizeof ctx->scoped_id, "%s", rid);
    ctx->principal = env->principal;
    if (as_curve_is_service(who)) {
        as__principal__init(&ctx->service_principal);
        ctx->service_principal.role = (char *)"service";
        ctx->service_principal.subject = ctx->sender;
        ctx->principal = &ctx->service_principal;
    }
    /* The trace id goes into logs and the outbox: only letters, digits, '-' and '_'. */
    size_t tn = 0;
    for (const char *t = env->trace_id ? env->trace_id : ""; *t && tn + 1 < sizeof ctx->trace_id;
         t++)
        if (isalnum((unsigned char)*t) || *t == '-' || *t == '_')
            ctx->trace_id[tn++] = *t;
    ctx->trace_id[tn] = '\0';
    ctx->env = env;
    ctx->req = req;
    ctx->entry = e;
    s->st.inflight++;
    s->st.commands++;
    if (e)
        e->handled++;
    else
        s->builtin_handled[builtin_health_req    ? BI_HEALTH
                           : builtin_metrics_req ? BI_METRICS
                           : builtin_stats_req   ? BI_STATS
                                                 : BI_REPLAY]++;
    if (builtin_health_req)
        builtin_health(ctx);
    else if (builtin_metrics_req)
        builtin_metrics(ctx);
    else if (builtin_stats_req)
        builtin_stats(ctx);
    else if (builtin_replay) {
        if (!s->relay)
            as_cmd_error(ctx, 404, "no_stream", "this service publishes no stream");
        else
            as_relay_serve_replay(s->relay, ctx, (const As__ReplayRequest *)req);
    } else
        e->def->fn(ctx, req, e->ud);
}

as_server_t *as_server_new(uv_loop_t *loop, void *zctx, const char *endpoint, int64_t max_msg,
                           const char *service, char *err, size_t errlen)
{
    as_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->max_msg = max_msg;
    snprintf(s->service, sizeof s->service, "%s", service);
    /* The transport refuses frames far beyond the limit; up to 4x we still answer with 413. */
    s->zs = as_zsock_new(loop, zctx, ZMQ_ROUTER, endpoint, 1, max_msg * 4 + 4096, 10000, on_frame,
                         s, err, errlen);
    s->flush = malloc(sizeof *s->flush);
    s->lag_timer = malloc(sizeof *s->lag_timer);
    if (!s->zs || !s->flush || !s->lag_timer) {
        as_zsock_destroy(&s->zs);
        free(s->flush);
        free(s->lag_timer);
        free(s);
        return NULL;
    }
    uv_check_init(loop, s->flush);
    s->flush->data = s;
    s->started_ns = uv_hrtime();
    uv_timer_init(loop, s->lag_timer);
    s->lag_timer->data = s;
    s->lag_due_ns = s->started_ns + (uint64_t)LAG_TICK_MS * 1000000u;
    uv_timer_start(s->lag_timer, lag_tick, LAG_TICK_MS, LAG_TICK_MS);
    uv_unref((uv_handle_t *)s->lag_timer); /* never what keeps the loop alive */
    return s;
}

void as_server_add(as_server_t *s, const as_cmd_def_t *defs, size_t n, void *user_data)
{
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = as_registry_find(defs[i].type);
        if (!d) {
            AS_ERROR("command type not in the registry", "type=%s", defs[i].type);
            continue;
        }
        cmd_entry_t *e = calloc(1, sizeof *e);
        if (!e)
            continue;
        e->type = defs[i].type;
        e->def = &defs[i];
        e->req_desc = d;
        e->ud = user_data;
        HASH_ADD_KEYPTR(hh, s->cmds, e->type, strlen(e->type), e);
    }
}

void as_server_attach(as_server_t *s, as_db_t *db, as_relay_t *relay,
                      void (*health)(as_server_t *, As__HealthReply *, void *), void *health_ud)
{
    s->db = db;
    s->relay = relay;
    s->health = health;
    s->health_ud = health_ud;
}

void as_server_get_stats(const as_server_t *s, as_server_stats_t *out)
{
    *out = s->st;
}

void as_server_destroy(as_server_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    as_server_t *s = *s_p;
    *s_p = NULL;
    s->closing = 1;
    batch_flush(s); /* nothing may wait in the batch forever */
    as_zsock_destroy(&s->zs);
    uv_close((uv_handle_t *)s->flush, (uv_close_cb)free);
    s->flush = NULL;
    uv_timer_stop(s->lag_timer);
    uv_close((uv_handle_t *)s->lag_timer, (uv_close_cb)free);
    s->lag_timer = NULL;
    if (s->st.inflight == 0)
        server_free(s);
}
