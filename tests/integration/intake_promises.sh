#!/usr/bin/env bash
# Intake keeps the promises of its docs (issue 14):
#  - a ticket's part lines follow the parts ledger: reserved -> issued when the repair draws the
#    part, released when it is not used or the ticket ends without a repair;
#  - "return unrepaired" is a way out of every open state before the repair is done (here from
#    awaiting_parts and in_repair): lines released, nothing charged, callback scheduled;
#  - a diagnosis that names parts requests them in the same command (covered: awaiting_parts;
#    paid: held while the customer decides, released when they decline);
#  - hand-back takes the customer's payment method (validated), stores it and carries it in
#    TicketClosed;
#  - the ticket names its satisfaction callback and its complaints; /v1/surveys/due takes
#    ticket_id; a complaint opened for a ticket carries the ticket's customer without retyping;
#  - a device refunded or exchanged before goes to review (rule R-1) at any centre.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

stack=deploy/local/stack.sh
RUN=$RANDOM$RANDOM
SKU="TP$RUN-BOARD"
SKU2="TP$RUN-CABLE"

ticket_field() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER"; jbody "$2"; }
ticket_field_b() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER_B"; jbody "$2"; }
open_ticket() { # request invoice_days_ago [jq]
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" --arg req "$1" \
        --arg inv "$(days_ago "$2")" '{
      customer: {name: "Promise Test", phone: "13500004444"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: $req}' | jq -c "${3:-.}")"
    id=$(jbody .id)
    t_poll "ticket $id is decided" adjudicated ticket_field "$id" .state
}

for s in "$SKU" "$SKU2"; do
    http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
        "{\"sku\":\"$s\",\"name\":\"promise part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":10000,\"list_price_cents\":20000}"
    t_status "fixture: SKU $s is listed" 201
    http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$s\",\"qty\":5}"
    t_status "fixture: SH01 receives 5 of $s" 201
done

# --- 1. part lines follow the ledger: issued, and released when unused ---
open_ticket repair 40
A=$id
http POST "/v1/tickets/$A/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER"}'
t_jq "covered work goes to repair" .state in_repair
http POST "/v1/tickets/$A/parts-requests" "$AS_TOKEN_CENTER" \
    "{\"parts\":[{\"sku\":\"$SKU\",\"qty\":1},{\"sku\":\"$SKU2\",\"qty\":1}]}"
t_status "two parts are requested" 200
t_poll "both lines are reserved and the repair goes on" "in_repair reserved,reserved" \
    ticket_field "$A" '.state + " " + ([.work.requested[].status] | join(","))'
http POST "/v1/tickets/$A/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}],\"labour_minutes\":30,\"cause\":\"manufacturing_quality\"}"
t_status "the repair used the board only" 200
t_poll "the used line is issued, the unused one released (as the parts ledger has them)" \
    "issued,released" ticket_field "$A" '[.work.requested[].status] | join(",")'
t_eq "parts recorded the same" "1|issued 2|released" \
    "$(q parts "SELECT string_agg(line_no || '|' || state, ' ' ORDER BY line_no) FROM reservations WHERE ticket_id = '$A'")"

# --- payment method on hand-back ---
http POST "/v1/tickets/$A/handback" "$AS_TOKEN_CENTER" '{"payment_method":"bitcoin"}'
t_status "an unknown payment method is refused" 400
t_jq "the refusal names the field" '.error.fields[0].field' payment_method
t_jq "the refusal names the allowed values" \
    '.error.message | test("cash, card, wechat_pay, alipay, bank_transfer")' true
t_eq "a refused hand-back changes nothing" ready "$(ticket_field "$A" .state)"
http POST "/v1/tickets/$A/handback" "$AS_TOKEN_CENTER" '{"payment_method":"wechat_pay"}'
t_status "hand-back with a payment method" 200
t_jq "the ticket is closed and stores the payment method" '.state + " " + .work.payment_method' \
    "closed wechat_pay"
t_eq "TicketClosed carries the payment method" wechat_pay \
    "$(q intake "SELECT payload->>'payment_method' FROM outbox WHERE type = 'intake.TicketClosed' AND payload->>'ticket_id' = '$A'")"
t_eq "the lines stay issued/released after the close" "issued,released" \
    "$(ticket_field "$A" '[.work.requested[].status] | join(",")')"

