#!/usr/bin/env bash
# Parts: defective returns. A part replaced under warranty (payer manufacturer) whose SKU needs
# a defective return is owed to the warehouse by completion date + 15 days; it is listed as owed,
# overdue once the deadline has passed, and returned once the warehouse receives it — which posts
# a defective_return movement at WH01 and publishes DefectiveReturnRecorded for settlement.
# Customer-paid repairs and SKUs without the flag owe nothing. Centres see their own returns.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
R="T$RUN-RET"    # needs a defective return
N="T$RUN-NORET"  # does not
for s in "$R:true" "$N:false"; do
    http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
        "{\"sku\":\"${s%%:*}\",\"name\":\"return test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":9500,\"list_price_cents\":19900,\"defective_return_required\":${s##*:}}"
done
t_status "two test SKUs are added" 201
for site in SH01 GZ01; do
    http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"$site\",\"sku\":\"$R\",\"qty\":5}"
    http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"$site\",\"sku\":\"$N\",\"qty\":5}"
done

today=$(TZ=Asia/Shanghai date +%F)
due_today=$(TZ=Asia/Shanghai date -d "+15 days" +%F)
long_ago=$(date -u -d "-20 days" +%Y-%m-%dT%H:%M:%S.000Z)
# repair TICKET CENTER PAYER COMPLETED_AT — a ticket uses one R and one N.
repair() {
    q "SELECT on_parts_requested('{\"ticket_id\":\"$1\",\"center\":\"$2\",\"lines\":[{\"line_no\":1,\"sku\":\"$R\",\"qty\":1},{\"line_no\":2,\"sku\":\"$N\",\"qty\":1}]}')" >/dev/null
    q "SELECT on_repair_completed('{\"ticket_id\":\"$1\",\"center\":\"$2\",\"manufacturer\":\"HUAXIN\",\"payer\":\"$3\",\"completed_at\":\"$4\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$R\",\"qty\":1},{\"line_no\":2,\"sku\":\"$N\",\"qty\":1}]}')" >/dev/null
}
TA="DA$RUN"
TB="DB$RUN"
TC="DC$RUN"
TD="DD$RUN"
repair "$TA" SH01 manufacturer "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
repair "$TB" SH01 manufacturer "$long_ago"
repair "$TC" SH01 customer "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
repair "$TD" GZ01 manufacturer "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"

t_eq "a warranty repair owes the flagged part only" "$R" "$(q "SELECT string_agg(sku, ',') FROM defective_returns WHERE ticket_id = '$TA'")"
t_eq "a customer-paid repair owes nothing" 0 "$(q "SELECT count(*) FROM defective_returns WHERE ticket_id = '$TC'")"
t_eq "the owed return is published for settlement" 1 \
    "$(q "SELECT count(*) FROM outbox WHERE type = 'parts.DefectiveReturnOwed' AND payload->>'ticket_id' = '$TA'")"

http GET "/v1/parts/returns?status=owed&ticket_id=$TA" "$AS_TOKEN_CENTER"
t_status "the centre lists what it owes" 200
t_jq "the return is owed by completion + 15 days" '.returns[0] | "\(.status) \(.due_date) \(.sku) \(.line_no)"' "owed $due_today $R 1"
ra=$(jbody '.returns[0].id')
http GET "/v1/parts/returns?status=overdue&site=SH01" "$AS_TOKEN_CENTER"
t_jq "a return past its deadline is overdue" "[.returns[] | select(.ticket_id == \"$TB\") | .status] | join(\",\")" overdue
http GET "/v1/parts/returns?status=owed&site=SH01" "$AS_TOKEN_CENTER"
t_jq "an overdue return is not in the owed list" "[.returns[] | select(.ticket_id == \"$TB\")] | length" 0
http GET "/v1/parts/returns?ticket_id=$TD" "$AS_TOKEN_CENTER"
t_jq "a centre does not see another centre's returns" '.returns | length' 0
http GET "/v1/parts/returns?site=GZ01" "$AS_TOKEN_CENTER"
t_status "a centre naming another centre is refused (403)" 403
http GET "/v1/parts/returns?ticket_id=$TD" "$AS_TOKEN_FINANCE"
t_jq "finance sees every centre's returns" '.returns | length' 1
http GET "/v1/parts/returns?status=lost" "$AS_TOKEN_WAREHOUSE"
t_status "an unknown status is refused" 400

# --- the warehouse receives the part ---
def0=$(q "SELECT coalesce((SELECT defective FROM stock WHERE site = 'WH01' AND sku = '$R'), 0)")
http POST "/v1/parts/returns/$ra/receive" "$AS_TOKEN_CENTER" '{}'
t_status "a centre cannot book the warehouse's receipt" 403
http POST "/v1/parts/returns/$ra/receive" "$AS_TOKEN_WAREHOUSE" '{"note":"seal intact"}'
t_status "the warehouse receives the defective part" 200
t_jq "the return is returned, at the warehouse" '"\(.status) \(.received_site) \(.received_by)"' "returned WH01 warehouse"
t_eq "the warehouse's defective stock grew by one" $((def0 + 1)) \
    "$(q "SELECT defective FROM stock WHERE site = 'WH01' AND sku = '$R'")"
t_eq "the receipt is a defective_return movement naming the return" "defective_return|$TA|0|1" \
    "$(q "SELECT kind || '|' || ticket_id || '|' || d_on_hand || '|' || d_defective FROM movements WHERE return_id = '$ra'")"
t_eq "DefectiveReturnRecorded is published with the claim's keys" "$TA|$R|1|SH01|1|HUAXIN|$ra|WH01" \
    "$(q "SELECT concat_ws('|', payload->>'ticket_id', payload->>'sku', payload->>'qty', payload->>'site',
                            payload->>'line_no', payload->>'manufacturer', payload->>'return_id',
                            payload->>'received_site')
          FROM outbox WHERE type = 'parts.DefectiveReturnRecorded' AND payload->>'return_id' = '$ra'")"
t_match "it says when" "^$today|^$(date -u +%F)" \
    "$(q "SELECT payload->>'returned_at' FROM outbox WHERE type = 'parts.DefectiveReturnRecorded' AND payload->>'return_id' = '$ra'")"
http POST "/v1/parts/returns/$ra/receive" "$AS_TOKEN_WAREHOUSE"
t_status "a return is received once" 409
http GET "/v1/parts/returns?status=returned&ticket_id=$TA" "$AS_TOKEN_CENTER"
t_jq "the centre sees it returned" '.returns[0].status' returned
http POST "/v1/parts/returns/DR999999999/receive" "$AS_TOKEN_WAREHOUSE"
t_status "an unknown return is 404" 404

# The overdue one comes back late: still accepted.
rb=$(q "SELECT id FROM defective_returns WHERE ticket_id = '$TB'")
http POST "/v1/parts/returns/$rb/receive" "$AS_TOKEN_WAREHOUSE"
t_status "a late return is still received" 200

# Defective units are held apart from sellable stock, and can be scrapped.
http GET "/v1/parts/stock?site=WH01&sku=$R" "$AS_TOKEN_WAREHOUSE"
t_jq "defective units are not available" '.items[0] | "\(.defective) \(.available)"' "$((def0 + 2)) 0"
http POST /v1/parts/scrap "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$R\",\"qty\":2,\"reason\":\"claim settled\"}"
t_status "the warehouse scraps the defective units after the claim" 201
t_eq "no defective unit left" "$def0" "$(q "SELECT defective FROM stock WHERE site = 'WH01' AND sku = '$R'")"
t_eq "the ledger holds" t "$(q "SELECT ledger_ok()")"
t_done
