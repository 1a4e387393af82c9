/* main.c — the warranty service: adjudicates every opened ticket under the 三包 rules.
 *
 * It follows intake's stream. For each TicketOpened it builds the evaluation contract's request
 * from the ticket's facts (including the device's repair history intake passes along), runs the
 * rules engine (engine.c, the same one behind as-warranty-eval) under the policy version in force
 * (policy.c), and records the decision with its inputs and policy version while publishing
 * WarrantyDecided — all in the transaction that advances its position in intake's stream.
 * Doubtful cases wait in a review queue until a reviewer approves or overrides them.
 *
 * Commands: the what-if evaluation, the policy in force, publishing a policy version,
 * re-evaluating a stored decision, and the review queue (list, decide). */
#include "as/enums.h"
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "engine.h"
#include "policy.h"
#include "warranty.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long cfg_review_refund_cents;
static long cfg_policy_refresh_ms;

static as_config_item_t warranty_items[] = {
    {"review_refund_cents", AS_CFG_INT, "500000", 0, 1000000000000L,
     "refunds above this amount (cents) wait for a reviewer", &cfg_review_refund_cents},
    {"policy_refresh_ms", AS_CFG_INT, "1000", 100, 3600000,
     "how often to check whether another policy version has taken effect", &cfg_policy_refresh_ms},
};

typedef struct warranty_state {
    as_service_t *svc;
    wp_policy_t *current; /* the version in force; NULL until the first load */
    wp_policy_t *other;   /* the last other version loaded for a re-evaluation (a cache) */
    int loading;          /* a load of the version in force is in flight */
    int checking;         /* a "which version is in force?" query is in flight */
    as_event_t *parked;   /* a TicketOpened that arrived before the first load */
    uv_timer_t refresh;
    int stopping;
} warranty_state_t;

static warranty_state_t state;

static void on_ticket_opened(as_event_t *ev);

/* ------------------------------------------------------------------------------------------ */
/* The policy in force                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void current_loaded(wp_policy_t *p, int not_found, const char *err, void *ud)
{
    (void)ud;
    state.loading = 0;
    if (!p) {
        AS_ERROR("policy load failed", "not_found=%d error=\"%s\"", not_found, err);
        return; /* the next refresh tick tries again */
    }
    if (state.stopping) {
        wp_unref(p);
        return;
    }
    AS_INFO("policy in force",
            "version=%s effective_from=%s promises=%zu fault_codes=%zu "
            "holidays=%zu",
            p->version, p->effective_from, p->pol.n_promises, p->pol.n_fault_codes,
            p->pol.n_holidays);
    wp_unref(state.current);
    state.current = p;
    if (state.parked) {
        as_event_t *ev = state.parked;
        state.parked = NULL;
        on_ticket_opened(ev);
    }
}

static void load_current(void)
{
    if (state.loading || state.stopping)
        return;
    if (wp_load(state.svc->db, NULL, current_loaded, NULL) == 0)
        state.loading = 1;
}

static void check_done(const as_db_result_t *r, void *ud)
{
    (void)ud;
    state.checking = 0;
    if (!r->ok || state.stopping)
        return;
    const char *v = as_db_value(r->res[0], 0, 0);
    if (!state.current || strcmp(v, state.current->version) != 0)
        load_current();
}

