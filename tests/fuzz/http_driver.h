/* http_driver.h — drive the gateway's HTTP layer (services/gateway/http.c) with fuzz input.
 *
 * One as_http_server lives for the whole fuzzing run on a private libuv loop, bound to an
 * ephemeral port on 127.0.0.1. Each input is one client connection, made with plain sockets
 * from the same thread: the input bytes are written in chunks (the loop runs between chunks, so
 * the server really parses them piecewise), optionally the write side is shut down, everything
 * the server answers is read back, then the client closes and the loop runs until the server
 * has released the connection (its handles are gone), so nothing carries over to the next input.
 *
 * What the server sends is checked with http-parser in response mode: it must be a sequence of
 * well-formed HTTP/1.1 responses (interim 100 Continue allowed), one per request handed to the
 * application, in order, optionally followed by one error response of the layer itself (status
 * 400..599 with its JSON error body); HEAD answers carry no body. A connection the server does not
 * release within 5 seconds, or an answer that does not parse, is a failure (abort). */
#ifndef FUZZ_HTTP_DRIVER_H
#define FUZZ_HTTP_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* The application under test. `on_request` gets every complete request (it then owns it, as
 * with a real server). `tick` (may be NULL) runs between loop turns for deferred work and
 * returns nonzero while the application still holds requests. `on_response` (may be NULL) sees
 * each complete response the client received to a request the application answered: its status
 * and body (NUL-terminated). */
typedef struct fz_http_app {
    as_http_request_cb on_request;
    int (*tick)(void *ud);
    void (*on_response)(int status, const char *body, size_t len, void *ud);
    void *ud;
} fz_http_app_t;

/* Start the server (once per process). `limits` may be NULL for the layer's defaults. */
void fz_http_init(const as_http_limits_t *limits, const fz_http_app_t *app);

/* The server started by fz_http_init (to install hooks as a real program would). */
as_http_server_t *fz_http_server(void);

/* How an input is fed to the server. */
typedef struct fz_http_plan {
    unsigned chunking; /* 0: one write; 1: growing chunks 1, 2, 3, 5, 8, ...; 2: two halves;
                          3: 7-byte chunks */
    int half_close;    /* shut down the client's write side after the last chunk */
} fz_http_plan_t;

/* Run one connection carrying data[0..size) (see the file comment). */
void fz_http_exchange(const uint8_t *data, size_t size, const fz_http_plan_t *plan);

#endif
