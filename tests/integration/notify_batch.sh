#!/usr/bin/env bash
# notify: a backlog of events applied in batches (decision 36). While notify is stopped, a desk
# opens tickets for new customers (each one: intake.CustomerChanged `registered`,
# intake.CustomerLinked, intake.TicketOpened; then warranty.WarrantyDecided), makes one customer
# VIP between two of its tickets. Notify then
# applies the backlog of both streams in batches of one on_events() call each, and the result is
# what applying them one by one gives: every event once in the feed, positions in sequence
# order, each ticket scoped to its centre, one delivery per event for a webhook in feed order,
# the tiers in the order of the links and the change (both tickets of the VIP customer are VIP),
# and one customer notification per ticket and channel also when the decision arrived before
# the ticket (the waiting ones are flushed when it arrives). Then a backlog with an erasure in
# it (applied event by event) leaves no phone of the erased customer's tickets.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers.sh"
. "$(dirname "$0")/../../services/notify/tests/lib.sh"

RUN=$RANDOM$RANDOM
# at STREAM SEQ — notify's position in STREAM has reached SEQ (re-read on every call)
at() { [ "$(nt_sql "SELECT last_seq FROM consumer_offsets WHERE stream = '$1'")" -ge "$2" ] 2>/dev/null; }
# decided N — warranty has published at least N decisions after W0
decided() { [ "$(q warranty "SELECT count(*) FROM outbox WHERE stream = 'warranty' AND seq > $W0")" -ge "$1" ] 2>/dev/null; }
p() { printf '15%d%08d' "$1" $(((RUN + $1) % 100000000)); }
N=8

nt_sink_start
t_check "notify runs with an SMS provider (the sink), no quiet hours" \
    nt_restart AS_NOTIFY_SMS_URL="$NT_SINK/sms" AS_NOTIFY_SMS_KEY=k-$RUN \
    AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0
nt_hook all '["intake.*", "warranty.*"]'
t_status "an admin webhook for every intake and warranty event" 201
HOOK=$HOOK_ID

I0=$(q intake "SELECT coalesce(max(last_seq), 0) FROM outbox_streams WHERE stream = 'intake'")
W0=$(q warranty "SELECT coalesce(max(last_seq), 0) FROM outbox_streams WHERE stream = 'warranty'")
t_check "the notify consumer is at intake's head before the stop" \
    wait_until 20 at intake "$I0"

pid=$(cat "$AS_VAR/run/notify.pid")
kill -TERM "$pid"
t_check "notify stops" wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"

TICKETS=()
for i in $(seq 1 $N); do
    nt_ticket "$AS_TOKEN_CENTER" "$(p "$i")"
    TICKETS+=("$TICKET")
done
t_eq "$N tickets opened while notify is down" $N "$(printf '%s\n' "${TICKETS[@]}" | grep -c '^T')"
CU1=$(q intake "SELECT customer_id FROM tickets WHERE id = '${TICKETS[0]}'")
http PATCH "/v1/customers/$CU1" "$AS_TOKEN_CENTER" '{"tier":"vip","account_owner":"Ma Li"}'
t_status "the first ticket's customer becomes VIP (a tier change after its link)" 200
nt_ticket "$AS_TOKEN_CENTER" "$(p 1)"
TV=$TICKET
t_match "... and opens a second ticket (a link after the change)" '^T' "$TV"
t_check "every decision is published" wait_until 30 decided $((N + 1))

ALL=$(printf "'%s'," "${TICKETS[@]}" "$TV")
ALL=${ALL%,}
OTHERS=$(printf "'%s'," "${TICKETS[@]:1}")
OTHERS=${OTHERS%,}
I1=$(q intake "SELECT last_seq FROM outbox_streams WHERE stream = 'intake'")
W1=$(q warranty "SELECT last_seq FROM outbox_streams WHERE stream = 'warranty'")
t_check "notify starts again with the same channel" \
    nt_restart AS_NOTIFY_SMS_URL="$NT_SINK/sms" AS_NOTIFY_SMS_KEY=k-$RUN \
    AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0
t_check "it applies the intake backlog" wait_until 30 at intake "$I1"
t_check "... and the warranty backlog" wait_until 30 at warranty "$W1"

