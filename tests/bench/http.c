/* http.c — HTTP/1.1 client connections for the load generator: non-blocking TCP sockets watched
 * by the generator's zmq_poll, keep-alive, up to `pipeline` requests in flight per connection
 * (the gateway answers pipelined requests in order), responses parsed with http_parser.
 * A connection that fails answers its requests in flight with status 0 and reconnects. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_PIPE 64

typedef struct hconn {
    struct hclient *c;
    int fd;
    int state; /* 0 down, 1 connecting, 2 up */
    char *out;
    size_t olen, ooff, ocap;
    http_parser p;
    int fifo[MAX_PIPE];
    int head, n;
    char body[512];
    size_t blen;
    int64_t retry_at;
} hconn_t;

struct hclient {
    char host[64];
    int port;
    int nconns, pipeline, rr;
    hconn_t *conns;
    int pollmap[1024];
    int npoll;
    hreply_fn fn;
    void *ud;
    http_parser_settings settings;
};

static void conn_fail(hconn_t *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->state = 0;
    h->olen = h->ooff = 0;
    h->retry_at = bench_now_ns() + 50000000; /* 50 ms */
    while (h->n > 0) {
        int slot = h->fifo[h->head];
        h->head = (h->head + 1) % MAX_PIPE;
        h->n--;
        h->c->fn(h->c->ud, slot, 0, "connection failed", 17);
    }
    h->head = 0;
}

static void conn_open(hconn_t *h)
{
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        h->retry_at = bench_now_ns() + 100000000;
        return;
    }
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->c->port)};
    inet_pton(AF_INET, h->c->host, &a.sin_addr);
    http_parser_init(&h->p, HTTP_RESPONSE);
    h->p.data = h;
    h->blen = 0;
    if (connect(h->fd, (struct sockaddr *)&a, sizeof a) == 0)
        h->state = 2;
    else if (errno == EINPROGRESS)
        h->state = 1;
    else {
        close(h->fd);
        h->fd = -1;
        h->retry_at = bench_now_ns() + 100000000;
    }
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    hconn_t *h = p->data;
    size_t room = sizeof h->body - 1 - h->blen;
    if (len > room)
        len = room;
    memcpy(h->body + h->blen, at, len);
    h->blen += len;
    h->body[h->blen] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    hconn_t *h = p->data;
    if (h->n == 0)
        return 1; /* an answer nobody asked for */
    int slot = h->fifo[h->head];
    h->head = (h->head + 1) % MAX_PIPE;
    h->n--;
    h->c->fn(h->c->ud, slot, (int)p->status_code, h->body, h->blen);
    h->blen = 0;
    return 0;
}

hclient_t *hc_new(const char *host, int port, int conns, int pipeline, hreply_fn fn, void *ud)
{
    hclient_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->nconns = conns < 1 ? 1 : conns > 1000 ? 1000 : conns;
    c->pipeline = pipeline < 1 ? 1 : pipeline > MAX_PIPE ? MAX_PIPE : pipeline;
    c->fn = fn;
    c->ud = ud;
    http_parser_settings_init(&c->settings);
    c->settings.on_body = on_body;
    c->settings.on_message_complete = on_message_complete;
    c->conns = calloc((size_t)c->nconns, sizeof *c->conns);
    if (!c->conns) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < c->nconns; i++) {
        c->conns[i].c = c;
        c->conns[i].fd = -1;
        conn_open(&c->conns[i]);
    }
    return c;
}

int hc_capacity(const hclient_t *c)
{
    return c->nconns * c->pipeline;
}

int hc_inflight(const hclient_t *c)
{
    int n = 0;
    for (int i = 0; i < c->nconns; i++)
        n += c->conns[i].n;
    return n;
}

static void conn_flush(hconn_t *h)
{
    while (h->state == 2 && h->ooff < h->olen) {
        ssize_t n = send(h->fd, h->out + h->ooff, h->olen - h->ooff, MSG_NOSIGNAL);
        if (n > 0) {
            h->ooff += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            conn_fail(h);
            return;
        }
    }
    if (h->ooff == h->olen)
        h->ooff = h->olen = 0;
}

int hc_send(hclient_t *c, int slot, const char *req, size_t len)
{
    hconn_t *best = NULL;
    for (int k = 0; k < c->nconns; k++) {
        hconn_t *h = &c->conns[(c->rr + k) % c->nconns];
        if (h->state == 0 || h->n >= c->pipeline)
            continue;
        if (!best || h->n < best->n)
            best = h;
        if (h->n == 0)
            break;
    }
    if (!best)
        return -1;
    c->rr = (int)(best - c->conns + 1) % c->nconns;
    hconn_t *h = best;
    if (h->olen + len > h->ocap) {
        size_t cap = (h->olen + len) * 2;
        char *o = realloc(h->out, cap);
        if (!o)
            return -1;
        h->out = o;
        h->ocap = cap;
    }
    memcpy(h->out + h->olen, req, len);
    h->olen += len;
    h->fifo[(h->head + h->n) % MAX_PIPE] = slot;
    h->n++;
    conn_flush(h);
    return 0;
}

int hc_pollitems(hclient_t *c, void *items_v, int max)
{
    zmq_pollitem_t *items = items_v;
    int64_t now = bench_now_ns();
    c->npoll = 0;
    for (int i = 0; i < c->nconns && c->npoll < max && c->npoll < 1024; i++) {
        hconn_t *h = &c->conns[i];
        if (h->state == 0 && now >= h->retry_at)
            conn_open(h);
        if (h->fd < 0)
            continue;
        zmq_pollitem_t *it = &items[c->npoll];
        it->socket = NULL;
        it->fd = h->fd;
        it->events = ZMQ_POLLIN;
        if (h->state == 1 || h->ooff < h->olen)
            it->events |= ZMQ_POLLOUT;
        it->revents = 0;
        c->pollmap[c->npoll++] = i;
    }
    return c->npoll;
}

static void conn_read(hconn_t *h)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(h->fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t used = http_parser_execute(&h->p, &h->c->settings, buf, (size_t)n);
            if (h->fd < 0)
                return; /* failed inside a callback */
            if (used != (size_t)n || HTTP_PARSER_ERRNO(&h->p) != HPE_OK) {
                conn_fail(h);
                return;
            }
            if ((size_t)n < sizeof buf)
                return;
        } else if (n == 0) {
            http_parser_execute(&h->p, &h->c->settings, NULL, 0);
            conn_fail(h); /* the server closed: requests still in flight fail */
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            conn_fail(h);
            return;
        }
    }
}

void hc_handle(hclient_t *c, const void *items_v, int n)
{
    const zmq_pollitem_t *items = items_v;
    for (int k = 0; k < n && k < c->npoll; k++) {
        hconn_t *h = &c->conns[c->pollmap[k]];
        if (!items[k].revents || h->fd != items[k].fd)
            continue;
        if (h->state == 1 && (items[k].revents & (ZMQ_POLLOUT | ZMQ_POLLERR))) {
            int e = 0;
            socklen_t l = sizeof e;
            getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &e, &l);
            if (e) {
                conn_fail(h);
                continue;
            }
            h->state = 2;
        }
        if (items[k].revents & ZMQ_POLLIN)
            conn_read(h);
        if (h->fd >= 0 && (items[k].revents & ZMQ_POLLERR) && h->state != 2)
            conn_fail(h);
        if (h->fd >= 0)
            conn_flush(h);
    }
}

void hc_free(hclient_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nconns; i++) {
        if (c->conns[i].fd >= 0)
            close(c->conns[i].fd);
        free(c->conns[i].out);
    }
    free(c->conns);
    free(c);
}
