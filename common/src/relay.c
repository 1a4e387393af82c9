/* relay.c — the publishing side of events. Rows of the service's outbox (written in the same
 * transaction as the state change, with gap-free per-stream sequence numbers) are read in order,
 * converted to their protobuf type, wrapped in an envelope and published on PUB with the stream
 * name as topic. PUB is only the fast path: the same rows answer as.ReplayRequest, so a consumer
 * that missed anything asks for it by sequence number. */
#include "as/bus.h"
#include "as/log.h"
#include "as/pbjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RELAY_BATCH   500
#define RELAY_POLL_MS 200
#define REPLAY_MAX    1000

struct as_relay {
    uv_loop_t *loop;
    as_zsock_t *pub;
    as_db_t *db;
    uv_timer_t timer;
    char stream[64];
    char service[32];
    uint64_t published;
    uint64_t sent;    /* events this process published (replays not counted) */
    uint64_t head;    /* last committed sequence, as of the latest fetch */
    uint64_t marked;  /* published_seq as last written (or read at start) */
    uint64_t marking; /* the value the fetch in flight writes, 0 when it writes none */
    int loaded, busy, again, closing, want_mark;
    int timer_closed; /* the timer's close callback ran (destroy) */
};

static const char *SQL_FETCH =
    "SELECT seq, type, payload::text, coalesce(request_id, ''), coalesce(trace_id, ''), "
    "(extract(epoch FROM occurred_at) * 1000)::bigint FROM outbox "
    "WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/* Build the packed envelope of outbox row `row` of `res`. Returns NULL (and logs) when the row's
 * payload does not fit its declared type. */
static uint8_t *row_envelope(const PGresult *res, int row, const char *stream, const char *svc,
                             size_t *len)
{
    const char *type = as_db_value(res, row, 1);
    const ProtobufCMessageDescriptor *d = as_registry_find(type);
    uint64_t seq = strtoull(as_db_value(res, row, 0), NULL, 10);
    if (!d) {
        AS_ERROR("outbox row has an unknown type", "stream=%s seq=%" PRIu64 " type=%s", stream, seq,
                 type);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loads(as_db_value(res, row, 2), 0, &jerr);
    ProtobufCMessage *m = NULL;
    char err[256] = "not a JSON object";
    if (!j || as_pbjson_decode(d, j, NULL, &m, err, sizeof err) < 0) {
        AS_ERROR("outbox row does not match its type",
                 "stream=%s seq=%" PRIu64 " type=%s error=\"%s\"", stream, seq, type, err);
        json_decref(j);
        return NULL;
    }
    json_decref(j);
    size_t plen;
    uint8_t *pbuf = as_pack(m, &plen);
    protobuf_c_message_free_unpacked(m, NULL);
    if (!pbuf)
        return NULL;
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)type;
    env.stream = (char *)stream;
    env.has_sequence = 1;
    env.sequence = seq;
    const char *rid = as_db_value(res, row, 3), *tid = as_db_value(res, row, 4);
    env.request_id = *rid ? (char *)rid : NULL;
    env.trace_id = *tid ? (char *)tid : NULL;
    env.has_occurred_at_ms = 1;
    env.occurred_at_ms = strtoll(as_db_value(res, row, 5), NULL, 10);
    env.source = (char *)svc;
    env.has_payload = 1;
    env.payload.data = pbuf;
    env.payload.len = plen;
    uint8_t *ebuf = as_pack(&env.base, len);
    free(pbuf);
    return ebuf;
}

static void relay_fetch(as_relay_t *r);

/* After as_relay_destroy the relay is freed by whichever ends last: its timer's close callback
 * or the database job in flight (the job may finish first when the connection is dropped). */
static int relay_release(as_relay_t *r)
{
    if (!r->closing)
        return 0;
    if (!r->busy && r->timer_closed)
        free(r);
    return 1;
}

