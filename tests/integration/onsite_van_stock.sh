#!/usr/bin/env bash
# On-site service: parts used come from the technician's van (issue 19.3, docs/onsite.md "Van
# stock"). A van is a parts site of kind van, owned by a centre and assigned to one technician;
# the warehouse ships stock to it like to any site and the centre receives it. The check-out's
# parts used are issued from the van (valued at cost, booked 6401 / 1405 like a workshop issue),
# once per order; a van short of a part is 409 and nothing changes — neither the van's stock nor
# the order; a technician without a van cannot check out parts.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
VAN=VAN${RUN:0:8}
T1=tech.van.$RUN
T2=tech.novan.$RUN
SKU=HX10-SCREEN
day=$(TZ=Asia/Shanghai date -d '+1 days' +%F)
phone="139$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))"

on_hand() { q parts "SELECT coalesce((SELECT on_hand FROM stock WHERE site = '$1' AND sku = '$2'), 0)"; }
issues_of() { q parts "SELECT count(*) FROM movements WHERE ticket_id = '$1' AND kind = 'issue'"; }
order_state() { q intake "SELECT state FROM service_orders WHERE id = '$1'"; }
parts_state() { q parts "SELECT state FROM service_orders WHERE order_id = '$1'"; }

for t in "$T1" "$T2"; do staff_account "$t" SH01 || t_fail "a staff account for $t" "HTTP $HTTP_STATUS $HTTP_BODY"; done
http POST /v1/technicians "$AS_TOKEN_ADMIN" "{\"login\":\"$T1\",\"name\":\"Gao Yun\",\"center\":\"SH01\",\"skills\":[\"phone_host\"]}"
t_status "a technician of SH01" 201
http POST /v1/technicians "$AS_TOKEN_ADMIN" "{\"login\":\"$T2\",\"name\":\"He Ping\",\"center\":\"SH01\",\"skills\":[\"phone_host\"]}"
t_status "another technician, without a van" 201

# --- the van: a site of its centre -------------------------------------------------------------

http POST /v1/parts/vans "$AS_TOKEN_CENTER" "{\"code\":\"$VAN\",\"center\":\"SH01\"}"
t_status "a van needs its technician" 400
t_jq "the refusal names the field" '.error.fields[0].field' technician
http POST /v1/parts/vans "$AS_TOKEN_CENTER" "{\"code\":\"$VAN\",\"center\":\"GZ01\",\"technician\":\"$T1\"}"
t_status "a desk keeps no vans for another centre" 403
http POST /v1/parts/vans "$AS_TOKEN_ADMIN" "{\"code\":\"$VAN\",\"center\":\"XX99\",\"technician\":\"$T1\"}"
t_status "an unknown centre is refused" 422
http POST /v1/parts/vans "$AS_TOKEN_ADMIN" "{\"code\":\"WH01\",\"center\":\"SH01\",\"technician\":\"$T1\"}"
t_status "a van cannot take the warehouse's code" 409
t_eq "no van was made by the refusals" 0 "$(q parts "SELECT count(*) FROM sites WHERE kind = 'van' AND technician = '$T1'")"
http POST /v1/parts/vans "$AS_TOKEN_CENTER" "{\"code\":\"$VAN\",\"name\":\"Van 2\",\"center\":\"SH01\",\"technician\":\"$T1\"}"
t_status "the desk registers its technician's van" 201
t_jq "the van carries its centre's region" '"\(.center)/\(.region)/\(.technician)/\(.active)"' "SH01/east/$T1/true"
http POST /v1/parts/vans "$AS_TOKEN_CENTER" "{\"code\":\"${VAN}B\",\"center\":\"SH01\",\"technician\":\"$T1\"}"
t_status "one active van per technician" 409
t_jq "the refusal says which" '.error.code' technician_has_van
http GET "/v1/parts/vans?technician=$T1" "$AS_TOKEN_CENTER"
t_jq "the desk lists its van" '[.vans[].code] | join(",")' "$VAN"
http GET "/v1/parts/vans?technician=$T1" "$AS_TOKEN_CENTER_B"
t_jq "another centre does not see it" '.vans | length' 0
http GET "/v1/parts/vans?technician=$T1" "$AS_TOKEN_REGION"
t_jq "the region sees it" '.vans | length' 1
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" van list --technician "$T1" 2>&1)
t_match "asctl van list shows it" "$VAN" "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" van save "$VAN" --center SH01 \
    --technician "$T1" --name "Van 2, Xuhui" 2>&1)
t_eq "asctl van save changes the van (the code from its argument)" "Van 2, Xuhui/true" \
    "$(q parts "SELECT name || '/' || active FROM sites WHERE code = '$VAN'")"

# --- stock reaches the van by transfer, like any site ---------------------------------------------

http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":5,\"note\":\"van test $RUN\"}"
t_status "the warehouse receives screens" 201
http POST /v1/parts/transfers "$AS_TOKEN_ADMIN" "{\"from\":\"WH01\",\"to\":\"$VAN\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":2}]}"
t_status "a transfer warehouse -> van" 201
TR=$(jbody .id)
t_jq "allocated at the warehouse" .state allocated
http POST "/v1/parts/transfers/$TR/ship" "$AS_TOKEN_WAREHOUSE" '{}'
t_jq "the warehouse ships it" .state shipped
http POST "/v1/parts/transfers/$TR/receive" "$AS_TOKEN_CENTER_B" '{}'
t_status "another centre cannot receive at the van" 404
http POST "/v1/parts/transfers/$TR/receive" "$AS_TOKEN_CENTER" '{}'
t_jq "the van's centre confirms the arrival" .state received
t_eq "two screens in the van" 2 "$(on_hand "$VAN" "$SKU")"
http GET "/v1/parts/stock?site=$VAN" "$AS_TOKEN_CENTER"
t_jq "the desk reads the van's stock" "[.items[] | select(.sku == \"$SKU\")][0].on_hand" 2

