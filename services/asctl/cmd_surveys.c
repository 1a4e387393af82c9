/* cmd_surveys.c — `asctl survey …` (satisfaction callbacks and the satisfaction report) and
 * `asctl complaint …` (complaints: one owner, deadlines by severity, escalation). */
#include "asctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(json_t *obj, const char *field)
{
    const char *v = json_string_value(json_object_get(obj, field));
    return v ? v : "";
}

/* ---- callbacks --------------------------------------------------------------------------- */

static const asctl_col_t CALLBACK_COLS[] = {
    {"CALLBACK", "id", 10},
    {"TICKET", "ticket_id", 10},
    {"CENTRE", "center", 6},
    {"STATE", "state", 11},
    {"CUSTOMER", "customer_name", 14},
    {"PHONE", "customer_phone", 13},
    {"OUTCOME", "outcome", 9},
    {"DUE", "due_at", 24},
    {"TRIES", "attempts", 5},
};

static void print_due(json_t *ans)
{
    json_t *cbs = json_object_get(ans, "callbacks");
    printf("callbacks due on or before %s: %zu\n\n", str_of(ans, "date"), json_array_size(cbs));
    asctl_print_table(cbs, CALLBACK_COLS, sizeof CALLBACK_COLS / sizeof CALLBACK_COLS[0]);
}

static void print_callback(json_t *cb)
{
    char b[512];
    printf("callback       %s   ticket %s   centre %s   %s\n", str_of(cb, "id"),
           str_of(cb, "ticket_id"), str_of(cb, "center"), str_of(cb, "state"));
    snprintf(b, sizeof b, "%s  %s", str_of(cb, "customer_name"), str_of(cb, "customer_phone"));
    asctl_verb_line("customer", b);
    snprintf(b, sizeof b, "%s %s, %s", str_of(cb, "brand"), str_of(cb, "category"),
             str_of(cb, "outcome"));
    asctl_verb_line("product", b);
    asctl_verb_line("closed", str_of(cb, "closed_at"));
    snprintf(b, sizeof b, "%s (business date %s)", str_of(cb, "due_at"), str_of(cb, "due_date"));
    asctl_verb_line("due", b);
    char a1[16], a2[16];
    snprintf(b, sizeof b, "%s of %s", asctl_get(cb, "attempts", a1, sizeof a1),
             asctl_get(cb, "max_attempts", a2, sizeof a2));
    asctl_verb_line("attempts", b);
    json_t *h = json_object_get(cb, "history");
    if (json_array_size(h) > 0) {
        static const asctl_col_t cols[] = {{"#", "attempt", 2},
                                           {"AT", "at", 24},
                                           {"RESULT", "result", 11},
                                           {"BY", "by", 14},
                                           {"NOTE", "note", 40}};
        printf("\n");
        asctl_print_table(h, cols, sizeof cols / sizeof cols[0]);
    }
    json_t *r = json_object_get(cb, "response");
    if (r) {
        char s[5][8], nps[8];
        printf("\nresponse       %s   weighted score %s (weights v%s)%s\n", str_of(r, "id"),
               str_of(r, "weighted_score"), asctl_get(r, "weight_version", a1, sizeof a1),
               json_is_true(json_object_get(r, "low")) ? "   LOW" : "");
        printf("scores         attitude %s  repair %s  timeliness %s  price %s  facilities %s  "
               "nps %s\n",
               asctl_get(r, "attitude", s[0], sizeof s[0]),
               asctl_get(r, "repair_quality", s[1], sizeof s[1]),
               asctl_get(r, "timeliness", s[2], sizeof s[2]),
               asctl_get(r, "price", s[3], sizeof s[3]),
               asctl_get(r, "facilities", s[4], sizeof s[4]), asctl_get(r, "nps", nps, sizeof nps));
        asctl_verb_line("comment", str_of(r, "comment"));
        if (*str_of(r, "complaint_id"))
            printf("complaint      %s opened from the low score (asctl complaint show %s)\n",
                   str_of(r, "complaint_id"), str_of(r, "complaint_id"));
    }
}

