#!/usr/bin/env bash
# Parts: the ledger is the stock. After every kind of operation — receipt, adjustment, transfer
# (request, ship, receive), reservation, release, issue, scrap — every balance equals the sum of
# its movements, reserved units are explained by ticket lines and transfers, and the numbers the
# API shows follow. Movements cannot be changed, balances cannot be written around the ledger,
# stock can never go negative, and every caller sees only the sites in its scope.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# q SQL — run SQL as as_parts; prints the rows (or the error text, with a failing status).
q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
SKU="T$RUN-LEDGER"

# ledger_ok NAME — the SQL proof holds: no balance differs from its ledger.
ledger_ok() {
    local out
    out=$(q "SELECT ledger_ok()")
    if [ "$out" = t ]; then
        t_ok "$1"
    else
        t_fail "$1" "ledger_mismatches():"$'\n'"$(q "SELECT * FROM ledger_mismatches()")"
    fi
}
# qty SITE FIELD — a field of the balance of $SKU at SITE, as the API shows it.
qty() {
    http GET "/v1/parts/stock?site=$1&sku=$SKU" "$AS_TOKEN_WAREHOUSE"
    jbody ".items[0].$2 // 0"
}

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"ledger test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1000,\"list_price_cents\":2000}"
t_status "the warehouse adds a SKU to the catalogue" 201
ledger_ok "the demo stock agrees with its ledger"

# --- receipts ---
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":10,\"note\":\"PO-1\"}"
t_status "the warehouse receives 10 units" 201
t_jq "the receipt is one movement" '.movements[0].kind + "/" + (.movements[0].on_hand_after|tostring)' "receipt/10"
ledger_ok "after a receipt the balance equals the ledger"
t_eq "WH01 holds 10 on hand" 10 "$(qty WH01 on_hand)"

http POST /v1/parts/receipts "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":4}"
t_status "a centre receives goods at its own site" 201
http POST /v1/parts/receipts "$AS_TOKEN_CENTER" "{\"site\":\"GZ01\",\"sku\":\"$SKU\",\"qty\":4}"
t_status "a centre may not receive goods at another centre" 403
t_eq "the refused receipt changed nothing at GZ01" 0 "$(qty GZ01 on_hand)"
ledger_ok "after a centre's receipt the balance equals the ledger"

# --- adjustments ---
http POST /v1/parts/adjustments "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":-3,\"reason\":\"stock count\"}"
t_status "a count correction is posted" 201
t_jq "the correction is an adjustment movement with its reason" '.kind + "/" + .reason' "adjustment/stock count"
t_eq "SH01 now holds 1" 1 "$(qty SH01 on_hand)"
http POST /v1/parts/adjustments "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":-5,\"reason\":\"stock count\"}"
t_status "an adjustment below zero is refused" 409
t_jq "the refusal says the stock is insufficient" .error.code insufficient_stock
t_eq "the refused adjustment changed nothing" 1 "$(qty SH01 on_hand)"
http POST /v1/parts/adjustments "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":2}"
t_status "an adjustment without a reason is refused" 400
ledger_ok "after adjustments the balance equals the ledger"

# --- a transfer: request (allocated at the source), ship, receive ---
http POST /v1/parts/transfers "$AS_TOKEN_CENTER" "{\"from\":\"WH01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":4}]}"
t_status "a centre requests a transfer from the warehouse" 201
t_jq "the warehouse has the stock, so the transfer is allocated" .state allocated
tr=$(jbody .id)
t_eq "the allocation reserves 4 at WH01" "4/6" "$(qty WH01 reserved)/$(qty WH01 available)"
ledger_ok "after an allocation the balance equals the ledger"

