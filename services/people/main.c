/* main.c — the people service: staff accounts, sign-in, and the network as data.
 *
 * Users, sessions, API tokens, regions, centres, warehouses and brands live in the `people`
 * schema (migrations/). Most commands are one SQL function each through exec_command(). The
 * commands that touch passwords (Login, CreateUser, ResetPassword, ChangePassword) are C
 * handlers: a password is checked for strength here, hashed or verified with Argon2id
 * (libsodium crypto_pwhash_str) on the libuv thread pool — never on the loop, so a burst of
 * sign-ins does not delay other commands — and only the hash reaches SQL. At most
 * `hash_workers` hashes run at once and at most `hash_queue` wait; beyond that a password
 * command answers 503 at once. Passwords are never logged and never stored in a reply.
 *
 * Resolve (who is behind a session or token hash?) is asked by the gateway; it is a plain
 * statement, not a stored command. Revocations, disabled users and password resets are events
 * on the "people" stream the gateway follows to drop its cached identities. */
#include "as/enums.h"
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "as.pb-c.h"
#include "people.pb-c.h"
#include "pwpolicy.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

static long cfg_hash_workers, cfg_hash_queue, cfg_hash_wait_ms, cfg_session_idle_s,
    cfg_session_abs_s;

static as_config_item_t people_items[] = {
    {"hash_workers", AS_CFG_INT, "2", 1, 64,
     "password hashes computed at once on the thread pool (each ~20 MiB, tens of ms of CPU)",
     &cfg_hash_workers},
    {"hash_queue", AS_CFG_INT, "32", 1, 100000,
     "password commands waiting for a hash worker, at most (then 503)", &cfg_hash_queue},
    {"hash_max_wait_ms", AS_CFG_INT, "2000", 50, 60000,
     "a password command that would wait longer than this for a hash worker (estimated from "
     "the recent hash times) is answered 503 at once, and one that waited this long is dropped",
     &cfg_hash_wait_ms},
    {"session_idle_s", AS_CFG_INT, "1800", 60, 7 * 86400,
     "a browser session ends after this many seconds without a request", &cfg_session_idle_s},
    {"session_absolute_s", AS_CFG_INT, "43200", 300, 30 * 86400,
     "a browser session ends this many seconds after sign-in, however active", &cfg_session_abs_s},
};

/* Argon2id cost: the OWASP minimum (19 MiB, 2 passes) — tens of ms on this hardware. */
#define PW_OPS 2ULL
#define PW_MEM (19ULL << 20)

/* A hash that no password matches (verified against for unknown logins, so an unknown name
 * costs the same time as a wrong password). Made at start. */
static char dummy_hash[crypto_pwhash_STRBYTES];

/* ---- the hashing pool ---- */

typedef enum { HJ_HASH, HJ_VERIFY } hj_kind_t;

typedef struct hash_job hash_job_t;
typedef void (*hash_done_fn)(hash_job_t *j);

struct hash_job {
    uv_work_t work;
    hj_kind_t kind;
    char password[160];
    char hash[crypto_pwhash_STRBYTES]; /* in: to verify; out: the new hash */
    int ok;                            /* verify: matched; hash: made */
    as_cmd_ctx_t *ctx;
    hash_done_fn done;
    json_t *args;   /* what the command sends to SQL afterwards */
    char login[80]; /* Login */
    int phase;      /* ChangePassword: 0 verify old, 1 hash new */
    char new_password[160];
    hash_job_t *next;
    /* The gateway's client resends a request it has no answer for yet (same request id): such
     * resends join the job instead of hashing again, and get the same answer. */
    char rid[128];
    as_cmd_ctx_t *dups[8];
    int ndups;
    UT_hash_handle hh;
    uint64_t queued_ns, work_ns;
};

static hash_job_t *pending; /* by request id: every job from its command to its answer */

