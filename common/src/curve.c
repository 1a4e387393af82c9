/* curve.c — service-to-service authentication with ZeroMQ CURVE.
 *
 * Every program has a key pair; servers (ROUTER, PUB) hold their secret key, clients (DEALER,
 * SUB) hold the server's public key and their own pair. Traffic is encrypted, and a ZAP handler
 * (the ZeroMQ authentication protocol, on inproc://zeromq.zap.01) accepts a client only when
 * its public key is on the allow-list, so an unknown key is refused during the handshake, before
 * any message reaches a service. Keys are files written by as-keygen (`make keys`). */
#include "as/bus.h"
#include "as/log.h"
#include "as/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_ALLOWED 64

typedef struct curve_state {
    int on;
    char dir[512];
    char public_key[41], secret_key[41];
    int nallowed;
    char allowed_name[MAX_ALLOWED][32];
    char allowed_key[MAX_ALLOWED][41];
    as_zsock_t *zap;
} curve_state_t;

static curve_state_t curve;

int as_curve_enabled(void);
int as_curve_server(void *sock, char *err, size_t errlen);

int as_curve_enabled(void)
{
    return curve.on;
}

static int read_line(FILE *f, char *out, size_t len)
{
    if (!fgets(out, (int)len, f))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int load_key_file(const char *path, char pub[41], char sec[41], char *err, size_t errlen)
{
    char a[128] = "", b[128] = "";
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = read_line(f, a, sizeof a);
    if (rc == 0 && sec)
        rc = read_line(f, b, sizeof b);
    fclose(f);
    if (rc < 0 || strlen(a) != 40 || (sec && strlen(b) != 40)) {
        snprintf(err, errlen, "key file %s does not hold z85 keys of 40 characters", path);
        return -1;
    }
    memcpy(pub, a, 41);
    if (sec)
        memcpy(sec, b, 41);
    return 0;
}

/* ZAP request: [version, request id, domain, address, identity, mechanism, credentials...]. */
static void zap_request(as_zsock_t *zs, const void *const *frames, const size_t *lens, int n,
                        void *ud)
{
    (void)ud;
    if (n < 6)
        return;
    const char *status = "400", *text = "unknown key";
    char who[32] = "";
    char key[41] = "";
    if (n >= 7 && lens[5] == 5 && memcmp(frames[5], "CURVE", 5) == 0 && lens[6] == 32) {
        zmq_z85_encode(key, frames[6], 32);
        for (int i = 0; i < curve.nallowed; i++) {
            if (strcmp(curve.allowed_key[i], key) == 0) {
                status = "200";
                text = "OK";
                snprintf(who, sizeof who, "%s", curve.allowed_name[i]);
                break;
            }
        }
    } else {
        text = "CURVE required";
    }
    if (status[0] != '2') {
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", (int)(lens[3] < 63 ? lens[3] : 63),
                 (const char *)frames[3]);
        AS_WARN("connection refused: unknown CURVE key", "peer=%s key=%.8s…", addr,
                key[0] ? key : "none");
    }
    const void *out[6] = {"1.0", frames[1], status, text, who, ""};
    size_t olens[6] = {3, lens[1], 3, strlen(text), strlen(who), 0};
    as_zsock_send(zs, out, olens, 6);
}

int as_curve_setup(void *zctx, uv_loop_t *loop, const char *keys_dir, const char *self, char *err,
                   size_t errlen)
{
    if (!keys_dir || !*keys_dir)
        return 0;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        return -1;
    }
    memset(&curve, 0, sizeof curve);
    snprintf(curve.dir, sizeof curve.dir, "%s", keys_dir);
    char path[700];
    snprintf(path, sizeof path, "%s/%s.key", keys_dir, self);
    if (load_key_file(path, curve.public_key, curve.secret_key, err, errlen) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/allowed", keys_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f) && curve.nallowed < MAX_ALLOWED) {
        char name[32], key[64];
        if (line[0] == '#' || sscanf(line, "%31s %63s", name, key) != 2 || strlen(key) != 40)
            continue;
        memcpy(curve.allowed_name[curve.nallowed], name, sizeof name);
        memcpy(curve.allowed_key[curve.nallowed], key, 41); /* 40 characters and the NUL */
        curve.nallowed++;
    }
    fclose(f);
    curve.zap = as_zsock_new(loop, zctx, ZMQ_REP, "inproc://zeromq.zap.01", 1, 0, 1000, zap_request,
                             NULL, err, errlen);
    if (!curve.zap)
        return -1;
    curve.on = 1;
    AS_INFO("CURVE on", "keys=%s self=%s allowed=%d", keys_dir, self, curve.nallowed);
    return 0;
}

void as_curve_shutdown(void)
{
    as_zsock_destroy(&curve.zap);
}

int as_curve_server(void *sock, char *err, size_t errlen)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve.secret_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "aftersales", 10) != 0) {
        snprintf(err, errlen, "cannot set CURVE server options: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int as_curve_client(void *sock, const char *peer, char *err, size_t errlen)
{
    char path[700], server_key[41];
    snprintf(path, sizeof path, "%s/%s.pub", curve.dir, peer);
    if (load_key_file(path, server_key, NULL, err, errlen) < 0)
        return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, curve.public_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve.secret_key, 40) != 0) {
        snprintf(err, errlen, "cannot set CURVE client options: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* The service whose command or event endpoint is `endpoint`, or NULL. */
const char *as_curve_peer_of(const char *endpoint);
const char *as_curve_peer_of(const char *endpoint)
{
    static const char *const names[6] = {"intake",     "warranty", "parts",
                                         "settlement", "surveys",  "people"};
    for (int i = 0; i < 12; i++)
        if (as_cfg_endpoints[i] && strcmp(as_cfg_endpoints[i], endpoint) == 0)
            return names[i / 2];
    return NULL;
}
