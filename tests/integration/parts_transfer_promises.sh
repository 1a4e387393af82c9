#!/usr/bin/env bash
# Parts: transfers keep their promises. Only the destination (or an admin) confirms a
# transfer's arrival — not the warehouse on a centre's behalf, not the source. An arrival can
# be short or damaged: the missing and damaged units are a discrepancy line of the transfer,
# only the good units enter stock, and the value of the rest leaves "in transit" as a loss.
# Nobody takes another site's stock silently: GZ01 asking SH01 for its last screens waits for
# SH01's approval; a centre's draw that would take the warehouse below its safety level waits
# for the warehouse's approval; the source approves or rejects, and nothing is reserved before.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

qp() { sql parts "$1"; }      # as the parts service, errors shown
qs() { sql settlement "$1"; } # as settlement
RUN=$RANDOM$RANDOM
SKU="T$RUN-TRP"
avail() { qp "SELECT coalesce((SELECT available FROM stock WHERE site = '$1' AND sku = '$SKU'), 0)"; }
value() { qp "SELECT coalesce((SELECT value_cents FROM stock_values WHERE site = '$1' AND sku = '$SKU'), 0)"; }

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"transfer promises part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":2000,\"list_price_cents\":4000}"
t_status "the warehouse adds a SKU costing 20.00" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":20}"
http POST /v1/parts/receipts "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":3}"
t_status "SH01 holds 3 units" 201

# --- 12. only the destination confirms arrival; short and damaged arrivals ---
http POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" "{\"from\":\"WH01\",\"to\":\"GZ01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":5}]}"
t_jq "the warehouse sends 5 to GZ01" .state allocated
tr=$(jbody .id)
http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "the warehouse ships them" 200
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "the warehouse may not confirm the arrival at GZ01" 403
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER" '{}'
t_status "another centre may not see or confirm it" 404
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER_B" "{\"lines\":[{\"sku\":\"$SKU\",\"qty\":4,\"damaged\":2}]}"
t_status "receiving more than was shipped is refused" 422
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER_B" "{\"lines\":[{\"sku\":\"NOPE-$RUN\",\"qty\":1}]}"
t_status "a line the transfer does not carry is refused" 422
t_eq "refused arrivals change nothing" "shipped 0" "$(qp "SELECT state || ' ' || $(avail GZ01) FROM transfers WHERE id = '$tr'")"
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER_B" \
    "{\"note\":\"box crushed\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":3,\"damaged\":1,\"note\":\"one screen cracked, one missing\"}]}"
t_status "GZ01 confirms the arrival: 3 good, 1 damaged, 1 missing" 200
t_jq "the transfer is received by GZ01 with a discrepancy line" \
    '"\(.state) \(.received_by) \(.discrepancies[0].shipped)/\(.discrepancies[0].received)/\(.discrepancies[0].damaged)/\(.discrepancies[0].missing) \(.discrepancies[0].value_cents)"' \
    "received desk.gz01 5/3/1/1 4000"
t_eq "only the good units enter GZ01's stock, at their value" "3 6000" "$(avail GZ01) $(value GZ01)"
t_eq "nothing of the transfer is left in transit" 0 \
    "$(qp "SELECT coalesce(sum(value_cents), 0) FROM transit_values WHERE transfer_id = '$tr'")"
d=$(qp "SELECT id FROM transfer_discrepancies WHERE transfer_id = '$tr'")
for _ in $(seq 1 100); do
    loss=$(qs "SELECT string_agg(l.account || ':' || l.debit_cents || ':' || l.credit_cents, ' ' ORDER BY l.line_no)
               FROM journal_entries e JOIN journal_lines l USING (entry_no) WHERE e.source_key = 'stock-loss:$d'")
    [ -n "$loss" ] && break
    sleep 0.2
done
t_eq "the ledger writes the missing and damaged units off from in transit" "6402:4000:0 1406:0:4000" "$loss"
t_eq "the discrepancy is audited" 1 "$(qp "SELECT count(*) FROM audit WHERE action = 'discrepancy' AND entity_id = '$tr'")"
t_eq "values still equal their movements" "" "$(qp "SELECT string_agg(site || ' ' || problem, '; ') FROM value_mismatches() WHERE sku = '$SKU'")"

# --- 13. another centre's stock: its approval first ---
http POST /v1/parts/transfers "$AS_TOKEN_CENTER_B" "{\"from\":\"SH01\",\"to\":\"GZ01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":3}],\"note\":\"need screens\"}"
t_status "GZ01 asks SH01 for its last three units" 201
t_jq "the request waits for SH01's approval" '"\(.state) \(.approval_site)"' "pending_approval SH01"
tr2=$(jbody .id)
t_eq "nothing is reserved at SH01 meanwhile" 3 "$(avail SH01)"
http POST "/v1/parts/transfers/$tr2/ship" "$AS_TOKEN_CENTER" '{}'
t_status "it cannot be shipped before approval" 409
http POST "/v1/parts/transfers/$tr2/approve" "$AS_TOKEN_CENTER_B" '{}'
t_status "the requester cannot approve it" 403
http POST "/v1/parts/transfers/$tr2/approve" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "the warehouse cannot approve for SH01" 403
http POST "/v1/parts/transfers/$tr2/approve" "$AS_TOKEN_CENTER" '{"note":"ok, we restock tomorrow"}'
t_status "SH01 approves" 200
t_jq "approved, it is allocated at once" '"\(.state) \(.approved_by)"' "allocated desk.sh01"
t_eq "SH01's units are now reserved for it" 0 "$(avail SH01)"
http POST "/v1/parts/transfers/$tr2/approve" "$AS_TOKEN_CENTER" '{}'
t_status "approving twice is 409" 409
t_eq "the approval is audited" 1 "$(qp "SELECT count(*) FROM audit WHERE action = 'approve' AND entity_id = '$tr2'")"

http POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" "{\"from\":\"GZ01\",\"to\":\"WH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_jq "the warehouse pulling from a centre also waits for it" '"\(.state) \(.approval_site)"' "pending_approval GZ01"
tr3=$(jbody .id)
http POST "/v1/parts/transfers/$tr3/reject" "$AS_TOKEN_CENTER_B" '{"reason":"we need them ourselves"}'
t_status "GZ01 rejects it" 200
t_jq "a rejected request is cancelled with its reason" '"\(.state) \(.note | test("we need them ourselves"))"' "cancelled true"

http POST /v1/parts/transfers "$AS_TOKEN_ADMIN" "{\"from\":\"GZ01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":1}]}"
t_jq "an admin's transfer needs no approval" .state allocated
http POST "/v1/parts/transfers/$(jbody .id)/cancel" "$AS_TOKEN_ADMIN" '{"reason":"test"}'

