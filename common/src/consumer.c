/* consumer.c — applies one stream's events exactly once, in order.
 *
 * Position: consumer_offsets.last_seq in the consumer's own schema, advanced by
 * consumer_advance_range(stream, first, last) as the first statement of the transaction that
 * applies the handlers' effects for first..last. That function refuses unless last_seq =
 * first - 1, so an event is never applied twice nor out of order, even if two copies of this
 * process ran at once.
 *
 * Batching: when several events are queued, their handlers run one after another and every
 * statement they commit synchronously goes into ONE transaction (after one position advance for
 * the whole batch), so a busy stream costs one commit per batch, not per event. A handler that
 * commits later (after its own asynchronous work) ends the batch; the connection runs jobs in
 * order, so order is kept. If a batch fails, the next attempt takes one event at a time.
 *
 * Delivery: events arrive on SUB (fast path) into a bounded in-order queue. A gap, a full queue,
 * start-up, and silence all lead to the same remedy: ask the publisher for "stream S from
 * sequence N" (as.ReplayRequest), which is answered from its outbox. */
#include "as/bus.h"
#include "as/log.h"
#include "as/pbjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define QUEUE_CAP    2048
#define REPLAY_BATCH 500
#define SILENCE_MS   1000
#define RETRY_MS     300
#define APPLY_BATCH  32   /* events per transaction, at most */
#define BATCH_STMTS  240  /* statements per transaction, at most */
#define DEFER_MS     100  /* an ignored event's position is recorded within ~2 of these */
#define DEFER_MAX    1024 /* ... or when this many ignored events wait for it */

typedef struct qitem {
    uint8_t *buf;
    size_t len;
} qitem_t;

struct as_consumer {
    uv_loop_t *loop;
    as_db_t *db;
    as_zsock_t *sub;
    as_client_t *cmd;
    uv_timer_t timer;
    char stream[64];
    char service[32];
    as_event_fn fn;
    void *ud;
    as_relay_t *relay;   /* the service's own publisher, kicked after each applied batch */
    uint64_t applied;    /* last sequence committed */
    uint64_t applied_n;  /* events this process applied (committed positions) */
    uint64_t dispatched; /* last sequence handed to a handler (>= applied) */
    unsigned jobs;       /* apply transactions in flight */
    int solo;            /* after a failed batch: one event per transaction */
    int collecting;      /* inside pump(): synchronous commits join the batch */
    int async_pending;   /* a handler will commit later: wait for it before pumping again */
    as_db_stmt_t bstmt[BATCH_STMTS];
    char **bstore; /* owned copies of the batch's SQL and parameters */
    size_t bstore_n, bstore_cap;
    int bn;     /* statements in the batch */
    char *coll; /* as_event_collect(): the items gathered so far, "[a,b" (NULL: none) */
    size_t coll_len, coll_cap;
    const char *coll_sql;   /* ... and the statement they are for */
    int broken;             /* an event's effects could not be kept (out of memory): the batch
                               must not commit; it is dropped and its events go again */
    uint64_t bfirst, blast; /* sequences the batch covers */
    uint64_t known_head;    /* highest sequence we know exists */
    qitem_t q[QUEUE_CAP];   /* q[k] holds sequence applied + 1 + k */
    unsigned qhead, qlen;
    int loaded, loading, busy, replaying, closing, refs;
    int64_t last_activity, retry_at;
    /* Events after `applied` up to here were dispatched, their handlers gave no statement, and
     * their position is not recorded yet (0: none). See batch_submit(). */
    uint64_t deferred_last;
    int64_t deferred_since;
    int may_defer; /* set only around the end of a pump */
};

typedef struct ev_holder {
    as_event_t ev;
    As__Envelope *env;
    ProtobufCMessage *msg;
    char *json;
    uint64_t seq;
    int committed;
} ev_holder_t;

/* What one apply transaction covers. */
typedef struct apply_job {
    as_consumer_t *c;
    uint64_t first, last;
    unsigned count;
    int effects; /* the handlers gave statements: they may have emitted events */
} apply_job_t;

static void pump(as_consumer_t *c);
static void batch_reset(as_consumer_t *c);
static void request_replay(as_consumer_t *c);

static void consumer_unref(as_consumer_t *c)
{
    if (--c->refs == 0) {
        for (unsigned k = 0; k < c->qlen; k++)
            free(c->q[(c->qhead + k) % QUEUE_CAP].buf);
        batch_reset(c);
        free(c->bstore);
        free(c);
    }
}

