/* pwpolicy.c — password strength: long enough, not made of one kind of character, not the
 * login or the person's name, not one of the passwords everyone tries first. */
#include "pwpolicy.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PW_MIN 10
#define PW_MAX 128

static const char *const COMMON[] = {"password", "passw0rd", "123456", "12345678", "qwerty",
                                     "letmein",  "welcome",  "admin",  "iloveyou", "abc123",
                                     "111111",   "monkey",   "dragon", "sunshine", "football",
                                     "changeme", NULL};

/* Does `hay` contain `needle` ignoring case (needle at least 3 characters)? */
static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n < 3)
        return 0;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

int pw_weak(const char *pw, const char *login, const char *display_name, char *why, size_t len)
{
    size_t n = strlen(pw);
    if (n < PW_MIN) {
        snprintf(why, len, "is shorter than %d characters", PW_MIN);
        return 1;
    }
    if (n > PW_MAX) {
        snprintf(why, len, "is longer than %d bytes", PW_MAX);
        return 1;
    }
    int lower = 0, upper = 0, digit = 0, other = 0, ctrl = 0;
    for (const unsigned char *p = (const unsigned char *)pw; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            ctrl = 1;
        else if (islower(*p))
            lower = 1;
        else if (isupper(*p))
            upper = 1;
        else if (isdigit(*p))
            digit = 1;
        else
            other = 1;
    }
    if (ctrl) {
        snprintf(why, len, "contains control characters");
        return 1;
    }
    if (lower + upper + digit + other < 2) {
        snprintf(why, len,
                 "uses only one kind of character (mix letters with digits, capitals or symbols)");
        return 1;
    }
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!memchr(pw, pw[i], i))
            distinct++;
    if (distinct < 5) {
        snprintf(why, len, "repeats too few different characters");
        return 1;
    }
    if (login && *login && contains_ci(pw, login)) {
        snprintf(why, len, "contains the login name");
        return 1;
    }
    if (display_name && *display_name && contains_ci(pw, display_name)) {
        snprintf(why, len, "contains the person's name");
        return 1;
    }
    for (int i = 0; COMMON[i]; i++) {
        if (contains_ci(pw, COMMON[i]) && n < strlen(COMMON[i]) + 6) {
            snprintf(why, len, "is a commonly guessed password ('%s' with little added)",
                     COMMON[i]);
            return 1;
        }
    }
    return 0;
}

int pw_login_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return 0;
    if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}
