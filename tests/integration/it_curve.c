/* it_curve.c — service-to-service authentication: with CURVE on, a client whose key is not on
 * the allow-list, and a client without CURVE at all, are refused during the handshake — nothing
 * they send reaches the service — while an allowed key is answered. Prints TAP lines. */
#include "as/bus.h"
#include "as/service.h"
#include "curve_keys.h"
#include "intake.pb-c.h"
#include "it_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Send one command (`type`, request id `rid`, `principal` or NULL, the message `msg`) to intake
 * on a fresh DEALER set up by `setup`. Returns the reply (free with as__reply__free_unpacked), or
 * NULL when none came within `wait_ms`; *refused is set when `setup` failed. */
static As__Reply *call(void *ctx, int (*setup)(void *), const char *type, const char *rid,
                       As__Principal *principal, const ProtobufCMessage *msg, int wait_ms,
                       int *refused)
{
    As__Reply *r = NULL;
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    *refused = setup(sock) < 0;
    if (*refused) {
        zmq_close(sock);
        return NULL;
    }
    zmq_connect(sock, as_endpoint("intake", "cmd"));
    As__Envelope env = AS__ENVELOPE__INIT;
    env.type = (char *)type;
    env.request_id = (char *)rid;
    env.principal = principal;
    size_t plen, len;
    uint8_t *pb = as_pack(msg, &plen);
    env.has_payload = 1;
    env.payload.data = pb;
    env.payload.len = plen;
    uint8_t *frame = as_pack(&env.base, &len);
    free(pb);
    zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    free(frame);
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) > 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) >= 0) {
            As__Envelope *e = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            if (e && e->has_payload)
                r = as__reply__unpack(NULL, e->payload.len, e->payload.data);
            if (e)
                as__envelope__free_unpacked(e, NULL);
        }
        zmq_msg_close(&m);
    }
    zmq_close(sock);
    return r;
}

/* Open a ticket with request id `rid` on a fresh DEALER set up by `setup`. Returns the reply's
 * status (with *replayed set), or -1 when no answer came within `wait_ms`. */
static int open_ticket(void *ctx, int (*setup)(void *), const char *rid, int wait_ms, int *replayed)
{
    Intake__OpenTicket t = INTAKE__OPEN_TICKET__INIT;
    Intake__Customer c = INTAKE__CUSTOMER__INIT;
    Intake__Device d = INTAKE__DEVICE__INIT;
    Intake__Purchase p = INTAKE__PURCHASE__INIT;
    Intake__Fault f = INTAKE__FAULT__INIT;
    As__Principal pr = AS__PRINCIPAL__INIT;
    c.name = (char *)"Curve Test";
    c.phone = (char *)"13500005555";
    d.category = (char *)"phone_host";
    d.brand = (char *)"Huaxin";
    d.model = (char *)"HX-10";
    d.imei = (char *)"490154203237518";
    p.invoice_date = (char *)"2026-01-05";
    p.has_price_cents = p.has_invoice = 1;
    p.price_cents = 100000;
    p.invoice = 1;
    f.code = (char *)"NO_POWER";
    t.center = (char *)"SH01";
    t.customer = &c;
    t.device = &d;
    t.purchase = &p;
    t.fault = &f;
    t.request = (char *)"repair";
    pr.subject = (char *)"it_curve";
    pr.role = (char *)"admin";
    int refused, status = -1;
    As__Reply *r = call(ctx, setup, "intake.OpenTicket", rid, &pr, &t.base, wait_ms, &refused);
    if (refused)
        return -2;
    if (r) {
        status = r->status;
        *replayed = r->has_replayed && r->replayed;
        as__reply__free_unpacked(r, NULL);
    }
    return status;
}

/* Send a HealthRequest on a fresh DEALER set up by `setup`; returns the service's command count
 * from the answer, or -1 when no answer came within `wait_ms`. */
static long long health(void *ctx, int (*setup)(void *), int wait_ms)
{
    char rid[33];
    as_new_id(rid);
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    int refused;
    long long commands = -1;
    As__Reply *r = call(ctx, setup, "as.HealthRequest", rid, NULL, &hq.base, wait_ms, &refused);
    if (refused)
        return -2;
    As__HealthReply *h =
        r && r->has_body ? as__health_reply__unpack(NULL, r->body.len, r->body.data) : NULL;
    if (h) {
        commands = (long long)h->commands;
        as__health_reply__free_unpacked(h, NULL);
    }
    if (r)
        as__reply__free_unpacked(r, NULL);
    return commands;
}

static int allowed(void *sock)
{
    return it_curve_client(sock, "tester", "intake");
}

/* The key that may act for a user (a ticket is opened for an admin). */
static int gateway(void *sock)
{
    return it_curve_client(sock, "gateway", "intake");
}

static int stranger(void *sock)
{
    char pub[41], sec[41], server[64], path[600];
    zmq_curve_keypair(pub, sec);
    snprintf(path, sizeof path, "%s/intake.pub", as_cfg_curve_keys);
    if (it_read_key(path, server, NULL) < 0)
        return -1;
    it_curve_keys(sock, server, pub, sec);
    return 0;
}

static int plain(void *sock)
{
    (void)sock;
    return 0;
}

int main(void)
{
    char err[256];
    const char *cfg = getenv("AS_CONFIG");
    if (!cfg || as_endpoints_load("it_curve", cfg, err, sizeof err) < 0) {
        printf("not ok - it_curve setup: AS_CONFIG unreadable\n");
        return 1;
    }
    if (!as_cfg_curve_keys || !*as_cfg_curve_keys) {
        printf("ok - CURVE is off in this stack (AS_CURVE=off): nothing to check\n");
        return 0;
    }
    void *ctx = zmq_ctx_new();
    long long before = health(ctx, allowed, 5000);
    check(before >= 0, "a client with an allowed key is answered", "no answer");
    check(health(ctx, stranger, 1500) == -1, "a client with an unknown key gets no answer",
          "it was answered");
    check(health(ctx, plain, 1500) == -1, "a client without CURVE gets no answer",
          "it was answered");
    /* A refused client sends a ticket with request id R; then an allowed client sends the same
     * request id. Had the first reached the service, the second would get the stored reply. */
    char rid[33];
    as_new_id(rid);
    int replayed = 0;
    check(open_ticket(ctx, stranger, rid, 1500, &replayed) == -1,
          "a command from an unknown key gets no answer", "it was answered");
    check(open_ticket(ctx, plain, rid, 1500, &replayed) == -1,
          "a command without CURVE gets no answer", "it was answered");
    int st = open_ticket(ctx, gateway, rid, 5000, &replayed);
    check(st == 201 && !replayed, "nothing the refused clients sent reached the service",
          st == 201 ? "the allowed client got a replayed answer" : "the allowed client failed");
    zmq_ctx_term(ctx);
    return failures ? 1 : 0;
}
