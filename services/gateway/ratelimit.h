/* ratelimit.h — fair share at the gateway: token buckets per client address and per principal.
 *
 * Each key (an address, or a principal's key) has a bucket of `burst` requests refilled at
 * `rate` a second; a request takes one, and when the bucket is empty it is answered 429 with
 * Retry-After (whole seconds until one request is back). Idle keys are forgotten when the table
 * grows large. rate 0 disables a limiter. */
#ifndef GATEWAY_RATELIMIT_H
#define GATEWAY_RATELIMIT_H

#include "auth.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gw_ratelimit gw_ratelimit_t;

gw_ratelimit_t *gw_rl_new(double rate, double burst);
void gw_rl_free(gw_ratelimit_t **rl_p);
/* Take one request for `key` at `now_ms` (a monotonic clock): 0 when allowed, otherwise the
 * seconds to wait (>= 1). */
unsigned gw_rl_take(gw_ratelimit_t *rl, const char *key, uint64_t now_ms);
/* Give back the request taken for `key` (a request that turned out not to count). */
void gw_rl_refund(gw_ratelimit_t *rl, const char *key);
/* Requests refused by this limiter since start. */
uint64_t gw_rl_refused(const gw_ratelimit_t *rl);

/* Requests in flight per principal: a principal may have at most `cap` requests being
 * handled at once (answered or abandoned ends one), so that one heavy reader's requests cannot
 * fill a service's queue ahead of everybody else's. cap 0: no limit. */
typedef struct gw_inflight gw_inflight_t;
gw_inflight_t *gw_if_new(void);
void gw_if_free(gw_inflight_t **f_p);
/* 1 when `key` may start one more request (counted: call gw_if_leave when it ends), 0 when
 * nothing is counted (cap 0, or out of memory), -1 when it already has `cap` in flight. */
int gw_if_enter(gw_inflight_t *f, const char *key, unsigned cap);
void gw_if_leave(gw_inflight_t *f, const char *key);
/* Requests refused by the cap since start. */
uint64_t gw_if_refused(const gw_inflight_t *f);

/* The key a principal is limited by: its subject (one bucket per principal, whatever token it
 * uses). Kept in one place so that another principal source (an accounts service, token hashes)
 * only changes this function. */
const char *gw_rl_principal_key(const gw_principal_t *pr, char *buf, size_t n);
/* The address part of a peer "a.b.c.d:port" or "[v6]:port". */
const char *gw_rl_address_key(const char *peer, char *buf, size_t n);

#endif
