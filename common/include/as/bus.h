/* bus.h — ZeroMQ messaging on the libuv loop: command server and client, event relay and
 * consumer. Every frame on the wire is an as.Envelope (proto/as.proto).
 *
 *   commands  ROUTER (server) <- DEALER (client). The caller's request_id is the idempotency key;
 *             the client resends the same id with back-off until its deadline, then reports the
 *             outcome as unknown (status 504). The server answers every frame: malformed,
 *             oversized or unknown frames get an error reply and change nothing.
 *   events    The service's outbox is the source of truth. The relay publishes committed rows on
 *             PUB (topic = stream name) in sequence order; the same ROUTER answers
 *             "as.ReplayRequest" from the outbox. A consumer applies sequence N+1 only after N,
 *             recording its position in the same transaction as the effect, and replays from the
 *             publisher on start, on a gap and after a period of silence.
 *
 * ZMQ_FD is edge-triggered: every socket is drained until ZMQ_EVENTS says empty (at most a
 * batch per loop iteration) and re-checked after each send. */
#ifndef AS_BUS_H
#define AS_BUS_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <uv.h>

#include "as.pb-c.h"
#include "as/check.h"
#include "as/db.h"

/* ---- raw socket on the loop ---- */

typedef struct as_zsock as_zsock_t;
/* One received multipart message. Frames are valid during the callback only. */
typedef void (*as_zsock_cb)(as_zsock_t *zs, const void *const *frames, const size_t *lens,
                            int nframes, void *user_data);

/* Create a socket of `type` (ZMQ_ROUTER, ...), bind or connect it to `endpoint`, and watch it.
 * `max_msg` is the hard transport limit (ZMQ_MAXMSGSIZE); `hwm` the send/receive high-water
 * marks. Returns NULL with a message in err. */
as_zsock_t *as_zsock_new(uv_loop_t *loop, void *zctx, int type, const char *endpoint, int bind,
                         int64_t max_msg, int hwm, as_zsock_cb cb, void *user_data, char *err,
                         size_t errlen);
/* Send a multipart message without blocking. Returns 0, or -1 when the peer's queue is full or
 * the message cannot be routed (the message is dropped; callers count it). */
int as_zsock_send(as_zsock_t *zs, const void *const *frames, const size_t *lens, int nframes);
void *as_zsock_raw(as_zsock_t *zs);
/* During the callback: the name the ZAP handler gave the sender's CURVE key (its User-Id), or
 * NULL when the connection has none (CURVE off, or a non-TCP endpoint). */
const char *as_zsock_user_id(const as_zsock_t *zs);
/* Stop watching, close the socket (linger 0) and free it in the close callback. Accepts NULL. */
void as_zsock_destroy(as_zsock_t **zs_p);

/* ---- authentication (ZeroMQ CURVE) ---- */

/* Turn CURVE on for every TCP socket this process creates from now on. `keys_dir` holds, as
 * written by as-keygen (make keys): `<name>.key` (this program's public and secret key, z85, one
 * per line), `<peer>.pub` for every service we connect to, and `allowed` (lines `name z85-key`):
 * the clients our servers accept. A ZAP handler on `loop` refuses any other key before a message
 * reaches the service. `self` names our key. An empty `keys_dir` leaves CURVE off. */
int as_curve_setup(void *zctx, uv_loop_t *loop, const char *keys_dir, const char *self, char *err,
                   size_t errlen) __attribute__((warn_unused_result));
/* Stop the ZAP handler (before the loop closes). */
void as_curve_shutdown(void);
/* Apply the client side of CURVE to a raw socket that will connect to service `peer`. */
int as_curve_client(void *sock, const char *peer, char *err, size_t errlen);
/* Whether the key named `who` (a User-Id) may carry principal `p` (NULL or empty: none):
 * "gateway" any principal but role=service; a service's key none or exactly {role: service,
 * subject: <its name>}; any other key none. 0 when it may, -1 (with a reason in *why) when not.
 * With CURVE off there are no identities and everything passes. */
