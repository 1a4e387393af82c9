#!/usr/bin/env bash
# Settlement claims (结算申请单): warranty charge lines gather in one open claim per
# manufacturer and month; a claim is submitted only when every part that must go back to the
# manufacturer has come back (409 naming the line, or the waiting lines move to the next
# batch); the manufacturer's decision is recorded per line (approved, partially approved or
# rejected, with a reason), then its payment — each step posted to the ledger, which balances
# after every one. Finance only.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
MFR="MC$T" LAB="CL$T" A="CPA$T" B="CPB$T"

out=$(sq <<SQL
INSERT INTO labour_rates VALUES ('$LAB', 'phone_host', '$MFR', '2020-01-01', 'Claim test labour', 6000, 0, 4000, 0);
INSERT INTO parts_prices VALUES
    ('$A', '2020-01-01', 'Part returned to the maker', '$MFR', 15000, 10000, true, true),
    ('$B', '2020-01-01', 'Part kept locally', '$MFR', 3000, 2000, false, true);
INSERT INTO claim_handling VALUES ('$MFR', '2020-01-01', 1000);
$(no_fees_sql "$MFR")
SQL
)
t_eq "the test's rate tables are loaded" "" "$out"

# warranty TICKET DATE PARTS-JSON — a covered repair of the test manufacturer.
warranty() {
    completed "$(repair_event "$1" SH01 manufacturer "$2" ".manufacturer = \"$MFR\" | .labour_code = \"$LAB\" | .parts_used = $3")" >/dev/null
}
C1="CLM-$MFR-2026-08-01" C2="CLM-$MFR-2026-08-02"
K1="K1-$T" K2="K2-$T" K3="K3-$T"

warranty "$K1" 2026-08-05 "[{line_no: 1, sku: \"$A\", qty: 1}, {line_no: 2, sku: \"$B\", qty: 2}]"
warranty "$K2" 2026-08-06 "[{line_no: 1, sku: \"$A\", qty: 1}]"

http GET "/v1/settlement/claims?manufacturer=$MFR" "$AS_TOKEN_FINANCE"
t_status "finance lists the manufacturer's claims" 200
t_jq "warranty lines of one month gather in one open claim" '[.claims[] | .id + "/" + .state] | join(" ")' "$C1/open"
http GET "/v1/settlement/claims/$C1" "$AS_TOKEN_FINANCE"
t_jq "the claim lists labour and parts at claim prices: 4000 + 11000 + 4400, 4000 + 11000" \
    '[.lines[] | .kind + ":" + (.claimed_cents | tostring)] | join(" ")' \
    "labour:4000 part:11000 part:4400 labour:4000 part:11000"
t_jq "the claim totals 34400 cents" .claimed_cents 34400
t_jq "parts the maker wants back wait for their return" '.waiting_lines | map(tostring) | join(",")' "2,5"
t_jq "a waiting line says its part is required back and not returned" \
    '.lines[1] | [.return_required, .returned] | map(tostring) | join(" ")' "true false"

http POST "/v1/settlement/claims/$C1/submit" "$AS_TOKEN_CENTER" '{}'
t_status "a centre may not submit claims" 403
http POST "/v1/settlement/claims/$C1/submit" "$AS_TOKEN_FINANCE"
t_status "a claim with parts not yet returned cannot be submitted" 409
t_jq "the refusal says why" .error.code defective_return_missing
t_jq "the refusal names the first waiting line, its ticket and part" \
    ".error.message | test(\"claim line 2 \\\\(ticket $K1, part $A\\\\)\")" true
t_jq "the refusal lists every waiting line" '.error.message | test("lines waiting: 2, 5")' true
t_eq "the refused claim is still open" open "$(q "SELECT state FROM claims WHERE id = '$C1'")"

# --- the defective part of K1 comes back (parts.DefectiveReturnRecorded) ---
ret="{\"ticket_id\":\"$K1\",\"sku\":\"$A\",\"qty\":1,\"line_no\":1,\"site\":\"WH01\",\"manufacturer\":\"$MFR\",\"returned_at\":\"2026-08-20T02:00:00Z\"}"
returned "$ret" >/dev/null
returned "$ret" >/dev/null
returned "{\"ticket_id\":\"$K2\",\"sku\":\"$B\",\"qty\":1,\"returned_at\":\"2026-08-20T02:00:00Z\"}" >/dev/null
t_eq "a replayed return is recorded once" 1 "$(q "SELECT count(*) FROM defective_returns WHERE ticket_id = '$K1'")"
http GET "/v1/settlement/claims/$C1" "$AS_TOKEN_FINANCE"
t_jq "the returned part's line no longer waits; another part of another ticket does not count" \
    '.waiting_lines | map(tostring) | join(",")' "5"
