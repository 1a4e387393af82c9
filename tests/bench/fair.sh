#!/usr/bin/env bash
# tests/bench/fair.sh — fair share measured (`make bench-fair`, docs/benchmark.md "Fair share").
#
# Brings up its own stack (state directory, cluster and ports below; deleted at start), opens
# AS_FAIR_TICKETS tickets at the Shanghai desk so that a list read has rows to read, then
# measures the desk's single-ticket read (GET /v1/tickets/{id}, AS_FAIR_READS reads, 0.1 s
# apart, one curl each):
#
#   alone        nobody else sends anything
#   flood, <cfg> the region manager floods GET /v1/tickets?limit=200 from 127.0.0.7,
#                AS_FAIR_CONCURRENCY requests at a time, for as long as the desk reads: with
#                no per-principal limit at all, with only a rate (100/s, bursts of 200), with
#                only a cap of 2 requests in flight, and with the defaults
#
# and prints, for each, the desk's p50 / p99 / max and how the flooder was answered (200s,
# 429s, list reads a second that reached intake). Nothing is asserted: these are figures on
# whatever machine runs it (tests/integration/gateway_fair_share.sh checks the behaviour).
# Results also go to $BENCH_OUT/fair.txt. The stack is brought down at exit.
#
# Settings (environment): AS_BUILD (build), AS_BIN ($AS_BUILD/bin), BENCH_OUT (build/bench),
#   AS_FAIR_VAR (var/bench-fair), AS_FAIR_PG_PORT (55591), AS_FAIR_PORT_BASE (3300),
#   AS_FAIR_HTTP_PORT (8596), AS_FAIR_TICKETS (2000), AS_FAIR_READS (100),
#   AS_FAIR_CONCURRENCY (8), AS_FAIR_KEEP (1: leave the stack up at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
export AS_BUILD AS_BIN
BENCH_OUT=${BENCH_OUT:-build/bench}
V=${AS_FAIR_VAR:-var/bench-fair}
PG_PORT=${AS_FAIR_PG_PORT:-55591}
PORT_BASE=${AS_FAIR_PORT_BASE:-3300}
HTTP_PORT=${AS_FAIR_HTTP_PORT:-8596}
TICKETS=${AS_FAIR_TICKETS:-2000}
READS=${AS_FAIR_READS:-100}
CONC=${AS_FAIR_CONCURRENCY:-8}

case $(realpath -m -- "$V") in
/ | "$ROOT" | "$ROOT/var") echo "fair: AS_FAIR_VAR=$V would delete more than a bench stack" >&2 && exit 2 ;;
esac

stack() {
    AS_VAR=$V AS_PG_PORT=$PG_PORT AS_PORT_BASE=$PORT_BASE AS_HTTP_PORT=$HTTP_PORT AS_BIN=$AS_BIN \
        deploy/local/stack.sh "$@"
}
FLOOD=""
finish() {
    local rc=$?
    trap - EXIT
    [ -z "$FLOOD" ] || kill "$FLOOD" 2>/dev/null
    [ "${AS_FAIR_KEEP:-0}" = 1 ] || stack down >/dev/null 2>&1
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

stack clean >/dev/null 2>&1 || true
stack up >/dev/null || {
    echo "fair: the stack did not come up (logs in $V/log)" >&2
    exit 1
}
export AS_VAR=$V
# shellcheck source=/dev/null
. "$V/run/env"
. tests/lib.sh
. tests/faults/lib.sh
mkdir -p "$BENCH_OUT" "$V/fair"
D=$V/fair
OUT=$BENCH_OUT/fair.txt

# ---- tickets to list -------------------------------------------------------------------------
cfg=$D/open.curl
inv=$(days_ago 40)
for ((i = 0; i < TICKETS; i++)); do new_imei; echo; done >"$D/imeis"
# `next` resets every option, so each request carries its own headers.
jq -Rr --arg url "$AS_GATEWAY_URL/v1/tickets" --arg tok "$AS_TOKEN_CENTER" --arg inv "$inv" '
  select(length > 0) | input_line_number as $i |
  {customer: {name: "Fair \($i)", phone: ("137" + ("00000000" + ($i | tostring))[-8:])},
   device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: ., imei_label: .},
   purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
   fault: {code: "NO_POWER", listed: true}, request: "repair"} | tojson |
  "url = \($url | tojson)\nrequest = \"POST\"\nheader = \"Authorization: Bearer \($tok)\"\nheader = \"Content-Type: application/json\"\ndata = \(tojson)\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\nnext"' \
  "$D/imeis" >"$cfg"