/* A resend of a password command still being worked on: answered with the original. */
static int join_pending(as_cmd_ctx_t *ctx)
{
    hash_job_t *j = NULL;
    const char *rid = as_cmd_request_id(ctx);
    HASH_FIND_STR(pending, rid, j);
    if (!j)
        return 0;
    if (j->ndups < (int)(sizeof j->dups / sizeof j->dups[0]))
        j->dups[j->ndups++] = ctx;
    else
        as_cmd_error(ctx, 503, "overloaded", "this request is already being worked on");
    return 1;
}

static void job_error(hash_job_t *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_error(hash_job_t *j, int status, const char *code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    as_cmd_reply(j->ctx, status, code, msg, NULL);
    for (int i = 0; i < j->ndups; i++)
        as_cmd_reply(j->dups[i], status, code, msg, NULL);
    j->ctx = NULL;
    j->ndups = 0;
}

static void job_reply_json(hash_job_t *j, int status, const json_t *body)
{
    as_cmd_reply_json(j->ctx, status, body, 0);
    for (int i = 0; i < j->ndups; i++)
        as_cmd_reply_json(j->dups[i], status, body, 0);
    j->ctx = NULL;
    j->ndups = 0;
}

static struct {
    uv_loop_t *loop;
    int running;
    double avg_ms; /* recent time of one hash (moving average) */
    size_t waiting;
    hash_job_t *head, *tail;
} pool;

static void job_free(hash_job_t *j)
{
    if (j->rid[0])
        HASH_DEL(pending, j);
    sodium_memzero(j->password, sizeof j->password);
    sodium_memzero(j->new_password, sizeof j->new_password);
    json_decref(j->args);
    free(j);
}

static void hash_work(uv_work_t *w)
{
    hash_job_t *j = w->data;
    uint64_t t0 = uv_hrtime();
    if (j->kind == HJ_HASH)
        j->ok = crypto_pwhash_str(j->hash, j->password, strlen(j->password), PW_OPS, PW_MEM) == 0;
    else
        j->ok = crypto_pwhash_str_verify(j->hash, j->password, strlen(j->password)) == 0;
    sodium_memzero(j->password, sizeof j->password);
    j->work_ns = uv_hrtime() - t0;
}

static void pool_next(void);

static void hash_after(uv_work_t *w, int status)
{
    hash_job_t *j = w->data;
    pool.running--;
    if (status != 0)
        j->ok = -1;
    else
        pool.avg_ms = pool.avg_ms * 0.8 + (double)j->work_ns / 1e6 * 0.2;
    j->done(j);
    pool_next();
}

static void pool_next(void)
{
    while (pool.running < cfg_hash_workers && pool.head) {
        hash_job_t *j = pool.head;
        pool.head = j->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.waiting--;
        if ((uv_hrtime() - j->queued_ns) / 1000000 > (uint64_t)cfg_hash_wait_ms) {
            /* Its caller has (nearly) given up: do not spend a hash on it. */
            job_error(j, 503, "overloaded", "too many sign-ins at once; retry in a few seconds");
            job_free(j);
            continue;
        }
        j->work.data = j;
        if (uv_queue_work(pool.loop, &j->work, hash_work, hash_after) != 0) {
            j->ok = -1;
            j->done(j);
            continue;
        }
        pool.running++;
    }
}

/* Queue a hash job; answers 503 and frees it when the queue is full. */
static void pool_submit(hash_job_t *j)
{
    double wait_ms = (double)(pool.waiting + 1) / (double)cfg_hash_workers * pool.avg_ms;
    if (pool.waiting >= (size_t)cfg_hash_queue || wait_ms > (double)cfg_hash_wait_ms) {
        job_error(j, 503, "overloaded", "too many sign-ins at once; retry in a few seconds");
        job_free(j);
        return;
    }
    j->next = NULL;
    j->queued_ns = uv_hrtime();
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pool.waiting++;
    pool_next();
}

static hash_job_t *job_new(as_cmd_ctx_t *ctx, hj_kind_t kind, const char *password,
                           hash_done_fn done)
{
    hash_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        as_cmd_error(ctx, 503, "overloaded", "out of memory");
        return NULL;
    }
    j->ctx = ctx;
    snprintf(j->rid, sizeof j->rid, "%s", as_cmd_request_id(ctx));
    HASH_ADD_STR(pending, rid, j);
    j->kind = kind;
    j->done = done;
    snprintf(j->password, sizeof j->password, "%s", password ? password : "");
    return j;
}

