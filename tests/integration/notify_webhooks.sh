#!/usr/bin/env bash
# notify: integrators' webhooks against a local HTTP sink (loopback). Only admin manages them and
# bad input is refused field by field; every delivery is signed (the sink verifies
# HMAC-SHA256 over "<timestamp>.<body>" as docs/notify.md says); scope: a centre's webhook gets
# only its centre's events and a reviewer's gets the phone masked and no name; a receiver
# answering 500 gets the event again after a back-off, in order; a paused webhook queues and
# resume sends; redelivery from a sequence sends the same Event-Id again; the pull feed
# GET /v1/events is scoped like reads and pages by its cursor. Everything is this run's own:
# fresh tickets and phones, its own webhooks, selected by ticket id.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/notify/tests/lib.sh"

RUN=$RANDOM$RANDOM
PHONE_A=136$(printf '%08d' $((RUN % 100000000)))
PHONE_B=138$(printf '%08d' $((RUN % 100000000)))

t_check "notify restarts with loopback receivers allowed and a short back-off" \
    nt_restart AS_NOTIFY_RETRY_BASE_MS=300
nt_sink_start

# --- managing webhooks: admin only, bad input named -------------------------------------------
http POST /v1/webhooks "$AS_TOKEN_CENTER" '{"url":"http://127.0.0.1:9/x","event_types":["*"],"secret":"0123456789abcdef"}'
t_status "a centre desk may not create webhooks" 403
http POST /v1/webhooks "$AS_TOKEN_ADMIN" '{"url":"ftp://example.com/x","event_types":["*"],"secret":"0123456789abcdef"}'
t_status "a URL that is not http(s) is refused" 400
t_jq "... naming the field" '.error.fields[0].field' url
http POST /v1/webhooks "$AS_TOKEN_ADMIN" '{"url":"https://example.com/x","event_types":["intake.Nope!"],"secret":"short"}'
t_status "a bad event type and a short secret are refused" 400
t_jq "... both named" '[.error.fields[].field] | sort | join(",")' "event_types,secret"
http POST /v1/webhooks "$AS_TOKEN_ADMIN" '{"url":"https://example.com/x","event_types":["*"],"secret":"0123456789abcdef","role":"center"}'
t_status "role center without a centre is refused" 400
t_jq "... naming center" '.error.fields[0].field' center
n_before=$(nt_sql "SELECT count(*) FROM webhooks")
t_eq "refused requests created nothing" "$n_before" "$(nt_sql "SELECT count(*) FROM webhooks")"

nt_hook all-$RUN '["intake.*"]'
t_status "admin creates a webhook for every intake event" 201
HOOK_ALL=$HOOK_ID
t_jq "the secret is never shown back" 'has("secret")' false
nt_hook sh01-$RUN '["intake.TicketOpened"]' '. + {role: "center", center: "SH01"}'
t_status "admin creates a webhook scoped to centre SH01" 201
HOOK_SH=$HOOK_ID
nt_hook rev-$RUN '["intake.TicketOpened"]' '. + {role: "reviewer"}'
HOOK_REV=$HOOK_ID
nt_hook flaky-$RUN '["intake.TicketOpened"]' '. + {role: "center", center: "SH01"}'
HOOK_FLAKY=$HOOK_ID
echo 2 >"$NT_DIR/fail_flaky-$RUN"
http GET /v1/webhooks "$AS_TOKEN_ADMIN"
t_jq "the list holds the new webhooks" \
    "[.webhooks[] | select(.id == \"$HOOK_ALL\" or .id == \"$HOOK_SH\") | .state] | join(\",\")" "active,active"

# --- deliveries -------------------------------------------------------------------------------
nt_ticket "$AS_TOKEN_CENTER" "$PHONE_A"
T_SH=$TICKET
nt_ticket "$AS_TOKEN_CENTER_B" "$PHONE_B"
T_GZ=$TICKET
nt_ticket "$AS_TOKEN_CENTER" "$PHONE_A"
T_SH2=$TICKET
t_ok "three tickets opened ($T_SH, $T_GZ at GZ01, $T_SH2)"

