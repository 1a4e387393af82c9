/* it_bus.c — the messaging ground floor, tested against the running services over real
 * sockets: a repeated request id is applied once; malformed, oversized and unknown frames get an
 * error reply and the next valid request is still answered.
 * Reads AS_CONFIG (the stack's configuration file) for the endpoints. Prints TAP lines. */
#include "as/bus.h"
#include "as/service.h"
#include "curve_keys.h"
#include "intake.pb-c.h"
#include "it_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* A blocking DEALER round trip: send `frame`, wait up to 5 s for one reply envelope. */
static As__Reply *roundtrip(void *sock, const void *frame, size_t len, char *rid_out)
{
    if (zmq_send(sock, frame, len, 0) < 0)
        return NULL;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0)
        return NULL;
    As__Envelope *env = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    if (!env)
        return NULL;
    if (rid_out)
        snprintf(rid_out, 128, "%s", env->request_id ? env->request_id : "");
    As__Reply *r =
        env->has_payload ? as__reply__unpack(NULL, env->payload.len, env->payload.data) : NULL;
    as__envelope__free_unpacked(env, NULL);
    return r;
}

static uint8_t *envelope(const char *type, const char *rid, const ProtobufCMessage *payload,
                         size_t *len)
{
    As__Principal p = AS__PRINCIPAL__INIT;
    p.subject = (char *)"it_bus";
    p.role = (char *)"admin";
    As__Envelope env = AS__ENVELOPE__INIT;
    env.has_version = 1;
    env.version = 1;
    env.type = (char *)type;
    env.request_id = (char *)rid;
    env.principal = &p;
    size_t plen = 0;
    uint8_t *pbuf = payload ? as_pack(payload, &plen) : NULL;
    env.has_payload = 1;
    env.payload.data = pbuf ? pbuf : (uint8_t *)"";
    env.payload.len = plen;
    uint8_t *out = as_pack(&env.base, len);
    free(pbuf);
    return out;
}

static void open_ticket_msg(Intake__OpenTicket *t, Intake__Customer *c, Intake__Device *d,
                            Intake__Purchase *p, Intake__Fault *f, const char *center)
{
    intake__open_ticket__init(t);
    intake__customer__init(c);
    intake__device__init(d);
    intake__purchase__init(p);
    intake__fault__init(f);
    c->name = (char *)"Test Customer";
    c->phone = (char *)"13800001234";
    d->category = (char *)"phone_host";
    d->brand = (char *)"Huaxin";
    d->model = (char *)"HX-10";
    d->imei = (char *)"490154203237518";
    p->invoice_date = (char *)"2026-11-01";
    p->has_price_cents = 1;
    p->price_cents = 299900;
    p->has_invoice = p->has_warranty_card = 1;
    p->invoice = p->warranty_card = 1;
    f->code = (char *)"NO_POWER";
    f->has_listed = 1;
    f->listed = 1;
    t->center = (char *)center;
    t->customer = c;
    t->device = d;
    t->purchase = p;
    t->fault = f;
    t->request = (char *)"repair";
}

