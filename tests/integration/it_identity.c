/* it_identity.c — the bus believes no one: a hostile client holding an allowed CURVE key (the
 * test stack's `tester`, a key with no rights) tries what the principal in an envelope used to
 * allow, and each attempt is refused while the legitimate path still works:
 *   1. a forged principal (tester as admin; a service's key as a user or as another service;
 *      the gateway's key as a service) is refused with 403, the gateway acting for a user works;
 *   2. reusing another key's request id does not return that key's stored reply;
 *   3. a replay of a stream the key does not consume is refused with 403, a consumer's works;
 *   4. a subscription to a stream's PUB from a key that does not consume it gets nothing, a
 *      consumer's subscription gets the events.
 * Reads AS_CONFIG (the stack's configuration file). Prints TAP lines. */
#include "as/bus.h"
#include "as/service.h"
#include "curve_keys.h"
#include "intake.pb-c.h"
#include "it_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

/* A DEALER to `peer`'s command endpoint with the CURVE identity `key`. */
static void *dealer(void *ctx, const char *key, const char *peer)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (it_curve_client(s, key, peer) < 0) {
        zmq_close(s);
        return NULL;
    }
    zmq_connect(s, as_endpoint(peer, "cmd"));
    return s;
}

typedef struct answer {
    int status; /* -1: no answer */
    int replayed;
    char code[64];
    uint8_t body[4096];
    size_t body_len;
    size_t n_events;
} answer_t;

/* Send one envelope and wait up to 5 s for its answer. */
static answer_t call(void *sock, const char *type, const char *rid, const As__Principal *pr,
                     const ProtobufCMessage *payload)
{
    answer_t a = {.status = -1};
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)type;
    env.request_id = (char *)rid;
    env.principal = (As__Principal *)pr;
    size_t plen = 0, len;
    uint8_t *pb = as_pack(payload, &plen);
    env.has_payload = 1;
    env.payload.data = pb;
    env.payload.len = plen;
    uint8_t *frame = as_pack(&env.base, &len);
    free(pb);
    int sent = sock && zmq_send(sock, frame, len, 0) >= 0;
    free(frame);
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (!sent || zmq_poll(&it, 1, 5000) <= 0)
        return a;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) >= 0) {
        As__Envelope *e = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        As__Reply *r =
            e && e->has_payload ? as__reply__unpack(NULL, e->payload.len, e->payload.data) : NULL;
        if (r) {
            a.status = r->status;
            a.replayed = r->has_replayed && r->replayed;
            snprintf(a.code, sizeof a.code, "%s", r->code ? r->code : "");
            if (r->has_body && r->body.len <= sizeof a.body) {
                memcpy(a.body, r->body.data, r->body.len);
                a.body_len = r->body.len;
            }
            if (r->body_type && strcmp(r->body_type, "as.ReplayBatch") == 0) {
                As__ReplayBatch *b = as__replay_batch__unpack(NULL, r->body.len, r->body.data);
                a.n_events = b ? b->n_events : 0;
                if (b)
                    as__replay_batch__free_unpacked(b, NULL);
            }
            as__reply__free_unpacked(r, NULL);
        }
        if (e)
            as__envelope__free_unpacked(e, NULL);
    }
    zmq_msg_close(&m);
    return a;
}

/* A fresh, valid IMEI (14 random digits and the Luhn check digit). */
static void new_imei(char out[16])
{
    unsigned char b[14];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        memset(b, 7, sizeof b);
    for (int i = 0; i < 14; i++)
        out[i] = (char)('0' + b[i] % 10);
    as_imei_finish(out);
}

typedef struct ticket {
    Intake__OpenTicket t;
    Intake__Customer c;
    Intake__Device d;
    Intake__Purchase p;
    Intake__Fault f;
    char imei[16];
} ticket_t;

static void ticket_init(ticket_t *k)
{
    intake__open_ticket__init(&k->t);
    intake__customer__init(&k->c);
    intake__device__init(&k->d);
    intake__purchase__init(&k->p);
    intake__fault__init(&k->f);
    new_imei(k->imei);
    k->c.name = (char *)"Identity Test";
    k->c.phone = (char *)"13500006666";
    k->d.category = (char *)"phone_host";
    k->d.brand = (char *)"Huaxin";
    k->d.model = (char *)"HX-10";
    k->d.imei = k->imei;
    k->p.invoice_date = (char *)"2026-01-05";
    k->p.has_price_cents = k->p.has_invoice = 1;
    k->p.price_cents = 100000;
    k->p.invoice = 1;
    k->f.code = (char *)"NO_POWER";
    k->t.center = (char *)"SH01";
    k->t.customer = &k->c;
    k->t.device = &k->d;
    k->t.purchase = &k->p;
    k->t.fault = &k->f;
    k->t.request = (char *)"repair";
}

