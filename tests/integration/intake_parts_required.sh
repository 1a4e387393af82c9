#!/usr/bin/env bash
# A part used must reach the ledger (issue 14): a repair cannot be completed while a part line
# of its ticket is still requested or backordered — parts would then complete it with no issue
# movement, the part's cost would never reach settlement and the stock count would be wrong.
#  - the race that let it happen: a second line requested before parts' PartsReserved
#    {complete: true} for the first arrived moved the ticket to in_repair with the second line
#    backordered; intake now checks its own lines before the repair goes on;
#  - repair completion is refused (409 parts_not_reserved naming the waiting line) and changes
#    nothing;
#  - once the part arrives and the line is reserved, completion issues every line with a valued
#    issue movement, and settlement's ledger has both parts' cost.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
SKU_A="PR$RUN-FLEX"
SKU_B="PR$RUN-CAM"

ticket_field() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER"; jbody "$2"; }

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU_A\",\"name\":\"flex cable\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":3000,\"list_price_cents\":6000}"
t_status "fixture: SKU $SKU_A is listed" 201
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU_B\",\"name\":\"camera\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":7000,\"list_price_cents\":12000}"
t_status "fixture: SKU $SKU_B is listed (no stock anywhere)" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU_A\",\"qty\":3}"
t_status "fixture: SH01 receives 3 of $SKU_A" 201
t_poll "intake knows both SKUs" 2 \
    q intake "SELECT count(*) FROM part_skus WHERE sku IN ('$SKU_A', '$SKU_B')"

# A covered repair of a phone bought 40 days ago (free repair under 三包).
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" --arg inv "$(days_ago 40)" '{
  customer: {name: "Parts Required", phone: "13500006666"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
t_status "a warranty repair is opened" 201
T=$(jbody .id)
t_poll "the ticket is adjudicated" adjudicated ticket_field "$T" .state

# Parts is held still while the desk diagnoses (line 1, in stock) and asks for a second part at
# once (line 2, none in stock): parts then applies both requests in a row, and its answer for
# line 1 says "complete" — it did not know line 2 yet.
PARTS_PID=$(cat "$AS_VAR/run/parts.pid")
trap 'kill -CONT "$PARTS_PID" 2>/dev/null' EXIT # never leave parts stopped for the next test
kill -STOP "$PARTS_PID"
http POST "/v1/tickets/$T/diagnosis" "$AS_TOKEN_CENTER" \
    "{\"fault_code\":\"NO_POWER\",\"labour_code\":\"L-GENERAL\",\"parts\":[{\"sku\":\"$SKU_A\",\"qty\":1}]}"
t_jq "the diagnosis requests line 1" '.state + " " + ([.work.requested[].status] | join(","))' \
    "awaiting_parts requested"
http POST "/v1/tickets/$T/parts-requests" "$AS_TOKEN_CENTER" "{\"parts\":[{\"sku\":\"$SKU_B\",\"qty\":1}]}"
t_jq "a second part is requested (line 2)" '[.work.requested[].status] | join(",")' "requested,requested"
kill -CONT "$PARTS_PID"
t_poll "parts reserves line 1 and backorders line 2" "reserved,backordered" \
    ticket_field "$T" '[.work.requested[].status] | join(",")'
sleep 0.5 # any further event of parts for the ticket has arrived by now
t_eq "the ticket still waits for its parts (line 2 is not reserved)" awaiting_parts "$(ticket_field "$T" .state)"

# Completion is refused while a line waits, and changes nothing.
http POST "/v1/tickets/$T/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU_A\",\"qty\":1},{\"sku\":\"$SKU_B\",\"qty\":1}],\"labour_minutes\":30,\"cause\":\"manufacturing_quality\"}"
t_status "repair completion is refused while a part line waits" 409
t_jq "the refusal's code" .error.code parts_not_reserved
t_jq "the refusal names the waiting line, its SKU and status" \
    ".error.message | test(\"line 2 \\\\($SKU_B x1, backordered\\\\)\")" true
t_jq "the refusal does not name the reserved line" ".error.message | test(\"line 1 \")" false
http GET "/v1/tickets/$T" "$AS_TOKEN_CENTER"
t_jq "the ticket is unchanged (state, no parts_used, no completion in its timeline)" \
    '[.state, ((.work.parts_used // []) | length == 0), ([.timeline[].event] | index("repair_completed") == null)] | map(tostring) | join(" ")' \
    "awaiting_parts true true"
t_eq "parts issued nothing for the ticket" 0 \
    "$(q parts "SELECT count(*) FROM movements WHERE ticket_id = '$T' AND kind = 'issue'")"
t_eq "no RepairCompleted was published for the ticket" 0 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.RepairCompleted' AND payload->>'ticket_id' = '$T'")"

# The part arrives at the centre: line 2 is reserved, the repair goes on.
http POST /v1/parts/receipts "$AS_TOKEN_ADMIN" "{\"site\":\"SH01\",\"sku\":\"$SKU_B\",\"qty\":1}"
t_status "SH01 receives the camera" 201
t_poll "line 2 is reserved and the ticket goes back to repair" "in_repair reserved,reserved" \
    ticket_field "$T" '.state + " " + ([.work.requested[].status] | join(","))'
http POST "/v1/tickets/$T/repair-complete" "$AS_TOKEN_CENTER" \
    "{\"parts_used\":[{\"sku\":\"$SKU_A\",\"qty\":1},{\"sku\":\"$SKU_B\",\"qty\":1}],\"labour_minutes\":30,\"cause\":\"manufacturing_quality\"}"
t_status "with every line reserved the repair is completed" 200
t_jq "each part used is matched to its line" '[.work.parts_used[].line_no] | map(tostring) | join(",")' "1,2"
t_poll "both lines are issued (the ticket follows the parts ledger)" "issued,issued" \
    ticket_field "$T" '[.work.requested[].status] | join(",")'
t_eq "parts issued both lines from SH01 with an issue movement each" "1|$SKU_A|-1 2|$SKU_B|-1" \
    "$(q parts "SELECT string_agg(line_no || '|' || sku || '|' || d_on_hand, ' ' ORDER BY line_no)
                FROM movements WHERE ticket_id = '$T' AND kind = 'issue'")"

# The ledger has both parts' cost: one valued issue entry per line, at cost, balanced.
stock_entries() {
    q settlement "SELECT count(*) FROM journal_entries WHERE ticket_id = '$T' AND kind = 'stock'"
}
t_poll "settlement booked a stock entry for each part issued" 2 stock_entries
t_eq "the parts' cost left inventory (1405) at cost: 3000 + 7000" 10000 \
    "$(q settlement "SELECT sum(l.credit_cents) - sum(l.debit_cents) FROM journal_lines l
                     JOIN journal_entries e USING (entry_no)
                     WHERE e.ticket_id = '$T' AND e.kind = 'stock' AND l.account = '1405'")"
t_eq "the ticket's entries are balanced" 0 \
    "$(q settlement "SELECT sum(l.debit_cents) - sum(l.credit_cents) FROM journal_lines l
                     JOIN journal_entries e USING (entry_no) WHERE e.ticket_id = '$T'")"
wait_http "/v1/settlement/charges/$T" "$AS_TOKEN_FINANCE" '[.lines[] | select(.kind == "part") | .code] | sort | join(",")' \
    "$(printf '%s\n' "$SKU_A" "$SKU_B" | sort | paste -sd,)"
t_jq "the charge set has both parts" '[.lines[] | select(.kind == "part") | .code] | sort | join(",")' \
    "$(printf '%s\n' "$SKU_A" "$SKU_B" | sort | paste -sd,)"

t_done
