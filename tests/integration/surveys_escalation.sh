#!/usr/bin/env bash
# Surveys: complaint deadlines escalate on breach, one step up the ladder (centre_lead ->
# centre_manager -> branch -> head_office), with history, a new owner and a published
# ComplaintEscalated; the deadlines live in the database, so a deadline that passes while the
# service is down escalates when it starts, and the rebuilt timer fires on the next breach.
# Time moves with the test clock (the service restarted with AS_SURVEYS_TEST_MODE=1), never by
# sleeping; the script puts the service back in normal mode at the end.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"

open_complaint() { # channel
    http POST /v1/complaints "$AS_TOKEN_CENTER" \
        "{\"channel\":\"$1\",\"cause\":\"overdue\",\"description\":\"repair took three weeks\"}"
}
killed_restart() { SV_KILL=1 sv_restart "$@"; }
escalated_events() { # complaint to_level
    sv_sql "SELECT count(*) FROM outbox WHERE type = 'surveys.ComplaintEscalated'
            AND payload->>'complaint_id' = '$1' AND payload->>'to_level' = '$2'"
}

# --- the clock is locked unless the service runs in test mode ---------------------------------

http POST /v1/surveys/test/clock "$AS_TOKEN_ADMIN" '{"seconds":3600}'
t_status "the test clock is refused by default" 403
t_jq "the refusal names test mode" .error.code test_mode_off

restore() { sv_restart >/dev/null 2>&1 || true; }
trap restore EXIT
t_check "the service restarts in test mode" sv_restart AS_SURVEYS_TEST_MODE=1
http POST /v1/surveys/test/clock "$AS_TOKEN_CENTER" '{"seconds":60}'
t_status "only head office may move the clock" 403
sv_clock 0
t_jq "in test mode the clock answers" .test_mode true

# --- a breach escalates one step, then one more a window later ----------------------------------

open_complaint walk_in
cid=$(jbody .id)
t_jq "a general complaint starts with the front-desk lead" .level centre_lead
sv_clock $((24 * 3600 + 60))
t_status "the clock moves a day forward" 200
if sv_wait_complaint "$cid" .level centre_manager; then
    t_ok "a missed acknowledge deadline escalates to the centre manager"
else
    t_fail "a missed acknowledge deadline escalates to the centre manager" "level is $(jbody .level)"
fi
t_jq "the complaint counts one escalation" .escalations 1
t_jq "the escalation is in the history" \
    '[.history[] | select(.event == "escalated")][0] | .from_level + ">" + .to_level + " by " + .actor' \
    "centre_lead>centre_manager by surveys"
t_jq "the history says which deadline was missed" \
    '[.history[] | select(.event == "escalated")][0].note | test("acknowledge deadline breached")' true
t_jq "escalation hands the complaint to the new level" .owner centre_manager@SH01
t_jq "the deadline shows as breached" '.deadlines[] | select(.kind == "acknowledge") | .breached' true
t_eq "ComplaintEscalated is published" 1 "$(escalated_events "$cid" centre_manager)"
t_eq "the event names the deadline and the levels" "acknowledge/centre_lead/SH01" \
    "$(sv_sql "SELECT payload->>'deadline' || '/' || (payload->>'from_level') || '/' || (payload->>'center')
               FROM outbox WHERE type = 'surveys.ComplaintEscalated' AND payload->>'complaint_id' = '$cid'")"
http GET /v1/complaints/overdue "$AS_TOKEN_CENTER"
t_jq "the complaint is overdue" "[.complaints[] | select(.id == \"$cid\")] | length" 1
http GET /v1/complaints/overdue "$AS_TOKEN_CENTER_B"
t_jq "another centre's overdue list does not show it" "[.complaints[] | select(.id == \"$cid\")] | length" 0

sv_clock $((24 * 3600))
if sv_wait_complaint "$cid" .level branch; then
    t_ok "still unanswered a window later, it escalates to the branch"
else
    t_fail "still unanswered a window later, it escalates to the branch" "level is $(jbody .level)"
fi
t_jq "the branch of the region owns it" .owner branch@east
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_REGION" '{"note":"branch called the customer"}'
t_jq "acknowledging stops the acknowledge ladder" \
    '.deadlines[] | select(.kind == "acknowledge") | (.met_at != null) and (.next_escalation_at == null)' true

# At head office there is nowhere further to go: overdue, but not escalated.
http POST /v1/complaints "$AS_TOKEN_ADMIN" \
    '{"channel":"media","cause":"repair_quality","description":"newspaper story","center":"SH02"}'