int as_curve_authorize(const char *who, const As__Principal *p, const char **why);
/* Whether `who` is a service's key (CURVE on). */
int as_curve_is_service(const char *who);
/* Whether the key named `who` may subscribe to / replay `stream`: the services that consume it
 * (as_stream_consumed_by), and test keys granted `reads=` in the allow-list. CURVE off: yes. */
int as_curve_may_read(const char *who, const char *stream);
/* Whether service `service` is declared a consumer of `stream` (curve.c STREAM_CONSUMERS). */
int as_stream_consumed_by(const char *stream, const char *service);

/* ---- helpers ---- */

/* Fill `out` (33 bytes) with a random 128-bit id in hex. */
void as_new_id(char out[33]);
int64_t as_now_ms(void);
/* Look a message type up by its full name ("intake.OpenTicket"); NULL if unknown. */
const ProtobufCMessageDescriptor *as_registry_find(const char *type);
/* Pack `msg` into a malloc'ed buffer. Returns NULL on OOM. */
uint8_t *as_pack(const ProtobufCMessage *msg, size_t *len);

/* ---- command server ---- */

typedef struct as_server as_server_t;
typedef struct as_cmd_ctx as_cmd_ctx_t;

/* A command handler. `req` is the decoded payload (owned by ctx; freed after the reply).
 * It must end, now or later, with exactly one as_cmd_reply*(). */
typedef void (*as_cmd_fn)(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *user_data);

typedef struct as_cmd_def {
    const char *type;                        /* full message name of the request */
    const ProtobufCMessageDescriptor *reply; /* type of the reply body (NULL = none) */
    as_cmd_fn fn;
    const char *sql_fn; /* for as_cmd_sql_default: SQL function name */
} as_cmd_def_t;

typedef struct as_server_stats {
    uint64_t commands, rejected, replayed, overloaded;
    unsigned inflight;
} as_server_stats_t;

as_server_t *as_server_new(uv_loop_t *loop, void *zctx, const char *endpoint, int64_t max_msg,
                           const char *service, char *err, size_t errlen);
/* Register command definitions (the array must outlive the server). */
void as_server_add(as_server_t *s, const as_cmd_def_t *defs, size_t n, void *user_data);
/* Attach the database and relay used by the built-in commands (health, replay) and SQL helpers. */
struct as_relay;
void as_server_attach(as_server_t *s, as_db_t *db, struct as_relay *relay,
                      void (*health)(as_server_t *, As__HealthReply *, void *), void *health_ud);
void as_server_get_stats(const as_server_t *s, as_server_stats_t *out);
/* SQL answering as.MetricsRequest: rows of (name text, labels text, value float8, help text). */
void as_server_set_metrics(as_server_t *s, const char *sql);
/* A second database connection for collection reads (commands whose SQL function is
 * cmd_list_…): each runs alone there, so a heavy list never delays the commands pipelined on
 * the main connection. NULL (the default): everything on the main one. */
void as_server_set_read_db(as_server_t *s, as_db_t *db);
/* as.StatsRequest: the process's own figures, answered without the database (an
 * as.MetricsReply whose metrics carry their Prometheus kind). The server adds the process
 * (memory, CPU, descriptors, uptime, loop lag) and its commands by type; `fn` adds the rest
 * (database round trips, events, outbox) through as_stats_add(). */
typedef struct as_stats as_stats_t;
void as_server_set_stats(as_server_t *s, void (*fn)(as_stats_t *, void *), void *ud);
void as_stats_add(as_stats_t *st, const char *kind, const char *name, const char *labels,
                  double value, const char *help);
void as_server_destroy(as_server_t **s_p);

/* The request's idempotency key: the caller's request id scoped to its CURVE key
 * ("<request id>@<key name>"; the bare id when CURVE is off). */
