#!/usr/bin/env bash
# The diagnosis fee on return unrepaired (issue 14.2): "the charge the rules allow (e.g. a
# consented diagnosis fee) and nothing more". The customer consents to the fee when the ticket
# is opened (diagnosis_fee_consent, shown on the ticket); the fee is a rate of settlement's price
# list (fee_rates, applies = diagnosis, effective-dated per category / manufacturer).
#  - paid (not covered) repair diagnosed, consent given, device returned unrepaired: exactly the
#    fee in force on the consent day is invoiced (+ VAT) and paid with the method given; the
#    ledger is balanced;
#  - the same without consent: nothing is charged;
#  - a covered (warranty) repair with consent: nothing is charged;
#  - consent given but returned before any diagnosis: nothing is charged;
#  - a repair never carries the diagnosis fee.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

ticket_field() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER"; jbody "$2"; }
open_ticket() { # invoice_days_ago consent(true|false) [jq]
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" --arg inv "$(days_ago "$1")" \
        --argjson consent "$2" '{
      customer: {name: "Fee Test", phone: "13500008888"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair",
      diagnosis_fee_consent: $consent}' | jq -c "${3:-.}")"
    id=$(jbody .id)
    t_poll "ticket $id is decided" adjudicated ticket_field "$id" .state
    http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
}
charges() { http GET "/v1/settlement/charges/$1" "$AS_TOKEN_FINANCE"; }
settled() { # ticket — wait until settlement has closed the ticket's charge set
    wait_http "/v1/settlement/charges/$1" "$AS_TOKEN_FINANCE" .closed_outcome declined
}
TODAY=$(sh_date)

# The price list has the fee (the demo's FEE-DIAG: 50.00 for phones), read by the desk.
http GET "/v1/settlement/rates?date=$TODAY" "$AS_TOKEN_CENTER"
t_status "the desk reads the price list" 200
t_jq "the diagnosis fee is in it, as a fee that applies to diagnoses" \
    '[.fees[] | select(.fee_code == "FEE-DIAG" and .category == "*") | .applies + " " + (.list_cents | tostring)] | join(";")' \
    "diagnosis 5000"

# --- a paid repair, consent given, diagnosed, returned unrepaired: the fee is charged ---
open_ticket 100 true '.flags = {misuse: true}'
P=$id
t_jq "misuse is not covered" .decision.status not_covered
t_jq "the ticket shows the customer's consent to the diagnosis fee" .diagnosis_fee_consent true
http POST "/v1/tickets/$P/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","labour_code":"L-BOARD","estimate_cents":42000}'
t_jq "the estimate waits for consent" .state estimate_pending
http POST "/v1/tickets/$P/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"too dear","payment_method":"bitcoin"}'
t_status "an unknown payment method is refused" 400
t_jq "naming the field" '.error.fields[0].field' payment_method
t_eq "the refusal changes nothing" estimate_pending "$(ticket_field "$P" .state)"
http POST "/v1/tickets/$P/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"too dear","payment_method":"wechat_pay"}'
t_status "the customer takes the device back unrepaired" 200
t_jq "the ticket says the diagnosis fee is owed" '.state + " " + (.work.diagnosis_fee | tostring)' "returned true"
settled "$P"
t_status "settlement closed the ticket's charges" 200
t_jq "the customer pays exactly the fee plus 13 % VAT: 5000 + 650" \
    '[.kind, .payer, .customer_cents, .vat_cents, .manufacturer_cents, .company_cents] | map(tostring) | join(" ")' \
    "declined customer 5650 650 0 0"
t_jq "the charge lines are the fee and its VAT, nothing more" \
    '[.lines[] | .kind + ":" + .code + ":" + (.amount_cents | tostring)] | join(" ")' "fee:FEE-DIAG:5000 vat:VAT:650"