static int sv_answer(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--scores= --attitude= --repair= --timeliness= --price= --facilities= "
                       "--nps= --comment=";
    static const char *const dims[] = {"attitude", "repair_quality", "timeliness", "price",
                                       "facilities"};
    static const char *const opts[] = {"--attitude", "--repair", "--timeliness", "--price",
                                       "--facilities"};
    if (asctl_verb_check(argc, argv, spec, 1, 1, "survey answer") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    long long v[5];
    int have[5] = {0};
    const char *scores = asctl_opt(argc, argv, "--scores");
    if (scores) {
        char *end;
        const char *p = scores;
        for (int i = 0; i < 5; i++) {
            v[i] = strtoll(p, &end, 10);
            if (end == p || (i < 4 && *end != ',') || (i == 4 && *end)) {
                fprintf(stderr,
                        "asctl: --scores expects five numbers A,R,T,P,F (attitude, repair "
                        "quality, timeliness, price, facilities), got '%s'\n",
                        scores);
                return ASCTL_USAGE;
            }
            have[i] = 1;
            p = end + 1;
        }
    }
    for (int i = 0; i < 5; i++) {
        const char *x = asctl_opt(argc, argv, opts[i]);
        if (x) {
            if (asctl_verb_int(x, opts[i], &v[i]) < 0)
                return ASCTL_USAGE;
            have[i] = 1;
        }
        if (!have[i]) {
            fprintf(stderr,
                    "asctl: survey answer needs all five scores: --scores A,R,T,P,F (or "
                    "%s N and the others)\n",
                    opts[i]);
            return ASCTL_USAGE;
        }
    }
    json_t *b = json_object();
    for (int i = 0; i < 5; i++)
        json_object_set_new(b, dims[i], json_integer(v[i]));
    static const char *const map[] = {"--nps", "nps", "i", "--comment", "comment", "s", NULL};
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    char path[256];
    if (asctl_verb_path(path, sizeof path, "/v1/surveys/callbacks/%s/answer",
                        asctl_verb_pos(argc, argv, spec, 0)) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    return asctl_request(&o, "POST", path, b, NULL, print_callback);
}

static const char *const NOTE_MAP[] = {"--note", "note", "s", NULL};

static void print_satisfaction(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"KEY", "key", 8},
        {"RESPONSES", "responses", 9},
        {"SCORE", "weighted_score", 6},
        {"NPS", "nps", 6},
        {"PROMOTERS", "promoters", 9},
        {"PASSIVES", "passives", 8},
        {"DETRACTORS", "detractors", 10},
        {"DUE", "callbacks_due", 5},
        {"ANSWERED", "answered", 8},
        {"RATE", "response_rate", 5},
    };
    printf("satisfaction by %s, %s .. %s (score: weighted, 1-5; NPS: %% promoters - %% "
           "detractors)\n\n",
           str_of(ans, "group"), str_of(ans, "from"), str_of(ans, "to"));
    asctl_print_table(json_object_get(ans, "rows"), cols, sizeof cols / sizeof cols[0]);
}

static void print_weights(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"VERSION", "version", 7},
        {"FROM", "effective_from", 10},
        {"ATTITUDE", "attitude", 8},
        {"REPAIR", "repair_quality", 6},
        {"TIMELY", "timeliness", 6},
        {"PRICE", "price", 5},
        {"FACILITIES", "facilities", 10},
        {"BY", "created_by", 10},
        {"NOTE", "note", 30},
    };
    char b[16];
    asctl_print_table(json_object_get(ans, "weight_sets"), cols, sizeof cols / sizeof cols[0]);
    printf("\nin effect today: version %s (weights in thousandths)\n",
           asctl_get(ans, "current_version", b, sizeof b));
}

/* ---- complaints -------------------------------------------------------------------------- */