static void queue_clear(as_consumer_t *c)
{
    for (unsigned k = 0; k < c->qlen; k++)
        free(c->q[(c->qhead + k) % QUEUE_CAP].buf);
    c->qhead = c->qlen = 0;
    c->deferred_last = 0;
}

/* Append the packed envelope of sequence `seq` if it is the next one we lack. */
static void enqueue(as_consumer_t *c, uint64_t seq, const void *buf, size_t len)
{
    if (seq > c->known_head)
        c->known_head = seq;
    if (seq != c->applied + 1 + c->qlen || c->qlen >= QUEUE_CAP)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, buf, len);
    qitem_t *it = &c->q[(c->qhead + c->qlen) % QUEUE_CAP];
    it->buf = copy;
    it->len = len;
    c->qlen++;
}

static void on_pub(as_zsock_t *zs, const void *const *frames, const size_t *lens, int n, void *ud)
{
    (void)zs;
    as_consumer_t *c = ud;
    if (n != 2 || c->closing)
        return;
    As__Envelope *env = as__envelope__unpack(NULL, lens[1], frames[1]);
    if (!env)
        return;
    c->last_activity = as_now_ms();
    if (c->loaded && env->stream && strcmp(env->stream, c->stream) == 0 && env->has_sequence) {
        enqueue(c, env->sequence, frames[1], lens[1]);
        if (c->known_head > c->applied + c->qlen)
            request_replay(c);
        pump(c);
    }
    as__envelope__free_unpacked(env, NULL);
}

static void holder_free(ev_holder_t *h)
{
    if (h->msg)
        protobuf_c_message_free_unpacked(h->msg, NULL);
    if (h->env)
        as__envelope__free_unpacked(h->env, NULL);
    free(h->json);
    free(h);
}

static void reload_offset(as_consumer_t *c);

/* Make the batch own `ptr` (freed when the batch is reset). Returns ptr, or NULL (and frees
 * it) when out of memory. */
static void *bown(as_consumer_t *c, void *ptr)
{
    if (!ptr)
        return NULL;
    if (c->bstore_n == c->bstore_cap) {
        size_t cap = c->bstore_cap ? c->bstore_cap * 2 : 256;
        char **n = realloc(c->bstore, cap * sizeof *n);
        if (!n) {
            free(ptr);
            return NULL;
        }
        c->bstore = n;
        c->bstore_cap = cap;
    }
    c->bstore[c->bstore_n++] = ptr;
    return ptr;
}

/* A copy of `v` owned by the batch. */
static const char *bkeep(as_consumer_t *c, const char *v)
{
    return v ? bown(c, strdup(v)) : NULL;
}

static void batch_reset(as_consumer_t *c)
{
    for (size_t i = 0; i < c->bstore_n; i++)
        free(c->bstore[i]);
    c->bstore_n = 0;
    c->bn = 0;
    c->bfirst = c->blast = 0;
    free(c->coll);
    c->coll = NULL;
    c->coll_len = c->coll_cap = 0;
    c->coll_sql = NULL;
    c->broken = 0;
}

/* The collected items become their statement (the array closed), after what is in the batch
 * already, so statements stay in the order of their events. Returns -1 when out of memory. */
static int coll_flush(as_consumer_t *c)
{
    if (!c->coll)
        return 0;
    char *arr = c->coll;
    c->coll = NULL;
    arr[c->coll_len] = ']'; /* coll_add keeps room for "]" and the NUL */
    arr[c->coll_len + 1] = '\0';
    c->coll_len = c->coll_cap = 0;
    const char *sql = c->coll_sql;
    c->coll_sql = NULL;
    const char **pp = bown(c, calloc(2, sizeof *pp));
    if (!pp || !bown(c, arr)) {
        if (!pp)
            free(arr);
        c->broken = 1;
        return -1;
    }
    pp[0] = bkeep(c, c->stream);
    pp[1] = arr;
    if (!pp[0]) {
        c->broken = 1;
        return -1;
    }
    if (c->bn == 0)
        c->bn = 1; /* slot 0: the position advance */
    c->bstmt[c->bn++] = (as_db_stmt_t){sql, 2, (const char *const *)pp};
    return 0;
}

