/* load.c — the engine of as-bench: requests in flight, the three kinds of phase, journeys,
 * and settling between phases. Everything runs on one zmq_poll loop (see bench.h). */
#include "bench.h"

#include "as/bus.h"
#include "as/service.h"
#include "intake.pb-c.h"
#include "../integration/curve_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_DEALERS    32
#define REQ_CAP        65536         /* requests in flight, at most */
#define REQ_TIMEOUT    15000000000LL /* no answer after 15 s: a timeout */
#define JOURNEY_LIMIT  60000000000LL /* a journey not finished after 60 s is abandoned */
#define DRAIN_LIMIT    20000000000LL /* after a phase, wait at most 20 s for answers */
#define DIAG_RETRY_NS  5000000LL     /* Diagnose refused with 409: try again after 5 ms, */
#define DIAG_RETRY_MAX 50000000LL    /* doubling up to 50 ms */

const char *const step_names[N_STEPS] = {
    "open (reply 201)",
    "warranty decision (after open)",
    "diagnose (incl. retries)",
    "complete repair",
    "hand-back",
    "settlement.Charged (after repair)",
    "callback event (after hand-back)",
};

enum { K_OPEN, K_DIAG, K_COMPLETE, K_HANDBACK };
enum { EV_DECIDED, EV_CHARGED, EV_CALLBACK, N_EV };
enum { S_OPEN, S_DECIDE, S_DIAG, S_DIAG_WAIT, S_COMPLETE, S_HANDBACK, S_FINAL };

typedef struct req {
    char rid[33];
    uint8_t kind, via, used;
    int32_t journey;
    uint32_t gen; /* the journey's generation when sent */
    int64_t t_sched, t_sent;
} req_t;

typedef struct journey {
    int active, step;
    uint32_t gen; /* bumped at every start: late answers to an abandoned journey are dropped */
    char ticket[40];
    int64_t t_open, t_opened, t_decided, t_diagnosed, t_completed, t_handed;
    int64_t t_ev[N_EV];
    int64_t t_retry, retry_wait;
} journey_t;

struct bench {
    bench_opts_t o;
    void *zctx;
    void *dealers[MAX_DEALERS];
    int nd, rr;
    void *health[5];
    void *subs[3];
    hclient_t *hc;
    As__Principal principal;
    char http_head[1024];

    req_t *req;
    int *freel;
    int nfree;
    hmap_t rid;
    int inflight;

    journey_t *j;
    int nj;
    hmap_t tick;
    hmap_t early[N_EV];
    char **closed;
    size_t nclosed, capclosed;
    int has_callback;
    const char *ev_types[N_EV];

    /* the phase under way */
    const phase_cfg_t *cfg;
    phase_res_t *res;
    int64_t t_start, t_warm, t_end;
    int running; /* journeys: start new ones */

    uint64_t imei_base, imei_seq;
    char invoice_date[16];
};

/* ---- the ticket's facts ---- */

/* A valid IMEI: 14 digits followed by the Luhn check digit. */
static void make_imei(uint64_t body14, char out[16])
{
    snprintf(out, 16, "%014llu", (unsigned long long)(body14 % 100000000000000ULL));
    as_imei_finish(out);
}

static void next_imei(bench_t *b, char out[16])
{
    make_imei(b->imei_base + b->imei_seq++, out);
}

/* ---- requests ---- */

static int req_alloc(bench_t *b, int kind, int via, int journey, int64_t t_sched)
{
    if (b->nfree == 0)
        return -1;
    int s = b->freel[--b->nfree];
    req_t *r = &b->req[s];
    as_new_id(r->rid);
    r->kind = (uint8_t)kind;
    r->via = (uint8_t)via;
    r->used = 1;
    r->journey = journey;
    r->gen = journey >= 0 ? b->j[journey].gen : 0;
    r->t_sched = t_sched;
    r->t_sent = bench_now_ns();
    if (hm_put(&b->rid, r->rid, s) < 0) {
        r->used = 0;
        b->freel[b->nfree++] = s;
        return -1;
    }
    b->inflight++;
    return s;
}

static void req_free(bench_t *b, int s)
{
    req_t *r = &b->req[s];
    if (!r->used)
        return;
    hm_del(&b->rid, r->rid);
    r->used = 0;
    b->freel[b->nfree++] = s;
    b->inflight--;
}

