#!/usr/bin/env bash
# Intake: on-site service orders (issue 19.3, docs/onsite.md). An order for an address moves
# requested -> scheduled (a technician with the skill, in the order's region) -> dispatched ->
# on_site (check-in) -> done (check-out: work done, distance) -> confirmed (the customer's
# signature), or is cancelled before the technician is on site; wrong states are 409, bad fields
# 400 naming them, unknown references 422, other roles and centres 403/404, and a refusal changes
# nothing. The workload view counts a technician's orders of a day; a hotline repair request opens
# an order in one step; the travel fee reaches settlement (the customer's, or the manufacturer's
# when the linked ticket is covered); the 24-hour response promise is listed overdue and escalated
# by the promise timer after a restart (time moves by restarting intake with a test clock offset,
# never by sleeping; the script puts intake back at the end).
. "$(dirname "$0")/../lib.sh"

ROOT=${AS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd -P)}
BIN=${AS_BIN:-build/bin}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
ASCTL=$BIN/asctl
RUN=$RANDOM$RANDOM
phone="137$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))"
day=$(TZ=Asia/Shanghai date -d '+2 days' +%F)
days_ago() { TZ=Asia/Shanghai date -d "-$1 days" +%F; }
orders_for() { q intake "SELECT count(*) FROM service_orders WHERE customer_phone = '$1'"; }
order_state() { q intake "SELECT state || '/' || coalesce(technician, '-') FROM service_orders WHERE id = '$1'"; }

# in_restart [NAME=VALUE...] — stop as-intake, start it again with these settings in its
# environment (svc_restart, as intake_deadlines.sh does)
in_restart() { svc_restart intake "$@"; }
restarted=0
restore() { [ "$restarted" = 0 ] || in_restart >/dev/null 2>&1 || true; }
trap restore EXIT

order_body() { # phone [jq]
    jq -nc --arg p "$1" --arg d "$day" '{
      customer: {name: "Sun Li", phone: $p}, address: "88 Huaihai Road, flat 1201, Shanghai",
      category: "phone_host", brand: "Huaxin", model: "HX-10",
      fault: "the phone does not power on", window_start: ($d + "T01:00:00Z"),
      window_end: ($d + "T03:00:00Z")}' | jq -c "${2:-.}"
}
tech() { # login name center skills-json [token]
    http POST /v1/technicians "${5:-$AS_TOKEN_ADMIN}" \
        "$(jq -nc --arg l "$1" --arg n "$2" --arg c "$3" --argjson s "$4" '{login: $l, name: $n, center: $c, skills: $s}')"
}

# --- technicians ---------------------------------------------------------------------------------

T1=tech.sh.$RUN
T2=tech.car.$RUN
T3=tech.gz.$RUN
# technicians are staff logins of their centre (people), which intake checks against its copy
for acct in "$T1 SH01" "$T2 SH01" "$T3 GZ01"; do
    # shellcheck disable=SC2086 # login and centre
    staff_account $acct || t_fail "a staff account for technician ${acct% *}" "HTTP $HTTP_STATUS $HTTP_BODY"
done
tech "$T1" "Wu Gang" SH01 '["phone_host","phone_battery"]' "$AS_TOKEN_CENTER"
t_status "a desk registers a technician of its centre" 201
t_jq "the technician carries the centre's region" '"\(.center)/\(.region)/\(.active)"' SH01/east/true
tech "$T2" "Ma Chao" SH01 '["car"]'
t_status "head office registers a car technician" 201
tech "$T3" "Lin Hui" GZ01 '["phone_host"]'
t_status "a technician in Guangzhou (region south)" 201
tech "$T3" "Lin Hui" GZ01 '["phone_host"]' "$AS_TOKEN_CENTER"
t_status "a desk may not manage another centre's technicians" 403
tech "x.$RUN" "" SH01 '["spaceships"]'
t_status "bad technician fields are refused" 400
t_jq "every bad field is named" '[.error.fields[].field] | sort | join(",")' "name,skills[0]"
http GET "/v1/technicians?skill=car" "$AS_TOKEN_CENTER"
t_jq "the registry lists by skill" "[.technicians[] | select(.login == \"$T2\")] | length" 1

# --- bad input changes nothing ---------------------------------------------------------------------

n0=$(orders_for "$phone")
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone" \
    '.category = "toaster" | .window_end = .window_start | del(.address)')"
