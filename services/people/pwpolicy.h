/* pwpolicy.h — what a password and a login name must look like (no database needed). */
#ifndef PEOPLE_PWPOLICY_H
#define PEOPLE_PWPOLICY_H

#include <stddef.h>

/* Non-zero when `pw` must not be used; `why` says why in one phrase for the caller
 * ("is shorter than 10 characters"). `login` and `display_name` may be NULL. */
int pw_weak(const char *pw, const char *login, const char *display_name, char *why, size_t len);

/* A login name: 2..64 of a-z 0-9 . _ -, starting with a letter or digit. */
int pw_login_ok(const char *login);

#endif