crit=$(jbody .id)
sv_clock $((2 * 3600))
if sv_wait_complaint "$crit" .overdue true; then
    t_ok "a critical complaint past its one-hour deadline is overdue"
else
    t_fail "a critical complaint past its one-hour deadline is overdue" "$HTTP_BODY"
fi
t_jq "a head-office complaint is not escalated further" '.level + "/" + (.escalations|tostring)' head_office/0

# Resolution and written report both due after two days: missing both is one step, not two.
open_complaint manufacturer
both=$(jbody .id)
http POST "/v1/complaints/$both/acknowledge" "$AS_TOKEN_CENTER" '{}'
t_jq "a serious complaint acknowledged in time stays with the centre manager" \
    '.state + "/" + .level' acknowledged/centre_manager
sv_clock $((48 * 3600 + 60))
if sv_wait_complaint "$both" .escalations 1; then
    t_ok "missing the resolution and the report escalates the complaint"
else
    t_fail "missing the resolution and the report escalates the complaint" "$HTTP_BODY"
fi
t_jq "two deadlines missed at the same moment escalate it one step" .level branch
t_jq "both deadlines show as breached" '[.deadlines[] | select(.breached)] | map(.kind) | sort | join(",")' \
    report,resolve

# --- a breach while the service is down escalates when it starts ------------------------------

open_complaint hotline_12315
sid=$(jbody .id)
t_jq "a serious complaint starts with the centre manager" .level centre_manager
sv_clock 0
off=$SV_OFFSET
# Also forget how far intake's stream was applied: the restart replays it from the start.
callbacks_before=$(sv_sql "SELECT count(*) FROM callbacks")
intake_seq=$(sv_sql "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")
sv_sql "BEGIN; UPDATE consumer_offsets SET last_seq = 0 WHERE stream = 'intake';
        DELETE FROM consumer_applied WHERE stream = 'intake'; COMMIT;" >/dev/null
t_check "the service is killed and started with the clock five hours on" \
    killed_restart AS_SURVEYS_TEST_MODE=1 AS_SURVEYS_CLOCK_OFFSET_S=$((off + 5 * 3600))
if sv_wait_complaint "$sid" .level branch; then
    t_ok "the acknowledge deadline missed while down escalates after the restart"
else
    t_fail "the acknowledge deadline missed while down escalates after the restart" "level is $(jbody .level)"
fi
t_jq "the restart's escalation is in the history" \
    '[.history[] | select(.event == "escalated")] | length' 1
t_eq "the restart's escalation is published once" 1 "$(escalated_events "$sid" branch)"
seq_now=""
for _ in $(seq 1 50); do
    seq_now=$(sv_sql "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")
    [ "$seq_now" = "$intake_seq" ] && break
    sleep 0.2
done
t_eq "intake's stream is replayed from the start after the restart" "$intake_seq" "$seq_now"
t_eq "replaying every TicketClosed schedules no callback twice" "$callbacks_before" \
    "$(sv_sql "SELECT count(*) FROM callbacks")"

# --- the rebuilt timer fires at the next breach -------------------------------------------------

open_complaint operator
tid=$(jbody .id)
# Restart with the clock set so that this complaint's deadline is 3 s ahead: only the timer
# armed from the database at start can escalate it.
ahead=$(sv_sql "SELECT ceil(extract(epoch FROM due_at - now()))::bigint - 3 FROM complaint_deadlines
                WHERE complaint_id = '$tid' AND kind = 'acknowledge'")
t_check "the service is killed and started just before the next deadline" \
    killed_restart AS_SURVEYS_TEST_MODE=1 AS_SURVEYS_CLOCK_OFFSET_S="$ahead"
if sv_wait_complaint "$tid" .level branch; then
    t_ok "the timer rebuilt at start fires when the deadline passes"
else
    t_fail "the timer rebuilt at start fires when the deadline passes" "level is $(jbody .level)"
fi
t_eq "that escalation is published once" 1 "$(escalated_events "$tid" branch)"
published=""
for _ in $(seq 1 50); do
    published=$(sv_sql "SELECT published_seq = last_seq FROM outbox_streams WHERE stream = 'surveys'")
    [ "$published" = t ] && break
    sleep 0.2
done
t_eq "every escalation event reaches the stream" t "$published"

# --- back to normal mode ----------------------------------------------------------------------

trap - EXIT
t_check "the service restarts in normal mode" sv_restart
http POST /v1/surveys/test/clock "$AS_TOKEN_ADMIN" '{"seconds":0}'
t_status "after the restart the clock is locked again" 403
t_done
