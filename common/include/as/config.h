/* config.h — configuration as a declarative table.
 *
 * A service declares its settings as an array of as_config_item_t (name, type, default, help,
 * where to store the value). as_config_load() applies, in order: the defaults, an optional
 * file of `name = value` lines (lines before any `[section]` apply to every service, lines under
 * `[<service>]` only to that service, other sections are skipped), then environment overrides
 * AS_<SERVICE>_<NAME> (upper-cased),
 * then validates every value (integers must parse and sit inside [min, max]). An invalid or
 * unknown setting stops the service at start with a message naming it. */
#ifndef AS_CONFIG_H
#define AS_CONFIG_H

#include <stddef.h>

typedef enum { AS_CFG_STRING, AS_CFG_INT } as_config_type_t;

typedef struct as_config_item {
    const char *name; /* lower_snake_case */
    as_config_type_t type;
    const char *def; /* default as text; NULL means "must be set" */
    long min, max;   /* inclusive bounds for AS_CFG_INT */
    const char *help;
    void *ptr; /* char ** (malloc'ed copy, owned by the table) or long * */
} as_config_item_t;

/* Load settings into the table's pointers. `file` may be NULL. Returns 0, or -1 with a message
 * in err. `service` is the prefix for environment overrides (e.g. "intake" -> AS_INTAKE_DB). */
int as_config_load(as_config_item_t *items, size_t n, const char *service, const char *file,
                   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Free the strings the table owns. */
void as_config_free(as_config_item_t *items, size_t n);

/* Print the table as help text (name, default, description). */
void as_config_usage(const as_config_item_t *items, size_t n, const char *service);

#endif
