/* asctl.h — shared pieces of the command-line client: the HTTP call to the gateway, output
 * helpers and the command table each noun file contributes to. */
#ifndef ASCTL_H
#define ASCTL_H

#include <jansson.h>

/* Exit codes scripts can rely on. */
enum {
    ASCTL_OK = 0,
    ASCTL_USAGE = 2,    /* bad command line */
    ASCTL_REJECTED = 3, /* the system said no (4xx): validation, state, permission, not found */
    ASCTL_FAILED = 4,   /* the system could not answer (5xx, timeout, unreachable) */
};

typedef struct asctl_opts {
    const char *url;
    const char *token;
    int json;    /* print raw JSON */
    int verbose; /* print the request line */
} asctl_opts_t;

/* Perform one HTTP request. `body` may be NULL. On return *status holds the HTTP status (0 when
 * no answer) and *out the parsed JSON answer (new reference; NULL when not JSON). Returns 0 when
 * an answer arrived. `idempotency_key` may be NULL. */
int asctl_http(const asctl_opts_t *o, const char *method, const char *path, const char *body,
               const char *idempotency_key, int *status, json_t **out);

/* Print an error answer ({"error":{…}}) readably on stderr and return the matching exit code. */
int asctl_report_error(int status, json_t *answer);

/* Print `answer` as JSON (pretty) on stdout. */
void asctl_print_json(json_t *answer);

/* The table printer: columns are chosen by the caller, values come from JSON paths. Widths are
 * terminal columns (a Chinese character takes two); a longer value is cut at a character
 * boundary. JSON integers and "<x>_yuan" money columns are right-aligned. (table.c) */
typedef struct asctl_col {
    const char *title;
    const char *path; /* dot path into each row object, e.g. "decision.status" */
    int width;        /* in terminal columns */
} asctl_col_t;
void asctl_print_table(json_t *rows, const asctl_col_t *cols, int ncols);
/* The number of columns of a static column array. */
#define ASCTL_NCOLS(cols) ((int)(sizeof(cols) / sizeof((cols)[0])))
/* One object as a one-row table; `money` (NULL-terminated, or NULL) names its cent fields, shown
 * in yuan in the "<field>_yuan" columns (added to the object). */
void asctl_print_row(json_t *row, const char *const *money, const asctl_col_t *cols, int ncols);
/* The string at a dot path ("" when absent); numbers and booleans are formatted. */
const char *asctl_get(json_t *obj, const char *path, char *buf, size_t len);

struct asctl_verb;

/* A row of a noun's command table: a verb either has its own `run` function or is declared
 * (`call`, run by asctl_verb_run; `run` is NULL then). */
typedef struct asctl_cmd {
    const char *noun, *verb;
    const char *usage; /* arguments, e.g. "ID [--note TEXT]" */
    const char *help;  /* one line */
    int (*run)(const asctl_opts_t *o, int argc, char **argv);
    const struct asctl_verb *call;
} asctl_cmd_t;

extern const asctl_cmd_t asctl_ticket_cmds[];
extern const asctl_cmd_t asctl_warranty_cmds[];
extern const asctl_cmd_t asctl_parts_cmds[];
extern const asctl_cmd_t asctl_settlement_cmds[];
extern const asctl_cmd_t asctl_surveys_cmds[];
extern const asctl_cmd_t asctl_misc_cmds[];
extern const asctl_cmd_t asctl_people_cmds[];
extern const asctl_cmd_t asctl_customer_cmds[];
extern const asctl_cmd_t asctl_notify_cmds[];
extern const asctl_cmd_t asctl_onsite_cmds[];

/* Shared by the noun files: run one request and print the answer (JSON with --json, or through
 * `print`; NULL prints JSON). Takes `body`. Returns the exit code. */
int asctl_request(const asctl_opts_t *o, const char *method, const char *path, json_t *body,
                  const char *idempotency_key, void (*print)(json_t *));

/* A table view of an answer: the rows of its array `list_key` (NULL: the answer itself is the one
 * row) under `cols`, the cent fields named in `money` (or NULL) shown in yuan (the "<field>_yuan"
 * columns), then — when the answer has a `next` cursor — the line `more` with the cursor for its
 * %s, and `after` (or NULL) for what follows the table. */