t_status "bad order fields are refused" 400
t_jq "every bad field is named" '[.error.fields[].field] | sort | join(",")' "address,category,window_end"
http POST /v1/service-orders "$AS_TOKEN_ADMIN" "$(order_body "$phone" '.center = "NOPE9"')"
t_status "an unknown centre is 422" 422
t_jq "the refusal says unknown_center" .error.code unknown_center
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone" '.ticket_id = "T99999999"')"
t_status "an unknown ticket is 422" 422
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone" '.center = "GZ01"')"
t_status "a desk may not open orders for another centre" 403
http POST /v1/service-orders "$AS_TOKEN_REVIEWER" "$(order_body "$phone")"
t_status "a reviewer may not open orders" 403
t_eq "nothing refused was recorded" "$n0" "$(orders_for "$phone")"

# --- the flow --------------------------------------------------------------------------------------

http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone")"
t_status "a desk opens an on-site order" 201
A=$(jbody .id)
t_match "the order has an id" '^SO[0-9]{8}$' "$A"
t_jq "it is requested, for the desk's centre" '"\(.state)/\(.center)/\(.region)"' requested/SH01/east
t_jq "it promises a response" '(.respond_by | length > 0) and .overdue == false' true
t_jq "the timeline starts" '.timeline[0].event' requested

http POST "/v1/service-orders/$A/dispatch" "$AS_TOKEN_CENTER" '{}'
t_status "dispatch before scheduling is a wrong state" 409
t_jq "the refusal says illegal_transition" .error.code illegal_transition
http POST "/v1/service-orders/$A/schedule" "$AS_TOKEN_CENTER" '{"technician":"nobody.here"}'
t_status "an unknown technician is 422" 422
t_jq "the refusal says unknown_technician" .error.code unknown_technician
http POST "/v1/service-orders/$A/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$T2\"}"
t_status "a technician without the skill is 422" 422
t_jq "the refusal says technician_lacks_skill" .error.code technician_lacks_skill
http POST "/v1/service-orders/$A/schedule" "$AS_TOKEN_ADMIN" "{\"technician\":\"$T3\"}"
t_status "a technician of another region is 422" 422
t_jq "the refusal says technician_outside_region" .error.code technician_outside_region
http POST "/v1/service-orders/$A/schedule" "$AS_TOKEN_CENTER_B" "{\"technician\":\"$T1\"}"
t_status "another centre's desk does not find the order" 404
http GET "/v1/service-orders/$A" "$AS_TOKEN_FINANCE"
t_status "finance has no access to service orders" 403
t_eq "nothing refused changed the order" "requested/-" "$(order_state "$A")"

http POST "/v1/service-orders/$A/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$T1\",\"note\":\"call before\"}"
t_status "the desk schedules the skilled technician of its region" 200
t_jq "the order is scheduled to him" '"\(.state)/\(.technician)/\(.technician_name)"' "scheduled/$T1/Wu Gang"
http GET "/v1/technicians/workload?date=$day" "$AS_TOKEN_CENTER"
t_status "the workload view answers" 200
t_jq "the technician has the order that day" "[.rows[] | select(.login == \"$T1\")][0] | \"\(.orders)/\(.open)/\(.order_ids | index(\"$A\") != null)\"" 1/1/true
http GET "/v1/technicians/workload?date=$day" "$AS_TOKEN_CENTER_B"
t_jq "another centre does not see him" "[.rows[] | select(.login == \"$T1\")] | length" 0
http GET "/v1/service-orders?technician=$T1&date=$day" "$AS_TOKEN_CENTER"
t_jq "the list filters by technician and day" "[.orders[].id] | index(\"$A\") != null" true
http GET "/v1/service-orders?state=scheduled&center=SH01" "$AS_TOKEN_REGION"
t_jq "the region sees its centre's orders" "[.orders[] | select(.id == \"$A\")] | length" 1
http GET "/v1/service-orders?state=scheduled" "$AS_TOKEN_CENTER_B"
t_jq "another centre's list does not show it" "[.orders[] | select(.id == \"$A\")] | length" 0
http GET "/v1/service-orders?state=flying" "$AS_TOKEN_CENTER"
t_status "an unknown state filter is refused" 400

http POST "/v1/service-orders/$A/dispatch" "$AS_TOKEN_CENTER" '{}'
t_jq "dispatched" .state dispatched
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" '{"work_done":"x","distance_km":3}'
t_status "check-out before check-in is a wrong state" 409
http POST "/v1/service-orders/$A/check-in" "$AS_TOKEN_CENTER" '{}'
t_jq "on site, the response promise met" '"\(.state)/\(.response_met)/\(.checked_in_at | length > 0)"' on_site/true/true
http POST "/v1/service-orders/$A/cancel" "$AS_TOKEN_CENTER" '{"reason":"too late"}'
t_status "an order on site can no longer be cancelled" 409
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" '{"distance_km":-4}'
t_status "a check-out without the work done is refused" 400
t_jq "the refusal names both fields" '[.error.fields[].field] | sort | join(",")' "distance_km,work_done"
http POST "/v1/service-orders/$A/check-out" "$AS_TOKEN_CENTER" \
    '{"work_done":"reset the power controller","distance_km":12.5}'