const char *as_cmd_request_id(const as_cmd_ctx_t *ctx);
/* The name of the CURVE key that sent the request ("" when CURVE is off). */
const char *as_cmd_sender(const as_cmd_ctx_t *ctx);
/* The sender's service name as the envelope claims it (NULL when it gave none). Believe it only
 * when CURVE is off; with CURVE on, as_cmd_sender() is who really sent the request. */
const char *as_cmd_source(const as_cmd_ctx_t *ctx);
/* The principal the request acts for: as sent (already checked against the sender's key), or
 * {role: service, subject: <name>} for a service's key. May be NULL. */
const As__Principal *as_cmd_principal(const as_cmd_ctx_t *ctx);
const as_cmd_def_t *as_cmd_def(const as_cmd_ctx_t *ctx);
as_server_t *as_cmd_server(const as_cmd_ctx_t *ctx);
as_db_t *as_cmd_db(const as_cmd_ctx_t *ctx);

/* Reply and free ctx. `body` (borrowed) must be of the def's reply type, or NULL. */
void as_cmd_reply(as_cmd_ctx_t *ctx, int status, const char *code, const char *message,
                  const ProtobufCMessage *body);
/* Reply 400 "validation" with one entry per offending field. */
void as_cmd_reply_fields(as_cmd_ctx_t *ctx, const char *message, int n, const char *const *fields,
                         const char *const *problems);
/* The same for the problems collected in `e` (ordered by row first): replies and returns 1, or
 * returns 0 without replying when there are none. */
