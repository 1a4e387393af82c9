#!/usr/bin/env bash
# Inventory valued in the ledger: every stock movement that changes value — receipt, transfer
# out and in, issue to a repair, adjustment, scrap of good or defective units, defective return
# — is valued at cost (moving average per site x SKU) by parts, published as parts.StockValued,
# and posted by settlement as one balanced entry ("stock:<movement id>"); receipts credit
# supplier payables (2202). Parts' values always equal the sum of their movements' values, and
# once settlement has caught up, account 1405 equals the value of the good stock at all sites,
# 1406 what is in transit and 1407 the defective parts held — never negative.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

qp() { sql parts "$1"; }      # as the parts service, errors shown
qs() { sql settlement "$1"; } # as settlement
RUN=$RANDOM$RANDOM
SKU="T$RUN-VAL"

# entry MOVEMENT_ID — the settlement entry of a movement, as "account:debit:credit ..." (waits
# up to 20 s for settlement to consume the event).
entry() {
    local out="" i
    for ((i = 0; i < 100; i++)); do
        out=$(qs "SELECT string_agg(l.account || ':' || l.debit_cents || ':' || l.credit_cents, ' '
                                    ORDER BY l.line_no)
                  FROM journal_entries e JOIN journal_lines l USING (entry_no)
                  WHERE e.source_key = 'stock:$1'")
        [ -n "$out" ] && break
        sleep 0.2
    done
    printf '%s' "$out"
}
# value SITE — the value of $SKU's good stock at SITE, as parts keeps it.
value() { qp "SELECT coalesce((SELECT value_cents FROM stock_values WHERE site = '$1' AND sku = '$SKU'), 0)"; }
last_mv() { qp "SELECT max(id) FROM movements WHERE sku = '$SKU' AND kind = '$1'"; }

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"valuation test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1000,\"list_price_cents\":2000,\"defective_return_required\":true}"
t_status "the warehouse adds a SKU costing 10.00" 201

# --- receipts at two prices: moving average ---
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":10,\"note\":\"PO 1\"}"
t_status "10 units are received at WH01" 201
m=$(jbody .first_movement_id)
t_eq "the receipt is posted at cost against supplier payables" "1405:10000:0 2202:0:10000" "$(entry "$m")"
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"valuation test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1300,\"list_price_cents\":2000,\"defective_return_required\":true}"
t_status "the purchase price rises to 13.00" 200
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":10,\"note\":\"PO 2\"}"
m=$(jbody .first_movement_id)
t_eq "the second receipt is posted at the new price" "1405:13000:0 2202:0:13000" "$(entry "$m")"
t_eq "WH01 holds 20 units worth 230.00 (average 11.50)" 23000 "$(value WH01)"

# --- a transfer: the value travels at the source's average ---
http POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" "{\"from\":\"WH01\",\"to\":\"SH01\",\"lines\":[{\"sku\":\"$SKU\",\"qty\":4}]}"
t_status "a transfer of 4 to SH01 is requested" 201
tr=$(jbody .id)
http POST "/v1/parts/transfers/$tr/ship" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "the warehouse ships it" 200
t_eq "shipping moves 4 x 11.50 from inventory to in transit" "1406:4600:0 1405:0:4600" "$(entry "$(last_mv transfer_out)")"
t_eq "WH01 keeps 16 units worth 184.00" 18400 "$(value WH01)"
http POST "/v1/parts/transfers/$tr/receive" "$AS_TOKEN_CENTER" '{}'
t_status "SH01 receives it" 200
t_eq "receiving moves the same value back into inventory at SH01" "1405:4600:0 1406:0:4600" "$(entry "$(last_mv transfer_in)")"
t_eq "SH01 holds 4 units worth 46.00" 4600 "$(value SH01)"

# --- adjustment, scrap of good units ---
http POST /v1/parts/adjustments "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":-1,\"reason\":\"count\"}"
t_status "SH01 counts one unit less" 201
t_eq "a negative adjustment is a stock loss at the average" "6402:1150:0 1405:0:1150" "$(entry "$(jbody .id)")"
http POST /v1/parts/adjustments "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"delta\":2,\"reason\":\"found\"}"
t_eq "a positive adjustment is a stock gain at the average" "1405:2300:0 6402:0:2300" "$(entry "$(jbody .id)")"
http POST /v1/parts/scrap "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":3,\"reason\":\"water damage\",\"defective\":false}"
t_status "the warehouse scraps 3 good units" 201
t_eq "scrapping good units writes their value off" "6402:3450:0 1405:0:3450" "$(entry "$(jbody .id)")"

# --- issue to a repair (under warranty), then the defective part comes back and is scrapped ---
T1="TV$RUN"
qp "SELECT on_parts_requested('{\"ticket_id\":\"$T1\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":2}]}')" >/dev/null
qp "SELECT on_repair_completed('{\"ticket_id\":\"$T1\",\"center\":\"SH01\",\"payer\":\"manufacturer\",\"manufacturer\":\"HUAXIN\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":2}]}')" >/dev/null
t_eq "issuing 2 to a repair posts their cost (6401) out of inventory" "6401:2300:0 1405:0:2300" "$(entry "$(last_mv issue)")"
t_eq "the issue entry names the ticket" "$T1" "$(qs "SELECT ticket_id FROM journal_entries WHERE source_key = 'stock:$(last_mv issue)'")"
rid=$(qp "SELECT id FROM defective_returns WHERE ticket_id = '$T1'")
http POST "/v1/parts/returns/$rid/receive" "$AS_TOKEN_WAREHOUSE" '{}'
t_status "the defective part comes back to the warehouse" 200
t_eq "a defective return is held at its catalogue cost" "1407:2600:0 6402:0:2600" "$(entry "$(last_mv defective_return)")"
http POST /v1/parts/scrap "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":2,\"reason\":\"claim settled\"}"
t_eq "scrapping the defective units writes off what was held" "6402:2600:0 1407:0:2600" "$(entry "$(jbody .id)")"

