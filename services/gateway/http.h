/* http.h — the gateway's HTTP/1.1 server layer on a libuv loop.
 *
 * Accepts TCP connections, parses requests with http-parser, hands every complete request to
 * one callback and writes the responses, which may be produced at any later time (the gateway
 * answers after a round-trip to a backend service). Everything runs on the loop thread.
 *
 *   keep-alive  HTTP/1.1 persistent connections and HTTP/1.0 "Connection: keep-alive";
 *               "Connection: close" is honoured.
 *   pipelining  Responses leave in request order whatever order they are produced in. At most
 *               `max_pipelined` parsed requests wait for their responses; beyond that the
 *               connection stops reading until responses drain.
 *   errors      Malformed requests (400), oversized headers (431) or bodies (413), unsupported
 *               Transfer-Encoding (501) or Expect (417) are answered by the layer itself with a
 *               JSON body {"error":{"code":"...","message":"..."}} and the connection is closed
 *               after that response.
 *   aborts      A request whose client went away stays valid for its owner; the later response
 *               call is a no-op that frees it (see as_http_req_aborted).
 *   limits      Header and body sizes, idle time, connection count, pipeline depth and the
 *               bytes queued for writing per connection are all bounded.
 *   slow        Every phase of receiving a request has a deadline (headers; body at a minimum
 *               rate after a grace; the whole request): past it, 408 and close. One address
 *               holds at most max_conns_per_addr connections. When every slot is taken, the
 *               connection that brought the fewest bytes a second in its current phase (idle
 *               ones first, never one with a request being handled) is closed for the new one.
 *               Refusals are logged (rate-limited) and counted (as_http_server_stats).
 *
 * Ownership: a request belongs to the application from the callback until its response is
 * finished (as_http_respond, as_http_stream_end or as_http_stream_abort); afterwards the pointer
 * must not be used. */
#ifndef AS_GATEWAY_HTTP_H
#define AS_GATEWAY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct as_http_server as_http_server_t;
typedef struct as_http_req as_http_req_t;

typedef struct as_http_limits {
    size_t max_header_bytes;      /* request line + headers; default 16 KiB, beyond -> 431 */
    size_t max_body_bytes;        /* default 1 MiB, beyond -> 413 */
    unsigned idle_timeout_ms;     /* keep-alive idle close, also the header deadline; 30000 */
    unsigned max_connections;     /* default 1024; beyond that accept and immediately close */
    unsigned max_pipelined;       /* parsed requests awaiting their response; default 16 */
    size_t max_write_queue_bytes; /* bytes queued for writing per connection; default 8 MiB */
    unsigned header_timeout_ms;   /* request line + headers must arrive within; default 10000 */
    unsigned body_grace_ms;       /* the body may start this late; default 5000 */
    unsigned body_min_rate;       /* then it must keep this many bytes per second; 1024 */
    unsigned request_timeout_ms;  /* the whole request (headers + body); default 60000 */
    unsigned max_conns_per_addr;  /* connections from one client address; default 128 */
} as_http_limits_t;

/* What the layer refused or cut off, since start (for /metrics). */
typedef struct as_http_stats {
    uint64_t timed_out;     /* a request phase ran past its deadline: 408, closed */
    uint64_t shed;          /* slowest or idle connection closed to make room for a new one */
    uint64_t rejected_full; /* accepted and closed at once: every slot busy with live work */
    uint64_t rejected_addr; /* accepted and closed at once: the address has its maximum */
    uint64_t refused;       /* requests answered 4xx/5xx by the layer (parse errors, limits) */
    unsigned connections;   /* open now */
} as_http_stats_t;

void as_http_server_stats(const as_http_server_t *s, as_http_stats_t *out);

/* One WARN line "refused" (peer, status, reason, detail), at most 20 a second for the process;
 * the lines left out are counted in the next one. The layer logs its own refusals (parse
 * errors, limits, timeouts, shed connections); the application logs its 401/403/429 etc. */
void as_http_log_refusal(const char *peer, int status, const char *reason, const char *detail);
void as_http_req_log_refusal(const as_http_req_t *r, int status, const char *reason);

