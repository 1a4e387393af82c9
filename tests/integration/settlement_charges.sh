#!/usr/bin/env bash
# Settlement charges: a completed repair is priced line by line from the rate tables for the
# payer the warranty decision names — the customer at list prices plus 13 % VAT, the
# manufacturer at claim labour rates and parts at cost plus handling, the company (goodwill) at
# cost — to the exact cent, posted to the ledger as one balanced entry, and announced once.
# Replayed events post nothing; closing records the payment, or a refund / exchange against the
# seller's account. The events are applied by calling the service's SQL handlers, exactly as
# its consumer does.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
MFR="TM$T" LAB="TL$T" LAB2="TLD$T" A="TA$T" B="TB$T"

# Rates of this test only: a manufacturer of its own, so the demo data cannot change the sums.
out=$(sq <<SQL
INSERT INTO labour_rates VALUES
    ('$LAB', 'phone_host', '$MFR', '2020-01-01', 'Test labour', 5000, 7000, 3000, 4100),
    ('$LAB2', 'phone_host', '*', '2020-01-01', 'Dated labour (old)', 1000, 0, 800, 0),
    ('$LAB2', 'phone_host', '*', '2026-03-01', 'Dated labour (new)', 2000, 0, 1600, 0);
INSERT INTO parts_prices VALUES
    ('$A', '2020-01-01', 'Test part A', '$MFR', 12345, 8000, true, true),
    ('$B', '2020-01-01', 'Test consumable B', '$MFR', 999, 333, false, false);
INSERT INTO claim_handling VALUES ('$MFR', '2020-01-01', 1250);
INSERT INTO fee_rates(fee_code, category, manufacturer, effective_from, description, applies,
                      list_cents, claim_cents, active)
    SELECT DISTINCT fee_code, '*', '$MFR', '2000-01-01'::date, 'not for the test manufacturer',
           'always', NULL::bigint, NULL::bigint, false FROM fee_rates;
INSERT INTO fee_rates VALUES
    ('TS$T', '*', '$MFR', '2020-01-01', 'Test service fee', 'always', 1500, 700, true),
    ('TV$T', '*', '$MFR', '2020-01-01', 'Test travel fee', 'visit', 8800, 6600, true);
SQL
)
t_eq "the test's rate tables are loaded" "" "$out"

# ev TICKET PAYER CAUSE [DATE] — a repair of the test manufacturer: 50 minutes of labour,
# 2 x part A (line 1) and 3 x consumable B.
ev() {
    repair_event "$1" SH01 "$2" "${4:-2026-05-20}" "
        .manufacturer = \"$MFR\" | .labour_code = \"$LAB\" | .labour_minutes = 50 |
        .cause = \"$3\" | .parts_used = [{line_no: 1, sku: \"$A\", qty: 2}, {sku: \"$B\", qty: 3}]"
}
# entry_of KEY — the lines of the entry posted for KEY, as "account:debit:credit ...".
charged() { # TICKET — the Charged events of the ticket, as "customer/manufacturer/company/seller/invoice"
    q "SELECT string_agg(concat_ws('/', payload->>'customer_cents', payload->>'manufacturer_cents',
           payload->>'company_cents', payload->>'seller_cents', coalesce(payload->>'invoice_no', '-')), ' ')
       FROM outbox WHERE type = 'settlement.Charged' AND payload->>'ticket_id' = '$1'"
}
lines_of() { # TICKET — "kind:code:payer:amount ..."
    q "SELECT string_agg(kind || ':' || payer || ':' || amount_cents, ' ' ORDER BY line_no)
       FROM charge_lines WHERE ticket_id = '$1'"
}

# --- the customer pays: list prices, fees, 13 % VAT, an invoice ---
CUS="TC-$T"
completed "$(ev "$CUS" customer customer_visit)" >/dev/null
t_eq "customer lines: labour 5000 + 7000/h x 50 min, parts at list, both fees, VAT on the net" \
    "labour:customer:10833 part:customer:24690 part:customer:2997 fee:customer:1500 fee:customer:8800 vat:customer:6347" \
    "$(lines_of "$CUS")"
http GET "/v1/settlement/charges/$CUS" "$AS_TOKEN_FINANCE"
t_status "finance reads the charges of a ticket" 200
t_jq "the customer owes 48820 + 6347 VAT = 55167 cents" \
    '[.customer_cents, .vat_cents, .manufacturer_cents, .company_cents, .vat_rate_bp] | map(tostring) | join(" ")' \
    "55167 6347 0 0 1300"
t_jq "a paid repair gets an invoice numbered for its centre and year" '.invoice_no | test("^SH01-2026-[0-9]{6}$")' true
invoice=$(jbody .invoice_no)
t_eq "the customer entry: receivable against revenue and VAT (the parts' cost is posted when parts issues them)" \
    "1122:55167:0 2221:0:6347 6001:0:21133 6051:0:27687" "$(entry_of "charge:$CUS")"