/* ---- helpers ---- */

static int present(const char *s)
{
    return s && *s;
}

/* ---- CreateUser, ResetPassword: hash, then SQL ---- */

static void hashed_then_sql(hash_job_t *j)
{
    if (j->ok != 1) {
        job_error(j, 500, "internal", "could not hash the password");
        job_free(j);
        return;
    }
    json_object_set_new(j->args, "password_hash", json_string(j->hash));
    const char *fn = as_cmd_def(j->ctx)->sql_fn;
    as_cmd_sql(j->ctx, fn, json_deep_copy(j->args));
    /* Resends run after it on the same connection: exec_command answers them with its reply. */
    for (int i = 0; i < j->ndups; i++)
        as_cmd_sql(j->dups[i], fn, json_deep_copy(j->args));
    j->ndups = 0;
    job_free(j);
}

/* The roles (as.Role in proto/as.proto) and the problem a wrong one gets. */
static const char *roles_problem(void)
{
    static char buf[120];
    if (!buf[0]) {
        char set[100];
        snprintf(buf, sizeof buf, "must be one of %s",
                 as_enum_list(&as__role__descriptor, ", ", ", ", set, sizeof set));
    }
    return buf;
}

static void create_user(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    if (join_pending(ctx))
        return;
    const People__CreateUser *m = (const People__CreateUser *)msg;
    char why[200];
    if (!present(m->login) || !pw_login_ok(m->login)) {
        as_cmd_reply_field(ctx, "login",
                           "must be 2..64 characters: lower-case letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit");
        return;
    }
    if (!present(m->display_name) || strlen(m->display_name) > 120) {
        as_cmd_reply_field(ctx, "display_name", "is required (at most 120 bytes)");
        return;
    }
    if (!as_enum_has(&as__role__descriptor, m->role)) {
        as_cmd_reply_field(ctx, "role", roles_problem());
        return;
    }
    if (!present(m->password)) {
        as_cmd_reply_field(ctx, "password", "is required");
        return;
    }
    if (pw_weak(m->password, m->login, m->display_name, why, sizeof why)) {
        as_cmd_error(ctx, 422, "weak_password", "password: %s", why);
        return;
    }
    hash_job_t *j = job_new(ctx, HJ_HASH, m->password, hashed_then_sql);
    if (!j)
        return;
    j->args = json_pack("{s:s, s:s, s:s}", "login", m->login, "display_name", m->display_name,
                        "role", m->role);
    if (present(m->site))
        json_object_set_new(j->args, "site", json_string(m->site));
    if (present(m->region))
        json_object_set_new(j->args, "region", json_string(m->region));
    pool_submit(j);
}

static void reset_password(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    if (join_pending(ctx))
        return;
    const People__ResetPassword *m = (const People__ResetPassword *)msg;
    char why[200];
    if (!present(m->login)) {
        as_cmd_reply_field(ctx, "login", "is required");
        return;
    }
    if (!present(m->password)) {
        as_cmd_reply_field(ctx, "password", "is required");
        return;
    }
    if (pw_weak(m->password, m->login, NULL, why, sizeof why)) {
        as_cmd_error(ctx, 422, "weak_password", "password: %s", why);
        return;
    }
    hash_job_t *j = job_new(ctx, HJ_HASH, m->password, hashed_then_sql);
    if (!j)
        return;
    j->args = json_pack("{s:s}", "login", m->login);
    pool_submit(j);
}

/* ---- ChangePassword: look up own hash, verify the old password, hash the new one ---- */

static void change_step(hash_job_t *j);

