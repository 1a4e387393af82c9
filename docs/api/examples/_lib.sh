# shellcheck shell=bash
# _lib.sh — the few helpers the examples share. Every example calls the API with plain curl;
# this file only checks what came back, so that the examples double as tests
# (tests/integration/api_examples.sh runs them all against a fresh stack).
#
# An example needs $AS_GATEWAY_URL and the $AS_TOKEN_* of the stack:
#   source var/run/env            (the stack of `make run`; or $AS_VAR/run/env)
#   docs/api/examples/01-open-ticket.sh
#
# The pattern of every step:
#   status=$(curl -sS -o "$OUT" -w '%{http_code}' ... "$AS_GATEWAY_URL/v1/...")
#   expect 201 "the desk opens a ticket" '.state == "received"'
# `expect` prints the step, the status and the JSON answer (AS_EXAMPLES_QUIET=1: less), and
# stops the example when the status (or the optional jq condition) is not the documented one.
# With AS_EXAMPLES_TAP=1 (the test) it prints one `ok` / `not ok` line per step instead.
set -euo pipefail
# new_imei, days_ago, sh_date: the helpers every shell script of the project shares.
# shellcheck source=tests/helpers.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../tests/helpers.sh"

: "${AS_GATEWAY_URL:?is not set: source the env file of the stack first (var/run/env)}"
EXAMPLE=$(basename "$0" .sh)
OUT=$(mktemp)            # the body of the last answer
HEADERS=$(mktemp)        # its headers, for the steps that ask curl for them (-D "$HEADERS")
trap 'rm -f "$OUT" "$HEADERS"' EXIT
RUN=${RUN:-$(date +%s)$RANDOM}      # makes the example's data unique: run it as often as you like
# shellcheck disable=SC2034 # used by the examples that source this file
TODAY=$(sh_date)
STEP=0
status=""

# expect STATUS WHAT [JQ_CONDITION] — the last curl answered STATUS (and, given a condition,
# its JSON body satisfies it); otherwise the example stops with the answer.
expect() {
    local want=$1 what=$2 cond=${3:-} ok=1 why=""
    STEP=$((STEP + 1))
    if [ "$status" != "$want" ]; then
        ok=0
        why="HTTP $status, the documentation says $want"
    elif [ -n "$cond" ] && [ "$(jq -r "$cond" "$OUT" 2>/dev/null)" != true ]; then
        ok=0
        why="the answer does not satisfy $cond"
    fi
    if [ "${AS_EXAMPLES_TAP:-}" = 1 ]; then
        if [ "$ok" = 1 ]; then
            printf 'ok - %s step %d: %s (%s)\n' "$EXAMPLE" "$STEP" "$what" "$status"
        else
            printf 'not ok - %s step %d: %s: %s\n' "$EXAMPLE" "$STEP" "$what" "$why"
            head -c 2000 "$OUT" | sed 's/^/# /'
            printf '\n'
            exit 1
        fi
        return 0
    fi
    printf '\n== %d. %s -> %s\n' "$STEP" "$what" "$status"
    if [ "${AS_EXAMPLES_QUIET:-}" != 1 ]; then
        if jq -e . "$OUT" >/dev/null 2>&1; then
            jq -C . "$OUT" | head -n 40 || true
        else
            head -c 2000 "$OUT" || true
            printf '\n'
        fi
    fi
    if [ "$ok" = 0 ]; then
        printf 'UNEXPECTED: %s\n' "$why" >&2
        exit 1
    fi
}

# expect_header "NAME: VALUE" WHAT — the last curl that wrote its headers to $HEADERS (-D) got
# this header.
expect_header() {
    local saved=$status
    if ! tr -d '\r' <"$HEADERS" | grep -qix "$1"; then
        status="no '$1' header"
    fi
    expect "$saved" "$2"
    status=$saved
}

# wait_answer PATH TOKEN JQ_CONDITION — GET PATH until the condition holds (10 s at most): for
# effects other services apply asynchronously. The last answer stays in $OUT and $status.
wait_answer() {
    local i
    for i in $(seq 1 50); do
        status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL$1" \
            -H "Authorization: Bearer $2")
        [ "$status" = 200 ] && [ "$(jq -r "$3" "$OUT" 2>/dev/null)" = true ] && return 0
        sleep 0.2
    done
    return 0 # the `expect` that follows reports it
}