# --- the feed: every event once, in order, scoped -------------------------------------------------
want=$(q intake "SELECT string_agg(seq || ':' || type, ',' ORDER BY seq) FROM outbox
                  WHERE stream = 'intake' AND seq > $I0 AND seq <= $I1")
got=$(nt_sql "SELECT string_agg(sequence || ':' || type, ',' ORDER BY sequence) FROM events
               WHERE stream = 'intake' AND sequence > $I0 AND sequence <= $I1")
t_eq "the feed holds every intake event of the backlog once, with its type" "$want" "$got"
t_eq "the feed's positions follow the sequence (intake and warranty)" 0 "$(nt_sql "
    SELECT count(*) FROM (SELECT stream, sequence,
                                 lag(sequence) OVER (PARTITION BY stream ORDER BY position) AS prev
                            FROM events WHERE (stream = 'intake' AND sequence > $I0)
                                           OR (stream = 'warranty' AND sequence > $W0)) x
     WHERE prev IS NOT NULL AND prev >= sequence")"
# (warranty's events name only the ticket: scoped when notify knew it, and the streams are
# applied independently, so not asserted here)
t_eq "every intake event naming one of the tickets is scoped to centre SH01" 0 "$(nt_sql "
    SELECT count(*) FROM events WHERE stream = 'intake' AND sequence > $I0
       AND payload->>'ticket_id' IN ($ALL) AND center IS DISTINCT FROM 'SH01'")"
t_eq "notify knows each ticket and its centre" $((N + 1)) "$(nt_sql "
    SELECT count(*) FROM tickets WHERE ticket_id IN ($ALL) AND center = 'SH01'")"

# --- the webhook: one delivery per event, in feed order ---------------------------------------------
nev=$(nt_sql "SELECT count(*) FROM events WHERE (stream = 'intake' AND sequence > $I0 AND sequence <= $I1)
                                           OR (stream = 'warranty' AND sequence > $W0 AND sequence <= $W1)")
t_eq "the webhook has one delivery per event of the backlog" "$nev" "$(nt_sql "
    SELECT count(*) FROM deliveries WHERE webhook_id = '$HOOK'
       AND ((stream = 'intake' AND sequence > $I0 AND sequence <= $I1)
            OR (stream = 'warranty' AND sequence > $W0 AND sequence <= $W1))")"
t_eq "... queued in the feed's order" 0 "$(nt_sql "
    SELECT count(*) FROM (SELECT e.position, lag(e.position) OVER (ORDER BY d.id) AS prev
                            FROM deliveries d JOIN events e USING (stream, sequence)
                           WHERE d.webhook_id = '$HOOK' AND e.stream = 'intake' AND e.sequence > $I0) x
     WHERE prev IS NOT NULL AND prev >= position")"

# --- tiers and the customer's notifications ---------------------------------------------------------
t_eq "both tickets of the VIP customer are VIP (the change applied after the first link)" "vip,vip" \
    "$(nt_sql "SELECT string_agg(tier, ',') FROM ticket_tiers
                WHERE ticket_id IN ('${TICKETS[0]}', '$TV')")"
t_eq "the other customers' tickets are regular" $((N - 1)) "$(nt_sql "
    SELECT count(*) FROM ticket_tiers WHERE ticket_id IN ($OTHERS) AND tier = 'regular'")"
t_eq "one ticket-received notification per ticket on the SMS channel" $((N + 1)) "$(nt_sql "
    SELECT count(*) FROM notifications WHERE kind = 'ticket_received' AND channel = 'sms'
       AND ticket_id IN ($ALL)")"
t_eq "no decision is left waiting for its ticket" 0 "$(nt_sql "
    SELECT count(*) FROM customer_waiting WHERE ticket_id IN ($ALL)")"
t_check "the SMS provider receives them" nt_wait_count sms '.body.text != null' $((N + 1))

# --- a batch with an erasure goes event by event ------------------------------------------------
pid=$(cat "$AS_VAR/run/notify.pid")
kill -TERM "$pid"
t_check "notify stops again" wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
CU2=$(q intake "SELECT customer_id FROM tickets WHERE id = '${TICKETS[1]}'")
nt_ticket "$AS_TOKEN_CENTER" "$(p 2)"
TE=$TICKET
http POST "/v1/customers/$CU2/erase" "$AS_TOKEN_ADMIN" '{"reason":"asked to be forgotten"}'
t_status "a customer with a ticket from before and one from the backlog is erased" 200
nt_ticket "$AS_TOKEN_CENTER" "$(p 20)"
I2=$(q intake "SELECT last_seq FROM outbox_streams WHERE stream = 'intake'")
t_check "notify starts again" nt_restart AS_NOTIFY_SMS_URL="$NT_SINK/sms" AS_NOTIFY_SMS_KEY=k-$RUN \
    AS_NOTIFY_QUIET_START_H=0 AS_NOTIFY_QUIET_END_H=0
t_check "it applies the backlog with the erasure" wait_until 30 at intake "$I2"
t_eq "both of the erased customer's tickets have no phone in notify" "0" "$(nt_sql "
    SELECT count(phone) FROM tickets WHERE ticket_id IN ('${TICKETS[1]}', '$TE')")"
t_eq "the feed keeps no customer of theirs" 0 "$(nt_sql "
    SELECT count(*) FROM events WHERE payload->>'ticket_id' IN ('${TICKETS[1]}', '$TE')
       AND payload ? 'customer'")"
t_eq "the ticket opened after the erasure is known with its phone" 1 "$(nt_sql "
    SELECT count(phone) FROM tickets WHERE ticket_id = '$TICKET'")"

t_done