# --- 3. a diagnosis that names parts requests them in the same command ---
open_ticket repair 40
E=$id
http POST "/v1/tickets/$E/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"NO_POWER\",\"parts\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "covered work: the diagnosis names a part" 200
t_jq "the part is requested at once and the ticket waits for it" \
    '.state + " " + (.work.requested | map("\(.line_no):\(.sku):\(.status)") | join(","))' \
    "awaiting_parts 1:$SKU:requested"
t_eq "one PartsRequested went to the parts service" 1 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.PartsRequested' AND payload->>'ticket_id' = '$E'")"
t_poll "parts reserves it and the repair goes on" "in_repair reserved" \
    ticket_field "$E" '.state + " " + ([.work.requested[].status] | join(","))'

open_ticket repair 100 '.flags = {misuse: true}'
F=$id
http POST "/v1/tickets/$F/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"LIQUID\",\"estimate_cents\":30000,\"parts\":[{\"sku\":\"$SKU2\",\"qty\":1}]}"
t_jq "paid work: the estimate waits for consent, the part is requested already" \
    '.state + " " + (.work.requested | map(.status) | join(","))' "estimate_pending requested"
t_poll "the part is held while the customer decides" "estimate_pending reserved" \
    ticket_field "$F" '.state + " " + ([.work.requested[].status] | join(","))'
http POST "/v1/tickets/$F/consent" "$AS_TOKEN_CENTER" '{"accept":false}'
t_jq "a declined estimate ends the ticket" .state declined
t_poll "and gives the held part back" "released" ticket_field "$F" '[.work.requested[].status] | join(",")'

open_ticket repair 100 '.flags = {misuse: true}'
G=$id
http POST "/v1/tickets/$G/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"LIQUID\",\"estimate_cents\":30000,\"parts\":[{\"sku\":\"$SKU2\",\"qty\":1}]}"
t_poll "fixture: the part is reserved before consent" "reserved" ticket_field "$G" '[.work.requested[].status] | join(",")'
http POST "/v1/tickets/$G/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "consent with every part reserved starts the repair" .state in_repair

# --- 2. return unrepaired from awaiting_parts: a line backordered ---
open_ticket repair 40
B=$id
http POST "/v1/tickets/$B/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER"}'
http POST "/v1/tickets/$B/parts-requests" "$AS_TOKEN_CENTER" \
    "{\"parts\":[{\"sku\":\"$SKU\",\"qty\":1},{\"sku\":\"$SKU2\",\"qty\":50}]}"
t_poll "one line reserved, the other backordered" "awaiting_parts reserved,backordered" \
    ticket_field "$B" '.state + " " + ([.work.requested[].status] | join(","))'
http POST "/v1/tickets/$B/return-unrepaired" "$AS_TOKEN_CENTER" '{}'
t_status "return unrepaired needs a reason" 400
http POST "/v1/tickets/$B/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"the customer will not wait"}'
t_status "a ticket awaiting parts goes back unrepaired" 200
t_jq "the ticket is returned" '.state + " " + .work.outcome' "returned returned_unrepaired"
t_poll "both lines are released" "released,released" \
    ticket_field "$B" '[.work.requested[].status] | join(",")'
t_eq "parts holds nothing for the ticket any more" "0" \
    "$(q parts "SELECT count(*) FROM reservations WHERE ticket_id = '$B' AND state IN ('reserved', 'backordered')")"
t_poll "the satisfaction callback is scheduled" 1 \
    q surveys "SELECT count(*) FROM callbacks WHERE ticket_id = '$B'"
t_poll "settlement closes it with no charge" "declined|0" \
    q settlement "SELECT closed_outcome || '|' || coalesce(customer_cents, 0) FROM charge_sets WHERE ticket_id = '$B'"
http POST "/v1/tickets/$B/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"again"}'
t_status "a returned ticket cannot be returned again" 409

# --- return unrepaired from in_repair, paid work after consent: nothing is charged ---
open_ticket repair 100 '.flags = {misuse: true}'
C=$id
http POST "/v1/tickets/$C/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","estimate_cents":30000}'
http POST "/v1/tickets/$C/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "the paid repair is under way" .state in_repair
http POST "/v1/tickets/$C/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"the board cannot be repaired"}'
t_status "a ticket in repair goes back unrepaired" 200
t_jq "it is returned" .state returned
t_poll "the callback is scheduled" 1 q surveys "SELECT count(*) FROM callbacks WHERE ticket_id = '$C'"
t_poll "nothing is charged to the customer" "declined|0" \
    q settlement "SELECT closed_outcome || '|' || coalesce(customer_cents, 0) FROM charge_sets WHERE ticket_id = '$C'"

