/* cmd_tickets.c — `asctl ticket …`: the front desk's verbs, and `asctl health` / `asctl call`. */
#include "asctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Run one request and print the answer (JSON or via `print`). Returns the exit code. */
/* One request; the answer goes to `print`, else through `view`, else out as JSON. */
static int request(const asctl_opts_t *o, const char *method, const char *path, json_t *body,
                   const char *key, void (*print)(json_t *), const asctl_view_t *view)
{
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int status;
    json_t *ans;
    int rc = asctl_http(o, method, path, b, key, &status, &ans);
    free(b);
    json_decref(body);
    if (rc < 0)
        return ASCTL_FAILED;
    if (status >= 400 || status == 0) {
        int code = asctl_report_error(status, ans);
        json_decref(ans);
        return code;
    }
    if (o->json || (!print && !view))
        asctl_print_json(ans);
    else if (print)
        print(ans);
    else
        asctl_print_view(ans, view);
    json_decref(ans);
    return ASCTL_OK;
}

int asctl_request(const asctl_opts_t *o, const char *method, const char *path, json_t *body,
                  const char *key, void (*print)(json_t *))
{
    return request(o, method, path, body, key, print, NULL);
}

int asctl_request_view(const asctl_opts_t *o, const char *method, const char *path, json_t *body,
                       const char *key, const asctl_view_t *v)
{
    return request(o, method, path, body, key, NULL, v);
}

void asctl_print_view(json_t *answer, const asctl_view_t *v)
{
    json_t *rows = v->list_key ? json_incref(json_object_get(answer, v->list_key)) : json_array();
    if (!v->list_key)
        json_array_append(rows, answer);
    if (v->money)
        asctl_verb_add_yuan(rows, v->money);
    asctl_print_table(rows, v->cols, v->ncols);
    json_decref(rows);
    json_t *next = json_object_get(answer, "next");
    if (v->more && (json_is_string(next) || json_is_integer(next))) {
        char b[256];
        printf("\n");
        printf(v->more, asctl_get(answer, "next", b, sizeof b));
        printf("\n");
    }
    if (v->after)
        v->after(answer);
}

/* Widths are terminal columns: a Chinese customer name of five characters fills CUSTOMER. */
static const asctl_col_t LIST_COLS[] = {
    {"TICKET", "id", 10},
    {"CENTRE", "center", 6},
    {"STATE", "state", 16},
    {"CUSTOMER", "customer.name", 10},
    {"CATEGORY", "device.category", 12},
    {"DEVICE", "device.model", 14},
    {"DECISION", "decision.status", 26},
    {"REMEDY", "decision.remedy", 8},
    {"OPENED (UTC)", "opened_at", 16},
};

static void print_ticket(json_t *t)
{
    char b[512];
    printf("ticket    %s  (%s, centre %s, region %s)\n", asctl_get(t, "id", b, sizeof b),
           json_string_value(json_object_get(t, "state")),
           json_string_value(json_object_get(t, "center")),
           json_string_value(json_object_get(t, "region")));
    printf("customer  %s  %s\n",
           json_string_value(json_object_get(json_object_get(t, "customer"), "name")),
           asctl_get(t, "customer.phone", b, sizeof b));
    printf("device    %s %s %s", asctl_get(t, "device.category", b, sizeof b),
           json_string_value(json_object_get(json_object_get(t, "device"), "brand")),
           json_string_value(json_object_get(json_object_get(t, "device"), "model")));
    printf("  imei %s\n", asctl_get(t, "device.imei", b, sizeof b));
    printf("fault     %s", asctl_get(t, "fault.code", b, sizeof b));
    printf("  request %s  claim date %s\n", json_string_value(json_object_get(t, "request")),
           asctl_get(t, "claim_date", b, sizeof b));
    json_t *d = json_object_get(t, "decision");
    if (d) {
        printf("decision  %s", asctl_get(d, "status", b, sizeof b));
        printf(" / %s", asctl_get(d, "remedy", b, sizeof b));
        printf("  free %s", asctl_get(d, "free", b, sizeof b));
        printf("  rules %s\n", asctl_get(d, "rules", b, sizeof b));
        printf("          %s\n", asctl_get(d, "reason", b, sizeof b));
    }
    json_t *w = json_object_get(t, "warnings");
    size_t i;
    json_t *x;
    json_array_foreach(w, i, x) printf("warning   %s\n", json_string_value(x));
    printf("\ntimeline:\n");
    json_array_foreach(json_object_get(t, "timeline"), i, x)
    {
        char at[64], ev[64], to[64], who[64], note[300];
        printf("  %-24s %-18s -> %-16s %-12s %s\n", asctl_get(x, "at", at, sizeof at),
               asctl_get(x, "event", ev, sizeof ev), asctl_get(x, "to_state", to, sizeof to),
               asctl_get(x, "actor", who, sizeof who), asctl_get(x, "note", note, sizeof note));
    }
}

