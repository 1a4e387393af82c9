/* main.c — asctl, the command-line client for people at a terminal and for scripts.
 *
 *   asctl [--url URL] [--token TOKEN | --as ROLE] [--json] NOUN VERB [ARGS]
 *
 * It talks to the gateway over HTTP (libcurl), so it sees exactly what any integrator sees and
 * is subject to the same roles. The URL and tokens come from the options, or from the
 * environment (AS_GATEWAY_URL, AS_TOKEN), or from the local stack's var/run/env file, in which
 * `--as center` picks AS_TOKEN_CENTER. Tables for people, `--json` for scripts; exit codes:
 * 0 ok, 2 usage, 3 rejected by the system (4xx), 4 the system could not answer. */
#include "asctl.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len;
} buf_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t add = size * n;
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, p, add);
    b->data = nd;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

int asctl_http(const asctl_opts_t *o, const char *method, const char *path, const char *body,
               const char *idempotency_key, int *status, json_t **out)
{
    *status = 0;
    *out = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[2048], auth[512], idem[200];
    snprintf(url, sizeof url, "%s%s", o->url, path);
    struct curl_slist *h = NULL;
    if (o->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
        h = curl_slist_append(h, auth);
    }
    if (idempotency_key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", idempotency_key);
        h = curl_slist_append(h, idem);
    }
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    buf_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (o->verbose)
        fprintf(stderr, "> %s %s\n", method, url);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
        json_error_t jerr;
        *out = b.data ? json_loads(b.data, 0, &jerr) : NULL;
    } else {
        fprintf(stderr, "asctl: cannot reach %s: %s\n", o->url, curl_easy_strerror(rc));
    }
    free(b.data);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

int asctl_report_error(int status, json_t *answer)
{
    json_t *e = json_object_get(answer, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (status == 0)
        return ASCTL_FAILED;
    fprintf(stderr, "asctl: %d %s: %s\n", status, code ? code : "error", msg ? msg : "");
    json_t *fields = json_object_get(e, "fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        fprintf(stderr, "  %-28s %s\n", json_string_value(json_object_get(f, "field")),
                json_string_value(json_object_get(f, "problem")));
    }
    return status >= 500 ? ASCTL_FAILED : ASCTL_REJECTED;
}

void asctl_print_json(json_t *answer)
{
    char *s = json_dumps(answer, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
}

const char *asctl_get(json_t *obj, const char *path, char *buf, size_t len)
{
    char key[128];
    const char *p = path;
    json_t *v = obj;
    while (v && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n;
        if (*p == '.')
            p++;
    }
    if (!v || json_is_null(v))
        snprintf(buf, len, "%s", "");
    else if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v)) {
        size_t off = 0, i;
        json_t *x;
        buf[0] = '\0';
        json_array_foreach(v, i, x)
        {
            if (json_is_string(x) && off < len)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "",
                                        json_string_value(x));
        }
    } else {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(buf, len, "%s", s ? s : "");
        free(s);
    }
    return buf;
}

const char *asctl_opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

int asctl_flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

json_t *asctl_parts(int argc, char **argv, const char *name)
{
    json_t *a = json_array();
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        const char *v = argv[i + 1];
        const char *colon = strrchr(v, ':');
        int qty = colon ? atoi(colon + 1) : 1;
        if ((colon && (colon == v || qty <= 0)) || strlen(v) > 60) {
            fprintf(stderr, "asctl: %s expects SKU[:QTY], got '%s'\n", name, v);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_pack("{s:s%, s:i}", "sku", v,
                                           colon ? (size_t)(colon - v) : strlen(v), "qty", qty));
    }
    return a;
}

/* Read KEY=value lines of the local stack's env file into the environment (not overriding). */
static void load_env_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *name = line;
        if (strncmp(name, "export ", 7) == 0) /* the stack writes `export NAME=value` */
            name += 7;
        char *eq = strchr(name, '=');
        if (!eq || strncmp(name, "AS_", 3) != 0)
            continue;
        *eq = '\0';
        char *v = eq + 1;
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        setenv(name, v, 0);
    }
    fclose(f);
}

static const asctl_cmd_t *const TABLES[] = {
    asctl_ticket_cmds,  asctl_warranty_cmds, asctl_parts_cmds,    asctl_settlement_cmds,
    asctl_surveys_cmds, asctl_people_cmds,   asctl_customer_cmds, asctl_onsite_cmds,
    asctl_notify_cmds,  asctl_misc_cmds};

static void usage(FILE *out)
{
    fprintf(out, "usage: asctl [--url URL] [--token TOKEN | --as ROLE] [--json] [-v] NOUN VERB "
                 "[ARGS]\n\n"
                 "  --as ROLE   use AS_TOKEN_<ROLE> (admin, center, center_b, region, warehouse,\n"
                 "              finance, reviewer) from the environment or var/run/env\n"
                 "  --json      print the raw JSON answer (for scripts)\n\n"
                 "commands:\n");
    for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++)
        for (const asctl_cmd_t *c = TABLES[t]; c->noun; c++)
            fprintf(out, "  %-8s %-10s %-44s %s\n", c->noun, c->verb, c->usage, c->help);
    fprintf(out, "\nexit codes: 0 ok, 2 usage, 3 rejected (4xx), 4 could not answer (5xx, "
                 "network)\n");
}

int main(int argc, char **argv)
{
    asctl_opts_t o = {0};
    const char *as = NULL, *env_file = getenv("AS_ENV_FILE");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o.json = 1;
        else if (strcmp(argv[i], "-v") == 0)
            o.verbose = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return ASCTL_OK;
        } else if (i + 1 < argc && strcmp(argv[i], "--url") == 0)
            o.url = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--token") == 0)
            o.token = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--as") == 0)
            as = argv[++i];
        else {
            fprintf(stderr, "asctl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return ASCTL_USAGE;
        }
    }
    load_env_file(env_file ? env_file : "var/run/env");
    if (!o.url)
        o.url = getenv("AS_GATEWAY_URL");
    if (!o.url)
        o.url = "http://127.0.0.1:8480";
    if (as) {
        char name[64];
        snprintf(name, sizeof name, "AS_TOKEN_%s", as);
        for (char *p = name; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        o.token = getenv(name);
        if (!o.token) {
            fprintf(stderr, "asctl: no %s in the environment or var/run/env\n", name);
            return ASCTL_USAGE;
        }
    }
    if (!o.token)
        o.token = getenv("AS_TOKEN");
    if (argc - i < 1) {
        usage(stderr);
        return ASCTL_USAGE;
    }
    const char *noun = argv[i], *verb = argc - i > 1 ? argv[i + 1] : "";
    for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++) {
        for (const asctl_cmd_t *c = TABLES[t]; c->noun; c++) {
            if (strcmp(c->noun, noun) != 0 || (c->verb[0] && strcmp(c->verb, verb) != 0))
                continue;
            int skip = c->verb[0] ? 2 : 1;
            if (asctl_flag(argc - i - skip, argv + i + skip, "--help")) {
                printf("usage: asctl %s %s %s\n  %s\n", c->noun, c->verb, c->usage, c->help);
                return ASCTL_OK;
            }
            curl_global_init(CURL_GLOBAL_DEFAULT);
            int rc = c->run ? c->run(&o, argc - i - skip, argv + i + skip)
                            : asctl_verb_run(c, &o, argc - i - skip, argv + i + skip);
            curl_global_cleanup();
            return rc;
        }
    }
    fprintf(stderr, "asctl: unknown command '%s %s'\n\n", noun, verb);
    usage(stderr);
    return ASCTL_USAGE;
}
