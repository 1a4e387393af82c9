/* curve.c — service-to-service authentication with ZeroMQ CURVE, and what each key may do.
 *
 * Every program has a key pair; servers (ROUTER, PUB) hold their secret key, clients (DEALER,
 * SUB) hold the server's public key and their own pair. Traffic is encrypted, and a ZAP handler
 * (the ZeroMQ authentication protocol, on inproc://zeromq.zap.01) accepts a client only when
 * its public key is on the allow-list, so an unknown key is refused during the handshake, before
 * any message reaches a service. Keys are files written by as-keygen (`make keys`).
 *
 * The handler answers with the key's name from the allow-list as the connection's User-Id; every
 * message from that connection carries it (zmq_msg_gets "User-Id"), and the command server uses
 * it to decide whose principal a message may carry (as_curve_authorize), to scope request ids,
 * and, with as_curve_may_read, who may replay a stream. A PUB socket has its own ZAP domain: it
 * accepts only the keys that consume its stream. */
#include "as/bus.h"
#include "as/log.h"
#include "as/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_DOMAIN_CMD    "aftersales"
#define ZAP_DOMAIN_EVENTS "aftersales-events"
#define NAME_MAX_LEN      31

/* The services, each with its own key and principal {role: service, subject: <name>}, and the
 * gateway: deploy/services.conf (through the generated as_services.h). */
static const char *const SERVICES[] = {AS_SERVICE_NAMES};
#define NSERVICES (sizeof SERVICES / sizeof SERVICES[0])

/* Which programs consume each stream (the stream is named after its publisher), from the same
 * file: the union of the services' consumer definitions (the `subs` of each as_service_def_t) and
 * the gateway's (it follows the people stream to drop revoked tokens and disabled users). Only
 * these keys may subscribe to the stream's PUB socket or ask its publisher for a replay.
 * as_service_main() refuses to start a service whose consumer definitions are not covered here. */
static const struct {
    const char *stream;
    const char *const consumers[NSERVICES + 2];
} STREAM_CONSUMERS[] = {AS_STREAM_CONSUMERS};

/* The key that may act for users: any principal but a service's. */
#define GATEWAY AS_GATEWAY_NAME

typedef struct allowed_key {
    char name[NAME_MAX_LEN + 1];
    char key[41];
    char *reads; /* "reads=" grant of a test key: comma-separated streams, or NULL */
} allowed_key_t;

typedef struct curve_state {
    int on;
    char dir[512];
    char self[NAME_MAX_LEN + 1];
    char public_key[41], secret_key[41];
    int nallowed;
    allowed_key_t *allowed;
    as_zsock_t *zap;
} curve_state_t;

static curve_state_t curve;

int as_curve_enabled(void);
int as_curve_server(void *sock, char *err, size_t errlen);

int as_curve_enabled(void)
{
    return curve.on;
}

static int is_service(const char *name)
{
    for (size_t i = 0; i < NSERVICES; i++)
        if (strcmp(SERVICES[i], name) == 0)
            return 1;
    return 0;
}

static const allowed_key_t *find_name(const char *name)
{
    for (int i = 0; i < curve.nallowed; i++)
        if (strcmp(curve.allowed[i].name, name) == 0)
            return &curve.allowed[i];
    return NULL;
}

int as_stream_consumed_by(const char *stream, const char *service)
{
    for (size_t i = 0; i < sizeof STREAM_CONSUMERS / sizeof STREAM_CONSUMERS[0]; i++) {
        if (strcmp(STREAM_CONSUMERS[i].stream, stream) != 0)
            continue;
        for (const char *const *c = STREAM_CONSUMERS[i].consumers; *c; c++)
            if (strcmp(*c, service) == 0)
                return 1;
        return 0;
    }
    return 0;
}

