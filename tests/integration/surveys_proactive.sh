#!/usr/bin/env bash
# Surveys: proactive service (issue 19.7). A repaired ticket's close schedules a quality-tracking
# call `quality_tracking_days` later and, for a car or an appliance, a maintenance reminder
# `maintenance_days_<category>` later; both land in the call-back desk's list on their due date.
# A due maintenance reminder is published once (surveys.MaintenanceDue) and notify queues the
# customer's zh-CN reminder; the due timer lives in the database, so a reminder that falls due
# while the service is down is published when it starts. Time moves with the test clock (the
# service restarted in test mode with short settings); the script restores the service at the end.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"
. "$(dirname "$0")/../../services/notify/tests/lib.sh"

day() { TZ=Asia/Shanghai date -d "$1 days" +%F; }
open_ticket() { # a phone ticket at SH01, so notify knows its customer's phone
    local imei
    imei=$(new_imei)
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg i "$imei" --arg inv "$(day -40)" '{
      customer: {name: "Qin Fang", phone: "13900002288"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $i, imei_label: $i},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
    jbody .id
}
closed() { # ticket category outcome: TicketClosed as the consumer hands it to the handler
    local ev
    ev=$(jq -nc --arg t "$1" --arg cat "$2" --arg o "$3" --arg at "$(date -u +%FT%T.000Z)" '{
        ticket_id: $t, center: "SH01", region: "east", outcome: $o, category: $cat, brand: "Huaxin",
        customer: {name: "Qin Fang", phone: "13900002288"}, closed_at: $at}')
    sv_sql "SELECT on_ticket_closed('$ev'::jsonb)" >/dev/null
}
kinds() { # the ticket's satisfaction callback and proactive calls
    sv_sql "SELECT string_agg(k, ',' ORDER BY k) FROM (
              SELECT 'satisfaction' AS k FROM callbacks WHERE ticket_id = '$1'
              UNION ALL SELECT kind FROM proactive_calls WHERE ticket_id = '$1') x"
}
due_kinds() { # ticket date: what the desk's list holds for the ticket on that date
    http GET "/v1/surveys/due?date=$2&center=SH01&ticket_id=$1&limit=500" "$AS_TOKEN_CENTER"
    jbody "[(.callbacks[] | select(.ticket_id == \"$1\") | \"satisfaction\"),
            (.proactive[]? | select(.ticket_id == \"$1\") | .kind)] | sort | join(\",\")"
}
published() { sv_sql "SELECT count(*) FROM outbox WHERE type = 'surveys.MaintenanceDue' AND payload->>'ticket_id' = '$1'"; }
reminders() { # ticket: the customer's maintenance reminders in notify's outbox
    http GET "/v1/notifications?ticket_id=$1" "$AS_TOKEN_ADMIN"
    jbody '[.notifications[] | select(.kind == "maintenance_reminder")] | length > 0'
}

nt_sink_start
restore() {
    sv_restart >/dev/null 2>&1 || true
    nt_restart >/dev/null 2>&1 || true
    nt_sink_stop
}
trap restore EXIT
t_check "notify restarts with an SMS provider, no quiet hours" \
    nt_restart AS_NOTIFY_SMS_URL="$NT_SINK/sms" AS_NOTIFY_SMS_KEY=sms-key-$RANDOM \
    AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0
t_check "the service restarts in test mode, quality calls after 1 day, appliances' maintenance after 2" \
    sv_restart AS_SURVEYS_TEST_MODE=1 AS_SURVEYS_QUALITY_TRACKING_DAYS=1 AS_SURVEYS_MAINTENANCE_DAYS_GENERAL=2
sv_clock 0
t_eq "the settings reach the database" "1 2 180" \
    "$(sv_sql "SELECT setting('quality_tracking_days') || ' ' || setting('maintenance_days_general') || ' ' || setting('maintenance_days_car')")"

# --- scheduling at the close ------------------------------------------------------------------

A=$(open_ticket)
t_match "a ticket for the appliance" '^T' "$A"
closed "$A" general repaired
t_eq "a repaired appliance: survey, quality-tracking call and maintenance reminder" \
    maintenance,quality_tracking,satisfaction "$(kinds "$A")"
closed "$A" general repaired
t_eq "a replayed close schedules nothing more" maintenance,quality_tracking,satisfaction "$(kinds "$A")"
t_eq "the ticket still has its one satisfaction callback" 1 "$(sv_sql "SELECT count(*) FROM callbacks WHERE ticket_id = '$A'")"
t_eq "the quality-tracking call is due a day after the close (business hours)" 1 \
    "$(sv_sql "SELECT ((due_at AT TIME ZONE 'Asia/Shanghai')::date - (closed_at AT TIME ZONE 'Asia/Shanghai')::date) BETWEEN 1 AND 2
               FROM proactive_calls WHERE ticket_id = '$A' AND kind = 'quality_tracking'" | sed 's/t/1/;s/f/0/')"
P=$(open_ticket)
closed "$P" phone_host repaired
t_eq "a phone gets no maintenance reminder" quality_tracking,satisfaction "$(kinds "$P")"
R=$(open_ticket)
closed "$R" general refunded
t_eq "a ticket closed without a repair gets only its survey" satisfaction "$(kinds "$R")"
t_eq "no proactive call is announced as a survey: one CallbackScheduled" 1 \
    "$(sv_sql "SELECT count(*) FROM outbox WHERE type = 'surveys.CallbackScheduled' AND payload->>'ticket_id' = '$A'")"

# --- due: the desk's list and the customer's reminder -------------------------------------------

t_eq "today the desk's list has none of them yet" "" "$(due_kinds "$A" "$(day 0)")"
t_eq "nothing published before the reminder is due" 0 "$(published "$A")"
sv_clock $((3 * 86400 + 3600))
t_eq "three days on, the quality-tracking call and the reminder are in the list" \
    maintenance,quality_tracking,satisfaction "$(due_kinds "$A" "$(day 3)")"
t_poll "the due timer publishes the reminder once" 1 published "$A"
t_poll "notify queues the customer's maintenance reminder" true reminders "$A"
reminders "$A" >/dev/null
t_match "in Chinese, naming the centre and the ticket" "SH01.*工单$A.*保养" \
    "$(jbody '[.notifications[] | select(.kind == "maintenance_reminder")][0].text')"
t_check "the SMS provider receives it" nt_wait_count sms ".body.text | test(\"工单$A.*保养\")" 1
sv_clock 60
t_eq "a later check publishes nothing more" 1 "$(published "$A")"

# --- the desk makes the calls ---------------------------------------------------------------------

http GET "/v1/surveys/due?date=$(day 3)&ticket_id=$A" "$AS_TOKEN_CENTER"
qt=$(jbody '[.proactive[] | select(.kind == "quality_tracking") | .id][0]')
t_match "the quality-tracking call has an id" '^PC[0-9]+$' "$qt"
http GET "/v1/surveys/due?date=$(day 3)&ticket_id=$A" "$AS_TOKEN_REGION"
t_jq "a region sees it with the phone masked" "[.proactive[] | select(.id == \"$qt\") | .customer_phone][0]" '*******2288'
http POST "/v1/surveys/proactive/$qt/done" "$AS_TOKEN_CENTER_B" '{}'
t_status "another centre's desk gets 404" 404
http POST "/v1/surveys/proactive/$qt/done" "$AS_TOKEN_CENTER" "{\"note\":\"$(printf 'x%.0s' $(seq 1 1001))\"}"
t_status "a note over 1000 bytes is refused" 400
t_jq "the refusal names the note" '.error.fields[0].field' note
http POST "/v1/surveys/proactive/$qt/done" "$AS_TOKEN_CENTER" '{"note":"the screen works, customer satisfied"}'
t_status "the desk marks the call done" 200
t_jq "done, by the desk" '.done_by != null and .done_at != null' true
http POST "/v1/surveys/proactive/$qt/done" "$AS_TOKEN_CENTER" '{}'
t_status "done twice is 409" 409
t_eq "it left the list" maintenance,satisfaction "$(due_kinds "$A" "$(day 3)")"
t_eq "the call is audited once" 1 "$(sv_sql "SELECT count(*) FROM audit WHERE entity = 'proactive_call' AND entity_id = '$qt'")"
t_eq "the phone's ticket has no reminder" 0 "$(published "$P")"

# --- a reminder that falls due while the service is down ----------------------------------------

B=$(open_ticket)
closed "$B" general repaired
t_eq "a second appliance's reminder is scheduled" 0 "$(published "$B")"
SV_KILL=1 sv_restart AS_SURVEYS_TEST_MODE=1 AS_SURVEYS_QUALITY_TRACKING_DAYS=1 \
    AS_SURVEYS_MAINTENANCE_DAYS_GENERAL=2 AS_SURVEYS_CLOCK_OFFSET_S=$((SV_OFFSET + 3 * 86400))
t_ok "the service was killed and starts three days later"
t_poll "the rebuilt timer publishes the reminder missed while down" 1 published "$B"
t_poll "and the customer is reminded" true reminders "$B"

t_done