/* Every policy_refresh_ms: has another version taken effect? (one indexed lookup) */
static void refresh_tick(uv_timer_t *t)
{
    (void)t;
    if (state.checking || state.loading || state.stopping)
        return;
    if (!state.current) {
        load_current();
        return;
    }
    as_db_stmt_t st = {"SELECT policy_pick(NULL)", 0, NULL};
    if (as_db_submit(state.svc->db, &st, 1, check_done, NULL) == 0)
        state.checking = 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Adjudicating opened tickets                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void copy_field(json_t *dst, const char *dkey, json_t *src, const char *skey)
{
    json_t *v = src ? json_object_get(src, skey) : NULL;
    if (v)
        json_object_set(dst, dkey, v);
}

static const char *str_at(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The evaluation contract's request for a TicketOpened event. New reference. */
static json_t *contract_request(json_t *ev)
{
    json_t *r = json_object();
    json_t *dev = json_object_get(ev, "device"), *pur = json_object_get(ev, "purchase");
    json_t *fault = json_object_get(ev, "fault"), *flags = json_object_get(ev, "flags");
    copy_field(r, "id", ev, "ticket_id");
    copy_field(r, "category", dev, "category");
    copy_field(r, "general_item", dev, "general_item");
    copy_field(r, "brand", dev, "brand");
    copy_field(r, "odometer_km", dev, "odometer_km");
    copy_field(r, "invoice_date", pur, "invoice_date");
    copy_field(r, "delivery_date", pur, "delivery_date");
    copy_field(r, "price_cents", pur, "price_cents");
    copy_field(r, "standalone_price_cents", pur, "standalone_price_cents");
    copy_field(r, "bundled_with_host", pur, "bundled_with_host");
    copy_field(r, "claim_date", ev, "claim_date");
    copy_field(r, "request", ev, "request");
    copy_field(r, "seller_has_same_model", ev, "seller_has_same_model");
    copy_field(r, "consumer_accepts_other_model", ev, "consumer_accepts_other_model");
    json_t *rate = json_object_get(ev, "use_compensation_rate");
    if (json_is_string(rate))
        json_object_set_new(r, "use_compensation_rate", json_real(atof(json_string_value(rate))));
    json_t *proofs = json_object();
    copy_field(proofs, "invoice", pur, "invoice");
    copy_field(proofs, "warranty_card", pur, "warranty_card");
    copy_field(proofs, "invoice_copy", pur, "invoice_copy");
    copy_field(proofs, "imei_production_date", pur, "imei_production_date");
    json_object_set_new(r, "proofs", proofs);
    json_t *f = json_object();
    copy_field(f, "code", fault, "code");
    copy_field(f, "listed", fault, "listed");
    copy_field(f, "car", fault, "car");
    copy_field(f, "assembly", fault, "assembly");
    json_object_set_new(r, "fault", f);
    json_t *fl = json_is_object(flags) ? json_deep_copy(flags) : json_object();
    /* 内外码不一致: the IMEI inside differs from the label — the card does not match (E5). */
    const char *imei = str_at(dev, "imei"), *label = str_at(dev, "imei_label");
    if (imei && label && *imei && *label && strcmp(imei, label) != 0)
        json_object_set_new(fl, "proof_mismatch", json_true());
    json_object_set_new(r, "flags", fl);
    json_t *hist = json_object(), *repairs = json_array();
    json_t *h = json_object_get(ev, "history");
    size_t i;
    json_t *item;
    json_array_foreach(h, i, item)
    {
        json_t *x = json_object();
        copy_field(x, "dropped_off", item, "dropped_off");
        copy_field(x, "returned", item, "returned");
        copy_field(x, "hours", item, "hours");
        copy_field(x, "problem", item, "problem");
        copy_field(x, "listed", item, "listed");
        copy_field(x, "serious_safety", item, "serious_safety");
        json_array_append_new(repairs, x);
    }
    json_object_set_new(hist, "repairs", repairs);
    copy_field(hist, "exchanges", ev, "exchanges");
    /* Earlier refunds/exchanges of the device at any centre. */
    json_t *rems = json_object_get(ev, "remedies");
    if (json_array_size(rems) > 0) {
        json_t *out = json_array();
        json_array_foreach(rems, i, item)
        {
            json_t *x = json_object();
            copy_field(x, "ticket_id", item, "ticket_id");
            copy_field(x, "remedy", item, "remedy");
            json_array_append_new(out, x);
        }
        json_object_set_new(hist, "remedies", out);
    }
    json_object_set_new(r, "history", hist);
    return r;
}

/* Who the device is: IMEI, else VIN, else brand/serial (as intake keys it). */
static const char *device_key(json_t *ev, char *buf, size_t len)
{
    json_t *dev = json_object_get(ev, "device");
    const char *imei = str_at(dev, "imei"), *vin = str_at(dev, "vin");
    const char *serial = str_at(dev, "serial"), *brand = str_at(dev, "brand");
    if (imei && *imei)
        return imei;
    if (vin && *vin)
        return vin;
    if (serial && *serial) {
        snprintf(buf, len, "%s/%s", brand ? brand : "", serial);
        return buf;
    }
    return "";
}

/* The reasons a human must look before the ticket moves on (those the C side can see; the
 * database adds duplicate claims). */
static json_t *review_reasons(json_t *req, json_t *dec, const wp_policy_t *p)
{
    json_t *reasons = json_array();
    if (json_is_true(json_object_get(json_object_get(req, "flags"), "proof_mismatch")))
        json_array_append_new(reasons, json_string("proof_mismatch: the warranty card or label "
                                                   "does not match the device"));
    if (json_object_get(dec, "error"))
        json_array_append_new(reasons, json_string("not_evaluable: the ticket's facts could not "
                                                   "be evaluated automatically"));
    const char *remedy = str_at(dec, "remedy");
    json_t *refund = json_object_get(dec, "refund_cents");
    if (remedy && strcmp(remedy, "refund") == 0 &&
        json_integer_value(refund) > cfg_review_refund_cents)
        json_array_append_new(reasons, json_string("large_refund: the refund exceeds the amount a "
                                                   "desk may grant alone"));
    json_t *rules = json_object_get(dec, "rules"), *rule;
    size_t k;
    json_array_foreach(rules, k, rule)
    {
        if (json_is_string(rule) && strcmp(json_string_value(rule), "R-1") == 0) {
            json_t *first =
                json_array_get(json_object_get(json_object_get(req, "history"), "remedies"), 0);
            char buf[200];
            snprintf(buf, sizeof buf,
                     "prior_remedy: the device was already %s under ticket %.40s (rule R-1)",
                     str_at(first, "remedy") && strcmp(str_at(first, "remedy"), "refund") == 0
                         ? "refunded"
                         : "exchanged",
                     str_at(first, "ticket_id") ? str_at(first, "ticket_id") : "?");
            json_array_append_new(reasons, json_string(buf));
        }
    }
    const char *code = str_at(json_object_get(req, "fault"), "code");
    const char *cat = str_at(req, "category");
    if (code && *code && cat && p->pol.n_fault_codes > 0 &&
        !wr_fault_code_find(&p->pol, code, cat)) {
        char buf[160];
        snprintf(buf, sizeof buf,
                 "unknown_fault_code: fault code %.40s is not in the table of "
                 "policy %.40s",
                 code, p->version);
        json_array_append_new(reasons, json_string(buf));
    }
    return reasons;
}

static void on_ticket_opened(as_event_t *ev)
{
    if (!state.current) {
        state.parked = ev; /* the consumer sends nothing else until this one is committed */
        load_current();
        return;
    }
    wp_policy_t *pol = wp_ref(state.current);
    json_error_t jerr;
    json_t *e = json_loads(ev->json, 0, &jerr);
    json_t *req = contract_request(e);
    json_t *dec = wr_evaluate(req, &pol->pol);
    json_t *reasons = review_reasons(req, dec, pol);
    json_t *published;
    if (json_object_get(dec, "error")) {
        /* Keep the contract shape so intake can show something meaningful. */
        char reason[400];
        snprintf(reason, sizeof reason,
                 "The ticket's facts could not be evaluated (%.300s); a "
                 "reviewer decides.",
                 str_at(dec, "error") ? str_at(dec, "error") : "");
        published =
            json_pack("{s:s, s:s, s:s, s:[], s:b, s:[], s:s}", "regime", "none", "status", "denied",
                      "remedy", "none", "entitled", "free", 0, "rules", "reason", reason);
    } else {
        published = json_incref(dec);
    }
    char *req_s = json_dumps(req, JSON_COMPACT), *dec_s = json_dumps(dec, JSON_COMPACT);
    char *pub_s = json_dumps(published, JSON_COMPACT);
    char *reasons_s = json_dumps(reasons, JSON_COMPACT);
    char keybuf[160];
    const char *p[8] = {str_at(e, "ticket_id"),
                        device_key(e, keybuf, sizeof keybuf),
                        str_at(e, "center"),
                        req_s,
                        dec_s,
                        pub_s,
                        pol->version,
                        reasons_s};
    as_db_stmt_t st = {"SELECT record_decision($1, nullif($2, ''), $3, $4::jsonb, $5::jsonb, "
                       "$6::jsonb, $7, ARRAY(SELECT jsonb_array_elements_text($8::jsonb)))",
                       8, p};
    AS_DEBUG("decided", "ticket=%s policy=%s status=%s review=%zu", p[0] ? p[0] : "-", pol->version,
             str_at(published, "status"), json_array_size(reasons));
    as_event_commit(ev, &st, 1);
    free(req_s);
    free(dec_s);
    free(pub_s);
    free(reasons_s);
    json_decref(reasons);
    json_decref(published);
    json_decref(dec);
    json_decref(req);
    json_decref(e);
    wp_unref(pol);
}

/* TicketClosed / TicketCancelled: the device is no longer open at that centre. */
static void on_ticket_ended(as_event_t *ev)
{
    json_error_t jerr;
    json_t *e = json_loads(ev->json, 0, &jerr);
    const char *id = str_at(e, "ticket_id");
    if (!id) {
        json_decref(e);
        as_event_commit(ev, NULL, 0);
        return;
    }
    const char *p[2] = {id,
                        strcmp(ev->type, "intake.TicketCancelled") == 0 ? "cancelled" : "closed"};
    as_db_stmt_t st = {"SELECT ticket_ended($1, $2)", 2, p};
    as_event_commit(ev, &st, 1);
    json_decref(e);
}

static void on_intake_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "intake.TicketOpened") == 0)
        on_ticket_opened(ev);
    else if (strcmp(ev->type, "intake.TicketClosed") == 0 ||
             strcmp(ev->type, "intake.TicketCancelled") == 0)
        on_ticket_ended(ev);
    else if (strcmp(ev->type, "intake.CustomerLinked") == 0 ||
             strcmp(ev->type, "intake.CustomerChanged") == 0) {
        /* the customers' tiers, for the review queue (sql/customers.sql) */
        const char *p[1] = {ev->json};
        as_db_stmt_t st = {strcmp(ev->type, "intake.CustomerLinked") == 0
                               ? "SELECT on_customer_linked($1::jsonb)"
                               : "SELECT on_customer_changed($1::jsonb)",
                           1, p};
        as_event_commit(ev, &st, 1);
    } else
        as_event_commit(ev, NULL, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int role_is(as_cmd_ctx_t *ctx, const char *a, const char *b)
{
    const As__Principal *p = as_cmd_principal(ctx);
    const char *role = p && p->role ? p->role : "";
    return strcmp(role, a) == 0 || (b && strcmp(role, b) == 0);
}

/* POST /v1/warranty/evaluate: the contract over HTTP, under the policy in force. */
static void cmd_evaluate(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Warranty__Evaluate *m = (const Warranty__Evaluate *)msg;
    if (!state.current) {
        as_cmd_error(ctx, 503, "policy_not_loaded", "the warranty policy is not loaded yet; retry");
        return;
    }
    const char *body = m->request ? m->request : "";
    char *out = NULL;
    int rc = wr_evaluate_line(body, strlen(body), &state.current->pol, &out);
    if (rc < 0) {
        as_cmd_error(ctx, 500, "internal", "out of memory");
        return;
    }
    if (rc == 0) {
        as_cmd_error(ctx, 400, "invalid_request",
                     "the body must be the evaluation contract's request (a JSON object)");
        return;
    }
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    const char *err = str_at(o, "error");
    if (err) {
        as_cmd_error(ctx, 400, "invalid_request", "%s", err);
    } else {
        Warranty__EvaluateReply r = WARRANTY__EVALUATE_REPLY__INIT;
        r.decision = out;
        as_cmd_reply(ctx, 200, NULL, NULL, &r.base);
    }
    json_decref(o);
    free(out);
}

/* GET /v1/warranty/policy: the version the service decides with now, from memory (so a caller
 * sees exactly what the service loaded); another version from the database. */
static void cmd_get_policy(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Warranty__GetPolicy *m = (const Warranty__GetPolicy *)msg;
    const wp_policy_t *p = state.current;
    if (m->version && (!p || strcmp(m->version, p->version) != 0)) {
        as_cmd_sql_default(ctx, msg, ud);
        return;
    }
    if (!p) {
        as_cmd_error(ctx, 503, "policy_not_loaded", "the warranty policy is not loaded yet; retry");
        return;
    }
    json_t *promises = json_array();
    for (size_t i = 0; i < p->pol.n_promises; i++)
        json_array_append_new(
            promises, json_pack("{s:s, s:s, s:i, s:i}", "brand", p->promises[i].brand, "category",
                                p->promises[i].category, "extra_validity_months",
                                p->promises[i].extra_validity_months, "extra_warranty_months",
                                p->promises[i].extra_warranty_months));
    char loaded[40], day[24];
    time_t secs = (time_t)(p->loaded_at_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(loaded, sizeof loaded, "%s.%03dZ", day, (int)(p->loaded_at_ms % 1000));
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:i, s:i, s:b, s:s}", "version", p->version,
                  "effective_from", p->effective_from, "description", p->description,
                  "phone_depreciation_ppm", (json_int_t)p->pol.phone_depreciation_ppm,
                  "car_use_comp_ppm", (json_int_t)p->pol.car_use_comp_default_ppm, "promises",
                  promises, "fault_codes", (int)p->pol.n_fault_codes, "holidays",
                  (int)p->pol.n_holidays, "in_force", 1, "loaded_at", loaded);
    as_cmd_reply_json(ctx, 200, body, 0);
    json_decref(body);
}