static void change_lookup_done(const as_db_result_t *r, void *ud)
{
    hash_job_t *j = ud;
    if (!r->ok || as_db_is_null(r->res[0], 0, 0)) {
        if (!r->ok)
            job_error(j, 503, "unavailable", "the database is unavailable; retry");
        else
            job_error(j, 403, "no_account",
                      "only a staff account (signed in) has a password to change");
        job_free(j);
        return;
    }
    snprintf(j->hash, sizeof j->hash, "%s", as_db_value(r->res[0], 0, 0));
    json_object_set_new(j->args, "old_hash", json_string(j->hash));
    j->kind = HJ_VERIFY;
    j->phase = 0;
    j->done = change_step;
    pool_submit(j);
}

static void change_step(hash_job_t *j)
{
    if (j->ok < 0) {
        job_error(j, 500, "internal", "could not check the password");
        job_free(j);
        return;
    }
    if (j->phase == 0) {
        if (!j->ok) {
            job_error(j, 403, "wrong_password", "old_password is not your password");
            job_free(j);
            return;
        }
        j->phase = 1;
        j->kind = HJ_HASH;
        snprintf(j->password, sizeof j->password, "%s", j->new_password);
        sodium_memzero(j->new_password, sizeof j->new_password);
        pool_submit(j);
        return;
    }
    hashed_then_sql(j);
}

static void change_password(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    if (join_pending(ctx))
        return;
    const People__ChangePassword *m = (const People__ChangePassword *)msg;
    const As__Principal *p = as_cmd_principal(ctx);
    char why[200];
    if (!p || !present(p->subject)) {
        as_cmd_error(ctx, 403, "no_account", "no caller");
        return;
    }
    if (!present(m->old_password)) {
        as_cmd_reply_field(ctx, "old_password", "is required");
        return;
    }
    if (!present(m->new_password)) {
        as_cmd_reply_field(ctx, "new_password", "is required");
        return;
    }
    if (pw_weak(m->new_password, p->subject, p->display_name, why, sizeof why)) {
        as_cmd_error(ctx, 422, "weak_password", "new_password: %s", why);
        return;
    }
    if (strcmp(m->old_password, m->new_password) == 0) {
        as_cmd_error(ctx, 422, "weak_password", "new_password: is the same as the old one");
        return;
    }
    hash_job_t *j = job_new(ctx, HJ_VERIFY, m->old_password, change_step);
    if (!j)
        return;
    snprintf(j->new_password, sizeof j->new_password, "%s", m->new_password);
    j->args = json_object();
    const char *params[1] = {p->subject};
    as_db_stmt_t st = {"SELECT own_password_hash($1)", 1, params};
    if (as_db_submit(as_cmd_db(ctx), &st, 1, change_lookup_done, j) < 0) {
        job_error(j, 503, "overloaded", "the service is busy; retry shortly");
        job_free(j);
    }
}

/* ---- Login ---- */

static void login_recorded(const as_db_result_t *r, void *ud)
{
    hash_job_t *j = ud;
    if (!r->ok) {
        job_error(j, 503, "unavailable", "the database is unavailable; retry");
        job_free(j);
        return;
    }
    if (!j->ok) {
        json_error_t jerr;
        json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
        int locked = o && json_is_true(json_object_get(o, "locked"));
        json_decref(o);
        if (locked)
            job_error(j, 403, "account_locked",
                      "too many failed sign-ins: the account is locked until an "
                      "administrator resets its password");
        else
            job_error(j, 401, "invalid_credentials", "wrong login name or password");
        job_free(j);
        return;
    }
    json_error_t jerr;
    json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
    int status = o ? (int)json_integer_value(json_object_get(o, "status")) : 500;
    if (status == 200) {
        AS_INFO("signed in", "login=%s", j->login);
        job_reply_json(j, 200, json_object_get(o, "body"));
    } else {
        const char *code = o ? json_string_value(json_object_get(o, "code")) : NULL;
        const char *m = o ? json_string_value(json_object_get(o, "message")) : NULL;
        job_error(j, status ? status : 500, code ? code : "internal", "%s",
                  m ? m : "sign-in failed");
    }
    json_decref(o);
    job_free(j);
}