typedef struct asctl_view {
    const char *list_key;
    const asctl_col_t *cols;
    int ncols;
    void (*after)(json_t *answer);
    const char *const *money;
    const char *more;
} asctl_view_t;
/* ASCTL_VIEW(key, cols[, .money = …, .more = …, .after = …]) */
#define ASCTL_VIEW(key_, cols_, ...)                                                               \
    {                                                                                              \
        .list_key = (key_), .cols = (cols_), .ncols = ASCTL_NCOLS(cols_), __VA_ARGS__              \
    }
void asctl_print_view(json_t *answer, const asctl_view_t *v);
/* asctl_request with the answer printed through a view (JSON with --json). */
int asctl_request_view(const asctl_opts_t *o, const char *method, const char *path, json_t *body,
                       const char *idempotency_key, const asctl_view_t *v);

/* Shared option parsing for verbs: `--name value` pairs after positional arguments. Returns the
 * value of --name, or NULL. `flag` variants return 1 when --name is present. */
const char *asctl_opt(int argc, char **argv, const char *name);
int asctl_flag(int argc, char **argv, const char *name);
/* All values of a repeated option (e.g. --part SKU:QTY), as a JSON array of {sku, qty}; NULL
 * with a message on stderr when one is malformed. */
json_t *asctl_parts(int argc, char **argv, const char *name);

/* A declared verb: one request. Its options are those of `query` and `body` (no others); it
 * takes one argument when `path` holds a "%s" (the argument, URL-escaped) or `arg` names its body
 * field, none otherwise. The options named in `need` must be given. `body` NULL sends no body;
 * ASCTL_NO_FIELDS sends {}. The answer goes to `view` when set, else to `print` (NULL: JSON);
 * --json always prints JSON. */
typedef struct asctl_verb {
    const char *method;
    const char *path;
    const char *const *query; /* pairs {option, query parameter, …, NULL}, or NULL */
    const char *const *body;  /* triples {option, field, kind, …, NULL} (asctl_verb_body) */
    const char *const *need;  /* {option, …, NULL}, or NULL */
    void (*print)(json_t *);
    const asctl_view_t *view;
    const char *arg;   /* the body field the one argument goes to (then `path` has no "%s") */
    const char *fixed; /* a JSON object whose fields every request's body carries, or NULL */
    const char *one;   /* or: an optional argument; with it, GET `one` (its "%s" the argument) */
    void (*print_one)(json_t *); /* prints that answer */
} asctl_verb_t;
extern const char *const ASCTL_NO_FIELDS[];
/* The last two members of a command table row for a declared verb:
 *   {"webhook", "show", "ID", "one webhook", ASCTL_CALL("GET", "/v1/webhooks/%s", .print = p)} */
#define ASCTL_CALL(...)                                                                            \
    NULL, &(const asctl_verb_t)                                                                    \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
/* Run the declared verb of `c` (c->call) on its arguments. Returns the exit code. */
int asctl_verb_run(const asctl_cmd_t *c, const asctl_opts_t *o, int argc, char **argv);

/* Helpers the verbs share (defined in verb.c). `spec` lists a verb's options
 * ("--site= --limit= --json"), `map` pairs options with JSON/query field names, NULL-terminated;
 * functions returning int answer 0 or -1 after printing the problem on stderr. */
int asctl_verb_check(int argc, char **argv, const char *spec, int min_pos, int max_pos,
                     const char *cmd);
const char *asctl_verb_pos(int argc, char **argv, const char *spec, int k);
asctl_opts_t asctl_verb_opts(const asctl_opts_t *o, int argc, char **argv);
int asctl_verb_query(char *path, size_t len, int argc, char **argv, const char *const *map);
int asctl_verb_path(char *path, size_t len, const char *fmt, const char *segment);
int asctl_verb_int(const char *v, const char *what, long long *out);
int asctl_verb_body(json_t *body, int argc, char **argv, const char *const *map);
const char *asctl_verb_yuan(long long cents, char *buf, size_t len);
void asctl_verb_add_yuan(json_t *rows, const char *const *fields);
json_t *asctl_verb_read_json(const char *path);
void asctl_verb_line(const char *label, const char *value);
/* The "label  value" lines of `obj` (asctl_verb_line): `lines` holds pairs {label, dot path, …,
 * NULL}; an empty value prints no line. */
void asctl_print_lines(json_t *obj, const char *const *lines);

#endif
