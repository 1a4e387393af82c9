/* events_stream.h — Server-Sent Events on GET /v1/events (see events_stream.c). */
#ifndef GATEWAY_EVENTS_STREAM_H
#define GATEWAY_EVENTS_STREAM_H

#include "gateway.h"

#include <uv.h>

void gw_sse_configure(uv_loop_t *loop, long heartbeat_s, long max_per_principal,
                      long max_duration_s);
/* 1 when the request asks for an event stream (Accept: text/event-stream). */
int gw_sse_wanted(as_http_req_t *r);
/* Start streaming the feed to `r` as principal `p` (copied); answers 400/429/503 itself. */
void gw_sse_start(as_http_req_t *r, const gw_principal_t *p);
/* End the streams of a revoked token (token_id) or of a changed user (login); either may be NULL.
 */
void gw_sse_drop(const char *token_id, const char *login);
/* End every stream (the gateway drains or stops). */
void gw_sse_shutdown(void);
unsigned gw_sse_count(void);

#endif
