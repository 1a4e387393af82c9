#!/usr/bin/env bash
# Consent caps the bill (issue 14, point 6), through the real API: a paid repair whose work is
# worth more than the estimate the customer accepted is charged the estimate (VAT included); the
# rest is the centre's goodwill (company lines, basis over_estimate, Dr 6601) and the charge
# entry still balances. Work that needs more goes back to estimate_pending with a revised
# estimate (POST /v1/tickets/{id}/revise-estimate); the next consent sets the new cap, or the
# customer declines and the ticket ends as a declined estimate does.
. "$(dirname "$0")/settlement_invariants.sh"

ticket_body() { # invoice_date [jq filter]
    jq -nc --arg inv "$1" --arg imei "$(new_imei)" "{
      customer: {name: \"Han Mei\", phone: \"13900004444\"},
      device: {category: \"phone_host\", brand: \"Huaxin\", model: \"HX-10\",
               imei: \$imei, imei_label: \$imei},
      purchase: {invoice_date: \$inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: \"NO_DISPLAY\", description: \"screen stays black\", listed: true},
      request: \"repair\"} ${2:+| $2}"
}
paid_ticket() { # ESTIMATE -> a paid repair, diagnosed with ESTIMATE, in $id
    open_ticket "$(ticket_body "$(days_ago 100)" '.flags = {misuse: true}')"
    http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_CENTER" \
        "{\"fault_code\":\"LIQUID\",\"labour_code\":\"L-BOARD\",\"estimate_cents\":$1}"
}
# The work: board labour 90 min (15000) + a battery (19900) + the service fee (2000) = 36900
# net at list prices, 41697 with 13 % VAT.
WORK='{"parts_used":[{"sku":"HX10-BATTERY","qty":1}],"labour_minutes":90,"cause":"other"}'
entry_of() { # KEY — the entry posted for KEY, summed per account: "account:debit:credit ..."
    q "SELECT string_agg(account || ':' || d || ':' || c, ' ' ORDER BY account)
       FROM (SELECT account, sum(debit_cents) AS d, sum(credit_cents) AS c FROM journal_lines
             WHERE entry_no = (SELECT entry_no FROM journal_entries WHERE source_key = '$1')
             GROUP BY account) x"
}

# --- the work is worth more than the consented estimate: the customer pays the estimate ---
paid_ticket 30000
C=$id
t_jq "a paid repair waits for the customer's consent" .state estimate_pending
http POST "/v1/tickets/$C/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "the customer accepts 300.00" '[.state, .work.consented_estimate_cents] | map(tostring) | join(" ")' "in_repair 30000"
http POST "/v1/tickets/$C/repair-complete" "$AS_TOKEN_CENTER" "$WORK"
t_status "the repair is completed with work worth 416.97" 200
wait_http "/v1/settlement/charges/$C" "$AS_TOKEN_FINANCE" .payer customer
t_jq "the customer is charged the consented estimate, VAT included (26549 + 3451)" \
    '[.customer_cents, .vat_cents] | map(tostring) | join(" ")' "30000 3451"
t_jq "what is above the estimate (36900 - 26549 net) is the company's goodwill" .company_cents 10351
t_jq "the goodwill lines are marked over_estimate and add up to it" \
    '[.lines[] | select(.basis == "over_estimate" and .payer == "company") | .amount_cents] | add' 10351
t_jq "the charge set says why" '[.notes[] | select(test("consented estimate 30000"))] | length' 1
inv=$(jbody .invoice_no)
http GET "/v1/settlement/invoices/$inv" "$AS_TOKEN_FINANCE"
t_jq "the invoice totals the estimate: its lines add up to the net" \
    '[.total_cents, .net_cents, .vat_cents, ([.lines[] | select(.kind != "vat") | .amount_cents] | add)] | map(tostring) | join(" ")' \
    "30000 26549 3451 26549"
t_eq "the charge entry: receivable 30000, goodwill 10351, full revenue, VAT on what the customer pays" \
    "1122:30000:0 2221:0:3451 6001:0:17000 6051:0:19900 6601:10351:0" "$(entry_of "charge:$C")"
http POST "/v1/tickets/$C/handback" "$AS_TOKEN_CENTER" '{"payment_method":"cash"}'
wait_http "/v1/settlement/invoices/$inv" "$AS_TOKEN_FINANCE" .paid true
t_eq "the customer pays the estimate at hand-back" "1011:30000:0 1122:0:30000" "$(entry_of "payment:$C")"

# --- under the estimate: nothing changes ---
paid_ticket 50000
U=$id
http POST "/v1/tickets/$U/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
http POST "/v1/tickets/$U/repair-complete" "$AS_TOKEN_CENTER" "$WORK"
wait_http "/v1/settlement/charges/$U" "$AS_TOKEN_FINANCE" .payer customer
t_jq "work under the estimate is charged at list prices, no goodwill" \
    '[.customer_cents, .company_cents, ([.lines[] | select(.basis == "over_estimate")] | length)] | map(tostring) | join(" ")' \
    "41697 0 0"

# --- the work needs more: a revised estimate and a new consent set the new cap ---
paid_ticket 20000
R=$id
http POST "/v1/tickets/$R/revise-estimate" "$AS_TOKEN_CENTER" '{"estimate_cents":35000}'
t_status "no revision before the first consent (estimate_pending)" 409
http POST "/v1/tickets/$R/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "the customer accepts 200.00" .state in_repair
http POST "/v1/tickets/$R/revise-estimate" "$AS_TOKEN_CENTER" '{"estimate_cents":0}'
t_status "a revised estimate of 0 is refused" 400
t_jq "naming the field" '[.error.fields[]?.field] | index("estimate_cents") != null' true
http POST "/v1/tickets/$R/revise-estimate" "$AS_TOKEN_CENTER" '{"note":"the board too"}'
t_status "a revision without an estimate is refused" 400
http GET "/v1/tickets/$R" "$AS_TOKEN_CENTER"
t_jq "a refused revision changes nothing" '[.state, .work.estimate_cents] | map(tostring) | join(" ")' "in_repair 20000"
http POST "/v1/tickets/$R/revise-estimate" "$AS_TOKEN_CENTER" '{"estimate_cents":35000,"note":"the board is damaged too"}'
t_status "the desk revises the estimate" 200
t_jq "the ticket goes back to estimate_pending with the new estimate, the old cap kept until consent" \
    '[.state, .work.estimate_cents, .work.consented_estimate_cents] | map(tostring) | join(" ")' \
    "estimate_pending 35000 20000"
t_jq "the timeline records the revision" '[.timeline[] | select(.event == "estimate_revised")] | length' 1
http POST "/v1/tickets/$R/repair-complete" "$AS_TOKEN_CENTER" "$WORK"
t_status "no completion while the customer decides" 409
http POST "/v1/tickets/$R/consent" "$AS_TOKEN_CENTER" '{"accept":true,"note":"ok, go on"}'
t_jq "accepting goes back to where the work stands; the new estimate is the cap" \
    '[.state, .work.consented_estimate_cents] | map(tostring) | join(" ")' "in_repair 35000"
http POST "/v1/tickets/$R/repair-complete" "$AS_TOKEN_CENTER" "$WORK"
wait_http "/v1/settlement/charges/$R" "$AS_TOKEN_FINANCE" .payer customer
t_jq "the customer is charged the revised estimate they accepted (not the first one)" \
    '[.customer_cents, .company_cents] | map(tostring) | join(" ")' "35000 5927"

# --- a revision the customer declines ends the ticket as a declined estimate ---
paid_ticket 20000
D=$id
http POST "/v1/tickets/$D/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket revise-estimate "$D" >/dev/null 2>&1
t_check "asctl ticket revise-estimate without --estimate is a usage error" [ $? -ne 0 ]
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket revise-estimate "$D" \
    --estimate 60000 --note "the camera too" >/dev/null
t_eq "asctl ticket revise-estimate revises the estimate (exit 0)" 0 "$?"
http GET "/v1/tickets/$D" "$AS_TOKEN_CENTER"
t_jq "the ticket waits for the customer again" '[.state, .work.estimate_cents] | map(tostring) | join(" ")' \
    "estimate_pending 60000"
http POST "/v1/tickets/$D/consent" "$AS_TOKEN_CENTER" '{"accept":false}'
t_jq "the customer declines the revised estimate" .state declined
wait_http "/v1/settlement/charges/$D" "$AS_TOKEN_FINANCE" .kind declined
t_jq "a declined revision is charged nothing" '[.customer_cents, .company_cents] | map(tostring) | join(" ")' "0 0"
http POST "/v1/tickets/$D/revise-estimate" "$AS_TOKEN_CENTER" '{"estimate_cents":60000}'
t_status "a closed ticket cannot be revised" 409

# --- covered work has no estimate to revise ---
open_ticket "$(ticket_body "$(days_ago 40)")"
W=$id
http POST "/v1/tickets/$W/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_DISPLAY","labour_code":"L-SCREEN"}'
t_jq "covered work goes to repair" .state in_repair
http POST "/v1/tickets/$W/revise-estimate" "$AS_TOKEN_CENTER" '{"estimate_cents":10000}'
t_status "revising a free repair is refused" 409
t_jq "because the customer does not pay" .error.code not_paid_repair
http POST "/v1/tickets/$C/revise-estimate" "$AS_TOKEN_REVIEWER" '{"estimate_cents":10000}'
t_status "a reviewer may not revise estimates" 403

t_ledger_balanced "the ledger balances after the capped charges"
t_done
