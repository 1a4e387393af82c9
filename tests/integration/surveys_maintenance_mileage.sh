#!/usr/bin/env bash
# Proactive service: a car's maintenance reminder by date OR mileage (issue 19.7, docs/surveys.md
# "Maintenance by date or mileage"). Intake reads the odometer at every car ticket and, at the
# close, tells the car's mileage per day measured from its previous reading (TicketClosed
# odometer_km, odometer_at, km_per_day; an on-site visit's check-out reading counts as an earlier
# reading). Surveys makes the reminder due on the earlier of the
# date rule (maintenance_days_car after the close) and the day the odometer is projected past its
# reading + maintenance_km_car — at the measured rate, else the default km a day — and says
# which decided (basis). The due reminder is published once with its basis.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"

RUN=$RANDOM$RANDOM
VIN=LDC9$(printf '%06d%07d' $((RANDOM % 1000000)) $((RANDOM % 10000000)))
bought=$(TZ=Asia/Shanghai date -d '-240 days' +%F)
car_ticket() { # odometer -> ticket id
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg v "$VIN" --argjson km "$1" --arg inv "$bought" '{
        customer: {name: "Lin Feng", phone: "13800138010"},
        device: {category: "car", brand: "DriveCo", model: "S7", vin: $v, odometer_km: $km},
        purchase: {invoice_date: $inv, price_cents: 18990000, invoice: true, warranty_card: true},
        fault: {code: "BRAKE", listed: true, car: "other", description: "pulls to one side"},
        request: "repair"}')"
    jbody .id
}
closed_payload() { q intake "SELECT payload FROM outbox WHERE type = 'intake.TicketClosed' AND payload->>'ticket_id' = '$1'"; }

t_eq "the settings reach the database" "180 5000 40" \
    "$(sv_sql "SELECT setting('maintenance_days_car') || ' ' || setting('maintenance_km_car') || ' ' || setting('maintenance_km_per_day_car')")"

# --- intake: the odometer and the mileage per day at the close ------------------------------------

A=$(car_ticket 20000)
t_match "a car ticket with its odometer" '^T' "$A"
sql intake "UPDATE tickets SET opened_at = opened_at - interval '100 days' WHERE id = '$A'" >/dev/null
http POST "/v1/tickets/$A/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"the customer went elsewhere"}'
t_status "the first visit ends" 200
t_eq "its close carries the odometer, no rate yet (no earlier reading)" "20000/null/true" \
    "$(closed_payload "$A" | jq -r '"\(.odometer_km)/\(.km_per_day)/\(.odometer_at | length > 0)"')"
B=$(car_ticket 26000)
t_match "the same car back 100 days later at 26000 km" '^T' "$B"
http POST "/v1/tickets/$B/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"parts too dear"}'
t_status "the second visit ends" 200
t_eq "its close carries 60 km a day (6000 km in 100 days)" "26000/60" \
    "$(closed_payload "$B" | jq -r '"\(.odometer_km)/\(.km_per_day)"')"

# an on-site visit's check-out reads the odometer too: a later ticket measures from it
VIN2=LDC8$(printf '%06d%07d' $((RANDOM % 1000000)) $((RANDOM % 10000000)))
TECH=tech.odo.$RUN
staff_account "$TECH" SH01 || t_fail "a staff account for $TECH" "HTTP $HTTP_STATUS $HTTP_BODY"
http POST /v1/technicians "$AS_TOKEN_ADMIN" "{\"login\":\"$TECH\",\"name\":\"Du Fei\",\"center\":\"SH01\",\"skills\":[\"car\",\"general\"]}"
t_status "a car technician" 201
visit() { # category serial -> order id on site
    local d id
    d=$(TZ=Asia/Shanghai date -d '+1 day' +%F)
    http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(jq -nc --arg c "$1" --arg s "$2" --arg d "$d" '{
        customer: {name: "Lin Feng", phone: "13800138010"}, address: "Lane 88, Yuyuan Road",
        category: $c, brand: "DriveCo", serial: $s, fault: "will not start",
        window_start: ($d + "T01:00:00Z"), window_end: ($d + "T03:00:00Z")}')"
    id=$(jbody .id)
    for step in "schedule {\"technician\":\"$TECH\"}" 'dispatch {}' 'check-in {}'; do
        http POST "/v1/service-orders/$id/${step%% *}" "$AS_TOKEN_CENTER" "${step#* }"
    done
    echo "$id"
}
W=$(visit general "WM-$RUN")
http POST "/v1/service-orders/$W/check-out" "$AS_TOKEN_CENTER" '{"work_done":"pump cleaned","distance_km":4,"odometer_km":1200}'
t_status "an appliance has no odometer" 400
t_match "the refusal names the field" odometer_km "$HTTP_BODY"
V=$(visit car "$VIN2")
http POST "/v1/service-orders/$V/check-out" "$AS_TOKEN_CENTER" '{"work_done":"battery charged","distance_km":9,"odometer_km":30000}'
t_status "a car's visit records the odometer" 200
t_jq "on the order" .odometer_km 30000
sql intake "UPDATE service_orders SET checked_out_at = checked_out_at - interval '50 days' WHERE id = '$V'" >/dev/null
VIN=$VIN2
C2=$(car_ticket 32000)
http POST "/v1/tickets/$C2/return-unrepaired" "$AS_TOKEN_CENTER" '{"reason":"fixed at home"}'
t_eq "a ticket 50 days after the visit measures 40 km a day from the visit's reading" "32000/40" \
    "$(closed_payload "$C2" | jq -r '"\(.odometer_km)/\(.km_per_day)"')"