/* POST /v1/warranty/policies: the document is parsed here, validated and stored in SQL. */
static void cmd_publish_policy(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Warranty__PublishPolicy *m = (const Warranty__PublishPolicy *)msg;
    if (!role_is(ctx, "admin", NULL)) {
        as_cmd_error(ctx, 403, "forbidden", "only an administrator may publish a policy version");
        return;
    }
    json_error_t jerr;
    json_t *doc = m->policy ? json_loads(m->policy, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        as_cmd_error(ctx, 400, "invalid_policy",
                     "the body must be a policy document (a JSON object)");
        return;
    }
    json_t *args = json_pack("{s:o}", "policy", doc);
    as_cmd_sql(ctx, "cmd_publish_policy", args);
}

/* ---- re-evaluation ---- */

typedef struct reeval {
    as_cmd_ctx_t *ctx;
    char *ticket_id, *version;
    json_t *request, *stored;
} reeval_t;

static void reeval_free(reeval_t *r)
{
    free(r->ticket_id);
    free(r->version);
    json_decref(r->request);
    json_decref(r->stored);
    free(r);
}

static void reeval_finish(reeval_t *r, const wp_policy_t *p)
{
    json_t *again = wr_evaluate(r->request, &p->pol);
    if (!again) {
        as_cmd_error(r->ctx, 500, "internal", "out of memory");
        reeval_free(r);
        return;
    }
    int same = json_equal(again, r->stored);
    AS_INFO("re-evaluated", "ticket=%s policy=%s identical=%d", r->ticket_id, r->version, same);
    json_t *body =
        json_pack("{s:s, s:s, s:b, s:O, s:O}", "ticket_id", r->ticket_id, "policy_version",
                  r->version, "identical", same, "stored", r->stored, "recomputed", again);
    as_cmd_reply_json(r->ctx, 200, body, 0);
    json_decref(body);
    json_decref(again);
    reeval_free(r);
}

