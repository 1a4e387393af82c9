#!/usr/bin/env bash
# Parts: safety stock. Falling below the safety level publishes StockBelowSafety once per
# crossing — not on every movement while below — and again only after stock has come back up
# and fallen again. The replenishment list shows the site and SKU with a suggested quantity
# from the documented formula:
#   target = max(reorder_point, safety_level + ceil(consumed_30d x lead_time_days / 30))
#   suggested = max(0, target - (available + inbound - backordered))
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
SKU="T$RUN-SAFE"

# alerts — StockBelowSafety events published for $SKU at SH01.
alerts() {
    q "SELECT count(*) FROM outbox WHERE type = 'parts.StockBelowSafety'
       AND payload->>'sku' = '$SKU' AND payload->>'site' = 'SH01'"
}
adjust() { # DELTA
    http POST /v1/parts/adjustments "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"delta\":$1,\"reason\":\"safety test\"}"
}

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"safety test part\",\"brand\":\"DriveCo\",\"unit_cost_cents\":2800,\"list_price_cents\":5600}"
t_status "a test SKU is added" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":20}"

http POST /v1/parts/stock/safety "$AS_TOKEN_CENTER" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"safety_level\":5}"
t_status "a centre does not set safety stock" 403
http POST /v1/parts/stock/safety "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"safety_level\":5,\"reorder_point\":4}"
t_status "a reorder point below the safety level is refused" 400
http POST /v1/parts/stock/safety "$AS_TOKEN_WAREHOUSE" \
    "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"safety_level\":5,\"reorder_point\":8,\"lead_time_days\":10}"
t_status "the warehouse sets safety level 5, reorder point 8, lead time 10 days" 200
t_jq "the stock line carries the policy" '"\(.safety_level)/\(.reorder_point)/\(.lead_time_days)/\(.below_safety)"' "5/8/10/false"
t_eq "20 available is not a crossing" 0 "$(alerts)"

# Consumption: a repair uses 12 units (reserved, then issued).
q "SELECT on_parts_requested('{\"ticket_id\":\"SF${RUN}A\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":12}]}')" >/dev/null
q "SELECT on_repair_completed('{\"ticket_id\":\"SF${RUN}A\",\"center\":\"SH01\",\"payer\":\"customer\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":12}]}')" >/dev/null
adjust -2
t_eq "at 6 available (above 5) nothing is published" 0 "$(alerts)"

http GET "/v1/parts/replenishment?site=SH01&sku=$SKU" "$AS_TOKEN_CENTER"
t_status "the centre reads its replenishment list" 200
t_jq "below target the SKU is listed with the formula's numbers" \
    '.items[0] | "\(.available)/\(.consumed)/\(.lead_time_demand)/\(.target)/\(.suggested_qty)"' "6/12/4/9/3"

adjust -2
t_eq "falling to 4 (below 5) publishes StockBelowSafety" 1 "$(alerts)"
t_eq "the event carries the numbers" "4|5|8" \
    "$(q "SELECT payload->>'available' || '|' || (payload->>'safety_level') || '|' || (payload->>'reorder_point')
          FROM outbox WHERE type = 'parts.StockBelowSafety' AND payload->>'sku' = '$SKU' ORDER BY seq DESC LIMIT 1")"
adjust -1
t_eq "falling further while below publishes nothing more" 1 "$(alerts)"
q "SELECT on_parts_requested('{\"ticket_id\":\"SF${RUN}B\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}')" >/dev/null
t_eq "a reservation while below publishes nothing more" 1 "$(alerts)"
http GET "/v1/parts/stock?site=SH01&sku=$SKU" "$AS_TOKEN_CENTER"
t_jq "the stock line says it is below safety" '.items[0].below_safety' true

http GET "/v1/parts/replenishment?site=SH01" "$AS_TOKEN_WAREHOUSE"
t_jq "below safety, the replenishment list suggests 7 (target 9 - available 2)" \
    ".items[] | select(.sku == \"$SKU\") | \"\\(.below_safety)/\\(.available)/\\(.suggested_qty)\"" "true/2/7"
http GET "/v1/parts/replenishment" "$AS_TOKEN_CENTER_B"
t_jq "another centre's list does not show SH01" "[.items[] | select(.site != \"GZ01\")] | length" 0

http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":10}"
t_eq "coming back above the level publishes nothing" 1 "$(alerts)"
http GET "/v1/parts/stock?site=SH01&sku=$SKU" "$AS_TOKEN_CENTER"
t_jq "and re-arms the alarm" '.items[0] | "\(.available)/\(.below_safety)"' "12/false"
adjust -8
t_eq "falling below again is a new crossing: published again" 2 "$(alerts)"
t_eq "the ledger holds" t "$(q "SELECT ledger_ok()")"
t_done