opened() { printf '.type == "intake.TicketOpened" and .body.data.ticket_id == "%s"' "$1"; }
t_check "the admin webhook receives SH01's TicketOpened" nt_wait_count "all-$RUN" "$(opened "$T_SH")" 1
t_check "... and GZ01's" nt_wait_count "all-$RUN" "$(opened "$T_GZ")" 1
t_check "the SH01 webhook receives SH01's TicketOpened" nt_wait_count "sh01-$RUN" "$(opened "$T_SH2")" 1
t_check "the reviewer's webhook receives it too" nt_wait_count "rev-$RUN" "$(opened "$T_SH")" 1
sleep 1
t_eq "the SH01 webhook never receives GZ01's events" 0 \
    "$(nt_received "sh01-$RUN" "select($(opened "$T_GZ"))" | wc -l)"
t_eq "every delivery carries a valid signature (HMAC-SHA256 over timestamp.body)" "" \
    "$(jq -c 'select(.sig_ok != true) | .path' "$NT_DIR/requests.jsonl")"
t_eq "the Event-Id header is the body's id (<stream>:<sequence>)" "" \
    "$(jq -c 'select(.event_id != .body.id or (.event_id | test("^intake:[0-9]+$") | not)) | .event_id' "$NT_DIR/requests.jsonl")"
t_eq "the admin webhook sees the customer's phone" "$PHONE_A" \
    "$(nt_received "all-$RUN" "select($(opened "$T_SH")) | .body.data.customer.phone" | head -1 | tr -d '"')"
t_eq "the reviewer's webhook gets the phone masked and no name" "\"*******${PHONE_A: -4}\" null" \
    "$(nt_received "rev-$RUN" "select($(opened "$T_SH")) | \"\(.body.data.customer.phone | tojson) \(.body.data.customer.name | tojson)\"" | head -1 | tr -d '\\' | sed 's/^"//; s/"$//')"
seq_sh=$(nt_received "all-$RUN" "select($(opened "$T_SH")) | .body.sequence" | head -1)
seq_sh2=$(nt_received "all-$RUN" "select($(opened "$T_SH2")) | .body.sequence" | head -1)
t_eq "events of one stream arrive in sequence order" \
    "$(nt_received "all-$RUN" '.body.sequence' | sort -n | tr '\n' ' ')" \
    "$(nt_received "all-$RUN" '.body.sequence' | tr '\n' ' ')"

# --- retries after 500, in order ------------------------------------------------------------
t_check "the flaky receiver (500 twice) gets SH01's first ticket in the end" \
    nt_wait_count "flaky-$RUN" "$(opened "$T_SH") and .status == 200" 1
t_check "... and then the second" nt_wait_count "flaky-$RUN" "$(opened "$T_SH2") and .status == 200" 1
t_eq "the first event was tried three times (500, 500, 200) before the second was sent" \
    "$T_SH:500 $T_SH:500 $T_SH:200 $T_SH2:200 " \
    "$(nt_received "flaky-$RUN" '"\(.body.data.ticket_id):\(.status)"' | tr -d '"' | tr '\n' ' ')"
http GET "/v1/webhooks/$HOOK_FLAKY/deliveries" "$AS_TOKEN_ADMIN"
t_status "the delivery log answers" 200
t_jq "the log shows the first delivery delivered after 3 attempts" \
    "[.deliveries[] | select(.event_id == \"intake:$seq_sh\") | \"\(.state) \(.attempts) \(.last_status)\"] | join(\",\")" \
    "delivered 3 200"

