/* it_slowclients.c — slow clients cannot starve the gateway.
 *
 * 1,100 attacking connections, spread over the source addresses 127.0.0.2 ... 127.0.0.17 (so
 * that the per-address cap alone does not stop them and the gateway has to shed), each send the
 * headers of a POST announcing a 10,000-byte body and then one body byte every 10 s; whenever
 * the gateway closes one, it comes back 200 ms later. Meanwhile a normal client on 127.0.0.1
 * asks GET /healthz four times a second for 40 s, each on a new connection with a 1 s budget.
 * At least 95 % of those must be answered 200 within their second; /metrics must count the
 * connections shed or timed out and the gateway's log must name them.
 *
 * Environment (tests/run.sh): AS_HTTP_PORT, AS_TOKEN_ADMIN, AS_VAR. Prints TAP lines; latencies
 * as comments (never asserted). */
#include "it_tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define N_ATTACKERS 1100
#define N_ADDRS     16
#define PROBE_MS    250
#define ATTACK_MS   40000
#define RAMP_MS     8000

static int port;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct attacker {
    int fd;
    int connected;
    int sent_headers;
    long long next_ms; /* next byte, or the reconnect time when fd < 0 */
} attacker_t;

static attacker_t att[N_ATTACKERS];
static long long att_closed, att_connects;

static void att_connect(int i)
{
    attacker_t *a = &att[i];
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (a->fd < 0) {
        a->next_ms = now_ms() + 1000;
        return;
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % N_ADDRS));
    if (bind(a->fd, (struct sockaddr *)&src, sizeof src) != 0) {
        close(a->fd);
        a->fd = -1;
        a->next_ms = now_ms() + 1000;
        return;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    int rc = connect(a->fd, (struct sockaddr *)&dst, sizeof dst);
    if (rc != 0 && errno != EINPROGRESS) {
        close(a->fd);
        a->fd = -1;
        a->next_ms = now_ms() + 200;
        return;
    }
    att_connects++;
    a->connected = rc == 0;
    a->sent_headers = 0;
    a->next_ms = now_ms();
}

static void att_drop(int i)
{
    close(att[i].fd);
    att[i].fd = -1;
    att[i].next_ms = now_ms() + 200;
    att_closed++;
}

/* One pass over the attackers: send what is due, notice closed connections, reconnect. */
static void att_pump(struct pollfd *pfd, int wait_ms)
{
    for (int i = 0; i < N_ATTACKERS; i++) {
        pfd[i].fd = att[i].fd;
        pfd[i].events = att[i].connected ? POLLIN : POLLOUT;
        pfd[i].revents = 0;
    }
    poll(pfd, N_ATTACKERS, wait_ms);
    long long now = now_ms();
    static const char hdr[] = "POST /v1/tickets HTTP/1.1\r\nHost: gateway\r\nContent-Type: "
                              "application/json\r\nContent-Length: 10000\r\n\r\n";
    for (int i = 0; i < N_ATTACKERS; i++) {
        attacker_t *a = &att[i];
        if (a->fd < 0) {
            if (now >= a->next_ms)
                att_connect(i);
            continue;
        }
        if (pfd[i].revents & (POLLERR | POLLHUP)) {
            att_drop(i);
            continue;
        }
        if (!a->connected && (pfd[i].revents & POLLOUT)) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) {
                att_drop(i);
                continue;
            }
            a->connected = 1;
        }
        if (a->connected && (pfd[i].revents & POLLIN)) {
            char buf[1024];
            ssize_t n = recv(a->fd, buf, sizeof buf, 0);
            if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
                att_drop(i);
                continue;
            }
        }
        if (a->connected && now >= a->next_ms) {
            ssize_t n = a->sent_headers ? send(a->fd, "{", 1, MSG_NOSIGNAL)
                                        : send(a->fd, hdr, sizeof hdr - 1, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                att_drop(i);
                continue;
            }
            a->sent_headers = 1;
            a->next_ms = now + 10000;
        }
    }
}

/* One blocking request from 127.0.0.1 with a 1 s budget; returns the HTTP status (0: none in
 * time) and the latency. `resp` (optional) gets the response text. */
