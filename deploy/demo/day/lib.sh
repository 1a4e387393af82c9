# shellcheck shell=bash
# deploy/demo/day/lib.sh — helpers of the demo day (deploy/demo/day.sh): HTTP calls to the
# gateway with retries, waiting for asynchronous effects, IMEI and VIN generation, money, and the
# reading of the finance export CSV.
#
# Everything talks to the gateway like any client would; nothing reads a database.

# ---- output ---------------------------------------------------------------------------------

# chapter TITLE — a heading of the day's story.
chapter() {
    local t=""
    [ -z "${DEMO_TIMING:-}" ] || t=" (+${SECONDS}s)"
    if [ -t 1 ]; then
        printf '\n\033[1m== %s ==\033[0m%s\n' "$*" "$t"
    else
        printf '\n== %s ==%s\n' "$*" "$t"
    fi
}
# say TEXT — one line of the story.
say() { printf '  %s\n' "$*"; }
# detail TEXT — an indented second line (a decision, an amount).
detail() { printf '      %s\n' "$*"; }
die() {
    printf '\nday.sh: error: %s\n' "$*" >&2
    exit 1
}

# yuan CENTS — "1,234.56" (cents may be negative or empty).
yuan() {
    local c=${1:-0} sign="" whole frac out=""
    if [ "$c" -lt 0 ]; then
        sign=-
        c=$((-c))
    fi
    whole=$((c / 100))
    frac=$(printf '%02d' $((c % 100)))
    while [ "$whole" -ge 1000 ]; do
        out=$(printf ',%03d' $((whole % 1000)))$out
        whole=$((whole / 1000))
    done
    printf '%s%s%s.%s' "$sign" "$whole" "$out" "$frac"
}

# pct NUM DEN — "87.5 %" (or "-" when DEN is 0).
pct() {
    if [ "$2" -eq 0 ]; then
        printf -- '-'
    else
        printf '%d.%d %%' $((1000 * $1 / $2 / 10)) $((1000 * $1 / $2 % 10))
    fi
}

# ---- dates, Luhn digits, waiting: the helpers every shell script of the project shares ---------

# shellcheck source=tests/helpers.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../tests/helpers.sh"

# ---- device identities ----------------------------------------------------------------------

# run_imei N — a fresh IMEI for device N of this run: "86", the run number (the start time in
# seconds, 10 digits), N in two digits and a valid Luhn check digit. Unique per run and device.
run_imei() { with_luhn "$(printf '86%010d%02d' "$RUN_NO" "$1")"; }

# new_vin N — a fresh 17-character VIN for vehicle N of this run (digits only after the maker
# code, so never an I, O or Q).
new_vin() {
    printf 'LDC%010d%04d' "$RUN_NO" "$1"
}

# new_serial N — a fresh serial number for accessory N of this run.
new_serial() {
    printf 'HX%010d%02d' "$RUN_NO" "$1"
}

# ---- HTTP -----------------------------------------------------------------------------------

# token ROLE — the bearer token of a demo principal (admin, center, center_b, region,
# warehouse, finance, reviewer).
token() {
    local v
    v=AS_TOKEN_${1^^}
    [ -n "${!v:-}" ] || die "no $v in the environment (source the stack's run/env)"
    printf '%s' "${!v}"
}

API_SEQ=0
# api METHOD PATH ROLE [BODY] — one request. Sets API_STATUS (000: no answer) and API_BODY.
# Writes carry an Idempotency-Key, so the retries after 503/504/no answer are safe.
api() {
    local method=$1 path=$2 role=$3 body=${4:-} tok key out try
    local -a args
    tok=$(token "$role")
    API_SEQ=$((API_SEQ + 1))
    key="demo-$RUN_NO-$API_SEQ"
    for try in 1 2 3 4 5; do
        args=(-sS -X "$method" --max-time 30 -H "Authorization: Bearer $tok" -w '\n%{http_code}')
        [ "$method" = GET ] || args+=(-H "Idempotency-Key: $key")
        if [ -n "$body" ]; then
            args+=(-H 'Content-Type: application/json' --data-binary "$body")
        fi
        out=$(curl "${args[@]}" "$AS_GATEWAY_URL$path" 2>/dev/null) || true
        API_STATUS=${out##*$'\n'}
        API_BODY=${out%$'\n'*}
        [[ $API_STATUS =~ ^[0-9]{3}$ ]] || API_STATUS=000
        case $API_STATUS in
        503 | 504 | 000) sleep "$try" ;;
        *) return 0 ;;
        esac
    done
}

# must METHOD PATH ROLE [BODY] — api, and stop the demo unless the answer is 2xx.
must() {
    api "$@"
    if [ "$API_STATUS" -lt 200 ] || [ "$API_STATUS" -gt 299 ]; then
        die "$1 $2 (as $3) answered $API_STATUS: ${API_BODY:0:600}"
    fi
}

# jb [JQ OPTIONS...] FILTER — the last answer through jq (raw output).
jb() {
    jq -r "$@" <<<"$API_BODY"
}

# wait_for SECONDS WHAT COMMAND... — run COMMAND every 0.1 s until it succeeds; stop the demo
# when it has not within SECONDS.
wait_for() {
    local limit=$1 what=$2
    shift 2
    wait_until "$limit" "$@" || die "timed out after ${limit} s waiting for $what"
}

# ---- the finance export ---------------------------------------------------------------------

# csv_to_tsv — RFC 4180 CSV on stdin to tab-separated fields on stdout (quoted fields may hold
# commas, doubled quotes and line breaks; tabs and line breaks inside fields become spaces).
csv_to_tsv() {
    awk 'BEGIN { RS = "\n"; field = ""; inq = 0; rec = "" }
    {
        sub(/\r$/, "")
        line = $0
        for (i = 1; i <= length(line); i++) {
            c = substr(line, i, 1)
            if (inq) {
                if (c == "\"") {
                    if (substr(line, i + 1, 1) == "\"") { field = field "\""; i++ }
                    else inq = 0
                } else if (c == "\t") field = field " "
                else field = field c
            } else if (c == "\"") inq = 1
            else if (c == ",") { rec = rec field "\t"; field = "" }
            else field = field c
        }
        if (inq) { field = field " "; next }
        print rec field
        rec = ""; field = ""
    }'
}
