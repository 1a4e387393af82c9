/* main.c — the warranty service: adjudicates every opened ticket under the 三包 rules.
 *
 * It follows intake's stream. For each TicketOpened it builds the evaluation contract's request
 * from the ticket's facts (including the device's repair history intake passes along), runs the
 * rules engine (engine.c, the same one behind as-warranty-eval), and records the decision with its
 * inputs and policy version while publishing WarrantyDecided — all in the transaction that
 * advances its position in intake's stream. Doubtful cases are flagged for a reviewer. */
#include "as/log.h"
#include "as/service.h"
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *cfg_policy_version;
static long cfg_review_refund_cents;

static as_config_item_t warranty_items[] = {
    {"policy_version", AS_CFG_STRING, "statutory-2026.1", 0, 0,
     "policy version recorded with every decision", &cfg_policy_version},
    {"review_refund_cents", AS_CFG_INT, "500000", 0, 1000000000,
     "refunds above this amount wait for a reviewer", &cfg_review_refund_cents},
};

typedef struct warranty_state {
    wr_policy_t policy;
} warranty_state_t;

static warranty_state_t state;

static void copy_field(json_t *dst, const char *dkey, json_t *src, const char *skey)
{
    json_t *v = src ? json_object_get(src, skey) : NULL;
    if (v)
        json_object_set(dst, dkey, v);
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
    if (flags)
        json_object_set(r, "flags", flags);
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
    json_object_set_new(r, "history", hist);
    return r;
}

static const char *device_key(json_t *ev, char *buf, size_t len)
{
    json_t *dev = json_object_get(ev, "device");
    const char *imei = json_string_value(json_object_get(dev, "imei"));
    const char *vin = json_string_value(json_object_get(dev, "vin"));
    const char *serial = json_string_value(json_object_get(dev, "serial"));
    const char *brand = json_string_value(json_object_get(dev, "brand"));
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

static void on_ticket_opened(as_event_t *ev)
{
    json_error_t jerr;
    json_t *e = json_loads(ev->json, 0, &jerr);
    json_t *req = contract_request(e);
    json_t *dec = wr_evaluate(req, &state.policy);
    /* Reasons a human must look before the ticket moves on. */
    json_t *reasons = json_array();
    json_t *flags = json_object_get(e, "flags");
    if (json_is_true(json_object_get(flags, "proof_mismatch")))
        json_array_append_new(reasons, json_string("proof_mismatch: the warranty card or label "
                                                   "does not match the device"));
    if (json_object_get(dec, "error"))
        json_array_append_new(reasons, json_string("not_evaluable: the ticket's facts could not "
                                                   "be evaluated automatically"));
    json_t *refund = json_object_get(dec, "refund_cents");
    const char *remedy = json_string_value(json_object_get(dec, "remedy"));
    if (remedy && strcmp(remedy, "refund") == 0 && json_integer_value(refund) > cfg_review_refund_cents)
        json_array_append_new(reasons, json_string("large_refund: the refund exceeds the amount a "
                                                   "desk may grant alone"));
    if (json_object_get(dec, "error")) {
        /* Keep the contract shape so intake can show something meaningful. */
        json_t *d2 = json_pack("{s:s, s:s, s:s, s:[], s:b, s:[], s:O}", "regime", "none", "status",
                               "denied", "remedy", "none", "entitled", "free", 0, "rules",
                               "reason", json_object_get(dec, "error"));
        json_decref(dec);
        dec = d2;
    }
    char *req_s = json_dumps(req, JSON_COMPACT), *dec_s = json_dumps(dec, JSON_COMPACT);
    /* text[] literal built by PostgreSQL from a JSON array. */
    char *reasons_s = json_dumps(reasons, JSON_COMPACT);
    char keybuf[160];
    const char *p[7] = {json_string_value(json_object_get(e, "ticket_id")),
                        device_key(e, keybuf, sizeof keybuf),
                        json_string_value(json_object_get(e, "center")),
                        req_s,
                        dec_s,
                        cfg_policy_version,
                        reasons_s};
    as_db_stmt_t st = {"SELECT record_decision($1, nullif($2, ''), $3, $4::jsonb, $5::jsonb, $6, "
                       "ARRAY(SELECT jsonb_array_elements_text($7::jsonb)))",
                       7, p};
    as_event_commit(ev, &st, 1);
    free(req_s);
    free(dec_s);
    free(reasons_s);
    json_decref(reasons);
    json_decref(dec);
    json_decref(req);
    json_decref(e);
}

static void on_intake_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "intake.TicketOpened") == 0) {
        on_ticket_opened(ev);
        return;
    }
    as_event_commit(ev, NULL, 0);
}

/* The statutory defaults; the holiday calendar and manufacturer promises as data are not
 * loaded yet (the holidays table exists but is not read). */
static int warranty_start(as_service_t *svc)
{
    (void)svc;
    wr_policy_defaults(&state.policy);
    state.policy.version = cfg_policy_version;
    return 0;
}

static const as_sub_def_t subscriptions[] = {
    {"intake", on_intake_event},
};

static const as_service_def_t warranty_service = {
    .name = "warranty",
    .subs = subscriptions,
    .nsubs = sizeof subscriptions / sizeof subscriptions[0],
    .publishes = 1,
    .extra = warranty_items,
    .nextra = sizeof warranty_items / sizeof warranty_items[0],
    .start = warranty_start,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &warranty_service);
}