static int send_envelope(bench_t *b, int slot, const char *type, const ProtobufCMessage *msg)
{
    static uint8_t pbuf[8192], ebuf[9216];
    size_t plen = protobuf_c_message_get_packed_size(msg);
    if (plen > sizeof pbuf)
        return -1;
    protobuf_c_message_pack(msg, pbuf);
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)type;
    env.request_id = b->req[slot].rid;
    env.principal = &b->principal;
    env.has_deadline_ms = 1;
    env.deadline_ms = as_now_ms() + 30000;
    env.source = (char *)"bench";
    env.has_payload = 1;
    env.payload.data = pbuf;
    env.payload.len = plen;
    size_t elen = as__envelope__get_packed_size(&env);
    if (elen > sizeof ebuf)
        return -1;
    as__envelope__pack(&env, ebuf);
    void *sock = b->dealers[b->rr++ % b->nd];
    return zmq_send(sock, ebuf, elen, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static int send_open(bench_t *b, int via, int journey, int64_t t_sched)
{
    int s = req_alloc(b, K_OPEN, via, journey, t_sched);
    if (s < 0)
        return -1;
    char imei[16];
    next_imei(b, imei);
    int rc;
    if (via == VIA_ZMQ) {
        Intake__OpenTicket t = INTAKE__OPEN_TICKET__INIT;
        Intake__Customer c = INTAKE__CUSTOMER__INIT;
        Intake__Device d = INTAKE__DEVICE__INIT;
        Intake__Purchase p = INTAKE__PURCHASE__INIT;
        Intake__Fault f = INTAKE__FAULT__INIT;
        c.name = (char *)"Bench Customer";
        c.phone = (char *)"13800001234";
        d.category = (char *)"phone_host";
        d.brand = (char *)"Huaxin";
        d.model = (char *)"HX-10";
        d.imei = imei;
        p.invoice_date = b->invoice_date;
        p.has_price_cents = 1;
        p.price_cents = 299900;
        p.has_invoice = p.has_warranty_card = 1;
        p.invoice = p.warranty_card = 1;
        f.code = (char *)"NO_POWER";
        f.description = (char *)"will not power on";
        f.has_listed = 1;
        f.listed = 1;
        t.center = (char *)b->o.center;
        t.customer = &c;
        t.device = &d;
        t.purchase = &p;
        t.fault = &f;
        t.request = (char *)"repair";
        rc = send_envelope(b, s, "intake.OpenTicket", &t.base);
    } else {
        char body[600], msg[2048];
        int bl = snprintf(body, sizeof body,
                          "{\"customer\":{\"name\":\"Bench Customer\",\"phone\":\"13800001234\"},"
                          "\"device\":{\"category\":\"phone_host\",\"brand\":\"Huaxin\","
                          "\"model\":\"HX-10\",\"imei\":\"%s\"},"
                          "\"purchase\":{\"invoice_date\":\"%s\",\"price_cents\":299900,"
                          "\"invoice\":true,\"warranty_card\":true},"
                          "\"fault\":{\"code\":\"NO_POWER\",\"description\":\"will not power "
                          "on\",\"listed\":true},\"request\":\"repair\"}",
                          imei, b->invoice_date);
        int ml = snprintf(msg, sizeof msg,
                          "POST /v1/tickets HTTP/1.1\r\n%sIdempotency-Key: %s\r\n"
                          "Content-Length: %d\r\n\r\n%s",
                          b->http_head, b->req[s].rid, bl, body);
        rc = hc_send(b->hc, s, msg, (size_t)ml);
    }
    if (rc < 0) {
        req_free(b, s);
        return -1;
    }
    return s;
}

static int send_step(bench_t *b, int ji, int kind)
{
    journey_t *j = &b->j[ji];
    int s = req_alloc(b, kind, VIA_ZMQ, ji, bench_now_ns());
    if (s < 0)
        return -1;
    int rc;
    if (kind == K_DIAG) {
        Intake__Diagnose m = INTAKE__DIAGNOSE__INIT;
        m.id = j->ticket;
        m.fault_code = (char *)"NO_POWER";
        m.labour_code = (char *)"L-BOARD";
        rc = send_envelope(b, s, "intake.Diagnose", &m.base);
    } else if (kind == K_COMPLETE) {
        Intake__CompleteRepair m = INTAKE__COMPLETE_REPAIR__INIT;
        m.id = j->ticket;
        m.has_labour_minutes = 1;
        m.labour_minutes = 30;
        m.labour_code = (char *)"L-BOARD";
        m.cause = (char *)"manufacturing_quality";
        rc = send_envelope(b, s, "intake.CompleteRepair", &m.base);
    } else {
        Intake__Handback m = INTAKE__HANDBACK__INIT;
        m.id = j->ticket;
        m.note = (char *)"handed back (benchmark)";
        rc = send_envelope(b, s, "intake.Handback", &m.base);
    }
    if (rc < 0) {
        req_free(b, s);
        return -1;
    }
    return s;
}

/* ---- accounting ---- */

static int in_window(const bench_t *b, int64_t t)
{
    return t >= b->t_warm && t < b->t_end;
}

static void count_status(phase_res_t *r, int status, const char *detail)
{
    int k = status >= 200 && status < 300   ? 0
            : status == 400                 ? 1
            : status == 404                 ? 2
            : status == 409                 ? 3
            : status >= 400 && status < 500 ? 4
            : status == 503                 ? 5
            : status == 504                 ? 6
                                            : 7;
    r->status_count[k]++;
    if (k != 0 && !r->first_error[0])
        snprintf(r->first_error, sizeof r->first_error, "%d %s", status, detail ? detail : "");
}

/* A simple request (closed or open loop) answered: count it. Latency is measured from the
 * scheduled instant in the open loop (so it includes any queueing), from the send otherwise. */
static void simple_done(bench_t *b, req_t *r, int status, const char *detail)
{
    phase_res_t *res = b->res;
    int64_t now = bench_now_ns();
    if (status >= 200 && status < 300 && in_window(b, now))
        res->ok_arrived++;
    int counted = b->cfg->mode == MODE_OPEN ? in_window(b, r->t_sched) : in_window(b, now);
    if (!counted)
        return;
    count_status(res, status, detail);
    if (status >= 200 && status < 300) {
        res->ok++;
        lat_add(&res->lat, now - (b->cfg->mode == MODE_OPEN ? r->t_sched : r->t_sent));
    } else {
        res->errors++; /* an error reply, or 0: the HTTP connection failed */
    }
}

/* ---- journeys ---- */

static void journey_start(bench_t *b, int ji);

static void journey_end(bench_t *b, int ji, int ok, const char *why)
{
    journey_t *j = &b->j[ji];
    int64_t now = bench_now_ns();
    phase_res_t *res = b->res;
    if (j->ticket[0])
        hm_del(&b->tick, j->ticket);
    if (in_window(b, now)) {
        if (ok) {
            res->ok++;
            lat_add(&res->lat, now - j->t_open);
            int64_t decided = j->t_ev[EV_DECIDED] > j->t_opened ? j->t_ev[EV_DECIDED] : j->t_opened;
            lat_add(&res->steps[0], j->t_opened - j->t_open);
            lat_add(&res->steps[1], decided - j->t_opened);
            lat_add(&res->steps[2], j->t_diagnosed - decided);
            lat_add(&res->steps[3], j->t_completed - j->t_diagnosed);
            lat_add(&res->steps[4], j->t_handed - j->t_completed);
            lat_add(&res->steps[5], j->t_ev[EV_CHARGED] - j->t_completed);
            if (b->has_callback)
                lat_add(&res->steps[6], j->t_ev[EV_CALLBACK] - j->t_handed);
        } else {
            res->journey_failed++;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "journey %s: %s", j->ticket,
                         why);
        }
    }
    if (ok && b->nclosed < 1000000) {
        if (b->nclosed == b->capclosed) {
            size_t cap = b->capclosed ? b->capclosed * 2 : 4096;
            char **c = realloc(b->closed, cap * sizeof *c);
            if (c) {
                b->closed = c;
                b->capclosed = cap;
            }
        }
        if (b->nclosed < b->capclosed)
            b->closed[b->nclosed++] = strdup(j->ticket);
    }
    j->active = 0;
    if (b->running)
        journey_start(b, ji);
}