static void login_verified(hash_job_t *j)
{
    if (j->ok < 0) {
        job_error(j, 500, "internal", "could not check the password");
        job_free(j);
        return;
    }
    if (j->login[0] == '\0') { /* unknown login: the dummy verification only cost time */
        job_error(j, 401, "invalid_credentials", "wrong login name or password");
        job_free(j);
        return;
    }
    as_db_stmt_t st;
    const char *params[1];
    char *a = NULL;
    if (j->ok) {
        a = json_dumps(j->args, JSON_COMPACT);
        params[0] = a;
        st = (as_db_stmt_t){"SELECT login_succeeded($1::jsonb)::text", 1, params};
    } else {
        params[0] = j->login;
        st = (as_db_stmt_t){"SELECT login_failed($1)::text", 1, params};
    }
    int rc = (!j->ok || a) ? as_db_submit(as_cmd_db(j->ctx), &st, 1, login_recorded, j) : -1;
    free(a);
    if (rc < 0) {
        job_error(j, 503, "overloaded", "the service is busy; retry shortly");
        job_free(j);
    }
}

static void login_looked_up(const as_db_result_t *r, void *ud)
{
    hash_job_t *j = ud;
    if (!r->ok) {
        job_error(j, 503, "unavailable", "the database is unavailable; retry");
        job_free(j);
        return;
    }
    if (as_db_is_null(r->res[0], 0, 0)) {
        j->login[0] = '\0';
        snprintf(j->hash, sizeof j->hash, "%s", dummy_hash);
        pool_submit(j);
        return;
    }
    json_error_t jerr;
    json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
    if (!o) {
        job_error(j, 500, "internal", "bad lookup");
        job_free(j);
        return;
    }
    int active = json_is_true(json_object_get(o, "active"));
    int locked = json_is_true(json_object_get(o, "locked"));
    long retry = (long)json_integer_value(json_object_get(o, "retry_in_s"));
    const char *h = json_string_value(json_object_get(o, "hash"));
    snprintf(j->hash, sizeof j->hash, "%s", h ? h : dummy_hash);
    json_decref(o);
    if (locked) {
        job_error(j, 403, "account_locked",
                  "too many failed sign-ins: the account is locked until an administrator "
                  "resets its password");
        job_free(j);
        return;
    }
    if (retry > 0) {
        job_error(j, 429, "too_many_attempts", "too many failed sign-ins: try again in %ld s",
                  retry);
        job_free(j);
        return;
    }
    if (!active) {
        /* Same answer as a wrong password: a disabled account gives nothing away. */
        job_error(j, 401, "invalid_credentials", "wrong login name or password");
        job_free(j);
        return;
    }
    pool_submit(j);
}

static int hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void login(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    if (join_pending(ctx))
        return;
    const People__Login *m = (const People__Login *)msg;
    if (!present(m->login) || strlen(m->login) > 64) {
        as_cmd_reply_field(ctx, "login", "is required");
        return;
    }
    if (!present(m->password) || strlen(m->password) > 128) {
        as_cmd_reply_field(ctx, "password", "is required (at most 128 bytes)");
        return;
    }
    if (!hex64(m->token_hash) || (m->csrf_hash && !hex64(m->csrf_hash))) {
        as_cmd_reply_field(ctx, "token_hash",
                           "must be 64 lower-case hex digits (set by the gateway)");
        return;
    }
    hash_job_t *j = job_new(ctx, HJ_VERIFY, m->password, login_verified);
    if (!j)
        return;
    snprintf(j->login, sizeof j->login, "%s", m->login);
    j->args = json_pack("{s:s, s:s, s:I, s:I}", "login", m->login, "token_hash", m->token_hash,
                        "absolute_s", (json_int_t)cfg_session_abs_s, "idle_s",
                        (json_int_t)cfg_session_idle_s);
    if (m->csrf_hash)
        json_object_set_new(j->args, "csrf_hash", json_string(m->csrf_hash));
    const char *params[1] = {m->login};
    as_db_stmt_t st = {"SELECT login_lookup($1)::text", 1, params};
    if (as_db_submit(as_cmd_db(ctx), &st, 1, login_looked_up, j) < 0) {
        job_error(j, 503, "overloaded", "the service is busy; retry shortly");
        job_free(j);
    }
}

