#!/usr/bin/env bash
# The network as data everywhere: a region and a centre opened through /v1/centers, with no SQL
# and no restart, reach parts, settlement and surveys from the people service's events — the
# new centre receives a stock transfer from the warehouse, its repair is charged, its closed
# ticket gets a satisfaction callback and a complaint can name it (scoped to its region). The
# centre's code has a '-', which the people service allows, so parts' site codes follow it.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
REGION=rn$RUN
CENTER=NW-$RUN
SKU="T$RUN-NET"
ticket() { # request invoice-days-ago
    jq -nc --arg imei "$(new_imei)" --arg c "$CENTER" --arg req "$1" \
        --arg inv "$(TZ=Asia/Shanghai date -d "-$2 days" +%F)" '{
      center: $c, customer: {name: "Sun Li", phone: "13600005555"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_DISPLAY", description: "screen stays black", listed: true}, request: $req}'
}

http POST /v1/regions "$AS_TOKEN_ADMIN" "{\"code\":\"$REGION\",\"name\":\"Network test $RUN\"}"
t_status "a new region through the API" 201
http POST /v1/centers "$AS_TOKEN_ADMIN" "{\"code\":\"$CENTER\",\"name\":\"Network centre $RUN\",\"region\":\"$REGION\"}"
t_status "a new centre in it through the API" 201

# --- parts: the new centre is a site and takes a transfer ---
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"network test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1000,\"list_price_cents\":2000}"
t_status "a SKU for the test" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":10}"
t_status "the warehouse holds 10" 201
until_status 201 POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" \
    "{\"from\":\"WH01\",\"to\":\"$CENTER\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":4}]}"
t_status "the warehouse sends 4 to the new centre" 201
tr=$(jbody .id)
http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "shipped" 200
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_ADMIN" '{}'
t_status "received at the new centre" 200
http GET "/v1/parts/stock?site=$CENTER&sku=$SKU" "$AS_TOKEN_ADMIN"
t_eq "the new centre holds the 4 units" 4 "$(jbody "[.items[]? // .stock[]? | select(.sku == \"$SKU\") | .on_hand] | add")"

# --- settlement: a repair at the new centre is charged ---
until_status 201 POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket repair 40)"
t_status "the new centre opens a warranty repair" 201
W=$(jbody .id)
wait_http "/v1/tickets/$W" "$AS_TOKEN_ADMIN" .state adjudicated
http POST "/v1/tickets/$W/diagnosis" "$AS_TOKEN_ADMIN" '{"fault_code":"NO_DISPLAY","labour_code":"L-GENERAL"}'
t_jq "covered work goes to repair" .state in_repair
http POST "/v1/tickets/$W/repair-complete" "$AS_TOKEN_ADMIN" \
    '{"parts_used":[],"labour_code":"L-GENERAL","labour_minutes":30,"cause":"manufacturing_quality"}'
t_status "the repair is completed" 200
wait_http "/v1/settlement/charges/$W" "$AS_TOKEN_FINANCE" .center "$CENTER"
t_status "settlement charged the new centre's repair" 200
t_jq "in the new region" .region "$REGION"
t_jq "to the manufacturer" .payer manufacturer

# --- surveys: a closed ticket gets its callback; a complaint names the centre ---
until_status 201 POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket refund 3)"
R=$(jbody .id)
wait_http "/v1/tickets/$R" "$AS_TOKEN_ADMIN" .state adjudicated
http POST "/v1/tickets/$R/handback" "$AS_TOKEN_ADMIN" '{}'
t_jq "a refund at the new centre is closed" .state refunded
wait_http "/v1/surveys/due?date=$(days_ahead 4)&center=$CENTER&limit=500" "$AS_TOKEN_ADMIN" \
    "[.callbacks[] | select(.ticket_id == \"$R\")] | length" 1
t_jq "its satisfaction callback is scheduled, in the new region" \
    ".callbacks[] | select(.ticket_id == \"$R\") | .center + \"/\" + .region" "$CENTER/$REGION"
until_status 201 POST /v1/complaints "$AS_TOKEN_ADMIN" "{\"channel\":\"phone\",\"cause\":\"attitude\",
    \"description\":\"network test\",\"center\":\"$CENTER\",\"customer_name\":\"Sun Li\",\"customer_phone\":\"13600005555\"}"
t_status "a complaint about the new centre is accepted" 201
t_jq "it is scoped to the new region" .region "$REGION"

t_done
