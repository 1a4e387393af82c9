#!/usr/bin/env bash
# notify: telling the customer. With an SMS provider and a generic webhook configured (both a
# local sink on loopback), a new ticket's warranty decision sends the customer a zh-CN text
# from the versioned template on both channels (the SMS with the API key and an idempotency
# key, the webhook signed); the outbox (/v1/notifications) shows each with its delivery status,
# scoped like reads and the phone masked for roles that do not call customers; a phone that
# opted out is told nothing (rows `suppressed`); an SMS the provider refuses once (500) is sent
# again and recorded after two attempts; with status_page_url set the texts end with the
# customer's status page and the ticket number; inside quiet hours the text is held until they
# end, and a key customer's notifications are due before the others' (issue 19.8).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/notify/tests/lib.sh"

RUN=$RANDOM$RANDOM
p() { printf '13%d%08d' "$1" $(((RUN + $1) % 100000000)); }
P1=$(p 1) P2=$(p 2) P3=$(p 3) P4=$(p 4) P5=$(p 5) P6=$(p 6)
CSECRET=cust-secret-$RUN-0123456789

nt_sink_start
printf '/cust %s\n' "$CSECRET" >>"$NT_DIR/secrets"
CHANNELS=(AS_NOTIFY_SMS_URL="$NT_SINK/sms" AS_NOTIFY_SMS_KEY=sms-key-$RUN
    AS_NOTIFY_CUSTOMER_WEBHOOK_URL="$NT_SINK/cust" AS_NOTIFY_CUSTOMER_WEBHOOK_SECRET="$CSECRET"
    AS_NOTIFY_RETRY_BASE_MS=300)
t_check "notify restarts with an SMS provider and a customer webhook, no quiet hours" \
    nt_restart "${CHANNELS[@]}" AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0

to() { printf '.body.to == "%s"' "$1"; }

# --- a new ticket: the decision, told on both channels ------------------------------------------
nt_ticket "$AS_TOKEN_CENTER" "$P1"
T1=$TICKET
t_check "the SMS provider receives the ticket-received text" nt_wait_count sms "$(to "$P1")" 1
sms=$(nt_received sms "select($(to "$P1"))" | head -1)
t_match "the text is the zh-CN template with the ticket number" "已受理，工单号$T1" \
    "$(jq -r .body.text <<<"$sms")"
t_match "... and the warranty decision" "三包判定：" "$(jq -r .body.text <<<"$sms")"
t_eq "the provider gets the API key as a bearer token" "Bearer sms-key-$RUN" "$(jq -r .authorization <<<"$sms")"
t_match "... and an idempotency key per notification" '^ntf-[0-9]+$' "$(jq -r .idempotency_key <<<"$sms")"
t_check "the customer webhook receives it too" nt_wait_count cust ".body.phone == \"$P1\"" 1
t_eq "the customer webhook's delivery is signed (HMAC-SHA256 over timestamp.body)" true \
    "$(nt_received cust "select(.body.phone == \"$P1\") | .sig_ok" | head -1)"
sleep 0.5
http GET "/v1/notifications?ticket_id=$T1" "$AS_TOKEN_CENTER"
t_status "the centre desk lists the ticket's notifications" 200
t_jq "one per channel, both sent, kind ticket_received" \
    '[.notifications[] | "\(.channel):\(.state):\(.kind)"] | sort | join(",")' \
    "sms:sent:ticket_received,webhook:sent:ticket_received"
t_jq "the desk sees the phone in full" '.notifications[0].phone' "$P1"
t_jq "the template version is recorded" '.notifications[0].template_version' 1
http GET "/v1/notifications?ticket_id=$T1" "$AS_TOKEN_REGION"
t_jq "the region sees them with the phone masked" '.notifications[0].phone' "*******${P1: -4}"
http GET "/v1/notifications?ticket_id=$T1" "$AS_TOKEN_CENTER_B"
t_jq "another centre sees none of them" '.notifications | length' 0
http GET "/v1/notifications" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse may not read the outbox" 403

# --- opt-out ------------------------------------------------------------------------------------
http POST /v1/notifications/opt-out "$AS_TOKEN_CENTER" '{"phone":"12ab"}'
t_status "a malformed phone is refused" 400
t_jq "... naming the field" '.error.fields[0].field' phone
http POST /v1/notifications/opt-out "$AS_TOKEN_CENTER" "{\"phone\":\"$P2\",\"note\":\"asked at the desk\"}"
t_status "the desk records the customer's opt-out" 200
nt_ticket "$AS_TOKEN_CENTER" "$P2"
T2=$TICKET
for i in $(seq 1 50); do
    [ "$(nt_sql "SELECT count(*) FROM notifications WHERE ticket_id = '$T2'")" = 2 ] && break
    sleep 0.2
done
sleep 1
t_eq "the opted-out customer is told nothing" 0 "$(nt_received sms "select($(to "$P2"))" | wc -l)"
http GET "/v1/notifications?ticket_id=$T2" "$AS_TOKEN_ADMIN"
t_jq "the outbox shows the rows suppressed" '[.notifications[].state] | unique | join(",")' suppressed
http POST /v1/notifications/opt-in "$AS_TOKEN_CENTER" "{\"phone\":\"$P2\"}"
t_jq "opt-in: the phone is told again from now on" .opted_out false