t_eq "one Charged event carries the customer's total and the invoice" "55167/0/0/0/$invoice" "$(charged "$CUS")"
t_ledger_balanced "the ledger balances after a customer charge"

# --- replayed RepairCompleted: nothing more ---
entries=$(q "SELECT last_no FROM ledger_head")
counter=$(q "SELECT last_no FROM invoice_counters WHERE center = 'SH01' AND year = 2026")
completed "$(ev "$CUS" customer customer_visit)" >/dev/null
completed "$(ev "$CUS" manufacturer other)" >/dev/null
t_eq "a replayed RepairCompleted posts no entry" "$entries" "$(q "SELECT last_no FROM ledger_head")"
t_eq "a replayed RepairCompleted takes no invoice number" "$counter" \
    "$(q "SELECT last_no FROM invoice_counters WHERE center = 'SH01' AND year = 2026")"
t_eq "a replayed RepairCompleted announces nothing" "55167/0/0/0/$invoice" "$(charged "$CUS")"
t_eq "the ticket keeps exactly one charge set" "1 6" \
    "$(q "SELECT count(DISTINCT cs.ticket_id) || ' ' || count(*) FROM charge_sets cs JOIN charge_lines l USING (ticket_id) WHERE cs.ticket_id = '$CUS'")"

# --- the customer pays at hand-back (TicketClosed), once ---
close_ev="{\"ticket_id\":\"$CUS\",\"center\":\"SH01\",\"region\":\"east\",\"outcome\":\"repaired\",\"payer\":\"customer\",\"closed_date\":\"2026-05-21\"}"
closed "$close_ev" >/dev/null
closed "$close_ev" >/dev/null
t_eq "the hand-back posts the payment: cash against the receivable" "1001:55167:0 1122:0:55167" \
    "$(entry_of "payment:$CUS")"
t_eq "a replayed TicketClosed posts no second payment" 1 \
    "$(q "SELECT count(*) FROM journal_entries WHERE ticket_id = '$CUS' AND kind = 'customer_payment'")"
http GET "/v1/settlement/invoices/$invoice" "$AS_TOKEN_FINANCE"
t_jq "the invoice shows the customer lines and is paid" \
    '[.total_cents, .net_cents, .vat_cents, (.lines | length), .paid, .paid_date] | map(tostring) | join(" ")' \
    "55167 48820 6347 6 true 2026-05-21"
t_ledger_balanced "the ledger balances after the payment"

# --- the manufacturer pays (warranty claim): claim labour, parts at cost + 12.5 % handling ---
MAN="TW-$T"
completed "$(ev "$MAN" manufacturer manufacturing_quality)" >/dev/null
t_eq "warranty lines: claim labour, part A at cost + handling, the consumable to the company, the claim fee" \
    "labour:manufacturer:6417 part:manufacturer:18000 part:company:999 fee:manufacturer:700" "$(lines_of "$MAN")"
http GET "/v1/settlement/charges/$MAN" "$AS_TOKEN_FINANCE"
t_jq "the manufacturer owes 25117 cents, the company bears 999, no VAT, no invoice" \
    '[.manufacturer_cents, .company_cents, .customer_cents, .vat_cents, (.invoice_no // "none")] | map(tostring) | join(" ")' \
    "25117 999 0 0 none"
t_jq "the claimed lines name their claim" '[.lines[] | select(.payer == "manufacturer") | .claim_id] | unique | length' 1
t_eq "the warranty entry: claims not yet approved, goodwill, revenue, parts at cost" \
    "1124:25117:0 6601:999:0 6001:0:7117 6051:0:999 6051:0:18000" \
    "$(entry_of "charge:$MAN")"
t_eq "Charged splits the manufacturer's and the company's share" "0/25117/999/0/-" "$(charged "$MAN")"
t_ledger_balanced "the ledger balances after a warranty charge"

# --- goodwill: the company pays everything at claim labour and cost ---
GW="TG-$T"
completed "$(ev "$GW" company customer_visit)" >/dev/null
t_eq "goodwill lines: claim labour, parts at cost, claim fees including travel" \
    "labour:company:6417 part:company:16000 part:company:999 fee:company:700 fee:company:6600" "$(lines_of "$GW")"
t_eq "the goodwill entry: the company's expense against revenue" \
    "6601:30716:0 6001:0:13717 6051:0:16999" "$(entry_of "charge:$GW")"
t_eq "Charged puts 30716 cents on the company" "0/0/30716/0/-" "$(charged "$GW")"
t_ledger_balanced "the ledger balances after a goodwill charge"

# --- effective-dated rates, by the Asia/Shanghai business date ---
D1="TD1-$T" D2="TD2-$T"
completed "$(ev "$D1" customer other | jq -c ".labour_code = \"$LAB2\" | .parts_used = [] | .completed_at = \"2026-02-28T15:59:59Z\"")" >/dev/null
completed "$(ev "$D2" customer other | jq -c ".labour_code = \"$LAB2\" | .parts_used = [] | .completed_at = \"2026-02-28T16:00:00Z\"")" >/dev/null
t_eq "23:59 in Shanghai on 28 February takes the old rate: (1000 + 1500) x 1.13" "2026-02-28 2825" \
    "$(q "SELECT business_date || ' ' || customer_cents FROM charge_sets WHERE ticket_id = '$D1'")"
