#!/usr/bin/env bash
# Settlement end to end: real tickets through intake (and parts), charged by settlement from
# the events alone — a warranty repair becomes a manufacturer claim whose line waits until the
# warehouse receives the defective part; a paid repair is invoiced to the customer and paid at
# hand-back; a refund is booked against the seller's account; a declined estimate is charged
# nothing. Intake records each Charged event on the ticket's timeline.
. "$(dirname "$0")/settlement_invariants.sh"

# imei N — a 15-digit IMEI of its own for this run (Luhn check digit), so no ticket has history.
imei() { with_luhn "$(printf '35%07d%05d' "$((10#${RUN_TAG:0:7}))" "$1")"; }
ticket_body() { # request invoice_date device-no [jq filter]
    jq -nc --arg req "$1" --arg inv "$2" --arg imei "$(imei "$3")" "{
      customer: {name: \"Li Lei\", phone: \"13900003333\"},
      device: {category: \"phone_host\", brand: \"Huaxin\", model: \"HX-10\",
               imei: \$imei, imei_label: \$imei},
      purchase: {invoice_date: \$inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: \"NO_DISPLAY\", description: \"screen stays black\", listed: true},
      request: \$req} ${4:+| $4}"
}

# --- a warranty repair with a part the manufacturer wants back ---
# The screen must come from SH01's free stock, or parts completes the repair without an issue
# movement ("used but not in our stock") and the ticket has no issue entry. SH01's demo stock is
# shared with every test before this one (repairs draw screens, a ticket awaiting parts keeps one
# reserved), so the journey brings its own screen to the centre first.
free_screens() {
    sql parts "SELECT coalesce((SELECT on_hand - reserved FROM stock WHERE site = 'SH01' AND sku = 'HX10-SCREEN'), 0)"
}
http POST /v1/parts/receipts "$AS_TOKEN_ADMIN" '{"site":"SH01","sku":"HX10-SCREEN","qty":1,"note":"settlement journey"}'
t_status "a screen is received at SH01 for the journey" 201
t_match "SH01 has a free screen to issue" '^[1-9][0-9]*$' "$(free_screens)"
open_ticket "$(ticket_body repair "$(days_ago 40)" 1)"
W=$id
t_jq "the warranty repair is free" '.decision.free' true
http POST "/v1/tickets/$W/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_DISPLAY","labour_code":"L-SCREEN"}'
t_jq "covered work goes to repair" .state in_repair
http POST "/v1/tickets/$W/repair-complete" "$AS_TOKEN_CENTER" \
    '{"parts_used":[{"sku":"HX10-SCREEN","qty":1}],"labour_code":"L-SCREEN","labour_minutes":40,"cause":"manufacturing_quality"}'
t_status "the repair is completed (the screen is drawn from the centre's stock)" 200
issued() { sql parts "SELECT count(*) FROM movements WHERE ticket_id = '$W' AND kind = 'issue' AND site = 'SH01'"; }
for _ in $(seq 1 100); do [ "$(issued)" = 1 ] && break; sleep 0.1; done
t_eq "parts issued the screen from SH01's free stock for the ticket" 1 "$(issued)"
wait_http "/v1/settlement/charges/$W" "$AS_TOKEN_FINANCE" .payer manufacturer
t_status "settlement charged the ticket from RepairCompleted" 200
t_jq "the manufacturer pays: claim labour 6000 + screen 52000 at cost + 10 % + service fee 1000" \
    '[.manufacturer_cents, .customer_cents, .business_date] | map(tostring) | join(" ")' "64200 0 $TODAY"
claim=$(jbody '[.lines[].claim_id | select(.)] | unique | .[0]')
t_match "the claimed lines belong to this month's HUAXIN claim" "^CLM-HUAXIN-$(TZ=Asia/Shanghai date +%Y-%m)-[0-9]+$" "$claim"
line=$(jbody '.lines[] | select(.code == "HX10-SCREEN") | .claim_line_no')
http GET "/v1/settlement/claims/$claim" "$AS_TOKEN_FINANCE"
t_jq "the screen's claim line waits for the defective part" \
    "(.waiting_lines | index($line)) != null" true

wait_http "/v1/parts/returns?ticket_id=$W" "$AS_TOKEN_WAREHOUSE" '.returns | length' 1
rid=$(jbody '.returns[0].id')
t_match "the parts service owes the defective screen back" '.+' "$rid"
http POST "/v1/parts/returns/$rid/receive" "$AS_TOKEN_WAREHOUSE" '{"note":"received in WH01"}'
t_status "the warehouse receives the defective screen" 200
wait_http "/v1/settlement/claims/$claim" "$AS_TOKEN_FINANCE" \
    ".lines[] | select(.line_no == $line) | .returned" true
t_jq "DefectiveReturnRecorded releases the claim line" "(.waiting_lines | index($line)) == null" true

http POST "/v1/tickets/$W/handback" "$AS_TOKEN_CENTER" '{}'
# The ticket's entries: its charge, the screen issued at cost and the defective one back (stock
# entries carry the ticket) — and no payment. The stock entries come from the parts stream, on
# their own schedule: wait for the set to settle (at most 10 s), then check it is exactly that.
wait_http "/v1/settlement/charges/$W" "$AS_TOKEN_FINANCE" \
    '[.closed_outcome, (.entries | length)] | map(tostring) | join(" ")' "repaired 3"
t_jq "the hand-back closes the charge set with the charge, the screen issued and the defective one back; nothing is paid" \
    '[.closed_outcome, (.entries | length)] | map(tostring) | join(" ")' "repaired 3"
t_eq "the ticket's entries are the charge, the issue at SH01 and the defective return at WH01" \
    "charge stock:issue:SH01 stock:defective_return:WH01" \
    "$(q "SELECT string_agg(CASE WHEN kind = 'stock' THEN kind || ':' || split_part(memo, ' ', 1) || ':' ||
                                   (SELECT center FROM journal_lines l WHERE l.entry_no = e.entry_no LIMIT 1)
                              ELSE kind END, ' ' ORDER BY entry_no)
          FROM journal_entries e WHERE ticket_id = '$W'")"
wait_http "/v1/tickets/$W" "$AS_TOKEN_CENTER" '[.timeline[].event] | index("charged") != null' true
t_jq "intake shows the charge on the ticket's timeline" \
    '.timeline[] | select(.event == "charged") | .note | test("manufacturer 64200")' true

# --- a paid repair: invoiced, paid at hand-back ---
open_ticket "$(ticket_body repair "$(days_ago 100)" 2 '.flags = {misuse: true}')"
P=$id
t_jq "misuse is not covered" .decision.status not_covered
http POST "/v1/tickets/$P/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","labour_code":"L-BOARD","estimate_cents":42000}'
http POST "/v1/tickets/$P/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "the customer accepts the estimate" .state in_repair
http POST "/v1/tickets/$P/repair-complete" "$AS_TOKEN_CENTER" \
    '{"parts_used":[{"sku":"HX10-BATTERY","qty":1}],"labour_minutes":90,"cause":"other"}'
t_status "the paid repair is completed" 200
wait_http "/v1/settlement/charges/$P" "$AS_TOKEN_FINANCE" .payer customer
t_jq "the customer pays list prices: 15000 + 19900 + 2000 = 36900, plus 4797 VAT" \
    '[.customer_cents, .vat_cents, .manufacturer_cents] | map(tostring) | join(" ")' "41697 4797 0"
inv=$(jbody .invoice_no)
t_match "the customer gets an invoice of the centre and year" "^SH01-$(TZ=Asia/Shanghai date +%Y)-[0-9]{6}$" "$inv"
http POST "/v1/tickets/$P/handback" "$AS_TOKEN_CENTER" '{}'
wait_http "/v1/settlement/invoices/$inv" "$AS_TOKEN_CENTER" .paid true
t_jq "the hand-back pays the invoice (the centre reads its own invoice)" \
    '[.paid, .paid_date, .total_cents] | map(tostring) | join(" ")' "true $TODAY 41697"
t_eq "cash came in against the receivable" "1001:41697:0 1122:0:41697" \
    "$(q "SELECT string_agg(account || ':' || debit_cents || ':' || credit_cents, ' ' ORDER BY line_no)
          FROM journal_lines WHERE entry_no = (SELECT entry_no FROM journal_entries WHERE source_key = 'payment:$P')")"

# --- a refund within 7 days: the seller's account ---
open_ticket "$(ticket_body refund "$(days_ago 3)" 3)"
R=$id
t_jq "the refund is granted" '.decision.status + "/" + .decision.remedy' granted/refund
refund=$(jbody .decision.refund_cents)
http POST "/v1/tickets/$R/handback" "$AS_TOKEN_CENTER" '{}'
t_jq "handing back a granted refund ends it as refunded" .state refunded
wait_http "/v1/settlement/charges/$R" "$AS_TOKEN_FINANCE" .kind refunded
t_jq "settlement books the refund against the seller's account" \
    '[.payer, .seller_cents, .customer_cents] | map(tostring) | join(" ")' "seller $refund 0"

# --- a declined estimate: charged nothing ---
open_ticket "$(ticket_body repair "$(days_ago 100)" 4 '.flags = {misuse: true}')"
D=$id
http POST "/v1/tickets/$D/diagnosis" "$AS_TOKEN_CENTER" '{"estimate_cents":58000}'
http POST "/v1/tickets/$D/consent" "$AS_TOKEN_CENTER" '{"accept":false}'
t_jq "the customer declines" .state declined
wait_http "/v1/settlement/charges/$D" "$AS_TOKEN_FINANCE" .kind declined
t_jq "a declined ticket gets a zero charge set" \
    '[.customer_cents, .manufacturer_cents, .company_cents, .seller_cents, (.entries | length)] | map(tostring) | join(" ")' \
    "0 0 0 0 0"

t_eq "each of the four tickets was announced exactly once" "1 1 1 1" \
    "$(for x in "$W" "$P" "$R" "$D"; do q "SELECT count(*) FROM outbox WHERE type = 'settlement.Charged' AND payload->>'ticket_id' = '$x'"; done | xargs)"
t_ledger_balanced "the ledger balances after the journeys"
t_done