/* Append one item to the collection for `sql` (a new collection when `sql` differs). */
static int coll_add(as_consumer_t *c, const char *sql, const char *item)
{
    if (c->coll && strcmp(c->coll_sql, sql) != 0 && coll_flush(c) < 0)
        return -1;
    size_t n = strlen(item);
    size_t need = c->coll_len + 1 + n + 2; /* separator, item, "]" and NUL */
    if (need > c->coll_cap) {
        size_t cap = c->coll_cap ? c->coll_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *b = realloc(c->coll, cap);
        if (!b) {
            c->broken = 1;
            return -1;
        }
        c->coll = b;
        c->coll_cap = cap;
    }
    char sep = c->coll_len == 0 ? '[' : ',';
    c->coll[c->coll_len++] = sep;
    memcpy(c->coll + c->coll_len, item, n);
    c->coll_len += n;
    if (!c->coll_sql && !(c->coll_sql = bkeep(c, sql))) {
        c->broken = 1;
        return -1;
    }
    return 0;
}

static void apply_done(const as_db_result_t *r, void *ud)
{
    apply_job_t *j = ud;
    as_consumer_t *c = j->c;
    c->jobs--;
    if (c->closing) {
        free(j);
        consumer_unref(c);
        return;
    }
    if (r->ok && j->first == c->applied + 1) {
        for (uint64_t s = j->first; s <= j->last; s++) {
            free(c->q[c->qhead].buf);
            c->qhead = (c->qhead + 1) % QUEUE_CAP;
            c->qlen--;
        }
        c->applied_n += j->last - j->first + 1;
        c->applied = j->last;
        c->solo = 0;
        if (c->relay && j->effects)
            as_relay_kick(c->relay); /* what the handlers emitted goes out now */
        AS_DEBUG("events applied", "stream=%s first=%" PRIu64 " last=%" PRIu64, c->stream, j->first,
                 j->last);
    } else if (!r->ok && strcmp(r->sqlstate, "AS409") == 0 && j->first == c->applied + 1) {
        AS_WARN("stream position moved under us; reloading", "stream=%s seq=%" PRIu64, c->stream,
                j->first);
        queue_clear(c);
        c->loaded = 0;
    } else if (!r->ok) {
        if (j->first == c->applied + 1) /* later jobs fail on the position guard: quiet */
            AS_WARN("events not applied; will retry",
                    "stream=%s first=%" PRIu64 " last=%" PRIu64 " sqlstate=%s error=\"%s\"",
                    c->stream, j->first, j->last, r->sqlstate, r->message);
        c->solo = j->count > 1 || c->solo;
        c->retry_at = as_now_ms() + RETRY_MS;
    }
    if (c->jobs == 0)
        c->dispatched = c->applied; /* whatever was not applied is dispatched again */
    free(j);
    consumer_unref(c);
    if (c->jobs > 0 || c->async_pending)
        return;
    c->busy = 0;
    if (!c->loaded)
        reload_offset(c);
    else
        pump(c);
}

/* Submit the collected batch as one transaction. */
static void batch_submit(as_consumer_t *c)
{
    coll_flush(c);
    if (c->broken) { /* out of memory: nothing of it commits; the timer retries */
        c->broken = 0;
        batch_reset(c);
        c->retry_at = as_now_ms() + RETRY_MS;
        c->dispatched = c->applied;
        return;
    }
    if (c->bn == 0)
        return;
    /* Events whose handlers gave no statement (most consumers ignore most types) need only
     * their position recorded, and that can wait: a crash before it is recorded delivers them
     * again, and they are ignored again. So a pump whose batch is only the position, with
     * nothing in flight, leaves it in memory; the next batch with effects, or the timer after
     * DEFER_MS, records it. At a trickle of events this saves a commit (and its WAL flush) per
     * event in every consumer that ignores them. */
    uint64_t from = c->deferred_last ? c->applied + 1 : c->bfirst;
    if (c->bn == 1 && c->may_defer && c->jobs == 0 && !c->closing &&
        c->blast - from + 1 < DEFER_MAX) {
        if (!c->deferred_last)
            c->deferred_since = as_now_ms();
        c->deferred_last = c->blast;
        batch_reset(c);
        return;
    }
    c->deferred_last = 0;
    c->bfirst = from;
    /* The position goes first: a batch that is not next fails before any effect runs. */
    char first[24], last[24];
    snprintf(first, sizeof first, "%" PRIu64, c->bfirst);
    snprintf(last, sizeof last, "%" PRIu64, c->blast);
    const char **p = bown(c, malloc(3 * sizeof *p));
    if (p) {
        p[0] = bkeep(c, c->stream);
        p[1] = bkeep(c, first);
        p[2] = bkeep(c, last);
    }
    if (!p || !p[0] || !p[1] || !p[2]) { /* out of memory: let the timer retry */
        batch_reset(c);
        c->retry_at = as_now_ms() + RETRY_MS;
        c->dispatched = c->applied;
        return;
    }
    c->bstmt[0] = (as_db_stmt_t){"SELECT consumer_advance_range($1, $2::bigint, $3::bigint)", 3,
                                 (const char *const *)p};
    apply_job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->c = c;
        j->first = c->bfirst;
        j->last = c->blast;
        j->count = (unsigned)(c->blast - c->bfirst + 1);
        j->effects = c->bn > 1; /* slot 0 is the position */
    }
    if (!j || as_db_submit(c->db, c->bstmt, c->bn, apply_done, j) < 0) {
        free(j);
        c->retry_at = as_now_ms() + RETRY_MS;
        c->dispatched = c->applied;
    } else {
        c->jobs++;
        c->refs++;
    }
    batch_reset(c);
}