static void reeval_policy_loaded(wp_policy_t *p, int not_found, const char *err, void *ud)
{
    reeval_t *r = ud;
    if (!p) {
        as_cmd_error(r->ctx, not_found ? 404 : 503, not_found ? "not_found" : "unavailable",
                     "policy version %s could not be loaded: %s", r->version, err);
        reeval_free(r);
        return;
    }
    if (!state.stopping) {
        wp_unref(state.other);
        state.other = wp_ref(p);
    }
    reeval_finish(r, p);
    wp_unref(p);
}

static void reeval_row(const as_db_result_t *res, void *ud)
{
    reeval_t *r = ud;
    if (!res->ok) {
        as_cmd_error(r->ctx, 503, "unavailable", "the database did not answer: %s",
                     res->message ? res->message : "");
        reeval_free(r);
        return;
    }
    if (PQntuples(res->res[0]) != 1) {
        as_cmd_error(r->ctx, 404, "not_found", "no decision for ticket %s", r->ticket_id);
        reeval_free(r);
        return;
    }
    json_error_t jerr;
    r->request = json_loads(as_db_value(res->res[0], 0, 0), 0, &jerr);
    r->stored = json_loads(as_db_value(res->res[0], 0, 1), 0, &jerr);
    r->version = strdup(as_db_value(res->res[0], 0, 2));
    if (!r->request || !r->stored || !r->version) {
        as_cmd_error(r->ctx, 500, "internal", "the stored decision could not be read");
        reeval_free(r);
        return;
    }
    /* Versions are immutable, so a loaded copy is as good as the database's. */
    const wp_policy_t *cached = NULL;
    if (state.current && strcmp(state.current->version, r->version) == 0)
        cached = state.current;
    else if (state.other && strcmp(state.other->version, r->version) == 0)
        cached = state.other;
    if (cached) {
        reeval_finish(r, cached);
        return;
    }
    if (wp_load(state.svc->db, r->version, reeval_policy_loaded, r) < 0) {
        as_cmd_error(r->ctx, 503, "overloaded", "the database queue is full; retry");
        reeval_free(r);
    }
}