int as_curve_may_read(const char *who, const char *stream)
{
    if (!curve.on)
        return 1; /* no CURVE, no identities: development stacks only */
    if (!who || !*who)
        return 0;
    /* Every program of deploy/services.conf (the gateway too: it follows the people stream)
     * reads exactly the streams that file gives it. */
    if (is_service(who) || strcmp(who, GATEWAY) == 0)
        return as_stream_consumed_by(stream, who);
    const allowed_key_t *a = find_name(who);
    if (!a || !a->reads)
        return 0;
    size_t n = strlen(stream);
    for (const char *p = a->reads; *p;) {
        size_t len = strcspn(p, ",");
        if ((len == 1 && *p == '*') || (len == n && strncmp(p, stream, n) == 0))
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int empty(const char *s)
{
    return !s || !*s;
}

int as_curve_authorize(const char *who, const As__Principal *p, const char **why)
{
    int claimed =
        p && (!empty(p->subject) || !empty(p->role) || !empty(p->site) || !empty(p->region));
    if (!curve.on)
        return 0; /* no CURVE, no identities: development stacks only */
    if (!who || !*who) {
        *why = "the connection has no CURVE identity";
        return -1;
    }
    /* Any program's key may act as itself: {role: service, subject: <its name>}, no scope (the
     * gateway asks the people service who a caller is this way). */
    int program = is_service(who) || strcmp(who, GATEWAY) == 0;
    if (program && claimed && !empty(p->role) && strcmp(p->role, "service") == 0 &&
        !empty(p->subject) && strcmp(p->subject, who) == 0 && empty(p->site) && empty(p->region))
        return 0;
    if (strcmp(who, GATEWAY) == 0) {
        if (claimed && p->role && strcmp(p->role, "service") == 0) {
            *why = "the gateway acts for users, not for services";
            return -1;
        }
        return 0;
    }
    if (is_service(who)) {
        if (claimed) {
            *why = "a service's key acts only as that service";
            return -1;
        }
        return 0;
    }
    if (claimed) {
        *why = "this key may not act for anyone";
        return -1;
    }
    return 0;
}

int as_curve_is_service(const char *who)
{
    return curve.on && who && is_service(who);
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
    char who[NAME_MAX_LEN + 1] = "";
    char key[41] = "";
    int events =
        lens[2] == strlen(ZAP_DOMAIN_EVENTS) && memcmp(frames[2], ZAP_DOMAIN_EVENTS, lens[2]) == 0;
    if (n >= 7 && lens[5] == 5 && memcmp(frames[5], "CURVE", 5) == 0 && lens[6] == 32) {
        zmq_z85_encode(key, frames[6], 32);
        for (int i = 0; i < curve.nallowed; i++) {
            if (strcmp(curve.allowed[i].key, key) == 0) {
                if (events && !as_curve_may_read(curve.allowed[i].name, curve.self)) {
                    text = "this key does not consume the stream";
                    snprintf(who, sizeof who, "%s", curve.allowed[i].name);
                    break;
                }
                status = "200";
                text = "OK";
                snprintf(who, sizeof who, "%s", curve.allowed[i].name);
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
        if (who[0])
            AS_WARN("subscription refused: the key does not consume this stream",
                    "peer=%s name=%s stream=%s", addr, who, curve.self);
        else
            AS_WARN("connection refused: unknown CURVE key", "peer=%s key=%.8s…", addr,
                    key[0] ? key : "none");
        who[0] = '\0';
    }
    const void *out[6] = {"1.0", frames[1], status, text, who, ""};
    size_t olens[6] = {3, lens[1], 3, strlen(text), strlen(who), 0};
    as_zsock_send(zs, out, olens, 6);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static void free_allowed(void)
{
    for (int i = 0; i < curve.nallowed; i++)
        free(curve.allowed[i].reads);
    free(curve.allowed);
    curve.allowed = NULL;
    curve.nallowed = 0;
}

/* Read the allow-list: lines `name z85-key [reads=STREAM,...]`, `#` comments and blank lines.
 * Anything else, a duplicate name or key, is an error: the list is never read in part. */
static int load_allowed(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, cap_keys = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *save = NULL, *name = strtok_r(line, " \t", &save);
        if (!name || name[0] == '#')
            continue;
        char *key = strtok_r(NULL, " \t", &save), *grant = strtok_r(NULL, " \t", &save);
        char *extra = grant ? strtok_r(NULL, " \t", &save) : NULL;
        if (!valid_name(name) || !key || strlen(key) != 40 || extra ||
            (grant && (strncmp(grant, "reads=", 6) != 0 || !grant[6]))) {
            snprintf(err, errlen,
                     "%s line %d: expected `name z85-key [reads=STREAM,...]` (name: 1..%d of "
                     "a-z 0-9 _ - .)",
                     path, lineno, NAME_MAX_LEN);
            rc = -1;
            break;
        }
        if (grant && (strcmp(name, GATEWAY) == 0 || is_service(name))) {
            snprintf(err, errlen, "%s line %d: %s's rights come from its name, not a grant", path,
                     lineno, name);
            rc = -1;
            break;
        }
        for (int i = 0; i < curve.nallowed; i++) {
            if (strcmp(curve.allowed[i].name, name) == 0 ||
                strcmp(curve.allowed[i].key, key) == 0) {
                snprintf(err, errlen, "%s line %d: name %s or its key is listed twice", path,
                         lineno, name);
                rc = -1;
            }
        }
        if (rc < 0)
            break;
        if (curve.nallowed == cap_keys) {
            int nc = cap_keys ? cap_keys * 2 : 16;
            allowed_key_t *na = realloc(curve.allowed, (size_t)nc * sizeof *na);
            if (!na) {
                snprintf(err, errlen, "out of memory reading %s", path);
                rc = -1;
                break;
            }
            curve.allowed = na;
            cap_keys = nc;
        }
        allowed_key_t *a = &curve.allowed[curve.nallowed];
        memset(a, 0, sizeof *a);
        snprintf(a->name, sizeof a->name, "%s", name);
        memcpy(a->key, key, 41);
        if (grant && !(a->reads = strdup(grant + 6))) {
            snprintf(err, errlen, "out of memory reading %s", path);
            rc = -1;
            break;
        }
        curve.nallowed++;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
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
    free_allowed();
    memset(&curve, 0, sizeof curve);
    snprintf(curve.dir, sizeof curve.dir, "%s", keys_dir);
    snprintf(curve.self, sizeof curve.self, "%s", self);
    char path[700];
    snprintf(path, sizeof path, "%s/%s.key", keys_dir, self);
    if (load_key_file(path, curve.public_key, curve.secret_key, err, errlen) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/allowed", keys_dir);
    if (load_allowed(path, err, errlen) < 0) {
        free_allowed();
        return -1;
    }
    curve.zap = as_zsock_new(loop, zctx, ZMQ_REP, "inproc://zeromq.zap.01", 1, 0, 1000, zap_request,
                             NULL, err, errlen);
    if (!curve.zap) {
        free_allowed();
        return -1;
    }
    curve.on = 1;
    AS_INFO("CURVE on", "keys=%s self=%s allowed=%d", keys_dir, self, curve.nallowed);
    return 0;
}

void as_curve_shutdown(void)
{
    as_zsock_destroy(&curve.zap);
    free_allowed();
}

int as_curve_server(void *sock, char *err, size_t errlen)
{
    int one = 1, type = 0;
    size_t tlen = sizeof type;
    zmq_getsockopt(sock, ZMQ_TYPE, &type, &tlen);
    const char *domain = type == ZMQ_PUB || type == ZMQ_XPUB ? ZAP_DOMAIN_EVENTS : ZAP_DOMAIN_CMD;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve.secret_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
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
    for (size_t i = 0; i < 2 * NSERVICES; i++)
        if (as_cfg_endpoints[i] && strcmp(as_cfg_endpoints[i], endpoint) == 0)
            return SERVICES[i / 2];
    return NULL;
}
