#!/usr/bin/env bash
# Nothing grows without bound (issue 14 point 17). Each service prunes on a timer
# (prune_interval_ms, default 10 s): a keyed reply ("k:…", an Idempotency-Key) older than
# command_reply_days (7) goes, any other reply older than keyless_reply_minutes (60) goes, and an
# outbox row goes once it is older than outbox_floor_days (30), published and applied by every
# consumer that reported its position (consumers report through their replay requests). A replay
# inside the window still works.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

RUN=$RANDOM$RANDOM

# --- stored replies: old ones go on the timer, recent ones stay and replay ---
sql intake "INSERT INTO commands(request_id, command, reply, created_at) VALUES
    ('k:retention-old-$RUN', 'cmd_test', '{\"status\":200}', now() - interval '8 days'),
    ('k:retention-recent-$RUN', 'cmd_test', '{\"status\":200}', now() - interval '6 days'),
    ('retention-keyless-old-$RUN', 'cmd_test', '{\"status\":200}', now() - interval '2 hours'),
    ('retention-keyless-new-$RUN', 'cmd_test', '{\"status\":200}', now() - interval '1 minute')" >/dev/null
gone=""
for _ in $(seq 1 300); do
    n=$(sql intake "SELECT count(*) FROM commands WHERE request_id IN
        ('k:retention-old-$RUN', 'retention-keyless-old-$RUN')")
    [ "$n" = 0 ] && gone=yes && break
    sleep 0.1
done
t_eq "the service's timer pruned the keyed reply past 7 days and the keyless one past 60 minutes" yes "$gone"
t_eq "a keyed reply inside its window is kept" 1 \
    "$(sql intake "SELECT count(*) FROM commands WHERE request_id = 'k:retention-recent-$RUN'")"
t_eq "a keyless reply inside its window is kept" 1 \
    "$(sql intake "SELECT count(*) FROM commands WHERE request_id = 'retention-keyless-new-$RUN'")"

imei=$(new_imei)
body=$(jq -nc --arg imei "$imei" --arg inv "$(TZ=Asia/Shanghai date -d '-20 days' +%F)" '{
  customer: {name: "Retention Test", phone: "13800009999"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
  purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')
key=retention-$RUN
http POST /v1/tickets "$AS_TOKEN_CENTER" "$body" -H "Idempotency-Key: $key"
t_status "a keyed open" 201
first=$(jbody .id)
# Age its stored reply to six days: still inside the window.
sql intake "UPDATE commands SET created_at = now() - interval '6 days'
            WHERE command = 'cmd_open_ticket' AND reply->'body'->>'id' = '$first'" >/dev/null
sleep 0.5
sql intake "SELECT prune_runtime(1000, 7, 60, 30)" >/dev/null
http POST /v1/tickets "$AS_TOKEN_CENTER" "$body" -H "Idempotency-Key: $key"
t_eq "a replay inside the window still gets the first ticket" "201 $first" "$HTTP_STATUS $(jbody .id)"

# --- outbox: applied by every registered consumer, older than the floor ---
t_match "consumers of intake's stream have reported their positions" "[0-9]" \
    "$(sql intake "SELECT count(*) FROM outbox_consumers WHERE stream = 'intake' HAVING count(*) > 0")"
# A stream of our own, with one registered consumer that has applied up to 3 of 5 events.
S=retention-$RUN
sql intake "SELECT emit('$S', 'test.Event', '{\"n\":1}') FROM generate_series(1, 5);
            UPDATE outbox_streams SET published_seq = last_seq WHERE stream = '$S';
            UPDATE outbox SET occurred_at = now() - interval '40 days' WHERE stream = '$S' AND seq <= 4;
            SELECT note_consumer_position('$S', 'tester', 3);" >/dev/null
sql intake "SELECT prune_runtime(1000, 7, 60, 30)" >/dev/null
t_eq "outbox rows applied by every consumer and older than the floor are pruned; the rest stay" \
    "4,5" "$(sql intake "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM outbox WHERE stream = '$S'")"
sql intake "SELECT note_consumer_position('$S', 'tester2', 3)" >/dev/null
sql intake "SELECT note_consumer_position('$S', 'tester', 99)" >/dev/null
t_eq "a position past the head is not believed" 5 \
    "$(sql intake "SELECT applied_seq FROM outbox_consumers WHERE stream = '$S' AND consumer = 'tester'")"
sql intake "SELECT prune_runtime(1000, 7, 60, 30)" >/dev/null
t_eq "the slowest consumer holds the rest back" "4,5" \
    "$(sql intake "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM outbox WHERE stream = '$S'")"
S2=retention-none-$RUN
sql intake "SELECT emit('$S2', 'test.Event', '{}');
            UPDATE outbox SET occurred_at = now() - interval '400 days' WHERE stream = '$S2';
            SELECT prune_runtime(1000, 7, 60, 30);" >/dev/null
t_eq "a stream no consumer has reported on keeps everything" 1 \
    "$(sql intake "SELECT count(*) FROM outbox WHERE stream = '$S2'")"
sql intake "DELETE FROM outbox WHERE stream IN ('$S', '$S2'); DELETE FROM outbox_consumers WHERE stream IN ('$S', '$S2');
            DELETE FROM outbox_streams WHERE stream IN ('$S', '$S2')" >/dev/null
t_done
