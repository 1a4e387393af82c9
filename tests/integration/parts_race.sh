#!/usr/bin/env bash
# Parts: two centres racing for the last unit never both get it. The last unit sits at the
# warehouse; SH01 and GZ01 both need it, at the same moment:
#   1. over HTTP, both centres request a transfer of it at once (several rounds);
#   2. in the database, two sessions apply both centres' parts requests in truly concurrent
#      transactions, released together by an advisory-lock barrier — and the same for two
#      tickets of one centre competing for that centre's last unit;
#   3. end to end, a ticket at SH01 and one at GZ01 request the part at once through intake.
# Exactly one wins the unit (allocated / reserved); the other waits (backordered), and is served
# first when stock arrives. The ledger holds after every round.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

PW=$(cat "${AS_VAR:?}/run/secrets/parts.pw")
CONN="host=127.0.0.1 port=${AS_PG_PORT:?} dbname=aftersales user=as_parts application_name=parts_race"
q() {
    PGPASSWORD=$PW psql -X -q -At -v ON_ERROR_STOP=1 "$CONN" -c "$1" 2>&1
}
RUN=$RANDOM$RANDOM
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ledger_ok() {
    local out
    out=$(q "SELECT ledger_ok()")
    if [ "$out" = t ]; then t_ok "$1"; else t_fail "$1" "$(q 'SELECT * FROM ledger_mismatches()')"; fi
}
new_sku() { # SKU — add it to the catalogue
    http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
        "{\"sku\":\"$1\",\"name\":\"race test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1000,\"list_price_cents\":2000,\"defective_return_required\":true}"
}
receive() { # SITE SKU QTY
    http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"$1\",\"sku\":\"$2\",\"qty\":$3}"
}
# post_bg NAME TOKEN PATH BODY — a POST in the background; status and body land in $TMP/NAME.
post_bg() {
    curl -sS -X POST --max-time 30 -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        --data-binary "$4" -o "$TMP/$1.body" -w '%{http_code}' "$AS_GATEWAY_URL$3" >"$TMP/$1.status" 2>/dev/null &
}

