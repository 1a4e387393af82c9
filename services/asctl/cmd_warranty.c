/* cmd_warranty.c — `asctl warranty …` (the what-if evaluation, the policy in force,
 * re-evaluation) and `asctl review …` (the manual-review queue). */
#include "asctl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- warranty ---------------------------------------------------------------------------- */

/* A money field of a decision as "2,999.00 yuan (299900 cents)"; "" when absent. */
static const char *money_field(json_t *d, const char *field, char *buf, size_t len)
{
    json_t *v = json_object_get(d, field);
    if (!json_is_integer(v)) {
        buf[0] = '\0';
        return buf;
    }
    char y[48];
    long long c = json_integer_value(v);
    snprintf(buf, len, "%s yuan (%lld cents)", asctl_verb_yuan(c, y, sizeof y), c);
    return buf;
}

/* The words of a string array joined by ", ". */
static const char *joined(json_t *a, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(a, i, x)
    {
        if (json_is_string(x) && off < len)
            off +=
                (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", json_string_value(x));
    }
    return buf;
}

/* A decision in the contract's shape (the evaluator's, a review's `decision` or `final`). */
static void print_decision(json_t *d)
{
    char b[1024], b2[256];
    const char *status = json_string_value(json_object_get(d, "status"));
    const char *remedy = json_string_value(json_object_get(d, "remedy"));
    const char *regime = json_string_value(json_object_get(d, "regime"));
    snprintf(b, sizeof b, "%s / %s%s%s%s", status ? status : "?", remedy ? remedy : "?",
             regime ? "   (regime " : "", regime ? regime : "", regime ? ")" : "");
    asctl_verb_line("decision", b);
    asctl_verb_line("entitled", joined(json_object_get(d, "entitled"), b, sizeof b));
    asctl_verb_line("free", asctl_get(d, "free", b, sizeof b));
    asctl_verb_line("refund", money_field(d, "refund_cents", b, sizeof b));
    asctl_verb_line("depreciation", money_field(d, "depreciation_cents", b, sizeof b));
    asctl_verb_line("use comp.", money_field(d, "use_compensation_cents", b, sizeof b));
    asctl_verb_line("coverage end", asctl_get(d, "coverage_end", b2, sizeof b2));
    asctl_verb_line("rules", joined(json_object_get(d, "rules"), b, sizeof b));
    asctl_verb_line("reason", asctl_get(d, "reason", b, sizeof b));
    asctl_verb_line("error", asctl_get(d, "error", b, sizeof b));
}

static int w_evaluate(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--file=";
    if (asctl_verb_check(argc, argv, spec, 0, 0, "warranty evaluate") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    const char *file = asctl_opt(argc, argv, "--file");
    if (!file) {
        fprintf(stderr, "asctl: warranty evaluate needs --file FILE (or - for stdin) with the "
                        "evaluation request JSON\n");
        return ASCTL_USAGE;
    }
    json_t *req = asctl_verb_read_json(file);
    if (!req)
        return ASCTL_USAGE;
    if (!json_is_object(req)) {
        fprintf(stderr, "asctl: the evaluation request must be one JSON object\n");
        json_decref(req);
        return ASCTL_USAGE;
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int status;
    json_t *ans;
    int rc = asctl_http(&o, "POST", "/v1/warranty/evaluate", body, NULL, &status, &ans);
    free(body);
    if (rc < 0)
        return ASCTL_FAILED;
    if (status >= 400 || status == 0) {
        int code = asctl_report_error(status, ans);
        json_decref(ans);
        return code;
    }
    int code = ASCTL_OK;
    if (o.json)
        asctl_print_json(ans);
    else
        print_decision(ans);
    if (json_object_get(ans, "error")) {
        if (!o.json)
            fprintf(stderr, "asctl: the engine could not evaluate this request\n");
        code = ASCTL_REJECTED;
    }
    json_decref(ans);
    return code;
}

static void print_policy(json_t *p)
{
    char b[512];
    printf("policy         %s%s\n", asctl_get(p, "version", b, sizeof b),
           json_is_true(json_object_get(p, "in_force")) ? "  (in force)" : "");
    /* clang-format off */
    static const char *const fields[] = {
        "effective", "effective_from",
        "description", "description",
        "phone depr.", "phone_depreciation_ppm",
        "car use comp.", "car_use_comp_ppm",
        "fault codes", "fault_codes",
        "holidays", "holidays",
        "loaded at", "loaded_at",
        NULL};
    /* clang-format on */
    asctl_print_lines(p, fields);
    json_t *pr = json_object_get(p, "promises");
    if (json_array_size(pr) > 0) {
        static const asctl_col_t cols[] = {
            {"BRAND", "brand", 12},
            {"CATEGORY", "category", 16},
            {"+VALIDITY MONTHS", "extra_validity_months", 16},
            {"+WARRANTY MONTHS", "extra_warranty_months", 16},
        };
        printf("\npromises:\n");
        asctl_print_table(pr, cols, sizeof cols / sizeof cols[0]);
    }
}

static void print_reevaluation(json_t *r)
{
    char b[256];
    printf("ticket         %s   policy %s\n", asctl_get(r, "ticket_id", b, sizeof b),
           json_string_value(json_object_get(r, "policy_version")));
    printf("identical      %s\n", json_is_true(json_object_get(r, "identical"))
                                      ? "yes: the stored decision is what the engine says today"
                                      : "NO: the recomputed decision differs");
    printf("\nstored:\n");
    print_decision(json_object_get(r, "stored"));
    printf("\nrecomputed:\n");
    print_decision(json_object_get(r, "recomputed"));
}

/* ---- review ------------------------------------------------------------------------------ */

static void print_review(json_t *r)
{
    char b[1024];
    printf("review         %s   ticket %s   centre %s   %s\n", asctl_get(r, "id", b, sizeof b),
           json_string_value(json_object_get(r, "ticket_id")),
           json_string_value(json_object_get(r, "center")),
           json_string_value(json_object_get(r, "status")));
    asctl_verb_line("why", joined(json_object_get(r, "reasons"), b, sizeof b));
    asctl_verb_line("policy", asctl_get(r, "policy_version", b, sizeof b));
    asctl_verb_line("queued", asctl_get(r, "created_at", b, sizeof b));
    printf("\nengine's decision:\n");
    print_decision(json_object_get(r, "decision"));
    if (json_object_get(r, "final")) {
        printf("\n%s by %s at %s:\n", asctl_get(r, "action", b, sizeof b),
               json_string_value(json_object_get(r, "decided_by")),
               json_string_value(json_object_get(r, "decided_at")));
        print_decision(json_object_get(r, "final"));
        asctl_verb_line("note", asctl_get(r, "note", b, sizeof b));
    }
}

static const asctl_col_t REVIEW_COLS[] = {
    {"ID", "id", 6},
    {"TICKET", "ticket_id", 10},
    {"CENTRE", "center", 6},
    {"STATUS", "status", 9},
    {"WHY", "reasons", 24},
    {"ENGINE", "decision.status", 13},
    {"REMEDY", "decision.remedy", 8},
    {"ACTION", "action", 8},
    {"FINAL", "final.status", 13},
    {"QUEUED", "created_at", 24},
};

static const asctl_view_t REVIEWS_VIEW =
    ASCTL_VIEW("reviews", REVIEW_COLS, .more = "more: asctl review list --after %s");

static int review_decide(const asctl_opts_t *o, const char *id, json_t *body)
{
    char path[256];
    if (asctl_verb_path(path, sizeof path, "/v1/warranty/reviews/%s/decision", id) < 0) {
        json_decref(body);
        return ASCTL_USAGE;
    }
    return asctl_request(o, "POST", path, body, NULL, print_review);
}

static int r_approve(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--note= --reason=";
    if (asctl_verb_check(argc, argv, spec, 1, 1, "review approve") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    json_t *b = json_pack("{s:s}", "action", "approve");
    const char *note = asctl_opt(argc, argv, "--note");
    if (!note)
        note = asctl_opt(argc, argv, "--reason");
    if (note)
        json_object_set_new(b, "reason", json_string(note));
    return review_decide(&o, asctl_verb_pos(argc, argv, spec, 0), b);
}

static int r_override(const asctl_opts_t *o0, int argc, char **argv)
{
    const char *spec = "--status= --remedy= --entitled= --free --paid --reason=";
    static const char *const map[] = {"--status", "status",     "s",        "--remedy", "remedy",
                                      "s",        "--entitled", "entitled", "l",        "--reason",
                                      "reason",   "s",          NULL};
    if (asctl_verb_check(argc, argv, spec, 1, 1, "review override") < 0)
        return ASCTL_USAGE;
    asctl_opts_t o = asctl_verb_opts(o0, argc, argv);
    if (!asctl_opt(argc, argv, "--status") || !asctl_opt(argc, argv, "--remedy") ||
        !asctl_opt(argc, argv, "--reason")) {
        fprintf(stderr, "asctl: review override needs --status, --remedy and --reason (the "
                        "reason is recorded and shown on the ticket)\n");
        return ASCTL_USAGE;
    }
    int fr = asctl_flag(argc, argv, "--free"), paid = asctl_flag(argc, argv, "--paid");
    if (fr && paid) {
        fprintf(stderr, "asctl: review override takes --free or --paid, not both\n");
        return ASCTL_USAGE;
    }
    json_t *b = json_pack("{s:s}", "action", "override");
    if (asctl_verb_body(b, argc, argv, map) < 0) {
        json_decref(b);
        return ASCTL_USAGE;
    }
    /* `free` is part of every override: explicit for a granted remedy (getting it wrong costs
     * the customer or the manufacturer), false otherwise (denied, not_covered, exempt). */
    const char *st = asctl_opt(argc, argv, "--status");
    if (!fr && !paid && strncmp(st, "granted", 7) == 0) {
        fprintf(stderr, "asctl: review override --status %s needs --free or --paid\n", st);
        json_decref(b);
        return ASCTL_USAGE;
    }
    json_object_set_new(b, "free", json_boolean(fr));
    return review_decide(&o, asctl_verb_pos(argc, argv, spec, 0), b);
}

static const char *const VERSION_QUERY[] = {"--version", "version", NULL};
static const char *const REVIEW_QUERY[] = {"--status", "status", "--limit", "limit",
                                           "--after",  "after",  NULL};

const asctl_cmd_t asctl_warranty_cmds[] = {
    {"warranty", "evaluate", "--file FILE|-",
     "what-if: a request in the evaluation contract's JSON in, the decision out", w_evaluate, NULL},
    {"warranty", "policy", "[--version V]", "the policy version in force (or another one)",
     ASCTL_CALL("GET", "/v1/warranty/policy", .query = VERSION_QUERY, .print = print_policy)},
    {"warranty", "re-evaluate", "TICKET",
     "re-run a ticket's stored request under its recorded policy version",
     ASCTL_CALL("POST", "/v1/warranty/decisions/%s/re-evaluate", .print = print_reevaluation)},
    {"review", "list", "[--status pending|decided|withdrawn] [--limit N] [--after ID]",
     "the manual-review queue",
     ASCTL_CALL("GET", "/v1/warranty/reviews", .query = REVIEW_QUERY, .view = &REVIEWS_VIEW)},
    {"review", "approve", "ID [--note TEXT]", "confirm the engine's decision", r_approve, NULL},
    {"review", "override", "ID --status S --remedy R [--entitled a,b] [--free|--paid] --reason T",
     "replace the engine's decision (denied: remedy none)", r_override, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