static void fetch_done(const as_db_result_t *res, void *ud)
{
    as_relay_t *r = ud;
    r->busy = 0;
    if (relay_release(r))
        return;
    if (!res->ok) {
        AS_DEBUG("relay fetch failed", "stream=%s error=\"%s\"", r->stream, res->message);
        return; /* the timer tries again */
    }
    const PGresult *rows = res->res[1];
    int n = PQntuples(rows);
    r->head = strtoull(as_db_value(res->res[2], 0, 0), NULL, 10);
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *buf = row_envelope(rows, i, r->stream, r->service, &len);
        if (!buf)
            break; /* never skip a sequence number: stop here and shout */
        const void *frames[2] = {r->stream, buf};
        size_t lens[2] = {strlen(r->stream), len};
        as_zsock_send(r->pub, frames, lens, 2);
        free(buf);
        r->sent++;
        r->published = strtoull(as_db_value(rows, i, 0), NULL, 10);
    }
    if (r->marking)
        r->marked = r->marking;
    if (n == RELAY_BATCH || r->again) {
        r->again = 0;
        relay_fetch(r);
    }
}

static void relay_fetch(as_relay_t *r)
{
    if (r->busy || r->closing || !r->loaded) {
        r->again = 1;
        return;
    }
    char pub[24], lim[16];
    snprintf(pub, sizeof pub, "%" PRIu64, r->published);
    snprintf(lim, sizeof lim, "%d", RELAY_BATCH);
    const char *p1[2] = {r->stream, pub};
    const char *p2[3] = {r->stream, pub, lim};
    const char *p3[1] = {r->stream};
    /* Recording the published position is a write (a commit that waits for the WAL flush) on
     * the connection the commands use: only the timer's fetches do it, at most five times a
     * second, not every fetch a command or a consumer batch kicks. A restart resumes from the
     * recorded position (consumers ignore what they already applied). */
    int mark = r->want_mark && r->published > r->marked;
    as_db_stmt_t st[3] = {
        {"UPDATE outbox_streams SET published_seq = $2 WHERE stream = $1 AND published_seq < $2", 2,
         p1},
        {SQL_FETCH, 3, p2},
        {"SELECT last_seq FROM outbox_streams WHERE stream = $1", 1, p3},
    };
    if (!mark)
        st[0] = (as_db_stmt_t){"SELECT 1", 0, NULL};
    r->again = 0;
    if (as_db_submit(r->db, st, 3, fetch_done, r) == 0) {
        r->busy = 1;
        r->marking = mark ? r->published : 0;
        if (mark)
            r->want_mark = 0;
    }
}

static void load_done(const as_db_result_t *res, void *ud)
{
    as_relay_t *r = ud;
    r->busy = 0;
    if (relay_release(r))
        return;
    if (!res->ok)
        return;
    r->published = strtoull(as_db_value(res->res[1], 0, 0), NULL, 10);
    r->marked = r->published;
    r->loaded = 1;
    AS_INFO("relay ready", "stream=%s published=%" PRIu64, r->stream, r->published);
    relay_fetch(r);
}

static void relay_tick(uv_timer_t *t)
{
    as_relay_t *r = t->data;
    r->want_mark = 1; /* this fetch, or the next one if one is in flight, records the position */
    if (r->busy)
        return;
    if (!r->loaded) {
        const char *p[1] = {r->stream};
        as_db_stmt_t st[2] = {
            {"INSERT INTO outbox_streams(stream) VALUES ($1) ON CONFLICT DO NOTHING", 1, p},
            {"SELECT published_seq FROM outbox_streams WHERE stream = $1", 1, p},
        };
        if (as_db_submit(r->db, st, 2, load_done, r) == 0)
            r->busy = 1;
        return;
    }
    relay_fetch(r);
}

as_relay_t *as_relay_new(uv_loop_t *loop, void *zctx, const char *endpoint, as_db_t *db,
                         const char *stream, const char *service, char *err, size_t errlen)
{
    as_relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->loop = loop;
    r->db = db;
    snprintf(r->stream, sizeof r->stream, "%s", stream);
    snprintf(r->service, sizeof r->service, "%s", service);
    r->pub = as_zsock_new(loop, zctx, ZMQ_PUB, endpoint, 1, 0, 100000, NULL, NULL, err, errlen);
    if (!r->pub) {
        free(r);
        return NULL;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, relay_tick, 0, RELAY_POLL_MS);
    return r;
}

void as_relay_kick(as_relay_t *r)
{
    relay_fetch(r);
}

uint64_t as_relay_sent(const as_relay_t *r)
{
    return r->sent;
}

uint64_t as_relay_published(const as_relay_t *r)
{
    return r->published;
}

uint64_t as_relay_head(const as_relay_t *r)
{
    return r->head > r->published ? r->head : r->published;
}