int main(void)
{
    char err[256];
    const char *cfg = getenv("AS_CONFIG");
    const char *center = getenv("AS_CENTER_CODE");
    if (!cfg || as_endpoints_load("it_bus", cfg, err, sizeof err) < 0) {
        printf("not ok - it_bus setup: AS_CONFIG unreadable (%s)\n", cfg ? err : "unset");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    /* The test acts for a user, which only the gateway's key may do. */
    if (it_curve_client(sock, "gateway", "intake") < 0) {
        printf("not ok - it_bus setup: cannot read the gateway's CURVE keys\n");
        return 1;
    }
    zmq_connect(sock, as_endpoint("intake", "cmd"));

    /* 1. The same request id twice: one ticket, the second answer is the stored one. */
    Intake__OpenTicket t;
    Intake__Customer c;
    Intake__Device d;
    Intake__Purchase p;
    Intake__Fault f;
    open_ticket_msg(&t, &c, &d, &p, &f, center ? center : "SH01");
    char rid[33];
    as_new_id(rid);
    size_t len;
    uint8_t *frame = envelope("intake.OpenTicket", rid, &t.base, &len);
    As__Reply *r1 = roundtrip(sock, frame, len, NULL);
    As__Reply *r2 = roundtrip(sock, frame, len, NULL);
    free(frame);
    Intake__Ticket *t1 =
        r1 && r1->has_body ? intake__ticket__unpack(NULL, r1->body.len, r1->body.data) : NULL;
    Intake__Ticket *t2 =
        r2 && r2->has_body ? intake__ticket__unpack(NULL, r2->body.len, r2->body.data) : NULL;
    check(r1 && r1->status == 201 && t1 && t1->id, "open ticket over the bus answers 201",
          r1 ? (r1->message ? r1->message : "no body") : "no reply");
    check(t1 && t2 && t1->id && t2->id && strcmp(t1->id, t2->id) == 0,
          "a repeated request id returns the same ticket", "ids differ or missing");
    check(r2 && r2->has_replayed && r2->replayed, "the repeated answer is marked replayed",
          "replayed flag not set");
    if (t1)
        intake__ticket__free_unpacked(t1, NULL);
    if (t2)
        intake__ticket__free_unpacked(t2, NULL);
    if (r1)
        as__reply__free_unpacked(r1, NULL);
    if (r2)
        as__reply__free_unpacked(r2, NULL);

    /* 2. A frame that is not an envelope. */
    As__Reply *r = roundtrip(sock, "\xff\xff\xff garbage", 12, NULL);
    check(r && r->status == 400 && r->code && strcmp(r->code, "malformed_envelope") == 0,
          "a malformed frame gets a 400 malformed_envelope reply", "wrong or no reply");
    if (r)
        as__reply__free_unpacked(r, NULL);

    /* 3. An oversized frame (2 MiB over a 1 MiB limit). */
    size_t big = 2u << 20;
    uint8_t *buf = calloc(1, big);
    r = roundtrip(sock, buf, big, NULL);
    free(buf);
    check(r && r->status == 413, "an oversized frame gets a 413 reply", "wrong or no reply");
    if (r)
        as__reply__free_unpacked(r, NULL);

    /* 4. A valid envelope whose payload is not the declared type. */
    As__Envelope env = AS__ENVELOPE__INIT;
    env.type = (char *)"intake.OpenTicket";
    as_new_id(rid);
    env.request_id = rid;
    env.has_payload = 1;
    env.payload.data = (uint8_t *)"\x0a\xff\xff\xff\xff";
    env.payload.len = 5;
    frame = as_pack(&env.base, &len);
    r = roundtrip(sock, frame, len, NULL);
    free(frame);
    check(r && r->status == 400 && r->code && strcmp(r->code, "malformed_payload") == 0,
          "a truncated payload gets a 400 malformed_payload reply", "wrong or no reply");
    if (r)
        as__reply__free_unpacked(r, NULL);

    /* 5. An unknown command type. */
    as_new_id(rid);
    frame = envelope("intake.NoSuchThing", rid, NULL, &len);
    r = roundtrip(sock, frame, len, NULL);
    free(frame);
    check(r && r->status == 400 && r->code && strcmp(r->code, "unknown_type") == 0,
          "an unknown command type gets a 400 unknown_type reply", "wrong or no reply");
    if (r)
        as__reply__free_unpacked(r, NULL);

    /* 6. After all that, a valid request is still answered. */
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    as_new_id(rid);
    frame = envelope("as.HealthRequest", rid, &hq.base, &len);
    char got[128] = "";
    r = roundtrip(sock, frame, len, got);
    free(frame);
    check(r && r->status == 200 && strcmp(got, rid) == 0,
          "the next valid request after bad frames is answered", "no healthy answer");
    if (r)
        as__reply__free_unpacked(r, NULL);

    zmq_close(sock);
    zmq_ctx_term(ctx);
    return failures ? 1 : 0;
}
