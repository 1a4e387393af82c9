/* log.h — structured, one-line-per-event logging (key=value) to stderr.
 *
 * Every line carries the time, the level and the service name set with as_log_init(). The
 * AS_LOG_* macros test the level before formatting, so a disabled debug line costs one compare.
 * Never pass secrets or full personal data; use as_log_mask_phone() for phone numbers. */
#ifndef AS_LOG_H
#define AS_LOG_H

#include <stddef.h>

typedef enum { AS_LOG_DEBUG = 0, AS_LOG_INFO, AS_LOG_WARN, AS_LOG_ERROR } as_log_level_t;

extern as_log_level_t as_log_level;

/* Set the service name printed on every line and the minimum level. `service` is copied. */
void as_log_init(const char *service, as_log_level_t level);

/* Parse "text" | "json" (the log_format setting): 0, 1, or -1 on anything else. */
int as_log_format_parse(const char *s);

/* 1: every line is one JSON object {"ts","level","svc","msg", and one member per key=value pair
 * of the line (all values as strings)}; 0 (default): the key=value text form. */
void as_log_set_json(int json);

/* Escape `in` for a quoted value (`key="…"`): '"' and '\' get a backslash, line breaks and
 * other control characters become \n, \r, \t or \u00XX. Bounded by `cap` (NUL included);
 * returns the length written. Use it for any value a client chose (paths, names, messages). */
size_t as_log_esc(const char *in, char *out, size_t cap);

/* Parse "debug" | "info" | "warn" | "error"; returns -1 on anything else. */
int as_log_level_parse(const char *s);

/* Write one line: `ts=… level=… svc=… msg="…" <fmt…>` (the text form; a control character in
 * the formatted pairs becomes a space, so one event is always one line), or its JSON form (see
 * as_log_set_json). Use the macros instead. */
void as_log_write(as_log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Mask all but the last four digits of a phone number into `out` ("*******1234"). */
void as_log_mask_phone(const char *phone, char *out, size_t outlen);

#define AS_LOG_(lvl, msg, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) >= as_log_level)                                                                 \
            as_log_write((lvl), (msg), __VA_ARGS__);                                               \
    } while (0)
#define AS_DEBUG(msg, ...) AS_LOG_(AS_LOG_DEBUG, msg, __VA_ARGS__)
#define AS_INFO(msg, ...)  AS_LOG_(AS_LOG_INFO, msg, __VA_ARGS__)
#define AS_WARN(msg, ...)  AS_LOG_(AS_LOG_WARN, msg, __VA_ARGS__)
#define AS_ERROR(msg, ...) AS_LOG_(AS_LOG_ERROR, msg, __VA_ARGS__)

#endif
