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
 * that are not database services (gateway, asctl) put AS_ENDPOINT_ITEMS in their own table. */
extern char *as_cfg_endpoints[14];
extern char *as_cfg_curve_keys;
int as_endpoints_load(const char *service, const char *file, char *err, size_t errlen);
#define AS_ENDPOINT_ITEMS                                                                            \
    {"intake_cmd",        AS_CFG_STRING, "tcp://127.0.0.1:7111", 0, 0, "intake command endpoint",    \
     &as_cfg_endpoints[0]},                                                                          \
        {"intake_pub",        AS_CFG_STRING, "tcp://127.0.0.1:7112", 0, 0, "intake event endpoint",  \
         &as_cfg_endpoints[1]},                                                                      \
        {"warranty_cmd",                                                                             \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7121",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "warranty command endpoint",                                                                \
         &as_cfg_endpoints[2]},                                                                      \
        {"warranty_pub",                                                                             \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7122",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "warranty event endpoint",                                                                  \
         &as_cfg_endpoints[3]},                                                                      \
        {"parts_cmd",         AS_CFG_STRING, "tcp://127.0.0.1:7131", 0, 0, "parts command endpoint", \
         &as_cfg_endpoints[4]},                                                                      \
        {"parts_pub", AS_CFG_STRING,          "tcp://127.0.0.1:7132", 0,                             \
         0,           "parts event endpoint", &as_cfg_endpoints[5]},                                 \
        {"settlement_cmd",                                                                           \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7141",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "settlement command endpoint",                                                              \
         &as_cfg_endpoints[6]},                                                                      \
        {"settlement_pub",                                                                           \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7142",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "settlement event endpoint",                                                                \
         &as_cfg_endpoints[7]},                                                                      \
        {"surveys_cmd",                                                                              \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7151",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "surveys command endpoint",                                                                 \
         &as_cfg_endpoints[8]},                                                                      \
        {"surveys_pub",       AS_CFG_STRING, "tcp://127.0.0.1:7152", 0, 0, "surveys event endpoint", \
         &as_cfg_endpoints[9]},                                                                      \
        {"people_cmd",                                                                               \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7161",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "people command endpoint",                                                                  \
         &as_cfg_endpoints[10]},                                                                     \
        {"people_pub",         AS_CFG_STRING, "tcp://127.0.0.1:7162", 0, 0, "people event endpoint", \
         &as_cfg_endpoints[11]},                                                                     \
        {"notify_cmd",                                                                               \
         AS_CFG_STRING,                                                                              \
         "tcp://127.0.0.1:7171",                                                                     \
         0,                                                                                          \
         0,                                                                                          \
         "notify command endpoint",                                                                  \
         &as_cfg_endpoints[12]},                                                                     \
        {"notify_pub",         AS_CFG_STRING, "tcp://127.0.0.1:7172", 0, 0, "notify event endpoint", \
         &as_cfg_endpoints[13]},                                                                     \
    {                                                                                                \
        "curve_keys", AS_CFG_STRING, "", 0, 0,                                                       \
            "directory of CURVE keys (make keys); empty = plain TCP", &as_cfg_curve_keys             \
    }

#endif
