#!/usr/bin/env bash
# Intake: promised deadlines (issue 19.2). Every ticket is promised "ready by" its centre's
# service level for the category; waiting for the customer's consent pauses the clock; running
# promises become at risk, then overdue, and a missed one escalates desk -> centre_manager ->
# region on a timer kept in the database, so a step missed while the service is down happens at
# the next start. Time moves by restarting intake in test mode with a clock offset (as the
# surveys escalation tests do), never by sleeping; the script puts intake back at the end.
. "$(dirname "$0")/../lib.sh"

ROOT=${AS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd -P)}
BIN=${AS_BIN:-build/bin}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac

# in_restart [NAME=VALUE...] — stop as-intake (SIGTERM; SIGKILL with IN_KILL=1), start it again
in_restart() { SVC_KILL=${IN_KILL:-0} svc_restart intake "$@"; }
at_offset() { in_restart AS_INTAKE_TEST_MODE=1 AS_INTAKE_CLOCK_OFFSET_S=$(($1)); }
restore() {
    in_restart >/dev/null 2>&1 || true
    http POST /v1/service-levels "$AS_TOKEN_ADMIN" '{"center":"SH01","category":"phone_charger","hours":0}'
}
trap restore EXIT

ticket_body() { # invoice_date imei [flags]
    jq -nc --arg inv "$1" --arg imei "$2" --argjson flags "${3:-{\}}" '{
      customer: {name: "Zhou Min", phone: "13900005555"},
      device: {category: "phone_charger", brand: "Huaxin", model: "HX-C1", serial: $imei},
      purchase: {invoice_date: $inv, price_cents: 9900, invoice: true, warranty_card: true},
      fault: {code: "NO_CHARGE", listed: true}, flags: $flags, request: "repair"}'
}
wait_level() { wait_http "/v1/tickets/$1" "$AS_TOKEN_CENTER" .promise_level "$2"; } # id level
events() { # ticket to_level
    q intake "SELECT count(*) FROM outbox WHERE type = 'intake.PromiseEscalated'
              AND payload->>'ticket_id' = '$1' AND payload->>'to_level' = '$2'"
}
epoch() { date -d "$1" +%s; }

# --- service levels: read, validated, admin only ----------------------------------------------

http GET /v1/service-levels "$AS_TOKEN_CENTER"
t_status "a desk reads the service levels" 200
t_jq "the default is 72 hours" .default_hours 72
http POST /v1/service-levels "$AS_TOKEN_CENTER" '{"center":"SH01","category":"phone_charger","hours":10}'
t_status "only head office sets a service level" 403
http POST /v1/service-levels "$AS_TOKEN_ADMIN" '{"center":"SH01","category":"toaster","hours":10}'
t_status "an unknown category is refused" 400
t_jq "the refusal names the field" '.error.fields[0].field' category
http POST /v1/service-levels "$AS_TOKEN_ADMIN" '{"center":"SH01","category":"phone_charger","hours":9000}'
t_status "hours beyond a year are refused" 400
t_jq "the refusal names hours" '.error.fields[0].field' hours
http POST /v1/service-levels "$AS_TOKEN_ADMIN" '{"center":"NOPE9","category":"phone_charger","hours":10}'
t_status "an unknown centre is 422" 422
t_jq "the refusal says unknown_center" .error.code unknown_center
http POST /v1/service-levels "$AS_TOKEN_ADMIN" '{"center":"SH01","category":"phone_charger","hours":10}'
t_status "head office sets SH01's charger level to 10 hours" 200
t_jq "the level applies at once" .effective_hours 10
http GET "/v1/service-levels?center=SH01" "$AS_TOKEN_ADMIN"
t_jq "the level is listed" '[.levels[] | select(.center == "SH01" and .category == "phone_charger")][0].hours' 10

# --- the promise on a new ticket ----------------------------------------------------------------

