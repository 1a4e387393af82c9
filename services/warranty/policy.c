/* policy.c — load one warranty policy version from the database (see policy.h). */
#include "policy.h"
#include "as/bus.h"

#include <stdlib.h>
#include <string.h>

/* The version's row and its three tables, read in one job (one transaction, one now()). */
static const char *const LOAD_SQL[4] = {
    "SELECT version, iso_instant(effective_from), description, phone_depreciation_ppm, "
    "car_use_comp_ppm FROM policy_versions WHERE version = policy_pick($1)",
    "SELECT brand, category, extra_validity_months, extra_warranty_months FROM policy_promises "
    "WHERE version = policy_pick($1) ORDER BY lower(brand), category",
    "SELECT code, category, listed FROM policy_fault_codes WHERE version = policy_pick($1) "
    "ORDER BY code, category",
    "SELECT day - date '1970-01-01' FROM policy_holidays WHERE version = policy_pick($1) "
    "ORDER BY day",
};

typedef struct load_req {
    wp_loaded_cb cb;
    void *ud;
} load_req_t;

wp_policy_t *wp_ref(wp_policy_t *p)
{
    if (p)
        p->refs++;
    return p;
}

void wp_unref(wp_policy_t *p)
{
    if (!p || --p->refs > 0)
        return;
    for (size_t i = 0; i < p->pol.n_promises; i++) {
        free((char *)p->promises[i].brand);
        free((char *)p->promises[i].category);
    }
    for (size_t i = 0; i < p->pol.n_fault_codes; i++) {
        free((char *)p->fault_codes[i].code);
        free((char *)p->fault_codes[i].category);
    }
    free(p->promises);
    free(p->fault_codes);
    free(p->holidays);
    free(p->version);
    free(p->effective_from);
    free(p->description);
    free(p);
}

/* Build the policy from the job's four results; NULL when memory runs out. */
static wp_policy_t *build(const as_db_result_t *r)
{
    wp_policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->refs = 1;
    wr_policy_defaults(&p->pol);
    const PGresult *v = r->res[0], *pr = r->res[1], *fc = r->res[2], *hd = r->res[3];
    p->version = strdup(as_db_value(v, 0, 0));
    p->effective_from = strdup(as_db_value(v, 0, 1));
    p->description = strdup(as_db_value(v, 0, 2));
    p->pol.phone_depreciation_ppm = strtoll(as_db_value(v, 0, 3), NULL, 10);
    p->pol.car_use_comp_default_ppm = strtoll(as_db_value(v, 0, 4), NULL, 10);
    p->loaded_at_ms = as_now_ms();
    int ok = p->version && p->effective_from && p->description;

    int n = PQntuples(pr);
    p->promises = n ? calloc((size_t)n, sizeof *p->promises) : NULL;
    ok = ok && (n == 0 || p->promises);
    for (int i = 0; ok && i < n; i++) {
        wr_manufacturer_promise_t *m = &p->promises[i];
        m->brand = strdup(as_db_value(pr, i, 0));
        m->category = strdup(as_db_value(pr, i, 1));
        m->extra_validity_months = atoi(as_db_value(pr, i, 2));
        m->extra_warranty_months = atoi(as_db_value(pr, i, 3));
        p->pol.n_promises = (size_t)i + 1;
        ok = m->brand && m->category;
    }
    n = PQntuples(fc);
    p->fault_codes = n ? calloc((size_t)n, sizeof *p->fault_codes) : NULL;
    ok = ok && (n == 0 || p->fault_codes);
    for (int i = 0; ok && i < n; i++) {
        wr_fault_code_t *f = &p->fault_codes[i];
        f->code = strdup(as_db_value(fc, i, 0));
        f->category = strdup(as_db_value(fc, i, 1));
        f->listed = strcmp(as_db_value(fc, i, 2), "t") == 0;
        p->pol.n_fault_codes = (size_t)i + 1;
        ok = f->code && f->category;
    }
    n = PQntuples(hd);
    p->holidays = n ? calloc((size_t)n, sizeof *p->holidays) : NULL;
    ok = ok && (n == 0 || p->holidays);
    for (int i = 0; ok && i < n; i++)
        p->holidays[i] = (int32_t)strtol(as_db_value(hd, i, 0), NULL, 10);
    if (!ok) {
        wp_unref(p);
        return NULL;
    }
    p->pol.version = p->version;
    p->pol.promises = p->promises;
    p->pol.fault_codes = p->fault_codes;
    p->pol.holidays = p->holidays;
    p->pol.n_holidays = (size_t)n;
    return p;
}

static void load_done(const as_db_result_t *r, void *ud)
{
    load_req_t *lr = ud;
    if (!r->ok) {
        lr->cb(NULL, 0, r->message ? r->message : "database error", lr->ud);
    } else if (PQntuples(r->res[0]) != 1) {
        lr->cb(NULL, 1, "no such policy version", lr->ud);
    } else {
        wp_policy_t *p = build(r);
        lr->cb(p, 0, p ? NULL : "out of memory", lr->ud);
    }
    free(lr);
}

int wp_load(as_db_t *db, const char *version, wp_loaded_cb cb, void *ud)
{
    load_req_t *lr = malloc(sizeof *lr);
    if (!lr)
        return -1;
    lr->cb = cb;
    lr->ud = ud;
    const char *params[1] = {version};
    as_db_stmt_t st[4];
    for (int i = 0; i < 4; i++)
        st[i] = (as_db_stmt_t){LOAD_SQL[i], 1, params};
    if (as_db_submit(db, st, 4, load_done, lr) < 0) {
        free(lr);
        return -1;
    }
    return 0;
}
