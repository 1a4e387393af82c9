#!/usr/bin/env bash
# Settlement periods and corrections: closing a month stops every posting dated in it — a late
# item keeps its business date and is booked in the next open period; a closed period stays
# closed; the ledger is corrected only by reversal entries; the trial balance always balances.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
# A month of the past no other script uses, and the two after it.
Y=$((2021 + RANDOM % 5))
M=$((1 + RANDOM % 10))
P=$(printf '%04d-%02d' "$Y" "$M")
N=$(printf '%04d-%02d' "$Y" $((M + 1)))
NN=$(printf '%04d-%02d' "$Y" $((M + 2)))
THIS=$(TZ=Asia/Shanghai date +%Y-%m)

entry_for() { q "SELECT entry_no FROM journal_entries WHERE source_key = '$1'"; }
booked() { # KEY — "business_date posting_date posting_period"
    q "SELECT business_date || ' ' || posting_date || ' ' || posting_period FROM journal_entries WHERE source_key = '$1'"
}

completed "$(repair_event "PA-$T" SH01 customer "$P-15")" >/dev/null
t_eq "a repair dated in an open period is booked on its date" "$P-15 $P-15 $P" "$(booked "charge:PA-$T")"

# --- closing ---
http POST "/v1/settlement/periods/$P/close" "$AS_TOKEN_CENTER"
t_status "a centre may not close periods" 403
http POST "/v1/settlement/periods/2026-13/close" "$AS_TOKEN_FINANCE"
t_status "a month that does not exist is refused" 400
http POST "/v1/settlement/periods/$THIS/close" "$AS_TOKEN_FINANCE"
t_status "the current month cannot be closed before it ends" 409
t_jq "the refusal says so" .error.code period_not_ended
http POST "/v1/settlement/periods/$P/close" "$AS_TOKEN_FINANCE"
t_status "finance closes a past month" 200
t_jq "the period is closed, by whom, with its totals" \
    '[.period, .state, .closed_by, (.entries >= 1), (.debit_cents == .credit_cents)] | map(tostring) | join(" ")' \
    "$P closed finance true true"
http POST "/v1/settlement/periods/$P/close" "$AS_TOKEN_FINANCE" '{}'
t_status "a closed period cannot be closed again" 409
t_jq "the refusal names the state" '.error.message | test("already closed")' true

# --- late items go to the next open period ---
completed "$(repair_event "PB-$T" SH01 customer "$P-20")" >/dev/null
t_eq "a repair dated in the closed month keeps its date and is booked on the 1st of the next" \
    "$P-20 $N-01 $N" "$(booked "charge:PB-$T")"
closed "{\"ticket_id\":\"PA-$T\",\"center\":\"SH01\",\"outcome\":\"repaired\",\"closed_date\":\"$P-28\"}" >/dev/null
t_eq "a payment dated in the closed month goes to the next one too" "$P-28 $N-01 $N" "$(booked "payment:PA-$T")"
t_eq "nothing was added to the closed month" 1 \
    "$(q "SELECT count(*) FROM journal_entries WHERE posting_period = '$P' AND ticket_id LIKE 'P_-$T'")"
http GET "/v1/settlement/entries/$(entry_for "charge:PB-$T")" "$AS_TOKEN_FINANCE"
t_jq "an entry shows both its business date and its posting period" \
    '[.business_date, .posting_date, .posting_period] | join(" ")' "$P-20 $N-01 $N"

http POST "/v1/settlement/periods/$N/close" "$AS_TOKEN_FINANCE"
t_status "the next month is closed as well" 200
completed "$(repair_event "PC-$T" SH01 customer "$P-25")" >/dev/null
t_eq "with two months closed a late item skips both" "$P-25 $NN-01 $NN" "$(booked "charge:PC-$T")"
http GET "/v1/settlement/periods" "$AS_TOKEN_FINANCE"
t_jq "the period list shows both closed" \
    "[.periods[] | select(.period == \"$P\" or .period == \"$N\") | .state] | join(\",\")" "closed,closed"
t_eq "no entry was created in a closed period after its close" 0 \
    "$(q "SELECT count(*) FROM journal_entries e JOIN periods p ON p.period = e.posting_period
          WHERE p.state = 'closed' AND e.created_at > p.closed_at")"