# --- surveys: the reminder's due date, by mileage or by date ----------------------------------------

reminder() { sv_sql "SELECT basis || '/' || coalesce(due_odometer_km::text, '-') || '/' || coalesce(km_per_day::text, '-') || '/' || coalesce(km_per_day_measured::text, '-') || '/' || ((due_at AT TIME ZONE 'Asia/Shanghai')::date - (closed_at AT TIME ZONE 'Asia/Shanghai')::date) FROM proactive_calls WHERE ticket_id = '$1' AND kind = 'maintenance'"; }
feed() { # ticket-id jq-edit: intake's close of B, repaired, as the consumer hands it over
    local ev
    ev=$(closed_payload "$B" | jq -c --arg t "$1" ".ticket_id = \$t | .outcome = \"repaired\" | $2")
    sv_sql "SELECT on_ticket_closed('$ev'::jsonb)" >/dev/null
}
M1=TM$RUN
feed "$M1" .
got=$(reminder "$M1")
t_match "at 60 km a day 5000 km pass in 84 days, before 180: due by mileage at 31000 km" \
    '^mileage/31000/60(\.0)?/true/8[4-5]$' "$got"
feed "$M1" '.km_per_day = 5'
t_eq "a replayed close changes nothing" "$got" "$(reminder "$M1")"
t_eq "one reminder for the ticket" 1 "$(sv_sql "SELECT count(*) FROM proactive_calls WHERE ticket_id = '$M1' AND kind = 'maintenance'")"

M2=TM${RUN}b
feed "$M2" 'del(.km_per_day)'
t_match "no measured rate: the default 40 km a day, 125 days, still before 180" \
    '^mileage/31000/40/false/12[5-6]$' "$(reminder "$M2")"
M3=TM${RUN}c
feed "$M3" '.km_per_day = 10'
t_match "at 10 km a day the date comes first: 180 days" '^date/31000/10(\.0)?/true/18[0-1]$' "$(reminder "$M3")"
M4=TM${RUN}d
feed "$M4" 'del(.odometer_km) | del(.odometer_at) | del(.km_per_day)'
t_match "no odometer: by date" '^date/-/-/-/18[0-1]$' "$(reminder "$M4")"
M5=TM${RUN}e
feed "$M5" '.km_per_day = 1000 | .odometer_at = "2026-01-01T00:00:00Z"'
t_match "projected past the interval before the close: due at the close, not in the past" \
    '^mileage/31000/1000/true/[0-1]$' "$(reminder "$M5")"

due=$(sv_sql "SELECT (due_at AT TIME ZONE 'Asia/Shanghai')::date FROM proactive_calls WHERE ticket_id = '$M1' AND kind = 'maintenance'")
http GET "/v1/surveys/due?date=$due&center=SH01&ticket_id=$M1&limit=500" "$AS_TOKEN_CENTER"
t_jq "the desk's list shows the reminder with its basis and odometer" \
    "[.proactive[]? | select(.ticket_id == \"$M1\" and .kind == \"maintenance\")][0] | \"\(.basis)/\(.odometer_km)/\(.due_odometer_km)\"" \
    mileage/26000/31000

# the due timer's step, as it runs it: the reminder made due is published once, with its basis
sv_sql "UPDATE proactive_calls SET due_at = now() - interval '1 minute' WHERE ticket_id = '$M1' AND kind = 'maintenance'" >/dev/null
sv_sql "SELECT reminders_due()" >/dev/null
sv_sql "SELECT reminders_due()" >/dev/null
t_eq "published once, by mileage, due at 31000 km" "1/mileage/31000" \
    "$(sv_sql "SELECT count(*) || '/' || min(payload->>'basis') || '/' || min(payload->>'due_odometer_km') FROM outbox WHERE type = 'surveys.MaintenanceDue' AND payload->>'ticket_id' = '$M1'")"

t_done
