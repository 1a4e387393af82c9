#!/usr/bin/env bash
# Intake: the hotline's call log (issue 19.1). Calls are recorded with channel, direction,
# category, summary, agent, duration and outcome; a repair request opens its ticket in the same
# step (refused as a whole when the ticket is bad); a complaint call becomes a complaint in
# surveys, linked back to the call and the ticket; the archive is searchable and scoped; the
# statistics count by category, centre and hour.
. "$(dirname "$0")/../lib.sh"

BIN=${AS_BIN:-build/bin}
ASCTL=$BIN/asctl
today=$(TZ=Asia/Shanghai date +%F)
phone="139$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))"
word="kw$RANDOM$RANDOM"
calls_for() { q intake "SELECT count(*) FROM calls WHERE customer_phone = '$1'"; }

stats_count() { # dimension key (from the last stats answer)
    jbody "[.$1[] | select(.key == \"$2\")][0].count // 0"
}
http GET "/v1/calls/stats?center=SH01&from=$today&to=$today" "$AS_TOKEN_CENTER"
t_status "the statistics answer" 200
before_repair=$(stats_count by_category repair_request)
before_consult=$(stats_count by_category consultation)
before_total=$(jbody .total)

# --- a consultation -------------------------------------------------------------------------------

http POST /v1/calls "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$phone" --arg w "$word" '{
    direction: "inbound", channel: "hotline_400", category: "consultation", duration_s: 95,
    customer: {name: "Gao Yan", phone: $p},
    summary: ("asked how long a screen repair takes " + $w)}')"
t_status "a desk records a consultation" 201
consult=$(jbody .id)
t_match "the call has an id" '^CL[0-9]{8}$' "$consult"
t_jq "the call is the desk's centre's, answered by default" '"\(.center)/\(.outcome)/\(.channel)"' SH01/answered/hotline_400
t_match "the agent is the caller's principal" '.+' "$(jbody .agent)"

# --- bad input changes nothing --------------------------------------------------------------------

n0=$(calls_for "$phone")
http POST /v1/calls "$AS_TOKEN_CENTER" "{\"direction\":\"sideways\",\"category\":\"gossip\",\"summary\":\"x\",\"duration_s\":-1,\"customer\":{\"phone\":\"$phone\"}}"
t_status "bad fields are refused" 400
t_jq "every bad field is named" '[.error.fields[].field] | sort | join(",")' "category,direction,duration_s"
http POST /v1/calls "$AS_TOKEN_CENTER" "{\"direction\":\"inbound\",\"category\":\"praise\",\"customer\":{\"phone\":\"$phone\"}}"
t_jq "a summary is required" '.error.fields[0].field' summary
http POST /v1/calls "$AS_TOKEN_CENTER" '{"direction":"inbound","category":"other","summary":"x","ticket_id":"T99999999"}'
t_status "an unknown ticket is 422" 422
t_jq "the refusal names it" .error.code unknown_ticket
http POST /v1/calls "$AS_TOKEN_ADMIN" '{"direction":"inbound","category":"other","summary":"x","center":"NOPE9"}'
t_status "an unknown centre is 422" 422
http POST /v1/calls "$AS_TOKEN_CENTER" '{"direction":"inbound","category":"other","summary":"x","complaint_id":"C99999999"}'
t_status "an unknown complaint is 422" 422
t_jq "the refusal says unknown_complaint" .error.code unknown_complaint
http POST /v1/calls "$AS_TOKEN_CENTER" '{"direction":"inbound","category":"praise","summary":"x","complaint":{"cause":"price","description":"y"}}'
t_jq "a complaint body on a praise call is refused" '.error.fields[0].field' complaint
bad_ticket=$(jq -nc --arg p "$phone" '{direction: "inbound", category: "repair_request",
    summary: "phone will not charge", customer: {phone: $p},
    ticket: {customer: {name: "Gao Yan", phone: $p},
             device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: "123"},
             purchase: {invoice_date: "2026-01-01", price_cents: 100, invoice: true},
             fault: {code: "NO_POWER", listed: true}, request: "repair"}}')
http POST /v1/calls "$AS_TOKEN_CENTER" "$bad_ticket"
t_status "a repair request with a bad ticket is refused" 400
t_jq "the refusal names the ticket's field" '[.error.fields[].field] | index("ticket.device.imei") != null' true
t_eq "nothing refused was recorded" "$n0" "$(calls_for "$phone")"

# --- a repair request opens its ticket in one step ---------------------------------------------

imei=$(new_imei)
http POST /v1/calls "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$phone" --arg i "$imei" --arg inv "$(days_ago 40)" '{
    direction: "inbound", category: "repair_request", duration_s: 240, outcome: "answered",
    summary: "phone will not charge since yesterday",
    ticket: {customer: {name: "Gao Yan", phone: $p},
             device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $i, imei_label: $i},
             purchase: {invoice_date: $inv, price_cents: 299900, invoice: true, warranty_card: true},
             fault: {code: "NO_POWER", listed: true}, request: "repair"}}')"
t_status "a repair request is recorded" 201
repair=$(jbody .id)
ticket=$(jbody .ticket_id)
t_match "the call links the ticket it opened" '^T[0-9]+' "$ticket"
t_jq "the call takes the ticket's customer" .customer_name "Gao Yan"
http GET "/v1/tickets/$ticket" "$AS_TOKEN_CENTER"
t_status "the ticket exists" 200
t_jq "the ticket is the caller's device" .device.imei "$imei"

# --- a complaint call becomes a complaint -------------------------------------------------------

http POST /v1/calls "$AS_TOKEN_CENTER" "$(jq -nc --arg t "$ticket" '{
    direction: "inbound", channel: "phone", category: "complaint", ticket_id: $t, duration_s: 300,
    outcome: "callback_needed", summary: "angry: nobody called back",
    complaint: {cause: "attitude", description: "nobody called back about the repair"}}')"