inv=$(jbody .invoice_no)
t_match "an invoice is issued" "^SH01-[0-9]{4}-[0-9]{6}$" "$inv"
http GET "/v1/settlement/invoices/$inv" "$AS_TOKEN_CENTER"
t_jq "the invoice has the fee line and is paid" \
    '[.total_cents, .paid, ([.lines[].code] | join(","))] | map(tostring) | join(" ")' "5650 true FEE-DIAG,VAT"
t_eq "the ledger: receivable against revenue and VAT, then WeChat Pay against the receivable" \
    "charge 1122:5650:0 2221:0:650 6001:0:5000|customer_payment 1013:5650:0 1122:0:5650" \
    "$(q settlement "SELECT string_agg(x, '|' ORDER BY entry_no) FROM (
          SELECT e.entry_no, e.kind || ' ' || string_agg(l.account || ':' || l.debit_cents || ':' || l.credit_cents, ' ' ORDER BY l.account, l.line_no) AS x
          FROM journal_entries e JOIN journal_lines l USING (entry_no)
          WHERE e.ticket_id = '$P' GROUP BY e.entry_no, e.kind) s")"
t_eq "the ticket's entries are balanced" 0 \
    "$(q settlement "SELECT sum(l.debit_cents) - sum(l.credit_cents) FROM journal_lines l
                     JOIN journal_entries e USING (entry_no) WHERE e.ticket_id = '$P'")"
t_poll "intake records the charge on the ticket's timeline" true \
    ticket_field "$P" '[.timeline[] | select(.event == "charged") | .note | test("customer 5650")] | any'

# --- the same without consent: nothing ---
open_ticket 100 false '.flags = {misuse: true}'
N=$id
t_jq "no consent is shown" '.diagnosis_fee_consent // false' false
http POST "/v1/tickets/$N/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","labour_code":"L-BOARD","estimate_cents":42000}'
http POST "/v1/tickets/$N/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"too dear","payment_method":"cash"}'
t_status "returned unrepaired without consent" 200
t_jq "no fee is owed" '.work.diagnosis_fee // false' false
settled "$N"
t_jq "nothing is charged without consent" \
    '[.payer, .customer_cents, (.lines | length), (.invoice_no // "none")] | map(tostring) | join(" ")' "none 0 0 none"
t_eq "and nothing is booked" 0 "$(q settlement "SELECT count(*) FROM journal_entries WHERE ticket_id = '$N'")"

# --- a covered repair with consent: nothing ---
open_ticket 40 true
W=$id
t_jq "the repair is free under warranty" .decision.free true
http POST "/v1/tickets/$W/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER","labour_code":"L-GENERAL"}'
t_jq "covered work goes to repair" .state in_repair
http POST "/v1/tickets/$W/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"customer needs it back"}'
t_status "a covered repair returned unrepaired" 200
t_jq "no fee is owed for covered work" '.work.diagnosis_fee // false' false
settled "$W"
t_jq "nothing is charged for covered work" '[.payer, .customer_cents, (.lines | length)] | map(tostring) | join(" ")' "none 0 0"

# --- consent, but returned before any diagnosis: nothing ---
open_ticket 100 true '.flags = {misuse: true}'
E=$id
http POST "/v1/tickets/$E/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"changed their mind"}'
t_status "returned before the diagnosis" 200
t_jq "no fee is owed before a diagnosis" '.work.diagnosis_fee // false' false
settled "$E"
t_jq "nothing is charged before a diagnosis" '[.payer, .customer_cents] | map(tostring) | join(" ")' "none 0"

# --- a repair never carries the diagnosis fee ---
open_ticket 100 true '.flags = {misuse: true}'
R=$id
http POST "/v1/tickets/$R/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","labour_code":"L-BOARD","estimate_cents":42000}'
http POST "/v1/tickets/$R/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
http POST "/v1/tickets/$R/repair-complete" "$AS_TOKEN_CENTER" '{"labour_minutes":60,"cause":"other"}'
t_status "the paid repair is completed" 200
wait_http "/v1/settlement/charges/$R" "$AS_TOKEN_FINANCE" .payer customer
t_jq "the repair's charges have no diagnosis fee" '[.lines[].code] | index("FEE-DIAG") == null' true

t_done