static void journey_fail_send(bench_t *b, int ji)
{
    journey_end(b, ji, 0, "could not send (generator queue full)");
}

static void journey_start(bench_t *b, int ji)
{
    journey_t *j = &b->j[ji];
    uint32_t gen = j->gen + 1;
    memset(j, 0, sizeof *j);
    j->gen = gen;
    j->active = 1;
    j->step = S_OPEN;
    j->t_open = bench_now_ns();
    if (send_open(b, VIA_ZMQ, ji, j->t_open) < 0) {
        j->active = 0; /* tried again on the next loop turn */
        j->t_retry = bench_now_ns() + 1000000;
    }
}

static void journey_check_final(bench_t *b, int ji)
{
    journey_t *j = &b->j[ji];
    if (j->step != S_FINAL || !j->t_ev[EV_CHARGED] || (b->has_callback && !j->t_ev[EV_CALLBACK]))
        return;
    journey_end(b, ji, 1, NULL);
}

static void journey_diagnose(bench_t *b, int ji)
{
    journey_t *j = &b->j[ji];
    j->step = S_DIAG;
    if (send_step(b, ji, K_DIAG) < 0)
        journey_fail_send(b, ji);
}

static void journey_event(bench_t *b, int ev, const char *ticket, int review)
{
    int64_t now = bench_now_ns();
    int64_t *v = hm_get(&b->tick, ticket);
    if (!v) {
        /* Not known yet (the reply to the open may still be on its way): keep it. */
        hm_put(&b->early[ev], ticket, review ? -now : now);
        return;
    }
    int ji = (int)*v;
    journey_t *j = &b->j[ji];
    if (!j->active || j->t_ev[ev])
        return;
    j->t_ev[ev] = now;
    if (ev == EV_DECIDED && review) {
        journey_end(b, ji, 0, "the decision waits for a reviewer");
        return;
    }
    if (ev == EV_DECIDED && j->step == S_DECIDE)
        journey_diagnose(b, ji);
    else
        journey_check_final(b, ji);
}

