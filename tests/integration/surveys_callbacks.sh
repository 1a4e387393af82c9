#!/usr/bin/env bash
# Surveys: a closed ticket schedules exactly one satisfaction callback (even when the event is
# applied twice), due 48 h later inside business hours; agents see the callbacks of their own
# scope; a callback is answered, refused, or retried when unreachable until it closes; scores
# are weighted with the weight set in effect when answered and keep it when weights change; a
# low score opens one complaint linked to the ticket; the satisfaction report reads the stored
# scores.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"

today=$(TZ=Asia/Shanghai date +%F)

# --- scheduling from TicketClosed, once -------------------------------------------------------

t1=$(sv_new_id TSVA)
sv_close_ticket "$t1" SH01 east 2026-03-02T12:00:00.000Z >/dev/null
sv_close_ticket "$t1" SH01 east 2026-03-02T12:00:00.000Z >/dev/null
t_eq "the TicketClosed handler applied twice schedules one callback" 1 \
    "$(sv_sql "SELECT count(*) FROM callbacks WHERE ticket_id = '$t1'")"
# Closed 20:00 Shanghai; +48 h is 20:00, after hours: moved to 09:00 the next morning.
t_eq "a callback due after hours moves to 09:00 the next business morning" \
    "2026-03-05 09:00:00" \
    "$(sv_sql "SELECT due_at AT TIME ZONE 'Asia/Shanghai' FROM callbacks WHERE ticket_id = '$t1'")"
t2=$(sv_new_id TSVB)
sv_close_ticket "$t2" SH01 east 2026-03-02T02:00:00.000Z >/dev/null
t_eq "a callback due inside business hours is due exactly 48 h after the close" \
    "2026-03-04 10:00:00" \
    "$(sv_sql "SELECT due_at AT TIME ZONE 'Asia/Shanghai' FROM callbacks WHERE ticket_id = '$t2'")"

# End to end: a ticket closed at intake schedules its callback through the event stream.
# (A fresh IMEI: a device refunded before goes to a reviewer instead, rule R-1.)
body=$(jq -nc --arg inv "$(TZ=Asia/Shanghai date -d '-3 days' +%F)" --arg imei "$(new_imei)" '{
    customer: {name: "Wang Fang", phone: "13900002222"},
    device: {category: "phone_host", brand: "Huaxin", model: "HX-10",
             imei: $imei, imei_label: $imei},
    purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
    fault: {code: "NO_POWER", description: "will not power on", listed: true},
    request: "refund"}')
http POST /v1/tickets "$AS_TOKEN_CENTER" "$body"
tid=$(jbody .id)
wait_state "$tid" adjudicated
http POST "/v1/tickets/$tid/handback" "$AS_TOKEN_CENTER" '{}'
t_jq "intake closes a granted refund at hand-back" .state refunded
wait_http "/v1/surveys/due?date=$(days_ahead 4)&center=SH01&limit=500" "$AS_TOKEN_CENTER" \
    "any(.callbacks[]; .ticket_id == \"$tid\")" true
found=$(jbody ".callbacks[] | select(.ticket_id == \"$tid\") | .id")
t_match "a ticket closed at intake appears among the callbacks due" '^CB[0-9]+$' "$found"
t_jq "the callback carries the customer to call" \
    ".callbacks[] | select(.ticket_id == \"$tid\") | .customer_name + \"/\" + .outcome" \
    "Wang Fang/refunded"

# --- the due list and its scope ---------------------------------------------------------------

