/* ratelimit.c — token buckets per key (see ratelimit.h). */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define RL_PRUNE_AT 20000 /* keys; beyond this, full (idle) buckets are forgotten */

typedef struct bucket {
    char key[80];
    double tokens;
    uint64_t last_ms;
    UT_hash_handle hh;
} bucket_t;

struct gw_ratelimit {
    double rate, burst;
    bucket_t *buckets;
    unsigned n;
    uint64_t refused;
};

gw_ratelimit_t *gw_rl_new(double rate, double burst)
{
    gw_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    return rl;
}

void gw_rl_free(gw_ratelimit_t **rl_p)
{
    if (!rl_p || !*rl_p)
        return;
    bucket_t *b, *tmp;
    HASH_ITER(hh, (*rl_p)->buckets, b, tmp)
    {
        HASH_DEL((*rl_p)->buckets, b);
        free(b);
    }
    free(*rl_p);
    *rl_p = NULL;
}

static void refill(const gw_ratelimit_t *rl, bucket_t *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
}

static void prune(gw_ratelimit_t *rl, uint64_t now_ms)
{
    bucket_t *b, *tmp;
    HASH_ITER(hh, rl->buckets, b, tmp)
    {
        refill(rl, b, now_ms);
        if (b->tokens >= rl->burst) {
            HASH_DEL(rl->buckets, b);
            free(b);
            rl->n--;
        }
    }
}

unsigned gw_rl_take(gw_ratelimit_t *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->rate <= 0 || !key)
        return 0;
    bucket_t *b = NULL;
    HASH_FIND_STR(rl->buckets, key, b);
    if (!b) {
        if (rl->n >= RL_PRUNE_AT)
            prune(rl, now_ms);
        b = calloc(1, sizeof *b);
        if (!b)
            return 0; /* out of memory: do not refuse for that */
        snprintf(b->key, sizeof b->key, "%s", key);
        b->tokens = rl->burst;
        b->last_ms = now_ms;
        HASH_ADD_STR(rl->buckets, key, b);
        rl->n++;
    }
    refill(rl, b, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    rl->refused++;
    double wait_s = (1.0 - b->tokens) / rl->rate;
    unsigned s = (unsigned)wait_s;
    return s < wait_s ? s + 1 : (s ? s : 1);
}

void gw_rl_refund(gw_ratelimit_t *rl, const char *key)
{
    if (!rl || rl->rate <= 0 || !key)
        return;
    bucket_t *b = NULL;
    HASH_FIND_STR(rl->buckets, key, b);
    if (b && (b->tokens += 1.0) > rl->burst)
        b->tokens = rl->burst;
}

uint64_t gw_rl_refused(const gw_ratelimit_t *rl)
{
    return rl ? rl->refused : 0;
}

const char *gw_rl_principal_key(const gw_principal_t *pr, char *buf, size_t n)
{
    snprintf(buf, n, "subject:%s", pr ? pr->subject : "");
    return buf;
}

const char *gw_rl_address_key(const char *peer, char *buf, size_t n)
{
    const char *p = peer ? peer : "unknown";
    size_t len = strlen(p);
    if (p[0] == '[') {
        const char *e = strchr(p, ']');
        len = e ? (size_t)(e - p + 1) : len;
    } else {
        const char *c = strrchr(p, ':');
        len = c ? (size_t)(c - p) : len;
    }
    snprintf(buf, n, "%.*s", (int)len, p);
    return buf;
}

/* ---- requests in flight per principal ---- */

typedef struct inflight_key {
    char key[80];
    unsigned n;
    UT_hash_handle hh;
} inflight_key_t;

struct gw_inflight {
    inflight_key_t *keys;
    uint64_t refused;
};

gw_inflight_t *gw_if_new(void)
{
    return calloc(1, sizeof(gw_inflight_t));
}

void gw_if_free(gw_inflight_t **f_p)
{
    if (!f_p || !*f_p)
        return;
    inflight_key_t *k, *tmp;
    HASH_ITER(hh, (*f_p)->keys, k, tmp)
    {
        HASH_DEL((*f_p)->keys, k);
        free(k);
    }
    free(*f_p);
    *f_p = NULL;
}

int gw_if_enter(gw_inflight_t *f, const char *key, unsigned cap)
{
    if (!f || cap == 0)
        return 0;
    inflight_key_t *k = NULL;
    HASH_FIND_STR(f->keys, key, k);
    if (k && k->n >= cap) {
        f->refused++;
        return -1;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return 0; /* out of memory: not counted, let it through */
        snprintf(k->key, sizeof k->key, "%s", key);
        HASH_ADD_STR(f->keys, key, k);
    }
    k->n++;
    return 1;
}

void gw_if_leave(gw_inflight_t *f, const char *key)
{
    if (!f)
        return;
    inflight_key_t *k = NULL;
    HASH_FIND_STR(f->keys, key, k);
    if (!k)
        return;
    if (--k->n == 0) {
        HASH_DEL(f->keys, k);
        free(k);
    }
}

uint64_t gw_if_refused(const gw_inflight_t *f)
{
    return f ? f->refused : 0;
}