int as_cmd_reject(as_cmd_ctx_t *ctx, as_problems_t *e);
/* Reply 400 "validation" about one field. */
void as_cmd_reply_field(as_cmd_ctx_t *ctx, const char *field, const char *problem);
/* Reply with a JSON body converted to the def's reply type (an error if it does not fit). */
void as_cmd_reply_json(as_cmd_ctx_t *ctx, int status, const json_t *body, int replayed);
void as_cmd_error(as_cmd_ctx_t *ctx, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Run the SQL function `fn(request_id, principal jsonb, args jsonb) returns jsonb` through the
 * schema's exec_command() wrapper (idempotency by request id, reply stored with the effect) and
 * reply with its result: {"status": n, "body": {...}}. Errors raised with SQLSTATE ASnnn become
 * status nnn (MESSAGE = code, DETAIL = text). Takes ownership of `args`. */
void as_cmd_sql(as_cmd_ctx_t *ctx, const char *fn, json_t *args);
/* The same for a read-only report (decision 31): it goes, like every cmd_list_… function, alone
 * on the service's read connection (when it has one) and runs in a READ ONLY transaction, so it
 * never holds up the commands on the main connection and cannot change anything (a write in it
 * fails with SQLSTATE 25006). Its SQL function must answer with "nostore": true. */
void as_cmd_sql_read(as_cmd_ctx_t *ctx, const char *fn, json_t *args);
/* The connection for a read-only query a handler submits itself: the read connection when the
 * service has one, else the main one. The handler's statement must be read-only; run it in a
 * READ ONLY transaction (settlement's read_call() sets it). */
as_db_t *as_cmd_read_db(const as_cmd_ctx_t *ctx);
/* A handler that converts the request to JSON and calls as_cmd_sql(def->sql_fn). */
void as_cmd_sql_default(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *user_data);
/* The same through as_cmd_sql_read: for a read-only report. */
void as_cmd_sql_report(as_cmd_ctx_t *ctx, const ProtobufCMessage *req, void *user_data);
/* The principal as a JSON object (new reference). */
json_t *as_principal_json(const As__Principal *p);

/* ---- command client ---- */

typedef struct as_client as_client_t;
/* `reply` is NULL when no answer arrived before the deadline (status 504, outcome unknown). */
typedef void (*as_client_cb)(int status, const As__Reply *reply, void *user_data);

as_client_t *as_client_new(uv_loop_t *loop, void *zctx, const char *endpoint, int64_t max_msg,
                           const char *service, char *err, size_t errlen);
/* Send a command. `request_id` may be NULL (a fresh one is made); `principal` may be NULL.
 * The same request is resent with back-off until `timeout_ms` passes. Returns 0 or -1 (queue
 * full; cb not called). */
int as_client_call(as_client_t *c, const char *type, const ProtobufCMessage *payload,
                   const char *request_id, const As__Principal *principal, const char *trace_id,
                   unsigned timeout_ms, as_client_cb cb, void *user_data);
/* Same with a pre-packed payload. */
int as_client_call_raw(as_client_t *c, const char *type, const uint8_t *payload, size_t len,
                       const char *request_id, const As__Principal *principal, const char *trace_id,
                       unsigned timeout_ms, as_client_cb cb, void *user_data);
unsigned as_client_pending(const as_client_t *c);
/* 1 when a call with this request id is still waiting for its answer. */
int as_client_has_pending(const as_client_t *c, const char *request_id);
/* Fail every pending call with 503 and free the client. Accepts NULL. */
void as_client_destroy(as_client_t **c_p);

/* ---- event relay (publisher side) ---- */

typedef struct as_relay as_relay_t;
as_relay_t *as_relay_new(uv_loop_t *loop, void *zctx, const char *endpoint, as_db_t *db,
                         const char *stream, const char *service, char *err, size_t errlen);
/* Something was committed: look at the outbox soon. Cheap to call often. */
void as_relay_kick(as_relay_t *r);
uint64_t as_relay_published(const as_relay_t *r);
/* Events this process published since it started (replays served on request not counted). */
uint64_t as_relay_sent(const as_relay_t *r);
/* The last committed sequence seen by the relay (its latest look at the outbox). */
uint64_t as_relay_head(const as_relay_t *r);
void as_relay_destroy(as_relay_t **r_p);

/* ---- event consumer ---- */

typedef struct as_consumer as_consumer_t;
typedef struct as_event {
    as_consumer_t *consumer;
    const char *stream;
    uint64_t sequence;
    const char *type;
    const As__Envelope *env;
    const ProtobufCMessage *msg; /* decoded payload, NULL for unknown types */
    const char *json;            /* payload as JSON text ("{}" for unknown types) */
} as_event_t;

/* Called for each event in order. The handler must end, now or later, with exactly one
 * as_event_commit(). */
typedef void (*as_event_fn)(as_event_t *ev, void *user_data);

/* Apply the effect statements (0..14) and advance the stream position in one transaction. If it
 * fails, the event is delivered again later. */
void as_event_commit(as_event_t *ev, const as_db_stmt_t *stmts, int n);

/* Set-based apply (decision 36): instead of statements of its own, the event gives one item (a
 * JSON value) of a statement shared by the batch. The consumer joins the items of consecutive
 * events that name the same `sql` into a JSON array, in order, and runs `sql` once with $1 = the
 * stream and $2 = that array (e.g. "SELECT on_events($1, $2::jsonb)"), in the batch's
 * transaction after the position advance. Counts as the event's as_event_commit(). */
void as_event_collect(as_event_t *ev, const char *sql, const char *item);

as_consumer_t *as_consumer_new(uv_loop_t *loop, void *zctx, as_db_t *db, const char *stream,
                               const char *pub_endpoint, const char *cmd_endpoint,
                               const char *service, as_event_fn fn, void *user_data, char *err,
                               size_t errlen);
uint64_t as_consumer_applied(const as_consumer_t *c);
/* Events this process applied since it started. */
uint64_t as_consumer_applied_count(const as_consumer_t *c);
/* The relay of the consuming service's own stream, if it publishes one: kicked after every
 * applied batch, since handlers may emit events (otherwise they wait for the relay's poll). */
void as_consumer_set_relay(as_consumer_t *c, as_relay_t *relay);
/* Trigger a catch-up from the publisher now (e.g. tests, operator command). */
void as_consumer_replay(as_consumer_t *c);
void as_consumer_destroy(as_consumer_t **c_p);

#endif