t_ledger_balanced "the ledger balances after the late postings"

# --- corrections: reversal entries only ---
late=$(entry_for "charge:PB-$T")
http POST "/v1/settlement/entries/$late/reverse" "$AS_TOKEN_CENTER" '{"reason":"x"}'
t_status "a centre may not reverse entries" 403
http POST "/v1/settlement/entries/$late/reverse" "$AS_TOKEN_FINANCE" '{}'
t_status "a reversal needs a reason" 400
reason='wrong rate, see "memo 7"'
http POST "/v1/settlement/entries/$late/reverse" "$AS_TOKEN_FINANCE" "$(jq -nc --arg r "$reason" '{reason: $r}')"
t_status "finance reverses an entry" 201
t_jq "the reversal points at the entry and is booked today, in the open month" \
    '[.kind, (.reverses | tostring), .business_date, .posting_period] | join(" ")' \
    "reversal $late $TODAY $THIS"
rev=$(jbody .entry_no)
t_eq "the reversal swaps every debit and credit" \
    "$(q "SELECT string_agg(account || ':' || credit_cents || ':' || debit_cents, ' ' ORDER BY line_no) FROM journal_lines WHERE entry_no = $late")" \
    "$(q "SELECT string_agg(account || ':' || debit_cents || ':' || credit_cents, ' ' ORDER BY line_no) FROM journal_lines WHERE entry_no = $rev")"
t_eq "the entry and its reversal net to zero on every account" 0 \
    "$(q "SELECT count(*) FROM (SELECT account FROM journal_lines WHERE entry_no IN ($late, $rev)
          GROUP BY account HAVING sum(debit_cents) <> sum(credit_cents)) x")"
http GET "/v1/settlement/entries/$late" "$AS_TOKEN_FINANCE"
t_jq "the original entry shows who reversed it" .reversed_by "$rev"
t_jq "and is otherwise unchanged" '.lines | length > 1' true
http POST "/v1/settlement/entries/$late/reverse" "$AS_TOKEN_FINANCE" '{"reason":"again"}'
t_status "an entry is reversed at most once" 409
http POST "/v1/settlement/entries/$rev/reverse" "$AS_TOKEN_FINANCE" '{"reason":"undo"}'
t_status "a reversal is not itself reversed" 409
http POST "/v1/settlement/entries/999999999/reverse" "$AS_TOKEN_FINANCE" '{"reason":"x"}'
t_status "an unknown entry is 404" 404
http POST "/v1/settlement/entries/abc/reverse" "$AS_TOKEN_FINANCE" '{"reason":"x"}'
t_status "an entry number must be a number" 400
out=$(q "UPDATE journal_lines SET credit_cents = credit_cents + 1 WHERE entry_no = $late") || true
t_match "the database refuses to edit a posted line" "append-only" "$out"
out=$(q "DELETE FROM journal_lines WHERE entry_no = $rev") || true
t_match "the database refuses to delete a posted line" "append-only" "$out"
out=$(q "BEGIN; INSERT INTO journal_lines(entry_no, line_no, account, debit_cents) VALUES ($rev, 99, '1001', 1); COMMIT;") || true
t_match "a line that unbalances an entry is refused at commit" "unbalanced" "$out"

# --- the trial balance ---
http GET "/v1/settlement/balance?period=$P" "$AS_TOKEN_FINANCE"
t_status "finance reads the trial balance of a period" 200
t_jq "the closed period balances" '[.balanced, .entries] | map(tostring) | join(" ")' "true 1"
# (Other services' events may be charged meanwhile: compare when nothing moved in between.)
for i in 1 2 3 4 5; do
    before=$(q "SELECT sum(debit_cents) FROM journal_lines")
    http GET "/v1/settlement/balance" "$AS_TOKEN_FINANCE"
    [ "$before" = "$(q "SELECT sum(debit_cents) FROM journal_lines")" ] && break
done
t_jq "the whole ledger balances" .balanced true
t_eq "the trial balance equals the journal lines" "$before" "$(jbody .debit_cents)"
http GET "/v1/settlement/balance?period=$P" "$AS_TOKEN_CENTER"
t_status "a centre may not read the trial balance" 403
t_ledger_balanced "the ledger balances at the end"
t_done