static int request_within(const char *req, long long *ms, char *resp, size_t resp_cap,
                          long long budget_ms)
{
    long long t0 = now_ms();
    int status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = budget_ms / 1000, .tv_usec = (budget_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    static char buf[4 << 20]; /* /metrics of a long-running stack is large */
    size_t have = 0;
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 &&
        send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
        while (have < sizeof buf - 1 && now_ms() - t0 < budget_ms) {
            ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
    }
    buf[have] = '\0';
    close(fd);
    *ms = now_ms() - t0;
    if (*ms > budget_ms || sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    if (resp)
        snprintf(resp, resp_cap, "%s", buf);
    return status;
}

static int request(const char *req, long long *ms, char *resp, size_t resp_cap)
{
    return request_within(req, ms, resp, resp_cap, 1000);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long long metric(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? atoll(p + strlen(name)) : -1;
}

int main(void)
{
    const char *p = getenv("AS_HTTP_PORT");
    const char *admin = getenv("AS_TOKEN_ADMIN");
    const char *var = getenv("AS_VAR");
    if (!p || !admin || !var) {
        printf("not ok - environment: AS_HTTP_PORT, AS_TOKEN_ADMIN and AS_VAR are needed\n");
        return 1;
    }
    port = atoi(p);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < N_ATTACKERS + 100) {
        printf("ok - # SKIP the file descriptor limit (%llu) is below %d\n",
               (unsigned long long)rl.rlim_cur, N_ATTACKERS + 100);
        return 0;
    }
    long long ms;
    check(request("GET /healthz HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n", &ms, NULL, 0) ==
              200,
          "before the attack /healthz answers", "no 200");

    static struct pollfd pfd[N_ATTACKERS];
    for (int i = 0; i < N_ATTACKERS; i++)
        att_connect(i);
    long long start = now_ms();
    while (now_ms() - start < RAMP_MS)
        att_pump(pfd, 50);

    enum { MAXP = ATTACK_MS / PROBE_MS + 10 };
    static long long lat[MAXP];
    int probes = 0, answered = 0;
    long long t_end = now_ms() + ATTACK_MS, next_probe = now_ms();
    while (now_ms() < t_end && probes < MAXP) {
        att_pump(pfd, 20);
        if (now_ms() >= next_probe) {
            next_probe += PROBE_MS;
            int st = request("GET /healthz HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n", &ms,
                             NULL, 0);
            lat[probes++] = ms;
            if (st == 200)
                answered++;
        }
    }
    int open_att = 0;
    for (int i = 0; i < N_ATTACKERS; i++)
        open_att += att[i].fd >= 0;
    qsort(lat, (size_t)probes, sizeof lat[0], cmp_ll);
    printf("# %d attackers on %d addresses: %lld connects, %lld closed by the gateway, %d open at "
           "the end\n",
           N_ATTACKERS, N_ADDRS, att_connects, att_closed, open_att);
    printf("# normal client: %d of %d answered 200 within 1 s; latency p50 %lld ms, p95 %lld ms, "
           "max %lld ms\n",
           answered, probes, probes ? lat[probes / 2] : 0, probes ? lat[probes * 95 / 100] : 0,
           probes ? lat[probes - 1] : 0);
    char why[160];
    snprintf(why, sizeof why, "%d of %d answered", answered, probes);
    check(probes > 100 && answered * 100 >= probes * 95,
          "under 1,100 slow connections a normal client gets >= 95 % of its answers within 1 s",
          why);

    for (int i = 0; i < N_ATTACKERS; i++)
        if (att[i].fd >= 0)
            close(att[i].fd);

    /* Without pressure, a lone slow body (one byte a second) is cut off with 408 once its
     * grace (5 s) has passed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + N_ADDRS);
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    dst.sin_port = htons((uint16_t)port);
    char got[4096];
    size_t have = 0;
    int closed = 0;
    long long t0 = now_ms();
    if (bind(fd, (struct sockaddr *)&src, sizeof src) == 0 &&
        connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0) {
        static const char hdr[] = "POST /v1/tickets HTTP/1.1\r\nHost: g\r\nContent-Length: "
                                  "10000\r\n\r\n";
        send(fd, hdr, sizeof hdr - 1, MSG_NOSIGNAL);
        while (!closed && now_ms() - t0 < 20000) {
            send(fd, "{", 1, MSG_NOSIGNAL);
            struct pollfd one = {.fd = fd, .events = POLLIN};
            if (poll(&one, 1, 1000) > 0) {
                ssize_t n = recv(fd, got + have, sizeof got - 1 - have, 0);
                if (n > 0)
                    have += (size_t)n;
                else
                    closed = 1;
            }
        }
    }
    got[have] = '\0';
    close(fd);
    printf("# a lone body at 1 byte/s was cut off after %lld ms\n", now_ms() - t0);
    check(closed && strncmp(got, "HTTP/1.1 408", 12) == 0,
          "a body trickling below the minimum rate is answered 408 and closed",
          have ? "closed without 408" : "not closed within 20 s");

    static char resp[4 << 20];
    char req[512];
    snprintf(req, sizeof req,
             "GET /metrics HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\nConnection: "
             "close\r\n\r\n",
             admin);
    int st = 0;
    for (int tries = 0; tries < 5 && st != 200; tries++)
        st = request_within(req, &ms, resp, sizeof resp, 10000);
    long long shed = metric(resp, "aftersales_http_connections_refused_total{reason=\"shed\"} ");
    long long tmo = metric(resp, "aftersales_http_connections_refused_total{reason=\"timeout\"} ");
    printf("# /metrics: shed %lld, timed out %lld\n", shed, tmo);
    check(st == 200 && shed > 0, "/metrics counts the connections shed", "no shed count");
    check(st == 200 && tmo > 0, "/metrics counts the requests cut off for slowness",
          "no timeout count");

    char path[1024];
    snprintf(path, sizeof path, "%s/log/gateway.log", var);
    FILE *f = fopen(path, "r");
    int logged_shed = 0, logged_tmo = 0;
    char line[2048];
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "refused") && strstr(line, "connection_shed") &&
            strstr(line, "peer=127.0.0."))
            logged_shed = 1;
        if (strstr(line, "refused") && strstr(line, "request_timeout"))
            logged_tmo = 1;
    }
    if (f)
        fclose(f);
    check(logged_shed, "the gateway logs each shed connection with its address",
          "no connection_shed line in the gateway log");
    check(logged_tmo, "the gateway logs requests cut off for slowness",
          "no request_timeout line in the gateway log");
    return failures ? 1 : 0;
}