static void relay_timer_closed(uv_handle_t *h)
{
    as_relay_t *r = h->data;
    r->timer_closed = 1;
    relay_release(r);
}

void as_relay_destroy(as_relay_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    as_relay_t *r = *r_p;
    *r_p = NULL;
    r->closing = 1;
    as_zsock_destroy(&r->pub);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, relay_timer_closed);
}

/* ---- replay ---- */

typedef struct replay_req {
    as_cmd_ctx_t *ctx;
    char stream[64];
    char service[32];
} replay_req_t;

static void replay_done(const as_db_result_t *res, void *ud)
{
    replay_req_t *q = ud;
    if (!res->ok) {
        as_cmd_error(q->ctx, 503, "unavailable", "cannot read the outbox: %s", res->message);
        free(q);
        return;
    }
    const PGresult *rows = res->res[0];
    int n = PQntuples(rows);
    As__ReplayBatch b = AS__REPLAY_BATCH__INIT;
    b.stream = q->stream;
    b.has_head = 1;
    b.head = strtoull(as_db_value(res->res[1], 0, 0), NULL, 10);
    b.events = calloc((size_t)(n ? n : 1), sizeof *b.events);
    for (int i = 0; b.events && i < n; i++) {
        size_t len;
        uint8_t *buf = row_envelope(rows, i, q->stream, q->service, &len);
        if (!buf)
            break;
        b.events[b.n_events].data = buf;
        b.events[b.n_events].len = len;
        b.n_events++;
    }
    as_cmd_reply(q->ctx, 200, NULL, NULL, &b.base);
    for (size_t i = 0; i < b.n_events; i++)
        free(b.events[i].data);
    free(b.events);
    free(q);
}

void as_relay_serve_replay(as_relay_t *r, as_cmd_ctx_t *ctx, const As__ReplayRequest *req)
{
    if (!req->stream || strcmp(req->stream, r->stream) != 0) {
        as_cmd_error(ctx, 404, "no_stream", "this service publishes stream '%s' only", r->stream);
        return;
    }
    /* Only the keys that consume the stream may read it back (it carries customers' data). */
    if (!as_curve_may_read(as_cmd_sender(ctx), r->stream)) {
        AS_WARN("replay refused", "stream=%s key=%s", r->stream,
                *as_cmd_sender(ctx) ? as_cmd_sender(ctx) : "-");
        as_cmd_error(ctx, 403, "forbidden", "key '%s' does not consume stream '%s'",
                     as_cmd_sender(ctx), r->stream);
        return;
    }
    replay_req_t *q = calloc(1, sizeof *q);
    if (!q) {
        as_cmd_error(ctx, 503, "overloaded", "out of memory");
        return;
    }
    q->ctx = ctx;
    snprintf(q->stream, sizeof q->stream, "%s", r->stream);
    snprintf(q->service, sizeof q->service, "%s", r->service);
    uint64_t from = req->has_from_sequence && req->from_sequence > 0 ? req->from_sequence : 1;
    unsigned max = req->has_max && req->max > 0 && req->max < REPLAY_MAX ? req->max : REPLAY_MAX;
    char after[24], lim[16];
    snprintf(after, sizeof after, "%" PRIu64, from - 1);
    snprintf(lim, sizeof lim, "%u", max);
    const char *p1[3] = {r->stream, after, lim};
    const char *p2[1] = {r->stream};
    /* The consumer has applied everything before `from`: its position, for pruning
     * (common/sql/011_retention.sql). */
    /* Whose position it is: the CURVE key's name (only consumers' keys get this far), or with
     * CURVE off the service the envelope names. */
    const char *source = *as_cmd_sender(ctx) ? as_cmd_sender(ctx) : as_cmd_source(ctx);
    const char *p3[3] = {r->stream, source ? source : "", after};
    as_db_stmt_t st[3] = {
        {SQL_FETCH, 3, p1},
        {"SELECT coalesce((SELECT last_seq FROM outbox_streams WHERE stream = $1), 0)", 1, p2},
        {"SELECT note_consumer_position($1, $2, $3::bigint)", 3, p3},
    };
    if (as_db_submit(r->db, st, source && *source ? 3 : 2, replay_done, q) < 0) {
        free(q);
        as_cmd_error(ctx, 503, "overloaded", "the service is busy; retry shortly");
    }
}