http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_CENTER"
t_status "the receiving centre cannot ship the warehouse's transfer" 403
http GET "/v1/parts/transfers/$tr" "$AS_TOKEN_CENTER_B"
t_status "another centre does not see the transfer" 404
http GET "/v1/parts/transfers/$tr" "$AS_TOKEN_REGION"
t_status "the region of the receiving centre sees the transfer" 200
http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse ships the transfer (no body needed)" 200
t_jq "the transfer is shipped" .state shipped
t_eq "shipping takes the units off WH01" "6/0" "$(qty WH01 on_hand)/$(qty WH01 reserved)"
t_eq "the shipped units are inbound at SH01" 4 "$(qty SH01 inbound)"
http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "a transfer ships once" 409
ledger_ok "after shipping the balance equals the ledger"
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER" '{"note":"box intact"}'
t_status "the centre receives the transfer" 200
t_eq "SH01 holds 5 after receiving" "5/0" "$(qty SH01 on_hand)/$(qty SH01 inbound)"
ledger_ok "after receiving the balance equals the ledger"

# --- reservation, release, issue (the event handlers, called as intake's events would) ---
T1="PL$RUN"A
T2="PL$RUN"B
q "SELECT on_parts_requested('{\"ticket_id\":\"$T1\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":2}]}')" >/dev/null
t_eq "a requested line reserves at the centre" "2/3" "$(qty SH01 reserved)/$(qty SH01 available)"
ledger_ok "after a reservation the balance equals the ledger"
q "SELECT on_ticket_cancelled('{\"ticket_id\":\"$T1\",\"center\":\"SH01\",\"region\":\"east\"}')" >/dev/null
t_eq "a cancelled ticket releases its reservation" "0/5" "$(qty SH01 reserved)/$(qty SH01 available)"
ledger_ok "after a release the balance equals the ledger"
q "SELECT on_parts_requested('{\"ticket_id\":\"$T2\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}')" >/dev/null
q "SELECT on_repair_completed('{\"ticket_id\":\"$T2\",\"center\":\"SH01\",\"payer\":\"customer\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}')" >/dev/null
t_eq "a completed repair issues the reserved unit" "4/0" "$(qty SH01 on_hand)/$(qty SH01 reserved)"
ledger_ok "after an issue the balance equals the ledger"

# --- scrap ---
http POST /v1/parts/scrap "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":1,\"defective\":false,\"reason\":\"dropped\"}"
t_status "a damaged good unit is scrapped" 201
t_eq "scrapping takes it off on-hand" 3 "$(qty SH01 on_hand)"
http POST /v1/parts/scrap "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":1,\"reason\":\"claim closed\"}"
t_status "scrapping defective units that are not there is refused" 409
ledger_ok "after scrapping the balance equals the ledger"

# --- the ledger of SH01 tells the whole story, and adds up ---
http GET "/v1/parts/movements?site=SH01&sku=$SKU" "$AS_TOKEN_CENTER"
t_status "a centre reads its own ledger" 200
t_jq "every operation left one movement, in order" '[.movements[].kind] | join(",")' \
    "receipt,adjustment,transfer_in,reserve,release,reserve,issue,scrap"
t_jq "the movements add up to the balance" '[.movements[].on_hand_delta] | add' 3
t_jq "each movement records the balance after it" '.movements[-1].on_hand_after' 3
http GET "/v1/parts/movements?site=SH01&sku=$SKU&limit=3" "$AS_TOKEN_CENTER"
next=$(jbody .next)
http GET "/v1/parts/movements?site=SH01&sku=$SKU&limit=3&after=$next" "$AS_TOKEN_CENTER"
t_jq "the ledger pages with a cursor" '[.movements[].kind] | join(",")' "reserve,release,reserve"

# --- the database itself refuses to bend the ledger ---
out=$(q "UPDATE movements SET qty = 99 WHERE sku = '$SKU'")
t_match "a movement cannot be updated" "permission denied|immutable" "$out"
out=$(q "DELETE FROM movements WHERE sku = '$SKU'")
t_match "a movement cannot be deleted" "permission denied|immutable" "$out"
out=$(q "UPDATE stock SET on_hand = on_hand + 100 WHERE site = 'SH01' AND sku = '$SKU'")
t_match "a balance cannot be changed around the ledger" "ledger_only" "$out"
out=$(q "SELECT mv('SH01', '$SKU', 'adjustment', -50, 0, 0, '{\"reason\":\"x\"}')")
t_match "a movement that would make stock negative is impossible" "insufficient_stock|violates check" "$out"
out=$(q "SELECT mv('SH01', '$SKU', 'receipt', -1, 0, 0, '{}')")
t_match "a movement of the wrong shape is impossible" "movement_shape|violates check" "$out"
out=$(q "SELECT on_hand, reserved, on_hand - reserved >= 0 FROM stock WHERE site = 'SH01' AND sku = '$SKU'")
t_eq "the refusals left the balance alone" "3|0|t" "$out"
ledger_ok "after the refused writes the balance still equals the ledger"
http GET /v1/parts/ledger/check "$AS_TOKEN_WAREHOUSE"
t_jq "the warehouse's ledger check reports no mismatch" '.ok' true
http GET /v1/parts/ledger/check "$AS_TOKEN_CENTER"
t_status "a centre may not run the ledger check" 403