tg=$(sv_new_id TSVG)
sv_close_ticket "$tg" GZ01 south 2026-03-02T02:00:00.000Z >/dev/null
http GET "/v1/surveys/due?date=$today" "$AS_TOKEN_CENTER"
t_status "a centre lists its callbacks due" 200
t_jq "the list holds the centre's overdue callback" "[.callbacks[] | select(.ticket_id == \"$t2\")] | length" 1
t_jq "a centre sees no other centre's callbacks" '[.callbacks[] | select(.center != "SH01")] | length' 0
http GET "/v1/surveys/due?date=$today" "$AS_TOKEN_CENTER_B"
t_jq "the other centre sees its own" "[.callbacks[] | select(.ticket_id == \"$tg\")] | length" 1
http GET "/v1/surveys/due?date=$today" "$AS_TOKEN_REGION"
t_jq "a region sees only its region" '[.callbacks[] | select(.region != "east")] | length' 0
http GET "/v1/surveys/due?date=$today" "$AS_TOKEN_ADMIN"
t_jq "head office sees every centre" \
    "[.callbacks[] | select(.ticket_id == \"$tg\" or .ticket_id == \"$t2\")] | length" 2
http GET "/v1/surveys/due?date=2026-03-03" "$AS_TOKEN_CENTER"
t_jq "a callback not yet due on the date is not listed" "[.callbacks[] | select(.ticket_id == \"$t2\")] | length" 0
http GET "/v1/surveys/due?date=2026-02-30" "$AS_TOKEN_CENTER"
t_status "an impossible date is refused" 400
cb_g=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$tg'")
http POST "/v1/surveys/callbacks/$cb_g/refuse" "$AS_TOKEN_CENTER" '{}'
t_status "a centre cannot act on another centre's callback" 404

# --- unreachable: retries in business time, then closed ---------------------------------------

cb2=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$t2'")
http POST "/v1/surveys/callbacks/$cb2/unreachable" "$AS_TOKEN_CENTER" '{"note":"no answer"}'
t_status "an unreachable customer is recorded" 200
t_jq "the callback stays scheduled for a retry" '.state + "/" + (.attempts|tostring)' scheduled/1
t_eq "the retry is 4 business hours later" 1 "$(sv_sql "SELECT count(*) FROM callbacks
    WHERE id = '$cb2' AND due_at = business_add((SELECT at FROM callback_attempts
          WHERE callback_id = '$cb2' AND attempt = 1), 4)")"
http POST "/v1/surveys/callbacks/$cb2/unreachable" "$AS_TOKEN_CENTER" '{}'
http POST "/v1/surveys/callbacks/$cb2/unreachable" "$AS_TOKEN_CENTER" '{}'
t_jq "the third unreachable attempt closes the callback" '.state + "/" + (.attempts|tostring)' unreachable/3
t_jq "every attempt is in the history" '[.history[].result] | join(",")' unreachable,unreachable,unreachable
http POST "/v1/surveys/callbacks/$cb2/unreachable" "$AS_TOKEN_CENTER" '{}'
t_status "a closed callback takes no more attempts" 409

t3=$(sv_new_id TSVC)
sv_close_ticket "$t3" SH01 east 2026-03-02T02:00:00.000Z >/dev/null
cb3=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$t3'")
http POST "/v1/surveys/callbacks/$cb3/refuse" "$AS_TOKEN_CENTER" '{"note":"does not want surveys"}'
t_jq "a customer may refuse the survey" .state refused
http POST "/v1/surveys/callbacks/$cb3/answer" "$AS_TOKEN_CENTER" \
    '{"attitude":5,"repair_quality":5,"timeliness":5,"price":5,"facilities":5,"nps":10}'
t_status "a refused callback cannot be answered" 409

# --- weighted scores with two weight versions -------------------------------------------------

http POST /v1/surveys/weights "$AS_TOKEN_CENTER" \
    "{\"effective_from\":\"$today\",\"attitude\":200,\"repair_quality\":200,\"timeliness\":200,\"price\":200,\"facilities\":200}"
t_status "a centre cannot change the weights" 403
http POST /v1/surveys/weights "$AS_TOKEN_ADMIN" \
    "{\"effective_from\":\"$today\",\"attitude\":300,\"repair_quality\":300,\"timeliness\":200,\"price\":100,\"facilities\":200}"