static void journey_reply(bench_t *b, req_t *r, int status, const As__Reply *rep)
{
    int ji = r->journey;
    journey_t *j = &b->j[ji];
    int64_t now = bench_now_ns();
    if (in_window(b, now)) {
        b->res->commands++;
        /* Diagnose refused with 409 before intake applied the decision is expected: counted
         * as a retry below, not as an error. */
        if (!(r->kind == K_DIAG && status == 409))
            count_status(b->res, status, rep && rep->message ? rep->message : "");
    }
    if (!j->active || r->gen != j->gen)
        return;
    char why[160];
    int ok = status >= 200 && status < 300;
    switch (r->kind) {
    case K_OPEN: {
        Intake__Ticket *t = ok && rep && rep->has_body
                                ? intake__ticket__unpack(NULL, rep->body.len, rep->body.data)
                                : NULL;
        if (!t || !t->id || strlen(t->id) >= sizeof j->ticket) {
            snprintf(why, sizeof why, "open answered %d %s", status,
                     rep && rep->message ? rep->message : "");
            if (t)
                intake__ticket__free_unpacked(t, NULL);
            journey_end(b, ji, 0, why);
            return;
        }
        snprintf(j->ticket, sizeof j->ticket, "%s", t->id);
        intake__ticket__free_unpacked(t, NULL);
        j->t_opened = now;
        hm_put(&b->tick, j->ticket, ji);
        int review = 0;
        for (int e = 0; e < N_EV; e++) {
            int64_t *v = hm_get(&b->early[e], j->ticket);
            if (v) {
                j->t_ev[e] = *v < 0 ? -*v : *v;
                review |= e == EV_DECIDED && *v < 0;
                hm_del(&b->early[e], j->ticket);
            }
        }
        if (review) {
            journey_end(b, ji, 0, "the decision waits for a reviewer");
            return;
        }
        j->step = S_DECIDE;
        if (j->t_ev[EV_DECIDED])
            journey_diagnose(b, ji);
        return;
    }
    case K_DIAG:
        if (status == 409) {
            /* intake has not applied the decision yet: the ticket is still `received`. */
            if (in_window(b, now))
                b->res->diag_retries++;
            j->step = S_DIAG_WAIT;
            j->retry_wait = j->retry_wait ? j->retry_wait * 2 : DIAG_RETRY_NS;
            if (j->retry_wait > DIAG_RETRY_MAX)
                j->retry_wait = DIAG_RETRY_MAX;
            j->t_retry = now + j->retry_wait;
            return;
        }
        if (!ok)
            break;
        j->t_diagnosed = now;
        j->step = S_COMPLETE;
        if (send_step(b, ji, K_COMPLETE) < 0)
            journey_fail_send(b, ji);
        return;
    case K_COMPLETE:
        if (!ok)
            break;
        j->t_completed = now;
        j->step = S_HANDBACK;
        if (send_step(b, ji, K_HANDBACK) < 0)
            journey_fail_send(b, ji);
        return;
    case K_HANDBACK:
        if (!ok)
            break;
        j->t_handed = now;
        j->step = S_FINAL;
        journey_check_final(b, ji);
        return;
    }
    static const char *const kinds[] = {"open", "diagnose", "complete repair", "hand-back"};
    snprintf(why, sizeof why, "%s answered %d %s", kinds[r->kind], status,
             rep && rep->message ? rep->message : "");
    journey_end(b, ji, 0, why);
}

/* ---- receiving ---- */

static void on_answer(bench_t *b, int slot, int status, const As__Reply *rep, const char *detail)
{
    req_t *r = &b->req[slot];
    if (!r->used)
        return;
    req_t copy = *r;
    req_free(b, slot);
    if (copy.journey >= 0)
        journey_reply(b, &copy, status, rep);
    else
        simple_done(b, &copy, status, detail);
}

static void http_reply(void *ud, int slot, int status, const char *body, size_t len)
{
    (void)len;
    on_answer(ud, slot, status, NULL, body);
}

static void dealer_drain(bench_t *b, void *sock)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        while (zmq_msg_more(&m)) { /* keep the last frame */
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) < 0)
                break;
        }
        As__Envelope *env = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!env)
            continue;
        int64_t *v = env->request_id ? hm_get(&b->rid, env->request_id) : NULL;
        if (v) {
            As__Reply *rep = env->has_payload
                                 ? as__reply__unpack(NULL, env->payload.len, env->payload.data)
                                 : NULL;
            on_answer(b, (int)*v, rep && rep->has_status ? rep->status : 500, rep,
                      rep && rep->message ? rep->message : "no reply payload");
            if (rep)
                as__reply__free_unpacked(rep, NULL);
        }
        as__envelope__free_unpacked(env, NULL);
    }
}

static const ProtobufCFieldDescriptor *field(const ProtobufCMessage *m, const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
}

static void sub_drain(bench_t *b, void *sock)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        while (zmq_msg_more(&m)) {
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) < 0)
                break;
        }
        if (!b->cfg || b->cfg->mode != MODE_JOURNEY) {
            zmq_msg_close(&m); /* outside the journey phase events are only drained */
            continue;
        }
        As__Envelope *env = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!env || !env->type || !env->has_payload) {
            if (env)
                as__envelope__free_unpacked(env, NULL);
            continue;
        }
        int ev = -1;
        for (int e = 0; e < N_EV; e++)
            if (b->ev_types[e] && strcmp(env->type, b->ev_types[e]) == 0)
                ev = e;
        const ProtobufCMessageDescriptor *d = ev >= 0 ? as_registry_find(env->type) : NULL;
        ProtobufCMessage *msg =
            d ? protobuf_c_message_unpack(d, NULL, env->payload.len, env->payload.data) : NULL;
        if (msg) {
            const ProtobufCFieldDescriptor *ft = field(msg, "ticket_id");
            const ProtobufCFieldDescriptor *fr = field(msg, "review");
            const char *ticket = ft && ft->type == PROTOBUF_C_TYPE_STRING
                                     ? *(const char *const *)((const char *)msg + ft->offset)
                                     : NULL;
            int review = fr && fr->type == PROTOBUF_C_TYPE_BOOL
                             ? *(const protobuf_c_boolean *)((const char *)msg + fr->offset)
                             : 0;
            if (ticket)
                journey_event(b, ev, ticket, review);
            protobuf_c_message_free_unpacked(msg, NULL);
        }
        as__envelope__free_unpacked(env, NULL);
    }
}

