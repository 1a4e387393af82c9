/* verb.c — what the noun files share for their verbs: strict option checking, positional
 * arguments, query strings, request bodies from options, money in yuan (declared in asctl.h),
 * and the runner of declared verbs (asctl_verb_run): a verb that is one request — a method, a
 * path with at most one argument, options mapped to query parameters or body fields, a printer —
 * is a row of its noun's command table, not a function. The table printer is in table.c. */
#include "asctl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is `name` in the space-separated `spec`? *takes_value is set when it is written "name=". */
static int spec_has(const char *spec, const char *name, int *takes_value)
{
    size_t n = strlen(name);
    const char *p = spec;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == 0)
            break;
        int value = p[w - 1] == '=';
        size_t base = value ? w - 1 : w;
        if (base == n && strncmp(p, name, n) == 0) {
            *takes_value = value;
            return 1;
        }
        p += w;
    }
    return 0;
}

/* Check a verb's arguments against `spec` ("--site= --sku= --all": '=' marks an option that
 * takes a value; options may repeat; --json and --help are always allowed) and count the
 * positional arguments, which must number min_pos..max_pos. Prints what is wrong, naming
 * `cmd`, and returns -1; otherwise returns the number of positional arguments. */
int asctl_verb_check(int argc, char **argv, const char *spec, int min_pos, int max_pos,
                     const char *cmd)
{
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            npos++;
            continue;
        }
        int value = 0;
        if (strcmp(a, "--json") == 0 || strcmp(a, "--help") == 0)
            continue;
        if (!spec_has(spec, a, &value)) {
            fprintf(stderr, "asctl: %s: unknown option '%s' (asctl %s --help)\n", cmd, a, cmd);
            return -1;
        }
        if (value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "asctl: %s: option %s needs a value\n", cmd, a);
                return -1;
            }
            i++;
        }
    }
    if (npos < min_pos || npos > max_pos) {
        if (min_pos == max_pos)
            fprintf(stderr, "asctl: %s takes %d argument%s before its options (got %d)\n", cmd,
                    min_pos, min_pos == 1 ? "" : "s", npos);
        else
            fprintf(stderr, "asctl: %s takes %d to %d arguments before its options (got %d)\n", cmd,
                    min_pos, max_pos, npos);
        return -1;
    }
    return npos;
}

/* The k-th positional argument (0-based) under `spec`, or NULL. */
const char *asctl_verb_pos(int argc, char **argv, const char *spec, int k)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int value = 0;
        if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            if (spec_has(spec, a, &value) && value)
                i++;
            continue;
        }
        if (k-- == 0)
            return a;
    }
    return NULL;
}

/* The global options with --json applied when the verb's arguments carry it. */
asctl_opts_t asctl_verb_opts(const asctl_opts_t *o, int argc, char **argv)
{
    asctl_opts_t lo = *o;
    if (asctl_flag(argc, argv, "--json"))
        lo.json = 1;
    return lo;
}

/* Append "?k=v&…" to `path` (of size `len`) from the options in `map`, pairs of option and
 * query name ({"--center", "center", …, NULL}); values are URL-escaped. Returns 0, or -1 when
 * the path would not fit. */
int asctl_verb_query(char *path, size_t len, int argc, char **argv, const char *const *map)
{
    size_t off = strlen(path);
    char sep = strchr(path, '?') ? '&' : '?';
    for (size_t i = 0; map[i]; i += 2) {
        const char *v = asctl_opt(argc, argv, map[i]);
        if (!v)
            continue;
        char *e = curl_easy_escape(NULL, v, 0);
        if (!e)
            return -1;
        int n = snprintf(path + off, len - off, "%c%s=%s", sep, map[i + 1], e);
        curl_free(e);
        if (n < 0 || (size_t)n >= len - off)
            return -1;
        off += (size_t)n;
        sep = '&';
    }
    return 0;
}

