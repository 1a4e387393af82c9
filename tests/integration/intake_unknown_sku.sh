#!/usr/bin/env bash
# Reference data checked at the door (issue 14.14): a SKU the parts catalogue does not have is
# refused by intake at once — 422 unknown_sku naming the field and pointing to the catalogue
# (GET /v1/parts/skus) — in a diagnosis, a parts request and the parts a repair used, and the
# ticket is unchanged. Intake does not ask parts: it keeps its own copy of the catalogue from
# parts.SkuChanged, which parts publishes for every catalogue change, through the route or SQL.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
SKU="US$RUN-BOARD"
SQL_SKU="US$RUN-GLUE"
BAD="US$RUN-NOPE"

ticket_field() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER"; jbody "$2"; }
known() { q intake "SELECT count(*) FROM part_skus WHERE sku = '$1'"; }

# --- intake's copy of the catalogue ---
t_eq "intake knows the demo catalogue" 1 "$(known HX10-SCREEN)"
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"main board\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":10000,\"list_price_cents\":20000}"
t_status "the warehouse lists a new SKU" 201
t_poll "intake's copy has the SKU listed through the API" 1 known "$SKU"
t_match "parts announced it as parts.SkuChanged" '^[1-9]' \
    "$(q parts "SELECT count(*) FROM outbox WHERE type = 'parts.SkuChanged' AND payload->>'sku' = '$SKU'")"
q parts "INSERT INTO skus(sku, name, brand, unit_cost_cents, list_price_cents) VALUES ('$SQL_SKU', 'glue', 'Huaxin', 100, 300)" >/dev/null
t_poll "a SKU inserted by SQL reaches intake's copy too" 1 known "$SQL_SKU"
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"main board\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":10000,\"list_price_cents\":20000,\"active\":false}"
t_status "the SKU is retired" 200
t_poll "intake's copy follows the change" false q intake "SELECT active::text FROM part_skus WHERE sku = '$SKU'"
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"main board\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":10000,\"list_price_cents\":20000}"
t_poll "and back" true q intake "SELECT active::text FROM part_skus WHERE sku = '$SKU'"
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":2}"
t_status "fixture: SH01 receives 2 boards" 201

# --- a covered repair ---
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" --arg inv "$(days_ago 40)" '{
  customer: {name: "Sku Check", phone: "13500007777"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
t_status "a warranty repair is opened" 201
T=$(jbody .id)
t_poll "the ticket is adjudicated" adjudicated ticket_field "$T" .state
before=$(ticket_field "$T" .updated_at)

http POST "/v1/tickets/$T/diagnosis" "$AS_TOKEN_CENTER" \
    "{\"fault_code\":\"NO_POWER\",\"parts\":[{\"sku\":\"$SKU\",\"qty\":1},{\"sku\":\"$BAD\",\"qty\":1}]}"
t_status "a diagnosis naming an unknown SKU is refused" 422
t_jq "the code is unknown_sku" .error.code unknown_sku
t_jq "the message names the field and the SKU" ".error.message | startswith(\"parts[1].sku: $BAD is not in the parts catalogue\")" true
t_jq "the message points to the allowed values" '.error.message | test("GET /v1/parts/skus")' true
http GET "/v1/tickets/$T" "$AS_TOKEN_CENTER"
t_jq "the ticket is unchanged" '[.state, .updated_at, (.work == null)] | map(tostring) | join(" ")' \
    "adjudicated $before true"
t_eq "nothing was requested from parts" 0 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.PartsRequested' AND payload->>'ticket_id' = '$T'")"
http GET "/v1/parts/skus?q=$RUN" "$AS_TOKEN_CENTER"
t_jq "the desk reads the allowed values where the message points" \
    "[.skus[].sku] | sort | join(\",\")" "$(printf '%s\n' "$SKU" "$SQL_SKU" | sort | paste -sd,)"

http POST "/v1/tickets/$T/diagnosis" "$AS_TOKEN_CENTER" \
    "{\"fault_code\":\"NO_POWER\",\"parts\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "a diagnosis naming a known SKU is accepted" 200
t_jq "its part is requested" '.state + " " + ([.work.requested[].sku] | join(","))' "awaiting_parts $SKU"

http POST "/v1/tickets/$T/parts-requests" "$AS_TOKEN_CENTER" "{\"parts\":[{\"sku\":\"$BAD\",\"qty\":2}]}"
t_status "a parts request naming an unknown SKU is refused" 422
t_jq "naming parts[0].sku" '.error.code + " " + (.error.message | split(":")[0])' "unknown_sku parts[0].sku"
t_poll "the board is reserved and the repair goes on" "in_repair reserved" \
    ticket_field "$T" '.state + " " + ([.work.requested[].status] | join(","))'
t_eq "the ticket still has one part line" 1 "$(ticket_field "$T" '.work.requested | length')"

http POST "/v1/tickets/$T/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1},{\"sku\":\"$BAD\",\"qty\":1}],\"labour_minutes\":20,\"cause\":\"manufacturing_quality\"}"
t_status "a repair reporting an unknown SKU used is refused" 422
t_jq "naming parts_used[1].sku" '.error.code + " " + (.error.message | split(":")[0])' "unknown_sku parts_used[1].sku"
t_eq "the ticket is still in repair" in_repair "$(ticket_field "$T" .state)"
http POST "/v1/tickets/$T/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}],\"labour_minutes\":20,\"cause\":\"manufacturing_quality\"}"
t_status "with known SKUs the repair is completed" 200
t_poll "the board is issued" issued ticket_field "$T" '[.work.requested[].status] | join(",")'

t_done