curl -s --parallel --parallel-max 8 -K "$cfg" >"$D/open.codes" 2>/dev/null
opened=$(grep -c '^201$' "$D/open.codes")
echo "# fair: $opened of $TICKETS tickets opened"
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg inv "$inv" --arg imei "$(new_imei)" '{
  customer: {name: "Fair Desk", phone: "13900003333"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
id=$(jbody .id)
[ -n "$id" ] && [ "$id" != null ] || {
    echo "fair: the desk's ticket was not opened: $HTTP_STATUS $HTTP_BODY" >&2
    exit 1
}

# ---- measuring -------------------------------------------------------------------------------
desk_reads() { # FILE — READS reads of the ticket, 0.1 s apart: "status seconds" lines
    local i
    : >"$1"
    for ((i = 0; i < READS; i++)); do
        curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' \
            -H "Authorization: Bearer $AS_TOKEN_CENTER" "$AS_GATEWAY_URL/v1/tickets/$id" >>"$1"
        sleep 0.1
    done
}
summary() { # FILE — "n ok, p50, p99, max" of the latencies in ms
    local ok
    ok=$(grep -c '^200 ' "$1")
    awk '{print $2 * 1000}' "$1" | sort -n | awk -v ok="$ok" '{a[NR] = $1} END {
        i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
        printf "%4d/%-4d %8.1f %8.1f %8.1f", ok, NR, a[int((NR + 1) / 2)], a[i], a[NR]}'
}
awk -v u="$AS_GATEWAY_URL/v1/tickets?limit=200" 'BEGIN {for (i = 0; i < 200000; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u}' >"$D/list.curl"
# One list read alone, for its cost.
list_ms=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $AS_TOKEN_REGION" \
    "$AS_GATEWAY_URL/v1/tickets?limit=200" | awk '{printf "%.1f", $1 * 1000}')

restart_gateway() { # CONF (empty: the stack's own)
    f_stop gateway
    if [ -n "$1" ]; then F_CONFIG_OF[gateway]=$1; else unset 'F_CONFIG_OF[gateway]'; fi
    f_start gateway
    f_wait 60 f_healthy || {
        echo "fair: the gateway did not come back" >&2
        exit 1
    }
}
conf_with() { # FILE RATE BURST INFLIGHT — the stack's configuration with these per-principal limits
    cp "$AS_CONFIG" "$1"
    chmod 600 "$1"
    printf 'rate_limit_per_principal = %s\nrate_limit_per_principal_burst = %s\nmax_inflight_per_principal = %s\n' \
        "$2" "$3" "$4" >>"$1"
}
flood_phase() { # ID LABEL — the desk's reads while the region floods list reads
    local t0 t1
    # Line-buffered: the flood is stopped with a signal, and every answer so far must count.
    stdbuf -oL curl -s --parallel --parallel-max "$CONC" --interface 127.0.0.7 \
        -H "Authorization: Bearer $AS_TOKEN_REGION" -w '%{http_code}\n' -K "$D/list.curl" \
        >"$D/$1.codes" 2>/dev/null &
    FLOOD=$!
    sleep 1
    t0=$(date +%s.%N)
    desk_reads "$D/$1.desk"
    t1=$(date +%s.%N)
    kill "$FLOOD" 2>/dev/null
    wait "$FLOOD" 2>/dev/null
    FLOOD=""
    local n200 n429
    n200=$(grep -c '^200$' "$D/$1.codes")
    n429=$(grep -c '^429$' "$D/$1.codes")
    printf '%-34s %s   %7d %7d %7.0f\n' "$2" "$(summary "$D/$1.desk")" "$n200" "$n429" \
        "$(awk -v n="$n200" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a + 1)}')" | tee -a "$OUT"
}

{
    echo "# fair share, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# $opened tickets at the desk; one list read of 200 alone: $list_ms ms; flood: $CONC at a time"
    printf '%-34s %9s %8s %8s %8s   %7s %7s %7s\n' phase "desk ok" "p50 ms" "p99 ms" "max ms" \
        "fl 200" "fl 429" "fl 200/s"
} | tee "$OUT"
desk_reads "$D/alone.desk"
printf '%-34s %s\n' alone "$(summary "$D/alone.desk")" | tee -a "$OUT"

conf_with "$D/off.conf" 0 1 0
restart_gateway "$D/off.conf"
flood_phase off "flood, no per-principal limit"
conf_with "$D/rate.conf" 100 200 0
restart_gateway "$D/rate.conf"
flood_phase rate "flood, 100/s burst 200, no cap"
conf_with "$D/cap.conf" 0 1 2
restart_gateway "$D/cap.conf"
flood_phase cap "flood, 2 in flight, no rate limit"
restart_gateway ""
flood_phase defaults "flood, defaults"
echo "# fair: results in $OUT"