/* A path with one escaped segment: fmt holds one %s. Returns 0 or -1 when it does not fit. */
int asctl_verb_path(char *path, size_t len, const char *fmt, const char *segment)
{
    char *e = curl_easy_escape(NULL, segment, 0);
    if (!e)
        return -1;
    int n = snprintf(path, len, fmt, e);
    curl_free(e);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Parse a whole number; prints a message naming `what` and returns -1 when it is not one. */
int asctl_verb_int(const char *v, const char *what, long long *out)
{
    char *end;
    if (!v || !*v) {
        fprintf(stderr, "asctl: %s needs a whole number\n", what);
        return -1;
    }
    long long n = strtoll(v, &end, 10);
    if (*end) {
        fprintf(stderr, "asctl: %s must be a whole number, got '%s'\n", what, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* Set body fields from options. `map` holds triples {option, field, kind}: kind "s" copies the
 * text, "i" a whole number, "b" sets true when the flag is present ("!" false), "l" a
 * comma-separated list of words. A field "a.b" is the field b of the object a. Returns 0, or -1
 * (with a message) when a number is malformed. */
/* Set `field` of `body` to `value` (taken); "a.b" is field b of the object a, made when absent. */
static void body_set(json_t *body, const char *field, json_t *value)
{
    const char *dot = strchr(field, '.');
    if (dot) {
        char head[64];
        snprintf(head, sizeof head, "%.*s", (int)(dot - field), field);
        json_t *sub = json_object_get(body, head);
        if (!json_is_object(sub)) {
            sub = json_object();
            json_object_set_new(body, head, sub);
        }
        body = sub;
        field = dot + 1;
    }
    json_object_set_new(body, field, value);
}

int asctl_verb_body(json_t *body, int argc, char **argv, const char *const *map)
{
    for (size_t i = 0; map[i]; i += 3) {
        const char *opt = map[i], *field = map[i + 1], *kind = map[i + 2];
        if (kind[0] == 'b' || kind[0] == '!') {
            if (asctl_flag(argc, argv, opt))
                body_set(body, field, json_boolean(kind[0] == 'b'));
            continue;
        }
        const char *v = asctl_opt(argc, argv, opt);
        if (!v)
            continue;
        if (kind[0] == 'i') {
            long long n;
            if (asctl_verb_int(v, opt, &n) < 0)
                return -1;
            body_set(body, field, json_integer(n));
        } else if (kind[0] == 'l') {
            json_t *a = json_array();
            const char *p = v;
            while (*p) {
                size_t w = strcspn(p, ",");
                if (w > 0)
                    json_array_append_new(a, json_stringn(p, w));
                p += w;
                if (*p == ',')
                    p++;
            }
            body_set(body, field, a);
        } else {
            body_set(body, field, json_string(v));
        }
    }
    return 0;
}

/* Cents as yuan text: 123456 -> "1,234.56", -5 -> "-0.05". Returns buf. */
const char *asctl_verb_yuan(long long cents, char *buf, size_t len)
{
    unsigned long long a = cents < 0 ? 0ULL - (unsigned long long)cents : (unsigned long long)cents;
    char digits[32], grouped[48];
    snprintf(digits, sizeof digits, "%llu", a / 100);
    size_t n = strlen(digits), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[k++] = ',';
        grouped[k++] = digits[i];
    }
    grouped[k] = '\0';
    snprintf(buf, len, "%s%s.%02llu", cents < 0 ? "-" : "", grouped, a % 100);
    return buf;
}

/* Add "<field>_yuan" text next to each integer "<field>" named in `fields` (NULL-terminated) of
 * every object in `rows`, so the table printer can show money in yuan. */
void asctl_verb_add_yuan(json_t *rows, const char *const *fields)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (size_t f = 0; fields[f]; f++) {
            json_t *v = json_object_get(row, fields[f]);
            if (!json_is_integer(v))
                continue;
            char key[96], buf[48];
            snprintf(key, sizeof key, "%s_yuan", fields[f]);
            json_object_set_new(
                row, key, json_string(asctl_verb_yuan(json_integer_value(v), buf, sizeof buf)));
        }
    }
}

/* Read a JSON document from a file, or stdin for "-". NULL with a message when unreadable. */
json_t *asctl_verb_read_json(const char *path)
{
    json_error_t e;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &e) : json_load_file(path, 0, &e);
    if (!j)
        fprintf(stderr, "asctl: %s: %s (line %d)\n", strcmp(path, "-") == 0 ? "stdin" : path,
                e.text, e.line);
    return j;
}