/* POST /v1/warranty/decisions/{ticket_id}/re-evaluate (admin, reviewer). */
static void cmd_re_evaluate(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    const Warranty__ReEvaluate *m = (const Warranty__ReEvaluate *)msg;
    if (!role_is(ctx, "admin", "reviewer")) {
        as_cmd_error(ctx, 403, "forbidden", "only reviewers and administrators re-evaluate");
        return;
    }
    if (!m->ticket_id || !*m->ticket_id || strlen(m->ticket_id) > 64) {
        as_cmd_reply_field(ctx, "ticket_id", "is required (at most 64 characters)");
        return;
    }
    reeval_t *r = calloc(1, sizeof *r);
    if (!r || !(r->ticket_id = strdup(m->ticket_id))) {
        free(r);
        as_cmd_error(ctx, 500, "internal", "out of memory");
        return;
    }
    r->ctx = ctx;
    const char *p[1] = {m->ticket_id};
    as_db_stmt_t st = {"SELECT request::text, decision::text, policy_version FROM decisions "
                       "WHERE ticket_id = $1",
                       1, p};
    if (as_db_submit(as_cmd_db(ctx), &st, 1, reeval_row, r) < 0) {
        as_cmd_error(ctx, 503, "overloaded", "the database queue is full; retry");
        reeval_free(r);
    }
}