static void event_commit(as_event_t *ev, const as_db_stmt_t *stmts, int n, int fresh);

void as_event_commit(as_event_t *ev, const as_db_stmt_t *stmts, int n)
{
    event_commit(ev, stmts, n, 1);
}

/* fresh: a late (asynchronous) commit starts its own batch (as_event_collect did that itself) */
static void event_commit(as_event_t *ev, const as_db_stmt_t *stmts, int n, int fresh)
{
    ev_holder_t *h = (ev_holder_t *)ev;
    as_consumer_t *c = ev->consumer;
    if (h->committed)
        return; /* exactly once */
    h->committed = 1;
    if (n < 0)
        n = 0;
    if (!c->collecting && fresh)
        batch_reset(c); /* a late (asynchronous) commit goes alone */
    /* The event's trace goes with its effects: the outbox rows they emit record it (the
     * transaction-local as.trace_id, see common/sql/210_traces.sql), and the log line names it. */
    char trace[64];
    size_t tn = 0;
    for (const char *t = ev->env && ev->env->trace_id ? ev->env->trace_id : "";
         *t && tn + 1 < sizeof trace; t++)
        if (isalnum((unsigned char)*t) || *t == '-' || *t == '_')
            trace[tn++] = *t;
    trace[tn] = '\0';
    int with_trace = n > 0;
    if (n > 0 || !fresh) /* !fresh: collected (as_event_collect), its effect is in the batch's */
        AS_INFO("event applied", "stream=%s seq=%" PRIu64 " type=%s trace=%s effects=%d",
                ev->stream, h->seq, ev->type ? ev->type : "?", tn ? trace : "-", n ? n : 1);
    if (n > 0 && c->coll) { /* what was collected before goes before these statements */
        if (c->bn + 1 >= BATCH_STMTS)
            batch_submit(c);
        else
            coll_flush(c);
    }
    if (c->bn + n + with_trace > BATCH_STMTS)
        batch_submit(c);
    if (c->bn == 0)
        c->bn = 1; /* slot 0: the position advance for the whole batch, filled in at submit */
    if (with_trace && c->bn < BATCH_STMTS) {
        const char **pp = bown(c, calloc(1, sizeof *pp));
        if (pp)
            pp[0] = bkeep(c, trace);
        if (pp && pp[0])
            c->bstmt[c->bn++] = (as_db_stmt_t){"SELECT set_config('as.trace_id', $1, true)", 1,
                                               (const char *const *)pp};
    }
    for (int i = 0; i < n && c->bn < BATCH_STMTS; i++) {
        int np = stmts[i].nparams;
        const char **pp = np ? bown(c, calloc((size_t)np, sizeof *pp)) : NULL;
        for (int k = 0; pp && k < np; k++)
            pp[k] = bkeep(c, stmts[i].params[k]);
        c->bstmt[c->bn++] =
            (as_db_stmt_t){bkeep(c, stmts[i].sql), pp ? np : 0, (const char *const *)pp};
    }
    if (!c->bfirst)
        c->bfirst = h->seq;
    c->blast = h->seq;
    if (!c->collecting) {
        c->async_pending = 0;
        batch_submit(c);
        holder_free(h);
        consumer_unref(c);
        if (c->jobs == 0) { /* nothing could be submitted: let the timer retry */
            c->busy = 0;
            c->dispatched = c->applied;
        }
    }
}