t_status "a complaint call is recorded" 201
cc=$(jbody .id)
t_jq "the complaint is on its way" .complaint_pending true
t_jq "the call takes the ticket's phone" .customer_phone "$phone"
wait_http "/v1/calls/$cc" "$AS_TOKEN_CENTER" '.complaint_id != null' true
cid=$(jbody '.complaint_id // empty')
t_match "surveys opened the complaint and the call links it" '^C[0-9]{8}$' "$cid"
http GET "/v1/complaints/$cid" "$AS_TOKEN_CENTER"
t_status "the complaint can be read" 200
t_jq "the complaint names the ticket, cause and channel" '"\(.ticket_id)/\(.cause)/\(.channel)"' "$ticket/attitude/phone"
t_jq "the complaint carries the customer" .customer_phone "$phone"
t_eq "one complaint for the call, however often the event comes" 1 \
    "$(q surveys "SELECT count(*) FROM call_complaints WHERE call_id = '$cc'")"
for _ in $(seq 1 25); do
    http GET "/v1/tickets/$ticket" "$AS_TOKEN_CENTER"
    [ "$(jbody ".complaints // [] | index(\"$cid\") != null")" = true ] && break
    sleep 0.2
done
t_jq "the ticket lists the complaint" ".complaints // [] | index(\"$cid\") != null" true
http POST /v1/calls "$AS_TOKEN_CENTER" "{\"direction\":\"outbound\",\"category\":\"other\",\"summary\":\"called back\",\"complaint_id\":\"$cid\"}"
t_status "a later call may name the complaint" 201
t_jq "and links it" .complaint_id "$cid"
t_jq "a call about a ticket's complaint is about the ticket and its customer" '"\(.ticket_id)/\(.customer_phone)"' "$ticket/$phone"

# --- the archive ------------------------------------------------------------------------------------

http GET "/v1/calls?phone=$phone" "$AS_TOKEN_CENTER"
t_status "the archive answers" 200
t_jq "by phone: the customer's four calls, newest first" '[.calls[].id] | length' 4
t_jq "the newest first" '.calls[-1].id' "$consult"
http GET "/v1/calls?ticket_id=$ticket" "$AS_TOKEN_CENTER"
t_jq "by ticket" '[.calls[].id] | length' 3
http GET "/v1/calls?phone=$phone&category=complaint" "$AS_TOKEN_CENTER"
t_jq "by category" '[.calls[].id] | join(",")' "$cc"
http GET "/v1/calls?q=$word" "$AS_TOKEN_CENTER"
t_jq "by text in the summary" '[.calls[].id] | join(",")' "$consult"
http GET "/v1/calls?phone=$phone&from=$(days_ago 1)&to=$today" "$AS_TOKEN_CENTER"
t_jq "by dates (inside)" '.calls | length' 4
http GET "/v1/calls?phone=$phone&from=$(days_ago 9)&to=$(days_ago 2)" "$AS_TOKEN_CENTER"
t_jq "by dates (outside)" '.calls | length' 0
http GET "/v1/calls?phone=$phone&limit=2" "$AS_TOKEN_CENTER"
next=$(jbody .next)
http GET "/v1/calls?phone=$phone&limit=2&after=$next" "$AS_TOKEN_CENTER"
t_jq "the cursor pages on" '.calls | length' 2
http GET "/v1/calls?phone=$phone" "$AS_TOKEN_CENTER_B"
t_jq "another centre sees none of them" '.calls | length' 0
http GET "/v1/calls/$consult" "$AS_TOKEN_CENTER_B"
t_status "another centre's call is 404" 404
http GET "/v1/calls?phone=$phone" "$AS_TOKEN_REGION"
t_jq "the region sees them with the phone masked" '.calls[0].customer_phone | test("^[*]+[0-9]{4}$")' true
http GET "/v1/calls?from=2026-02-30" "$AS_TOKEN_CENTER"
t_status "a bad date is refused" 400
http GET "/v1/calls/$consult" "$AS_TOKEN_REGION"
t_jq "a full read shows the phone" .customer_phone "$phone"
t_eq "a full read is audited" 1 "$(q intake "SELECT count(*) FROM audit WHERE action = 'read' AND entity = 'call' AND entity_id = '$consult'")"

# --- statistics ---------------------------------------------------------------------------------

http GET "/v1/calls/stats?center=SH01&from=$today&to=$today" "$AS_TOKEN_CENTER"
t_eq "by category: one more repair request" $((before_repair + 1)) "$(stats_count by_category repair_request)"
t_eq "by category: one more consultation" $((before_consult + 1)) "$(stats_count by_category consultation)"
t_eq "four more calls in all" $((before_total + 4)) "$(jbody .total)"
t_jq "by centre: SH01 only" '[.by_center[].key] | join(",")' SH01
hour=$(TZ=Asia/Shanghai date +%H)
t_jq "by hour: the current hour is counted" "[.by_hour[] | select(.key == \"$hour\")][0].count >= 4" true
t_jq "outcomes are counted" '[.by_category[] | select(.key == "complaint")][0].callback_needed >= 1' true

# --- asctl ---------------------------------------------------------------------------------------

out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" hotline record --direction outbound \
    --category praise --summary "thanked the engineer $word" --phone "$phone" --duration 30 --json 2>&1)
t_match "asctl hotline record records a call" '"category": "praise"' "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" hotline list --text "$word" 2>&1)
t_match "asctl hotline list finds it by text" 'praise' "$out"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" hotline stats --center SH01 2>&1)
t_match "asctl hotline stats prints the categories" 'repair_request' "$out"

t_done