t_status "the technician checks out" 200
t_jq "done, with the distance and the payer" '"\(.state)/\(.distance_km)/\(.payer)"' done/12.5/customer
http POST "/v1/service-orders/$A/confirm" "$AS_TOKEN_CENTER" '{"signature":"S.L."}'
t_status "a confirmation needs the customer's name" 400
t_jq "the refusal names it" '.error.fields[0].field' confirmed_by
http POST "/v1/service-orders/$A/confirm" "$AS_TOKEN_CENTER" '{"confirmed_by":"Sun Li","signature":"Sun Li (signed)","rating":5}'
t_status "the customer confirms" 200
t_jq "confirmed" '"\(.state)/\(.confirmed_by)/\(.rating)"' "confirmed/Sun Li/5"
http GET "/v1/service-orders/$A" "$AS_TOKEN_CENTER"
t_jq "the timeline has every step" '[.timeline[].event] | join(",")' \
    "requested,scheduled,dispatched,checked_in,checked_out,confirmed"
t_eq "every change left an audit row" 6 \
    "$(q intake "SELECT count(*) FROM audit WHERE entity = 'service_order' AND entity_id = '$A' AND action <> 'read'")"
t_eq "the events carry no personal data" 0 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.ServiceOrderChanged' AND payload->>'order_id' = '$A' AND (payload::text LIKE '%$phone%' OR payload::text LIKE '%Huaihai%' OR payload::text LIKE '%Sun Li%')")"
t_eq "one event per state change" 6 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.ServiceOrderChanged' AND payload->>'order_id' = '$A'")"

# --- the travel fee reaches settlement ----------------------------------------------------------

if wait_http "/v1/settlement/charges/$A" "$AS_TOKEN_ADMIN" '.kind' onsite; then
    t_ok "settlement charged the visit"
else
    t_fail "settlement charged the visit" "status $HTTP_STATUS body ${HTTP_BODY:0:500}"
fi
t_jq "the customer pays 12.5 km at the list rate (200 cents/km)" \
    '[.lines[] | select(.code == "TRAVEL")][0] | "\(.amount_cents)/\(.payer)/\(.basis)"' 2500/customer/list
t_jq "with VAT and an invoice" '(.vat_cents > 0) and (.invoice_no | length > 0)' true

# --- a cancelled order, and a covered ticket's visit ------------------------------------------------

http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone")"
B=$(jbody .id)
http POST "/v1/service-orders/$B/cancel" "$AS_TOKEN_CENTER" '{}'
t_status "a cancel needs a reason" 400
http POST "/v1/service-orders/$B/cancel" "$AS_TOKEN_CENTER" '{"reason":"the customer fixed it"}'
t_jq "a requested order is cancelled" '"\(.state)/\(.overdue)"' cancelled/false
http POST "/v1/service-orders/$B/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$T1\"}"
t_status "a cancelled order cannot be scheduled" 409

imei=$(new_imei)
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$phone" --arg i "$imei" --arg inv "$(days_ago 40)" '{
    customer: {name: "Sun Li", phone: $p},
    device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $i, imei_label: $i},
    purchase: {invoice_date: $inv, price_cents: 299900, invoice: true, warranty_card: true},
    fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
t_status "a ticket for a covered repair" 201
ticket=$(jbody .id)
wait_http "/v1/tickets/$ticket" "$AS_TOKEN_CENTER" .state adjudicated || true
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone" ".ticket_id = \"$ticket\"")"
t_status "an order linked to the ticket" 201
C=$(jbody .id)
for step in "schedule {\"technician\":\"$T1\"}" "dispatch {}" "check-in {}" \
    'check-out {"work_done":"board replaced on site","distance_km":10}'; do
    http POST "/v1/service-orders/$C/${step%% *}" "$AS_TOKEN_CENTER" "${step#* }"
done
t_jq "the covered ticket's visit is the manufacturer's" '"\(.state)/\(.payer)"' done/manufacturer
if wait_http "/v1/settlement/charges/$C" "$AS_TOKEN_ADMIN" '.payer' manufacturer; then
    t_ok "settlement charged the manufacturer"
