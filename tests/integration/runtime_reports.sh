#!/usr/bin/env bash
# Reports run on the read connection, read-only (decision 31).
#
# A database session holds the table intake's scorecard reads (scorecard_weights) and the one
# settlement's cost report reads (charge_lines) locked, so both reports wait in PostgreSQL; while
# they wait, intake opens a ticket and settlement answers its price list — the commands on the
# main connections are not held up behind the reports (before decision 31 the reports were
# pipelined on the main connection, and the ticket waited for the lock with them). Released, the
# reports answer exactly what they answered before the lock. And the read connection cannot
# write: a write command sent through exec_read_batch() fails with SQLSTATE 25006 and changes
# nothing. No timing is asserted: "waiting" is read from pg_stat_activity.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
t_scratch

from=$(days_ago 40)
to=$(days_ago 10)
SCORE="/v1/reports/scorecard?from=$from&to=$to"
COSTS="/v1/settlement/costs?group=center&from=$from&to=$to"

http GET "$SCORE" "$AS_TOKEN_CENTER"
t_status "the scorecard answers" 200
score_before=$HTTP_BODY
http GET "$COSTS" "$AS_TOKEN_FINANCE"
t_status "the cost report answers" 200
costs_before=$HTTP_BODY

mkfifo "$TMP/lock.in"
"${AS_ROOT:-.}"/deploy/local/stack.sh psql super -XAtq -v ON_ERROR_STOP=1 <"$TMP/lock.in" \
    >"$TMP/lock.out" 2>&1 &
LOCKER=$!
PIDS+=("$LOCKER")
exec 7>"$TMP/lock.in"
echo "BEGIN; LOCK TABLE intake.scorecard_weights, settlement.charge_lines IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
locked() { grep -c '^locked$' "$TMP/lock.out" 2>/dev/null; }
t_poll "a session holds the reports' tables locked" 1 locked

curl -s -o "$TMP/score" -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $AS_TOKEN_CENTER" \
    "$AS_GATEWAY_URL$SCORE" >"$TMP/score.status" &
SCORE_PID=$!
PIDS+=("$SCORE_PID")
curl -s -o "$TMP/costs" -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $AS_TOKEN_FINANCE" \
    "$AS_GATEWAY_URL$COSTS" >"$TMP/costs.status" &
COSTS_PID=$!
PIDS+=("$COSTS_PID")
waiting() {
    q super "SELECT count(DISTINCT application_name) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND application_name IN ('as-intake', 'as-settlement')"
}
t_poll "both reports wait in PostgreSQL" 2 waiting

imei=$(new_imei)
T_HTTP_TIMEOUT=20 http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg inv "$(days_ago 40)" --arg imei "$imei" '{
  customer: {name: "Read Connection", phone: "13900004444"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", description: "will not power on", listed: true}, request: "repair"}')"
t_status "intake opens a ticket while its scorecard waits" 201
id=$(jbody .id)
T_HTTP_TIMEOUT=20 http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
t_status "... and reads it back" 200
T_HTTP_TIMEOUT=20 http GET "/v1/settlement/rates?date=$to" "$AS_TOKEN_FINANCE"
t_status "settlement answers its price list while its cost report waits" 200
t_eq "the reports are still waiting (the commands were answered before them)" 2 "$(waiting)"
kill -0 "$SCORE_PID" 2>/dev/null && kill -0 "$COSTS_PID" 2>/dev/null && still=yes || still=no
t_eq "... their HTTP requests are still open" yes "$still"

echo "COMMIT;" >&7
exec 7>&-
wait "$LOCKER" 2>/dev/null
wait "$SCORE_PID" "$COSTS_PID"
t_eq "the scorecard is answered once the lock is gone" 200 "$(cat "$TMP/score.status")"
t_eq "... the same as before" "$(jq -S . <<<"$score_before")" "$(jq -S . "$TMP/score")"
t_eq "the cost report is answered once the lock is gone" 200 "$(cat "$TMP/costs.status")"
t_eq "... the same as before" "$(jq -S . <<<"$costs_before")" "$(jq -S . "$TMP/costs")"

# Read-only: a write sent to the read connection's batch function fails and changes nothing.
n_before=$(q intake "SELECT count(*) FROM scorecard_weights")
out=$(q intake "SELECT exec_read_batch(jsonb_build_array(jsonb_build_object(
    'r', 'read-only-check', 'f', 'cmd_add_scorecard_weights',
    'p', '{\"subject\": \"admin\", \"role\": \"admin\"}'::jsonb,
    'a', jsonb_build_object('effective_from', '2099-01-01', 'turnaround', 1000))))->0->'error'->>'sqlstate'")
t_eq "a write through exec_read_batch fails: read-only transaction" 25006 "$out"
t_eq "... and adds no weight set" "$n_before" "$(q intake "SELECT count(*) FROM scorecard_weights")"
t_eq "... and stores no reply" 0 "$(q intake "SELECT count(*) FROM commands WHERE request_id = 'read-only-check'")"
# settlement's reads go through read_call(): a probe function (made for this check, dropped
# after) says what transaction_read_only is while read_call runs it.
q super "CREATE FUNCTION settlement.read_only_probe(p jsonb, a jsonb) RETURNS jsonb LANGUAGE sql
         AS \$\$ SELECT to_jsonb(current_setting('transaction_read_only')) \$\$" >/dev/null
t_eq "settlement's read_call runs its read in a read-only transaction" '"on"' \
    "$(q settlement "SELECT read_call('read_only_probe', '{}', '{}')")"
q super "DROP FUNCTION settlement.read_only_probe(jsonb, jsonb)" >/dev/null

t_done
