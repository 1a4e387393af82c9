/* it_curve.c — service-to-service authentication: with CURVE on, a client whose key is not on
 * the allow-list, and a client without CURVE at all, are refused during the handshake — nothing
 * they send reaches the service — while an allowed key is answered. Prints TAP lines. */
#include "as/bus.h"
#include "as/service.h"
#include "curve_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int failures;

static void check(int ok, const char *name, const char *why)
{
    printf(ok ? "ok - %s\n" : "not ok - %s: %s\n", name, why);
    failures += !ok;
    fflush(stdout);
}

/* Send a HealthRequest on a fresh DEALER set up by `setup`; returns the service's command count
 * from the answer, or -1 when no answer came within `wait_ms`. */
static long long health(void *ctx, int (*setup)(void *), int wait_ms)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (setup(sock) < 0) {
        zmq_close(sock);
        return -2;
    }
    zmq_connect(sock, as_endpoint("intake", "cmd"));
    char rid[33];
    as_new_id(rid);
    As__HealthRequest hq = AS__HEALTH_REQUEST__INIT;
    As__Envelope env = AS__ENVELOPE__INIT;
    env.type = (char *)"as.HealthRequest";
    env.request_id = rid;
    size_t plen, len;
    uint8_t *p = as_pack(&hq.base, &plen);
    env.has_payload = 1;
    env.payload.data = p;
    env.payload.len = plen;
    uint8_t *frame = as_pack(&env.base, &len);
    free(p);
    zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    free(frame);
    long long commands = -1;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) > 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) >= 0) {
            As__Envelope *e = as__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            As__Reply *r = e && e->has_payload ? as__reply__unpack(NULL, e->payload.len, e->payload.data) : NULL;
            As__HealthReply *h = r && r->has_body ? as__health_reply__unpack(NULL, r->body.len, r->body.data) : NULL;
            if (h)
                commands = (long long)h->commands;
            if (h)
                as__health_reply__free_unpacked(h, NULL);
            if (r)
                as__reply__free_unpacked(r, NULL);
            if (e)
                as__envelope__free_unpacked(e, NULL);
        }
        zmq_msg_close(&m);
    }
    zmq_close(sock);
    return commands;
}

static int allowed(void *sock)
{
    return it_curve_client(sock, "tester", "intake");
}

static int stranger(void *sock)
{
    char pub[41], sec[41], server[64], path[600];
    zmq_curve_keypair(pub, sec);
    snprintf(path, sizeof path, "%s/intake.pub", as_cfg_curve_keys);
    if (it_read_key(path, server, NULL) < 0)
        return -1;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
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
    long long after = health(ctx, allowed, 5000);
    check(after == before + 1, "nothing the refused clients sent reached the service",
          "the service counted more commands than the allowed client sent");
    zmq_ctx_term(ctx);
    return failures ? 1 : 0;
}
