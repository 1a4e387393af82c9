/* client.c — the caller's side of a command: a DEALER socket, a table of pending requests keyed
 * by request id, resends of the same request with back-off until the deadline, and "outcome
 * unknown" (504) when the deadline passes without an answer. Because the request id is the
 * server's idempotency key, resending is always safe. */
#include "as/bus.h"
#include "as/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <zmq.h>

#define CLIENT_MAX_PENDING 20000
#define CLIENT_TICK_MS     50
#define CLIENT_FIRST_RETRY 500

typedef struct pending {
    char id[128];
    uint8_t *frame;
    size_t len;
    int64_t deadline;
    int64_t next_send;
    unsigned backoff;
    as_client_cb cb;
    void *ud;
    UT_hash_handle hh;
} pending_t;

struct as_client {
    as_zsock_t *zs;
    uv_timer_t timer;
    pending_t *pending;
    unsigned npending;
    char service[32];
    int destroyed;
};

/* Waits are measured on the monotonic clock: a wall clock stepped back or forward must not
 * make a request wait an hour or give up at once. */
static int64_t mono_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

/* The frame to (re)send: the envelope with the budget left now (the receiver's deadline). */
static void pending_refresh_budget(pending_t *p, int64_t now)
{
    As__Envelope *env = as__envelope__unpack(NULL, p->len, p->frame);
    if (!env)
        return;
    int64_t left = p->deadline - now;
    env->has_budget_ms = 1;
    env->budget_ms = left > 0 ? (uint32_t)left : 0;
    size_t len = 0;
    uint8_t *frame = as_pack(&env->base, &len);
    as__envelope__free_unpacked(env, NULL);
    if (!frame)
        return;
    free(p->frame);
    p->frame = frame;
    p->len = len;
}

static void pending_free(pending_t *p)
{
    free(p->frame);
    free(p);
}

static void on_reply(as_zsock_t *zs, const void *const *frames, const size_t *lens, int n, void *ud)
{
    (void)zs;
    as_client_t *c = ud;
    const void *data = frames[n - 1];
    size_t len = lens[n - 1];
    As__Envelope *env = as__envelope__unpack(NULL, len, data);
    if (!env)
        return;
    pending_t *p = NULL;
    if (env->request_id)
        HASH_FIND_STR(c->pending, env->request_id, p);
    if (!p) { /* a late answer to a request we already gave up on, or a duplicate */
        as__envelope__free_unpacked(env, NULL);
        return;
    }
    As__Reply *r =
        env->has_payload ? as__reply__unpack(NULL, env->payload.len, env->payload.data) : NULL;
    HASH_DEL(c->pending, p);
    c->npending--;
    if (r)
        p->cb(r->has_status ? r->status : 200, r, p->ud);
    else
        p->cb(502, NULL, p->ud);
    if (r)
        as__reply__free_unpacked(r, NULL);
    as__envelope__free_unpacked(env, NULL);
    pending_free(p);
}

static void tick(uv_timer_t *t)
{
    as_client_t *c = t->data;
    int64_t now = mono_ms();
    pending_t *p, *tmp;
    HASH_ITER(hh, c->pending, p, tmp)
    {
        if (now >= p->deadline) {
            HASH_DEL(c->pending, p);
            c->npending--;
            p->cb(504, NULL, p->ud);
            pending_free(p);
            continue;
        }
        if (now >= p->next_send) {
            pending_refresh_budget(p, now);
            const void *frames[1] = {p->frame};
            size_t lens[1] = {p->len};
            as_zsock_send(c->zs, frames, lens, 1);
            p->backoff = p->backoff * 2 > 4000 ? 4000 : p->backoff * 2;
            p->next_send = now + p->backoff;
        }
    }
}

as_client_t *as_client_new(uv_loop_t *loop, void *zctx, const char *endpoint, int64_t max_msg,
                           const char *service, char *err, size_t errlen)
{
    as_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->service, sizeof c->service, "%s", service ? service : "");
    c->zs = as_zsock_new(loop, zctx, ZMQ_DEALER, endpoint, 0, max_msg * 4 + 4096, 20000, on_reply,
                         c, err, errlen);
    if (!c->zs) {
        free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, tick, CLIENT_TICK_MS, CLIENT_TICK_MS);
    return c;
}

int as_client_call_raw(as_client_t *c, const char *type, const uint8_t *payload, size_t len,
                       const char *request_id, const As__Principal *principal, const char *trace_id,
                       unsigned timeout_ms, as_client_cb cb, void *user_data)
{
    if (!c || c->npending >= CLIENT_MAX_PENDING)
        return -1; /* no client (a service not configured) or too many calls waiting: refused */
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    if (request_id)
        snprintf(p->id, sizeof p->id, "%s", request_id);
    else
        as_new_id(p->id);
    pending_t *dup = NULL;
    HASH_FIND_STR(c->pending, p->id, dup);
    if (dup) { /* the same id is already on its way: one answer serves one caller */
        free(p);
        return -1;
    }
    int64_t now = mono_ms();
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)type;
    env.request_id = p->id;
    env.principal = (As__Principal *)principal;
    env.trace_id = (char *)trace_id;
    env.source = c->service[0] ? c->service : NULL;
    env.has_deadline_ms = 1; /* informational: the receiver's clock may differ */
    env.deadline_ms = as_now_ms() + timeout_ms;
    env.has_budget_ms = 1;
    env.budget_ms = timeout_ms;
    env.has_payload = 1;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = len;
    p->frame = as_pack(&env.base, &p->len);
    if (!p->frame) {
        free(p);
        return -1;
    }
    p->deadline = now + timeout_ms;
    p->backoff = CLIENT_FIRST_RETRY;
    p->next_send = now + p->backoff;
    p->cb = cb;
    p->ud = user_data;
    HASH_ADD_STR(c->pending, id, p);
    c->npending++;
    const void *frames[1] = {p->frame};
    size_t lens[1] = {p->len};
    as_zsock_send(c->zs, frames, lens, 1);
    return 0;
}

int as_client_call(as_client_t *c, const char *type, const ProtobufCMessage *payload,
                   const char *request_id, const As__Principal *principal, const char *trace_id,
                   unsigned timeout_ms, as_client_cb cb, void *user_data)
{
    size_t len = 0;
    uint8_t *buf = payload ? as_pack(payload, &len) : NULL;
    if (payload && !buf)
        return -1;
    int rc = as_client_call_raw(c, type, buf ? buf : (const uint8_t *)"", len, request_id,
                                principal, trace_id, timeout_ms, cb, user_data);
    free(buf);
    return rc;
}

unsigned as_client_pending(const as_client_t *c)
{
    return c->npending;
}

int as_client_has_pending(const as_client_t *c, const char *request_id)
{
    pending_t *p = NULL;
    HASH_FIND_STR(c->pending, request_id, p);
    return p != NULL;
}

static void client_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void as_client_destroy(as_client_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    as_client_t *c = *c_p;
    *c_p = NULL;
    pending_t *p, *tmp;
    HASH_ITER(hh, c->pending, p, tmp)
    {
        HASH_DEL(c->pending, p);
        p->cb(503, NULL, p->ud);
        pending_free(p);
    }
    as_zsock_destroy(&c->zs);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, client_timer_closed);
}