/* One "label  value" line, skipped when the value is empty. */
void asctl_verb_line(const char *label, const char *value)
{
    if (value && *value)
        printf("%-14s %s\n", label, value);
}

/* The "label  value" lines of `obj`: `lines` holds pairs {label, dot path, …, NULL}. */
void asctl_print_lines(json_t *obj, const char *const *lines)
{
    char b[1024];
    for (size_t i = 0; lines[i]; i += 2)
        asctl_verb_line(lines[i], asctl_get(obj, lines[i + 1], b, sizeof b));
}

/* ---- declared verbs ---------------------------------------------------------------------- */

const char *const ASCTL_NO_FIELDS[] = {NULL};

/* The options of a declared verb as a spec for asctl_verb_check: every query option and body
 * field takes a value, but for flags (kind "b"). Returns 0, or -1 when it does not fit. */
static int verb_spec(char *spec, size_t len, const asctl_verb_t *v)
{
    size_t off = 0;
    spec[0] = '\0';
    for (int part = 0; part < 2; part++) {
        const char *const *map = part == 0 ? v->query : v->body;
        size_t step = part == 0 ? 2 : 3;
        for (size_t i = 0; map && map[i]; i += step) {
            int flag = part == 1 && (map[i + 2][0] == 'b' || map[i + 2][0] == '!');
            int n =
                snprintf(spec + off, len - off, "%s%s%s", off ? " " : "", map[i], flag ? "" : "=");
            if (n < 0 || (size_t)n >= len - off)
                return -1;
            off += (size_t)n;
        }
    }
    return 0;
}

/* Is every option of `need` given? Otherwise prints "asctl: CMD needs --a, --b and --c (asctl CMD
 * --help)". */
static int verb_needs(int argc, char **argv, const char *const *need, const char *cmd)
{
    size_t n = 0, missing = 0;
    for (; need && need[n]; n++)
        if (!asctl_opt(argc, argv, need[n]))
            missing++;
    if (missing == 0)
        return 0;
    fprintf(stderr, "asctl: %s needs ", cmd);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", need[i]);
    fprintf(stderr, " (asctl %s --help)\n", cmd);
    return -1;
}

int asctl_verb_run(const asctl_cmd_t *c, const asctl_opts_t *o0, int argc, char **argv)
{
    const asctl_verb_t *v = c->call;
    char cmd[96], spec[512], path[1024];
    snprintf(cmd, sizeof cmd, "%s%s%s", c->noun, c->verb[0] ? " " : "", c->verb);
    int in_path = strstr(v->path, "%s") != NULL, npos = in_path || v->arg;
    if (verb_spec(spec, sizeof spec, v) < 0)
        return ASCTL_USAGE;
    int n = asctl_verb_check(argc, argv, spec, v->one ? 0 : npos, v->one ? 1 : npos, cmd);
    if (n < 0 || verb_needs(argc, argv, v->need, cmd) < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    if (v->one && n == 1) {
        if (asctl_verb_path(path, sizeof path, v->one, asctl_verb_pos(argc, argv, spec, 0)) < 0)
            return ASCTL_USAGE;
        return asctl_request(&o, "GET", path, NULL, NULL, v->print_one);
    }
    if (in_path) {
        if (asctl_verb_path(path, sizeof path, v->path, asctl_verb_pos(argc, argv, spec, 0)) < 0)
            return ASCTL_USAGE;
    } else {
        snprintf(path, sizeof path, "%s", v->path);
    }
    if (v->query && asctl_verb_query(path, sizeof path, argc, argv, v->query) < 0)
        return ASCTL_USAGE;
    json_t *b = v->fixed ? json_loads(v->fixed, 0, NULL) : v->body || v->arg ? json_object() : NULL;
    if (v->arg)
        json_object_set_new(b, v->arg, json_string(asctl_verb_pos(argc, argv, spec, 0)));
    if (v->body && asctl_verb_body(b, argc, argv, v->body) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return v->view ? asctl_request_view(&o, v->method, path, b, NULL, v->view)
                   : asctl_request(&o, v->method, path, b, NULL, v->print);
}