/* ---- the review queue ---- */

static int one_of(const char *s, const char *const *names)
{
    for (; s && *names; names++)
        if (strcmp(s, *names) == 0)
            return 1;
    return 0;
}

static void cmd_list_reviews(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Warranty__ListReviews *m = (const Warranty__ListReviews *)msg;
    as_problems_t e = {0};
    if (m->status && !as_enum_has(&warranty__review_status__descriptor, m->status))
        as_problem(&e, "status", "must be pending, decided or withdrawn");
    if (m->has_limit && (m->limit < 1 || m->limit > 200))
        as_problem(&e, "limit", "must be between 1 and 200");
    if (m->has_after && m->after < 0)
        as_problem(&e, "after", "must not be negative");
    if (as_cmd_reject(ctx, &e))
        return;
    as_cmd_sql_default(ctx, msg, ud);
}

static void cmd_decide_review(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    const Warranty__DecideReview *m = (const Warranty__DecideReview *)msg;
    static const char *const ACTIONS[] = {"approve", "override", NULL};
    static char status_problem[160], remedy_problem[100];
    if (!status_problem[0]) { /* the values of warranty.Status and warranty.Remedy (proto) */
        char set[140];
        snprintf(status_problem, sizeof status_problem, "must be %s",
                 as_enum_list(&warranty__status__descriptor, ", ", " or ", set, sizeof set));
        snprintf(remedy_problem, sizeof remedy_problem, "must be %s",
                 as_enum_list(&warranty__remedy__descriptor, ", ", " or ", set, sizeof set));
    }
    static const char *const ENTITLED[] = {"refund", "exchange", "repair", NULL};
    as_problems_t e = {0};
#define BAD(f, p) as_problem(&e, (f), "%s", (p))
    int has_reason = 0;
    for (const char *c = m->reason; c && *c; c++)
        has_reason |= *c != ' ' && *c != '\t' && *c != '\n' && *c != '\r';
    int id_ok = m->id && *m->id && strlen(m->id) <= 18;
    for (const char *c = m->id; id_ok && *c; c++)
        id_ok = *c >= '0' && *c <= '9';
    if (!id_ok)
        BAD("id", "must be a review id (digits)");
    if (!m->action)
        BAD("action", "is required: approve or override");
    else if (!one_of(m->action, ACTIONS))
        BAD("action", "must be approve or override");
    if (m->reason && strlen(m->reason) > 1000)
        BAD("reason", "is longer than 1000 characters");
    if (m->action && strcmp(m->action, "approve") == 0) {
        if (m->status || m->remedy || m->n_entitled || m->has_free)
            BAD("action", "approve takes the engine's decision as it is; use override to change "
                          "status, remedy, entitled or free");
    } else if (m->action && strcmp(m->action, "override") == 0) {
        if (!has_reason)
            BAD("reason", "is required for an override (say why the engine's decision is "
                          "changed)");
        if (!as_enum_has(&warranty__status__descriptor, m->status))
            BAD("status", status_problem);
        if (!as_enum_has(&warranty__remedy__descriptor, m->remedy))
            BAD("remedy", remedy_problem);
        if (!m->has_free)
            BAD("free", "is required for an override");
        int seen = 0, dup = 0, bad = 0;
        for (size_t i = 0; i < m->n_entitled; i++) {
            int k = -1;
            for (int j = 0; ENTITLED[j]; j++)
                if (strcmp(m->entitled[i], ENTITLED[j]) == 0)
                    k = j;
            if (k < 0)
                bad = 1;
            else if (seen & (1 << k))
                dup = 1;
            else
                seen |= 1 << k;
        }
        if (bad || dup)
            BAD("entitled", "lists refund, exchange or repair, each at most once");
        /* The contract's conventions (docs/warranty-rules.md, convention 1). */
        if (as_enum_has(&warranty__status__descriptor, m->status) &&
            as_enum_has(&warranty__remedy__descriptor, m->remedy)) {
            int granted = strncmp(m->status, "granted", 7) == 0;
            if (strcmp(m->status, "denied") == 0 && strcmp(m->remedy, "none") != 0)
                BAD("remedy", "a denied request grants no remedy: none");
            if ((strcmp(m->status, "not_covered") == 0 || strcmp(m->status, "exempt") == 0) &&
                (strcmp(m->remedy, "repair") != 0 || (m->has_free && m->free)))
                BAD("remedy", "not_covered and exempt offer a paid repair: remedy repair, free "
                              "false");
            if (granted && strcmp(m->remedy, "none") == 0)
                BAD("remedy", "a granted decision names the remedy it grants");
            if (granted && strcmp(m->remedy, "none") != 0) {
                int in = 0;
                for (size_t i = 0; i < m->n_entitled; i++)
                    in |= strcmp(m->entitled[i], m->remedy) == 0;
                if (!in)
                    BAD("entitled", "must include the granted remedy");
            }
        }
    }
#undef BAD
    if (as_cmd_reject(ctx, &e))
        return;
    as_cmd_sql_default(ctx, msg, ud);
}