# --- 13. the warehouse's safety level ---
http POST /v1/parts/stock/safety "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"safety_level\":12,\"reorder_point\":14}"
t_status "WH01 keeps a safety level of 12 (15 available)" 200
http POST /v1/parts/transfers "$AS_TOKEN_CENTER" "{\"from\":\"WH01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":3}]}"
t_jq "a centre's draw that keeps WH01 at its level is allocated at once" .state allocated
http POST "/v1/parts/transfers/$(jbody .id)/cancel" "$AS_TOKEN_CENTER" '{"reason":"test"}'
http POST /v1/parts/transfers "$AS_TOKEN_CENTER" "{\"from\":\"WH01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":4}]}"
t_jq "a draw that would take WH01 below its safety level waits for the warehouse" \
    '"\(.state) \(.approval_site) \(.approval_reason | test("below its safety level"))"' "pending_approval WH01 true"
tr4=$(jbody .id)
http POST "/v1/parts/transfers/$tr4/approve" "$AS_TOKEN_CENTER" '{}'
t_status "the requesting centre cannot approve it" 403
http POST "/v1/parts/transfers/$tr4/approve" "$AS_TOKEN_WAREHOUSE" '{}'
t_jq "the warehouse approves and it is allocated" .state allocated
http GET "/v1/parts/transfers?site=WH01&state=pending_approval" "$AS_TOKEN_WAREHOUSE"
t_status "pending transfers can be listed" 200
t_eq "the ledger of stock holds" t "$(qp "SELECT ledger_ok()")"
t_done