# --- a repair that used the part before the backorder arrived ---
T3="PL$RUN"C
q "SELECT on_parts_requested('{\"ticket_id\":\"$T3\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":5}]}')" >/dev/null
t_eq "a line bigger than the centre's stock is backordered with an allocated transfer" "backordered|allocated|5" \
    "$(q "SELECT r.state || '|' || t.state || '|' || (SELECT reserved FROM stock WHERE site = 'WH01' AND sku = '$SKU') FROM reservations r JOIN transfers t ON t.id = r.transfer_id WHERE r.ticket_id = '$T3'")"
q "SELECT on_repair_completed('{\"ticket_id\":\"$T3\",\"center\":\"SH01\",\"payer\":\"customer\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}')" >/dev/null
t_eq "used from free stock, the line is issued and its transfer called off" "issued|1|cancelled|0|2" \
    "$(q "SELECT r.state || '|' || r.issued_qty || '|' || t.state || '|' || (SELECT reserved FROM stock WHERE site = 'WH01' AND sku = '$SKU') || '|' || (SELECT on_hand FROM stock WHERE site = 'SH01' AND sku = '$SKU') FROM reservations r JOIN transfers t ON t.id = r.transfer_id WHERE r.ticket_id = '$T3'")"
ledger_ok "after an unreserved issue and a called-off transfer the ledger holds"

# --- scope: who sees which site ---
# vans_of CENTER... — those centres' vans as jq strings ("V1","V2"), for the scope checks below
vans_of() {
    local list
    list=$(printf "'%s'," "$@")
    q parts "SELECT coalesce(string_agg('\"' || code || '\"', ','), '\"-\"') FROM sites WHERE kind = 'van' AND center IN (${list%,})"
}
http GET "/v1/parts/stock?site=GZ01" "$AS_TOKEN_CENTER"
t_status "a centre asking for another centre's stock is refused (403)" 403
http GET "/v1/parts/stock" "$AS_TOKEN_CENTER"
# (a centre's technicians' vans are its sites too: docs/onsite.md "Van stock")
t_jq "a centre's stock list holds its own sites only" \
    "[.items[].site] | unique | . - [\"SH01\", $(vans_of SH01)] | join(\",\")" ''
t_jq "... with its own site's stock in it" '[.items[].site] | index("SH01") != null' true
http GET "/v1/parts/stock" "$AS_TOKEN_REGION"
t_jq "a region's stock list holds its region's centres only" \
    "[.items[].site] | unique | . - [\"SH01\", \"SH02\", $(vans_of SH01 SH02)] | join(\",\")" ''
t_jq "... with both centres' stock in it" '[.items[].site] | (index("SH01") != null) and (index("SH02") != null)' true
http GET "/v1/parts/stock?site=WH01" "$AS_TOKEN_REGION"
t_status "a region does not see the warehouse" 403
http POST /v1/parts/adjustments "$AS_TOKEN_REGION" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":1,\"reason\":\"x\"}"
t_status "a region reads but does not change stock" 403
http GET "/v1/parts/movements?site=WH01" "$AS_TOKEN_CENTER"
t_status "a centre may not read the warehouse's ledger" 403
http GET "/v1/parts/stock" "$AS_TOKEN_FINANCE"
t_status "finance has no stock route" 403
http GET "/v1/parts/stock?site=WH01&sku=$SKU" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse reads every site" 200
t_done