http POST "/v1/settlement/claims/$C1/submit" "$AS_TOKEN_FINANCE" '{}'
t_status "one line still waiting still blocks the claim" 409
t_jq "the refusal names that line" ".error.message | test(\"claim line 5 \\\\(ticket $K2\")" true

# --- submit now, moving the waiting line to the next batch ---
http POST "/v1/settlement/claims/$C1/submit" "$AS_TOKEN_FINANCE" '{"defer_waiting":true}'
t_status "with defer_waiting the claim is submitted" 200
t_jq "the claim is submitted with its four ready lines" \
    '[.state, (.lines | length), .claimed_cents, ([.lines[].state] | unique | join(","))] | map(tostring) | join(" ")' \
    "submitted 4 23400 submitted"
t_jq "the waiting line moved to the next batch" .deferred_to "$C2"
t_eq "the next batch is open with that line" "open 1 11000 $K2" \
    "$(q "SELECT c.state || ' ' || count(*) || ' ' || c.claimed_cents || ' ' || min(l.ticket_id) FROM claims c JOIN claim_lines l ON l.claim_id = c.id WHERE c.id = '$C2' GROUP BY c.id")"
http POST "/v1/settlement/claims/$C1/submit" "$AS_TOKEN_FINANCE" '{}'
t_status "a submitted claim cannot be submitted again" 409
t_jq "the refusal names the state" '.error.message | test("is in state submitted")' true
warranty "$K3" 2026-08-28 "[]"
t_eq "work completed after the submission joins the open batch" "$C2" \
    "$(q "SELECT claim_id FROM claim_lines WHERE ticket_id = '$K3'")"
t_ledger_balanced "the ledger balances after charging and submitting"

# --- the manufacturer's decision, per line ---
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":1,"approved":true}]}'
t_status "every line needs a decision" 422
t_jq "the refusal lists the undecided lines" '.error.message | test("lines 2, 3, 4 have no decision")' true
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":2,"approved_cents":10000}],"approve_others":true}'
t_status "a partial approval without a reason is refused" 422
t_jq "the refusal asks for the reason" .error.code reason_required
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":2,"approved_cents":11001,"reason":"x"}],"approve_others":true}'
t_status "approving more than was claimed is refused" 422
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":99,"approved":true}],"approve_others":true}'
t_status "a decision on a line the claim does not have is refused" 422
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" '{"lines":[{"line_no":3,"approved":false,"approved_cents":5}]}'
t_status "a rejected line approving money is a validation error" 400
t_eq "refused decisions change nothing" "submitted 0" \
    "$(q "SELECT state || ' ' || (SELECT count(*) FROM journal_entries WHERE claim_id = '$C1' AND kind = 'claim_decision') FROM claims WHERE id = '$C1'")"
decision='{"lines":[{"line_no":1,"approved":true},{"line_no":2,"approved_cents":10000,"reason":"handling is not reimbursed"},{"line_no":3,"approved":false,"reason":"not a warranty part"}],"approve_others":true}'
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" "$decision"
t_status "the decision is recorded" 200
t_jq "one line rejected and one reduced make the claim partially approved" \
    '[.state, .approved_cents] | map(tostring) | join(" ")' "partially_approved 18000"
t_jq "each line carries its state, amount and reason" \
    '[.lines[] | .state + ":" + (.approved_cents | tostring) + ":" + (.reason // "-")] | join(" | ")' \
    "approved:4000:- | partially_approved:10000:handling is not reimbursed | rejected:0:not a warranty part | approved:4000:-"
t_eq "the decision posts: approved to the receivable, the rest written off, the claim cleared" \
    "1123:18000:0 6602:5400:0 1124:0:23400" "$(entry_of "claim-decision:$C1")"
t_ledger_balanced "the ledger balances after the decision"
http POST "/v1/settlement/claims/$C1/decision" "$AS_TOKEN_FINANCE" "$decision"
t_status "a decided claim cannot be decided again" 409

# --- the payment ---
http POST "/v1/settlement/claims/$C1/payment" "$AS_TOKEN_FINANCE" '{"paid_cents":18001}'
t_status "paying more than was approved is refused" 422
http POST "/v1/settlement/claims/$C1/payment" "$AS_TOKEN_FINANCE" '{"paid_date":"2099-01-01"}'
t_status "a payment dated in the future is refused" 422
http POST "/v1/settlement/claims/$C1/payment" "$AS_TOKEN_FINANCE" '{"paid_cents":17500,"paid_date":"2026-10-15","reference":"REM-'"$T"'"}'
t_status "the payment is recorded" 200
t_jq "the claim is paid" '[.state, .paid_cents, .paid_date, .reference] | map(tostring) | join(" ")' \
    "paid 17500 2026-10-15 REM-$T"
