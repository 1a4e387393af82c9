#!/usr/bin/env bash
# Example 6 — money: a paid repair at SH01 is charged and invoiced to the customer by
# settlement (asynchronously, from intake's events), paid at hand-back; finance reads the charges,
# the trial balance and exports the ledger as CSV and JSON, resuming with a cursor.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

# A phone with liquid damage: not covered, so the customer pays (estimate first).
IMEI=$(new_imei)
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: money-open-$RUN" \
  -d "$(jq -nc --arg imei "$IMEI" --arg inv "$(days_ago 100)" '{
        customer: {name: "Zhao Min", phone: "13500005555"},
        device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
        purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
        fault: {code: "LIQUID", description: "dropped in water", listed: false},
        flags: {misuse: true}, request: "repair"}')")
expect 201 "open a ticket for a water-damaged phone"
ID=$(jq -r .id "$OUT")
wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state == "adjudicated"'
expect 200 "not covered: a paid repair" '.decision.status == "not_covered" and .decision.free == false'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/diagnosis" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"fault_code":"LIQUID","labour_code":"L-BOARD","estimate_cents":42000}')
expect 200 "the estimate waits for the customer's consent" '.state == "estimate_pending"'
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/consent" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' -d '{"accept":true}')
expect 200 "the customer accepts" '.state == "in_repair"'
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/repair-complete" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"parts_used":[{"sku":"HX10-BATTERY","qty":1}],"labour_minutes":90,"cause":"other"}')
expect 200 "the repair is done" '.state == "ready"'

# Settlement charges the ticket from RepairCompleted: list prices plus 13 % VAT, in cents.
wait_answer "/v1/settlement/charges/$ID" "$AS_TOKEN_FINANCE" '.payer == "customer"'
expect 200 "finance reads the charges: the customer pays, VAT included" \
  '.customer_cents > 0 and .vat_cents > 0 and (.invoice_no | startswith("SH01-"))'
INVOICE=$(jq -r .invoice_no "$OUT")

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/handback" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' -d '{}')
expect 200 "the phone is handed back (and paid)" '.state == "closed"'

wait_answer "/v1/settlement/invoices/$INVOICE" "$AS_TOKEN_CENTER" '.paid == true'
expect 200 "SH01 reads its invoice: paid at hand-back" '.total_cents == .net_cents + .vat_cents'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/settlement/invoices/$INVOICE" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER_B")
expect 404 "GZ01 cannot read SH01's invoice"

status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/settlement/balance?from=$TODAY&to=$TODAY" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "today's trial balance balances" '.balanced == true and .debit_cents > 0'

# The export: CSV by default, streamed; X-Export-Head says where this cut of the ledger ends.
status=$(curl -sS -o "$OUT" -D "$HEADERS" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/settlement/export?from=$TODAY&to=$TODAY" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "finance exports today's ledger lines as CSV"
expect_header "Content-Type: text/csv; charset=utf-8; header=present" "the answer is CSV with a header row"
head -n 1 "$OUT" | grep -q '^cursor,entry_no,line_no,business_date' || status=bad-csv-header
expect 200 "the first line names the columns"

status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/settlement/export?format=json&from=$TODAY&to=$TODAY" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "the same as JSON, amounts in cents and in yuan" \
  '.count == (.rows | length) and .count > 0 and (.rows[0].debit_yuan | test("^[0-9]+\\.[0-9]{2}$"))'
CURSOR=$(jq -r .next "$OUT")

# Later: only what is new since the last row exported.
status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/settlement/export?format=json&after=$CURSOR" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "resuming after the last cursor returns only newer lines" \
  "[.rows[].cursor | split(\".\") | map(tonumber)] | all(. > (\"$CURSOR\" | split(\".\") | map(tonumber)))"

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/settlement/export" \
  -H "Authorization: Bearer $AS_TOKEN_ADMIN")
expect 403 "the export is for finance only, not even admin"