/* Fill `l` with the defaults listed above. */
void as_http_limits_default(as_http_limits_t *l);

/* Called on the loop thread for every complete request. The application owns `req` from now
 * on and must finish it exactly once (as_http_respond or the stream functions). */
typedef void (*as_http_request_cb)(as_http_req_t *req, void *user_data);

/* Bind host:port (numeric IPv4 or IPv6 address; port 0 = ephemeral) and start accepting on
 * `loop`. `limits` may be NULL for the defaults; zero fields also take their default.
 * Sets SIGPIPE to ignored if it still has the default disposition (libuv writes with write(2),
 * so a vanished client would otherwise kill the process).
 * Returns 0 and the server in *out, or a negative libuv error code (UV_EINVAL for bad
 * arguments). On failure after the listening handle was created, its memory is released by a
 * close callback during the next run of the loop. */
int as_http_server_start(uv_loop_t *loop, const char *host, int port,
                         const as_http_limits_t *limits, as_http_request_cb cb, void *user_data,
                         as_http_server_t **out);

/* The port the server is bound to (useful after binding port 0), or -1. */
int as_http_server_port(const as_http_server_t *s);

/* Called once per request when its response starts (as_http_respond, as_http_respond_error or
 * as_http_stream_begin), before the request is freed; `aborted` when the client already left.
 * For metrics and access logs. */
typedef void (*as_http_response_hook)(as_http_req_t *r, int status, int aborted, void *ud);
void as_http_server_on_response(as_http_server_t *s, as_http_response_hook fn, void *ud);

/* Stop accepting and close every connection; requests still owned by the application become
 * aborted. Memory is freed in close callbacks; `done(arg)` (may be NULL) runs once every handle
 * of the server is closed, after which `s` is gone. Calling it twice is a no-op. */
void as_http_server_stop(as_http_server_t *s, void (*done)(void *), void *arg);

/* Graceful stop, step one: close the listening socket (new connections are refused by the
 * kernel), close idle keep-alive connections at once, and let every other connection finish
 * the requests it already carries, with "Connection: close". Watch as_http_server_stats'
 * `connections` fall to 0, then call as_http_server_stop. */
void as_http_server_drain(as_http_server_t *s);

/* ---- request accessors: valid until the response is finished ---- */

/* Method name: "GET", "POST", ... */
const char *as_http_req_method(const as_http_req_t *r);
/* Percent-decoded path without query ("/" when the target has none). */
const char *as_http_req_path(const as_http_req_t *r);
/* The request target exactly as received (path and query, still encoded). */
const char *as_http_req_target(const as_http_req_t *r);
/* Decoded value of the first query parameter `name` ("+" means space), "" for a parameter
 * without "=", NULL if absent. */
const char *as_http_req_query(const as_http_req_t *r, const char *name);
/* The number of query parameters, in the order received (a name may come more than once;
 * empty segments such as the one in "a=1&&b=2" are not parameters). */
size_t as_http_req_query_count(const as_http_req_t *r);
/* The i-th query parameter (0-based): its decoded name in *name and value in *value ("" for a
 * parameter without "="). Returns 0, or -1 (and NULLs) when i is out of range. */
int as_http_req_query_at(const as_http_req_t *r, size_t i, const char **name, const char **value);
/* Value of the first header called `name` (case-insensitive), NULL if absent. */
const char *as_http_req_header(const as_http_req_t *r, const char *name);
/* How many headers called `name` (case-insensitive) the request carries. */
size_t as_http_req_header_count(const as_http_req_t *r, const char *name);
/* The body as a NUL-terminated copy ("" when empty); its length in *len if len != NULL. */
const char *as_http_req_body(const as_http_req_t *r, size_t *len);
/* The client's address as "ip:port" ("[ip]:port" for IPv6). */
const char *as_http_req_peer(const as_http_req_t *r);
/* An application pointer carried by the request (NULL initially). */
void as_http_req_set_data(as_http_req_t *r, void *p);
void *as_http_req_data(const as_http_req_t *r);
/* Add a response header line "name: value" to whatever response this request gets (also
 * error responses); -1 when either has a line break (or the name a colon or space). */
