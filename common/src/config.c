/* config.c — defaults, file and environment layers for the declarative settings table. */
#include "as/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static as_config_item_t *find_item(as_config_item_t *items, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].name, name) == 0)
            return &items[i];
    return NULL;
}

static int set_value(as_config_item_t *it, const char *value, const char *origin, char *err,
                     size_t errlen)
{
    if (it->type == AS_CFG_STRING) {
        char **slot = it->ptr;
        char *copy = strdup(value);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*slot);
        *slot = copy;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0') {
        snprintf(err, errlen, "setting '%s' (%s): '%s' is not an integer", it->name, origin, value);
        return -1;
    }
    if (v < it->min || v > it->max) {
        snprintf(err, errlen, "setting '%s' (%s): %ld is outside %ld..%ld", it->name, origin, v,
                 it->min, it->max);
        return -1;
    }
    *(long *)it->ptr = v;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(as_config_item_t *items, size_t n, const char *service, const char *file,
                     char *err, size_t errlen)
{
    int in_other_section = 0;
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", file, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) {
                snprintf(err, errlen, "%s:%d: expected '[section]'", file, lineno);
                rc = -1;
                break;
            }
            *close = '\0';
            in_other_section = strcmp(trim(s + 1), service) != 0;
            continue;
        }
        if (in_other_section)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", file, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        as_config_item_t *it = find_item(items, n, name);
        if (!it) {
            snprintf(err, errlen, "%s:%d: unknown setting '%s'", file, lineno, name);
            rc = -1;
            break;
        }
        char origin[300];
        snprintf(origin, sizeof origin, "%s:%d", file, lineno);
        if (set_value(it, value, origin, err, errlen) < 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int as_config_load(as_config_item_t *items, size_t n, const char *service, const char *file,
                   char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].type == AS_CFG_STRING)
            *(char **)items[i].ptr = NULL;
        if (items[i].def && set_value(&items[i], items[i].def, "default", err, errlen) < 0)
            return -1;
    }
    if (file && load_file(items, n, service, file, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char env[128];
        int k = snprintf(env, sizeof env, "AS_%s_%s", service, items[i].name);
        for (int j = 0; j < k && env[j]; j++)
            env[j] = (char)toupper((unsigned char)env[j]);
        const char *v = getenv(env);
        if (v && set_value(&items[i], v, env, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].type == AS_CFG_STRING && *(char **)items[i].ptr == NULL) {
            snprintf(err, errlen, "setting '%s' is required (%s)", items[i].name, items[i].help);
            return -1;
        }
    }
    return 0;
}

void as_config_free(as_config_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].type == AS_CFG_STRING) {
            free(*(char **)items[i].ptr);
            *(char **)items[i].ptr = NULL;
        }
    }
}

void as_config_usage(const as_config_item_t *items, size_t n, const char *service)
{
    fprintf(stderr, "settings (file 'name = value', or environment AS_%s_<NAME>):\n", service);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %-22s %-8s default %-28s %s\n", items[i].name,
                items[i].type == AS_CFG_INT ? "integer" : "text",
                items[i].def ? items[i].def : "(required)", items[i].help);
}