# --- a repaired ticket is handed back, not returned unrepaired ---
http POST "/v1/tickets/$A/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"x"}'
t_status "a closed ticket cannot be returned unrepaired" 409

# --- the ticket names its callback; the due list filters by ticket ---
t_poll "the closed ticket names its satisfaction callback" \
    "$(q surveys "SELECT id FROM callbacks WHERE ticket_id = '$A'")" ticket_field "$A" '.callback_id // ""'
cb=$(ticket_field "$A" .callback_id)
t_match "the callback id looks like one" '^CB[0-9]+$' "$cb"
http GET "/v1/surveys/due?ticket_id=$A&date=$(TZ=Asia/Shanghai date -d '+10 days' +%F)" "$AS_TOKEN_CENTER"
t_status "the due list accepts ticket_id" 200
t_jq "it lists exactly that ticket's callback" '[.callbacks[] | .ticket_id + "/" + .id] | join(",")' "$A/$cb"
http GET "/v1/surveys/due?ticket_id=T-NONE-$RUN&date=$(TZ=Asia/Shanghai date -d '+10 days' +%F)" "$AS_TOKEN_CENTER"
t_jq "another ticket id lists nothing" '.callbacks | length' 0

# --- a complaint for an open ticket: the ticket's customer comes along, the ticket lists it ---
open_ticket repair 40
D=$id
sleep 0.3
http POST /v1/complaints "$AS_TOKEN_CENTER" \
    "{\"channel\":\"walk_in\",\"cause\":\"other\",\"description\":\"waited too long\",\"ticket_id\":\"$D\"}"
t_status "a complaint is opened for an open ticket without retyping the customer" 201
cid=$(jbody .id)
t_jq "the complaint carries the ticket's customer" '.customer_name + " " + .customer_phone + " " + .center' \
    "Promise Test 13500004444 SH01"
t_poll "the ticket names its complaint" "$cid" ticket_field "$D" '.complaints // [] | join(",")'
http POST /v1/complaints "$AS_TOKEN_CENTER" \
    "{\"channel\":\"phone\",\"cause\":\"other\",\"description\":\"again\",\"ticket_id\":\"$D\",\"customer_name\":\"Promise Spouse\"}"
t_jq "a name typed in the request still wins" .customer_name "Promise Spouse"
cid2=$(jbody .id)
t_poll "the ticket lists both complaints, oldest first" "$cid,$cid2" ticket_field "$D" '.complaints // [] | join(",")'

# --- 4. a device refunded before is not refunded again automatically (rule R-1), any centre ---
imei=$(new_imei)
refund_body() { jq -nc --arg imei "$imei" --arg inv "$(days_ago 3)" '{
      customer: {name: "Promise Test", phone: "13500004444"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "refund"}'; }
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(refund_body)"
R1=$(jbody .id)
t_poll "a day-3 refund is granted" "adjudicated refund" ticket_field "$R1" '.state + " " + .decision.remedy'
http POST "/v1/tickets/$R1/handback" "$AS_TOKEN_CENTER" '{"payment_method":"alipay"}'
t_jq "the device is refunded" .state refunded
http POST /v1/tickets "$AS_TOKEN_CENTER_B" "$(refund_body)"
t_status "the same phone comes to another centre for a refund" 201
R2=$(jbody .id)
t_poll "it waits for a reviewer instead of a second automatic refund" awaiting_review \
    ticket_field_b "$R2" .state
http GET "/v1/tickets/$R2" "$AS_TOKEN_CENTER_B"
t_jq "the decision lists rule R-1" '.decision.rules | index("R-1") != null' true
t_jq "and names the earlier ticket" ".decision.reason | test(\"$R1\")" true
t_eq "the review names the earlier ticket too" 1 \
    "$(q warranty "SELECT count(*) FROM reviews WHERE ticket_id = '$R2' AND array_to_string(reasons, ' ') LIKE '%prior_remedy%$R1%'")"
t_done
