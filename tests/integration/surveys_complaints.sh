#!/usr/bin/env bash
# Surveys: complaints. Severity follows the channel and is only ever raised; one owner from first
# contact, changed only by escalation or head office; open -> acknowledged -> resolved -> closed
# (closing needs the follow-up call's outcome), reopen from resolved or closed; a centre sees and
# touches only its own complaints; reports by cause, severity and centre.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"

today=$(TZ=Asia/Shanghai date +%F)

open_complaint() { # token channel [center]
    local body
    body=$(jq -nc --arg ch "$2" --arg c "${3:-}" '{channel: $ch, cause: "attitude",
        description: "the desk was rude", customer_name: "Chen Jie", customer_phone: "13611112222"}
        + (if $c == "" then {} else {center: $c} end)')
    http POST /v1/complaints "$1" "$body"
}

# --- severity from the channel ----------------------------------------------------------------

for pair in walk_in:general phone:general online:general manufacturer:serious \
    hotline_12315:serious operator:serious media:critical government:critical; do
    ch=${pair%%:*}
    sev=${pair#*:}
    open_complaint "$AS_TOKEN_CENTER" "$ch"
    t_status "a complaint by $ch is accepted" 201
    t_jq "a complaint by $ch is $sev" .severity "$sev"
done
open_complaint "$AS_TOKEN_CENTER" hotline_12315
t_jq "a serious complaint starts with the centre manager" .level centre_manager
t_jq "a serious complaint owes a written report" '[.deadlines[].kind] | join(",")' acknowledge,report,resolve
open_complaint "$AS_TOKEN_CENTER" media
t_jq "a critical complaint goes to head office at once" .level head_office
open_complaint "$AS_TOKEN_CENTER" carrier_pigeon
t_status "an unknown channel is refused" 400
open_complaint "$AS_TOKEN_CENTER" survey
t_status "the survey channel is reserved for low scores" 400
http POST /v1/complaints "$AS_TOKEN_CENTER" '{"channel":"phone","cause":"attitude"}'
t_status "a complaint needs a description" 400

# --- one owner; the desk's centre by default --------------------------------------------------

open_complaint "$AS_TOKEN_CENTER" walk_in
t_status "a centre opens a complaint" 201
cid=$(jbody .id)
t_jq "it belongs to the desk's centre and region" '.center + "/" + .region' SH01/east
t_jq "the first contact owns it" .owner desk.sh01
t_jq "a general complaint starts with the front-desk lead" '.state + "/" + .level' open/centre_lead
t_jq "it has an acknowledge and a resolve deadline" '[.deadlines[].kind] | join(",")' acknowledge,resolve
t_jq "its history starts with the opening" '.history[0].event + "/" + .history[0].actor' opened/desk.sh01

open_complaint "$AS_TOKEN_CENTER" walk_in GZ01
t_status "a centre cannot open a complaint for another centre" 403
open_complaint "$AS_TOKEN_REGION" phone GZ01
t_status "a region cannot open a complaint outside its region" 403
open_complaint "$AS_TOKEN_ADMIN" phone XX99
t_status "an unknown centre is refused" 422

http POST "/v1/complaints/$cid/assign" "$AS_TOKEN_CENTER" '{"owner":"desk.sh01.b"}'
t_status "a centre cannot reassign the owner" 403
http POST "/v1/complaints/$cid/assign" "$AS_TOKEN_ADMIN" '{"owner":"qc.east","note":"quality team takes over"}'
t_status "head office reassigns the owner" 200
t_jq "the new owner is recorded" .owner qc.east
t_jq "the reassignment is in the history" '.history[-1].event' assigned

# --- severity is only ever raised ---------------------------------------------------------------

http POST "/v1/complaints/$cid/severity" "$AS_TOKEN_CENTER" '{"severity":"serious","note":"customer called 12315"}'
t_status "the severity is raised" 200
t_jq "the complaint is serious now" .severity serious
t_jq "raising it moves it up to the centre manager" .level centre_manager
t_jq "the raise and the escalation are in the history" '[.history[].event] | join(",")' \
    opened,assigned,severity_raised,escalated
t_eq "the escalation is published" 1 "$(sv_sql "SELECT count(*) FROM outbox
    WHERE type = 'surveys.ComplaintEscalated' AND payload->>'complaint_id' = '$cid'
      AND payload->>'to_level' = 'centre_manager'")"
http POST "/v1/complaints/$cid/severity" "$AS_TOKEN_ADMIN" '{"severity":"general"}'
t_status "lowering the severity is refused" 409
t_jq "the refusal says why" .error.code severity_lowered
http POST "/v1/complaints/$cid/severity" "$AS_TOKEN_ADMIN" '{"severity":"serious"}'
t_status "setting the same severity is refused" 409
http GET "/v1/complaints/$cid" "$AS_TOKEN_CENTER"
t_jq "a refused change leaves the severity" .severity serious
t_eq "the database refuses a lowering too" "refused" \
    "$(sv_sql "SELECT cmd_raise_severity('x', '{\"role\":\"admin\"}', '{\"id\":\"$cid\",\"severity\":\"general\"}')" >/dev/null &&
        echo changed || echo refused)"

# --- the state machine --------------------------------------------------------------------------