static const as_cmd_def_t commands[] = {
    {"warranty.Evaluate", &warranty__evaluate_reply__descriptor, cmd_evaluate, NULL},
    {"warranty.GetPolicy", &warranty__policy_info__descriptor, cmd_get_policy, "cmd_get_policy"},
    {"warranty.PublishPolicy", &warranty__policy_info__descriptor, cmd_publish_policy,
     "cmd_publish_policy"},
    {"warranty.ReEvaluate", &warranty__re_evaluation__descriptor, cmd_re_evaluate, NULL},
    {"warranty.ListReviews", &warranty__review_list__descriptor, cmd_list_reviews,
     "cmd_list_reviews"},
    {"warranty.DecideReview", &warranty__review__descriptor, cmd_decide_review,
     "cmd_decide_review"},
};

/* ------------------------------------------------------------------------------------------ */
/* Wiring                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int warranty_start(as_service_t *svc)
{
    state.svc = svc;
    uv_timer_init(svc->loop, &state.refresh);
    uv_timer_start(&state.refresh, refresh_tick, 0, (uint64_t)cfg_policy_refresh_ms);
    return 0;
}

static void warranty_stop(as_service_t *svc)
{
    (void)svc;
    state.stopping = 1;
    uv_timer_stop(&state.refresh);
    uv_close((uv_handle_t *)&state.refresh, NULL);
    wp_unref(state.current);
    wp_unref(state.other);
    state.current = state.other = NULL;
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_intake_event},
};

static const as_service_def_t warranty_service = {
    .name = "warranty",
    AS_DEF_CMDS(commands),
    AS_DEF_SUBS(subscriptions),
    .publishes = 1,
    AS_DEF_EXTRA(warranty_items),
    .start = warranty_start,
    .stop = warranty_stop,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &warranty_service);
}