else
    t_fail "settlement charged the manufacturer" "status $HTTP_STATUS body ${HTTP_BODY:0:500}"
fi
t_jq "at the claim rate (150 cents/km), on the manufacturer's claim" \
    '[.lines[] | select(.code == "TRAVEL")][0] | "\(.amount_cents)/\(.basis)/\(.claim_id | length > 0)"' 1500/claim/true

# --- a hotline repair request opens an order in one step --------------------------------------------

n0=$(orders_for "$phone")
http POST /v1/calls "$AS_TOKEN_CENTER" "$(jq -nc --argjson o "$(order_body "$phone" '.category = "toaster"')" \
    '{direction: "inbound", category: "repair_request", summary: "washing machine leaks", service_order: $o}')"
t_status "a repair request with a bad order is refused" 400
t_jq "the refusal names the order's field" '[.error.fields[].field] | index("service_order.category") != null' true
t_eq "nothing refused was recorded" "$n0" "$(orders_for "$phone")"
http POST /v1/calls "$AS_TOKEN_CENTER" "$(jq -nc --argjson o "$(order_body "$phone")" \
    '{direction: "inbound", category: "repair_request", summary: "phone dead, asks for a visit", service_order: $o}')"
t_status "a repair request opens an on-site order" 201
call=$(jbody .id)
D=$(jbody .service_order_id)
t_match "the call names the order" '^SO[0-9]{8}$' "$D"
http GET "/v1/service-orders/$D" "$AS_TOKEN_CENTER"
t_jq "the order names the call" '"\(.call_id)/\(.state)/\(.customer.name)"' "$call/requested/Sun Li"

# --- asctl -------------------------------------------------------------------------------------

out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" service-order show "$A" 2>&1)
t_match "asctl service-order show prints the field-service record" "FIELD SERVICE RECORD" "$out"
t_match "with the customer's confirmation" "Sun Li \(signed\)" "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" service-order list --state requested 2>&1)
t_match "asctl service-order list shows the open order" "$D" "$out"

# --- the response promise: overdue, escalated by the timer across a restart --------------------

# A short promise (2 h) for the orders opened now; then intake restarts 2 h 10 min ahead: the
# escalation due while it was down happens at the start.
restarted=1
t_check "intake restarts with a 2-hour response promise" in_restart AS_INTAKE_ORDER_RESPONSE_H=2
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(order_body "$phone")"
E=$(jbody .id)
t_jq "the new order promises a response in 2 hours" \
    '(((.respond_by | sub("\\.[0-9]+Z$"; "Z") | fromdate) - (.created_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)) / 3600 | round)' 2
http GET "/v1/service-orders?status=overdue" "$AS_TOKEN_CENTER"
t_jq "it is not overdue yet" "[.orders[] | select(.id == \"$E\")] | length" 0
t_check "intake restarts 2 h 10 min ahead (test mode)" \
    in_restart AS_INTAKE_ORDER_RESPONSE_H=2 AS_INTAKE_TEST_MODE=1 AS_INTAKE_CLOCK_OFFSET_S=$((2 * 3600 + 600))
if wait_http "/v1/service-orders/$E" "$AS_TOKEN_CENTER" .escalation_level centre_manager; then
    t_ok "the missed response escalated to the centre manager after the restart"
else
    t_fail "the missed response escalated to the centre manager after the restart" "$(jbody .escalation_level)"
fi
t_jq "it is overdue" '"\(.overdue)/\(.timeline[-1].event)"' true/response_escalated
http GET "/v1/service-orders?status=overdue" "$AS_TOKEN_CENTER"
t_status "the overdue orders are listed" 200
t_jq "the order is listed overdue" "[.orders[] | select(.id == \"$E\")] | length" 1
t_jq "the cancelled and the confirmed are not" "[.orders[] | select(.id == \"$B\" or .id == \"$A\")] | length" 0
http GET "/v1/service-orders?status=overdue" "$AS_TOKEN_CENTER_B"
t_jq "another centre does not see it" "[.orders[] | select(.id == \"$E\")] | length" 0
t_eq "the escalation was published" 1 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.ServiceOrderEscalated' AND payload->>'order_id' = '$E'")"
http POST "/v1/service-orders/$E/cancel" "$AS_TOKEN_CENTER" '{"reason":"test over"}'
t_jq "the overdue order is cancelled (the list stays clean for others)" .state cancelled
http POST "/v1/service-orders/$D/cancel" "$AS_TOKEN_CENTER" '{"reason":"test over"}'
t_jq "so is the call's order (no promise left running)" .state cancelled

t_check "intake starts again in normal mode" in_restart
restarted=0
t_done