void as_event_collect(as_event_t *ev, const char *sql, const char *item)
{
    ev_holder_t *h = (ev_holder_t *)ev;
    as_consumer_t *c = ev->consumer;
    if (h->committed)
        return; /* exactly once */
    if (!c->collecting)
        batch_reset(c);           /* a late (asynchronous) commit goes alone */
    if (c->bn + 1 >= BATCH_STMTS) /* room for the collection's statement */
        batch_submit(c);
    if (c->bn == 0)
        c->bn = 1;          /* slot 0: the position advance */
    coll_add(c, sql, item); /* out of memory: marks the batch broken (see batch_submit) */
    event_commit(ev, NULL, 0, 0);
}

/* Hand queued events to the handler, from the first not yet dispatched, and commit what they
 * give synchronously as one transaction. */
static void pump(as_consumer_t *c)
{
    if (c->busy || !c->loaded || c->closing || c->qlen == 0)
        return;
    if (c->retry_at && as_now_ms() < c->retry_at)
        return;
    c->retry_at = 0;
    c->dispatched = c->deferred_last ? c->deferred_last : c->applied;
    unsigned max = c->solo ? 1 : APPLY_BATCH;
    unsigned k0 = (unsigned)(c->dispatched - c->applied);
    c->busy = 1;
    c->collecting = 1;
    batch_reset(c);
    for (unsigned k = k0; k < c->qlen && k - k0 < max; k++) {
        qitem_t *it = &c->q[(c->qhead + k) % QUEUE_CAP];
        ev_holder_t *h = calloc(1, sizeof *h);
        if (!h)
            break;
        h->env = as__envelope__unpack(NULL, it->len, it->buf);
        if (!h->env) {
            free(h);
            break;
        }
        h->seq = h->env->sequence;
        const ProtobufCMessageDescriptor *d = h->env->type ? as_registry_find(h->env->type) : NULL;
        if (d && h->env->has_payload)
            h->msg = protobuf_c_message_unpack(d, NULL, h->env->payload.len, h->env->payload.data);
        h->json = h->msg ? as_pbjson_encode_string(h->msg) : strdup("{}");
        h->ev.consumer = c;
        h->ev.stream = c->stream;
        h->ev.sequence = h->seq;
        h->ev.type = h->env->type ? h->env->type : "";
        h->ev.env = h->env;
        h->ev.msg = h->msg;
        h->ev.json = h->json ? h->json : "{}";
        c->dispatched = h->seq;
        c->refs++;
        c->fn(&h->ev, c->ud);
        if (!h->committed) {
            /* Asynchronous handler: what came before goes now, this event commits later
             * (the connection keeps the order). */
            c->collecting = 0;
            c->async_pending = 1;
            batch_submit(c);
            return;
        }
        holder_free(h);
        consumer_unref(c);
    }
    c->collecting = 0;
    c->may_defer = 1;
    batch_submit(c);
    c->may_defer = 0;
    if (c->jobs == 0)
        c->busy = 0;
}

static void replay_done(int status, const As__Reply *reply, void *ud)
{
    as_consumer_t *c = ud;
    c->replaying = 0;
    if (c->closing) {
        consumer_unref(c);
        return;
    }
    consumer_unref(c);
    if (status != 200 || !reply || !reply->has_body) {
        AS_DEBUG("replay failed", "stream=%s status=%d", c->stream, status);
        return;
    }
    As__ReplayBatch *b = as__replay_batch__unpack(NULL, reply->body.len, reply->body.data);
    if (!b)
        return;
    c->last_activity = as_now_ms();
    if (b->has_head && b->head > c->known_head)
        c->known_head = b->head;
    for (size_t i = 0; i < b->n_events; i++) {
        As__Envelope *env = as__envelope__unpack(NULL, b->events[i].len, b->events[i].data);
        if (!env)
            break;
        enqueue(c, env->sequence, b->events[i].data, b->events[i].len);
        as__envelope__free_unpacked(env, NULL);
    }
    as__replay_batch__free_unpacked(b, NULL);
    pump(c);
}