http POST "/v1/complaints/$cid/resolve" "$AS_TOKEN_CENTER" '{"resolution":"apologised"}'
t_status "an unacknowledged complaint cannot be resolved" 409
t_jq "the refusal names the state" '.error.message | test("in state open")' true
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_CENTER" '{"note":"called the customer back"}'
t_status "the complaint is acknowledged" 200
t_jq "acknowledged" .state acknowledged
t_jq "the acknowledge deadline is met" '.deadlines[] | select(.kind == "acknowledge") | .met_at != null' true
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_CENTER" '{}'
t_status "a second acknowledgement is refused" 409
http POST "/v1/complaints/$cid/report" "$AS_TOKEN_CENTER" '{"report":"Written report: staff retrained."}'
t_status "the written report is filed" 200
t_jq "the report deadline is met" '.deadlines[] | select(.kind == "report") | .met_at != null' true
http POST "/v1/complaints/$cid/resolve" "$AS_TOKEN_CENTER" '{}'
t_status "a resolution text is required" 400
http POST "/v1/complaints/$cid/resolve" "$AS_TOKEN_CENTER" '{"resolution":"apologised, 100 yuan voucher"}'
t_jq "the complaint is resolved" .state resolved
http POST "/v1/complaints/$cid/close" "$AS_TOKEN_CENTER" '{}'
t_status "closing without the follow-up outcome is refused" 400
http POST "/v1/complaints/$cid/close" "$AS_TOKEN_CENTER" '{"followup_outcome":"satisfied"}'
t_status "closing with the follow-up outcome succeeds" 200
t_jq "the complaint is closed with the outcome" '.state + "/" + .followup_outcome' closed/satisfied
http POST "/v1/complaints/$cid/reopen" "$AS_TOKEN_CENTER" '{"reason":"the fault came back"}'
t_jq "a closed complaint can be reopened" '.state + "/" + (.reopened|tostring)' open/1
t_jq "reopening starts a fresh acknowledge deadline" \
    '.deadlines[] | select(.kind == "acknowledge") | .met_at == null' true
http POST "/v1/complaints/$cid/reopen" "$AS_TOKEN_CENTER" '{}'
t_status "an open complaint cannot be reopened" 409
http GET "/v1/complaints/$cid" "$AS_TOKEN_CENTER"
t_jq "the full history is kept" '[.history[].event] | join(",")' \
    opened,assigned,severity_raised,escalated,acknowledged,report_filed,resolved,closed,reopened
t_jq "the owner is the one the escalation gave it" .owner centre_manager@SH01

# --- scope --------------------------------------------------------------------------------------

http GET "/v1/complaints/$cid" "$AS_TOKEN_CENTER_B"
t_status "another centre cannot see the complaint" 404
http GET /v1/complaints "$AS_TOKEN_CENTER_B"
t_jq "another centre's list does not hold it" "[.complaints[] | select(.id == \"$cid\")] | length" 0
t_jq "a centre's list holds only its own" '[.complaints[] | select(.center != "GZ01")] | length' 0
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_CENTER_B" '{}'
t_status "another centre cannot act on it" 404
http GET "/v1/complaints/$cid" "$AS_TOKEN_REGION"
t_status "the centre's region sees it" 200
http GET "/v1/complaints?center=SH01&limit=200" "$AS_TOKEN_ADMIN"
t_jq "head office sees it" "[.complaints[] | select(.id == \"$cid\")] | length" 1
http GET /v1/complaints "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse has no complaint routes" 403

# --- overdue and reports ------------------------------------------------------------------------

http GET /v1/complaints/overdue "$AS_TOKEN_ADMIN"
t_status "the overdue list answers" 200
t_jq "nothing is overdue yet" "[.complaints[] | select(.id == \"$cid\")] | length" 0
http GET "/v1/reports/complaints?group=severity&from=$today&to=$today" "$AS_TOKEN_ADMIN"
t_status "the complaint report answers" 200
t_jq "the report groups by severity" '[.rows[].key] | sort | join(",")' critical,general,serious
t_jq "each row counts its complaints" '[.rows[].count] | add >= 11' true
http GET "/v1/reports/complaints?group=cause&from=$today&to=$today" "$AS_TOKEN_ADMIN"
t_jq "the report groups by cause" '[.rows[] | select(.key == "attitude")] | length' 1
http GET "/v1/reports/complaints?group=center&from=$today&to=$today" "$AS_TOKEN_CENTER"
t_jq "a centre's report holds only its own centre" '[.rows[].key] | join(",")' SH01

# A complaint closed an exact time after opening: the hours to close are measured.
open_complaint "$AS_TOKEN_CENTER_B" phone
c2=$(jbody .id)
sv_sql "UPDATE complaints SET created_at = created_at - interval '3 hours' WHERE id = '$c2'" >/dev/null
http POST "/v1/complaints/$c2/acknowledge" "$AS_TOKEN_CENTER_B" '{}'
http POST "/v1/complaints/$c2/resolve" "$AS_TOKEN_CENTER_B" '{"resolution":"explained the bill"}'
http POST "/v1/complaints/$c2/close" "$AS_TOKEN_CENTER_B" '{"followup_outcome":"satisfied"}'
sv_sql "UPDATE complaints SET closed_at = created_at + interval '3 hours' WHERE id = '$c2'" >/dev/null
http GET "/v1/reports/complaints?group=center&from=$(TZ=Asia/Shanghai date -d '-1 day' +%F)&to=$today" "$AS_TOKEN_CENTER_B"
t_jq "the report gives the hours to close (mean and median)" \
    '.rows[] | select(.key == "GZ01") | .avg_hours_to_close + "/" + .median_hours_to_close + "/" + (.closed|tostring)' \
    3.0/3.0/1

t_done
