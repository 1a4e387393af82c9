/*
 * eval_main.c — `as-warranty-eval`, the offline evaluator of the 三包 warranty engine.
 *
 * Reads JSON lines (one contract request per line) on stdin and writes exactly one compact
 * decision line per non-blank input line to stdout, in input order. A malformed line (invalid
 * JSON, not an object, a bad field) yields {"id":...,"error":"..."} and the run goes on; blank
 * lines are skipped and produce no output. Holidays come from the request's "holidays" list
 * plus, when started with --holidays FILE, that calendar file.
 *
 * Exit status: 0 when stdin was read to the end; 1 on a read/write error; 2 on bad options or
 * an unreadable / malformed holiday file.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "Usage: as-warranty-eval [--holidays FILE] < requests.jsonl > decisions.jsonl\n"
    "\n"
    "Evaluates 三包 warranty requests (one JSON object per line, see\n"
    "docs/warranty-rules.md, \"The evaluation contract\") and prints one decision line per "
    "request.\n"
    "Blank lines are skipped; a malformed line prints {\"id\":...,\"error\":\"...\"}.\n"
    "\n"
    "Options:\n"
    "  --holidays FILE  statutory holidays, one YYYY-MM-DD per line ('#' starts a comment),\n"
    "                   added to each request's own \"holidays\" list\n"
    "  --help           show this help and exit\n";

/* Load the calendar file into a freshly allocated sorted array; 0 on success, -1 after
 * printing a message to stderr. */
static int load_holidays(const char *path, int32_t **days, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "as-warranty-eval: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char err[256];
    const int rc = wr_holidays_read(f, days, n, err, sizeof err);
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "as-warranty-eval: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* Entry point: parse options, then stream stdin to stdout line by line. */
int main(int argc, char **argv)
{
    const char *holiday_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "--holidays") == 0 && i + 1 < argc) {
            holiday_path = argv[++i];
        } else if (strncmp(argv[i], "--holidays=", 11) == 0 && argv[i][11] != '\0') {
            holiday_path = argv[i] + 11;
        } else {
            fprintf(stderr, "as-warranty-eval: bad option '%s'\n\n%s", argv[i], USAGE);
            return 2;
        }
    }

    wr_policy_t policy;
    wr_policy_defaults(&policy);
    int32_t *holidays = NULL;
    size_t n_holidays = 0;
    if (holiday_path != NULL) {
        if (load_holidays(holiday_path, &holidays, &n_holidays) != 0)
            return 2;
        policy.holidays = holidays;
        policy.n_holidays = n_holidays;
    }

    int status = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) != -1) {
        char *out = NULL;
        const int rc = wr_evaluate_line(line, (size_t)got, &policy, &out);
        if (rc == 0)
            continue;
        if (rc < 0) {
            fputs("{\"id\":null,\"error\":\"out of memory\"}\n", stdout);
        } else {
            fputs(out, stdout);
            fputc('\n', stdout);
            free(out);
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "as-warranty-eval: error reading standard input\n");
        status = 1;
    }
    free(line);
    free(holidays);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "as-warranty-eval: error writing standard output\n");
        status = 1;
    }
    return status;
}