t_status "weights that do not sum to 1000 are refused" 400
http POST /v1/surveys/weights "$AS_TOKEN_ADMIN" \
    "{\"effective_from\":\"2020-01-01\",\"attitude\":200,\"repair_quality\":200,\"timeliness\":200,\"price\":200,\"facilities\":200}"
t_status "a weight set cannot take effect in the past" 422
http POST /v1/surveys/weights "$AS_TOKEN_ADMIN" \
    "{\"effective_from\":\"$today\",\"attitude\":400,\"repair_quality\":300,\"timeliness\":100,\"price\":100,\"facilities\":100,\"note\":\"attitude first\"}"
t_status "head office adds a weight set" 201
va=$(jbody .version)

ta=$(sv_new_id TSVW)
tb=$(sv_new_id TSVX)
# A centre of this run's own (in region east), so that the report's row for it holds exactly
# this test's responses whatever other tests did on the shared stack today.
SVC=ZT$((RANDOM % 9000 + 1000))
sv_sql "INSERT INTO centers(code, name, region) VALUES ('$SVC', 'Survey test centre $SVC', 'east')
        ON CONFLICT DO NOTHING" >/dev/null
sv_close_ticket "$ta" "$SVC" east "$(date -u +%FT%T.000Z)" >/dev/null
sv_close_ticket "$tb" "$SVC" east "$(date -u +%FT%T.000Z)" >/dev/null
cba=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$ta'")
cbb=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$tb'")
scores='"attitude":5,"repair_quality":4,"timeliness":3,"price":2,"facilities":2'
http POST "/v1/surveys/callbacks/$cba/answer" "$AS_TOKEN_REGION" "{$scores,\"nps\":9,\"comment\":\"friendly\"}"
t_status "a region agent records an answer" 200
# 5*400 + 4*300 + 3*100 + 2*100 + 2*100 = 3900 thousandths
t_jq "the score is weighted with the set in effect" \
    '.response.weighted_score + " v" + (.response.weight_version|tostring)' "3.900 v$va"
t_jq "an answered callback is closed as answered" .state answered

http POST /v1/surveys/weights "$AS_TOKEN_ADMIN" \
    "{\"effective_from\":\"$today\",\"attitude\":200,\"repair_quality\":200,\"timeliness\":200,\"price\":200,\"facilities\":200}"
vb=$(jbody .version)
t_eq "a new weight set gets the next version" "$((va + 1))" "$vb"
http GET /v1/surveys/weights "$AS_TOKEN_CENTER"
t_jq "the newest set for today is the current one" .current_version "$vb"
http POST "/v1/surveys/callbacks/$cbb/answer" "$AS_TOKEN_REGION" "{$scores,\"nps\":5}"
# 5*200 + 4*200 + 3*200 + 2*200 + 2*200 = 3200
t_jq "a response after the change is scored with the new set" \
    '.response.weighted_score + " v" + (.response.weight_version|tostring)' "3.200 v$vb"
http GET "/v1/surveys/callbacks/$cba" "$AS_TOKEN_CENTER"
t_status "a centre cannot read another centre's callback" 404
http GET "/v1/surveys/callbacks/$cba" "$AS_TOKEN_REGION"
t_jq "a response before the change keeps its own score and version" \
    '.response.weighted_score + " v" + (.response.weight_version|tostring)' "3.900 v$va"
http POST "/v1/surveys/callbacks/$cba/answer" "$AS_TOKEN_REGION" "{$scores,\"nps\":1}"
t_status "a callback is answered once" 409
t_eq "stored scores cannot be rewritten, even in the database" "refused" \
    "$(sv_sql "UPDATE responses SET weighted_milli = 1000 WHERE callback_id = '$cba'" >/dev/null && echo changed || echo refused)"