# --- a refusal, retried -------------------------------------------------------------------------
echo 1 >"$NT_DIR/fail_sms"
nt_ticket "$AS_TOKEN_CENTER" "$P3"
T3=$TICKET
t_check "the SMS refused once (500) arrives on the second attempt" \
    nt_wait_count sms "$(to "$P3") and .status == 200" 1
t_eq "the provider saw it twice: 500, then 200" "500 200" \
    "$(nt_received sms "select($(to "$P3")) | .status" | tr '\n' ' ' | sed 's/ $//')"
sleep 0.5
http GET "/v1/notifications?ticket_id=$T3&channel=sms" "$AS_TOKEN_ADMIN"
t_jq "the outbox records it sent after 2 attempts" '.notifications[0] | "\(.state) \(.attempts) \(.last_status)"' "sent 2 200"

# --- the status page's address -------------------------------------------------------------------
URL=https://service.example.com/status/
t_check "notify restarts with status_page_url" \
    nt_restart "${CHANNELS[@]}" AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0 AS_NOTIFY_STATUS_PAGE_URL=$URL
nt_ticket "$AS_TOKEN_CENTER" "$P5"
T5=$TICKET
t_check "the SMS arrives" nt_wait_count sms "$(to "$P5")" 1
t_match "the text ends with the status page and the ticket number" "进度查询：${URL}\\?t=$T5\$" \
    "$(nt_received sms "select($(to "$P5")) | .body.text" | head -1 | jq -r .)"
t_match "the texts without it (status_page_url empty) end with the template" "请凭工单号及手机后四位。\$" \
    "$(nt_received sms "select($(to "$P1")) | .body.text" | head -1 | jq -r .)"

# --- quiet hours --------------------------------------------------------------------------------
H=$((10#$(TZ=Asia/Shanghai date +%H)))
E=$(((H + 1) % 24))
t_check "notify restarts with quiet hours around now ($H:00-$E:00 Asia/Shanghai)" \
    nt_restart "${CHANNELS[@]}" AS_NOTIFY_QUIET_START_H=$H AS_NOTIFY_QUIET_END_H=$E
nt_ticket "$AS_TOKEN_CENTER" "$P4"
T4=$TICKET
for i in $(seq 1 50); do
    [ "$(nt_sql "SELECT count(*) FROM notifications WHERE ticket_id = '$T4'")" = 2 ] && break
    sleep 0.2
done
sleep 1
t_eq "inside quiet hours nothing is sent" 0 "$(nt_received sms "select($(to "$P4"))" | wc -l)"
http GET "/v1/notifications?ticket_id=$T4&channel=sms" "$AS_TOKEN_ADMIN"
t_jq "the text is held, pending, for the quiet hours" '.notifications[0] | "\(.state) \(.held_for_quiet_hours)"' "pending true"
want=$(TZ=UTC date -d "$(TZ=Asia/Shanghai date -d "$( ((E == 0)) && echo tomorrow || echo today) $(printf '%02d' $E):00" '+%F %H:%M %z')" +%FT%H:%M)
t_match "... until the quiet hours end ($E:00 Asia/Shanghai)" "^$want" "$(jbody '.notifications[0].next_attempt_at')"

# Key customers first: a key customer's ticket opened after a regular one, both held for the
# quiet hours. Made due together (in a transaction that is rolled back: nothing is sent), the
# sender's query takes the key customer's notifications first.
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"Notify Key $RUN\",\"phones\":[\"$P6\"],\"tier\":\"key\",\"account_owner\":\"Ma Li\"}"
t_status "a key customer" 201
nt_ticket "$AS_TOKEN_CENTER" "$P6"
T6=$TICKET
for i in $(seq 1 50); do
    [ "$(nt_sql "SELECT count(*) FROM notifications WHERE ticket_id = '$T6'")" = 2 ] && break
    sleep 0.2
done
t_eq "the key customer's notifications have priority, the regular one's not" "$T4:0 $T6:1" \
    "$(nt_sql "SELECT string_agg(DISTINCT ticket_id || ':' || priority, ' ') FROM notifications WHERE ticket_id IN ('$T4', '$T6')")"
order=$(PGPASSWORD=$(cat "$AS_VAR/run/secrets/notify.pw") psql -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$AS_PG_PORT dbname=aftersales user=as_notify application_name=notify-test" <<SQL 2>&1
BEGIN;
UPDATE notifications SET next_at = now() - interval '2 s' WHERE ticket_id = '$T4';
UPDATE notifications SET next_at = now() - interval '1 s' WHERE ticket_id = '$T6';
SELECT n.ticket_id FROM due_notifications(1000, '{}') WITH ORDINALITY AS d(id, channel, body, k)
  JOIN notifications n ON n.id = d.id
 WHERE n.ticket_id IN ('$T4', '$T6') ORDER BY d.k LIMIT 1;
ROLLBACK;
SQL
)
t_eq "due together, the key customer's (newer) notification is sent first" "$T6" "$order"

# back to no customer channels (the other tests' tickets are not for this sink)
t_check "notify restarts without customer channels" nt_restart
t_done