static void request_replay(as_consumer_t *c)
{
    if (c->replaying || !c->loaded || c->closing || c->qlen >= QUEUE_CAP - REPLAY_BATCH)
        return;
    As__ReplayRequest rq = AS__REPLAY_REQUEST__INIT;
    rq.stream = c->stream;
    rq.has_from_sequence = 1;
    rq.from_sequence = c->applied + c->qlen + 1;
    rq.has_max = 1;
    rq.max = REPLAY_BATCH;
    if (as_client_call(c->cmd, "as.ReplayRequest", &rq.base, NULL, NULL, NULL, 3000, replay_done,
                       c) == 0) {
        c->replaying = 1;
        c->refs++;
    }
}

static void offset_loaded(const as_db_result_t *r, void *ud)
{
    as_consumer_t *c = ud;
    c->loading = 0;
    if (c->closing) {
        consumer_unref(c);
        return;
    }
    consumer_unref(c);
    if (!r->ok)
        return;
    c->applied = strtoull(as_db_value(r->res[1], 0, 0), NULL, 10);
    c->loaded = 1;
    AS_INFO("consumer ready", "stream=%s applied=%" PRIu64, c->stream, c->applied);
    request_replay(c);
}

static void reload_offset(as_consumer_t *c)
{
    if (c->loading || c->closing)
        return;
    const char *p[1] = {c->stream};
    as_db_stmt_t st[2] = {
        {"INSERT INTO consumer_offsets(stream) VALUES ($1) ON CONFLICT DO NOTHING", 1, p},
        {"SELECT last_seq FROM consumer_offsets WHERE stream = $1", 1, p},
    };
    if (as_db_submit(c->db, st, 2, offset_loaded, c) == 0) {
        c->loading = 1;
        c->refs++;
    }
}

static void tick(uv_timer_t *t)
{
    as_consumer_t *c = t->data;
    if (!c->loaded) {
        reload_offset(c);
        return;
    }
    pump(c);
    int64_t now = as_now_ms();
    if (c->deferred_last && !c->busy && !c->closing && now - c->deferred_since >= DEFER_MS) {
        /* Record the position of the ignored events that waited (see batch_submit). */
        batch_reset(c);
        c->bn = 1;
        c->bfirst = c->blast = c->deferred_last;
        c->busy = 1;
        batch_submit(c);
        if (c->jobs == 0)
            c->busy = 0;
    }
    int behind = c->known_head > c->applied + c->qlen;
    if (!c->busy && (behind || (c->qlen == 0 && now - c->last_activity >= SILENCE_MS))) {
        c->last_activity = now;
        request_replay(c);
    }
}

as_consumer_t *as_consumer_new(uv_loop_t *loop, void *zctx, as_db_t *db, const char *stream,
                               const char *pub_endpoint, const char *cmd_endpoint,
                               const char *service, as_event_fn fn, void *user_data, char *err,
                               size_t errlen)
{
    as_consumer_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->db = db;
    c->fn = fn;
    c->ud = user_data;
    c->refs = 1;
    snprintf(c->stream, sizeof c->stream, "%s", stream);
    snprintf(c->service, sizeof c->service, "%s", service);
    c->sub = as_zsock_new(loop, zctx, ZMQ_SUB, pub_endpoint, 0, 0, 100000, on_pub, c, err, errlen);
    if (!c->sub) {
        free(c);
        return NULL;
    }
    zmq_setsockopt(as_zsock_raw(c->sub), ZMQ_SUBSCRIBE, c->stream, strlen(c->stream));
    c->cmd = as_client_new(loop, zctx, cmd_endpoint, 16 << 20, service, err, errlen);
    if (!c->cmd) {
        as_zsock_destroy(&c->sub);
        free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, tick, 0, 100);
    return c;
}

void as_consumer_set_relay(as_consumer_t *c, as_relay_t *relay)
{
    if (c)
        c->relay = relay;
}

uint64_t as_consumer_applied_count(const as_consumer_t *c)
{
    return c->applied_n;
}

uint64_t as_consumer_applied(const as_consumer_t *c)
{
    return c->applied;
}

void as_consumer_replay(as_consumer_t *c)
{
    request_replay(c);
}

static void consumer_timer_closed(uv_handle_t *h)
{
    consumer_unref(h->data);
}

void as_consumer_destroy(as_consumer_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    as_consumer_t *c = *c_p;
    *c_p = NULL;
    c->closing = 1;
    as_zsock_destroy(&c->sub);
    as_client_destroy(&c->cmd); /* fails a pending replay: replay_done drops its reference */
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, consumer_timer_closed);
}
