/* cmd_people.c — sign-in, staff accounts, the network and the audit trail (the people service).
 *
 *   asctl login LOGIN [--password P]      prints export AS_TOKEN=<session secret> (eval it)
 *   asctl whoami | token create|list|revoke
 *   asctl user list|show|create|disable|enable|reset-password
 *   asctl region list|create    center list|show|open|suspend|reopen|close
 *   asctl brand list|create     audit [--subject L --since T --until T --limit N]
 * The password of `login` comes from --password or AS_PASSWORD (never echoed). */
#include "asctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const asctl_col_t USER_COLS[] = {
    {"LOGIN", "login", 16},  {"NAME", "display_name", 26}, {"ROLE", "role", 9},
    {"SITE", "site", 8},     {"REGION", "region", 8},      {"ACTIVE", "active", 6},
    {"LOCKED", "locked", 6},
};
static const asctl_col_t CENTER_COLS[] = {
    {"CODE", "code", 12},  {"NAME", "name", 34},   {"REGION", "region", 12},
    {"STATE", "state", 9}, {"PHONE", "phone", 14},
};
static const asctl_col_t REGION_COLS[] = {{"CODE", "code", 10}, {"NAME", "name", 30}};
static const asctl_col_t BRAND_COLS[] = {{"BRAND", "name", 14},
                                         {"MANUFACTURER", "manufacturer", 14}};
static const asctl_col_t TOKEN_COLS[] = {
    {"ID", "id", 17},
    {"KIND", "kind", 7},
    {"NAME", "name", 16},
    {"EXPIRES", "expires_at", 24},
    {"LAST USED", "last_used_at", 24},
};
static const asctl_col_t AUDIT_COLS[] = {
    {"AT", "at", 24},         {"SERVICE", "service", 10},
    {"WHO", "subject", 14},   {"NAME", "display_name", 20},
    {"ACTION", "action", 18}, {"OBJECT", "entity_id", 18},
};

static void print_token_secret(json_t *a)
{
    const char *t = json_string_value(json_object_get(a, "token"));
    if (t)
        printf("\nAS_TOKEN=%s\n(shown once: keep it now)\n", t);
}

/* What each verb prints: one object, or the list under a key of the answer. */
static const asctl_view_t USER = ASCTL_VIEW(NULL, USER_COLS),
                          USERS = ASCTL_VIEW("users", USER_COLS),
                          CENTER = ASCTL_VIEW(NULL, CENTER_COLS),
                          CENTERS = ASCTL_VIEW("centers", CENTER_COLS),
                          REGION = ASCTL_VIEW(NULL, REGION_COLS),
                          REGIONS = ASCTL_VIEW("regions", REGION_COLS),
                          BRAND = ASCTL_VIEW(NULL, BRAND_COLS),
                          BRANDS = ASCTL_VIEW("brands", BRAND_COLS),
                          TOKEN = {NULL, TOKEN_COLS, sizeof TOKEN_COLS / sizeof TOKEN_COLS[0],
                                   print_token_secret},
                          TOKENS = ASCTL_VIEW("tokens", TOKEN_COLS),
                          AUDIT = ASCTL_VIEW("entries", AUDIT_COLS);

static void print_me(json_t *a)
{
    char b[200];
    asctl_verb_line("login", asctl_get(a, "login", b, sizeof b));
    asctl_verb_line("name", asctl_get(a, "display_name", b, sizeof b));
    asctl_verb_line("role", asctl_get(a, "role", b, sizeof b));
    asctl_verb_line("site", asctl_get(a, "site", b, sizeof b));
    asctl_verb_line("region", asctl_get(a, "region", b, sizeof b));
    asctl_verb_line("auth", asctl_get(a, "auth", b, sizeof b));
}

/* ---- sign-in ---- */

static int a_login(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--password=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "login") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    const char *pw = asctl_opt(argc, argv, "--password");
    if (!pw)
        pw = getenv("AS_PASSWORD");
    if (!pw) {
        fprintf(stderr, "asctl: login needs --password P or AS_PASSWORD in the environment\n");
        return ASCTL_USAGE;
    }
    json_t *b =
        json_pack("{s:s, s:s}", "login", asctl_verb_pos(argc, argv, spec, 0), "password", pw);
    char *txt = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    int status = 0;
    json_t *ans = NULL;
    int rc = asctl_http(&o, "POST", "/v1/auth/login", txt, NULL, &status, &ans);
    free(txt);
    if (rc != 0 || status != 200) {
        int e = asctl_report_error(status, ans);
        json_decref(ans);
        return e;
    }
    if (o.json)
        asctl_print_json(ans);
    else
        printf("export AS_TOKEN=%s\n", json_string_value(json_object_get(ans, "session_token")));
    json_decref(ans);
    return ASCTL_OK;
}

