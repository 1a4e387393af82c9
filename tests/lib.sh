# shellcheck shell=bash
# tests/lib.sh — helpers for the integration test scripts in tests/integration/*.sh.
#
# Every assertion prints one TAP-style line, `ok - NAME` or `not ok - NAME: REASON` (details
# follow as `# ` lines), which tests/run.sh counts. A script sources this file, makes its
# assertions and ends with `t_done`, whose exit status says whether all of them passed.
#
#   . "$(dirname "$0")/../lib.sh"
#   http GET /healthz
#   t_status "gateway is healthy" 200
#   http POST /v1/tickets "$AS_TOKEN_CENTER" '{"serial":"X1"}'
#   t_status "a centre opens a ticket" 201
#   t_eq "the ticket is open" open "$(jbody .state)"
#   t_done
#
# The environment comes from tests/run.sh: $AS_VAR/run/env (AS_GATEWAY_URL, AS_TOKEN_*, ...),
# plus AS_BIN and AS_BUILD.

# Dates, IMEIs and waiting: the helpers the demo and the API examples share too.
# shellcheck source=tests/helpers.sh
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

T_PASSED=0
T_FAILED=0
HTTP_STATUS=""
HTTP_BODY=""

# q SCHEMA SQL — one value (or rows, unaligned) from the test stack's database, as SCHEMA's role.
q() { "${AS_ROOT:-.}"/deploy/local/stack.sh psql "$1" -XAtq -c "$2" 2>/dev/null; }

