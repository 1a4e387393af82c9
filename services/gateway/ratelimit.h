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

/* The key a principal is limited by: its subject (one bucket per principal, whatever token it
 * uses). Kept in one place so that another principal source (an accounts service, token hashes)
 * only changes this function. */
const char *gw_rl_principal_key(const gw_principal_t *pr, char *buf, size_t n);
/* The address part of a peer "a.b.c.d:port" or "[v6]:port". */
const char *gw_rl_address_key(const char *peer, char *buf, size_t n);

#endif
