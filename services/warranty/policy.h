/* policy.h — warranty policy versions loaded from the database into the engine's wr_policy_t.
 *
 * A policy version (manufacturer promises, fault-code table, depreciation and use-compensation
 * rates, holiday calendar) lives in the warranty schema (migrations/100_decisions.sql) and never
 * changes once written. wp_load() reads one version — or the version in force now — in a single
 * transaction and builds an immutable, reference-counted wp_policy_t that evaluations borrow. */
#ifndef WARRANTY_POLICY_H
#define WARRANTY_POLICY_H

#include "as/db.h"
#include "engine.h"

#include <stdint.h>

typedef struct wp_policy {
    wr_policy_t pol; /* what the engine reads; pol.version is `version` below */
    char *version;
    char *effective_from; /* ISO 8601 instant (UTC), or "-infinity" for the statutory floor */
    char *description;
    int64_t loaded_at_ms;
    int refs;
    /* storage the wr_policy_t points into */
    wr_manufacturer_promise_t *promises;
    wr_fault_code_t *fault_codes;
    int32_t *holidays;
} wp_policy_t;

/* Called once with a NEW reference (release it with wp_unref), or p == NULL and a message
 * (`not_found` is 1 when the version does not exist). */
typedef void (*wp_loaded_cb)(wp_policy_t *p, int not_found, const char *err, void *ud);

/* Load `version` (NULL: the version in force now). Returns 0, or -1 when the database queue is
 * full (cb is not called). */
int wp_load(as_db_t *db, const char *version, wp_loaded_cb cb, void *ud)
    __attribute__((warn_unused_result));

/* Take / release a reference. wp_unref accepts NULL and frees on the last release. */
wp_policy_t *wp_ref(wp_policy_t *p);
void wp_unref(wp_policy_t *p);

#endif