http GET "/v1/reports/satisfaction?group=center&from=$today&to=$today" "$AS_TOKEN_ADMIN"
t_status "the satisfaction report answers" 200
t_jq "the report averages the stored scores" ".rows[] | select(.key == \"$SVC\") | .weighted_score" 3.550
t_jq "the report counts the responses" ".rows[] | select(.key == \"$SVC\") | .responses" 2
t_jq "NPS is promoters % minus detractors %" ".rows[] | select(.key == \"$SVC\") | .nps" 0.0
http GET "/v1/reports/satisfaction?group=center&from=$(days_ahead 2)&to=$(days_ahead 3)" "$AS_TOKEN_ADMIN"
t_jq "the response rate is answered over callbacks due in the range" \
    ".rows[] | select(.key == \"$SVC\") | .response_rate + \" \" + (.answered|tostring) + \"/\" + (.callbacks_due|tostring)" \
    "1.000 2/2"
http GET "/v1/reports/satisfaction?group=region&from=$today&to=$today" "$AS_TOKEN_CENTER_B"
t_jq "a centre's report holds only its own scope" '[.rows[] | select(.key == "east")] | length' 0
http GET "/v1/reports/satisfaction?group=brand" "$AS_TOKEN_ADMIN"
t_status "an unknown grouping is refused" 400

# --- a low score opens one complaint ----------------------------------------------------------

tl=$(sv_new_id TSVL)
sv_close_ticket "$tl" SH01 east "$(date -u +%FT%T.000Z)" >/dev/null
sv_close_ticket "$tl" SH01 east "$(date -u +%FT%T.000Z)" >/dev/null
cbl=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$tl'")
http POST "/v1/surveys/callbacks/$cbl/answer" "$AS_TOKEN_CENTER" \
    '{"attitude":3,"repair_quality":1,"timeliness":4,"price":4,"facilities":4,"nps":2,"comment":"screen broke again"}'
t_jq "a dimension scored 1 marks the response low" .response.low true
cid=$(jbody .response.complaint_id)
t_match "a low score opens a complaint" '^C[0-9]+$' "$cid"
http GET "/v1/complaints/$cid" "$AS_TOKEN_CENTER"
t_jq "the complaint is linked to the ticket and the response" '.ticket_id + "/" + .source' "$tl/survey"
t_jq "its cause is the weakest dimension" .cause repair_quality
t_jq "a survey complaint is general, owned by the agent who took the call" \
    '.severity + "/" + .owner' general/desk.sh01
http GET "/v1/complaints?ticket_id=$tl" "$AS_TOKEN_ADMIN"
t_jq "exactly one complaint exists for the ticket" '.complaints | length' 1
t_eq "the database allows one survey complaint per ticket" "refused" \
    "$(sv_sql "INSERT INTO complaints(id, ticket_id, channel, cause, description, severity, state, level, owner, source, created_at, updated_at)
               VALUES ('CX$RANDOM', '$tl', 'survey', 'other', 'dup', 'general', 'open', 'centre_lead', 'x', 'survey', now(), now())" >/dev/null &&
        echo inserted || echo refused)"

tw=$(sv_new_id TSVM)
sv_close_ticket "$tw" SH01 east "$(date -u +%FT%T.000Z)" >/dev/null
cbw=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$tw'")
http POST "/v1/surveys/callbacks/$cbw/answer" "$AS_TOKEN_CENTER" \
    '{"attitude":2,"repair_quality":3,"timeliness":3,"price":3,"facilities":3,"nps":6}'
t_jq "a weighted score under 3.0 is low and opens a complaint" \
    '.response.weighted_score + " " + (.response.low|tostring) + " " + (.response.complaint_id != null|tostring)' \
    "2.800 true true"
tok=$(sv_new_id TSVN)
sv_close_ticket "$tok" SH01 east "$(date -u +%FT%T.000Z)" >/dev/null
cbo=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$tok'")
http POST "/v1/surveys/callbacks/$cbo/answer" "$AS_TOKEN_CENTER" \
    '{"attitude":3,"repair_quality":3,"timeliness":3,"price":3,"facilities":3,"nps":7}'
t_jq "a score of exactly 3.0 with no dimension at 1 opens nothing" \
    '.response.weighted_score + " " + (.response.low|tostring) + " " + (.response.complaint_id == null|tostring)' \
    "3.000 false true"

t_done