# A: a covered repair (bought 40 days ago) that runs to the promise and past it.
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body "$(days_ago 40)" "A$(new_imei)")"
t_status "ticket A opens" 201
a=$(jbody .id)
t_jq "the ticket carries its service level" .promise_hours 10
opened=$(jbody .opened_at)
promised=$(jbody .promised_at)
t_eq "promised_at is 10 hours after the opening" 36000 "$(($(epoch "$promised") - $(epoch "$opened")))"
t_jq "a fresh promise is neither at risk nor overdue" '"\(.at_risk)/\(.overdue)/\(.promise_level)"' false/false/desk
wait_state "$a" adjudicated
http POST "/v1/tickets/$a/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_CHARGE"}'
t_jq "ticket A is in repair" .state in_repair
http GET "/v1/tickets?center=SH01&limit=5" "$AS_TOKEN_CENTER"
t_jq "the list shows the promise too" "[.tickets[] | select(.id == \"$a\")][0].promised_at" "$promised"

# B: paid work (misuse), waiting for the customer's consent: the clock stands still.
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body "$(days_ago 40)" "B$(new_imei)" '{"misuse":true}')"
b=$(jbody .id)
b_promised=$(jbody .promised_at)
wait_state "$b" adjudicated
http POST "/v1/tickets/$b/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","estimate_cents":3000}'
t_jq "ticket B waits for consent" .state estimate_pending
t_jq "waiting for the customer pauses the promise" .promise_paused true

# --- 8 hours later: A is at risk, B's promise moved with the clock ------------------------------

t_check "intake restarts 8 hours ahead (test mode)" at_offset 8*3600
http GET "/v1/tickets/$a" "$AS_TOKEN_CENTER"
t_jq "two hours before the promise, A is at risk" '"\(.at_risk)/\(.overdue)"' true/false
http GET "/v1/tickets/$b" "$AS_TOKEN_CENTER"
t_jq "a paused promise is not at risk" '"\(.at_risk)/\(.overdue)/\(.promise_paused)"' false/false/true
moved=$(($(epoch "$(jbody .promised_at)") - $(epoch "$b_promised")))
if [ "$moved" -ge 28800 ] && [ "$moved" -lt 28900 ]; then
    t_ok "B's promised_at moved by the 8 paused hours"
else
    t_fail "B's promised_at moved by the 8 paused hours" "moved by $moved s"
fi
http GET "/v1/promises?status=at_risk" "$AS_TOKEN_CENTER"
t_status "the desk lists its promises at risk" 200
t_jq "A is listed at risk" "[.tickets[] | select(.id == \"$a\")] | length" 1
t_jq "B (paused) is not" "[.tickets[] | select(.id == \"$b\")] | length" 0
http GET "/v1/promises?status=at_risk" "$AS_TOKEN_CENTER_B"
t_jq "another centre's desk does not see A" "[.tickets[] | select(.id == \"$a\")] | length" 0
http GET "/v1/promises?status=late" "$AS_TOKEN_CENTER"
t_status "an unknown status is refused" 400
t_jq "the refusal names status" '.error.message | test("status")' true

# --- 11 hours: A is overdue and escalated to the centre manager --------------------------------

t_check "intake restarts 11 hours ahead" at_offset 11*3600
if wait_level "$a" centre_manager; then
    t_ok "a missed promise escalates to the centre manager"
else
    t_fail "a missed promise escalates to the centre manager" "level is $(jbody .promise_level)"
fi
t_jq "A is overdue" '"\(.at_risk)/\(.overdue)"' false/true
t_jq "the escalation is in A's timeline" '[.timeline[] | select(.event == "promise_escalated")] | length' 1
t_eq "intake.PromiseEscalated is published once" 1 "$(events "$a" centre_manager)"
http GET "/v1/promises?status=overdue" "$AS_TOKEN_REGION"
t_jq "the region lists A as overdue" "[.tickets[] | select(.id == \"$a\")] | length" 1
t_jq "B is not overdue while paused" "[.tickets[] | select(.id == \"$b\")] | length" 0
http GET "/v1/reports/promises?center=SH01" "$AS_TOKEN_CENTER"
t_status "the promise report answers" 200
t_jq "SH01 counts overdue and escalated promises" '.rows[0] | .overdue >= 1 and .escalated >= 1' true
http GET "/v1/reports/promises" "$AS_TOKEN_CENTER_B"
t_jq "another centre's report has only its own row" '[.rows[].center] | map(select(. == "SH01")) | length' 0
http GET "/v1/reports/promises?from=2026-13-01" "$AS_TOKEN_CENTER"
t_status "a bad date is refused" 400