/* A SUB to intake's events with the CURVE identity `key`, subscribed to the stream. */
static void *subscriber(void *ctx, const char *key)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (it_curve_client(s, key, "intake") < 0) {
        zmq_close(s);
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "intake", 6);
    zmq_connect(s, as_endpoint("intake", "pub"));
    return s;
}

/* Wait up to `ms` for an event on `sub` whose envelope carries request id `rid`. */
static int got_event(void *sub, const char *rid, int ms)
{
    int64_t end = as_now_ms() + ms;
    for (int64_t now = as_now_ms(); now < end; now = as_now_ms()) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(end - now)) <= 0)
            return 0;
        zmq_msg_t parts[2];
        int n = 0, more = 1;
        while (more && n < 2) {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], sub, 0) < 0)
                return 0;
            more = zmq_msg_more(&parts[n]);
            n++;
        }
        int found = 0;
        if (n == 2) {
            As__Envelope *e =
                as__envelope__unpack(NULL, zmq_msg_size(&parts[1]), zmq_msg_data(&parts[1]));
            found = e && e->request_id && strncmp(e->request_id, rid, strlen(rid)) == 0;
            if (e)
                as__envelope__free_unpacked(e, NULL);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
        if (found)
            return 1;
    }
    return 0;
}

int main(void)
{
    char err[256];
    const char *cfg = getenv("AS_CONFIG");
    if (!cfg || as_endpoints_load("it_identity", cfg, err, sizeof err) < 0) {
        printf("not ok - it_identity setup: AS_CONFIG unreadable (%s)\n", cfg ? err : "unset");
        return 1;
    }
    if (!as_cfg_curve_keys || !*as_cfg_curve_keys) {
        printf("ok - CURVE is off in this stack (AS_CURVE=off): no identities to check\n");
        return 0;
    }
    void *ctx = zmq_ctx_new();
    void *tester = dealer(ctx, "tester", "intake");
    void *gw = dealer(ctx, "gateway", "intake");
    void *parts = dealer(ctx, "parts", "intake");
    void *warranty = dealer(ctx, "warranty", "intake");
    if (!tester || !gw || !parts || !warranty) {
        printf("not ok - it_identity setup: cannot read the stack's CURVE keys (tester, gateway, "
               "parts, warranty)\n");
        return 1;
    }
    As__Principal admin = AS__PRINCIPAL__INIT;
    admin.subject = (char *)"it_identity";
    admin.role = (char *)"admin";
    As__Principal as_intake = AS__PRINCIPAL__INIT;
    as_intake.subject = (char *)"intake";
    as_intake.role = (char *)"service";
    As__Principal as_parts = AS__PRINCIPAL__INIT;
    as_parts.subject = (char *)"parts";
    as_parts.role = (char *)"service";
    char rid[40];

    /* Subscribers first: they need a moment to connect before the events they wait for. */
    void *sub_tester = subscriber(ctx, "tester");
    void *sub_warranty = subscriber(ctx, "warranty");

    /* ---- 1. principals are bound to keys ---- */
    ticket_t k;
    ticket_init(&k);
    as_new_id(rid);
    answer_t a = call(tester, "intake.OpenTicket", rid, &admin, &k.t.base);
    check(a.status == 403, "a test key claiming an admin principal is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    a = call(parts, "intake.OpenTicket", rid, &admin, &k.t.base);
    check(a.status == 403, "a service's key claiming a user principal is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    a = call(parts, "intake.OpenTicket", rid, &as_intake, &k.t.base);
    check(a.status == 403, "a service's key claiming another service is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    a = call(gw, "intake.OpenTicket", rid, &as_parts, &k.t.base);
    check(a.status == 403, "the gateway's key claiming a service principal is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    as_new_id(rid);
    a = call(parts, "as.HealthRequest", rid, &as_parts, &hq.base);
    check(a.status == 200, "a service's key with its own service principal is answered",
          a.status < 0 ? "no answer" : a.code);
    as_new_id(rid);
    a = call(tester, "as.HealthRequest", rid, NULL, &hq.base);
    check(a.status == 200, "a test key without a principal may still ask for health",
          a.status < 0 ? "no answer" : a.code);

    /* ---- 2. request ids are scoped to the sender's key ---- */
    char shared[40];
    as_new_id(shared);
    answer_t first = call(gw, "intake.OpenTicket", shared, &admin, &k.t.base);
    check(first.status == 201 && !first.replayed,
          "the gateway acting for an admin opens a ticket (after the refused attempts: none of "
          "them was applied)",
          first.status < 0 ? "no answer" : first.code);
    answer_t stolen = call(tester, "intake.OpenTicket", shared, NULL, &k.t.base);
    check(stolen.status >= 0 && !stolen.replayed &&
              !(stolen.body_len == first.body_len && first.body_len > 0 &&
                memcmp(stolen.body, first.body, first.body_len) == 0),
          "another key reusing the gateway's request id does not get its stored reply",
          stolen.status < 0 ? "no answer" : "it got the gateway's ticket");
    answer_t again = call(gw, "intake.OpenTicket", shared, &admin, &k.t.base);
    check(again.status == 201 && again.replayed && again.body_len == first.body_len &&
              memcmp(again.body, first.body, first.body_len) == 0,
          "the gateway repeating its own request id gets its stored reply",
          again.status < 0 ? "no answer" : "not the stored reply");

    /* The longest request id an envelope may carry (127 bytes) still fits once scoped. */
    char longest[128];
    as_new_id(rid);
    memset(longest, 'x', sizeof longest - 1);
    memcpy(longest, rid, 32);
    longest[127] = '\0';
    ticket_t k3;
    ticket_init(&k3);
    a = call(gw, "intake.OpenTicket", longest, &admin, &k3.t.base);
    check(a.status == 201, "a request id of 127 bytes is still accepted once scoped to its key",
          a.status < 0 ? "no answer" : a.code);

    /* ---- 3. replay only for the stream's consumers ---- */
    As__ReplayRequest rq = AS__REPLAY_REQUEST__INIT;
    rq.stream = (char *)"intake";
    rq.has_from_sequence = rq.has_max = 1;
    rq.from_sequence = 1;
    rq.max = 10;
    as_new_id(rid);
    a = call(tester, "as.ReplayRequest", rid, NULL, &rq.base);
    check(a.status == 403 && a.n_events == 0,
          "a replay of intake's stream from a test key is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    as_new_id(rid);
    a = call(gw, "as.ReplayRequest", rid, NULL, &rq.base);
    check(a.status == 403 && a.n_events == 0,
          "a replay of intake's stream from the gateway's key is refused with 403",
          a.status < 0 ? "no answer" : a.code);
    void *parts_on_warranty = dealer(ctx, "parts", "warranty");
    rq.stream = (char *)"warranty";
    as_new_id(rid);
    a = call(parts_on_warranty, "as.ReplayRequest", rid, NULL, &rq.base);
    check(a.status == 403 && a.n_events == 0,
          "a replay of warranty's stream from parts (which does not consume it) is refused",
          a.status < 0 ? "no answer" : a.code);
    rq.stream = (char *)"intake";
    as_new_id(rid);
    a = call(warranty, "as.ReplayRequest", rid, NULL, &rq.base);
    check(a.status == 200 && a.n_events > 0,
          "a replay of intake's stream from warranty (a consumer) returns events",
          a.status < 0 ? "no answer" : a.code);

    /* ---- 4. subscriptions only for the stream's consumers ---- */
    ticket_t k2;
    ticket_init(&k2);
    char sub_rid[40];
    as_new_id(sub_rid);
    zmq_sleep(1); /* both subscribers had time to connect (or be refused) */
    a = call(gw, "intake.OpenTicket", sub_rid, &admin, &k2.t.base);
    check(a.status == 201, "a ticket is opened to publish an event",
          a.status < 0 ? "no answer" : a.code);
    check(got_event(sub_warranty, sub_rid, 10000),
          "warranty's key (a consumer) subscribed to intake's events receives them",
          "no TicketOpened arrived");
    check(!got_event(sub_tester, sub_rid, 1500),
          "a test key subscribed to intake's events receives nothing",
          "it received intake's events");

    zmq_close(parts_on_warranty);
    zmq_close(sub_tester);
    zmq_close(sub_warranty);
    zmq_close(tester);
    zmq_close(gw);
    zmq_close(parts);
    zmq_close(warranty);
    zmq_ctx_term(ctx);
    return failures ? 1 : 0;
}