/* One turn of the loop: wait up to timeout_ms for anything, then handle it. */
static void pump(bench_t *b, long timeout_ms)
{
    zmq_pollitem_t items[MAX_DEALERS + 3 + 1024];
    int n = 0;
    for (int i = 0; i < b->nd; i++)
        items[n++] = (zmq_pollitem_t){b->dealers[i], 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < 3; i++)
        if (b->subs[i])
            items[n++] = (zmq_pollitem_t){b->subs[i], 0, ZMQ_POLLIN, 0};
    int nz = n;
    int nh = b->hc ? hc_pollitems(b->hc, &items[n], 1024) : 0;
    n += nh;
    if (zmq_poll(items, n, timeout_ms) < 0)
        return;
    int k = 0;
    for (int i = 0; i < b->nd; i++, k++)
        if (items[k].revents & ZMQ_POLLIN)
            dealer_drain(b, b->dealers[i]);
    for (int i = 0; i < 3; i++)
        if (b->subs[i]) {
            if (items[k].revents & ZMQ_POLLIN)
                sub_drain(b, b->subs[i]);
            k++;
        }
    if (nh)
        hc_handle(b->hc, &items[nz], nh);
}

/* Requests without an answer for REQ_TIMEOUT count as timeouts; journeys stuck past
 * JOURNEY_LIMIT are abandoned. */
static void expire(bench_t *b)
{
    int64_t now = bench_now_ns();
    for (int s = 0; s < REQ_CAP; s++) {
        req_t *r = &b->req[s];
        if (!r->used || now - r->t_sent < REQ_TIMEOUT)
            continue;
        req_t copy = *r;
        req_free(b, s);
        int64_t t = b->cfg->mode == MODE_OPEN ? copy.t_sched : now;
        if (copy.journey >= 0) {
            if (b->j[copy.journey].active && b->j[copy.journey].gen == copy.gen)
                journey_end(b, copy.journey, 0, "a command got no answer in 15 s");
        } else if (in_window(b, t) || (b->cfg->mode == MODE_CLOSED && copy.t_sent < b->t_end)) {
            b->res->timeouts++;
        }
    }
    for (int i = 0; i < b->nj; i++)
        if (b->j[i].active && now - b->j[i].t_open > JOURNEY_LIMIT)
            journey_end(b, i, 0, "not finished after 60 s (an event never arrived?)");
}

/* ---- phases ---- */

static void zero_res(phase_res_t *res, const phase_cfg_t *cfg)
{
    memset(res, 0, sizeof *res);
    snprintf(res->name, sizeof res->name, "%s", cfg->name);
    res->via = cfg->via;
    res->mode = cfg->mode;
    res->seconds = cfg->seconds;
    res->rate = cfg->rate;
    res->offered_fraction = cfg->offered_fraction;
    res->window = cfg->window;
}