# --- 1. HTTP: both centres request the warehouse's last unit at once ---
rounds=5
exclusive=0
for i in $(seq 1 $rounds); do
    sku="T$RUN-R$i"
    new_sku "$sku"
    receive WH01 "$sku" 1
    post_bg sh "$AS_TOKEN_CENTER" /v1/parts/transfers "{\"from\":\"WH01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    post_bg gz "$AS_TOKEN_CENTER_B" /v1/parts/transfers "{\"from\":\"WH01\",\"to\":\"GZ01\",\"lines\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    wait
    states=$(jq -r .state "$TMP/sh.body" "$TMP/gz.body" 2>/dev/null | sort | tr '\n' ' ')
    held=$(q "SELECT reserved || '/' || available FROM stock WHERE site = 'WH01' AND sku = '$sku'")
    if [ "$(cat "$TMP/sh.status")$(cat "$TMP/gz.status")" = 201201 ] &&
        [ "$states" = "allocated waiting " ] && [ "$held" = "1/0" ]; then
        exclusive=$((exclusive + 1))
    else
        t_note "round $i: statuses $(cat "$TMP/sh.status") $(cat "$TMP/gz.status"), states '$states', WH01 reserved/available $held"
    fi
done
t_eq "in every round exactly one centre's transfer got the last unit, the other waits" "$rounds" "$exclusive"
ledger_ok "after the HTTP races the ledger holds"

# --- 2. the database: truly concurrent transactions, released together ---
# race_sql KEY PAYLOAD_A PAYLOAD_B — both payloads applied by on_parts_requested in two sessions
# that wait on one advisory lock held by a third; when it lets go, both run at once.
race_sql() {
    local key=$1
    PGPASSWORD=$PW psql -X -q -At "$CONN" \
        -c "BEGIN; SELECT pg_advisory_xact_lock($key); SELECT pg_sleep(1); COMMIT;" >/dev/null 2>&1 &
    local holder=$!
    # The holder must own the lock before the racers queue behind it.
    for _ in $(seq 1 50); do
        [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $key AND granted")" = 1 ] && break
        sleep 0.1
    done
    PGPASSWORD=$PW psql -X -q -At -v ON_ERROR_STOP=1 "$CONN" \
        -c "BEGIN; SELECT pg_advisory_xact_lock_shared($key); SELECT on_parts_requested('$2'); COMMIT;" >"$TMP/a.out" 2>&1 &
    local a=$!
    PGPASSWORD=$PW psql -X -q -At -v ON_ERROR_STOP=1 "$CONN" \
        -c "BEGIN; SELECT pg_advisory_xact_lock_shared($key); SELECT on_parts_requested('$3'); COMMIT;" >"$TMP/b.out" 2>&1 &
    local b=$!
    wait "$holder"
    RACE_RC=0
    wait "$a" || RACE_RC=1
    wait "$b" || RACE_RC=1
}
request() { # TICKET CENTER REGION SKU
    printf '{"ticket_id":"%s","center":"%s","region":"%s","brand":"Huaxin","manufacturer":"HUAXIN","warranty":true,"lines":[{"line_no":1,"sku":"%s","qty":1}]}' "$1" "$2" "$3" "$4"
}

# Two centres, the warehouse's last unit: both lines backorder at their centres, and the two
# transfers they ask for race for the one unit at WH01.
sku="T$RUN-SQL2"
new_sku "$sku"
receive WH01 "$sku" 1
ta="RS$RUN"A
tb="RG$RUN"B
race_sql $((RUN % 100000 + 1)) "$(request "$ta" SH01 east "$sku")" "$(request "$tb" GZ01 south "$sku")"
t_eq "both concurrent transactions committed" 0 "$RACE_RC"
t_eq "both centres' lines are backordered (neither centre had the part)" "backordered,backordered" \
    "$(q "SELECT string_agg(state, ',' ORDER BY ticket_id) FROM reservations WHERE ticket_id IN ('$ta', '$tb')")"
t_eq "exactly one transfer won the warehouse's last unit, the other waits" "allocated,waiting" \
    "$(q "SELECT string_agg(state, ',' ORDER BY state) FROM transfers WHERE ticket_id IN ('$ta', '$tb')")"
t_eq "the warehouse holds the unit once, for the winner" "1|0|1" \
    "$(q "SELECT on_hand, available, reserved FROM stock WHERE site = 'WH01' AND sku = '$sku'")"
ledger_ok "after the concurrent transactions the ledger holds"

# The loser is first in line: the next unit at the warehouse goes to it.
receive WH01 "$sku" 1
t_eq "a new unit at the warehouse is allocated to the waiting transfer" "allocated,allocated" \
    "$(q "SELECT string_agg(state, ',') FROM transfers WHERE ticket_id IN ('$ta', '$tb')")"

# One centre, its own last unit, two tickets at once: one reserved, the other backordered.
sku="T$RUN-SQL1"
new_sku "$sku"
receive SH01 "$sku" 1
tc="RC$RUN"C
td="RD$RUN"D
race_sql $((RUN % 100000 + 2)) "$(request "$tc" SH01 east "$sku")" "$(request "$td" SH01 east "$sku")"
t_eq "both concurrent reservations committed" 0 "$RACE_RC"
t_eq "exactly one ticket got the centre's last unit, the other is backordered" "backordered,reserved" \
    "$(q "SELECT string_agg(state, ',' ORDER BY state) FROM reservations WHERE ticket_id IN ('$tc', '$td')")"
t_eq "the centre's unit is reserved once" "1|1|0" \
    "$(q "SELECT on_hand, reserved, available FROM stock WHERE site = 'SH01' AND sku = '$sku'")"
ledger_ok "after the concurrent reservations the ledger holds"

# --- 3. end to end: a ticket at SH01 and one at GZ01 need the warehouse's last unit ---
open_ticket() { # TOKEN — a free phone repair; sets TICKET (in_repair) or leaves it empty
    local imei inv
    imei=$(new_imei)
    inv=$(TZ=Asia/Shanghai date -d "-40 days" +%F)
    TICKET=""
    http POST /v1/tickets "$1" "$(jq -nc --arg imei "$imei" --arg inv "$inv" '{
        customer: {name: "Race Test", phone: "13900005555"},
        device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
        purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
        fault: {code: "NO_POWER", description: "will not power on", listed: true}, request: "repair"}')"
    [ "$HTTP_STATUS" = 201 ] || return 0
    local id
    id=$(jbody .id)
    wait_state "$id" adjudicated "$1"
    http POST "/v1/tickets/$id/diagnosis" "$1" '{"fault_code":"NO_POWER"}'
    [ "$(jbody .state)" = in_repair ] && TICKET=$id
}
sku="T$RUN-E2E"
new_sku "$sku"
receive WH01 "$sku" 1
open_ticket "$AS_TOKEN_CENTER"
ta=$TICKET
open_ticket "$AS_TOKEN_CENTER_B"
tb=$TICKET
if [ -z "$ta" ] || [ -z "$tb" ]; then
    t_fail "two tickets are opened and diagnosed through intake" "ticket ids '$ta' '$tb'"