# --- the last units take the rest of the value: no stock, no value ---
left=$(qp "SELECT available FROM stock WHERE site = 'WH01' AND sku = '$SKU'")
http POST /v1/parts/adjustments "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"delta\":-$left,\"reason\":\"count\"}"
t_status "the warehouse's last $left units are counted out" 201
t_eq "WH01 has no units and no value left" 0 "$(value WH01)"
t_eq "parts' values equal the sum of their movements (value_mismatches is empty)" "" \
    "$(qp "SELECT string_agg(site || '/' || sku || ' ' || problem, '; ') FROM value_mismatches()")"
t_eq "the SKU's entries in 1405 add up to its value at every site" \
    "$(qp "SELECT sum(value_cents) FROM stock_values WHERE sku = '$SKU'")" \
    "$(ids=$(qp "SELECT string_agg(quote_literal('stock:' || id), ',') FROM movements WHERE sku = '$SKU'")
       qs "SELECT sum(l.debit_cents - l.credit_cents) FROM journal_entries e JOIN journal_lines l USING (entry_no)
           WHERE e.source_key IN ($ids) AND l.account = '1405'")"

# --- nothing is posted for movements that change no value; a bad event is set aside ---
rk=$(qp "SELECT string_agg(quote_literal('stock:' || id), ',') FROM movements WHERE sku = '$SKU' AND kind IN ('reserve', 'release')")
t_eq "reservations and releases post nothing" 0 "$(qs "SELECT count(*) FROM journal_entries WHERE source_key IN (${rk:-''})")"
qs "SELECT on_stock_valued('{\"kind\":\"issue\",\"site\":\"SH01\",\"sku\":\"$SKU\",\"value_cents\":5,\"bucket\":\"stock\",\"direction\":1,\"movement_id\":-$RUN}')" >/dev/null
t_eq "an event with no posting rule is rejected, not posted" "1 0" \
    "$(qs "SELECT (SELECT count(*) FROM event_rejects WHERE type = 'parts.StockValued' AND payload->>'movement_id' = '-$RUN')
           || ' ' || (SELECT count(*) FROM journal_entries WHERE source_key = 'stock:-$RUN')")"

# --- the whole ledger: inventory accounts equal the valued stock, never negative ---
acct() { qs "SELECT coalesce(sum(debit_cents - credit_cents), 0) FROM journal_lines WHERE account = '$1'"; }
for ((i = 0; i < 100; i++)); do
    want=$(qp "SELECT stock_cents || ' ' || transit_cents || ' ' || defective_cents FROM valuation_totals()")
    got="$(acct 1405) $(acct 1406) $(acct 1407)"
    [ "$want" = "$got" ] && break
    sleep 0.2
done
t_eq "1405 / 1406 / 1407 equal parts' valued stock, in transit and defective" "$want" "$got"
t_match "1405 is not negative" "^[0-9]+$" "$(acct 1405)"
t_done
