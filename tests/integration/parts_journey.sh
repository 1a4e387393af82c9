#!/usr/bin/env bash
# Parts, end to end through intake: a warranty phone repair at SH01 needs a part SH01 does not
# have. The line is backordered and a transfer from WH01 allocated; the customer gets a loaner;
# the warehouse ships, the centre receives, the line is reserved and the ticket goes back to
# repair; the repair issues the part and owes the defective one back; the warehouse receives it
# and DefectiveReturnRecorded goes out for the manufacturer claim.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
SKU="T$RUN-SCREEN"

# wait_for NAME EXPECTED SQL — poll SQL (up to 10 s) until it prints EXPECTED; assert it.
wait_for() { t_poll "$1" "$2" q "$3"; }

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"HX-10 screen (journey)\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":52000,\"list_price_cents\":89900,\"defective_return_required\":true}"
t_status "the warehouse lists a screen that must come back when replaced" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":3}"

http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_json '.customer.phone = "13900007777"' \
    '.fault = {code: "NO_DISPLAY", description: "screen stays black", listed: true}')"
t_status "SH01 opens a warranty repair" 201
id=$(jbody .id)
wait_state "$id" adjudicated
http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"NO_DISPLAY\",\"parts\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_status "the diagnosis names the screen" 200
t_jq "covered work waits for the part the diagnosis requested" .state awaiting_parts

wait_for "SH01 has no screen: the line is backordered" "1|backordered" \
    "SELECT line_no || '|' || state FROM reservations WHERE ticket_id = '$id'"
tr=$(q "SELECT id FROM transfers WHERE ticket_id = '$id'")
http GET "/v1/parts/transfers/$tr" "$AS_TOKEN_CENTER"
t_jq "a transfer from the warehouse is allocated for it" '"\(.from)->\(.to) \(.state) \(.origin)"' "WH01->SH01 allocated backorder"
wait_state "$id" awaiting_parts
t_jq "intake shows the line backordered" '.work.requested[0].status' backordered

serial="LN-J$RUN"
http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$serial\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
http POST "/v1/parts/loaners/$serial/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$id\",\"customer\":\"Zhao Min\",\"phone\":\"13900007777\"}"
t_status "the customer gets a loaner phone while waiting" 200

http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse ships the screen" 200
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER"
t_status "SH01 receives it" 200
wait_for "the arrival fills the backorder" reserved "SELECT state FROM reservations WHERE ticket_id = '$id'"
wait_state "$id" in_repair
t_jq "every line reserved: intake puts the ticket back in repair" .state in_repair

http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU\",\"qty\":1}],\"labour_minutes\":40,\"cause\":\"manufacturing_quality\"}"
t_note "intake answered the completion with HTTP $HTTP_STATUS"
wait_for "the repair issues the reserved screen" "issued|1" \
    "SELECT state || '|' || issued_qty FROM reservations WHERE ticket_id = '$id'"
t_eq "PartsIssued is published" 1 \
    "$(q "SELECT count(*) FROM outbox WHERE type = 'parts.PartsIssued' AND payload->>'ticket_id' = '$id'")"
t_eq "SH01's screen left the stock" "0|0" "$(q "SELECT on_hand || '|' || reserved FROM stock WHERE site = 'SH01' AND sku = '$SKU'")"
wait_for "the replaced screen is owed back to the warehouse" "owed|SH01|1" \
    "SELECT status || '|' || site || '|' || line_no FROM defective_returns WHERE ticket_id = '$id'"
http POST "/v1/parts/loaners/$serial/return" "$AS_TOKEN_CENTER"
t_status "the loaner comes back at hand-back" 200

ret=$(q "SELECT id FROM defective_returns WHERE ticket_id = '$id'")
http POST "/v1/parts/returns/$ret/receive" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse receives the defective screen" 200
t_eq "settlement is told, naming the ticket line" "$id|$SKU|1|1" \
    "$(q "SELECT concat_ws('|', payload->>'ticket_id', payload->>'sku', payload->>'qty', payload->>'line_no')
          FROM outbox WHERE type = 'parts.DefectiveReturnRecorded' AND payload->>'return_id' = '$ret'")"
t_eq "the ledger holds at the end of the journey" t "$(q "SELECT ledger_ok()")"
http GET "/v1/parts/movements?ticket_id=$id" "$AS_TOKEN_WAREHOUSE"
t_jq "the ledger tells the journey" '[.movements[] | "\(.site):\(.kind)"] | join(",")' \
    "WH01:reserve,WH01:transfer_out,SH01:transfer_in,SH01:reserve,SH01:issue,WH01:defective_return"
t_done
