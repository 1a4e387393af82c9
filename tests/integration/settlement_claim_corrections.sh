#!/usr/bin/env bash
# Settlement: claim decisions in explicit amounts, and correctable. Amounts are either *_cents
# (integer cents) or *_amount (yuan, a string with two decimals, "50.00"), never both and never
# a bare number that could be either. A decided claim can be corrected — with a reason — until
# it is paid: only the lines named change, the ledger follows the difference (1123 against
# 6602), and the audit keeps the reason with every line before and after. asctl speaks the same.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
MFR="MK$T" LAB="KL$T" A="KPA$T"
out=$(sq <<SQL
INSERT INTO labour_rates VALUES ('$LAB', 'phone_host', '$MFR', '2020-01-01', 'Correction test labour', 6000, 0, 4000, 0);
INSERT INTO parts_prices VALUES ('$A', '2020-01-01', 'Part kept locally', '$MFR', 15000, 10000, false, true);
INSERT INTO claim_handling VALUES ('$MFR', '2020-01-01', 1000);
$(no_fees_sql "$MFR")
SQL
)
t_eq "the test's rate tables are loaded" "" "$out"
K1="KC1-$T"
completed "$(repair_event "$K1" SH01 manufacturer 2026-09-05 ".manufacturer = \"$MFR\" | .labour_code = \"$LAB\" | .parts_used = [{line_no: 1, sku: \"$A\", qty: 1}]")" >/dev/null
C="CLM-$MFR-2026-09-01"
http GET "/v1/settlement/claims/$C" "$AS_TOKEN_FINANCE"
t_jq "the claim holds labour 40.00 and the part 110.00" '[.lines[].claimed_cents] | map(tostring) | join(" ")' "4000 11000"
http POST "/v1/settlement/claims/$C/submit" "$AS_TOKEN_FINANCE" '{}'
t_status "the claim is submitted" 200

# --- explicit amounts ---
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":2,"approved_amount":"50","reason":"capped"}],"approve_others":true}'
t_status "a yuan amount without two decimals is refused" 400
t_jq "the refusal names the field" '.error.fields[0].field' "lines[0].approved_amount"
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":2,"approved_amount":"50.00","approved_cents":5000,"reason":"capped"}],"approve_others":true}'
t_status "an amount given both in yuan and in cents is refused" 400
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":2,"approved_amount":"50.00","reason":"capped at the standard price"}],"approve_others":true}'
t_status "the decision in yuan is recorded" 200
t_jq "50.00 yuan is 5000 cents approved on the part" '[.state, .approved_cents, .lines[1].approved_cents] | map(tostring) | join(" ")' \
    "partially_approved 9000 5000"
t_eq "the decision posts 90.00 receivable and writes off 60.00" "1123:9000:0 6602:6000:0 1124:0:15000" \
    "$(entry_of "claim-decision:$C")"

# --- corrections ---
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":2,"approved":true}]}'
t_status "deciding again without a correction reason is 409" 409
t_jq "the refusal says how to correct" '.error.message | test("correction_reason")' true
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":2,"approved_amount":"80.00","reason":"maker re-priced the part"}],"correction_reason":"maker letter HX-2026-311 raised the part to 80.00"}'
t_status "the decision is corrected" 200
t_jq "the part is now 80.00; labour keeps its decision" \
    '[.state, .approved_cents, .lines[0].state, .lines[0].approved_cents, .lines[1].approved_cents, .lines[1].reason] | map(tostring) | join(" ")' \
    "partially_approved 12000 approved 4000 8000 maker re-priced the part"
t_eq "the correction moves 30.00 from the write-off to the receivable" "1123:3000:0 6602:0:3000" \
    "$(entry_of "claim-correction:$C:1")"
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":1,"approved":false,"reason":"labour not covered"}],"correction_reason":"labour was already paid on KC0"}'
t_status "a second correction rejects the labour line" 200
t_eq "the second correction moves 40.00 back to the write-off" "1123:0:4000 6602:4000:0" \
    "$(entry_of "claim-correction:$C:2")"
t_eq "the receivable for the claim is what is approved now" 8000 \
    "$(q "SELECT sum(debit_cents - credit_cents) FROM journal_lines l JOIN journal_entries e USING (entry_no) WHERE e.claim_id = '$C' AND l.account = '1123'")"
t_eq "each correction is audited with its reason and the lines before and after" \
    "maker letter HX-2026-311 raised the part to 80.00|5000|8000" \
    "$(q "SELECT detail->>'reason' || '|' || (detail->'lines_before'->1->>'approved_cents') || '|' || (detail->'lines_after'->1->>'approved_cents')
          FROM audit WHERE action = 'correct_decision' AND entity_id = '$C' ORDER BY id LIMIT 1")"
t_eq "two ClaimDecided corrections were published after the first decision" 3 \
    "$(q "SELECT count(*) FROM outbox WHERE type = 'settlement.ClaimDecided' AND payload->>'claim_id' = '$C'")"

# --- the payment, in yuan; then no more corrections ---
http POST "/v1/settlement/claims/$C/payment" "$AS_TOKEN_FINANCE" '{"paid_amount":"80","paid_cents":8000}'
t_status "a payment in both units is refused" 400
http POST "/v1/settlement/claims/$C/payment" "$AS_TOKEN_FINANCE" '{"paid_amount":"80.00","reference":"HX-REMIT-'"$T"'"}'
t_status "the payment is recorded in yuan" 200
t_jq "80.00 yuan was paid" '[.state, .paid_cents] | map(tostring) | join(" ")' "paid 8000"
http POST "/v1/settlement/claims/$C/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":2,"approved":true}],"correction_reason":"too late"}'
t_status "a paid claim can no longer be corrected" 409
t_ledger_balanced "the ledger balances after corrections"

# --- asctl: amounts are yuan with two decimals, or explicitly cents ---
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" settlement claim-pay "$C" --amount 80 2>&1)
t_match "asctl refuses a bare number as an amount" "two decimals" "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" settlement claim-decide "$C" --partial 2:50:x 2>&1)
t_match "asctl refuses a bare number in --partial" "two decimals" "$out"
t_done