# sql SCHEMA SQL — the same, stopping at the first error, whose message is part of the output
# (for the checks that expect a refusal from the database).
sql() { "${AS_ROOT:-.}"/deploy/local/stack.sh psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2" 2>&1; }

# t_poll NAME EXPECTED COMMAND... — run COMMAND every 0.1 s (10 s at most) until it prints
# EXPECTED; then t_eq on its last output.
t_poll() {
    local name=$1 want=$2 out i
    shift 2
    for ((i = 0; i < 100; i++)); do
        out=$("$@")
        [ "$out" = "$want" ] && break
        sleep 0.1
    done
    t_eq "$name" "$want" "$out"
}

# t_note TEXT — diagnostic lines, each as a TAP comment.
t_note() {
    local line
    while IFS= read -r line; do
        printf '# %s\n' "$line"
    done <<<"$*"
}

# t_ok NAME — a passed check.
t_ok() {
    T_PASSED=$((T_PASSED + 1))
    printf 'ok - %s\n' "$1"
}

# t_fail NAME REASON — a failed check; a multi-line reason continues as comments.
t_fail() {
    local name=$1 reason=${2:-failed} first rest
    T_FAILED=$((T_FAILED + 1))
    first=${reason%%$'\n'*}
    printf 'not ok - %s: %s\n' "$name" "$first"
    if [ "$first" != "$reason" ]; then
        rest=${reason#*$'\n'}
        t_note "$rest"
    fi
}

# t_check NAME COMMAND... — ok when COMMAND succeeds; its output is shown on failure.
t_check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        t_ok "$name"
    else
        t_fail "$name" "command failed: $*"$'\n'"$out"
    fi
}

# t_eq NAME EXPECTED ACTUAL — string equality.
t_eq() {
    if [ "$2" = "$3" ]; then
        t_ok "$1"
    else
        t_fail "$1" "expected '$2', got '$3'"
    fi
}

# t_match NAME REGEX ACTUAL — ACTUAL matches the extended regular expression REGEX.
t_match() {
    if [[ $3 =~ $2 ]]; then
        t_ok "$1"
    else
        t_fail "$1" "'$3' does not match /$2/"
    fi
}

# http METHOD PATH [TOKEN] [BODY] [CURL ARGS...] — one request to the gateway. Sets
# HTTP_STATUS (000 when no answer came) and HTTP_BODY. An empty TOKEN sends no Authorization
# header; a BODY is sent as JSON.
http() {
    local method=$1 path=$2 token=${3:-} body=${4:-} out status
    local -a args=(-sS -X "$method" --max-time "${T_HTTP_TIMEOUT:-30}" -o - -w '\n%{http_code}')
    shift 2
    [ $# -eq 0 ] || shift
    [ $# -eq 0 ] || shift
    if [ -n "$token" ]; then
        args+=(-H "Authorization: Bearer $token")
    fi
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    out=$(curl "${args[@]}" "$@" "${AS_GATEWAY_URL:?AS_GATEWAY_URL is not set}$path" 2>/dev/null) || true
    status=${out##*$'\n'}
    if [[ $status =~ ^[0-9]{3}$ ]]; then
        HTTP_STATUS=$status
        HTTP_BODY=${out%$'\n'*}
    else
        HTTP_STATUS=000
        HTTP_BODY=""
    fi
}
# t_http — the same as http, under the name the other helpers share.
t_http() { http "$@"; }

# t_status NAME EXPECTED — the last http call answered EXPECTED; the body is shown otherwise.
t_status() {
    if [ "$HTTP_STATUS" = "$2" ]; then
        t_ok "$1"
    else
        t_fail "$1" "HTTP status $HTTP_STATUS, expected $2"$'\n'"body: ${HTTP_BODY:0:2000}"
    fi
}

# jbody FILTER — a jq filter applied to the last HTTP_BODY (raw output; empty on bad JSON).
jbody() {
    printf '%s' "$HTTP_BODY" | jq -r "$1" 2>/dev/null || true
}

# t_jq NAME FILTER EXPECTED — the last body, through the jq FILTER, equals EXPECTED.
t_jq() {
    local actual
    actual=$(jbody "$2")
    if [ "$actual" = "$3" ]; then
        t_ok "$1"
    else
        t_fail "$1" "$2 is '$actual', expected '$3'"$'\n'"body: ${HTTP_BODY:0:2000}"
    fi
}

# t_done — the end of a script: exit 0 when every check passed, 1 otherwise.
t_done() {
    if [ "$T_FAILED" -eq 0 ]; then
        exit 0
    fi
    exit 1
}

# t_need_gateway — GW, the as-gateway binary (tests/api/lib.sh, sourced first); without one the
# script fails that check and ends.
t_need_gateway() {
    # shellcheck disable=SC2034 # GW is for the script that calls this
    GW=$(api_gateway_bin) || {
        t_fail "the gateway binary is there" "no as-gateway"
        t_done
    }
}

# t_scratch — TMP, a scratch directory, and PIDS, the script's own processes: at exit every one
# of PIDS is killed and TMP removed.
t_scratch() {
    TMP=$(mktemp -d)
    PIDS=()
    trap t_scratch_cleanup EXIT
}
t_scratch_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# hdr NAME — the value of response header NAME (any case) in $TMP/h, as `curl -D "$TMP/h"` saves
# the headers (the first one of that name).
hdr() { tr -d '\r' <"$TMP/h" | sed -n "s/^$1: //Ip" | head -1; }

# free_port — a TCP port on 127.0.0.1 that is free now (for a process the script starts itself).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# svc_restart NAME [VAR=VALUE...] — stop as-NAME (SIGTERM; SIGKILL with SVC_KILL=1), start it
# again with those environment settings (its log appended, its pid file rewritten) and wait
# (30 s at most; status 1 otherwise) until the gateway reports every service healthy.
svc_restart() {
    local name=$1 pidf=$AS_VAR/run/$1.pid pid i root bin sig=TERM
    shift
    [ "${SVC_KILL:-0}" = 1 ] && sig=KILL
    root=${AS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
    bin=${AS_BIN:-build/bin}
    case $bin in /*) ;; *) bin=$root/$bin ;; esac
    pid=$(cat "$pidf" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -"$sig" "$pid"
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    (
        cd "$root" || exit 1
        env "$@" setsid "$bin/as-$name" --config "$AS_CONFIG" >>"$AS_VAR/log/$name.log" 2>&1 </dev/null &
        echo $! >"$pidf"
    )
    sleep 0.3
    wait_until 30 curl -sf -o /dev/null --max-time 2 "$AS_GATEWAY_URL/healthz"
}

# wait_http PATH TOKEN FILTER EXPECTED — GET PATH until the jq FILTER of the answer gives
# EXPECTED (10 s at most; status 1 otherwise); the last answer stays in HTTP_STATUS/HTTP_BODY.
wait_http() {
    local i
    for ((i = 0; i < 100; i++)); do
        http GET "$1" "$2"
        [ "$(jbody "$3")" = "$4" ] && return 0
        sleep 0.1
    done
    return 1
}

# staff_account LOGIN CENTER — a people account for a technician (role center at CENTER, made by
# the admin), then wait (10 s at most; status 1 otherwise) until intake's copy of the accounts has
# it: intake names technicians only by such logins (docs/onsite.md).
staff_account() {
    http POST /v1/users "$AS_TOKEN_ADMIN" "$(jq -nc --arg l "$1" --arg c "$2" \
        '{login: $l, display_name: ("Technician " + $l), role: "center", site: $c, password: "Workshop-pass-2026!"}')"
    [ "$HTTP_STATUS" = 201 ] || return 1
    wait_until 10 staff_copied "$1"
}
staff_copied() { [ "$(q intake "SELECT count(*) FROM staff_accounts WHERE login = '$1' AND active")" = 1 ]; }
# ticket_json [JQ]... — a POST /v1/tickets body: a free repair of a Huaxin phone (a new IMEI, on
# its label too) bought 40 days ago with invoice and warranty card, NO_POWER; each JQ filter is
# applied to it in turn, e.g. ticket_json '.customer.name = "Han Mei"' '.request = "refund"'.
ticket_json() {
    local body f
    body=$(jq -nc --arg inv "$(days_ago 40)" --arg imei "$(new_imei)" '{
      customer: {name: "Zhao Min", phone: "13900002222"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", description: "will not power on", listed: true},
      request: "repair"}')
    for f in "$@"; do body=$(jq -c "$f" <<<"$body"); done
    printf '%s\n' "$body"
}

# until_status STATUS METHOD PATH [TOKEN] [BODY] — repeat the request (http) until it answers
# STATUS (10 s at most; status 1 otherwise), e.g. while a new centre reaches the services on the
# people stream.
until_status() {
    local want=$1 i
    shift
    for ((i = 0; i < 50; i++)); do
        http "$@"
        [ "$HTTP_STATUS" = "$want" ] && return 0
        sleep 0.2
    done
    return 1
}

# wait_state TICKET STATE [TOKEN] — wait_http until the ticket is in STATE (read with TOKEN, the
# centre's by default); the last answer stays in HTTP_BODY.
wait_state() { wait_http "/v1/tickets/$1" "${3:-$AS_TOKEN_CENTER}" .state "$2"; }

# wait_decided TICKET [TOKEN] — wait_http until the ticket has left `received` (the warranty
# decision has come back).
wait_decided() { wait_http "/v1/tickets/$1" "${2:-$AS_TOKEN_CENTER}" '.state != "received"' true; }