int bench_run_phase(bench_t *b, const phase_cfg_t *cfg, phase_res_t *res)
{
    zero_res(res, cfg);
    b->cfg = cfg;
    b->res = res;
    b->t_start = bench_now_ns();
    b->t_warm = b->t_start + (int64_t)(cfg->warmup * 1e9);
    b->t_end = b->t_warm + (int64_t)(cfg->seconds * 1e9);
    cpu_snap_t *sa = NULL, *sb = NULL;
    int64_t next = b->t_start, period = cfg->rate > 0 ? (int64_t)(1e9 / cfg->rate) : 0;
    int64_t last_expire = b->t_start;
    /* Open loop: slots that came due while no connection could take them wait here. */
    int64_t *backlog = NULL;
    size_t bl_head = 0, bl_n = 0, bl_cap = 0;

    if (cfg->mode == MODE_JOURNEY) {
        if (b->nj < cfg->window) {
            free(b->j);
            b->j = calloc((size_t)cfg->window, sizeof *b->j);
            if (!b->j)
                return -1;
        }
        b->nj = cfg->window;
        hm_clear(&b->tick);
        for (int e = 0; e < N_EV; e++)
            hm_clear(&b->early[e]);
        b->running = 1;
        for (int i = 0; i < b->nj; i++)
            journey_start(b, i);
    }

    for (;;) {
        int64_t now = bench_now_ns();
        if (!sa && now >= b->t_warm) {
            sa = cpu_snap_take();
            waits_begin();
        }
        if (now >= b->t_end)
            break;
        long timeout = cfg->mode == MODE_IDLE ? 20 : 2;
        if (cfg->mode == MODE_CLOSED) {
            int cap = cfg->via == VIA_HTTP ? hc_capacity(b->hc) : REQ_CAP;
            while (b->inflight < cfg->window && b->inflight < cap) {
                int64_t t = bench_now_ns();
                if (send_open(b, cfg->via, -1, t) < 0)
                    break;
                if (in_window(b, t))
                    res->sent++;
            }
        } else if (cfg->mode == MODE_OPEN) {
            while (next <= now) {
                if (bl_n == bl_cap) {
                    size_t cap = bl_cap ? bl_cap * 2 : 1024;
                    int64_t *nb = malloc(cap * sizeof *nb);
                    if (!nb)
                        break;
                    for (size_t i = 0; i < bl_n; i++)
                        nb[i] = backlog[(bl_head + i) % bl_cap];
                    free(backlog);
                    backlog = nb;
                    bl_head = 0;
                    bl_cap = cap;
                }
                backlog[(bl_head + bl_n++) % bl_cap] = next;
                next += period;
            }
            while (bl_n > 0) {
                int64_t t = backlog[bl_head];
                if (send_open(b, cfg->via, -1, t) < 0)
                    break; /* no free connection: waits (its latency keeps growing) */
                bl_head = (bl_head + 1) % bl_cap;
                bl_n--;
                if (in_window(b, t)) {
                    res->sent++;
                    if (bench_now_ns() - t > 1000000)
                        res->late++;
                }
            }
            /* Sleep until the next send is due, rounded UP to the poll's millisecond: rounding
             * down turned every sub-millisecond wait into a busy loop (the generator took a
             * core at 1,000/s). A send may go out up to 1 ms late; its latency is counted from
             * the scheduled time, so that lateness is in the figures, not hidden. */
            int64_t wait_ns = next - bench_now_ns();
            long wait = wait_ns <= 0 ? 0 : (long)((wait_ns + 999999) / 1000000);
            timeout = bl_n > 0 ? 1 : wait > 5 ? 5 : wait;
        } else if (cfg->mode == MODE_JOURNEY) {
            for (int i = 0; i < b->nj; i++) {
                journey_t *j = &b->j[i];
                if (!j->active && j->t_retry && now >= j->t_retry) {
                    journey_start(b, i);
                } else if (j->active && j->step == S_DIAG_WAIT && now >= j->t_retry) {
                    journey_diagnose(b, i);
                }
            }
            timeout = 1;
        }
        pump(b, timeout);
        if (now - last_expire > 250000000) {
            expire(b);
            last_expire = now;
        }
    }
    sb = cpu_snap_take();
    waits_end(res);
    if (sa && sb)
        cpu_usage_between(sa, sb, &res->cpu);
    b->running = 0;

    /* Let the answers to what was sent in the window arrive. */
    int64_t drain_end = bench_now_ns() + DRAIN_LIMIT;
    for (;;) {
        int busy = b->inflight > 0;
        for (int i = 0; i < b->nj && cfg->mode == MODE_JOURNEY; i++)
            busy |= b->j[i].active;
        busy |= bl_n > 0;
        if (!busy || bench_now_ns() > drain_end)
            break;
        /* Open loop: slots that came due in the window but found no free connection are still
         * sent (late); their latency, measured from the slot, shows the queueing. */
        while (bl_n > 0) {
            int64_t t = backlog[bl_head];
            if (send_open(b, cfg->via, -1, t) < 0)
                break;
            bl_head = (bl_head + 1) % bl_cap;
            bl_n--;
            if (in_window(b, t)) {
                res->sent++;
                res->late++;
            }
        }
        for (int i = 0; i < b->nj && cfg->mode == MODE_JOURNEY; i++)
            if (b->j[i].active && b->j[i].step == S_DIAG_WAIT && bench_now_ns() >= b->j[i].t_retry)
                journey_diagnose(b, i);
        pump(b, 2);
        if (bench_now_ns() - last_expire > 250000000) {
            expire(b);
            last_expire = bench_now_ns();
        }
    }
    /* Whatever is still out: forget it (late answers are ignored). */
    for (int s = 0; s < REQ_CAP; s++)
        if (b->req[s].used) {
            if (cfg->mode != MODE_JOURNEY)
                res->timeouts++;
            req_free(b, s);
        }
    for (int i = 0; i < b->nj; i++)
        b->j[i].active = 0;
    /* Open-loop slots still not sent when the drain limit passed. */
    for (size_t i = 0; i < bl_n; i++)
        if (in_window(b, backlog[(bl_head + i) % bl_cap]))
            res->unsent++;
    free(backlog);

    /* Throughput: successes that arrived inside the window (in the open loop, answers to slots
     * of the window that arrive after it count for latency, not for throughput). */
    res->throughput =
        (double)(cfg->mode == MODE_JOURNEY ? res->ok : res->ok_arrived) / cfg->seconds;
    if (cfg->mode == MODE_JOURNEY) {
        res->last_step = b->has_callback ? 6 : 5;
        snprintf(res->last_step_name, sizeof res->last_step_name, "%s",
                 b->ev_types[b->has_callback ? EV_CALLBACK : EV_CHARGED]);
    }
    cpu_snap_free(sa);
    cpu_snap_free(sb);
    b->cfg = NULL;
    b->res = NULL;
    return 0;
}

