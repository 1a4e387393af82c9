/* zsock.c — a ZeroMQ socket watched by the libuv loop, plus small shared helpers (ids, clock,
 * packing).
 *
 * ZMQ_FD only signals edges, so a readable wake-up is followed by draining the socket until
 * ZMQ_EVENTS reports nothing, at most ZSOCK_BATCH messages per loop iteration; if more remain, an
 * idle handle brings us back on the next iteration. Sending can also consume an edge, so every
 * send schedules one more check. */
#include "as/bus.h"
#include "as/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

#define ZSOCK_BATCH      256
#define ZSOCK_MAX_FRAMES 8

struct as_zsock {
    uv_poll_t poll;
    uv_idle_t idle;
    void *sock;
    as_zsock_cb cb;
    void *ud;
    int open_handles;
    int closing;
    int in_cb;
    zmq_msg_t *cur; /* the last frame of the message being handed to cb, NULL otherwise */
};

static void zs_drain(as_zsock_t *zs);

/* From curve.c. */
int as_curve_enabled(void);
int as_curve_server(void *sock, char *err, size_t errlen);
const char *as_curve_peer_of(const char *endpoint);

static void zs_idle_cb(uv_idle_t *h)
{
    zs_drain(h->data);
}

static void zs_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zs_drain(h->data);
}

static void zs_drain(as_zsock_t *zs)
{
    for (int i = 0; i < ZSOCK_BATCH && !zs->closing; i++) {
        int ev = 0;
        size_t sz = sizeof ev;
        if (zmq_getsockopt(zs->sock, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN)) {
            uv_idle_stop(&zs->idle);
            return;
        }
        zmq_msg_t parts[ZSOCK_MAX_FRAMES];
        const void *frames[ZSOCK_MAX_FRAMES];
        size_t lens[ZSOCK_MAX_FRAMES];
        int n = 0, too_many = 0, more = 1, failed = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, zs->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                failed = 1;
                break;
            }
            more = zmq_msg_more(&m);
            if (n < ZSOCK_MAX_FRAMES)
                parts[n++] = m;
            else {
                too_many = 1;
                zmq_msg_close(&m);
            }
        }
        if (!failed && !too_many && n > 0) {
            for (int k = 0; k < n; k++) {
                frames[k] = zmq_msg_data(&parts[k]);
                lens[k] = zmq_msg_size(&parts[k]);
            }
            zs->in_cb = 1;
            zs->cur = &parts[n - 1];
            zs->cb(zs, frames, lens, n, zs->ud);
            zs->cur = NULL;
            zs->in_cb = 0;
        } else if (too_many) {
            AS_WARN("frame refused", "reason=\"more than %d parts\"", ZSOCK_MAX_FRAMES);
        }
        for (int k = 0; k < n; k++)
            zmq_msg_close(&parts[k]);
    }
    if (!zs->closing)
        uv_idle_start(&zs->idle, zs_idle_cb);
}

as_zsock_t *as_zsock_new(uv_loop_t *loop, void *zctx, int type, const char *endpoint, int bind,
                         int64_t max_msg, int hwm, as_zsock_cb cb, void *user_data, char *err,
                         size_t errlen)
{
    as_zsock_t *zs = calloc(1, sizeof *zs);
    if (!zs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    zs->sock = zmq_socket(zctx, type);
    if (!zs->sock) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        free(zs);
        return NULL;
    }
    int linger = 0, ipv6 = 1;
    zmq_setsockopt(zs->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(zs->sock, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (max_msg > 0)
        zmq_setsockopt(zs->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    if (hwm > 0) {
        zmq_setsockopt(zs->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(zs->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (as_curve_enabled() && strncmp(endpoint, "tcp://", 6) == 0) {
        int crc;
        if (bind) {
            crc = as_curve_server(zs->sock, err, errlen);
        } else {
            const char *peer = as_curve_peer_of(endpoint);
            if (!peer) {
                snprintf(err, errlen, "CURVE is on but %s is no known service endpoint", endpoint);
                crc = -1;
            } else {
                crc = as_curve_client(zs->sock, peer, err, errlen);
            }
        }
        if (crc < 0) {
            zmq_close(zs->sock);
            free(zs);
            return NULL;
        }
    }
    int rc = bind ? zmq_bind(zs->sock, endpoint) : zmq_connect(zs->sock, endpoint);
    if (rc != 0) {
        snprintf(err, errlen, "%s %s: %s", bind ? "bind" : "connect", endpoint,
                 zmq_strerror(errno));
        zmq_close(zs->sock);
        free(zs);
        return NULL;
    }
    int fd;
    size_t fdlen = sizeof fd;
    zmq_getsockopt(zs->sock, ZMQ_FD, &fd, &fdlen);
    zs->cb = cb;
    zs->ud = user_data;
    uv_poll_init(loop, &zs->poll, fd);
    uv_idle_init(loop, &zs->idle);
    zs->poll.data = zs;
    zs->idle.data = zs;
    zs->open_handles = 2;
    uv_poll_start(&zs->poll, UV_READABLE, zs_poll_cb);
    uv_idle_start(&zs->idle, zs_idle_cb);
    return zs;
}

int as_zsock_send(as_zsock_t *zs, const void *const *frames, const size_t *lens, int nframes)
{
    if (zs->closing)
        return -1;
    int rc = 0;
    for (int i = 0; i < nframes; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < nframes ? ZMQ_SNDMORE : 0);
        if (zmq_send(zs->sock, frames[i], lens[i], flags) < 0) {
            rc = -1; /* a multipart message is atomic: nothing of it was queued */
            break;
        }
    }
    uv_idle_start(&zs->idle, zs_idle_cb);
    return rc;
}

const char *as_zsock_user_id(const as_zsock_t *zs)
{
    if (!zs->cur)
        return NULL;
    const char *u = zmq_msg_gets(zs->cur, "User-Id");
    return u && *u ? u : NULL;
}

void *as_zsock_raw(as_zsock_t *zs)
{
    return zs->sock;
}

static void zs_close_cb(uv_handle_t *h)
{
    as_zsock_t *zs = h->data;
    if (--zs->open_handles == 0)
        free(zs);
}

void as_zsock_destroy(as_zsock_t **zs_p)
{
    if (!zs_p || !*zs_p)
        return;
    as_zsock_t *zs = *zs_p;
    *zs_p = NULL;
    zs->closing = 1;
    uv_poll_stop(&zs->poll);
    uv_idle_stop(&zs->idle);
    zmq_close(zs->sock);
    uv_close((uv_handle_t *)&zs->poll, zs_close_cb);
    uv_close((uv_handle_t *)&zs->idle, zs_close_cb);
}

void as_new_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(((uint64_t)ts.tv_nsec >> (i % 8)) ^ (uint64_t)rand());
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

int64_t as_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint8_t *as_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}
