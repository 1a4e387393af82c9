/* log.c — the structured logger behind log.h. */
#include "as/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

as_log_level_t as_log_level = AS_LOG_INFO;
static char log_service[32] = "as";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void as_log_init(const char *service, as_log_level_t level)
{
    snprintf(log_service, sizeof log_service, "%s", service ? service : "as");
    as_log_level = level;
}

int as_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void as_log_write(as_log_level_t level, const char *msg, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s msg=\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], log_service, msg);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line - 2 && fmt && *fmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof line - 2)
            n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
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