# --- pause, resume ----------------------------------------------------------------------------
http POST "/v1/webhooks/$HOOK_SH/pause" "$AS_TOKEN_ADMIN" '{}'
t_jq "pause: the webhook is paused" .state paused
http POST "/v1/webhooks/$HOOK_SH/pause" "$AS_TOKEN_ADMIN" '{}'
t_status "pausing a paused webhook is 409" 409
nt_ticket "$AS_TOKEN_CENTER" "$PHONE_A"
T_SH3=$TICKET
t_check "the admin webhook gets the new ticket" nt_wait_count "all-$RUN" "$(opened "$T_SH3")" 1
sleep 1
t_eq "the paused webhook receives nothing" 0 "$(nt_received "sh01-$RUN" "select($(opened "$T_SH3"))" | wc -l)"
http GET "/v1/webhooks/$HOOK_SH/deliveries?state=pending" "$AS_TOKEN_ADMIN"
t_jq "... its delivery waits, pending" '.deliveries | length' 1
http POST "/v1/webhooks/$HOOK_SH/resume" "$AS_TOKEN_ADMIN" '{}'
t_jq "resume: active again" .state active
t_check "after resume the waiting event arrives" nt_wait_count "sh01-$RUN" "$(opened "$T_SH3")" 1

# --- redelivery from a sequence ---------------------------------------------------------------
http POST "/v1/webhooks/$HOOK_SH/redeliver" "$AS_TOKEN_ADMIN" "{\"stream\":\"intake\",\"from_sequence\":$seq_sh2}"
t_status "redeliver from a sequence answers" 200
t_jq "it queues SH01's TicketOpened events from there (2)" .queued 2
t_check "the redelivered event arrives again with the same Event-Id" \
    nt_wait_count "sh01-$RUN" "$(opened "$T_SH2")" 2
http POST "/v1/webhooks/$HOOK_SH/redeliver" "$AS_TOKEN_ADMIN" '{"stream":"nope","from_sequence":1}'
t_status "redeliver of an unknown stream is 400" 400

# --- the pull feed ----------------------------------------------------------------------------
after=$((seq_sh > 0 ? 0 : 0))
pos=$(nt_sql "SELECT position - 1 FROM events WHERE stream = 'intake' AND sequence = $seq_sh")
http GET "/v1/events?after=$pos&type=intake.TicketOpened&limit=1000" "$AS_TOKEN_CENTER"
t_status "a centre desk reads the feed" 200
t_jq "it sees its own centre's ticket" "[.events[] | select(.data.ticket_id == \"$T_SH\")] | length" 1
t_jq "but not another centre's" "[.events[] | select(.data.ticket_id == \"$T_GZ\")] | length" 0
http GET "/v1/events?after=$pos&type=intake.TicketOpened&limit=1" "$AS_TOKEN_ADMIN"
t_jq "admin pages one event at a time: the first is SH01's ticket" '.events[0].data.ticket_id' "$T_SH"
next=$(jbody .next)
http GET "/v1/events?after=$next&type=intake.TicketOpened&limit=1" "$AS_TOKEN_ADMIN"
t_jq "the cursor moves on to the next event" '.events[0].data.ticket_id' "$T_GZ"
http GET "/v1/events?after=$pos&type=intake.TicketOpened&limit=1000" "$AS_TOKEN_REGION"
t_jq "the east region sees SH01's ticket with the phone masked" \
    "[.events[] | select(.data.ticket_id == \"$T_SH\") | .data.customer.phone] | join(\",\")" "*******${PHONE_A: -4}"
http GET "/v1/events?after=-1" "$AS_TOKEN_ADMIN"
t_status "a negative cursor is 400" 400
http GET "/v1/events" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse role may not read the feed" 403

# --- delete -----------------------------------------------------------------------------------
http DELETE "/v1/webhooks/$HOOK_REV" "$AS_TOKEN_ADMIN"
t_jq "delete: the webhook is deleted" .state deleted
http GET "/v1/webhooks/$HOOK_REV" "$AS_TOKEN_ADMIN"
t_status "a deleted webhook is 404" 404
for h in "$HOOK_ALL" "$HOOK_SH" "$HOOK_FLAKY"; do
    http DELETE "/v1/webhooks/$h" "$AS_TOKEN_ADMIN"
done
t_done