static int a_whoami(const asctl_opts_t *o0, int argc, char **argv)
{
    if (asctl_verb_check(argc, argv, "", 0, 0, "whoami") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    return asctl_request(&o, "GET", "/v1/auth/me", NULL, NULL, print_me);
}

static int t_create(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {"--name",          "name", "s", "--days",
                                      "expires_in_days", "i",    NULL};
    if (asctl_verb_check(argc, argv, "--name= --days=", 0, 0, "token create") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, "POST", "/v1/auth/tokens", b, NULL, &TOKEN);
}

static int t_list(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--login", "login", NULL};
    return asctl_verb_list_view(o0, argc, argv, "token list", "/v1/auth/tokens", q, &TOKENS);
}

/* VERB ID: METHOD fmt with the escaped ID, an optional JSON body from `map`. */
static int id_call(const asctl_opts_t *o0, int argc, char **argv, const char *cmd, const char *spec,
                   const char *method, const char *fmt, const char *const *map, json_t *body,
                   const asctl_view_t *view)
{
    if (asctl_verb_check(argc, argv, spec, 1, 1, cmd) < 0) {
        json_decref(body);
        return ASCTL_USAGE;
    }
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    char path[512];
    if (asctl_verb_path(path, sizeof path, fmt, asctl_verb_pos(argc, argv, spec, 0)) < 0 ||
        (map && body && asctl_verb_body(body, argc, argv, map) < 0)) {
        json_decref(body);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, method, path, body, NULL, view);
}

static int t_revoke(const asctl_opts_t *o, int argc, char **argv)
{
    return id_call(o, argc, argv, "token revoke", "", "DELETE", "/v1/auth/tokens/%s", NULL, NULL,
                   &TOKENS);
}

/* ---- users ---- */

static int u_list(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--role", "role", "--region", "region", "--site", "site", NULL};
    return asctl_verb_list_view(o0, argc, argv, "user list", "/v1/users", q, &USERS);
}

static int u_show(const asctl_opts_t *o, int argc, char **argv)
{
    return id_call(o, argc, argv, "user show", "", "GET", "/v1/users/%s", NULL, NULL, &USER);
}

static int u_create(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {"--name",     "display_name", "s", "--role",   "role",   "s",
                                      "--site",     "site",         "s", "--region", "region", "s",
                                      "--password", "password",     "s", NULL};
    const char *spec = "--name= --role= --site= --region= --password=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "user create") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_pack("{s:s}", "login", asctl_verb_pos(argc, argv, spec, 0));
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, "POST", "/v1/users", b, NULL, &USER);
}

static int u_disable(const asctl_opts_t *o, int argc, char **argv)
{
    return id_call(o, argc, argv, "user disable", "", "PATCH", "/v1/users/%s", NULL,
                   json_pack("{s:b}", "active", 0), &USER);
}

static int u_enable(const asctl_opts_t *o, int argc, char **argv)
{
    return id_call(o, argc, argv, "user enable", "", "PATCH", "/v1/users/%s", NULL,
                   json_pack("{s:b}", "active", 1), &USER);
}

static int u_reset(const asctl_opts_t *o, int argc, char **argv)
{
    static const char *const map[] = {"--password", "password", "s", NULL};
    return id_call(o, argc, argv, "user reset-password", "--password=", "POST",
                   "/v1/users/%s/password", map, json_object(), &USER);
}

/* ---- the network ---- */

static int r_list(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {NULL};
    return asctl_verb_list_view(o0, argc, argv, "region list", "/v1/regions", q, &REGIONS);
}

static int r_create(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {"--name", "name", "s", NULL};
    const char *spec = "--name=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "region create") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_pack("{s:s}", "code", asctl_verb_pos(argc, argv, spec, 0));
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, "POST", "/v1/regions", b, NULL, &REGION);
}

static int c_list(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--region", "region", "--state", "state", NULL};
    return asctl_verb_list_view(o0, argc, argv, "center list", "/v1/centers", q, &CENTERS);
}