static void print_list(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "tickets"), LIST_COLS,
                      sizeof LIST_COLS / sizeof LIST_COLS[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl ticket list --after %s\n", next);
}

static json_t *read_json_file(const char *path)
{
    json_error_t e;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &e) : json_load_file(path, 0, &e);
    if (!j)
        fprintf(stderr, "asctl: %s: %s (line %d)\n", path, e.text, e.line);
    return j;
}

static int t_open(const asctl_opts_t *o, int argc, char **argv)
{
    const char *file = asctl_opt(argc, argv, "--file");
    if (!file) {
        fprintf(stderr, "asctl: ticket open needs --file FILE (or - for stdin) with the ticket "
                        "JSON\n");
        return ASCTL_USAGE;
    }
    json_t *body = read_json_file(file);
    if (!body)
        return ASCTL_USAGE;
    return asctl_request(o, "POST", "/v1/tickets", body, asctl_opt(argc, argv, "--key"),
                         print_ticket);
}

static int need_id(int argc, char **argv, const char *verb)
{
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "asctl: ticket %s needs a ticket id\n", verb);
        return 0;
    }
    return 1;
}

static int t_show(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "show"))
        return ASCTL_USAGE;
    char path[256];
    snprintf(path, sizeof path, "/v1/tickets/%s", argv[0]);
    return asctl_request(o, "GET", path, NULL, NULL, print_ticket);
}

static int post_verb(const asctl_opts_t *o, const char *id, const char *verb, json_t *body)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/tickets/%s/%s", id, verb);
    return asctl_request(o, "POST", path, body, NULL, print_ticket);
}

static void set_str(json_t *b, const char *key, const char *v)
{
    if (v)
        json_object_set_new(b, key, json_string(v));
}

static int set_int(json_t *b, const char *key, const char *v)
{
    if (!v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || !*v) {
        fprintf(stderr, "asctl: %s must be a whole number, got '%s'\n", key, v);
        return -1;
    }
    json_object_set_new(b, key, json_integer(n));
    return 0;
}

static int t_diagnose(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "diagnose"))
        return ASCTL_USAGE;
    json_t *b = json_object(), *parts = asctl_parts(argc, argv, "--part");
    if (!parts || set_int(b, "estimate_cents", asctl_opt(argc, argv, "--estimate")) < 0) {
        json_decref(b);
        json_decref(parts);
        return ASCTL_USAGE;
    }
    set_str(b, "fault_code", asctl_opt(argc, argv, "--fault-code"));
    set_str(b, "labour_code", asctl_opt(argc, argv, "--labour-code"));
    set_str(b, "promised_date", asctl_opt(argc, argv, "--promised"));
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    json_object_set_new(b, "parts", parts);
    return post_verb(o, argv[0], "diagnosis", b);
}

