/* db.h — PostgreSQL access for services: asynchronous, pipelined, never blocking the loop.
 *
 * One as_db_t is one libpq connection in non-blocking pipeline mode, watched by a uv_poll on the
 * service's loop. Work is submitted as a *job*: a short list of parameterised statements that
 * PostgreSQL runs as one implicit transaction (they are sent back to back and closed by one
 * pipeline sync, so either all of them commit or none does). Many jobs are in flight at once on
 * the same connection, which is what makes small transactions cheap.
 *
 * The connection is opened and re-opened by itself with back-off; jobs submitted while it is down
 * wait in a bounded queue. A job that was in flight when the connection broke completes with
 * SQLSTATE 08006 ("outcome unknown"): callers treat it like a timeout and retry idempotently.
 *
 * Blocking helpers for start-up (migrations) live at the end; never call them from the loop. */
#ifndef AS_DB_H
#define AS_DB_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

typedef struct as_db as_db_t;

/* One statement of a job. `params` are text values (NULL = SQL NULL); everything is copied at
 * submit time, so the caller may free its buffers right after as_db_submit() returns. */
typedef struct as_db_stmt {
    const char *sql;
    int nparams;
    const char *const *params;
} as_db_stmt_t;

/* What a job produced. `res[i]` is statement i's result (NULL if it never ran). When `ok` is 0,
 * `sqlstate` and `message` describe the first failure. Everything is freed after the callback
 * returns; copy what you need. */
typedef struct as_db_result {
    int ok;
    int n;
    PGresult **res;
    const char *sqlstate;
    const char *message;
    const char *detail;
} as_db_result_t;

typedef void (*as_db_cb)(const as_db_result_t *r, void *user_data);

typedef struct as_db_stats {
    uint64_t jobs_ok, jobs_failed, reconnects;
    unsigned queued, inflight;
    int connected;
    /* Round trips (statements sent to pipeline sync read) of the jobs that succeeded: how many,
     * their total and the last one, in seconds. */
    uint64_t rtt_count;
    double rtt_sum_s, rtt_last_s;
} as_db_stats_t;

/* Create the connection object and start connecting on `loop`. `conninfo` is copied.
 * `max_queue` bounds jobs waiting plus in flight; beyond it as_db_submit() refuses. */
int as_db_new(uv_loop_t *loop, const char *conninfo, unsigned max_queue, as_db_t **out)
    __attribute__((warn_unused_result));

/* Close the connection and free everything once the loop has closed our handles. Jobs still
 * queued complete with SQLSTATE 57P01 before this returns. Accepts NULL. */
void as_db_destroy(as_db_t **db_p);

/* Queue a job of `n` statements (1..256). `cb` runs exactly once, on the loop, later — never from
 * inside as_db_submit(). Returns 0, or -1 when the queue is full (nothing queued; cb not run). */
int as_db_submit(as_db_t *db, const as_db_stmt_t *stmts, int n, as_db_cb cb, void *user_data)
    __attribute__((warn_unused_result));

void as_db_get_stats(const as_db_t *db, as_db_stats_t *out);
int as_db_connected(const as_db_t *db);

/* Result helpers. as_db_value() returns "" for NULL cells and out-of-range positions. */
const char *as_db_value(const PGresult *res, int row, int col);
int as_db_is_null(const PGresult *res, int row, int col);

/* ---- start-up helpers (blocking) ---- */

/* Connect, retrying for up to `wait_ms`. Returns NULL with a message in err on failure. */
PGconn *as_db_connect_blocking(const char *conninfo, int wait_ms, char *err, size_t errlen);

/* Send the connection's notices (RAISE NOTICE, server warnings) to the log instead of stderr.
 * Every connection as_db makes does this; call it for connections made elsewhere. */
void as_db_route_notices(PGconn *c);

/* Apply the numbered migrations (`NNN_name.sql`) found in each directory of `dirs` that are not
 * yet recorded in <schema>.schema_migrations, each in its own transaction, in version order,
 * under an advisory lock. Refuses (returns -1) when the database already holds a version newer
 * than the newest file here: this binary is older than its schema. Then, in the same locked
 * transaction, the family files (every file named *.sql in each of `sql_dirs`, in that order and by
 * file name within a directory; a missing directory is skipped) with check_function_bodies off: a
 * file whose md5 is recorded (as "<sql_labels[i]>/<file name>") in <schema>.schema_sql_files is
 * skipped unless a migration ran in this call. On success *version_out is the schema's version. */
int as_db_migrate(PGconn *conn, const char *schema, const char *const *dirs, int ndirs,
                  const char *const *sql_dirs, const char *const *sql_labels, int nsql,
                  int *version_out, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
