# shellcheck shell=bash
# services/notify/tests/lib.sh — helpers for tests/integration/notify_*.sh, sourced after
# tests/lib.sh (kept here: every *.sh in tests/integration/ is run as a test program).
#
#   nt_sql SQL              run SQL as as_notify; prints rows (unaligned, | separated)
#   nt_restart [N=V...]     stop as-notify (SIGTERM; SIGKILL with NT_KILL=1), start it again with
#                           those environment settings (always AS_NOTIFY_ALLOW_PRIVATE=1: the
#                           sink is on loopback) and wait until the gateway reports it healthy
#   nt_sink_start           a local HTTP sink (sink.py) on loopback; sets NT_SINK (base URL),
#                           NT_DIR; stopped at exit
#   nt_hook NAME TYPES_JSON [EXTRA_JQ]
#                           create a webhook posting to $NT_SINK/NAME with a fresh secret;
#                           sets HOOK_ID
#   nt_received PATH [JQ]   the requests the sink received on PATH (JSON lines, through JQ)
#   nt_wait_count PATH JQ N the number of requests on PATH matching the jq select JQ reaches N
#                           (30 s at most); returns 1 otherwise
#   nt_ticket TOKEN PHONE   open a ticket with that token and phone; sets TICKET

NT_ROOT=${AS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd -P)}

nt_sql() {
    PGPASSWORD=$(cat "${AS_VAR:?}/run/secrets/notify.pw") psql -X -q -At -v ON_ERROR_STOP=1 \
        "host=127.0.0.1 port=${AS_PG_PORT:?} dbname=aftersales user=as_notify application_name=notify-test" \
        -c "$1" 2>&1
}

# tests/lib.sh's svc_restart; the sink is on loopback
nt_restart() { SVC_KILL=${NT_KILL:-0} svc_restart notify AS_NOTIFY_ALLOW_PRIVATE=1 "$@"; }

NT_SINK_PID=""
nt_sink_stop() {
    [ -n "$NT_SINK_PID" ] && kill "$NT_SINK_PID" 2>/dev/null
    [ -n "${NT_DIR:-}" ] && rm -rf "$NT_DIR"
}
nt_sink_start() {
    local i
    NT_DIR=$(mktemp -d)
    : >"$NT_DIR/secrets"
    : >"$NT_DIR/requests.jsonl"
    python3 "$NT_ROOT/services/notify/tests/sink.py" "$NT_DIR" "$NT_DIR/secrets" &
    NT_SINK_PID=$!
    trap nt_sink_stop EXIT
    for i in $(seq 1 100); do
        [ -f "$NT_DIR/port" ] && break
        sleep 0.05
    done
    NT_SINK=http://127.0.0.1:$(cat "$NT_DIR/port")
}

nt_hook() {
    local secret body
    secret=sec-$RANDOM$RANDOM$RANDOM-$1
    printf '/%s %s\n' "$1" "$secret" >>"$NT_DIR/secrets"
    body=$(jq -nc --arg url "$NT_SINK/$1" --arg s "$secret" --argjson t "$2" \
        "{url: \$url, event_types: \$t, secret: \$s} ${3:+| $3}")
    http POST /v1/webhooks "$AS_TOKEN_ADMIN" "$body"
    HOOK_ID=$(jbody .id)
}

nt_received() {
    jq -c "select(.path == \"/$1\") ${2:+| $2}" "$NT_DIR/requests.jsonl"
}

nt_wait_count() {
    local i n
    for i in $(seq 1 150); do
        n=$(jq -c "select(.path == \"/$1\") | select($2)" "$NT_DIR/requests.jsonl" | wc -l)
        [ "$n" -ge "$3" ] && return 0
        sleep 0.2
    done
    return 1
}

nt_ticket() {
    local imei body
    imei=$(new_imei)
    body=$(jq -nc --arg phone "$2" --arg inv "$(TZ=Asia/Shanghai date -d '-40 days' +%F)" --arg imei "$imei" '{
      customer: {name: "Notify Test", phone: $phone},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", description: "will not power on", listed: true},
      request: "repair"}')
    http POST /v1/tickets "$1" "$body"
    TICKET=$(jbody .id)
}