t_eq "00:00 in Shanghai on 1 March takes the new rate: (2000 + 1500) x 1.13" "2026-03-01 3955" \
    "$(q "SELECT business_date || ' ' || customer_cents FROM charge_sets WHERE ticket_id = '$D2'")"

# --- a missing rate: priced 0, flagged for review, still charged once ---
NR="TN-$T"
completed "$(ev "$NR" customer other | jq -c ".labour_code = \"NOPE$T\" | .parts_used = [{sku: \"NOSKU$T\", qty: 1}]")" >/dev/null
t_eq "a job without rates is flagged incomplete with a note per missing rate" "true 2 1695" \
    "$(q "SELECT incomplete || ' ' || cardinality(notes) || ' ' || customer_cents FROM charge_sets WHERE ticket_id = '$NR'")"
t_eq "its Charged event says it is incomplete" true \
    "$(q "SELECT payload->>'incomplete' FROM outbox WHERE type = 'settlement.Charged' AND payload->>'ticket_id' = '$NR'")"

# --- refunds and exchanges: against the seller's account ---
RF="TR-$T" EX="TX-$T" DC="TZ-$T"
rf="{\"ticket_id\":\"$RF\",\"center\":\"SH01\",\"region\":\"east\",\"outcome\":\"refunded\",\"refund_cents\":399900,\"price_cents\":399900,\"payer\":\"seller\",\"closed_date\":\"2026-05-22\"}"
closed "$rf" >/dev/null
closed "$rf" >/dev/null
t_eq "a refund is recorded against the seller's account" "6603:399900:0 2241:0:399900" "$(entry_of "charge:$RF")"
t_eq "the refund is announced once, as the seller's" "0/0/0/399900/-" "$(charged "$RF")"
closed "{\"ticket_id\":\"$EX\",\"center\":\"SH01\",\"outcome\":\"exchanged\",\"price_cents\":250000,\"closed_date\":\"2026-05-22\"}" >/dev/null
t_eq "an exchange books the product's price against the seller's account" "6603:250000:0 2241:0:250000" \
    "$(entry_of "charge:$EX")"
closed "{\"ticket_id\":\"$DC\",\"center\":\"SH01\",\"outcome\":\"declined\",\"closed_date\":\"2026-05-22\"}" >/dev/null
t_eq "a declined ticket is charged nothing and posts nothing" "declined 0/0/0/0/- 0" \
    "$(q "SELECT kind FROM charge_sets WHERE ticket_id = '$DC'") $(charged "$DC") $(q "SELECT count(*) FROM journal_entries WHERE ticket_id = '$DC'")"
closed "{\"ticket_id\":\"$MAN\",\"center\":\"SH01\",\"outcome\":\"refunded\",\"refund_cents\":120000,\"closed_date\":\"2026-05-23\"}" >/dev/null
t_eq "a repaired ticket refunded later adds the seller's line, without a second Charged" \
    "6603:120000:0 2241:0:120000 120000 0/25117/999/0/-" \
    "$(entry_of "seller:$MAN") $(q "SELECT seller_cents FROM charge_sets WHERE ticket_id = '$MAN'") $(charged "$MAN")"
t_ledger_balanced "the ledger balances after refunds and exchanges"

# --- malformed events are set aside, the stream goes on ---
before=$(q "SELECT last_no FROM ledger_head")
completed "$(ev "TBAD-$T" customer other | jq -c 'del(.center)')" >/dev/null
completed "$(ev "TBAD2-$T" alien other)" >/dev/null
t_eq "events without a centre or with an unknown payer are recorded as rejected" 2 \
    "$(q "SELECT count(*) FROM event_rejects WHERE ticket_id IN ('TBAD-$T', 'TBAD2-$T')")"
t_eq "rejected events post nothing" "$before" "$(q "SELECT last_no FROM ledger_head")"

# --- who may read charges ---
http GET "/v1/settlement/charges/$CUS" "$AS_TOKEN_CENTER"
t_status "the ticket's centre reads its charges" 200
http GET "/v1/settlement/charges/$CUS" "$AS_TOKEN_REGION"
t_status "the centre's region reads its charges" 200
http GET "/v1/settlement/charges/$CUS" "$AS_TOKEN_CENTER_B"
t_status "another centre cannot see them (404, as if missing)" 404
http GET "/v1/settlement/charges/$CUS" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse may not read charges" 403
http GET "/v1/settlement/charges/NOPE-$T" "$AS_TOKEN_FINANCE"
t_status "a ticket without charges is 404" 404

t_ledger_balanced "the ledger balances at the end"
t_done