# --- an order on site ------------------------------------------------------------------------------

order_on_site() { # technician -> order id on site
    local id
    http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$phone" --arg d "$day" '{
        customer: {name: "Zhou Min", phone: $p}, address: "9 Fuxing Road, Shanghai",
        category: "phone_host", brand: "Huaxin", model: "HX-10", fault: "cracked screen",
        window_start: ($d + "T01:00:00Z"), window_end: ($d + "T03:00:00Z")}')"
    id=$(jbody .id)
    http POST "/v1/service-orders/$id/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$1\"}"
    http POST "/v1/service-orders/$id/dispatch" "$AS_TOKEN_CENTER" '{}'
    http POST "/v1/service-orders/$id/check-in" "$AS_TOKEN_CENTER" '{}'
    echo "$id"
}
A=$(order_on_site "$T1")
t_eq "order A is on site" on_site "$(order_state "$A")"
t_poll "parts has heard that A is on site" on_site parts_state "$A"

http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":3}]}"
t_status "three screens from a van holding two: 409" 409
t_jq "insufficient stock, naming the van" '"\(.error.code)/\(.error.message | contains("'"$VAN"'"))"' insufficient_stock/true
t_eq "the order is still on site" on_site "$(order_state "$A")"
t_eq "the van still holds two" 2 "$(on_hand "$VAN" "$SKU")"
t_eq "nothing was issued" 0 "$(issues_of "$A")"
t_eq "no work was recorded" "" "$(q intake "SELECT work_done FROM service_orders WHERE id = '$A'")"

http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"NOPE-$RUN\",\"qty\":1}]}"
t_status "a part not in the catalogue: 422" 422
t_eq "still on site" on_site "$(order_state "$A")"
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":0}]}"
t_status "a quantity of 0 is refused" 400
t_jq "naming the field" '.error.fields[0].field' 'parts_used[0].qty'

http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"at\":\"2000-01-01T00:00:00Z\",\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "a check-out intake would refuse (before the check-in) is refused first" 400
t_eq "and issues nothing from the van" "0/2" "$(issues_of "$A")/$(on_hand "$VAN" "$SKU")"
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"validate_only\":true,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "validate_only: the check-out would be taken" 200
t_eq "and nothing is recorded or issued" "on_site/0/2" "$(order_state "$A")/$(issues_of "$A")/$(on_hand "$VAN" "$SKU")"

KEY=checkout-$RUN
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}" \
    -H "Idempotency-Key: $KEY"
t_status "one screen from the van: checked out" 200
t_jq "done, with the part used" '"\(.state)/\(.parts_used[0].sku)/\(.parts_used[0].qty)"' "done/$SKU/1"
t_eq "the van holds one" 1 "$(on_hand "$VAN" "$SKU")"
t_eq "one issue movement at the van for the order" "1/$VAN" \
    "$(q parts "SELECT count(*) || '/' || min(site) FROM movements WHERE ticket_id = '$A' AND kind = 'issue'")"
value=$(q parts "SELECT value_cents FROM order_issues WHERE order_id = '$A'")
t_check "the issue is valued at cost" test "${value:-0}" -gt 0
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}" \
    -H "Idempotency-Key: $KEY"
t_status "the same check-out again answers the same" 200
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":8,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "a second check-out is a wrong state" 409
t_eq "and issues nothing more" "1/1" "$(issues_of "$A")/$(on_hand "$VAN" "$SKU")"

mv=$(q parts "SELECT id FROM movements WHERE ticket_id = '$A' AND kind = 'issue'")
t_poll "the ledger books the issue at cost: Dr 6401 / Cr 1405" "$value/$value" \
    q settlement "SELECT sum(l.debit_cents) FILTER (WHERE l.account = '6401') || '/' || sum(l.credit_cents) FILTER (WHERE l.account = '1405') FROM journal_entries e JOIN journal_lines l USING (entry_no) WHERE e.source_key = 'stock:$mv'"

# --- a technician without a van --------------------------------------------------------------------

B=$(order_on_site "$T2")
t_poll "parts has heard that B is on site" on_site parts_state "$B"
http POST "/v1/service-orders/$B/check-out" "$AS_TOKEN_CENTER" \
    "{\"work_done\":\"screen replaced\",\"distance_km\":5,\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "no van: parts cannot be used" 409
t_jq "the refusal says so" .error.code no_van
t_eq "B is still on site" on_site "$(order_state "$B")"
http POST "/v1/service-orders/$B/check-out" "$AS_TOKEN_CENTER" '{"work_done":"adjusted, no part needed","distance_km":5}'
t_status "without parts the check-out needs no van" 200

http GET /v1/parts/ledger/check "$AS_TOKEN_ADMIN"
t_jq "every balance equals its ledger" .ok true
t_eq "stock values agree with their movements" 0 "$(q parts "SELECT count(*) FROM value_mismatches()")"

t_done