/* ---- settling ---- */

typedef struct stream_pos {
    char consumer[16], stream[16];
    uint64_t applied;
} stream_pos_t;

static const char *const SERVICES[5] = {"intake", "warranty", "parts", "settlement", "surveys"};

/* Ask every service for its health; fill the published position of each stream and the applied
 * position of each consumer. Returns 0 when all five answered. */
static int positions(bench_t *b, uint64_t pub[5], stream_pos_t *pos, int *npos)
{
    *npos = 0;
    int answered = 0;
    for (int i = 0; i < 5; i++) {
        char rid[33];
        as_new_id(rid);
        As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
        uint8_t pbuf[16];
        size_t plen = as__health_request__pack(&hq, pbuf);
        As__Envelope env = AS__ENVELOPE__INIT;
        env.has_version = 1;
        env.version = 1;
        env.type = (char *)"as.HealthRequest";
        env.request_id = rid;
        env.principal = &b->principal;
        env.has_payload = 1;
        env.payload.data = pbuf;
        env.payload.len = plen;
        uint8_t ebuf[512];
        size_t elen = as__envelope__pack(&env, ebuf);
        if (zmq_send(b->health[i], ebuf, elen, ZMQ_DONTWAIT) < 0)
            continue;
        int64_t until = bench_now_ns() + 3000000000LL;
        while (bench_now_ns() < until) {
            zmq_pollitem_t it = {b->health[i], 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, 100) <= 0)
                continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, b->health[i], 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            As__Envelope *e = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            zmq_msg_close(&m);
            if (!e)
                continue;
            int mine = e->request_id && strcmp(e->request_id, rid) == 0;
            As__Reply *r = mine && e->has_payload
                               ? as__reply__unpack(NULL, e->payload.len, e->payload.data)
                               : NULL;
            As__HealthReply *h =
                r && r->has_body ? as__health_reply__unpack(NULL, r->body.len, r->body.data) : NULL;
            if (h) {
                answered++;
                for (size_t k = 0; k < h->n_streams; k++) {
                    As__StreamStatus *s = h->streams[k];
                    if (!s->stream)
                        continue;
                    if (strcmp(s->stream, SERVICES[i]) == 0) {
                        uint64_t p = s->head > s->published ? s->head : s->published;
                        pub[i] = p;
                    } else if (*npos < 32) {
                        stream_pos_t *sp = &pos[(*npos)++];
                        snprintf(sp->consumer, sizeof sp->consumer, "%s", SERVICES[i]);
                        snprintf(sp->stream, sizeof sp->stream, "%s", s->stream);
                        sp->applied = s->applied;
                    }
                }
                as__health_reply__free_unpacked(h, NULL);
            }
            if (r)
                as__reply__free_unpacked(r, NULL);
            as__envelope__free_unpacked(e, NULL);
            if (mine)
                break;
        }
    }
    return answered == 5 ? 0 : -1;
}

static uint64_t outstanding(const uint64_t pub[5], const stream_pos_t *pos, int npos)
{
    uint64_t n = 0;
    for (int k = 0; k < npos; k++)
        for (int i = 0; i < 5; i++)
            if (strcmp(pos[k].stream, SERVICES[i]) == 0 && pub[i] > pos[k].applied)
                n += pub[i] - pos[k].applied;
    return n;
}

double bench_settle(bench_t *b, double max_s, uint64_t *backlog)
{
    int64_t t0 = bench_now_ns();
    uint64_t prev[5] = {0};
    int first = 1, stable = 0;
    *backlog = 0;
    for (;;) {
        uint64_t pub[5] = {0};
        stream_pos_t pos[32];
        int npos;
        int ok = positions(b, pub, pos, &npos) == 0;
        uint64_t out = outstanding(pub, pos, npos);
        if (first && ok)
            *backlog = out;
        first = 0;
        /* Caught up, and nothing new published since the last look (twice in a row). */
        if (ok && out == 0 && memcmp(prev, pub, sizeof prev) == 0)
            stable++;
        else
            stable = 0;
        memcpy(prev, pub, sizeof prev);
        double waited = (bench_now_ns() - t0) / 1e9;
        if (stable >= 2)
            return waited;
        if (waited > max_s)
            return -1;
        /* Keep draining the SUB sockets while waiting. */
        for (int i = 0; i < 10; i++)
            pump(b, 20);
    }
}

/* ---- set-up ---- */

/* The CURVE identity (tests/integration/curve_keys.h): commands go with the gateway's key, the
 * only one that may act for a user (the bench stands in for the gateway); subscriptions with the
 * `bench` key, which the bench stack (tests/bench/run.sh) grants the streams it watches. */

