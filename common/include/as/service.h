/* service.h — the skeleton every backend service runs on.
 *
 * as_service_main() reads the configuration (common settings plus the service's own table),
 * applies the schema migrations, opens the database connection, binds the command ROUTER and
 * (if the service publishes) the event PUB with its outbox relay, starts the consumers of the
 * streams it follows, and runs the loop until SIGTERM/SIGINT. On a signal it stops taking new
 * commands, lets the ones in flight finish (up to a few seconds), closes every handle and
 * returns 0. A service's main.c is its definition plus one call. */
#ifndef AS_SERVICE_H
#define AS_SERVICE_H

#include "as/bus.h"
#include "as/config.h"
#include "as/db.h"
#include "as_services.h"

#define AS_SERVICE_MAX_SUBS 8

typedef struct as_service as_service_t;

typedef struct as_sub_def {
    const char *stream; /* the publishing service's name */
    as_event_fn fn;
} as_sub_def_t;

typedef struct as_service_def {
    const char *name; /* also the schema and the stream it publishes */
    const as_cmd_def_t *cmds;
    size_t ncmds;
    const as_sub_def_t *subs;
    size_t nsubs;
    int publishes;           /* has an outbox stream named after the service */
    as_config_item_t *extra; /* the service's own settings (may be NULL) */
    size_t nextra;
    /* Called once the database, server and consumers exist; non-zero aborts the start. */
    int (*start)(as_service_t *svc);
    /* Called when shutting down, before handles close. */
    void (*stop)(as_service_t *svc);
    /* Add service-specific fields to the health answer. */
    void (*health)(as_service_t *svc, As__HealthReply *h);
    /* SQL for the gateway's /metrics: rows (name, labels, value, help), e.g. tickets by state.
     * NULL: none. */
    const char *metrics_sql;
} as_service_def_t;

/* The number of elements of a static array, and the designated initialisers of a definition's
 * tables from one: `AS_DEF_CMDS(commands), AS_DEF_SUBS(subscriptions), AS_DEF_EXTRA(items)`. */
#define AS_COUNT(a)     (sizeof(a) / sizeof((a)[0]))
#define AS_DEF_CMDS(t)  .cmds = (t), .ncmds = AS_COUNT(t)
#define AS_DEF_SUBS(t)  .subs = (t), .nsubs = AS_COUNT(t)
#define AS_DEF_EXTRA(t) .extra = (t), .nextra = AS_COUNT(t)

struct as_service {
    const as_service_def_t *def;
    uv_loop_t *loop;
    void *zctx;
    as_db_t *db;
    as_server_t *server;
    as_relay_t *relay;
    as_consumer_t *consumers[AS_SERVICE_MAX_SUBS];
    int schema_version;
    long max_msg;
    void *user; /* the service's own state */
};

/* Run the service. Returns the process exit code. */
int as_service_main(int argc, char **argv, const as_service_def_t *def);

/* The command endpoint (`cmd`) or event endpoint (`pub`) of service `name` from the shared
 * endpoint settings; NULL for an unknown name. */
const char *as_endpoint(const char *name, const char *kind);

/* The endpoint settings every program shares (commands and events of each service). Programs
 * that are not database services (gateway, asctl) put AS_ENDPOINT_ITEMS in their own table.
 * The services, their endpoints and AS_ENDPOINT_ITEMS come from deploy/services.conf through the
 * generated as_services.h. */
extern char *as_cfg_endpoints[2 * AS_N_SERVICES];
extern char *as_cfg_curve_keys;
int as_endpoints_load(const char *service, const char *file, char *err, size_t errlen);
#define AS_ENDPOINT_ITEMS                                                                          \
    AS_SERVICE_ENDPOINT_ITEMS,                                                                     \
    {                                                                                              \
        "curve_keys", AS_CFG_STRING, "", 0, 0,                                                     \
            "directory of CURVE keys (make keys); empty = plain TCP", &as_cfg_curve_keys           \
    }

#endif
