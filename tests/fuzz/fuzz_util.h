/* fuzz_util.h — what every fuzz target uses: a checked assertion that survives -DNDEBUG and a
 * NUL-terminated copy of the input.
 *
 * A failed check prints what was violated and aborts; libFuzzer reports the abort as a crash
 * and saves the input, exactly like a sanitizer finding. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Abort with "file:line: check `expr` failed: <message>" when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

__attribute__((noreturn, format(printf, 4, 5))) void
fuzz_fail(const char *file, int line, const char *expr, const char *fmt, ...);

/* A NUL-terminated copy of data[0..size) (malloc'ed; the caller frees it). */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
