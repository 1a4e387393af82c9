/* static.h — the gateway serves the browser console (console/ built into build/console) as
 * static files under /console/, and redirects / there; the customer's status page (its status/
 * directory) is also served under /status/. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include "http.h"

/* The directory the files come from (an absolute path is best; the gateway does not chdir). */
void gw_static_configure(const char *dir);

/* Answers the request and returns 1 when its path is the console's ("/", "/console", "/status",
 * "/status/...",
 * "/console/..."); returns 0 (request untouched) for every other path. */
int gw_static_handle(as_http_req_t *r);

/* Exposed for the unit test: 0 when `rel` (the part of the path after "/console/") is a safe
 * relative file name — segments of [A-Za-z0-9._-], none empty, none starting with '.' — else
 * -1. "" stands for index.html. */
int gw_static_safe_name(const char *rel);

/* The Content-Type for a file name by its extension (application/octet-stream when unknown). */
const char *gw_static_content_type(const char *name);

#endif
