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
                          TOKEN = ASCTL_VIEW(NULL, TOKEN_COLS, .after = print_token_secret),
                          TOKENS = ASCTL_VIEW("tokens", TOKEN_COLS),
                          AUDIT = ASCTL_VIEW("entries", AUDIT_COLS);

static void print_me(json_t *a)
{
    /* clang-format off */
    static const char *const fields[] = {
        "login", "login",
        "name", "display_name",
        "role", "role",
        "site", "site",
        "region", "region",
        "auth", "auth",
        NULL};
    /* clang-format on */
    asctl_print_lines(a, fields);
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

static const char *const TOKEN_FIELDS[] = {"--name",          "name", "s", "--days",
                                           "expires_in_days", "i",    NULL};
static const char *const LOGIN_QUERY[] = {"--login", "login", NULL};
static const char *const USER_QUERY[] = {"--role", "role", "--region", "region",
                                         "--site", "site", NULL};
static const char *const USER_FIELDS[] = {
    "--name", "display_name", "s",      "--role", "role",       "s",        "--site", "site",
    "s",      "--region",     "region", "s",      "--password", "password", "s",      NULL};
static const char *const PASSWORD_FIELD[] = {"--password", "password", "s", NULL};
static const char *const NAME_FIELD[] = {"--name", "name", "s", NULL};
static const char *const CENTER_QUERY[] = {"--region", "region", "--state", "state", NULL};
static const char *const CENTER_FIELDS[] = {
    "--name",   "name",   "s", "--region", "region", "s", "--address",    "address",    "s",
    "--phone",  "phone",  "s", "--hours",  "hours",  "s", "--categories", "categories", "l",
    "--brands", "brands", "l", NULL};
static const char *const REASON_FIELD[] = {"--reason", "reason", "s", NULL};
static const char *const BRAND_FIELDS[] = {
    "--manufacturer", "manufacturer", "s", "--models", "models", "l", NULL};
static const char *const AUDIT_QUERY[] = {"--subject", "subject", "--since", "since", "--until",
                                          "until",     "--limit", "limit",   NULL};

const asctl_cmd_t asctl_people_cmds[] = {
    {"login", "", "LOGIN [--password P]", "sign in; prints export AS_TOKEN=<session> (eval it)",
     a_login, NULL},
    {"whoami", "", "", "who the token is (login, name, role, scope)",
     ASCTL_CALL("GET", "/v1/auth/me", .print = print_me)},
    {"token", "create", "[--name N] [--days D]", "a personal API token (shown once)",
     ASCTL_CALL("POST", "/v1/auth/tokens", .body = TOKEN_FIELDS, .view = &TOKEN)},
    {"token", "list", "[--login L]", "live sessions and tokens",
     ASCTL_CALL("GET", "/v1/auth/tokens", .query = LOGIN_QUERY, .view = &TOKENS)},
    {"token", "revoke", "ID", "revoke a session or token (at once)",
     ASCTL_CALL("DELETE", "/v1/auth/tokens/%s", .view = &TOKENS)},
    {"user", "list", "[--role R] [--region R] [--site S]", "staff accounts",
     ASCTL_CALL("GET", "/v1/users", .query = USER_QUERY, .view = &USERS)},
    {"user", "show", "LOGIN", "one staff account",
     ASCTL_CALL("GET", "/v1/users/%s", .view = &USER)},
    {"user", "create", "LOGIN --name N --role R [--site S] [--region R] --password P",
     "create a staff account",
     ASCTL_CALL("POST", "/v1/users", .body = USER_FIELDS, .view = &USER, .arg = "login")},
    {"user", "disable", "LOGIN", "disable an account (refused at once)",
     ASCTL_CALL("PATCH", "/v1/users/%s", .view = &USER, .fixed = "{\"active\": false}")},
    {"user", "enable", "LOGIN", "enable it again",
     ASCTL_CALL("PATCH", "/v1/users/%s", .view = &USER, .fixed = "{\"active\": true}")},
    {"user", "reset-password", "LOGIN --password P", "new password, unlock, end sessions",
     ASCTL_CALL("POST", "/v1/users/%s/password", .body = PASSWORD_FIELD, .view = &USER)},
    {"region", "list", "", "the regions", ASCTL_CALL("GET", "/v1/regions", .view = &REGIONS)},
    {"region", "create", "CODE --name N", "create a region",
     ASCTL_CALL("POST", "/v1/regions", .body = NAME_FIELD, .view = &REGION, .arg = "code")},
    {"center", "list", "[--region R] [--state S]", "the service centres",
     ASCTL_CALL("GET", "/v1/centers", .query = CENTER_QUERY, .view = &CENTERS)},
    {"center", "show", "CODE", "one centre", ASCTL_CALL("GET", "/v1/centers/%s", .view = &CENTER)},
    {"center", "open", "CODE --name N --region R [--brands a,b] [--categories a,b] ...",
     "open a centre",
     ASCTL_CALL("POST", "/v1/centers", .body = CENTER_FIELDS, .view = &CENTER, .arg = "code")},
    {"center", "suspend", "CODE [--reason T]", "suspend a centre",
     ASCTL_CALL("POST", "/v1/centers/%s/suspend", .body = REASON_FIELD, .view = &CENTER)},
    {"center", "reopen", "CODE", "reopen a suspended centre",
     ASCTL_CALL("POST", "/v1/centers/%s/reopen", .body = ASCTL_NO_FIELDS, .view = &CENTER)},
    {"center", "close", "CODE [--reason T]", "close a centre",
     ASCTL_CALL("POST", "/v1/centers/%s/close", .body = REASON_FIELD, .view = &CENTER)},
    {"brand", "list", "", "brands and manufacturers",
     ASCTL_CALL("GET", "/v1/brands", .view = &BRANDS)},
    {"brand", "create", "NAME --manufacturer M [--models a,b]", "add a brand",
     ASCTL_CALL("POST", "/v1/brands", .body = BRAND_FIELDS, .view = &BRAND, .arg = "name")},
    {"audit", "", "[--subject L] [--since T] [--until T] [--limit N]",
     "who did what (every service)",
     ASCTL_CALL("GET", "/v1/audit", .query = AUDIT_QUERY, .view = &AUDIT)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