static const asctl_col_t COMPLAINT_COLS[] = {
    {"COMPLAINT", "id", 10},     {"TICKET", "ticket_id", 10},  {"CENTRE", "center", 6},
    {"SEVERITY", "severity", 8}, {"STATE", "state", 12},       {"LEVEL", "level", 14},
    {"OWNER", "owner", 20},      {"CAUSE", "cause", 14},       {"CHANNEL", "channel", 13},
    {"OVERDUE", "overdue", 7},   {"OPENED", "created_at", 24},
};

static void print_complaints(json_t *ans)
{
    asctl_print_table(json_object_get(ans, "complaints"), COMPLAINT_COLS,
                      sizeof COMPLAINT_COLS / sizeof COMPLAINT_COLS[0]);
    const char *next = json_string_value(json_object_get(ans, "next"));
    if (next)
        printf("\nmore: asctl complaint list --after %s (with the same filters)\n", next);
}

static void print_complaint(json_t *c)
{
    char b[512], n[16];
    printf("complaint      %s   %s, %s   level %s   owner %s%s\n", str_of(c, "id"),
           str_of(c, "severity"), str_of(c, "state"), str_of(c, "level"), str_of(c, "owner"),
           json_is_true(json_object_get(c, "overdue")) ? "   OVERDUE" : "");
    snprintf(b, sizeof b, "%s%s%s   centre %s (%s)", str_of(c, "channel"),
             *str_of(c, "source") ? ", source " : "", str_of(c, "source"), str_of(c, "center"),
             str_of(c, "region"));
    asctl_verb_line("channel", b);
    asctl_verb_line("ticket", str_of(c, "ticket_id"));
    asctl_verb_line("cause", str_of(c, "cause"));
    snprintf(b, sizeof b, "%s  %s", str_of(c, "customer_name"), str_of(c, "customer_phone"));
    if (strlen(b) > 2)
        asctl_verb_line("customer", b);
    asctl_verb_line("description", str_of(c, "description"));
    asctl_verb_line("opened", str_of(c, "created_at"));
    asctl_verb_line("acknowledged", str_of(c, "acknowledged_at"));
    asctl_verb_line("resolved", str_of(c, "resolved_at"));
    asctl_verb_line("resolution", str_of(c, "resolution"));
    asctl_verb_line("closed", str_of(c, "closed_at"));
    asctl_verb_line("follow-up", str_of(c, "followup_outcome"));
    asctl_verb_line("report", str_of(c, "report"));
    if (json_integer_value(json_object_get(c, "escalations")) > 0)
        asctl_verb_line("escalations", asctl_get(c, "escalations", n, sizeof n));
    if (json_integer_value(json_object_get(c, "reopened")) > 0)
        asctl_verb_line("reopened", asctl_get(c, "reopened", n, sizeof n));
    json_t *d = json_object_get(c, "deadlines");
    if (json_array_size(d) > 0) {
        static const asctl_col_t cols[] = {
            {"DEADLINE", "kind", 11},  {"DUE", "due_at", 24},
            {"MET", "met_at", 24},     {"BREACHED", "breached", 8},
            {"ESC", "escalations", 3}, {"NEXT_ESCALATION", "next_escalation_at", 24},
        };
        printf("\n");
        asctl_print_table(d, cols, sizeof cols / sizeof cols[0]);
    }
    json_t *h = json_object_get(c, "history");
    if (json_array_size(h) > 0) {
        static const asctl_col_t cols[] = {
            {"AT", "at", 24},          {"EVENT", "event", 15},      {"STATE", "to_state", 12},
            {"LEVEL", "to_level", 14}, {"SEVERITY", "severity", 8}, {"BY", "actor", 20},
            {"NOTE", "note", 40},
        };
        printf("\n");
        asctl_print_table(h, cols, sizeof cols / sizeof cols[0]);
    }
}

static void print_complaint_report(json_t *ans)
{
    static const asctl_col_t cols[] = {
        {"KEY", "key", 16},
        {"COUNT", "count", 5},
        {"OPEN", "open", 5},
        {"CLOSED", "closed", 6},
        {"ESCALATED", "escalated", 9},
        {"AVG_H_TO_CLOSE", "avg_hours_to_close", 14},
        {"MEDIAN_H", "median_hours_to_close", 8},
    };
    printf("complaints by %s, %s .. %s\n\n", str_of(ans, "group"), str_of(ans, "from"),
           str_of(ans, "to"));
    asctl_print_table(json_object_get(ans, "rows"), cols, sizeof cols / sizeof cols[0]);
}