else
    t_ok "two tickets are opened and diagnosed through intake"
    post_bg a "$AS_TOKEN_CENTER" "/v1/tickets/$ta/parts-requests" "{\"parts\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    post_bg b "$AS_TOKEN_CENTER_B" "/v1/tickets/$tb/parts-requests" "{\"parts\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    wait
    t_eq "both centres request the part at the same moment" 200200 "$(cat "$TMP/a.status")$(cat "$TMP/b.status")"
    for _ in $(seq 1 100); do
        n=$(q "SELECT count(*) FROM transfers WHERE ticket_id IN ('$ta', '$tb')")
        [ "$n" = 2 ] && break
        sleep 0.1
    done
    t_eq "exactly one ticket's transfer holds the warehouse's last unit" "allocated,waiting" \
        "$(q "SELECT string_agg(state, ',' ORDER BY state) FROM transfers WHERE ticket_id IN ('$ta', '$tb')")"
    ledger_ok "after the end-to-end race the ledger holds"
    http GET "/v1/tickets/$ta" "$AS_TOKEN_CENTER"
    t_jq "the SH01 ticket waits for parts" .state awaiting_parts
    # Stock arrives; both transfers travel; both repairs go on.
    receive WH01 "$sku" 1
    for t in $ta $tb; do
        tr=$(q "SELECT id FROM transfers WHERE ticket_id = '$t'")
        http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE"
        tok=$AS_TOKEN_CENTER
        [ "$t" = "$tb" ] && tok=$AS_TOKEN_CENTER_B
        http POST "/v1/parts/transfers/$tr/receive" "$tok"
    done
    for _ in $(seq 1 100); do
        http GET "/v1/tickets/$tb" "$AS_TOKEN_CENTER_B"
        sb=$(jbody .state)
        http GET "/v1/tickets/$ta" "$AS_TOKEN_CENTER"
        [ "$(jbody .state)/$sb" = in_repair/in_repair ] && break
        sleep 0.1
    done
    t_eq "once the parts arrived both repairs are back in progress" "in_repair/in_repair" "$(jbody .state)/$sb"
    t_eq "each ticket's line is reserved at its own centre" "SH01:reserved,GZ01:reserved" \
        "$(q "SELECT string_agg(site || ':' || state, ',' ORDER BY site DESC) FROM reservations WHERE ticket_id IN ('$ta', '$tb')")"
    ledger_ok "at the end of the journey the ledger holds"
fi
t_done