http POST "/v1/tickets/$b/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
t_jq "consent restarts B's clock" '"\(.state)/\(.promise_paused)/\(.overdue)"' in_repair/false/false
b_after=$(jbody .promised_at)

# --- killed, and started again 35 hours ahead: the steps missed meanwhile happen at start -----

if IN_KILL=1 at_offset 35*3600; then
    t_ok "intake is killed (SIGKILL) and starts 35 hours ahead"
else
    t_fail "intake is killed (SIGKILL) and starts 35 hours ahead" "not healthy"
fi
if wait_level "$a" region; then
    t_ok "24 hours after the centre manager, A goes to the region"
else
    t_fail "24 hours after the centre manager, A goes to the region" "level is $(jbody .promise_level)"
fi
t_eq "one escalation event per step" "1/1" "$(events "$a" centre_manager)/$(events "$a" region)"
if wait_level "$b" centre_manager; then
    t_ok "B, 24 running hours into a 10-hour promise, is escalated once"
else
    t_fail "B, 24 running hours into a 10-hour promise, is escalated once" "level is $(jbody .promise_level)"
fi
t_jq "B's promise kept its date (the pause counted once)" .promised_at "$b_after"
t_eq "B has not reached the region" 0 "$(events "$b" region)"

# --- the promise ends when the device is ready --------------------------------------------------

http POST "/v1/tickets/$a/repair-complete" "$AS_TOKEN_CENTER" '{"labour_minutes":20,"cause":"manufacturing_quality"}'
t_jq "A is ready" .state ready
t_jq "A's promise is over, and was missed" '"\(.promise_kept)/\(.overdue)/\(.at_risk)"' false/false/false
t_match "the clock stopped at the repair" '^20[0-9-]+T' "$(jbody .promise_met_at)"
http GET "/v1/promises" "$AS_TOKEN_CENTER"
t_jq "a ready ticket leaves the list" "[.tickets[] | select(.id == \"$a\")] | length" 0
http GET "/v1/reports/promises?center=SH01&from=$(days_ago 2)&to=$(TZ=Asia/Shanghai date -d '+3 days' +%F)" "$AS_TOKEN_ADMIN"
t_jq "the report counts a missed promise" '.rows[0].missed >= 1' true

# --- asctl ---------------------------------------------------------------------------------------

ASCTL=$BIN/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket promises --status overdue 2>&1)
t_match "asctl ticket promises lists B as overdue" "$b .* yes +centre_manager" "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket promise-report --center SH01 2>&1)
t_match "asctl ticket promise-report shows SH01" 'SH01 +east' "$out"
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" service-level set SH01 car 48 >/dev/null 2>&1
t_eq "asctl service-level set is refused to a desk (exit 3)" 3 "$?"
t_check "asctl service-level set works for head office" \
    "$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" service-level set SH01 phone_charger 12
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" service-level list --center SH01 2>&1)
t_match "asctl service-level list shows the new hours" 'SH01 +phone_charger +12' "$out"

t_check "intake starts again in normal mode" in_restart

# With no promise running, the timer has nothing to wait for: the next check is "none" (NULL),
# not "now" (0 made the timer check again at once, in a loop, while nothing ran).
t_eq "no running promise: no next check (NULL, not 0)" "null" "$(q intake "
    BEGIN;
    UPDATE tickets SET promise_next_check_at = NULL WHERE promise_next_check_at IS NOT NULL;
    UPDATE service_orders SET promise_next_check_at = NULL WHERE promise_next_check_at IS NOT NULL;
    SELECT coalesce(promise_next_check_ms()::text, 'null');
    ROLLBACK;" | grep -E '^(null|[0-9]+)$')"
t_done
