/* main.c — the intake service: repair tickets from the centres' front desks.
 *
 * Commands are validated here (field by field) and then run as one SQL function each
 * (services/intake/migrations), which applies the effect, writes the timeline and audit rows and
 * the outbox event in one transaction. Intake follows the warranty stream to move tickets on
 * when a decision arrives. */
#include "as/log.h"
#include "as/pbjson.h"
#include "as/service.h"
#include "intake.pb-c.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

static void open_ticket(as_cmd_ctx_t *ctx, const ProtobufCMessage *msg, void *ud)
{
    (void)ud;
    Intake__OpenTicket *t = (Intake__OpenTicket *)msg; /* owned by ctx; normalised in place */
    const As__Principal *p = as_cmd_principal(ctx);
    if (!t->center && p && p->role && strcmp(p->role, "center") == 0 && p->site)
        t->center = strdup(p->site); /* a desk opens tickets for its own centre by default */
    iv_errors_t errs = {0};
    char warnings[4][160];
    int nwarn = 0;
    if (iv_open_ticket(t, &errs, warnings, &nwarn) > 0) {
        const char *fields[IV_MAX_ERRORS], *problems[IV_MAX_ERRORS];
        for (int i = 0; i < errs.n; i++) {
            fields[i] = errs.field[i];
            problems[i] = errs.problem[i];
        }
        char msgbuf[300];
        snprintf(msgbuf, sizeof msgbuf, "%s: %s%s", errs.field[0], errs.problem[0],
                 errs.n > 1 ? " (and more, see errors)" : "");
        as_cmd_reply_fields(ctx, msgbuf, errs.n, fields, problems);
        return;
    }
    json_t *args = as_pbjson_encode(msg);
    json_t *w = json_array();
    for (int i = 0; i < nwarn; i++)
        json_array_append_new(w, json_string(warnings[i]));
    json_object_set_new(args, "warnings", w);
    as_cmd_sql(ctx, "cmd_open_ticket", args);
}

static const as_cmd_def_t commands[] = {
    {"intake.OpenTicket", &intake__ticket__descriptor, open_ticket, NULL},
    {"intake.GetTicket", &intake__ticket__descriptor, as_cmd_sql_default, "cmd_get_ticket"},
    {"intake.ListTickets", &intake__ticket_list__descriptor, as_cmd_sql_default,
     "cmd_list_tickets"},
};

static void on_warranty_event(as_event_t *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "warranty.WarrantyDecided") == 0) {
        const char *p[1] = {ev->json};
        as_db_stmt_t st = {"SELECT on_warranty_decided($1::jsonb)", 1, p};
        as_event_commit(ev, &st, 1);
        return;
    }
    as_event_commit(ev, NULL, 0); /* not for us: just move past it */
}

static const as_sub_def_t subscriptions[] = {
    {"warranty", on_warranty_event},
};

static const as_service_def_t intake_service = {
    .name = "intake",
    .cmds = commands,
    .ncmds = sizeof commands / sizeof commands[0],
    .subs = subscriptions,
    .nsubs = sizeof subscriptions / sizeof subscriptions[0],
    .publishes = 1,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &intake_service);
}