/* ---- Resolve: a plain statement, not a stored command ---- */

static void resolve_done(const as_db_result_t *r, void *ud)
{
    as_cmd_ctx_t *ctx = ud;
    if (!r->ok) {
        as_cmd_error(ctx, 503, "unavailable", "the database is unavailable; retry");
        return;
    }
    if (as_db_is_null(r->res[0], 0, 0)) {
        as_cmd_error(ctx, 401, "unauthorized", "unknown, expired or revoked credentials");
        return;
    }
    json_error_t jerr;
    json_t *o = json_loads(as_db_value(r->res[0], 0, 0), 0, &jerr);
    if (!o) {
        as_cmd_error(ctx, 500, "internal", "bad identity");
        return;
    }
    as_cmd_reply_json(ctx, 200, o, 0);
    json_decref(o);
}

static void resolve(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const People__Resolve *m = (const People__Resolve *)msg;
    if (!hex64(m->token_hash)) {
        as_cmd_reply_field(ctx, "token_hash", "must be 64 lower-case hex digits");
        return;
    }
    const char *params[1] = {m->token_hash};
    as_db_stmt_t st = {"SELECT resolve_token($1)::text", 1, params};
    if (as_db_submit(as_cmd_db(ctx), &st, 1, resolve_done, ctx) < 0)
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
}

/* ---- the network: field checks in C, the rest in SQL ---- */