int as_http_req_add_header(as_http_req_t *r, const char *name, const char *value);
/* Whether a header `name` was added with as_http_req_add_header. */
int as_http_req_has_added_header(const as_http_req_t *r, const char *name);
/* A complete 200 response (as_http_respond) gets an ETag (a hash of its body, unless one was
 * added) and, when the request's If-None-Match names it (or "*"), is sent as 304 without body. */
void as_http_req_want_etag(as_http_req_t *r);
/* The ETag of a body: a quoted 16-hex-digit FNV-1a hash. */
void as_http_etag_of(const char *body, size_t len, char out[24]);
/* Does an If-None-Match / If-Match header value name `etag` (or "*")? W/ prefixes are ignored. */
int as_http_etag_matches(const char *header, const char *etag);
/* True when the client went away (or the server stopped); responding is then a no-op that just
 * frees the request. */
int as_http_req_aborted(const as_http_req_t *r);

/* ---- responses: call from the loop thread, at any time after the callback ---- */

/* Complete response; call exactly once per request. `content_type` may be NULL (no header);
 * `extra_headers` is NULL or lines each ending in "\r\n". Adds Content-Length, Date and
 * Connection. `status` must be 200..599 (anything else is sent as 500); for HEAD requests and
 * statuses 204/304 no body is sent. The request is gone when this returns. */
void as_http_respond(as_http_req_t *r, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers);

/* Respond with the layer's JSON error body {"error":{"code":code,"message":message}}; `code`
 * and `message` are escaped as JSON strings. Finishes the request like as_http_respond. */
void as_http_respond_error(as_http_req_t *r, int status, const char *code, const char *message);

/* Start a streamed response (chunked transfer encoding; for HTTP/1.0 clients the body is
 * delimited by closing the connection). Call instead of as_http_respond, then
 * as_http_stream_write any number of times and as_http_stream_end once. */
void as_http_stream_begin(as_http_req_t *r, int status, const char *content_type,
                          const char *extra_headers);

/* Queue `len` bytes as one chunk (len 0 is ignored). Returns the bytes now queued for writing
 * on the connection (not yet accepted by the kernel) so the caller can apply back-pressure; 0
 * means nothing is queued or the request is aborted (check as_http_req_aborted). If the
 * connection already has max_write_queue_bytes queued, it is closed instead and the request
 * becomes aborted. */
size_t as_http_stream_write(as_http_req_t *r, const char *data, size_t len);

/* Finish a streamed response. The request is gone when this returns (also when aborted). */
void as_http_stream_end(as_http_req_t *r);

/* Cut a streamed response short so that no client can take it for complete: queue `marker`
 * (NULL or "" for none) as the last bytes of the body — the caller words it for its media type,
 * e.g. "#error,<reason>\r\n" for CSV — then close the connection once everything queued is
 * written, WITHOUT the terminating zero-length chunk. A chunked reader sees the transfer end
 * early (curl: exit 18, "transfer closed with outstanding read data remaining"); for an HTTP/1.0
 * client (no chunking) the marker followed by the close is the only signal. Requests pipelined
 * behind this one are dropped with the connection. Call instead of as_http_stream_end (after
 * as_http_stream_begin); the request is gone when this returns (also when aborted). Logging is
 * the caller's. */
void as_http_stream_abort(as_http_req_t *r, const char *marker);

/* Back-pressure helper for streamed responses: arrange for `cb(r, arg)` to run once, from the
 * loop, when the bytes queued on the connection fall to `low_water` or below, or when the
 * request becomes aborted (check as_http_req_aborted in the callback). Returns 0 when armed,
 * or 1 when not armed because the condition already holds (the caller should continue now).
 * A new call replaces an armed callback. */
int as_http_stream_on_drain(as_http_req_t *r, size_t low_water,
                            void (*cb)(as_http_req_t *r, void *arg), void *arg);

/* Reason phrase for a status code ("Unknown" for codes without one). */
const char *as_http_status_text(int status);

#endif
