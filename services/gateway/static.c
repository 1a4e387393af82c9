/* static.c — the console's static files (see static.h).
 *
 * Only GET and HEAD. A name is accepted only when every segment is made of letters, digits,
 * '.', '_' and '-' and none starts with '.': "..", hidden files, backslashes, encoded slashes
 * and control characters never reach the file system (the path is already percent-decoded by
 * http.c, so "%2e%2e" arrives as ".." and is refused here). The file is opened with
 * O_NOFOLLOW and must be a regular file: a symbolic link planted in the directory is not
 * followed either.
 *
 * Every answer carries a strict Content-Security-Policy (only this origin's scripts, styles,
 * images and API; no inline script, no framing), nosniff and no-referrer. Files are not
 * fingerprinted, so they are revalidated on every use (Cache-Control: no-cache) against an
 * ETag made of the file's size and modification time; a match is answered 304 without a body.
 * The files are small (the largest is the vendored Preact + htm bundle, 13 kB) and read on the
 * loop thread from the page cache. */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (4 << 20)

static char static_dir[1024] = "build/console";

static const char SECURITY_HEADERS[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n";

void gw_static_configure(const char *dir)
{
    if (dir && dir[0])
        snprintf(static_dir, sizeof static_dir, "%s", dir);
}

int gw_static_safe_name(const char *rel)
{
    if (!rel)
        return -1;
    if (!rel[0])
        return 0;
    if (strlen(rel) > 200)
        return -1;
    const char *seg = rel;
    for (const char *c = rel;; c++) {
        if (*c == '/' || *c == '\0') {
            if (c == seg || *seg == '.')
                return -1; /* empty segment, ".", "..", hidden file */
            if (!*c)
                return 0;
            seg = c + 1;
            continue;
        }
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '_' || *c == '-';
        if (!ok)
            return -1;
    }
}

const char *gw_static_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } T[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
            if (strcmp(dot, T[i].ext) == 0)
                return T[i].type;
    return "application/octet-stream";
}

static void not_found(as_http_req_t *r)
{
    as_http_respond_error(r, 404, "not_found", "no such file");
}

static void serve(as_http_req_t *r, const char *rel)
{
    char path[1400];
    const char *name = rel[0] ? rel : "index.html";
    snprintf(path, sizeof path, "%s/%s", static_dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        not_found(r);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
        close(fd);
        not_found(r);
        return;
    }
    char etag[80];
    snprintf(etag, sizeof etag, "\"%llx-%llx%09ld\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    char hdr[1200];
    snprintf(hdr, sizeof hdr, "%sCache-Control: no-cache\r\nETag: %s\r\n", SECURITY_HEADERS, etag);
    const char *inm = as_http_req_header(r, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        close(fd);
        as_http_respond(r, 304, NULL, NULL, 0, hdr);
        return;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len ? len : 1);
    while (buf && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        as_http_respond_error(r, 500, "internal", "cannot read the file");
        return;
    }
    as_http_respond(r, 200, gw_static_content_type(name), buf, len, hdr);
    free(buf);
}

int gw_static_handle(as_http_req_t *r)
{
    const char *path = as_http_req_path(r), *method = as_http_req_method(r);
    const char *to = NULL, *rel = NULL;
    int status_page = 0;
    if (strcmp(path, "/") == 0 || strcmp(path, "/console") == 0)
        to = "/console/";
    else if (strcmp(path, "/status") == 0)
        to = "/status/";
    else if (strncmp(path, "/console/", 9) == 0)
        rel = path + 9;
    else if (strncmp(path, "/status/", 8) == 0) {
        rel = path + 8; /* the customer's status page: the console's status/ directory */
        status_page = 1;
    } else
        return 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        as_http_respond_error(r, 405, "method_not_allowed", "use GET");
        return 1;
    }
    if (to) {
        char hdr[1100], body[32];
        snprintf(hdr, sizeof hdr, "%sLocation: %s\r\nCache-Control: no-cache\r\n", SECURITY_HEADERS,
                 to);
        int n = snprintf(body, sizeof body, "see %s\n", to);
        as_http_respond(r, 302, "text/plain; charset=utf-8", body, (size_t)n, hdr);
        return 1;
    }
    if (gw_static_safe_name(rel) != 0) {
        not_found(r);
        return 1;
    }
    if (status_page) {
        char name[240];
        snprintf(name, sizeof name, "status/%s", rel[0] ? rel : "index.html");
        serve(r, name);
        return 1;
    }
    serve(r, rel);
    return 1;
}