static void *zsocket(bench_t *b, int type, const char *peer, const char *kind, char *err,
                     size_t errlen)
{
    void *s = zmq_socket(b->zctx, type);
    int zero = 0, linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero); /* unlimited: we bound in-flight */
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    const char *ep = as_endpoint(peer, kind);
    const char *key = type == ZMQ_SUB ? "bench" : "gateway";
    if (it_curve_client(s, key, peer) < 0) {
        snprintf(err, errlen, "cannot read the %s CURVE keys in %s", key, as_cfg_curve_keys);
        zmq_close(s);
        return NULL;
    }
    if (!ep || zmq_connect(s, ep) < 0) {
        snprintf(err, errlen, "cannot connect to %s %s (%s)", peer, kind, ep ? ep : "unset");
        zmq_close(s);
        return NULL;
    }
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, peer, strlen(peer));
    return s;
}

bench_t *bench_new(const bench_opts_t *o, char *err, size_t errlen)
{
    bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->o = *o;
    if (as_endpoints_load("bench", o->config, err, errlen) < 0) {
        free(b);
        return NULL;
    }
    b->zctx = zmq_ctx_new();
    int threads = 1;
    zmq_ctx_set(b->zctx, ZMQ_IO_THREADS, threads);
    b->nd = o->zmq_sockets < 1 ? 1 : o->zmq_sockets > MAX_DEALERS ? MAX_DEALERS : o->zmq_sockets;
    for (int i = 0; i < b->nd; i++)
        if (!(b->dealers[i] = zsocket(b, ZMQ_DEALER, "intake", "cmd", err, errlen)))
            goto fail;
    for (int i = 0; i < 5; i++)
        if (!(b->health[i] = zsocket(b, ZMQ_DEALER, SERVICES[i], "cmd", err, errlen)))
            goto fail;
    b->ev_types[EV_DECIDED] = "warranty.WarrantyDecided";
    b->ev_types[EV_CHARGED] = "settlement.Charged";
    b->ev_types[EV_CALLBACK] = o->callback_event;
    b->has_callback =
        o->callback_event && *o->callback_event && as_registry_find(o->callback_event) != NULL;
    static const char *const sub_peers[3] = {"warranty", "settlement", "surveys"};
    for (int i = 0; i < 3; i++)
        if (!(b->subs[i] = zsocket(b, ZMQ_SUB, sub_peers[i], "pub", err, errlen)))
            goto fail;
    if (o->http_conns > 0) {
        b->hc = hc_new(o->http_host, o->http_port, o->http_conns, o->http_pipeline, http_reply, b);
        if (!b->hc) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(b->http_head, sizeof b->http_head,
                 "Host: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n",
                 o->http_host, o->http_port, o->token);
    }
    as__principal__init(&b->principal);
    b->principal.subject = (char *)"bench.sh01";
    b->principal.role = (char *)"center";
    b->principal.site = (char *)o->center;
    b->principal.region = (char *)"east";

    b->req = calloc(REQ_CAP, sizeof *b->req);
    b->freel = malloc(REQ_CAP * sizeof *b->freel);
    if (!b->req || !b->freel || hm_init(&b->rid, REQ_CAP * 2) < 0 ||
        hm_init(&b->tick, 1 << 14) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int e = 0; e < N_EV; e++)
        if (hm_init(&b->early[e], 1 << 16) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    for (int i = REQ_CAP - 1; i >= 0; i--)
        b->freel[b->nfree++] = i;

    /* IMEIs: "35" + 6 digits of the clock + a 6-digit serial, so a second run on the same
     * database does not repeat the first one's devices. */
    b->imei_base = 35000000000000ULL + (uint64_t)(time(NULL) % 1000000) * 1000000ULL;
    char check[16];
    make_imei(49015420323751ULL, check);
    if (strcmp(check, "490154203237518") != 0) {
        snprintf(err, errlen, "IMEI check digit self-test failed (%s)", check);
        goto fail;
    }
    /* Bought 40 days ago (Asia/Shanghai business date). */
    time_t t = time(NULL) + 8 * 3600 - 40 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b->invoice_date, sizeof b->invoice_date, "%Y-%m-%d", &tm);
    return b;
fail:
    bench_free(b);
    return NULL;
}

int bench_has_callback_event(const bench_t *b)
{
    return b->has_callback;
}

size_t bench_closed_tickets(const bench_t *b, const char *const **ids)
{
    *ids = (const char *const *)b->closed;
    return b->nclosed;
}

void bench_free(bench_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nd; i++)
        if (b->dealers[i])
            zmq_close(b->dealers[i]);
    for (int i = 0; i < 5; i++)
        if (b->health[i])
            zmq_close(b->health[i]);
    for (int i = 0; i < 3; i++)
        if (b->subs[i])
            zmq_close(b->subs[i]);
    hc_free(b->hc);
    if (b->zctx)
        zmq_ctx_term(b->zctx);
    free(b->req);
    free(b->freel);
    hm_free(&b->rid);
    hm_free(&b->tick);
    for (int e = 0; e < N_EV; e++)
        hm_free(&b->early[e]);
    for (size_t i = 0; i < b->nclosed; i++)
        free(b->closed[i]);
    free(b->closed);
    free(b->j);
    free(b);
}
