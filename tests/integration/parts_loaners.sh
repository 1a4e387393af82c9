#!/usr/bin/env bash
# Parts: loaner units (备机). A centre lends one of its units to a ticket's customer and takes
# it back; the list says who holds which unit (the phone in full for the unit's own desk, masked
# for others); a unit is with one customer at a time and a ticket holds one unit at a time; other
# centres neither see nor touch the unit. A unit is lent only against an open ticket of its own
# site, and a ticket is not handed back while its customer holds a unit unless the hand-back
# returns it.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
U1="LN-T$RUN-1"
U2="LN-T$RUN-2"
# open_ticket TOKEN — a real ticket (the loaners need one), known to the parts service; sets T_ID.
open_ticket() {
    local i
    http POST /v1/tickets "$1" "$(jq -nc --arg imei "$(new_imei)" --arg inv "$(TZ=Asia/Shanghai date -d '-40 days' +%F)" '{
      customer: {name: "Li Lei", phone: "13912345678"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
    T_ID=$(jbody .id)
    for i in $(seq 1 100); do
        [ "$(q parts "SELECT count(*) FROM intake_tickets WHERE ticket_id = '$T_ID'")" = 1 ] && break
        sleep 0.1
    done
}
open_ticket "$AS_TOKEN_CENTER"
T=$T_ID

http POST /v1/parts/loaners "$AS_TOKEN_CENTER" "{\"serial\":\"$U1\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
t_status "a centre does not register loaner units" 403
for u in "$U1" "$U2"; do
    http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$u\",\"site\":\"SH01\",\"sku\":\"HX-LOANER\",\"model\":\"Huaxin HX-8\"}"
done
t_status "the warehouse registers two loaner units at SH01" 201
http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$U1\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
t_status "a serial is registered once" 409

http GET "/v1/parts/loaners?site=SH01&state=available" "$AS_TOKEN_CENTER"
t_status "the centre lists its available units" 200
t_jq "both new units are available" "[.loaners[] | select(.serial | startswith(\"LN-T$RUN\"))] | length" 2

http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\",\"phone\":\"13912345678\"}"
t_status "the centre lends a unit to a ticket's customer" 200
t_jq "the unit is lent to that ticket and customer" '"\(.state) \(.ticket_id) \(.customer)"' "lent $T Li Lei"
t_jq "the unit's own desk sees the holder's phone (to call them back)" .phone 13912345678
http GET "/v1/parts/loaners?site=SH01&state=lent" "$AS_TOKEN_CENTER"
t_jq "the list says who holds the unit" ".loaners[] | select(.serial == \"$U1\") | \"\\(.ticket_id) \\(.customer) \\(.days_out)\"" "$T Li Lei 0"

http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"X$RUN\",\"customer\":\"Han Meimei\"}"
t_status "a lent unit cannot be lent again" 409
t_jq "the refusal names the holder" ".error.message | test(\"$T\")" true
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\"}"
t_status "a ticket holds one unit at a time" 409
t_jq "the refusal says so" .error.code ticket_has_loaner
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"Y$RUN\"}"
t_status "lending needs the customer" 400

http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER_B" "{\"ticket_id\":\"Z$RUN\",\"customer\":\"Zhang San\"}"
t_status "another centre cannot lend SH01's unit (it does not see it)" 404
http GET /v1/parts/loaners "$AS_TOKEN_CENTER_B"
t_jq "another centre's list holds only its own units" '[.loaners[].site] | unique | join(",")' GZ01
http GET /v1/parts/loaners "$AS_TOKEN_REGION"
t_jq "a region lists its region's units" '[.loaners[].site] | unique | join(",")' "SH01,SH02"
http GET "/v1/parts/loaners?site=SH01" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse lists every site's units" 200

http POST "/v1/parts/loaners/$U1/return" "$AS_TOKEN_CENTER"
t_status "the customer brings the unit back" 200
t_jq "the unit is available again, with no holder" '"\(.state) \(.ticket_id)"' "available null"
http POST "/v1/parts/loaners/$U1/return" "$AS_TOKEN_CENTER" '{}'
t_status "an available unit cannot be returned" 409
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\"}"
t_status "after the return the ticket may hold another unit" 200
http POST "/v1/parts/loaners/$U2/return" "$AS_TOKEN_CENTER" '{"note":"scratched back cover"}'
t_status "and give it back" 200

# --- loaners belong to real, open tickets of the unit's site ---
http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"TNONE$RUN\",\"customer\":\"Nobody\"}"
t_status "an unknown ticket gets no loaner" 422
t_jq "the refusal says why" .error.code unknown_ticket
open_ticket "$AS_TOKEN_CENTER_B"
T_GZ=$T_ID
http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T_GZ\",\"customer\":\"Li Lei\"}"
t_status "another site's ticket gets none of SH01's units" 422
t_jq "the refusal names the sites" '.error.code' wrong_site
open_ticket "$AS_TOKEN_CENTER"
T2=$T_ID
http POST "/v1/tickets/$T2/cancel" "$AS_TOKEN_CENTER" '{"reason":"loaner test"}'
for i in $(seq 1 100); do
    [ "$(q parts "SELECT ended_at IS NOT NULL FROM intake_tickets WHERE ticket_id = '$T2'")" = t ] && break
    sleep 0.1
done
http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T2\",\"customer\":\"Li Lei\"}"
t_status "a closed ticket gets no loaner" 409
t_jq "the refusal says the ticket is closed" .error.code ticket_closed

# --- the desk sees the holder's phone for its own units; the customer defaults to the ticket's ---
open_ticket "$AS_TOKEN_CENTER"
T3=$T_ID
http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T3\",\"customer\":\"Li Lei\",\"phone\":\"13912345678\"}"
t_status "the desk lends a unit for an open ticket of its own" 200
t_jq "the desk sees the holder's phone in full" .phone 13912345678
http GET "/v1/parts/loaners?site=SH01" "$AS_TOKEN_REGION"
t_jq "a region sees it masked" ".loaners[] | select(.serial == \"$U1\") | .phone != \"13912345678\"" true

# --- no hand-back while the customer holds the unit, unless the hand-back returns it ---
for i in $(seq 1 100); do
    http GET "/v1/tickets/$T3" "$AS_TOKEN_CENTER"
    [ "$(jbody .loaner_unit)" = "$U1" ] && [ "$(jbody .state)" = adjudicated ] && break
    sleep 0.1
done
t_jq "the ticket names the unit its customer holds" .loaner_unit "$U1"
http POST "/v1/tickets/$T3/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER"}'
http POST "/v1/tickets/$T3/repair-complete" "$AS_TOKEN_CENTER" '{"labour_minutes":10,"cause":"other"}'
t_jq "fixture: the repair is done" .state ready
http POST "/v1/tickets/$T3/handback" "$AS_TOKEN_CENTER" '{}'
t_status "hand-back while the customer holds a loaner is refused" 409
t_jq "the refusal names the unit" ".error.code + \" \" + (.error.message | test(\"$U1\") | tostring)" "loaner_out true"
http POST "/v1/tickets/$T3/handback" "$AS_TOKEN_CENTER" '{"loaner_unit":"LN-OTHER-1"}'
t_status "returning another unit does not count" 409
http POST "/v1/tickets/$T3/handback" "$AS_TOKEN_CENTER" "{\"loaner_unit\":\"$U1\",\"payment_method\":\"cash\"}"
t_status "the hand-back that returns the unit closes the ticket" 200
t_jq "the ticket is closed and holds no unit" '.state + " " + (.loaner_unit // "none")' "closed none"
for i in $(seq 1 100); do
    [ "$(q parts "SELECT state FROM loaners WHERE serial = '$U1'")" = available ] && break
    sleep 0.1
done
http GET "/v1/parts/loaners?site=SH01" "$AS_TOKEN_CENTER"
t_jq "the unit is back on the shelf" ".loaners[] | select(.serial == \"$U1\") | .state" available
open_ticket "$AS_TOKEN_CENTER"
http POST "/v1/tickets/$T_ID/return-unrepaired" "$AS_TOKEN_CENTER" "{\"reason\":\"x\",\"loaner_unit\":\"$U2\"}"
t_status "a loaner the ticket does not hold is an unknown reference" 422
t_done