static int c_show(const asctl_opts_t *o, int argc, char **argv)
{
    return id_call(o, argc, argv, "center show", "", "GET", "/v1/centers/%s", NULL, NULL, &CENTER);
}

static int c_open(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {
        "--name",   "name",   "s", "--region", "region", "s", "--address",    "address",    "s",
        "--phone",  "phone",  "s", "--hours",  "hours",  "s", "--categories", "categories", "l",
        "--brands", "brands", "l", NULL};
    const char *spec = "--name= --region= --address= --phone= --hours= --categories= --brands=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "center open") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_pack("{s:s}", "code", asctl_verb_pos(argc, argv, spec, 0));
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, "POST", "/v1/centers", b, NULL, &CENTER);
}

static int c_state(const asctl_opts_t *o, int argc, char **argv, const char *cmd, const char *fmt)
{
    static const char *const map[] = {"--reason", "reason", "s", NULL};
    return id_call(o, argc, argv, cmd, "--reason=", "POST", fmt, map, json_object(), &CENTER);
}
static int c_suspend(const asctl_opts_t *o, int argc, char **argv)
{
    return c_state(o, argc, argv, "center suspend", "/v1/centers/%s/suspend");
}
static int c_reopen(const asctl_opts_t *o, int argc, char **argv)
{
    return c_state(o, argc, argv, "center reopen", "/v1/centers/%s/reopen");
}
static int c_close(const asctl_opts_t *o, int argc, char **argv)
{
    return c_state(o, argc, argv, "center close", "/v1/centers/%s/close");
}

static int b_list(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {NULL};
    return asctl_verb_list_view(o0, argc, argv, "brand list", "/v1/brands", q, &BRANDS);
}

static int b_create(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const map[] = {
        "--manufacturer", "manufacturer", "s", "--models", "models", "l", NULL};
    const char *spec = "--manufacturer= --models=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "brand create") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_pack("{s:s}", "name", asctl_verb_pos(argc, argv, spec, 0));
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request_view(&o, "POST", "/v1/brands", b, NULL, &BRAND);
}

static int x_audit(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const q[] = {"--subject", "subject", "--since", "since", "--until",
                                    "until",     "--limit", "limit",   NULL};
    return asctl_verb_list_view(o0, argc, argv, "audit", "/v1/audit", q, &AUDIT);
}

const asctl_cmd_t asctl_people_cmds[] = {
    {"login", "", "LOGIN [--password P]", "sign in; prints export AS_TOKEN=<session> (eval it)",
     a_login},
    {"whoami", "", "", "who the token is (login, name, role, scope)", a_whoami},
    {"token", "create", "[--name N] [--days D]", "a personal API token (shown once)", t_create},
    {"token", "list", "[--login L]", "live sessions and tokens", t_list},
    {"token", "revoke", "ID", "revoke a session or token (at once)", t_revoke},
    {"user", "list", "[--role R] [--region R] [--site S]", "staff accounts", u_list},
    {"user", "show", "LOGIN", "one staff account", u_show},
    {"user", "create", "LOGIN --name N --role R [--site S] [--region R] --password P",
     "create a staff account", u_create},
    {"user", "disable", "LOGIN", "disable an account (refused at once)", u_disable},
    {"user", "enable", "LOGIN", "enable it again", u_enable},
    {"user", "reset-password", "LOGIN --password P", "new password, unlock, end sessions", u_reset},
    {"region", "list", "", "the regions", r_list},
    {"region", "create", "CODE --name N", "create a region", r_create},
    {"center", "list", "[--region R] [--state S]", "the service centres", c_list},
    {"center", "show", "CODE", "one centre", c_show},
    {"center", "open", "CODE --name N --region R [--brands a,b] [--categories a,b] ...",
     "open a centre", c_open},
    {"center", "suspend", "CODE [--reason T]", "suspend a centre", c_suspend},
    {"center", "reopen", "CODE", "reopen a suspended centre", c_reopen},
    {"center", "close", "CODE [--reason T]", "close a centre", c_close},
    {"brand", "list", "", "brands and manufacturers", b_list},
    {"brand", "create", "NAME --manufacturer M [--models a,b]", "add a brand", b_create},
    {"audit", "", "[--subject L] [--since T] [--until T] [--limit N]",
     "who did what (every service)", x_audit},
    {NULL, NULL, NULL, NULL, NULL},
};