static int code_ok(const char *s, size_t max, int upper)
{
    if (!present(s) || strlen(s) > max)
        return 0;
    for (const char *p = s; *p; p++) {
        int c = (unsigned char)*p;
        int ok = (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                 (upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z'));
        if (!ok)
            return 0;
    }
    return 1;
}

static void create_region(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const People__CreateRegion *m = (const People__CreateRegion *)msg;
    if (!code_ok(m->code, 32, 0) || m->code[0] < 'a' || m->code[0] > 'z')
        as_cmd_reply_field(ctx, "code",
                           "must be 1..32 of a-z, 0-9, '_' or '-', starting with a letter");
    else if (!present(m->name) || strlen(m->name) > 120)
        as_cmd_reply_field(ctx, "name", "is required (at most 120 bytes)");
    else
        as_cmd_sql_default(ctx, msg, ud);
}

static void open_center(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const People__OpenCenter *m = (const People__OpenCenter *)msg;
    if (!code_ok(m->code, 16, 1) || strlen(m->code) < 2)
        as_cmd_reply_field(ctx, "code", "must be 2..16 of A-Z, 0-9, '_' or '-'");
    else if (!present(m->name) || strlen(m->name) > 120)
        as_cmd_reply_field(ctx, "name", "is required (at most 120 bytes)");
    else if (!present(m->region))
        as_cmd_reply_field(ctx, "region", "is required");
    else
        as_cmd_sql_default(ctx, msg, ud);
}

static void create_brand(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const People__CreateBrand *m = (const People__CreateBrand *)msg;
    if (!present(m->name) || strlen(m->name) > 64)
        as_cmd_reply_field(ctx, "name", "is required (at most 64 bytes)");
    else if (!present(m->manufacturer) || strlen(m->manufacturer) > 64)
        as_cmd_reply_field(ctx, "manufacturer", "is required (at most 64 bytes)");
    else
        as_cmd_sql_default(ctx, msg, ud);
}

static void update_user(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const People__UpdateUser *m = (const People__UpdateUser *)msg;
    int role_ok = !m->role || as_enum_has(&as__role__descriptor, m->role);
    if (!present(m->login))
        as_cmd_reply_field(ctx, "login", "is required");
    else if (!role_ok)
        as_cmd_reply_field(ctx, "role", roles_problem());
    else if (m->display_name && (!*m->display_name || strlen(m->display_name) > 120))
        as_cmd_reply_field(ctx, "display_name", "must be 1..120 bytes");
    else
        as_cmd_sql_default(ctx, msg, ud);
}

static void create_token(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const People__CreateToken *m = (const People__CreateToken *)msg;
    if (!hex64(m->token_hash))
        as_cmd_reply_field(ctx, "token_hash",
                           "must be 64 lower-case hex digits (set by the gateway)");
    else if (m->has_expires_in_days && (m->expires_in_days < 1 || m->expires_in_days > 366))
        as_cmd_reply_field(ctx, "expires_in_days", "must be 1..366");
    else if (m->name && strlen(m->name) > 80)
        as_cmd_reply_field(ctx, "name", "is longer than 80 bytes");
    else
        as_cmd_sql_default(ctx, msg, ud);
}

static const as_cmd_def_t commands[] = {
    {"people.Login", &people__session__descriptor, login, NULL},
    {"people.Logout", &as__empty__descriptor, as_cmd_sql_default, "cmd_logout"},
    {"people.Resolve", &people__identity__descriptor, resolve, NULL},
    {"people.CreateToken", &people__token__descriptor, create_token, "cmd_create_token"},
    {"people.ListTokens", &people__token_list__descriptor, as_cmd_sql_default, "cmd_list_tokens"},
    {"people.RevokeToken", &people__token__descriptor, as_cmd_sql_default, "cmd_revoke_token"},
    {"people.CreateUser", &people__user__descriptor, create_user, "cmd_create_user"},
    {"people.GetUser", &people__user__descriptor, as_cmd_sql_default, "cmd_get_user"},
    {"people.ListUsers", &people__user_list__descriptor, as_cmd_sql_default, "cmd_list_users"},
    {"people.UpdateUser", &people__user__descriptor, update_user, "cmd_update_user"},
    {"people.ResetPassword", &people__user__descriptor, reset_password, "cmd_reset_password"},
    {"people.ChangePassword", &people__user__descriptor, change_password, "cmd_change_password"},
    {"people.CreateRegion", &people__region__descriptor, create_region, "cmd_create_region"},
    {"people.ListRegions", &people__region_list__descriptor, as_cmd_sql_default,
     "cmd_list_regions"},
    {"people.OpenCenter", &people__center__descriptor, open_center, "cmd_open_center"},
    {"people.GetCenter", &people__center__descriptor, as_cmd_sql_default, "cmd_get_center"},
    {"people.ListCenters", &people__center_list__descriptor, as_cmd_sql_default,
     "cmd_list_centers"},
    {"people.SuspendCenter", &people__center__descriptor, as_cmd_sql_default, "cmd_suspend_center"},
    {"people.ReopenCenter", &people__center__descriptor, as_cmd_sql_default, "cmd_reopen_center"},
    {"people.CloseCenter", &people__center__descriptor, as_cmd_sql_default, "cmd_close_center"},
    {"people.CreateBrand", &people__brand__descriptor, create_brand, "cmd_create_brand"},
    {"people.AddModels", &people__brand__descriptor, as_cmd_sql_default, "cmd_add_models"},
    {"people.ListBrands", &people__brand_list__descriptor, as_cmd_sql_default, "cmd_list_brands"},
};

static int people_start(as_service_t *svc)
{
    if (sodium_init() < 0) {
        AS_ERROR("libsodium failed to initialise", "%s", "");
        return -1;
    }
    pool.loop = svc->loop;
    pool.avg_ms = 50;
    unsigned char rnd[24];
    char pw[64];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), PW_OPS, PW_MEM) != 0) {
        AS_ERROR("cannot hash", "%s", "");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    as_service_def_t def = {
        .name = "people",
        AS_DEF_CMDS(commands),
        .publishes = 1,
        AS_DEF_EXTRA(people_items),
        .start = people_start,
        .metrics_sql = "SELECT 'aftersales_users', format('role=\"%s\",active=\"%s\"', role, "
                       "active), count(*), 'staff accounts' FROM users GROUP BY role, active",
    };
    return as_service_main(argc, argv, &def);
}