/* `complaint report` is the statistics; `complaint report ID --text T` files the written report
 * a serious complaint owes within two days. */
static int c_report(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--group= --from= --to= --text=";
    int n = asctl_verb_check(argc, argv, spec, 0, 1, "complaint report");
    if (n < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    if (n == 1) {
        const char *text = asctl_opt(argc, argv, "--text");
        if (!text) {
            fprintf(stderr, "asctl: complaint report ID needs --text TEXT (the written report)\n");
            return ASCTL_USAGE;
        }
        char path[256];
        if (asctl_verb_path(path, sizeof path, "/v1/complaints/%s/report",
                            asctl_verb_pos(argc, argv, spec, 0)) < 0)
            return ASCTL_USAGE;
        return asctl_request(&o, "POST", path, json_pack("{s:s}", "report", text), NULL,
                             print_complaint);
    }
    if (asctl_opt(argc, argv, "--text")) {
        fprintf(stderr, "asctl: complaint report --text needs the complaint ID first\n");
        return ASCTL_USAGE;
    }
    static const char *const q[] = {"--group", "group", "--from", "from", "--to", "to", NULL};
    char path[512] = "/v1/reports/complaints";
    if (asctl_verb_query(path, sizeof path, argc, argv, q) < 0)
        return ASCTL_USAGE;
    return asctl_request(&o, "GET", path, NULL, NULL, print_complaint_report);
}

static const char *const DUE_QUERY[] = {"--date",  "date",  "--center", "center",
                                        "--limit", "limit", NULL};
static const char *const REPORT_QUERY[] = {"--group", "group", "--from", "from",
                                           "--to",    "to",    NULL};
static const char *const COMPLAINT_FIELDS[] = {
    "--channel",     "channel",        "s", "--cause",    "cause",         "s",
    "--description", "description",    "s", "--ticket",   "ticket_id",     "s",
    "--center",      "center",         "s", "--customer", "customer_name", "s",
    "--phone",       "customer_phone", "s", NULL};
static const char *const COMPLAINT_NEED[] = {"--channel", "--cause", "--description", NULL};
static const char *const COMPLAINT_QUERY[] = {
    "--state",  "state",     "--severity", "severity", "--center", "center", "--cause", "cause",
    "--ticket", "ticket_id", "--after",    "after",    "--limit",  "limit",  NULL};
static const char *const RESOLUTION_FIELD[] = {"--resolution", "resolution", "s", NULL};
static const char *const RESOLUTION[] = {"--resolution", NULL};
static const char *const CLOSE_FIELDS[] = {
    "--outcome", "followup_outcome", "s", "--note", "note", "s", NULL};
static const char *const OUTCOME[] = {"--outcome", NULL};
static const char *const REASON_FIELD[] = {"--reason", "reason", "s", NULL};
static const char *const RAISE_FIELDS[] = {"--severity", "severity", "s", "--note",
                                           "note",       "s",        NULL};
static const char *const SEVERITY[] = {"--severity", NULL};
static const char *const ASSIGN_FIELDS[] = {"--owner", "owner", "s", "--note", "note", "s", NULL};
static const char *const OWNER[] = {"--owner", NULL};
static const char *const OVERDUE_QUERY[] = {"--center", "center", "--limit", "limit", NULL};

const asctl_cmd_t asctl_surveys_cmds[] = {
    {"survey", "due", "[--date YYYY-MM-DD] [--center C] [--limit N]",
     "callbacks due on or before a date (default today)",
     ASCTL_CALL("GET", "/v1/surveys/due", .query = DUE_QUERY, .print = print_due)},
    {"survey", "show", "CALLBACK", "one callback with its attempts and response",
     ASCTL_CALL("GET", "/v1/surveys/callbacks/%s", .print = print_callback)},
    {"survey", "answer", "CALLBACK --scores A,R,T,P,F [--nps N] [--comment T]",
     "record the scores (1-5: attitude, repair, timeliness, price, facilities)", sv_answer, NULL},
    {"survey", "refuse", "CALLBACK [--note T]", "the customer declined the survey",
     ASCTL_CALL("POST", "/v1/surveys/callbacks/%s/refuse", .body = NOTE_MAP,
                .print = print_callback)},
    {"survey", "unreachable", "CALLBACK [--note T]",
     "nobody answered: retried later, closed after the last attempt",
     ASCTL_CALL("POST", "/v1/surveys/callbacks/%s/unreachable", .body = NOTE_MAP,
                .print = print_callback)},
    {"survey", "report", "[--group center|region] [--from D] [--to D]",
     "weighted score, NPS and response rate (default: the last 30 days)",
     ASCTL_CALL("GET", "/v1/reports/satisfaction", .query = REPORT_QUERY,
                .print = print_satisfaction)},
    {"survey", "weights", "", "the weight sets and the one in effect today",
     ASCTL_CALL("GET", "/v1/surveys/weights", .print = print_weights)},
    {"complaint", "open",
     "--channel C --cause C --description T [--ticket T] [--center C] [--customer N] [--phone P]",
     "open a complaint (severity follows the channel)",
     ASCTL_CALL("POST", "/v1/complaints", .body = COMPLAINT_FIELDS, .need = COMPLAINT_NEED,
                .print = print_complaint)},
    {"complaint", "list", "[--state S] [--severity S] [--center C] [--cause C] [--ticket T]",
     "complaints, newest first",
     ASCTL_CALL("GET", "/v1/complaints", .query = COMPLAINT_QUERY, .print = print_complaints)},
    {"complaint", "show", "ID", "one complaint with its deadlines and history",
     ASCTL_CALL("GET", "/v1/complaints/%s", .print = print_complaint)},
    {"complaint", "ack", "ID [--note T]", "first response: open -> acknowledged",
     ASCTL_CALL("POST", "/v1/complaints/%s/acknowledge", .body = NOTE_MAP,
                .print = print_complaint)},
    {"complaint", "resolve", "ID --resolution T", "acknowledged -> resolved",
     ASCTL_CALL("POST", "/v1/complaints/%s/resolve", .body = RESOLUTION_FIELD, .need = RESOLUTION,
                .print = print_complaint)},
    {"complaint", "close", "ID --outcome satisfied|unsatisfied|unreachable [--note T]",
     "resolved -> closed, with the follow-up call's outcome",
     ASCTL_CALL("POST", "/v1/complaints/%s/close", .body = CLOSE_FIELDS, .need = OUTCOME,
                .print = print_complaint)},
    {"complaint", "reopen", "ID [--reason T]", "resolved or closed -> open, fresh deadlines",
     ASCTL_CALL("POST", "/v1/complaints/%s/reopen", .body = REASON_FIELD,
                .print = print_complaint)},
    {"complaint", "raise", "ID --severity serious|critical [--note T]",
     "raise the severity (escalates to its level; never lowered)",
     ASCTL_CALL("POST", "/v1/complaints/%s/severity", .body = RAISE_FIELDS, .need = SEVERITY,
                .print = print_complaint)},
    {"complaint", "assign", "ID --owner O [--note T]", "head office reassigns the owner",
     ASCTL_CALL("POST", "/v1/complaints/%s/assign", .body = ASSIGN_FIELDS, .need = OWNER,
                .print = print_complaint)},
    {"complaint", "overdue", "[--center C] [--limit N]",
     "complaints with a deadline passed and not met",
     ASCTL_CALL("GET", "/v1/complaints/overdue", .query = OVERDUE_QUERY,
                .print = print_complaints)},
    {"complaint", "report", "[--group cause|severity|center] [--from D] [--to D] | ID --text T",
     "complaint statistics; with an ID, file the written report", c_report, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
