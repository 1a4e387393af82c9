/* log.c — the structured logger behind log.h. */
#include "as/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

as_log_level_t as_log_level = AS_LOG_INFO;
static char log_service[32] = "as";
static int log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void as_log_init(const char *service, as_log_level_t level)
{
    snprintf(log_service, sizeof log_service, "%s", service ? service : "as");
    as_log_level = level;
}

int as_log_format_parse(const char *s)
{
    if (s && strcmp(s, "text") == 0)
        return 0;
    if (s && strcmp(s, "json") == 0)
        return 1;
    return -1;
}

void as_log_set_json(int json)
{
    log_json = json != 0;
}

int as_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

size_t as_log_esc(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!cap)
        return 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        char e[7];
        size_t n = 0;
        if (*p == '"' || *p == '\\') {
            e[n++] = '\\';
            e[n++] = (char)*p;
        } else if (*p == '\n') {
            e[n++] = '\\';
            e[n++] = 'n';
        } else if (*p == '\r') {
            e[n++] = '\\';
            e[n++] = 'r';
        } else if (*p == '\t') {
            e[n++] = '\\';
            e[n++] = 't';
        } else if (*p < 0x20 || *p == 0x7F) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
            n = 6;
        } else {
            e[n++] = (char)*p;
        }
        if (o + n + 1 > cap)
            break;
        memcpy(out + o, e, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

/* Append `s` (n bytes) to line[*o], bounded. */
static void put(char *line, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + n >= cap)
        n = *o < cap ? cap - 1 - *o : 0;
    memcpy(line + *o, s, n);
    *o += n;
}

/* Append `s` as the inside of a JSON string (escaped), bounded. */
static void put_esc(char *line, size_t cap, size_t *o, const char *s, size_t n)
{
    char tmp[8];
    for (size_t i = 0; i < n; i++) {
        char one[2] = {s[i], 0};
        size_t k = as_log_esc(one, tmp, sizeof tmp);
        put(line, cap, o, tmp, k);
    }
}

/* The key=value pairs of `kv` as JSON members: `key=word` or `key="quoted \" text"`. A stray
 * word without '=' goes under "detail". */
static void put_kv_json(char *line, size_t cap, size_t *o, const char *kv)
{
    const char *p = kv;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t kl = strcspn(p, "= ");
        const char *key = p, *val;
        size_t vl;
        char vbuf[1024];
        if (p[kl] != '=') { /* a bare word */
            put(line, cap, o, ",\"detail\":\"", 11);
            put_esc(line, cap, o, p, kl);
            put(line, cap, o, "\"", 1);
            p += kl;
            continue;
        }
        p += kl + 1;
        if (*p == '"') {
            p++;
            size_t n = 0;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++; /* the text form's escape: keep the escaped character */
                if (n + 1 < sizeof vbuf)
                    vbuf[n++] = *p;
                p++;
            }
            if (*p == '"')
                p++;
            val = vbuf;
            vl = n;
        } else {
            vl = strcspn(p, " ");
            val = p;
            p += vl;
        }
        put(line, cap, o, ",\"", 2);
        put_esc(line, cap, o, key, kl);
        put(line, cap, o, "\":\"", 3);
        put_esc(line, cap, o, val, vl);
        put(line, cap, o, "\"", 1);
    }
}

void as_log_write(as_log_level_t level, const char *msg, const char *fmt, ...)
{
    char line[4096], kv[2048], ts_s[80], esc_msg[512];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(ts_s, sizeof ts_s, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(ts.tv_nsec / 1000000) % 1000);
    kv[0] = '\0';
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(kv, sizeof kv, fmt, ap);
        va_end(ap);
    }
    as_log_esc(msg, esc_msg, sizeof esc_msg);
    size_t o = 0;
    if (log_json) {
        int n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"svc\":\"%s\",\"msg\":\"%s\"", ts_s,
                         level_names[level], log_service, esc_msg);
        if (n < 0)
            return;
        o = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        put_kv_json(line, sizeof line - 2, &o, kv);
        put(line, sizeof line, &o, "}", 1);
    } else {
        int n = snprintf(line, sizeof line, "ts=%s level=%s svc=%s msg=\"%s\"", ts_s,
                         level_names[level], log_service, esc_msg);
        if (n < 0)
            return;
        o = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        if (kv[0]) {
            put(line, sizeof line - 1, &o, " ", 1);
            /* No raw line break or control character: one event is one line. */
            for (const unsigned char *p = (const unsigned char *)kv; *p; p++) {
                char c = (char)(*p < 0x20 || *p == 0x7F ? ' ' : *p);
                put(line, sizeof line - 1, &o, &c, 1);
            }
        }
    }
    line[o++] = '\n';
    fwrite(line, 1, o, stderr);
}

void as_log_mask_phone(const char *phone, char *out, size_t outlen)
{
    if (!outlen)
        return;
    size_t len = phone ? strlen(phone) : 0, i = 0;
    for (; i < len && i + 1 < outlen; i++)
        out[i] = (i + 4 < len) ? '*' : phone[i];
    out[i] = '\0';
}