t_jq "approved lines are paid, the rejected one stays rejected" '[.lines[].state] | join(",")' \
    "paid,paid,rejected,paid"
t_eq "the payment posts cash, writes off the shortfall and clears the receivable" \
    "1001:17500:0 6602:500:0 1123:0:18000" "$(entry_of "claim-payment:$C1")"
# October may have been closed by another test on this shared stack (the demo day closes a
# period): then the payment posts to the first open period after it.
open_period=$(q "SELECT to_char(m, 'YYYY-MM') FROM generate_series(date '2026-10-01', date '2028-12-01', interval '1 month') m
                 WHERE NOT EXISTS (SELECT 1 FROM periods WHERE period = to_char(m, 'YYYY-MM') AND state = 'closed')
                 ORDER BY m LIMIT 1")
t_eq "the payment keeps its date and posts to the first open period" "2026-10-15 $open_period" \
    "$(q "SELECT business_date || ' ' || posting_period FROM journal_entries WHERE source_key = 'claim-payment:$C1'")"
http POST "/v1/settlement/claims/$C1/payment" "$AS_TOKEN_FINANCE" '{}'
t_status "a paid claim cannot be paid again" 409
t_ledger_balanced "the ledger balances after the payment"

# --- the next batch: all rejected; an Idempotency-Key makes a retried submit safe ---
returned "{\"ticket_id\":\"$K2\",\"sku\":\"$A\",\"qty\":1,\"line_no\":1,\"return_id\":\"DR-$T\"}" >/dev/null
http POST "/v1/settlement/claims/$C2/submit" "$AS_TOKEN_FINANCE" '' -H "Idempotency-Key: sub-$T"
t_status "the next batch is submitted once its part is back" 200
http POST "/v1/settlement/claims/$C2/submit" "$AS_TOKEN_FINANCE" '' -H "Idempotency-Key: sub-$T"
t_status "a retried submit with the same Idempotency-Key gets the same answer" 200
http POST "/v1/settlement/claims/$C2/submit" "$AS_TOKEN_FINANCE" ''
t_status "a new submit of the submitted claim is refused" 409
http POST "/v1/settlement/claims/$C2/decision" "$AS_TOKEN_FINANCE" \
    '{"lines":[{"line_no":1,"approved":false,"reason":"part not defective"},{"line_no":2,"approved":false,"reason":"no fault found"}]}'
t_jq "a claim with every line rejected is rejected" '[.state, .approved_cents] | map(tostring) | join(" ")' "rejected 0"
t_eq "the rejection writes the whole claim off" "6602:15000:0 1124:0:15000" "$(entry_of "claim-decision:$C2")"
http POST "/v1/settlement/claims/$C2/payment" "$AS_TOKEN_FINANCE" '{}'
t_status "a rejected claim cannot be paid" 409

# --- what it all adds up to ---
t_eq "nothing of this manufacturer is left unapproved or unpaid" "0 0" \
    "$(q "SELECT coalesce(sum(debit_cents - credit_cents) FILTER (WHERE account = '1124'), 0) || ' ' ||
             coalesce(sum(debit_cents - credit_cents) FILTER (WHERE account = '1123'), 0)
          FROM journal_lines WHERE manufacturer = '$MFR'")"
t_eq "each step was announced" "ClaimDecided:2 ClaimPaid:1 ClaimSubmitted:2" \
    "$(q "SELECT string_agg(t || ':' || n, ' ' ORDER BY t) FROM (SELECT split_part(type, '.', 2) AS t, count(*) AS n
          FROM outbox WHERE payload->>'claim_id' IN ('$C1', '$C2') GROUP BY 1) x")"
t_eq "every transition left an audit row" "decide:2 pay:1 submit:2" \
    "$(q "SELECT string_agg(action || ':' || n, ' ' ORDER BY action) FROM (SELECT action, count(*) AS n
          FROM audit WHERE entity = 'claim' AND entity_id IN ('$C1', '$C2') GROUP BY 1) x")"
http GET "/v1/settlement/claims?manufacturer=$MFR&state=paid" "$AS_TOKEN_ADMIN"
t_jq "admin lists claims by state" '[.claims[].id] | join(" ")' "$C1"
http GET "/v1/settlement/claims?state=lost" "$AS_TOKEN_FINANCE"
t_status "an unknown state filter is refused" 400
http GET "/v1/settlement/claims/CLM-NOPE-$T" "$AS_TOKEN_FINANCE"
t_status "an unknown claim is 404" 404
t_ledger_balanced "the ledger balances at the end"
t_done