static int t_consent(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "consent"))
        return ASCTL_USAGE;
    int acc = asctl_flag(argc, argv, "--accept"), dec = asctl_flag(argc, argv, "--decline");
    if (acc == dec) {
        fprintf(stderr, "asctl: ticket consent needs exactly one of --accept or --decline\n");
        return ASCTL_USAGE;
    }
    json_t *b = json_pack("{s:b}", "accept", acc);
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    return post_verb(o, argv[0], "consent", b);
}

static int t_revise(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "revise-estimate"))
        return ASCTL_USAGE;
    const char *est = asctl_opt(argc, argv, "--estimate");
    if (!est) {
        fprintf(stderr, "asctl: ticket revise-estimate needs --estimate CENTS\n");
        return ASCTL_USAGE;
    }
    json_t *b = json_object();
    if (set_int(b, "estimate_cents", est) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    return post_verb(o, argv[0], "revise-estimate", b);
}

static int t_parts(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "parts"))
        return ASCTL_USAGE;
    json_t *parts = asctl_parts(argc, argv, "--part");
    if (!parts)
        return ASCTL_USAGE;
    json_t *b = json_pack("{s:o}", "parts", parts);
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    return post_verb(o, argv[0], "parts-requests", b);
}

static int t_complete(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "complete"))
        return ASCTL_USAGE;
    json_t *b = json_object(), *parts = asctl_parts(argc, argv, "--part");
    if (!parts || set_int(b, "labour_minutes", asctl_opt(argc, argv, "--minutes")) < 0) {
        json_decref(b);
        json_decref(parts);
        return ASCTL_USAGE;
    }
    json_object_set_new(b, "parts_used", parts);
    set_str(b, "labour_code", asctl_opt(argc, argv, "--labour-code"));
    set_str(b, "cause", asctl_opt(argc, argv, "--cause"));
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    return post_verb(o, argv[0], "repair-complete", b);
}

static int t_handback(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "handback"))
        return ASCTL_USAGE;
    json_t *b = json_object();
    set_str(b, "note", asctl_opt(argc, argv, "--note"));
    return post_verb(o, argv[0], "handback", b);
}

static int t_cancel(const asctl_opts_t *o, int argc, char **argv)
{
    if (!need_id(argc, argv, "cancel"))
        return ASCTL_USAGE;
    const char *reason = asctl_opt(argc, argv, "--reason");
    if (!reason) {
        fprintf(stderr, "asctl: ticket cancel needs --reason TEXT\n");
        return ASCTL_USAGE;
    }
    return post_verb(o, argv[0], "cancel", json_pack("{s:s}", "reason", reason));
}

/* ---- promised deadlines (issue 19.2) ---- */

static const asctl_col_t PROMISE_COLS[] = {
    {"TICKET", "id", 10},           {"CENTRE", "center", 6},
    {"STATE", "state", 16},         {"PROMISED", "promised_at", 24},
    {"RISK", "at_risk", 5},         {"OVERDUE", "overdue", 7},
    {"LEVEL", "promise_level", 14},
};

static const asctl_view_t PROMISES_VIEW = ASCTL_VIEW("tickets", PROMISE_COLS);

static const asctl_col_t PROMISE_REPORT_COLS[] = {
    {"CENTRE", "center", 6},   {"REGION", "region", 8},   {"OPEN", "open", 5},
    {"AT RISK", "at_risk", 7}, {"OVERDUE", "overdue", 7}, {"ESCALATED", "escalated", 9},
    {"KEPT", "kept", 5},       {"MISSED", "missed", 6},   {"KEPT %", "kept_pct", 6},
};

static void print_promise_report(json_t *ans)
{
    const char *from = json_string_value(json_object_get(ans, "from"));
    const char *to = json_string_value(json_object_get(ans, "to"));
    printf("promises, kept/missed from %s to %s\n\n", from ? from : "", to ? to : "");
    asctl_print_table(json_object_get(ans, "rows"), PROMISE_REPORT_COLS,
                      sizeof PROMISE_REPORT_COLS / sizeof PROMISE_REPORT_COLS[0]);
}

