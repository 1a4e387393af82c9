#!/usr/bin/env bash
# Settlement cost analysis: GET /v1/settlement/costs totals the charges of a date range by
# region, centre or cause — every cause category listed, with what customers, manufacturers,
# the company and sellers bore, to the cent. Finance and admin see everything, a regional
# manager only their region.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
MFR="CM$T" LAB="CO$T" PART="CP$T"
# One day of 2019 that only this script uses.
D=$(printf '2019-%02d-%02d' $((1 + RANDOM % 12)) $((1 + RANDOM % 28)))

out=$(sq <<SQL
INSERT INTO labour_rates VALUES ('$LAB', '*', '$MFR', '2000-01-01', 'Cost test labour', 10000, 0, 8000, 0);
INSERT INTO parts_prices VALUES ('$PART', '2000-01-01', 'Cost test part', '$MFR', 5000, 3000, false, true);
INSERT INTO claim_handling VALUES ('$MFR', '2000-01-01', 0);
$(no_fees_sql "$MFR")
SQL
)
t_eq "the test's rate tables are loaded" "" "$out"

job() { # TICKET CENTRE REGION PAYER CAUSE PARTS
    completed "$(repair_event "$1" "$2" "$4" "$D" ".region = \"$3\" | .manufacturer = \"$MFR\" | .labour_code = \"$LAB\" | .cause = \"$5\" | .parts_used = $6")" >/dev/null
}
job "CO1-$T" SH01 east customer service_station "[{sku: \"$PART\", qty: 1}]"
job "CO2-$T" GZ01 south manufacturer design_quality "[{sku: \"$PART\", qty: 1}]"
job "CO3-$T" GZ01 south company design_quality "[]"
closed "{\"ticket_id\":\"CO4-$T\",\"center\":\"SH01\",\"region\":\"east\",\"outcome\":\"refunded\",\"refund_cents\":50000,\"closed_date\":\"$D\"}" >/dev/null

# rows — the last body's rows as "key:tickets:labour:parts:parts_cost:customer:manufacturer:company:seller:warranty:total".
ROWS='[.rows[] | [.key, .tickets, .labour_cents, .parts_cents, .parts_cost_cents, .customer_cents,
       .manufacturer_cents, .company_cents, .seller_cents, .warranty_cost_cents, .total_cost_cents]
       | map(tostring) | join(":")] | join(" ")'
TOTAL='[.total | .tickets, .customer_cents, .warranty_cost_cents, .total_cost_cents] | map(tostring) | join(":")'

http GET "/v1/settlement/costs?group=cause&from=$D&to=$D" "$AS_TOKEN_FINANCE"
t_status "finance analyses costs by cause" 200
t_jq "every cause is listed, in order, with exact amounts" "$ROWS" \
    "service_station:1:10000:5000:3000:16950:0:0:0:0:0 customer_visit:0:0:0:0:0:0:0:0:0:0 design_quality:2:16000:3000:3000:0:11000:8000:0:19000:19000 manufacturing_quality:0:0:0:0:0:0:0:0:0:0 parts_problem:0:0:0:0:0:0:0:0:0:0 other:1:0:0:0:0:0:0:50000:0:50000"
t_jq "the total row adds them up" "$TOTAL" "4:16950:19000:69000"

http GET "/v1/settlement/costs?group=region&from=$D&to=$D" "$AS_TOKEN_ADMIN"
t_status "admin analyses costs by region" 200
t_jq "by region" "$ROWS" \
    "east:2:10000:5000:3000:16950:0:0:50000:0:50000 south:2:16000:3000:3000:0:11000:8000:0:19000:19000"
http GET "/v1/settlement/costs?group=center&from=$D&to=$D" "$AS_TOKEN_FINANCE"
t_jq "by centre" '[.rows[] | .key + ":" + (.tickets | tostring) + ":" + (.total_cost_cents | tostring)] | join(" ")' \
    "GZ01:2:19000 SH01:2:50000"
http GET "/v1/settlement/costs?group=center&from=$D&to=$D" "$AS_TOKEN_REGION"
t_status "a regional manager analyses costs" 200
t_jq "and sees only their own region" '[.rows[].key] | join(" ")' "SH01"
http GET "/v1/settlement/costs?group=cause&from=$D&to=$D" "$AS_TOKEN_REGION"
t_jq "their totals cover only their region" "$TOTAL" "2:16950:0:50000"
http GET "/v1/settlement/costs?group=cause&from=$D&to=$D" "$AS_TOKEN_CENTER"
t_status "a centre may not analyse costs" 403
http GET "/v1/settlement/costs?group=brand" "$AS_TOKEN_FINANCE"
t_status "an unknown grouping is refused" 400
http GET "/v1/settlement/costs?group=cause&from=2026-05-01&to=2026-04-01" "$AS_TOKEN_FINANCE"
t_status "a range that ends before it starts is refused" 400
http GET "/v1/settlement/costs?group=cause&from=2026-02-31" "$AS_TOKEN_FINANCE"
t_status "an impossible date is refused" 400
t_done
