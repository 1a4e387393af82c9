#!/usr/bin/env bash
# The customer's status page (docs/intake.md "Status page"): GET /v1/status/{ticket_no} and
# POST /v1/status/{ticket_no}/estimate need no credentials, only the ticket number and the last
# four digits of the ticket's phone. Asserted: a match shows progress, the waiting estimate and
# later the pickup centre, and never the name, phone or notes; a wrong phone and an unknown
# ticket get the very same 404; accept and decline through the page change the ticket as the
# desk's consent does (same states, events, work), with "the customer, via the status page" in
# the timeline and the audit row; a repeat is answered again without a change; a ticket with no
# estimate waiting is 409; the page's own limit per address answers 429 with Retry-After.
#
# Each part sends from its own loopback address (curl --interface), so the page's limit per
# address (5 misses a minute, burst 10) never mixes the parts, nor other tests' requests.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
NAME="Status Page $RUN"
PHONE=1360$(printf '%07d' $((RUN % 10000000)))
LAST4=${PHONE: -4}
WRONG=$(printf '%04d' $(((10#$LAST4 + 1) % 10000)))
NOTE="internal-note-$RUN"

# A fresh loopback source address for each part of the test.
addr() { echo "127.$((RANDOM % 200 + 30)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"; }
ADDR=$(addr)
st_get() { # ticket_no last4
    http GET "/v1/status/$1?phone_last4=$2" "" "" --interface "$ADDR"
}
st_post() { # ticket_no last4 decision
    http POST "/v1/status/$1/estimate" "" "{\"phone_last4\":\"$2\",\"decision\":\"$3\"}" \
        --interface "$ADDR"
}

open_ticket() { # misuse (true: paid repair) -> HTTP_BODY
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" --arg ph "$PHONE" \
        --arg name "$NAME" --arg inv "$(days_ago 100)" --argjson misuse "$1" '{
      customer: {name: $name, phone: $ph},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, flags: {misuse: $misuse}, request: "repair"}')"
}
ticket_state() { q intake "SELECT state FROM tickets WHERE id = '$1'"; }
decided() { # id
    t_poll "warranty decides $1" 1 \
        q intake "SELECT count(*) FROM tickets WHERE id = '$1' AND state <> 'received'"
}
estimate() { # id
    http POST "/v1/tickets/$1/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"LIQUID\",
        \"estimate_cents\":58000,\"labour_code\":\"L-BOARD\",
        \"parts\":[{\"sku\":\"HX10-SCREEN\",\"qty\":1}],\"note\":\"$NOTE\",
        \"promised_date\":\"$(TZ=Asia/Shanghai date -d '+3 days' +%F)\"}"
}

# --- a paid repair waiting for the customer's consent ---
open_ticket true
t_status "the desk opens a paid repair" 201
T1=$(jbody .id)
decided "$T1"
estimate "$T1"
t_jq "the ticket waits for the customer's consent" .state estimate_pending

st_get "$T1" "$LAST4"
t_status "the ticket number and the last four digits show the ticket" 200
t_jq "the state" .state estimate_pending
t_jq "the state in Chinese and English" '(.state_words.zh_cn | length > 0) and (.state_words.en | test("estimate"))' true
t_jq "the estimate waiting for consent" .estimate.amount_cents 58000
t_jq "with its lines" '.estimate.lines | map(.sku + " x" + (.qty|tostring)) | join(",")' "HX10-SCREEN x1"
t_jq "the promised date" .promised_date "$(TZ=Asia/Shanghai date -d '+3 days' +%F)"
t_jq "the steps done, with dates, in order" '[.steps[] | select(.at != null) | .step][0:3] | join(",")' \
    "opened,warranty_decided,diagnosed"
t_jq "the centre's name" '.center_name | length > 0' true
t_jq "the device" .device "Huaxin HX-10"
for secret in "$NAME" "$PHONE" "${PHONE:0:7}" "$NOTE" customer_phone '"customer"' actor; do
    case $HTTP_BODY in
    *"$secret"*) t_fail "the answer carries no personal data or notes ($secret)" "$HTTP_BODY" ;;
    *) t_ok "the answer carries no personal data or notes ($secret)" ;;
    esac
done

# --- no enumeration: a wrong phone and an unknown ticket are the same 404 ---
st_get "$T1" "$WRONG"
t_status "a wrong phone is 404" 404
wrong_body=$HTTP_BODY
st_get "T9$RUN" "$LAST4"
t_status "an unknown ticket is 404" 404
t_eq "both 404 bodies are the same" "$wrong_body" "$HTTP_BODY"
t_jq "the 404 names neither the ticket nor the reason" '.error.message | test("T[0-9]") or test("phone do")' false
st_get "$T1" 12a4
t_status "last four that are not four digits: 400" 400
t_jq "the 400 names the field" '.error.fields | tostring | test("phone_last4")' true
st_post "$T1" "$WRONG" accept
t_status "a decision with a wrong phone is 404" 404
t_eq "and changes nothing" estimate_pending "$(ticket_state "$T1")"
st_post "$T1" "$LAST4" maybe
t_status "a decision other than accept or decline: 400" 400
t_jq "the 400 names the field" '.error.fields | tostring | test("decision")' true

# --- accept through the page: as the desk's consent ---
ADDR=$(addr)
st_post "$T1" "$LAST4" accept
t_status "the customer accepts the estimate on the page" 200
t_jq "the page shows the repair under way" '.state | test("^(in_repair|awaiting_parts)$")' true
t_jq "no estimate waits any more" .estimate null
http GET "/v1/tickets/$T1" "$AS_TOKEN_CENTER"
t_jq "the desk sees the consent" '.work.consent' true
t_jq "the accepted estimate is the cap, as with the desk's consent" .work.consented_estimate_cents 58000
t_jq "the timeline names the customer via the status page" \
    '[.timeline[] | select(.event == "estimate_accepted") | .actor + " / " + .note] | join(";")' \
    "customer:status-page / the customer, via the status page"
t_eq "the audit row names the customer via the status page" "the customer, via the status page" \
    "$(q intake "SELECT principal->>'display_name' FROM audit WHERE entity_id = '$T1' AND action = 'estimate_accepted'")"
st_post "$T1" "$LAST4" accept
t_status "accepting again is answered again" 200
t_eq "without a second consent" 1 \
    "$(q intake "SELECT count(*) FROM ticket_timeline WHERE ticket_id = '$T1' AND event = 'estimate_accepted'")"
before=$(q intake "SELECT state || updated_at FROM tickets WHERE id = '$T1'")
st_post "$T1" "$LAST4" decline
t_status "declining after accepting is 409" 409
t_eq "and changes nothing" "$before" "$(q intake "SELECT state || updated_at FROM tickets WHERE id = '$T1'")"

# --- ready for pickup: the centre's name ---
t_poll "the repair can start" in_repair ticket_state "$T1"
http POST "/v1/tickets/$T1/repair-complete" "$AS_TOKEN_CENTER" '{"labour_minutes":30,"cause":"other"}'
t_status "the repair is completed" 200
st_get "$T1" "$LAST4"
t_jq "the page shows the ticket ready" .state ready
t_jq "with the centre to collect it from" '(.pickup.center_name | length > 0) and (.pickup.since | length > 0)' true
t_jq "the repair step is listed" '[.steps[].step] | index("repair_completed") != null' true

# --- decline through the page: as the desk's consent ---
open_ticket true
T2=$(jbody .id)
decided "$T2"
estimate "$T2"
open_ticket true
T3=$(jbody .id)
decided "$T3"
estimate "$T3"
http POST "/v1/tickets/$T3/consent" "$AS_TOKEN_CENTER" '{"accept":false}'
t_jq "the desk records a decline (the reference)" .state declined
st_post "$T2" "$LAST4" decline
t_status "the customer declines the estimate on the page" 200
t_jq "the page shows the decline" .state declined
t_eq "the ticket ends as the desk's decline does" \
    "$(q intake "SELECT state, work->>'consent', work->>'outcome', closed_at IS NOT NULL FROM tickets WHERE id = '$T3'")" \
    "$(q intake "SELECT state, work->>'consent', work->>'outcome', closed_at IS NOT NULL FROM tickets WHERE id = '$T2'")"
t_poll "the closing event is published as for the desk's decline" 1 \
    q intake "SELECT count(*) FROM outbox WHERE type = 'intake.TicketClosed' AND payload->>'ticket_id' = '$T2' AND payload->>'outcome' = 'declined'"
st_post "$T2" "$LAST4" decline
t_status "declining again is answered again" 200

# --- wrong state ---
ADDR=$(addr)
open_ticket false
T4=$(jbody .id)
decided "$T4"
st_post "$T4" "$LAST4" accept
t_status "no estimate waiting: 409" 409
t_jq "the 409 says so" .error.code illegal_transition
t_eq "and nothing changed" adjudicated "$(ticket_state "$T4")"

# --- the page's own limit per address ---
ADDR=$(addr)
codes=""
for i in $(seq 1 14); do
    st_get "T9$RUN" "$LAST4"
    codes+="$HTTP_STATUS "
    [ "$HTTP_STATUS" = 429 ] && break
done
t_match "guessing from one address meets 429 within the burst of 10" '^(404 ){10}429 $' "$codes"
retry=$(curl -s -o /dev/null -D - --interface "$ADDR" "$AS_GATEWAY_URL/v1/status/$T1?phone_last4=$LAST4" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" {print $2}')
t_match "the 429 says when to retry" '^[0-9]+$' "$retry"
ADDR=$(addr)
st_get "$T1" "$LAST4"
t_status "another address is not limited" 200
codes=""
for i in $(seq 1 12); do
    st_get "$T1" "$LAST4"
    codes+="$HTTP_STATUS "
done
t_eq "only misses count: the customer reads the page twelve times" "$(printf '200 %.0s' $(seq 1 12))" "$codes"

# --- the page ---------------------------------------------------------------------------------
h=$(curl -s -o /dev/null -D - --max-time 10 "$AS_GATEWAY_URL/status" | tr -d '\r')
t_match "/status redirects to /status/" $'\nLocation: /status/\n' "$h"
h=$(curl -s -o /dev/null -D - --max-time 10 "$AS_GATEWAY_URL/status/" | tr -d '\r')
t_match "the page is served as HTML" $'\nContent-Type: text/html; charset=utf-8\n' "$h"
t_match "under the strict Content-Security-Policy" $'\nContent-Security-Policy: default-src \'none\'; script-src \'self\';' "$h"
t_eq "its script is served" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$AS_GATEWAY_URL/status/status.js")"
t_match "nothing outside its directory (400 or 404)" '^40[04]$' \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --path-as-is "$AS_GATEWAY_URL/status/../app.js")"
t_eq "no hidden file" 404 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$AS_GATEWAY_URL/status/.htaccess")"

t_done