static const asctl_col_t LEVEL_COLS[] = {
    {"CENTRE", "center", 6},  {"CATEGORY", "category", 20}, {"HOURS", "hours", 6},
    {"BY", "updated_by", 14}, {"AT", "updated_at", 24},
};

static void print_levels(json_t *ans)
{
    char b[32];
    printf("default: %s hours (where no level below matches)\n\n",
           asctl_get(ans, "default_hours", b, sizeof b));
    asctl_print_table(json_object_get(ans, "levels"), LEVEL_COLS,
                      sizeof LEVEL_COLS / sizeof LEVEL_COLS[0]);
}

static int sl_set(const asctl_opts_t *o0, int argc, char **argv)
{
    if (asctl_verb_check(argc, argv, "", 3, 3, "service-level set") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    long long hours;
    if (asctl_verb_int(asctl_verb_pos(argc, argv, "", 2), "HOURS", &hours) < 0)
        return ASCTL_USAGE;
    json_t *b =
        json_pack("{s:s, s:s, s:I}", "center", asctl_verb_pos(argc, argv, "", 0), "category",
                  asctl_verb_pos(argc, argv, "", 1), "hours", (json_int_t)hours);
    return asctl_request(&o, "POST", "/v1/service-levels", b, NULL, NULL);
}

/* ---- the station scorecard (issue 19.5, docs/scorecard.md) ---- */

static const asctl_col_t SCORECARD_COLS[] = {
    {"CENTRE", "center", 16},
    {"REGION", "region", 12},
    {"RANK", "rank", 4},
    {"SCORE", "score", 5},
    {"TICKETS", "tickets", 7},
    {"REPAIRED", "repaired", 8},
    {"TURN H", "turnaround_hours", 6},
    {"FTF %", "first_time_fix_pct", 5},
    {"REPEAT %", "repeat_repair_pct", 8},
    {"KEPT %", "promise_kept_pct", 6},
    {"SATIS", "satisfaction", 5},
    {"NPS", "nps", 5},
    {"CMPL/100", "complaints_per_100", 8},
    {"COST", "cost_per_repair_cents", 8},
    {"FILL %", "parts_fill_pct", 6},
};

/* a number as text: integers as they are, decimals with at most 3 places */
static json_t *num_text(json_t *v)
{
    char b[32];
    if (json_is_real(v)) {
        snprintf(b, sizeof b, "%.3f", json_real_value(v));
        for (size_t n = strlen(b); n > 0 && (b[n - 1] == '0' || b[n - 1] == '.'); n--) {
            char c = b[n - 1];
            b[n - 1] = '\0';
            if (c == '.')
                break;
        }
        return json_string(b);
    }
    return json_incref(v);
}

static void print_scorecard(json_t *ans)
{
    char b[16];
    size_t i, j;
    json_t *row, *m;
    json_t *rows = json_object_get(ans, "rows");
    /* one column per metric: its value, blank without data */
    json_array_foreach(rows, i, row)
    {
        json_t *score = json_object_get(row, "score");
        if (score)
            json_object_set_new(row, "score", num_text(score));
        json_array_foreach(json_object_get(row, "metrics"), j, m)
        {
            const char *key = json_string_value(json_object_get(m, "key"));
            json_t *v = json_object_get(m, "value");
            if (key && v)
                json_object_set_new(row, key, num_text(v));
        }
    }
    const char *from = json_string_value(json_object_get(ans, "from"));
    const char *to = json_string_value(json_object_get(ans, "to"));
    printf("scorecard %s .. %s (weights version %s; metrics without data are blank)\n\n",
           from ? from : "", to ? to : "", asctl_get(ans, "weights_version", b, sizeof b));
    asctl_print_table(rows, SCORECARD_COLS, sizeof SCORECARD_COLS / sizeof SCORECARD_COLS[0]);
}

static const asctl_col_t SC_WEIGHT_COLS[] = {
    {"VERSION", "version", 7},
    {"FROM", "effective_from", 10},
    {"TURN", "turnaround", 4},
    {"FTF", "first_time_fix", 4},
    {"REPEAT", "repeat_repairs", 6},
    {"KEPT", "promise_kept", 4},
    {"SATIS", "satisfaction", 5},
    {"NPS", "nps", 4},
    {"CMPL", "complaints", 4},
    {"COST", "cost_per_repair", 4},
    {"FILL", "parts_fill", 4},
    {"BASE", "reward_base_cents", 6},
    {"NOTE", "note", 24},
};

static void print_sc_weights(json_t *ans)
{
    char b[16];
    asctl_print_table(json_object_get(ans, "weight_sets"), SC_WEIGHT_COLS,
                      sizeof SC_WEIGHT_COLS / sizeof SC_WEIGHT_COLS[0]);
    printf("\nin force today: version %s (weights in thousandths; BASE: cents per repair)\n",
           asctl_get(ans, "current_version", b, sizeof b));
}

/* Rewards for past months (POST /v1/reports/scorecard/rewards/backfill): the answer as JSON. */
static int r_scorecard_backfill(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--from= --to= --region= --center= --dry-run";
    static const char *const map[] = {"--from",    "from_month", "s", "--to",     "to_month", "s",
                                      "--region",  "region",     "s", "--center", "center",   "s",
                                      "--dry-run", "dry_run",    "b", NULL};
    if (asctl_verb_check(argc, argv, spec, 0, 0, "report scorecard-backfill") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", "/v1/reports/scorecard/rewards/backfill", b, NULL, NULL);
}

/* ---- the hotline's call log (issue 19.1) ---- */

static const asctl_col_t CALL_COLS[] = {
    {"CALL", "id", 10},
    {"STARTED", "started_at", 24},
    {"DIR", "direction", 8},
    {"CATEGORY", "category", 14},
    {"OUTCOME", "outcome", 15},
    {"CENTRE", "center", 6},
    {"PHONE", "customer_phone", 13},
    {"TICKET", "ticket_id", 10},
    {"COMPLAINT", "complaint_id", 10},
    {"SUMMARY", "summary", 30},
};

static const asctl_view_t CALLS_VIEW = ASCTL_VIEW("calls", CALL_COLS);

static const asctl_col_t CALL_STAT_COLS[] = {
    {"KEY", "key", 16},
    {"CALLS", "count", 6},
    {"ANSWERED", "answered", 8},
    {"TRANSFERRED", "transferred", 11},
    {"CALLBACK", "callback_needed", 8},
    {"AVG S", "avg_duration_s", 6},
};

static void print_call_stats(json_t *ans)
{
    static const char *const dims[][2] = {
        {"by_category", "by category"}, {"by_center", "by centre"}, {"by_hour", "by hour"}};
    char b[32];
    printf("calls from %s to %s: %s\n", json_string_value(json_object_get(ans, "from")),
           json_string_value(json_object_get(ans, "to")), asctl_get(ans, "total", b, sizeof b));
    for (size_t i = 0; i < 3; i++) {
        printf("\n%s\n", dims[i][1]);
        asctl_print_table(json_object_get(ans, dims[i][0]), CALL_STAT_COLS,
                          sizeof CALL_STAT_COLS / sizeof CALL_STAT_COLS[0]);
    }
}

static int c_record(const asctl_opts_t *o0, int argc, char **argv)
{
    static const char *const spec = "--direction= --channel= --category= --outcome= --phone= "
                                    "--name= --ticket= --complaint= --center= --summary= "
                                    "--duration= --started= --cause= --description= --file=";
    /* clang-format off */
    static const char *const map[] = {
        "--direction", "direction", "s",      "--channel", "channel", "s",
        "--category", "category", "s",        "--outcome", "outcome", "s",
        "--ticket", "ticket_id", "s",         "--complaint", "complaint_id", "s",
        "--center", "center", "s",            "--summary", "summary", "s",
        "--duration", "duration_s", "i",      "--started", "started_at", "s",
        "--phone", "customer.phone", "s",     "--name", "customer.name", "s",
        "--cause", "complaint.cause", "s",    "--description", "complaint.description", "s",
        NULL};
    /* clang-format on */
    if (asctl_verb_check(argc, argv, spec, 0, 0, "hotline record") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_object();
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    const char *file = asctl_opt(argc, argv, "--file");
    if (file) {
        json_t *t = asctl_verb_read_json(file);
        if (!t) {
            json_decref(b);
            return ASCTL_USAGE;
        }
        json_object_set_new(b, "ticket", t);
    }
    return asctl_request(&o, "POST", "/v1/calls", b, NULL, NULL);
}

/* each option is the route's query parameter of the same name */
static const char *const TICKET_QUERY[] = {"--center", "center",   "--state", "state",   "--imei",
                                           "imei",     "--serial", "serial",  "--phone", "phone",
                                           "--from",   "from",     "--to",    "to",      "--after",
                                           "after",    "--limit",  "limit",   NULL};
static const char *const PROMISE_QUERY[] = {"--center", "center", "--status", "status",
                                            "--limit",  "limit",  NULL};
static const char *const CENTER_FROM_TO[] = {"--center", "center", "--from", "from",
                                             "--to",     "to",     NULL};
static const char *const CENTER_QUERY[] = {"--center", "center", NULL};
static const char *const SCORECARD_QUERY[] = {"--from", "from",     "--to",   "to", "--region",
                                              "region", "--center", "center", NULL};
static const char *const CALL_QUERY[] = {
    "--phone", "phone",  "--ticket", "ticket_id", "--category", "category", "--center",
    "center",  "--from", "from",     "--to",      "to",         "--text",   "q",
    "--after", "after",  "--limit",  "limit",     NULL};

const asctl_cmd_t asctl_ticket_cmds[] = {
    {"ticket", "open", "--file FILE|- [--key IDEMPOTENCY-KEY]", "open a ticket from its JSON",
     t_open, NULL},
    {"ticket", "show", "ID", "a ticket with its decision and timeline", t_show, NULL},
    {"ticket", "list",
     "[--center C] [--state S] [--imei I] [--serial S] [--phone P] [--from D] [--to D] [--limit N] "
     "[--after ID]",
     "list tickets", ASCTL_CALL("GET", "/v1/tickets", .query = TICKET_QUERY, .print = print_list)},
    {"ticket", "diagnose",
     "ID [--fault-code C] [--labour-code L] [--part SKU:QTY]... [--estimate CENTS] [--promised "
     "DATE]",
     "record the diagnosis", t_diagnose, NULL},
    {"ticket", "consent", "ID --accept|--decline [--note T]",
     "the customer's answer to the estimate", t_consent, NULL},
    {"ticket", "revise-estimate", "ID --estimate CENTS [--note T]",
     "the work needs more: a revised estimate for a new consent", t_revise, NULL},
    {"ticket", "parts", "ID --part SKU:QTY...", "request parts for the repair", t_parts, NULL},
    {"ticket", "complete", "ID [--part SKU:QTY]... [--minutes N] [--cause C]", "the repair is done",
     t_complete, NULL},
    {"ticket", "handback", "ID [--note T]", "hand the product back", t_handback, NULL},
    {"ticket", "cancel", "ID --reason TEXT", "cancel a ticket", t_cancel, NULL},
    {"ticket", "promises", "[--center C] [--status at_risk|overdue|all] [--limit N]",
     "running promises at risk or overdue",
     ASCTL_CALL("GET", "/v1/promises", .query = PROMISE_QUERY, .view = &PROMISES_VIEW)},
    {"ticket", "promise-report", "[--center C] [--from D] [--to D]",
     "promises per centre: open, at risk, overdue, escalated, kept, missed",
     ASCTL_CALL("GET", "/v1/reports/promises", .query = CENTER_FROM_TO,
                .print = print_promise_report)},
    {"service-level", "list", "[--center C]", "hours promised per centre and category",
     ASCTL_CALL("GET", "/v1/service-levels", .query = CENTER_QUERY, .print = print_levels)},
    {"service-level", "set", "CENTER|* CATEGORY|* HOURS",
     "set a service level (head office; HOURS 0 removes it)", sl_set, NULL},
    {"report", "scorecard", "[--from D] [--to D] [--region R] [--center C]",
     "the station scorecard: metrics, weighted score and rank per centre",
     ASCTL_CALL("GET", "/v1/reports/scorecard", .query = SCORECARD_QUERY,
                .print = print_scorecard)},
    {"report", "scorecard-weights", "", "the scorecard weight sets and reward rules",
     ASCTL_CALL("GET", "/v1/scorecard/weights", .print = print_sc_weights)},
    {"report", "scorecard-backfill",
     "--from YYYY-MM --to YYYY-MM [--region R] [--center C] [--dry-run]",
     "rewards for every closed month in a range, each posted once", r_scorecard_backfill, NULL},
    {"hotline", "record",
     "--direction inbound|outbound --category C --summary T [--channel C] [--outcome O] "
     "[--phone P] [--name N] [--ticket ID] [--complaint ID] [--center C] [--duration S] "
     "[--started TS] [--cause C --description T] [--file TICKET.json|-]",
     "record a call (repair_request: --file opens the ticket; complaint: --cause/--description)",
     c_record, NULL},
    {"hotline", "list",
     "[--phone P] [--ticket ID] [--category C] [--center C] [--from D] [--to D] [--text T] "
     "[--limit N] [--after ID]",
     "search the call archive",
     ASCTL_CALL("GET", "/v1/calls", .query = CALL_QUERY, .view = &CALLS_VIEW)},
    {"hotline", "show", "ID", "one call", ASCTL_CALL("GET", "/v1/calls/%s", .print = NULL)},
    {"hotline", "stats", "[--center C] [--from D] [--to D]",
     "calls by category, centre and hour of the day",
     ASCTL_CALL("GET", "/v1/calls/stats", .query = CENTER_FROM_TO, .print = print_call_stats)},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static void print_health(json_t *ans)
{
    printf("system: %s\n", json_string_value(json_object_get(ans, "status")));
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(ans, "services"), name, s)
    {
        char b1[32], b2[32];
        printf("  %-11s %-12s db %-4s schema %s\n", name,
               json_string_value(json_object_get(s, "status")), asctl_get(s, "db", b1, sizeof b1),
               asctl_get(s, "schema_version", b2, sizeof b2));
    }
}

static int m_health(const asctl_opts_t *o, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int status;
    json_t *ans;
    if (asctl_http(o, "GET", "/healthz", NULL, NULL, &status, &ans) < 0)
        return ASCTL_FAILED;
    if (o->json)
        asctl_print_json(ans);
    else if (ans)
        print_health(ans);
    json_decref(ans);
    return status == 200 ? ASCTL_OK : ASCTL_FAILED;
}

/* Any route: asctl call METHOD PATH [JSON|@FILE] */
static int m_call(const asctl_opts_t *o, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "asctl: call needs METHOD PATH [JSON|@FILE]\n");
        return ASCTL_USAGE;
    }
    json_t *body = NULL;
    if (argc > 2) {
        json_error_t e;
        body = argv[2][0] == '@' ? json_load_file(argv[2] + 1, 0, &e) : json_loads(argv[2], 0, &e);
        if (!body) {
            fprintf(stderr, "asctl: the body is not JSON: %s\n", e.text);
            return ASCTL_USAGE;
        }
    }
    return asctl_request(o, argv[0], argv[1], body, asctl_opt(argc, argv, "--key"), NULL);
}

const asctl_cmd_t asctl_misc_cmds[] = {
    {"health", "", "", "is every service up?", m_health, NULL},
    {"call", "", "METHOD PATH [JSON|@FILE] [--key K]", "any gateway route, raw JSON out", m_call,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
